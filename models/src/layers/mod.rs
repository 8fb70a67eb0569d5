//! Graph layers: each one a composition of the [message-passing primitives](crate::message_passing).

mod gat_conv;
mod gatv2_conv;
mod gcn_conv;
mod gru_cell;
mod nn_conv;
mod rgcn_conv;
mod set2set;

pub use gat_conv::{Attention, GatConv, GatConvConfig};
pub use gatv2_conv::{GatV2Conv, GatV2ConvConfig};
pub use gcn_conv::{GcnConv, GcnConvConfig};
pub use gru_cell::{GruCell, GruCellConfig};
pub use nn_conv::{NnConv, NnConvConfig};
pub use rgcn_conv::{RgcnConfigError, RgcnConv, RgcnConvConfig, RgcnNorm};
pub use set2set::{Set2Set, Set2SetConfig};
