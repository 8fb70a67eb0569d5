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
//! - [`trace`]: the message audit trail — what every aggregation sent along each edge.
//! - [`registry`]: the model contract and the registry that commands, model cards and the
//!   bench iterate; [`interop`]: weights files and PyTorch Geometric names.
//!
//! Modules follow Burn's house style (`XxxConfig` → `init(&device)` → `Xxx::forward`) and run
//! on every Burn device: the backend is the [`Device`](burn::tensor::Device) the tensors live on.
//!
//! A GCN layer on a 4-node path graph, on the CPU (`Device::flex()`; a GPU is
//! `Device::wgpu(..)` with the `wgpu` feature):
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use gnn_models::Graph;
//! use gnn_models::layers::GcnConvConfig;
//!
//! let device = Device::flex();
//! // Edges j → i, both directions of 0-1-2-3.
//! let (src, dst) = ([0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]);
//! let graph = Graph::new(&src, &dst, 4, &device)?;
//! let x = Tensor::<2>::ones([4, 3], &device); // [N, F]
//! let conv = GcnConvConfig::new(3, 8).init(&device);
//! let h = conv.forward(x, &graph); // [N, F'] = [4, 8]
//! assert_eq!(h.dims(), [4, 8]);
//! # Ok::<(), gnn_models::GraphError>(())
//! ```

#![warn(missing_docs)]

// `model_options!` names this crate as `gnn_models` wherever it expands, here included.
extern crate self as gnn_models;

mod bipartite;
pub mod features;
mod graph;
pub mod interop;
pub mod kernels;
pub mod layers;
pub mod link;
pub mod message_passing;
pub mod models;
pub mod registry;
#[cfg(test)]
mod testing;
pub mod trace;

pub use bipartite::BipartiteGraph;
pub use features::{Features, SparseFeatures, sparse_enough};
pub use graph::{BatchVector, EdgeTypes, Graph, GraphError, MemoKey};

/// serde, for the code [`model_options!`] expands to in other crates.
#[doc(hidden)]
pub use serde as __serde;

use burn::module::{Module, ParamGroup};
use burn::tensor::{Int, Tensor};

use link::{Links, Missing};

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

    /// The training forward: the output and, for a model with a regulariser of its own, that
    /// term (`[1]`), which the training loop adds to the task's loss — VGAE's KL divergence,
    /// R-GCN + DistMult's L2 penalty on the embeddings. By default [`forward`](Self::forward)
    /// and no term.
    ///
    /// # Shapes
    /// - as [`forward`](Self::forward); the term `[1]`
    fn forward_train(
        &self,
        x: Features,
        graph: &Graph,
    ) -> Result<(Tensor<2>, Option<Tensor<1>>), GraphError> {
        Ok((self.forward(x, graph)?, None))
    }

    /// Message-passing layers the model applies one after another, each of which can map the
    /// sources of a [`BipartiteGraph`] to its targets ([`forward_layer`](Self::forward_layer));
    /// 0 (the default) when the model has no such form (a layer without a bipartite form, a
    /// graph task, a regulariser of its own). What sampled mini-batches run on their blocks
    /// ([`forward_blocks`](Self::forward_blocks)) and what layer-wise inference evaluates
    /// layer by layer over the whole graph.
    fn block_layers(&self) -> usize {
        0
    }

    /// Layer `l` (`0..block_layers()`) on a block, with what the model does around it
    /// (input dropout before layer 0; normalisation, activation, dropout after a hidden layer):
    /// `x_src` holds the previous layer's output rows (layer 0: the input features) of the
    /// block's sources, whose first `N_t` rows are its targets'.
    ///
    /// # Shapes
    /// - `x_src`: `[N_s, F_l]`; output `[N_t, F_{l+1}]`
    fn forward_layer(
        &self,
        l: usize,
        x_src: Features,
        block: &BipartiteGraph,
    ) -> Result<Tensor<2>, GraphError> {
        let _ = (l, x_src, block);
        Err(GraphError::Unsupported {
            layer: "this model",
            what: "form layer by layer",
        })
    }

    /// The model's output from every layer's output for the same rows (jumping knowledge,
    /// an output layer); by default the last layer's.
    ///
    /// # Shapes
    /// - `outs[l]`: `[R, F_{l+1}]`; output `[R, C]`
    fn combine_layers(&self, outs: Vec<Tensor<2>>) -> Result<Tensor<2>, GraphError> {
        outs.into_iter().last().ok_or(GraphError::Missing {
            layer: "combine_layers",
            part: "layers",
        })
    }

    /// The output of the last block's targets when layer `l` reads `blocks[l]` — a sampled
    /// mini-batch's per-layer bipartite graphs, each layer's targets a prefix of its sources,
    /// so layer `l` computes only the rows layer `l + 1` reads (PyG's bipartite `(x_src,
    /// x_dst)` in `NeighborLoader` training; DGL's blocks). `None` when the model has no
    /// layer-by-layer form or another depth than `blocks.len()`: the caller runs
    /// [`forward_train`](Self::forward_train) on the whole sampled subgraph instead, which
    /// gives the same rows for the last targets at more cost.
    ///
    /// # Shapes
    /// - `x`: `[N_s of blocks[0], F]`; output `[N_t of the last block, C]`
    fn forward_blocks(
        &self,
        x: Features,
        blocks: &[BipartiteGraph],
    ) -> Option<Result<Tensor<2>, GraphError>> {
        if self.block_layers() == 0 || blocks.len() != self.block_layers() {
            return None;
        }
        let outputs = blocks.last()?.num_dst_nodes();
        let run = || {
            let mut h = x;
            let mut outs = Vec::with_capacity(blocks.len());
            for (l, block) in blocks.iter().enumerate() {
                let y = self.forward_layer(l, h, block)?;
                let [_, width] = y.dims();
                outs.push(y.clone().slice([0..outputs, 0..width]));
                h = Features::Dense(y);
            }
            self.combine_layers(outs)
        };
        Some(run())
    }

    /// Link prediction: the logit of each link `(src_k, rel_k, dst_k)` from the node
    /// embeddings `z = forward(x, graph)`. By default the inner product `z_src · z_dst`
    /// ([`link::inner_product`]), relations ignored; a model with a decoder of its own
    /// (DistMult) overrides it.
    ///
    /// # Shapes
    /// - `z`: `[N, D]`; links `[P]`; output `[P]`
    fn score_links(&self, z: Tensor<2>, links: &Links) -> Result<Tensor<1>, GraphError> {
        Ok(link::inner_product(z, links.src.clone(), links.dst.clone()))
    }

    /// The logits of every node as the missing end of `B` queries: `(a_b, r_b, ?)` for
    /// [`Missing::Tail`], `(?, r_b, a_b)` for [`Missing::Head`] (`rel` is `None` for untyped
    /// pairs). Row `b` column `n` is [`score_links`](Self::score_links) of the completed link;
    /// computed without materialising the `B · N` links. By default the inner product
    /// ([`link::inner_product_all`]).
    ///
    /// # Shapes
    /// - `z`: `[N, D]`; `anchors`, `rel`: `[B]`; output `[B, N]`
    fn score_candidates(
        &self,
        z: Tensor<2>,
        anchors: Tensor<1, Int>,
        rel: Option<Tensor<1, Int>>,
        missing: Missing,
    ) -> Result<Tensor<2>, GraphError> {
        let _ = (rel, missing);
        Ok(link::inner_product_all(z, anchors))
    }
}
