//! [`Features`]: node input features, dense or sparse.
//!
//! Bag-of-words inputs (Cora, CiteSeer) are ~99 % zeros. Kept sparse, the first layer's product
//! `X W` costs `nnz × F'` instead of `N × F × F'`, and dropout on the input samples only the
//! stored values — the same distribution as dense dropout, since a dropped zero stays zero.

use burn::nn::{Dropout, Linear};
use burn::tensor::{Device, Tensor, TensorData};

use crate::Graph;
use crate::kernels;
use crate::message_passing::aggregate::weighted_sum;
use crate::message_passing::segment_sum;

/// Sparse node features in coordinate form: value `values[k]` at `(rows[k], cols[k])`, kept
/// as the edges `cols[k] → rows[k]` of a bipartite graph from the columns into the rows, so
/// `X W` is the weighted sum of `W`'s rows at each node (a fused kernel on the CPU).
///
/// # Shapes
/// - `values`: `[nnz]`; `entries`: `nnz` edges over `num_rows` targets, sources in
///   `0..num_cols`; the matrix is `[num_rows, num_cols]`
#[derive(Debug, Clone)]
pub struct SparseFeatures {
    entries: Graph,
    values: Tensor<1>,
    num_rows: usize,
    num_cols: usize,
}

impl SparseFeatures {
    /// The entries `(rows[k], cols[k], values[k])` of a `[num_rows, num_cols]` matrix, in
    /// row order (callers build them so).
    fn new(
        rows: &[usize],
        cols: &[usize],
        values: Vec<f32>,
        num_cols: usize,
        num_rows: usize,
        device: &Device,
    ) -> Self {
        let nnz = values.len();
        SparseFeatures {
            entries: Graph::from_checked(cols, rows, num_rows, device),
            values: Tensor::from_data(TensorData::new(values, [nnz]), device),
            num_rows,
            num_cols,
        }
    }
}

/// Node input features `[N, F]`.
// Tensor handles are large (hundreds of bytes) whatever they hold; boxing gains nothing here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Features {
    /// A dense matrix.
    Dense(Tensor<2>),
    /// Stored non-zeros only.
    Sparse(SparseFeatures),
    /// No features: the identity matrix `I_N`, so a layer's input weight rows act as learned
    /// per-node embeddings (PyG's `x = None` for R-GCN). Dropout leaves it unchanged.
    Identity {
        /// `N`.
        num_nodes: usize,
    },
}

impl From<Tensor<2>> for Features {
    fn from(x: Tensor<2>) -> Self {
        Features::Dense(x)
    }
}

impl Features {
    /// Dense features from a row-major host matrix.
    pub fn dense(data: &[f32], rows: usize, cols: usize, device: &Device) -> Self {
        Features::Dense(Tensor::from_data(
            TensorData::new(data.to_vec(), [rows, cols]),
            device,
        ))
    }

    /// Sparse features holding the non-zero entries of a row-major host matrix.
    pub fn sparse(data: &[f32], rows: usize, cols: usize, device: &Device) -> Self {
        let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for (k, &x) in data.iter().enumerate().take(rows * cols) {
            if x != 0.0 {
                r.push(k / cols);
                c.push(k % cols);
                v.push(x);
            }
        }
        Features::Sparse(SparseFeatures::new(&r, &c, v, cols, rows, device))
    }

    /// Sparse when at most `max_density` of the entries are non-zero, else dense.
    pub fn auto(data: &[f32], rows: usize, cols: usize, max_density: f64, device: &Device) -> Self {
        if sparse_enough(data, rows, cols, max_density) {
            Self::sparse(data, rows, cols, device)
        } else {
            Self::dense(data, rows, cols, device)
        }
    }

    /// [`auto`](Self::auto) taking the values by value, so dense features are not copied
    /// on the host first.
    pub fn auto_owned(
        data: Vec<f32>,
        rows: usize,
        cols: usize,
        max_density: f64,
        device: &Device,
    ) -> Self {
        let sparse = sparse_enough(&data, rows, cols, max_density);
        Self::owned(data, rows, cols, sparse, device)
    }

    /// Sparse (when `sparse`) or dense features from a row-major host matrix taken by value —
    /// for batches whose form was decided once for the whole dataset ([`sparse_enough`]).
    pub fn owned(data: Vec<f32>, rows: usize, cols: usize, sparse: bool, device: &Device) -> Self {
        if sparse {
            Self::sparse(&data, rows, cols, device)
        } else {
            Features::Dense(Tensor::from_data(
                TensorData::new(data, [rows, cols]),
                device,
            ))
        }
    }

    /// `[N, F]`.
    pub fn dims(&self) -> [usize; 2] {
        match self {
            Features::Dense(x) => x.dims(),
            Features::Sparse(s) => [s.num_rows, s.num_cols],
            Features::Identity { num_nodes } => [*num_nodes, *num_nodes],
        }
    }

    /// The same features on the autodiff device (so dropout on them is active).
    pub fn autodiff(self) -> Self {
        match self {
            Features::Dense(x) => Features::Dense(x.autodiff()),
            Features::Sparse(s) => Features::Sparse(SparseFeatures {
                values: s.values.autodiff(),
                ..s
            }),
            identity => identity,
        }
    }

    /// The same features on another device.
    pub fn to_device(self, device: &Device) -> Self {
        match self {
            Features::Dense(x) => Features::Dense(x.to_device(device)),
            Features::Sparse(s) => Features::Sparse(SparseFeatures {
                entries: s.entries.to_device(device),
                values: s.values.to_device(device),
                ..s
            }),
            identity => identity,
        }
    }

    /// Dropout on the stored values (dense: every entry).
    pub fn dropout(self, dropout: &Dropout) -> Self {
        match self {
            Features::Dense(x) => Features::Dense(kernels::dropout(dropout, x)),
            Features::Sparse(s) => Features::Sparse(SparseFeatures {
                values: kernels::dropout(dropout, s.values),
                ..s
            }),
            identity => identity,
        }
    }

    /// `X W`.
    ///
    /// Sparse: `out[i] = Σ_{k : rows[k] = i} values[k] · W[cols[k]]`; identity: `W` itself.
    ///
    /// # Shapes
    /// - `w`: `[F, F']`; output: `[N, F']`
    pub fn matmul(self, w: Tensor<2>) -> Tensor<2> {
        match self {
            Features::Dense(x) => kernels::matmul(x, w),
            Features::Sparse(s) => weighted_sum(w, &s.entries.reweighted(s.values)),
            Features::Identity { .. } => w,
        }
    }

    /// `X W (+ b)` with a Burn [`Linear`] (`W` stored `[F, F']`).
    ///
    /// # Shapes
    /// - output: `[N, F']`
    pub fn linear(self, lin: &Linear) -> Tensor<2> {
        let out = self.matmul(lin.weight.val());
        kernels::plus_bias(out, lin.bias.as_ref())
    }

    /// The first `n` rows (`n ≤ N`): a bipartite layer's target features, which in a sampled
    /// block are a prefix of its sources' ([`BipartiteGraph`](crate::BipartiteGraph)).
    /// Sparse features keep their entries in row order (as [`sparse`](Self::sparse) stores
    /// them), so their prefix is a prefix of the entries. The identity's first rows are stored
    /// sparse (`device` is used only for it).
    ///
    /// # Shapes
    /// - output `[n, F]`
    pub fn head(self, n: usize, device: &Device) -> Self {
        match self {
            Features::Dense(x) => {
                let [_, f] = x.dims();
                Features::Dense(x.slice([0..n, 0..f]))
            }
            Features::Sparse(s) => {
                let kept = s.entries.host_dst().partition_point(|&r| (r as usize) < n);
                let as_usize =
                    |v: &[u32]| v[..kept].iter().map(|&i| i as usize).collect::<Vec<_>>();
                let (rows, cols) = (
                    as_usize(s.entries.host_dst()),
                    as_usize(s.entries.host_src()),
                );
                Features::Sparse(SparseFeatures {
                    entries: Graph::from_checked(&cols, &rows, n, &s.entries.device()),
                    values: s.values.slice(0..kept),
                    num_rows: n,
                    num_cols: s.num_cols,
                })
            }
            Features::Identity { num_nodes } => {
                let diagonal: Vec<usize> = (0..n).collect();
                let ones = vec![1.0; n];
                Features::Sparse(SparseFeatures::new(
                    &diagonal, &diagonal, ones, num_nodes, n, device,
                ))
            }
        }
    }

    /// The dense matrix (`device` is used only for [`Features::Identity`]).
    pub fn to_dense(self, device: &Device) -> Tensor<2> {
        match self {
            Features::Dense(x) => x,
            Features::Identity { num_nodes } => Tensor::eye(num_nodes, device),
            Features::Sparse(s) => {
                let [n, f] = [s.num_rows, s.num_cols];
                let flat = s.entries.dst().clone().mul_scalar(f as i64) + s.entries.src().clone();
                segment_sum(s.values, &flat, n * f).reshape([n, f])
            }
        }
    }
}

/// Whether at most `max_density` of the `rows × cols` entries of `data` are non-zero (the
/// choice [`Features::auto`] makes). Counts in blocks and stops at the first block past the
/// limit, so dense data is refused after about `max_density` of it is read.
pub fn sparse_enough(data: &[f32], rows: usize, cols: usize, max_density: f64) -> bool {
    let limit = max_density * (rows * cols) as f64;
    let mut nnz = 0usize;
    for block in data.chunks(1 << 12) {
        // Branch-free, so the count vectorises.
        nnz += block.iter().map(|&x| usize::from(x != 0.0)).sum::<usize>();
        if nnz as f64 > limit {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use burn::nn::LinearConfig;

    #[test]
    fn the_first_rows_of_every_form_are_the_first_rows_of_the_matrix() {
        let d = Device::flex();
        let mut x = seeded_values(5 * 4, 7);
        x[4..8].iter_mut().for_each(|v| *v = 0.0); // row 1 empty
        x[13] = 0.0;
        for (features, dense) in [
            (Features::dense(&x, 5, 4, &d), x[..3 * 4].to_vec()),
            (Features::sparse(&x, 5, 4, &d), x[..3 * 4].to_vec()),
            (
                Features::Identity { num_nodes: 5 },
                (0..3 * 5).map(|k| f32::from(k % 6 == 0)).collect(),
            ),
        ] {
            let head = features.head(3, &d);
            assert_eq!(head.dims()[0], 3);
            assert_eq!(to_vec(head.to_dense(&d)), dense);
        }
    }

    #[test]
    fn sparse_and_dense_agree_in_value_and_gradient() {
        let plain = Device::flex();
        let device = plain.clone().autodiff();
        let mut x = seeded_values(6 * 5, 3);
        x.iter_mut().enumerate().for_each(|(i, v)| {
            if i % 3 != 0 {
                *v = 0.0
            }
        });
        let lin = LinearConfig::new(5, 4).init(&device);
        let dense = Features::dense(&x, 6, 5, &device);
        let sparse = Features::sparse(&x, 6, 5, &device);
        assert!(matches!(
            Features::auto(&x, 6, 5, 0.5, &device),
            Features::Sparse(_)
        ));
        let a = dense.linear(&lin);
        let b = sparse.clone().linear(&lin);
        assert_close(&to_vec(a.clone()), &to_vec(b.clone()), 1e-6, "X W");
        let ga = to_vec(lin.weight.val().grad(&a.sum().backward()).unwrap());
        let gb = to_vec(lin.weight.val().grad(&b.sum().backward()).unwrap());
        assert_close(&ga, &gb, 1e-6, "dW");
        assert_close(&to_vec(sparse.to_dense(&device)), &x, 0.0, "to_dense");
        let eye = Features::Identity { num_nodes: 5 };
        let w = tensor2(&seeded_values(10, 2), [5, 2], &device);
        assert_close(
            &to_vec(eye.clone().matmul(w.clone())),
            &to_vec(w),
            0.0,
            "I W = W",
        );
        assert_eq!(to_vec(eye.to_dense(&device))[6], 1.0);
    }

    #[test]
    fn the_density_test_counts_across_blocks_and_stops_past_the_limit() {
        // 10 000 values over three counting blocks, 1 000 non-zero: a density of 0.1.
        let mut x = vec![0.0f32; 10_000];
        x.iter_mut().step_by(10).for_each(|v| *v = -2.0);
        assert!(sparse_enough(&x, 100, 100, 0.1), "exactly at the limit");
        assert!(!sparse_enough(&x, 100, 100, 0.0999));
        x[9_999] = 1.0; // the last value of the last block tips it
        assert!(!sparse_enough(&x, 100, 100, 0.1));
        assert!(sparse_enough(&[], 0, 5, 0.1));
        assert!(!sparse_enough(&[1.0; 9_000], 90, 100, 0.5), "dense");
        assert!(matches!(
            Features::auto_owned(x, 100, 100, 0.5, &Device::flex()),
            Features::Sparse(_)
        ));
    }
}
