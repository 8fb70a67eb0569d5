//! Graph-level readout: pooling the nodes of each graph of a mini-batch.

use burn::tensor::{Int, Tensor};

use super::segment::{segment_max, segment_mean, segment_sum};

/// `out[b] = Σ_{n : batch[n] = b} x[n]` (PyG's `global_add_pool`); an empty graph gives 0.
///
/// # Shapes
/// - `x`: `[N, F]`; `batch`: `[N]`, each in `0..num_graphs`; output `[B, F]`
pub fn global_add_pool(x: Tensor<2>, batch: &Tensor<1, Int>, num_graphs: usize) -> Tensor<2> {
    segment_sum(x, batch, num_graphs)
}

/// `out[b] = mean_{n : batch[n] = b} x[n]` (`global_mean_pool`); an empty graph gives 0.
///
/// # Shapes
/// - `x`: `[N, F]`; `batch`: `[N]`; output `[B, F]`
pub fn global_mean_pool(x: Tensor<2>, batch: &Tensor<1, Int>, num_graphs: usize) -> Tensor<2> {
    segment_mean(x, batch, num_graphs)
}

/// `out[b] = max_{n : batch[n] = b} x[n]` element-wise (`global_max_pool`); an empty graph
/// gives 0.
///
/// # Shapes
/// - `x`: `[N, F]`; `batch`: `[N]`; output `[B, F]`
pub fn global_max_pool(x: Tensor<2>, batch: &Tensor<1, Int>, num_graphs: usize) -> Tensor<2> {
    segment_max(x, batch, num_graphs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn pools_each_graph_and_leaves_empty_graphs_zero() {
        let d = Device::flex();
        let x = tensor2(&[1.0, -2.0, 3.0, 4.0, 5.0, -6.0], [3, 2], &d);
        let batch = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 0, 2], [3]), &d);
        assert_eq!(
            to_vec(global_add_pool(x.clone(), &batch, 3)),
            [4.0, 2.0, 0.0, 0.0, 5.0, -6.0]
        );
        assert_eq!(
            to_vec(global_mean_pool(x.clone(), &batch, 3)),
            [2.0, 1.0, 0.0, 0.0, 5.0, -6.0]
        );
        assert_eq!(
            to_vec(global_max_pool(x, &batch, 3)),
            [3.0, 4.0, 0.0, 0.0, 5.0, -6.0]
        );
    }
}
