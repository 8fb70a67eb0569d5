//! Complete models built from the layers.

mod gat;
mod gcn;
mod mpnn;
mod rgcn;

pub use gat::{Gat, GatConfig};
pub use gcn::{Gcn, GcnConfig};
pub use mpnn::{Mpnn, MpnnConfig, Readout};
pub use rgcn::{Rgcn, RgcnConfig};
