//! Node degrees.

use burn::tensor::Tensor;

use super::segment::{segment_count, segment_sum};
use crate::Graph;

/// Number of incoming edges of each node.
///
/// `out[i] = |{e : dst[e] = i}|`
///
/// # Shapes
/// - output: `[N]`
pub fn in_degree(graph: &Graph) -> Tensor<1> {
    segment_count(graph.dst(), graph.num_nodes(), &graph.device())
}

/// Number of outgoing edges of each node.
///
/// `out[j] = |{e : src[e] = j}|`
///
/// # Shapes
/// - output: `[N]`
pub fn out_degree(graph: &Graph) -> Tensor<1> {
    segment_count(graph.src(), graph.num_nodes(), &graph.device())
}

/// Sum of the weights of each node's incoming edges (the count when the graph is unweighted).
///
/// `out[i] = Σ_{e : dst[e] = i} w_e`
///
/// # Shapes
/// - output: `[N]`
pub fn weighted_in_degree(graph: &Graph) -> Tensor<1> {
    match graph.edge_weight() {
        Some(w) => segment_sum(w.clone(), graph.dst(), graph.num_nodes()),
        None => in_degree(graph),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use burn::tensor::Device;

    #[test]
    fn degrees_count_repeated_edges() {
        let d = Device::flex();
        let g = Graph::new(&[0, 0, 1, 3], &[1, 1, 1, 0], 4, &d).unwrap();
        assert_eq!(to_vec(in_degree(&g)), vec![1.0, 3.0, 0.0, 0.0]);
        assert_eq!(to_vec(out_degree(&g)), vec![2.0, 1.0, 0.0, 1.0]);
        let g = g.with_edge_weights(&[0.5, 0.5, 2.0, 4.0]).unwrap();
        assert_eq!(to_vec(weighted_in_degree(&g)), vec![4.0, 3.0, 0.0, 0.0]);
    }
}
