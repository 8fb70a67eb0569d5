//! Graph layers: each one a composition of the [message-passing primitives](crate::message_passing).

mod appnp;
mod cheb_conv;
mod distmult;
mod edge_conv;
mod gat_conv;
mod gated_graph_conv;
mod gatv2_conv;
mod gcn_conv;
mod gin_conv;
mod gru_cell;
mod nn_conv;
mod pna_conv;
mod rgcn_conv;
mod sage_conv;
mod set2set;
mod sg_conv;
mod transformer_conv;

pub use appnp::{Appnp, AppnpConfig};
pub use cheb_conv::{ChebConv, ChebConvConfig, ChebNormalization};
pub use distmult::{DistMult, DistMultConfig, DistMultKge, DistMultKgeConfig};
pub use edge_conv::{EdgeConv, EdgeConvConfig};
pub use gat_conv::{Attention, GatConv, GatConvConfig};
pub use gated_graph_conv::{GatedGraphConv, GatedGraphConvConfig};
pub use gatv2_conv::{GatV2Conv, GatV2ConvConfig};
pub use gcn_conv::{GcnConv, GcnConvConfig};
pub use gin_conv::{GinConv, GinConvConfig};
pub use gru_cell::{GruCell, GruCellConfig};
pub use nn_conv::{NnConv, NnConvConfig};
pub use pna_conv::{PnaAggregator, PnaConv, PnaConvConfig, PnaScaler, PnaTowersError};
pub use rgcn_conv::{RgcnConfigError, RgcnConv, RgcnConvConfig, RgcnNorm};
pub use sage_conv::{SageConv, SageConvConfig};
pub use set2set::{Set2Set, Set2SetConfig};
pub use sg_conv::{SgConv, SgConvConfig, propagate_gcn};
pub use transformer_conv::{TransformerConv, TransformerConvConfig};
