//! Complete models built from the layers.

mod gat;
mod gcn;

pub use gat::{Gat, GatConfig};
pub use gcn::{Gcn, GcnConfig};
