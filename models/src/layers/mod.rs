//! Graph layers: each one a composition of the [message-passing primitives](crate::message_passing).

mod gcn_conv;

pub use gcn_conv::{GcnConv, GcnConvConfig};
