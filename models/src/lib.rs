//! Graph neural network layers for Burn, on a small set of differentiable message-passing
//! primitives.
//!
//! - [`Graph`]: the device-side graph value passed to every layer.
//! - [`Features`]: node input features, dense or sparse.
//! - [`message_passing`]: gather, segment reductions (sum/mean/max/min/softmax), degrees,
//!   self-loops, GCN normalisation.
//! - [`layers`]: [`GcnConv`](layers::GcnConv), ...
//! - [`models`]: complete models ([`Gcn`](models::Gcn), ...), each with its
//!   [`ModelSpec`](registry::ModelSpec), and [`models::builtin`], the registry of them all.
//! - [`registry`]: the model contract and the registry that commands, model cards and the
//!   bench iterate; [`interop`]: weights files and PyTorch Geometric names.
//!
//! Modules follow Burn's house style (`XxxConfig` → `init(&device)` → `Xxx::forward`) and run
//! on every Burn device: the backend is the [`Device`](burn::tensor::Device) the tensors live on.

// `model_options!` names this crate as `gnn_models` wherever it expands, here included.
extern crate self as gnn_models;

mod bipartite;
pub mod features;
mod graph;
pub mod interop;
pub mod layers;
pub mod message_passing;
pub mod models;
pub mod registry;
#[cfg(test)]
mod testing;

pub use bipartite::BipartiteGraph;
pub use features::{Features, SparseFeatures};
pub use graph::{BatchVector, EdgeTypes, Graph, GraphError, MemoKey};

/// serde, for the code [`model_options!`] expands to in other crates.
#[doc(hidden)]
pub use serde as __serde;

use burn::module::{Module, ParamGroup};
use burn::tensor::Tensor;

use layers::Attention;

/// A model that maps node features and a graph to one output row per node (node tasks) or per
/// graph (graph tasks). The training loop in `gnn-train` is written against this trait.
pub trait GraphModel: Module + Clone + std::fmt::Debug + Send + 'static {
    /// Output logits or predictions. A graph that lacks what a layer needs (edge types, edge
    /// features) is an error.
    ///
    /// # Shapes
    /// - `x`: `[N, F]` (dense or sparse); output: `[N, C]` (node tasks) or `[B, C]` (graph tasks)
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError>;

    /// The parameters that weight decay applies to under the model's paper protocol (GCN and
    /// GAT: the first layer only), or `None` for all of them.
    fn weight_decay_group(&self) -> Option<ParamGroup> {
        None
    }

    /// The attention coefficients of each attention layer, first layer first, for a model
    /// that has them; `None` otherwise.
    fn attention(&self, x: Features, graph: &Graph) -> Option<Result<Vec<Attention>, GraphError>> {
        let _ = (x, graph);
        None
    }
}
