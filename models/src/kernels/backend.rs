//! The fused operations (row sums, softmax, GAT attention, dropout) as a Burn backend
//! extension: host implementations for flex and ndarray, and their backward passes, written by
//! hand, for their autodiff wrappers.

// Burn deprecates ndarray; the project still serves it, and the extension macro names it.
#![allow(deprecated)]

use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use burn::backend::NdArray;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, Flex, Shape, TensorData, TensorMetadata, backend_extension,
};

use super::csr::{Adjacency, Csr};
use super::host::{
    Read, dropout, edge_dots, edge_rows, row_attention, row_attention_backward, row_max,
    row_max_backward, row_softmax, row_softmax_backward, row_sums, row_totals,
};

/// Which grouping of the edges a row sum runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Rows are targets, `other` the sources: aggregation.
    ByTarget,
    /// Rows are sources, `other` the targets: the gradient of a gather.
    BySource,
}

/// A fused weighted row sum over one grouping of a graph's edges:
/// `out[r, h, :] = Σ_{e in row r} w[e, h] · x[i_e, h, :]`, each row a serial sum in edge order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowSum {
    /// The grouping the rows come from.
    pub group: Group,
    /// Which row of `x` an edge reads.
    pub read: Read,
    /// Output rows.
    pub rows: usize,
    /// Heads `H`: the weights are `[E, H]` and `x`'s columns `H` blocks of `C`.
    pub heads: usize,
}

impl RowSum {
    fn csr(self, adjacency: &Adjacency) -> &Csr {
        match self.group {
            Group::ByTarget => adjacency.by_target(),
            Group::BySource => adjacency.by_source(),
        }
    }

    /// The grouping endpoint of every edge (the row it is summed into) and the other one.
    fn endpoints(self, adjacency: &Adjacency) -> (&[u32], &[u32]) {
        match self.group {
            Group::ByTarget => (adjacency.dst(), adjacency.src()),
            Group::BySource => (adjacency.src(), adjacency.dst()),
        }
    }
}

/// A concrete CPU backend whose float tensors can be read as host `f32` values.
pub trait HostFloat: Backend {
    /// Runs `f` on `x`'s values in row-major order.
    fn with_values<R>(x: &FloatTensor<Self>, f: impl FnOnce(&[f32]) -> R) -> R;

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

/// The row sum on host values.
fn forward<B: HostFloat>(
    x: &FloatTensor<B>,
    w: Option<&FloatTensor<B>>,
    adjacency: &Adjacency,
    spec: RowSum,
) -> FloatTensor<B> {
    let f = x.shape()[1];
    let csr = spec.csr(adjacency);
    let out = B::with_values(x, |xv| match w {
        None => row_sums(csr, spec.rows, xv, f, None, spec.heads, spec.read),
        Some(w) => B::with_values(w, |wv| {
            row_sums(csr, spec.rows, xv, f, Some(wv), spec.heads, spec.read)
        }),
    });
    B::from_values(out, [spec.rows, f], x)
}

/// `∂L/∂x` from `g = ∂L/∂out`: for a gather (`Read::Other`), the row sum over the other
/// grouping into `x`'s rows; for per-edge rows, each edge's row of `g`, weighted.
fn grad_input<B: HostFloat>(
    g: &FloatTensor<B>,
    w: Option<&FloatTensor<B>>,
    adjacency: &Adjacency,
    spec: RowSum,
    x_rows: usize,
) -> FloatTensor<B> {
    match spec.read {
        Read::Other => {
            let group = match spec.group {
                Group::ByTarget => Group::BySource,
                Group::BySource => Group::ByTarget,
            };
            let back = RowSum {
                group,
                rows: x_rows,
                ..spec
            };
            forward::<B>(g, w, adjacency, back)
        }
        Read::Edge => {
            let f = g.shape()[1];
            let (rows, _) = spec.endpoints(adjacency);
            let out = B::with_values(g, |gv| match w {
                None => edge_rows(rows, gv, f, None, spec.heads),
                Some(w) => B::with_values(w, |wv| edge_rows(rows, gv, f, Some(wv), spec.heads)),
            });
            B::from_values(out, [adjacency.num_edges(), f], g)
        }
    }
}

/// `∂L/∂w[e, h] = ⟨g[row of e, h], x[i_e, h]⟩`.
fn grad_weight<B: HostFloat>(
    g: &FloatTensor<B>,
    x: &FloatTensor<B>,
    adjacency: &Adjacency,
    spec: RowSum,
) -> FloatTensor<B> {
    let f = g.shape()[1];
    let (rows, other) = spec.endpoints(adjacency);
    let read = (spec.read == Read::Other).then_some(other);
    let out = B::with_values(g, |gv| {
        B::with_values(x, |xv| edge_dots(gv, rows, xv, read, f, spec.heads))
    });
    B::from_values(out, [adjacency.num_edges(), spec.heads], g)
}

/// Softmax of per-edge scores `[E, H]` over each target's incoming edges, on host values.
fn softmax<B: HostFloat>(scores: &FloatTensor<B>, adjacency: &Adjacency) -> FloatTensor<B> {
    let heads = scores.shape()[1];
    let out = B::with_values(scores, |s| row_softmax(adjacency.by_target(), s, heads));
    B::from_values(out, [adjacency.num_edges(), heads], scores)
}

/// Inverted dropout on host values with the counter-based mask of `seed` ([`dropout`]).
fn dropout_values<B: HostFloat>(x: &FloatTensor<B>, seed: u64, keep: f64) -> FloatTensor<B> {
    let out = B::with_values(x, |v| dropout(v, seed, keep));
    B::from_values(out, x.shape(), x)
}

/// GAT's attention coefficients on host values ([`row_attention`]).
fn attention_values<B: HostFloat>(
    a_src: &FloatTensor<B>,
    a_dst: &FloatTensor<B>,
    adjacency: &Adjacency,
    slope: f32,
) -> FloatTensor<B> {
    let heads = a_src.shape()[1];
    let out = B::with_values(a_src, |s| {
        B::with_values(a_dst, |d| {
            row_attention(adjacency.by_target(), s, d, heads, slope)
        })
    });
    B::from_values(out, [adjacency.num_edges(), heads], a_src)
}

/// The maximum of per-edge rows at each target on host values, with the winners.
fn max_values<B: HostFloat>(
    x: &FloatTensor<B>,
    adjacency: &Adjacency,
) -> (FloatTensor<B>, Vec<u32>) {
    let (f, rows) = (x.shape()[1], adjacency.by_target().rows());
    let (out, winner) = B::with_values(x, |v| row_max(adjacency.by_target(), rows, v, f));
    (B::from_values(out, [rows, f], x), winner)
}

/// Fused message-passing operations (a Burn backend extension): implemented on the host for
/// flex and ndarray, differentiated by hand under autodiff.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait GraphKernels: Backend {
    /// The unweighted row sum `out[r] = Σ_{e in row r} x[i_e]`.
    ///
    /// # Shapes
    /// - `x`: `[N or E, F]`; output `[spec.rows, F]`
    fn row_sum(x: FloatTensor<Self>, adjacency: Arc<Adjacency>, spec: RowSum) -> FloatTensor<Self>;

    /// The weighted row sum `out[r, h] = Σ_{e in row r} w[e, h] · x[i_e, h]`.
    ///
    /// # Shapes
    /// - `x`: `[N or E, H·C]`, `weight`: `[E, H]`; output `[spec.rows, H·C]`
    fn weighted_row_sum(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        adjacency: Arc<Adjacency>,
        spec: RowSum,
    ) -> FloatTensor<Self>;

    /// Softmax of every edge's scores over its target's incoming edges, per head
    /// (stabilised by each target's maximum).
    ///
    /// # Shapes
    /// - `scores`: `[E, H]`; output `[E, H]`
    fn softmax_at_targets(
        scores: FloatTensor<Self>,
        adjacency: Arc<Adjacency>,
    ) -> FloatTensor<Self>;

    /// Inverted dropout keeping each value with probability `keep`, by the counter-based mask
    /// of `seed` (a SplitMix64 stream, 32 bits per value); any shape.
    fn seeded_dropout(x: FloatTensor<Self>, seed: u64, keep: f64) -> FloatTensor<Self>;

    /// GAT's attention coefficients: the LeakyReLU (slope `slope`) of `a_src[j] + a_dst[i]`
    /// for every edge `j → i`, softmax-normalised over each target's edges, per head
    /// (stabilised by each target's maximum).
    ///
    /// # Shapes
    /// - `a_src`: `[N_s, H]`, `a_dst`: `[N, H]`; output `[E, H]`
    fn attention(
        a_src: FloatTensor<Self>,
        a_dst: FloatTensor<Self>,
        adjacency: Arc<Adjacency>,
        slope: f32,
    ) -> FloatTensor<Self>;

    /// The element-wise maximum of the per-edge rows `x` at each target (0 for a target
    /// without edges); the gradient goes to the first edge attaining it.
    ///
    /// # Shapes
    /// - `x`: `[E, F]`; output `[N, F]`
    fn max_at_targets(x: FloatTensor<Self>, adjacency: Arc<Adjacency>) -> FloatTensor<Self>;
}

/// The host implementation of every operation, for a backend whose values the host reads.
macro_rules! host_kernels {
    ($backend:ty) => {
        impl GraphKernels for $backend {
            fn row_sum(
                x: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
                spec: RowSum,
            ) -> FloatTensor<Self> {
                forward::<Self>(&x, None, &adjacency, spec)
            }

            fn weighted_row_sum(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
                spec: RowSum,
            ) -> FloatTensor<Self> {
                forward::<Self>(&x, Some(&weight), &adjacency, spec)
            }

            fn softmax_at_targets(
                scores: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
            ) -> FloatTensor<Self> {
                softmax::<Self>(&scores, &adjacency)
            }

            fn seeded_dropout(x: FloatTensor<Self>, seed: u64, keep: f64) -> FloatTensor<Self> {
                dropout_values::<Self>(&x, seed, keep)
            }

            fn attention(
                a_src: FloatTensor<Self>,
                a_dst: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
                slope: f32,
            ) -> FloatTensor<Self> {
                attention_values::<Self>(&a_src, &a_dst, &adjacency, slope)
            }

            fn max_at_targets(
                x: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
            ) -> FloatTensor<Self> {
                max_values::<Self>(&x, &adjacency).0
            }
        }
    };
}

host_kernels!(Flex);
host_kernels!(NdArray);

/// What the backward pass of a row sum keeps: the weights (for `∂x`), the input (for `∂w`,
/// only when the weights are tracked), the edges and the operation.
#[derive(Debug, Clone)]
struct RowSumState<B: Backend> {
    x: Option<FloatTensor<B>>,
    w: Option<FloatTensor<B>>,
    adjacency: Arc<Adjacency>,
    spec: RowSum,
    x_rows: usize,
}

/// The backward step of [`GraphKernels::row_sum`].
#[derive(Debug)]
struct RowSumBackward;

impl<B: HostFloat> Backward<B, 1> for RowSumBackward {
    type State = RowSumState<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let s = ops.state;
        if let Some(node) = node_x {
            let dx = grad_input::<B>(&g, None, &s.adjacency, s.spec, s.x_rows);
            grads.register::<B>(node.id, dx);
        }
    }
}

/// The backward step of [`GraphKernels::weighted_row_sum`].
#[derive(Debug)]
struct WeightedRowSumBackward;

impl<B: HostFloat> Backward<B, 2> for WeightedRowSumBackward {
    type State = RowSumState<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let s = ops.state;
        if let Some(node) = node_w
            && let Some(x) = &s.x
        {
            grads.register::<B>(node.id, grad_weight::<B>(&g, x, &s.adjacency, s.spec));
        }
        if let Some(node) = node_x {
            let dx = grad_input::<B>(&g, s.w.as_ref(), &s.adjacency, s.spec, s.x_rows);
            grads.register::<B>(node.id, dx);
        }
    }
}

/// The backward step of [`GraphKernels::softmax_at_targets`]: it keeps the output.
#[derive(Debug)]
struct SoftmaxBackward;

impl<B: HostFloat> Backward<B, 1> for SoftmaxBackward {
    type State = (FloatTensor<B>, Arc<Adjacency>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (y, adjacency) = ops.state;
        if let Some(node) = node {
            let heads = y.shape()[1];
            let ds = B::with_values(&y, |yv| {
                B::with_values(&g, |gv| {
                    row_softmax_backward(adjacency.by_target(), yv, gv, heads)
                })
            });
            grads.register::<B>(
                node.id,
                B::from_values(ds, [adjacency.num_edges(), heads], &g),
            );
        }
    }
}

/// The backward step of [`GraphKernels::seeded_dropout`]: the same mask, rebuilt from the seed.
#[derive(Debug)]
struct DropoutBackward;

impl<B: HostFloat> Backward<B, 1> for DropoutBackward {
    type State = (u64, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (seed, keep) = ops.state;
        if let Some(node) = node {
            grads.register::<B>(node.id, dropout_values::<B>(&g, seed, keep));
        }
    }
}

/// What the backward pass of [`GraphKernels::attention`] keeps: both inputs (to rebuild the
/// scores' signs), the coefficients, the edges and the slope.
#[derive(Debug, Clone)]
struct AttentionState<B: Backend> {
    a_src: FloatTensor<B>,
    a_dst: FloatTensor<B>,
    alpha: FloatTensor<B>,
    adjacency: Arc<Adjacency>,
    slope: f32,
}

/// The backward step of [`GraphKernels::attention`].
#[derive(Debug)]
struct AttentionBackward;

impl<B: HostFloat> Backward<B, 2> for AttentionBackward {
    type State = AttentionState<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_src, node_dst] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let s = ops.state;
        let [n_s, heads] = [s.a_src.shape()[0], s.a_src.shape()[1]];
        let dz = B::with_values(&s.a_src, |src| {
            B::with_values(&s.a_dst, |dst| {
                B::with_values(&s.alpha, |alpha| {
                    B::with_values(&g, |gv| {
                        let csr = s.adjacency.by_target();
                        row_attention_backward(csr, (src, dst), (alpha, gv), heads, s.slope)
                    })
                })
            })
        });
        // ∂a_src, ∂a_dst: the per-edge gradient summed over each source's / target's edges.
        let sum_into = |csr: &Csr, rows: usize| {
            B::from_values(row_totals(csr, rows, &dz, heads), [rows, heads], &g)
        };
        if let Some(node) = node_src {
            grads.register::<B>(node.id, sum_into(s.adjacency.by_source(), n_s));
        }
        if let Some(node) = node_dst {
            let rows = s.a_dst.shape()[0];
            grads.register::<B>(node.id, sum_into(s.adjacency.by_target(), rows));
        }
    }
}

/// The backward step of [`GraphKernels::max_at_targets`]: it keeps each output's winner.
#[derive(Debug)]
struct MaxBackward;

impl<B: HostFloat> Backward<B, 1> for MaxBackward {
    type State = (Arc<Vec<u32>>, Arc<Adjacency>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (winner, adjacency) = ops.state;
        if let Some(node) = node {
            let f = g.shape()[1];
            let dx = B::with_values(&g, |gv| {
                row_max_backward(adjacency.by_target(), gv, &winner, f)
            });
            grads.register::<B>(node.id, B::from_values(dx, [adjacency.num_edges(), f], &g));
        }
    }
}

/// Records `out`, computed from the inputs behind `nodes`, as the output of backward step
/// `step`: with the state `state()` builds when some input is tracked, as a constant otherwise.
fn record<B, C, O, const N: usize>(
    step: O,
    nodes: [NodeGuard; N],
    out: FloatTensor<B>,
    state: impl FnOnce() -> O::State,
) -> FloatTensor<Autodiff<B, C>>
where
    B: Backend,
    C: CheckpointStrategy,
    O: Backward<B, N>,
{
    match step.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(state(), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

impl<B: HostFloat + GraphKernels, C: CheckpointStrategy> GraphKernels for Autodiff<B, C> {
    fn max_at_targets(x: FloatTensor<Self>, adjacency: Arc<Adjacency>) -> FloatTensor<Self> {
        let (out, winner) = max_values::<B>(x.primitive(), &adjacency);
        record::<B, C, _, 1>(MaxBackward, [x.node()], out, || {
            (Arc::new(winner), adjacency)
        })
    }

    fn attention(
        a_src: FloatTensor<Self>,
        a_dst: FloatTensor<Self>,
        adjacency: Arc<Adjacency>,
        slope: f32,
    ) -> FloatTensor<Self> {
        let alpha = attention_values::<B>(a_src.primitive(), a_dst.primitive(), &adjacency, slope);
        let state = || AttentionState {
            a_src: a_src.primitive().clone(),
            a_dst: a_dst.primitive().clone(),
            alpha: alpha.clone(),
            adjacency,
            slope,
        };
        let nodes = [a_src.node(), a_dst.node()];
        record::<B, C, _, 2>(AttentionBackward, nodes, alpha.clone(), state)
    }

    fn seeded_dropout(x: FloatTensor<Self>, seed: u64, keep: f64) -> FloatTensor<Self> {
        let out = dropout_values::<B>(x.primitive(), seed, keep);
        record::<B, C, _, 1>(DropoutBackward, [x.node()], out, || (seed, keep))
    }

    fn softmax_at_targets(
        scores: FloatTensor<Self>,
        adjacency: Arc<Adjacency>,
    ) -> FloatTensor<Self> {
        let out = softmax::<B>(scores.primitive(), &adjacency);
        let state = || (out.clone(), adjacency);
        record::<B, C, _, 1>(SoftmaxBackward, [scores.node()], out.clone(), state)
    }

    fn row_sum(x: FloatTensor<Self>, adjacency: Arc<Adjacency>, spec: RowSum) -> FloatTensor<Self> {
        let out = forward::<B>(x.primitive(), None, &adjacency, spec);
        let state = || RowSumState {
            x: None,
            w: None,
            x_rows: x.primitive().shape()[0],
            adjacency,
            spec,
        };
        record::<B, C, _, 1>(RowSumBackward, [x.node()], out, state)
    }

    fn weighted_row_sum(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        adjacency: Arc<Adjacency>,
        spec: RowSum,
    ) -> FloatTensor<Self> {
        let out = forward::<B>(x.primitive(), Some(weight.primitive()), &adjacency, spec);
        // `x` is kept only for `∂w`.
        let state = || RowSumState {
            x: weight.is_tracked().then(|| x.primitive().clone()),
            w: Some(weight.primitive().clone()),
            x_rows: x.primitive().shape()[0],
            adjacency,
            spec,
        };
        let nodes = [x.node(), weight.node()];
        record::<B, C, _, 2>(WeightedRowSumBackward, nodes, out, state)
    }
}
