//! [`MessagePassing`]: a layer written as a message function, an aggregation and an update,
//! with the gather → message → aggregate → update pipeline written once ([`propagate`]).
//!
//! PyG's `MessagePassing` and Jraph's `GraphNetwork` in Rust: a layer says what a message is
//! ([`MessagePassing::message`], from the inputs [`EdgeInputs`] gathers on demand), which
//! [`Aggregator`] reduces the messages at their targets, and how a node's state is updated.
//! The pipeline is a composition of the primitives of this module, so it runs on every
//! backend and is differentiated by Burn's autodiff like any other layer.

use burn::tensor::Tensor;

use super::aggregate::{Aggregator, aggregate};
use super::gather::{gather_dst, gather_src};
use crate::{Graph, GraphError};

/// What a message function may read for every edge `j → i`: the endpoints' rows and the
/// edge's own data. Rows are gathered only when asked for, so a message that uses `x_j` alone
/// costs one `[E, F]` gather.
#[derive(Debug, Clone, Copy)]
pub struct EdgeInputs<'a> {
    x: &'a Tensor<2>,
    graph: &'a Graph,
}

impl<'a> EdgeInputs<'a> {
    /// The inputs of `graph`'s edges for node states `x` `[N, F]`.
    pub fn new(x: &'a Tensor<2>, graph: &'a Graph) -> Self {
        EdgeInputs { x, graph }
    }

    /// The source rows `x_j`, `[E, F]` (PyG's `x_j`).
    pub fn x_j(&self) -> Tensor<2> {
        gather_src(self.x.clone(), self.graph)
    }

    /// The target rows `x_i`, `[E, F]` (PyG's `x_i`).
    pub fn x_i(&self) -> Tensor<2> {
        gather_dst(self.x.clone(), self.graph)
    }

    /// The edge features `e_ji`, `[E, D]`; an error naming `layer` when the graph has none
    /// or they are not `width` wide.
    pub fn edge_attr(&self, layer: &'static str, width: usize) -> Result<Tensor<2>, GraphError> {
        self.graph.require_edge_attr(layer, width).cloned()
    }

    /// The edge weights `w_ji`, `[E]`, if the graph has them.
    pub fn edge_weight(&self) -> Option<Tensor<1>> {
        self.graph.edge_weight().cloned()
    }

    /// The graph the edges belong to.
    pub fn graph(&self) -> &Graph {
        self.graph
    }
}

/// A message-passing layer: `x'_i = update(⊕_{j → i} message(x_i, x_j, e_ji), x_i)`.
///
/// Implement [`message`](Self::message) and [`aggregator`](Self::aggregator) (and
/// [`update`](Self::update) when the new state is more than the aggregate); call
/// [`propagate`](Self::propagate) from the layer's `forward`. A GIN-style layer:
///
/// ```
/// use burn::tensor::Tensor;
/// use gnn_models::message_passing::{Aggregation, EdgeInputs, MessagePassing};
/// use gnn_models::GraphError;
///
/// struct SumOfNeighbours { eps: f32 }
///
/// impl MessagePassing for SumOfNeighbours {
///     type Aggr = Aggregation;
///     fn aggregator(&self) -> Aggregation { Aggregation::Sum }
///     fn message(&self, edges: &EdgeInputs) -> Result<Tensor<2>, GraphError> {
///         Ok(edges.x_j())
///     }
///     fn update(&self, aggregated: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
///         x.mul_scalar(1.0 + self.eps) + aggregated
///     }
/// }
///
/// let device = burn::tensor::Device::flex();
/// let graph = gnn_models::Graph::new(&[0, 1], &[1, 1], 2, &device)?;
/// let x = Tensor::<2>::ones([2, 3], &device);
/// let out = SumOfNeighbours { eps: 0.5 }.propagate(x, &graph)?;
/// assert_eq!(out.into_data().to_vec::<f32>().unwrap(), [1.5, 1.5, 1.5, 3.5, 3.5, 3.5]);
/// # Ok::<(), GraphError>(())
/// ```
pub trait MessagePassing {
    /// The reduction of the messages at their targets.
    type Aggr: Aggregator;

    /// The aggregation this layer uses.
    fn aggregator(&self) -> Self::Aggr;

    /// The message of every edge, `m_ji`.
    ///
    /// # Shapes
    /// - output: `[E, F']`
    fn message(&self, edges: &EdgeInputs<'_>) -> Result<Tensor<2>, GraphError>;

    /// The new node state from the aggregated messages `[N, F']` and the input `x` `[N, F]`;
    /// the aggregate itself by default.
    fn update(&self, aggregated: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        let _ = x;
        aggregated
    }

    /// `message` on every edge, `aggregator` at every target, then `update`.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output: `[N, F'']`
    fn propagate(&self, x: Tensor<2>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let aggregated = propagate(x.clone(), graph, |e| self.message(e), self.aggregator())?;
        Ok(self.update(aggregated, x))
    }
}

/// The gather → message → aggregate pipeline as a function: `out[i] = ⊕_{j → i} m_ji` with
/// `m = message(edges)`.
///
/// # Shapes
/// - `x`: `[N, F]`; the messages `[E, F']`; output `[N, F']`
pub fn propagate(
    x: Tensor<2>,
    graph: &Graph,
    message: impl FnOnce(&EdgeInputs<'_>) -> Result<Tensor<2>, GraphError>,
    aggr: impl Aggregator,
) -> Result<Tensor<2>, GraphError> {
    let messages = message(&EdgeInputs::new(&x, graph))?;
    Ok(aggregate(messages, graph, aggr))
}
