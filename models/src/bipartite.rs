//! [`BipartiteGraph`]: edges from one node set into another, as one layer of a sampled
//! mini-batch sees them.

use burn::tensor::{Device, Int, Tensor};

use crate::graph::check_edge_lists;
use crate::message_passing::{Aggregator, aggregate, aggregate_sources, gather_src};
use crate::{Graph, GraphError};

/// Edges `src[e] → dst[e]` from `N_s` source nodes into `N_t` target nodes of another set (PyG's
/// `(x_src, x_dst)` with `size = (N_s, N_t)`): messages are gathered from source rows and
/// aggregated at the targets. In a sampled mini-batch the targets of a layer are the nodes whose
/// outputs are needed and the sources their sampled neighbours, so `N_t ≤ N_s` usually, but
/// nothing here assumes it.
///
/// It is not a [`Graph`], so a layer written for one node set (self-loops, symmetric
/// normalisation, degree scalers) cannot receive it by mistake; a layer that supports two node
/// sets takes it explicitly (`SageConv::forward_bipartite`) and composes [`gather_src`](Self::gather_src)
/// and [`aggregate`](Self::aggregate), as a one-set layer composes the functions of
/// [`message_passing`](crate::message_passing).
///
/// # Shapes
/// - `src`: `[E]` in `0..N_s`; `dst`: `[E]` in `0..N_t`
#[derive(Clone, Debug)]
pub struct BipartiteGraph {
    /// The edges over the target set; only `gather_src` reads the sources, against `num_src`.
    edges: Graph,
    num_src: usize,
}

impl BipartiteGraph {
    /// Builds the graph from host edge lists, checking that both have the same length, that
    /// every source is `< num_src` and every target `< num_dst`.
    pub fn new(
        src: &[usize],
        dst: &[usize],
        num_src: usize,
        num_dst: usize,
        device: &Device,
    ) -> Result<Self, GraphError> {
        check_edge_lists(src, dst, num_src.max(num_dst))?;
        if let Some(e) = src
            .iter()
            .zip(dst)
            .position(|(&s, &d)| s >= num_src || d >= num_dst)
        {
            let (side, index, count) = match src[e] >= num_src {
                true => ("source", src[e], num_src),
                false => ("target", dst[e], num_dst),
            };
            return Err(GraphError::SideOutOfRange {
                edge: e,
                side,
                index,
                count,
            });
        }
        Ok(Self {
            edges: Graph::from_checked(src, dst, num_dst, device),
            num_src,
        })
    }

    /// Number of source nodes `N_s`.
    pub fn num_src_nodes(&self) -> usize {
        self.num_src
    }

    /// Number of target nodes `N_t` (the rows of a layer's output).
    pub fn num_dst_nodes(&self) -> usize {
        self.edges.num_nodes()
    }

    /// Number of edges `E`.
    pub fn num_edges(&self) -> usize {
        self.edges.num_edges()
    }

    /// Source node of each edge, `[E]`, in `0..N_s`.
    pub fn src(&self) -> &Tensor<1, Int> {
        self.edges.src()
    }

    /// Target node of each edge, `[E]`, in `0..N_t`.
    pub fn dst(&self) -> &Tensor<1, Int> {
        self.edges.dst()
    }

    /// The device the index tensors live on.
    pub fn device(&self) -> Device {
        self.edges.device()
    }

    /// Checks that `layer`'s inputs fit: `rows_src` source rows (`N_s`) and `rows_dst`
    /// target rows (`N_t`).
    pub fn check_rows(
        &self,
        layer: &'static str,
        rows_src: usize,
        rows_dst: usize,
    ) -> Result<(), GraphError> {
        let (what, expected, got) = match (rows_src == self.num_src, rows_dst) {
            (false, _) => ("source rows", self.num_src, rows_src),
            (true, t) if t != self.num_dst_nodes() => ("target rows", self.num_dst_nodes(), t),
            _ => return Ok(()),
        };
        Err(GraphError::Rows {
            layer,
            what,
            expected,
            got,
        })
    }

    /// The edges as a [`Graph`] over the `N_t` targets, whose sources index the other set:
    /// for a layer of this crate that runs its one-set code on the targets (attention
    /// self-loops `i → i` then join target `i` to source `i`).
    pub(crate) fn target_graph(&self) -> &Graph {
        &self.edges
    }

    /// The source row of every edge: `out[e] = x_src[src[e]]`.
    ///
    /// # Shapes
    /// - `x_src`: `[N_s, ...]`; output `[E, ...]`
    pub fn gather_src<const D: usize>(&self, x_src: Tensor<D>) -> Tensor<D> {
        gather_src(x_src, &self.edges)
    }

    /// The messages reduced at their targets: `out[i] = ⊕_{e : dst[e] = i} messages[e]`, an
    /// empty target → 0.
    ///
    /// # Shapes
    /// - `messages`: `[E, ...]`; output `[N_t, ...]`
    pub fn aggregate<const D: usize>(
        &self,
        messages: Tensor<D>,
        aggr: impl Aggregator,
    ) -> Tensor<D> {
        aggregate(messages, &self.edges, aggr)
    }

    /// The source rows reduced at their targets, `aggregate(gather_src(x_src))` fused
    /// ([`aggregate_sources`]): `out[i] = ⊕_{j → i} x_src[j]`.
    ///
    /// # Shapes
    /// - `x_src`: `[N_s, F]`; output `[N_t, F]`
    pub fn aggregate_sources(&self, x_src: Tensor<2>, aggr: impl Aggregator) -> Tensor<2> {
        aggregate_sources(x_src, &self.edges, aggr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_passing::Aggregation;
    use crate::testing::*;

    #[test]
    fn sources_and_targets_are_checked_against_their_own_sets() {
        let d = Device::flex();
        // Four sources, two targets: source 3 is fine, target 2 is not.
        assert!(BipartiteGraph::new(&[3, 0], &[1, 0], 4, 2, &d).is_ok());
        let err = BipartiteGraph::new(&[3, 0], &[1, 2], 4, 2, &d).unwrap_err();
        assert_eq!(err.to_string(), "edge 1: target 2 outside 0..2");
        let err = BipartiteGraph::new(&[4], &[0], 4, 2, &d).unwrap_err();
        assert_eq!(err.to_string(), "edge 0: source 4 outside 0..4");
        assert!(matches!(
            BipartiteGraph::new(&[0], &[], 4, 2, &d),
            Err(GraphError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn messages_flow_from_source_rows_to_target_rows() {
        let d = Device::flex();
        // Sources 0..3 with values 1, 10, 100; targets 0..2; target 1 gets nothing.
        let g = BipartiteGraph::new(&[0, 2, 1], &[0, 0, 0], 3, 2, &d).unwrap();
        let x = tensor2(&[1.0, 10.0, 100.0], [3, 1], &d);
        let sum = g.aggregate(g.gather_src(x.clone()), Aggregation::Sum);
        assert_eq!(to_vec(sum), vec![111.0, 0.0]);
        let max = g.aggregate(g.gather_src(x), Aggregation::Max);
        assert_eq!(to_vec(max), vec![100.0, 0.0]);
        assert_eq!(
            (g.num_src_nodes(), g.num_dst_nodes(), g.num_edges()),
            (3, 2, 3)
        );
    }
}
