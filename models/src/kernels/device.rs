//! [`KernelDevice`]: the device side of the fused operations — every forward and backward
//! computation [`GraphKernels`](super::GraphKernels) and its autodiff wrapper are made of —
//! and its implementation on the host for flex and ndarray.

// Burn deprecates ndarray; the project still serves it.
#![allow(deprecated)]

use std::fmt::Debug;
use std::ops::Range;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use burn::backend::NdArray;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, Shape, TensorData, TensorMetadata};
use burn::tensor::Slice;
use rayon::prelude::*;

use super::backend::{Group, RowSum};
use super::csr::{Adjacency, Csr};
use super::host::{
    self, Read, edge_dots, edge_rows, row_attention, row_attention_backward, row_max,
    row_max_backward, row_softmax, row_softmax_backward, row_sums, row_totals,
};

/// The computations the fused operations are made of, on one backend's own tensors: each
/// output value is a serial sum (or maximum) in a fixed edge order, so results repeat bitwise.
/// Implemented on the host for flex and ndarray, and as CubeCL kernels for the GPU backends
/// (`wgpu`, `cuda` features).
///
/// `E` is the number of edges, `H` the heads; a grouping's rows are targets or sources
/// ([`Group`]).
pub trait KernelDevice: Backend {
    /// Which edge won each output value of [`target_max`](KernelDevice::target_max), for its backward pass.
    type Winners: Clone + Debug + Send + Sync + 'static;

    /// `out[r, h, :] = Σ_{e in row r} w[e, h] · x[i_e, h, :]` (`w = 1` without weights);
    /// rows past the grouping's are zero.
    ///
    /// # Shapes
    /// - `x`: `[N or E, H·C]`, `w`: `[E, H]`; output `[spec.rows, H·C]`
    fn row_sum(
        x: &FloatTensor<Self>,
        w: Option<&FloatTensor<Self>>,
        adjacency: &Adjacency,
        spec: RowSum,
    ) -> FloatTensor<Self>;

    /// Each edge's row of `g` at its grouping endpoint, weighted: `out[e, h, :] = w[e, h] ·
    /// g[row of e, h, :]` — the gradient of a row sum that read per-edge rows.
    ///
    /// # Shapes
    /// - `g`: `[spec.rows, H·C]`, `w`: `[E, H]`; output `[E, H·C]`
    fn edge_rows(
        g: &FloatTensor<Self>,
        w: Option<&FloatTensor<Self>>,
        adjacency: &Adjacency,
        spec: RowSum,
    ) -> FloatTensor<Self>;

    /// `out[e, h] = ⟨g[row of e, h, :], x[i_e, h, :]⟩` — the gradient of a row sum's weights.
    ///
    /// # Shapes
    /// - `g`: `[spec.rows, H·C]`, `x`: `[N or E, H·C]`; output `[E, H]`
    fn edge_dots(
        g: &FloatTensor<Self>,
        x: &FloatTensor<Self>,
        adjacency: &Adjacency,
        spec: RowSum,
    ) -> FloatTensor<Self>;

    /// `out[r, h] = Σ_{e in row r} v[e, h]` for every row `r` of `group` (`rows` of them).
    ///
    /// # Shapes
    /// - `v`: `[E, H]`; output `[rows, H]`
    fn edge_totals(
        v: &FloatTensor<Self>,
        adjacency: &Adjacency,
        group: Group,
        rows: usize,
    ) -> FloatTensor<Self>;

    /// Softmax of the scores over each target's edges, per head, stabilised by the maximum.
    ///
    /// # Shapes
    /// - `scores`: `[E, H]`; output `[E, H]`
    fn target_softmax(scores: &FloatTensor<Self>, adjacency: &Adjacency) -> FloatTensor<Self>;

    /// `∂s[e, h] = y[e, h] (g[e, h] − Σ_{e' at the same target} y[e', h] g[e', h])`.
    ///
    /// # Shapes
    /// - `y`, `g`: `[E, H]`; output `[E, H]`
    fn target_softmax_backward(
        y: &FloatTensor<Self>,
        g: &FloatTensor<Self>,
        adjacency: &Adjacency,
    ) -> FloatTensor<Self>;

    /// GAT's coefficients `softmax_{j → i}(LeakyReLU(a_src[j] + a_dst[i]))`, per head.
    ///
    /// # Shapes
    /// - `a_src`: `[N_s, H]`, `a_dst`: `[N, H]`; output `[E, H]`
    fn target_attention(
        a_src: &FloatTensor<Self>,
        a_dst: &FloatTensor<Self>,
        adjacency: &Adjacency,
        slope: f32,
    ) -> FloatTensor<Self>;

    /// The gradient of [`target_attention`](KernelDevice::target_attention) at each edge's pre-activation
    /// score `z`: `LeakyReLU'(z) · α (g − Σ_{same target} α g)`.
    ///
    /// # Shapes
    /// - `a_src`: `[N_s, H]`, `a_dst`: `[N, H]`, `alpha`, `g`: `[E, H]`; output `[E, H]`
    fn target_attention_backward(
        a_src: &FloatTensor<Self>,
        a_dst: &FloatTensor<Self>,
        alpha: &FloatTensor<Self>,
        g: &FloatTensor<Self>,
        adjacency: &Adjacency,
        slope: f32,
    ) -> FloatTensor<Self>;

    /// The element-wise maximum of per-edge rows at each target (0 without edges) and the
    /// first edge attaining each.
    ///
    /// # Shapes
    /// - `x`: `[E, F]`; output `[N, F]`
    fn target_max(
        x: &FloatTensor<Self>,
        adjacency: &Adjacency,
    ) -> (FloatTensor<Self>, Self::Winners);

    /// The gradient of [`target_max`](KernelDevice::target_max): `g[i, c]` to the winner of `(i, c)`, zero
    /// elsewhere.
    ///
    /// # Shapes
    /// - `g`: `[N, F]`; output `[E, F]`
    fn target_max_backward(
        g: &FloatTensor<Self>,
        winners: &Self::Winners,
        adjacency: &Adjacency,
    ) -> FloatTensor<Self>;

    /// Inverted dropout keeping each value with probability `keep` by a counter-based mask of
    /// `seed`: the same mask for the same seed, recomputed rather than stored.
    fn dropout(x: &FloatTensor<Self>, seed: u64, keep: f64) -> FloatTensor<Self>;

    /// `y = x` for `x > 0`, `α (eˣ − 1)` otherwise; any shape.
    fn elu(x: &FloatTensor<Self>, alpha: f32) -> FloatTensor<Self>;

    /// The gradient of [`elu`](KernelDevice::elu) from its output: `g` where `y > 0`, else
    /// `g (y + α)` (`= g α eˣ`).
    fn elu_backward(y: &FloatTensor<Self>, g: &FloatTensor<Self>, alpha: f32) -> FloatTensor<Self>;

    /// `ln(1 + eˣ)`; any shape.
    fn softplus(x: &FloatTensor<Self>) -> FloatTensor<Self>;

    /// The gradient of [`softplus`](KernelDevice::softplus) from its input: `g σ(x)`.
    fn softplus_backward(x: &FloatTensor<Self>, g: &FloatTensor<Self>) -> FloatTensor<Self>;

    /// `xᵀ g`, the weight gradient of `y = x W`: Burn's product of the transpose. The host's
    /// runs it, for outputs of at most 64 · 64 values, over parts of the rows (at most 16 of at
    /// least 8,192 rows, by their number alone) in parallel and adds the parts in order: one
    /// product over 10^5 rows into so small an output runs on one thread, the largest serial
    /// part of a two-thread GCN step on a graph of that size with dense features.
    ///
    /// # Shapes
    /// - `x`: `[N, K]`, `g`: `[N, M]`; output `[K, M]`
    fn weight_grad(x: &FloatTensor<Self>, g: &FloatTensor<Self>) -> FloatTensor<Self> {
        transposed_product::<Self>(x, g)
    }

    /// `Σ_r g[r]`, the bias gradient of `y + b`: Burn's sum; the host's over the same parts of
    /// the rows as [`weight_grad`](KernelDevice::weight_grad)'s, in parallel, added in order.
    ///
    /// # Shapes
    /// - `g`: `[N, M]`; output `[M]`
    fn bias_grad(g: &FloatTensor<Self>) -> FloatTensor<Self> {
        let m = g.shape()[1];
        Self::float_reshape(Self::float_sum_dim(g.clone(), 0), Shape::new([m]))
    }

    /// `y + b` with the bias `b` added to every row: Burn's broadcast; the host's in parallel,
    /// in `y`'s own buffer where `y` holds it alone ([`HostFloat::update_values`]).
    ///
    /// # Shapes
    /// - `y`: `[N, M]`, `b`: `[M]`; output `[N, M]`
    fn add_bias(y: FloatTensor<Self>, b: &FloatTensor<Self>) -> FloatTensor<Self> {
        let m = b.shape()[0];
        Self::float_add(y, Self::float_reshape(b.clone(), Shape::new([1, m])))
    }
}

/// Output values (`K · M`) up to which a host [`weight_grad`](KernelDevice::weight_grad) is
/// summed over parts of the rows: Burn's product splits a larger output between the threads
/// itself, and parts only add their copies and sums there (a sampled SAGE epoch at two threads
/// was slower with `[128, 256]` gradients in parts).
const SPLIT_UP_TO: usize = 64 * 64;

/// Rows a part of a host [`weight_grad`](KernelDevice::weight_grad) covers at least.
const PART_ROWS: usize = 8192;

/// Parts a host [`weight_grad`](KernelDevice::weight_grad) is cut into at most.
const MAX_PARTS: usize = 16;

/// `n` rows cut into at most [`MAX_PARTS`] parts of at least [`PART_ROWS`] rows, by `n` alone
/// (not the thread count): each part's product is one of Burn's, and the parts are added in
/// order, so the sum is the same for every thread count.
fn row_parts(n: usize) -> Vec<Range<usize>> {
    let parts = n.div_ceil(PART_ROWS).clamp(1, MAX_PARTS);
    let rows = n.div_ceil(parts).max(1);
    (0..parts)
        .map(|p| (p * rows).min(n)..((p + 1) * rows).min(n))
        .collect()
}

/// `Σ_p part(rows_p)` over the [`row_parts`] of `n` rows: the parts in parallel, their results
/// added in part order.
fn sum_over_parts<B: Backend>(
    n: usize,
    part: impl Fn(&Range<usize>) -> FloatTensor<B> + Sync + Send,
) -> FloatTensor<B> {
    let parts: Vec<_> = row_parts(n).par_iter().map(part).collect();
    let sum = parts.into_iter().reduce(B::float_add);
    sum.expect("row_parts gives one part at least")
}

/// Burn's `xᵀ g`.
fn transposed_product<B: Backend>(x: &FloatTensor<B>, g: &FloatTensor<B>) -> FloatTensor<B> {
    B::float_matmul(B::float_transpose(x.clone()), g.clone())
}

/// Rows `rows` of the 2-D tensor `t` (a view where the backend allows).
fn rows_of<B: Backend>(t: &FloatTensor<B>, rows: &Range<usize>) -> FloatTensor<B> {
    B::float_slice(t.clone(), &[rows.clone().into(), Slice::full()])
}

/// A concrete CPU backend whose float tensors can be read as host `f32` values.
pub trait HostFloat: Backend {
    /// Runs `f` on `x`'s values in row-major order.
    fn with_values<R>(x: &FloatTensor<Self>, f: impl FnOnce(&[f32]) -> R) -> R;

    /// `x` with its values (row-major) changed in place by `f`, where `x` holds them alone in
    /// one contiguous buffer (flex); else `x` back, untouched (the default).
    fn update_values(
        x: FloatTensor<Self>,
        _f: impl FnOnce(&mut [f32]),
    ) -> Result<FloatTensor<Self>, FloatTensor<Self>> {
        Err(x)
    }

    /// A tensor of `values` in row-major order, on `like`'s device.
    fn from_values(
        values: Vec<f32>,
        shape: impl Into<Shape>,
        like: &FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::float_from_data(TensorData::new(values, shape.into()), &like.device())
    }
}

impl HostFloat for Flex {
    fn update_values(
        mut x: FloatTensor<Self>,
        f: impl FnOnce(&mut [f32]),
    ) -> Result<FloatTensor<Self>, FloatTensor<Self>> {
        let n = x.shape().num_elements();
        let whole = x.layout().is_contiguous() && x.layout().start_offset() == 0;
        match x.try_storage_mut::<f32>().filter(|v| whole && v.len() >= n) {
            Some(values) => {
                f(&mut values[..n]);
                Ok(x)
            }
            None => Err(x),
        }
    }

    fn with_values<R>(x: &FloatTensor<Self>, f: impl FnOnce(&[f32]) -> R) -> R {
        match x.as_slice::<f32>() {
            Some(values) => f(values),
            None => {
                let x = x.to_contiguous();
                f(x.as_slice::<f32>().expect("callers check the dtype is f32"))
            }
        }
    }
}

impl HostFloat for NdArray {
    fn with_values<R>(x: &FloatTensor<Self>, f: impl FnOnce(&[f32]) -> R) -> R {
        let data = ready(Self::float_into_data(x.clone())).expect("ndarray reads never fail");
        f(data
            .as_slice::<f32>()
            .expect("callers check the dtype is f32"))
    }
}

/// The value of a future that a CPU backend completes without waiting.
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// The grouping a row sum runs over.
pub(crate) fn grouping(adjacency: &Adjacency, group: Group) -> &Csr {
    match group {
        Group::ByTarget => adjacency.by_target(),
        Group::BySource => adjacency.by_source(),
    }
}

/// The grouping endpoint of every edge (the row it is summed into) and the other one.
pub(crate) fn endpoints(adjacency: &Adjacency, group: Group) -> (&[u32], &[u32]) {
    match group {
        Group::ByTarget => (adjacency.dst(), adjacency.src()),
        Group::BySource => (adjacency.src(), adjacency.dst()),
    }
}

/// `g`'s and `w`'s values (if any) handed to `f` together.
fn with_weights<B: HostFloat, R>(
    x: &FloatTensor<B>,
    w: Option<&FloatTensor<B>>,
    f: impl FnOnce(&[f32], Option<&[f32]>) -> R,
) -> R {
    B::with_values(x, |xv| match w {
        None => f(xv, None),
        Some(w) => B::with_values(w, |wv| f(xv, Some(wv))),
    })
}

/// [`KernelDevice`] on host values, for a backend whose tensors the host reads.
macro_rules! host_device {
    ($backend:ty) => {
        impl KernelDevice for $backend {
            type Winners = Arc<Vec<u32>>;

            fn row_sum(
                x: &FloatTensor<Self>,
                w: Option<&FloatTensor<Self>>,
                adjacency: &Adjacency,
                spec: RowSum,
            ) -> FloatTensor<Self> {
                let f = x.shape()[1];
                let csr = grouping(adjacency, spec.group);
                let out = with_weights::<Self, _>(x, w, |xv, wv| {
                    row_sums(csr, spec.rows, xv, f, wv, spec.heads, spec.read)
                });
                Self::from_values(out, [spec.rows, f], x)
            }

            fn edge_rows(
                g: &FloatTensor<Self>,
                w: Option<&FloatTensor<Self>>,
                adjacency: &Adjacency,
                spec: RowSum,
            ) -> FloatTensor<Self> {
                let f = g.shape()[1];
                let (rows, _) = endpoints(adjacency, spec.group);
                let out =
                    with_weights::<Self, _>(g, w, |gv, wv| edge_rows(rows, gv, f, wv, spec.heads));
                Self::from_values(out, [adjacency.num_edges(), f], g)
            }

            fn edge_dots(
                g: &FloatTensor<Self>,
                x: &FloatTensor<Self>,
                adjacency: &Adjacency,
                spec: RowSum,
            ) -> FloatTensor<Self> {
                let f = g.shape()[1];
                let (rows, other) = endpoints(adjacency, spec.group);
                let read = (spec.read == Read::Other).then_some(other);
                let out = Self::with_values(g, |gv| {
                    Self::with_values(x, |xv| edge_dots(gv, rows, xv, read, f, spec.heads))
                });
                Self::from_values(out, [adjacency.num_edges(), spec.heads], g)
            }

            fn edge_totals(
                v: &FloatTensor<Self>,
                adjacency: &Adjacency,
                group: Group,
                rows: usize,
            ) -> FloatTensor<Self> {
                let heads = v.shape()[1];
                let csr = grouping(adjacency, group);
                let out = Self::with_values(v, |vv| row_totals(csr, rows, vv, heads));
                Self::from_values(out, [rows, heads], v)
            }

            fn target_softmax(
                scores: &FloatTensor<Self>,
                adjacency: &Adjacency,
            ) -> FloatTensor<Self> {
                let heads = scores.shape()[1];
                let out =
                    Self::with_values(scores, |s| row_softmax(adjacency.by_target(), s, heads));
                Self::from_values(out, [adjacency.num_edges(), heads], scores)
            }

            fn target_softmax_backward(
                y: &FloatTensor<Self>,
                g: &FloatTensor<Self>,
                adjacency: &Adjacency,
            ) -> FloatTensor<Self> {
                let heads = y.shape()[1];
                let out = Self::with_values(y, |yv| {
                    Self::with_values(g, |gv| {
                        row_softmax_backward(adjacency.by_target(), yv, gv, heads)
                    })
                });
                Self::from_values(out, [adjacency.num_edges(), heads], g)
            }

            fn target_attention(
                a_src: &FloatTensor<Self>,
                a_dst: &FloatTensor<Self>,
                adjacency: &Adjacency,
                slope: f32,
            ) -> FloatTensor<Self> {
                let heads = a_src.shape()[1];
                let out = Self::with_values(a_src, |s| {
                    Self::with_values(a_dst, |d| {
                        row_attention(adjacency.by_target(), s, d, heads, slope)
                    })
                });
                Self::from_values(out, [adjacency.num_edges(), heads], a_src)
            }

            fn target_attention_backward(
                a_src: &FloatTensor<Self>,
                a_dst: &FloatTensor<Self>,
                alpha: &FloatTensor<Self>,
                g: &FloatTensor<Self>,
                adjacency: &Adjacency,
                slope: f32,
            ) -> FloatTensor<Self> {
                let heads = a_src.shape()[1];
                let csr = adjacency.by_target();
                let out = Self::with_values(a_src, |src| {
                    Self::with_values(a_dst, |dst| {
                        Self::with_values(alpha, |al| {
                            Self::with_values(g, |gv| {
                                row_attention_backward(csr, (src, dst), (al, gv), heads, slope)
                            })
                        })
                    })
                });
                Self::from_values(out, [adjacency.num_edges(), heads], g)
            }

            fn target_max(
                x: &FloatTensor<Self>,
                adjacency: &Adjacency,
            ) -> (FloatTensor<Self>, Self::Winners) {
                let (f, rows) = (x.shape()[1], adjacency.by_target().rows());
                let (out, winner) =
                    Self::with_values(x, |v| row_max(adjacency.by_target(), rows, v, f));
                (Self::from_values(out, [rows, f], x), Arc::new(winner))
            }

            fn target_max_backward(
                g: &FloatTensor<Self>,
                winners: &Self::Winners,
                adjacency: &Adjacency,
            ) -> FloatTensor<Self> {
                let f = g.shape()[1];
                let dx = Self::with_values(g, |gv| {
                    row_max_backward(adjacency.by_target(), gv, winners, f)
                });
                Self::from_values(dx, [adjacency.num_edges(), f], g)
            }

            fn dropout(x: &FloatTensor<Self>, seed: u64, keep: f64) -> FloatTensor<Self> {
                let out = Self::with_values(x, |v| host::dropout(v, seed, keep));
                Self::from_values(out, x.shape(), x)
            }

            fn elu(x: &FloatTensor<Self>, alpha: f32) -> FloatTensor<Self> {
                let out = Self::with_values(x, |v| host::elu(v, alpha));
                Self::from_values(out, x.shape(), x)
            }

            fn elu_backward(
                y: &FloatTensor<Self>,
                g: &FloatTensor<Self>,
                alpha: f32,
            ) -> FloatTensor<Self> {
                let out = Self::with_values(y, |yv| {
                    Self::with_values(g, |gv| host::elu_backward(yv, gv, alpha))
                });
                Self::from_values(out, g.shape(), g)
            }

            fn softplus(x: &FloatTensor<Self>) -> FloatTensor<Self> {
                let out = Self::with_values(x, host::softplus);
                Self::from_values(out, x.shape(), x)
            }

            fn softplus_backward(
                x: &FloatTensor<Self>,
                g: &FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                let out = Self::with_values(x, |xv| {
                    Self::with_values(g, |gv| host::softplus_backward(xv, gv))
                });
                Self::from_values(out, g.shape(), g)
            }

            fn weight_grad(x: &FloatTensor<Self>, g: &FloatTensor<Self>) -> FloatTensor<Self> {
                if x.shape()[1] * g.shape()[1] > SPLIT_UP_TO {
                    return transposed_product::<Self>(x, g);
                }
                sum_over_parts::<Self>(x.shape()[0], |rows| {
                    transposed_product::<Self>(&rows_of::<Self>(x, rows), &rows_of::<Self>(g, rows))
                })
            }

            fn bias_grad(g: &FloatTensor<Self>) -> FloatTensor<Self> {
                let m = g.shape()[1];
                let sum = sum_over_parts::<Self>(g.shape()[0], |rows| {
                    Self::float_sum_dim(rows_of::<Self>(g, rows), 0)
                });
                Self::float_reshape(sum, Shape::new([m]))
            }

            fn add_bias(y: FloatTensor<Self>, b: &FloatTensor<Self>) -> FloatTensor<Self> {
                Self::with_values(b, |bv| {
                    Self::update_values(y, |yv| host::add_bias(yv, bv)).unwrap_or_else(|y| {
                        let mut out = Self::with_values(&y, <[f32]>::to_vec);
                        host::add_bias(&mut out, bv);
                        Self::from_values(out, y.shape(), &y)
                    })
                })
            }
        }
    };
}

host_device!(Flex);
host_device!(NdArray);
