//! Aggregating messages at their target nodes: the "reduce" half of message passing.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::gather::gather_src;
use super::segment::{segment_max, segment_mean, segment_min, segment_sum};
use crate::Graph;

/// A permutation-invariant aggregation of the messages arriving at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// `Σ_j m_ji`
    #[default]
    Sum,
    /// `(1/deg(i)) Σ_j m_ji` (0 for a node without incoming edges)
    Mean,
    /// element-wise `max_j m_ji` (0 for a node without incoming edges)
    Max,
    /// element-wise `min_j m_ji` (0 for a node without incoming edges)
    Min,
}

impl std::str::FromStr for Aggregation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sum" | "add" => Ok(Aggregation::Sum),
            "mean" => Ok(Aggregation::Mean),
            "max" => Ok(Aggregation::Max),
            "min" => Ok(Aggregation::Min),
            _ => Err(format!("unknown aggregation '{s}' (sum, mean, max, min)")),
        }
    }
}

/// Aggregates per-edge messages at each edge's target node.
///
/// `out[i] = ⊕_{e : dst[e] = i} messages[e]`, `⊕` one of [`Aggregation`]
///
/// # Shapes
/// - `messages`: `[E, ...]`; output: `[N, ...]`
pub fn aggregate<const D: usize>(
    messages: Tensor<D>,
    graph: &Graph,
    aggr: Aggregation,
) -> Tensor<D> {
    let (ids, n) = (graph.dst(), graph.num_nodes());
    match aggr {
        Aggregation::Sum => segment_sum(messages, ids, n),
        Aggregation::Mean => segment_mean(messages, ids, n),
        Aggregation::Max => segment_max(messages, ids, n),
        Aggregation::Min => segment_min(messages, ids, n),
    }
}

/// The weighted sum of source rows at each target: the sparse-dense product `A x` of the
/// graph's (weighted) adjacency with `x` (DGL's copy-source × edge-weight + sum pair, kept as
/// one function so a fused kernel can replace it).
///
/// `out[i] = Σ_{e : dst[e] = i} w_e · x[src[e]]`, `w_e = 1` when the graph has no weights
///
/// # Shapes
/// - `x`: `[N, F]`; output: `[N, F]`
pub fn propagate_weighted(x: Tensor<2>, graph: &Graph) -> Tensor<2> {
    let messages = gather_src(x, graph);
    let messages = match graph.edge_weight() {
        Some(w) => messages * w.clone().unsqueeze_dim(1),
        None => messages,
    };
    segment_sum(messages, graph.dst(), graph.num_nodes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use burn::tensor::Device;

    #[test]
    fn propagate_matches_dense_adjacency_product() {
        let d = Device::flex();
        let (src, dst) = ([0, 1, 2, 2, 0], [1, 2, 0, 1, 1]);
        let w = [0.5, 2.0, 1.5, -1.0, 3.0];
        let g = Graph::new(&src, &dst, 4, &d)
            .unwrap()
            .with_edge_weights(&w)
            .unwrap();
        let x = seeded_values(8, 7);
        let out = to_vec(propagate_weighted(tensor2(&x, [4, 2], &d), &g));
        let mut want = vec![0.0f32; 8];
        for e in 0..5 {
            for c in 0..2 {
                want[dst[e] * 2 + c] += w[e] * x[src[e] * 2 + c];
            }
        }
        assert_close(&out, &want, 1e-6, "A x");
    }

    #[test]
    fn relabelling_nodes_permutes_the_output() {
        // out(P graph, P x) = P out(graph, x) for every aggregation.
        let d = Device::flex();
        let (src, dst) = ([0, 1, 2, 2, 3, 3], [1, 2, 0, 1, 1, 0]);
        let perm = [2, 0, 3, 1]; // old node i becomes perm[i]
        let g = Graph::new(&src, &dst, 4, &d).unwrap();
        let pg = Graph::new(&src.map(|s| perm[s]), &dst.map(|t| perm[t]), 4, &d).unwrap();
        let m = seeded_values(6 * 3, 8);
        for aggr in [
            Aggregation::Sum,
            Aggregation::Mean,
            Aggregation::Max,
            Aggregation::Min,
        ] {
            let out = to_vec(aggregate(tensor2(&m, [6, 3], &d), &g, aggr));
            let pout = to_vec(aggregate(tensor2(&m, [6, 3], &d), &pg, aggr));
            for i in 0..4 {
                assert_eq!(
                    out[i * 3..i * 3 + 3],
                    pout[perm[i] * 3..perm[i] * 3 + 3],
                    "{aggr:?}"
                );
            }
        }
    }
}
