//! Gathering node values onto edges: the "message" half of message passing.

use burn::tensor::Tensor;

use super::segment::gather_rows;
use crate::Graph;

/// The source node's row for every edge (PyG's `x_j`).
///
/// `out[e] = x[src[e]]`
///
/// # Shapes
/// - `x`: `[N, ...]`; output: `[E, ...]`
pub fn gather_src<const D: usize>(x: Tensor<D>, graph: &Graph) -> Tensor<D> {
    gather_rows(x, graph.src())
}

/// The target node's row for every edge (PyG's `x_i`).
///
/// `out[e] = x[dst[e]]`
///
/// # Shapes
/// - `x`: `[N, ...]`; output: `[E, ...]`
pub fn gather_dst<const D: usize>(x: Tensor<D>, graph: &Graph) -> Tensor<D> {
    gather_rows(x, graph.dst())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn gathers_rows_by_endpoint() {
        let d = burn::tensor::Device::flex();
        let g = Graph::new(&[2, 0, 2], &[1, 1, 0], 3, &d).unwrap();
        let x = tensor2(&[0.0, 1.0, 10.0, 11.0, 20.0, 21.0], [3, 2], &d);
        assert_eq!(
            to_vec(gather_src(x.clone(), &g)),
            vec![20.0, 21.0, 0.0, 1.0, 20.0, 21.0]
        );
        assert_eq!(
            to_vec(gather_dst(x, &g)),
            vec![10.0, 11.0, 10.0, 11.0, 0.0, 1.0]
        );
    }
}
