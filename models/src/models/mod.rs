//! Complete models built from the layers.

mod gcn;

pub use gcn::{Gcn, GcnConfig};
