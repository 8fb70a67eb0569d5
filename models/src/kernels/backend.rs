//! The fused operations (row sums, softmax, GAT attention, dropout, a dense layer's weight
//! and bias gradients) as a Burn backend extension: on each backend the [`KernelDevice`]
//! computations, and their backward passes, written by hand, for the autodiff wrapper.

// Burn deprecates ndarray; the project still serves it, and the extension macro names it.
#![allow(deprecated)]

use std::sync::Arc;

use burn::backend::NdArray;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};

use super::csr::Adjacency;
use super::device::KernelDevice;
use super::host::Read;

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

/// Fused message-passing operations (a Burn backend extension): the [`KernelDevice`]
/// computations of flex and ndarray (host) and of the CubeCL backends (`wgpu`, `cuda`
/// features), differentiated by hand under autodiff.
#[backend_extension(
    Flex,
    NdArray,
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff
)]
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
    /// of `seed` (a 32-bit hash of each value's index and the seed, the same on every
    /// backend: the same seed drops the same values on the CPU and the GPU); any shape, at
    /// most `2³²` values.
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

    /// ELU, `x` for `x > 0` and `α (eˣ − 1)` otherwise, in one pass (Burn's `elu` is five
    /// operations forward and more backward); any shape.
    fn elu(x: FloatTensor<Self>, alpha: f32) -> FloatTensor<Self>;

    /// Softplus, `ln(1 + eˣ)`, in one parallel pass (Burn's `log_sigmoid(−x)` is several
    /// operations, each on one thread on flex); any shape.
    fn softplus(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The dense product `x W` (Burn's), whose weight gradient `xᵀ g` is the backend's
    /// [`weight_grad`](KernelDevice::weight_grad): on the host, for small outputs, Burn's
    /// product over parts of the rows in parallel, where one product over all rows runs on one
    /// thread.
    ///
    /// # Shapes
    /// - `x`: `[N, K]`, `w`: `[K, M]`; output `[N, M]`
    fn matmul(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `y + b`, the bias added to every row, with the bias gradient `Σ_r g[r]` the backend's
    /// [`bias_grad`](KernelDevice::bias_grad): both in parallel on the host, where Burn's
    /// broadcast add and its reduction run on one thread.
    ///
    /// # Shapes
    /// - `y`: `[N, M]`, `b`: `[M]`; output `[N, M]`
    fn add_bias(y: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Every operation of a backend, from its [`KernelDevice`] computations.
macro_rules! device_kernels {
    ($backend:ty) => {
        impl GraphKernels for $backend {
            fn row_sum(
                x: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
                spec: RowSum,
            ) -> FloatTensor<Self> {
                <Self as KernelDevice>::row_sum(&x, None, &adjacency, spec)
            }

            fn weighted_row_sum(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
                spec: RowSum,
            ) -> FloatTensor<Self> {
                <Self as KernelDevice>::row_sum(&x, Some(&weight), &adjacency, spec)
            }

            fn softmax_at_targets(
                scores: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
            ) -> FloatTensor<Self> {
                <Self as KernelDevice>::target_softmax(&scores, &adjacency)
            }

            fn seeded_dropout(x: FloatTensor<Self>, seed: u64, keep: f64) -> FloatTensor<Self> {
                <Self as KernelDevice>::dropout(&x, seed, keep)
            }

            fn attention(
                a_src: FloatTensor<Self>,
                a_dst: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
                slope: f32,
            ) -> FloatTensor<Self> {
                <Self as KernelDevice>::target_attention(&a_src, &a_dst, &adjacency, slope)
            }

            fn max_at_targets(
                x: FloatTensor<Self>,
                adjacency: Arc<Adjacency>,
            ) -> FloatTensor<Self> {
                <Self as KernelDevice>::target_max(&x, &adjacency).0
            }

            fn elu(x: FloatTensor<Self>, alpha: f32) -> FloatTensor<Self> {
                <Self as KernelDevice>::elu(&x, alpha)
            }

            fn softplus(x: FloatTensor<Self>) -> FloatTensor<Self> {
                <Self as KernelDevice>::softplus(&x)
            }

            fn matmul(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
                Self::float_matmul(x, w)
            }

            fn add_bias(y: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
                <Self as KernelDevice>::add_bias(y, &b)
            }
        }
    };
}

device_kernels!(Flex);
device_kernels!(NdArray);
#[cfg(any(feature = "wgpu", feature = "cuda"))]
device_kernels!(burn_cubecl::CubeBackend);

/// `∂L/∂x` of a row sum from `g = ∂L/∂out`: for a gather (`Read::Other`), the row sum over the
/// other grouping into `x`'s rows; for per-edge rows, each edge's row of `g`, weighted.
fn grad_input<B: KernelDevice>(
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
            B::row_sum(g, w, adjacency, back)
        }
        Read::Edge => B::edge_rows(g, w, adjacency, spec),
    }
}

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

impl<B: KernelDevice> Backward<B, 1> for RowSumBackward {
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

impl<B: KernelDevice> Backward<B, 2> for WeightedRowSumBackward {
    type State = RowSumState<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let s = ops.state;
        if let Some(node) = node_w
            && let Some(x) = &s.x
        {
            grads.register::<B>(node.id, B::edge_dots(&g, x, &s.adjacency, s.spec));
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

impl<B: KernelDevice> Backward<B, 1> for SoftmaxBackward {
    type State = (FloatTensor<B>, Arc<Adjacency>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (y, adjacency) = ops.state;
        if let Some(node) = node {
            grads.register::<B>(node.id, B::target_softmax_backward(&y, &g, &adjacency));
        }
    }
}

/// The backward step of [`GraphKernels::seeded_dropout`]: the same mask, rebuilt from the seed.
#[derive(Debug)]
struct DropoutBackward;

impl<B: KernelDevice> Backward<B, 1> for DropoutBackward {
    type State = (u64, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (seed, keep) = ops.state;
        if let Some(node) = node {
            grads.register::<B>(node.id, B::dropout(&g, seed, keep));
        }
    }
}

/// The backward step of [`GraphKernels::elu`]: it keeps the output and `α`.
#[derive(Debug)]
struct EluBackward;

impl<B: KernelDevice> Backward<B, 1> for EluBackward {
    type State = (FloatTensor<B>, f32);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (y, alpha) = ops.state;
        if let Some(node) = node {
            grads.register::<B>(node.id, B::elu_backward(&y, &g, alpha));
        }
    }
}

/// The backward step of [`GraphKernels::softplus`]: it keeps the input.
#[derive(Debug)]
struct SoftplusBackward;

impl<B: KernelDevice> Backward<B, 1> for SoftplusBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        if let Some(node) = node {
            grads.register::<B>(node.id, B::softplus_backward(&ops.state, &g));
        }
    }
}

/// The backward step of [`GraphKernels::matmul`]: it keeps `x` for `∂W` and `W` for `∂x`, each
/// only when the other is tracked.
#[derive(Debug)]
struct MatmulBackward;

impl<B: KernelDevice> Backward<B, 2> for MatmulBackward {
    type State = (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (x, w) = ops.state;
        if let Some(node) = node_w
            && let Some(x) = &x
        {
            grads.register::<B>(node.id, B::weight_grad(x, &g));
        }
        if let Some(node) = node_x
            && let Some(w) = w
        {
            grads.register::<B>(node.id, B::float_matmul(g, B::float_transpose(w)));
        }
    }
}

/// The backward step of [`GraphKernels::add_bias`]: `∂y = g`, `∂b = Σ_r g[r]`.
#[derive(Debug)]
struct BiasBackward;

impl<B: KernelDevice> Backward<B, 2> for BiasBackward {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_y, node_b] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        if let Some(node) = node_b {
            grads.register::<B>(node.id, B::bias_grad(&g));
        }
        if let Some(node) = node_y {
            grads.register::<B>(node.id, g);
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

impl<B: KernelDevice> Backward<B, 2> for AttentionBackward {
    type State = AttentionState<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_src, node_dst] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let s = ops.state;
        let dz =
            B::target_attention_backward(&s.a_src, &s.a_dst, &s.alpha, &g, &s.adjacency, s.slope);
        // ∂a_src, ∂a_dst: the per-edge gradient summed over each source's / target's edges.
        if let Some(node) = node_src {
            let rows = s.a_src.shape()[0];
            let d = B::edge_totals(&dz, &s.adjacency, Group::BySource, rows);
            grads.register::<B>(node.id, d);
        }
        if let Some(node) = node_dst {
            let rows = s.a_dst.shape()[0];
            let d = B::edge_totals(&dz, &s.adjacency, Group::ByTarget, rows);
            grads.register::<B>(node.id, d);
        }
    }
}

/// The backward step of [`GraphKernels::max_at_targets`]: it keeps each output's winner.
#[derive(Debug)]
struct MaxBackward;

impl<B: KernelDevice> Backward<B, 1> for MaxBackward {
    type State = (B::Winners, Arc<Adjacency>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = grads.consume::<B>(&ops.node);
        let (winners, adjacency) = ops.state;
        if let Some(node) = node {
            grads.register::<B>(node.id, B::target_max_backward(&g, &winners, &adjacency));
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

impl<B: KernelDevice + GraphKernels, C: CheckpointStrategy> GraphKernels for Autodiff<B, C> {
    fn max_at_targets(x: FloatTensor<Self>, adjacency: Arc<Adjacency>) -> FloatTensor<Self> {
        let (out, winners) = B::target_max(x.primitive(), &adjacency);
        record::<B, C, _, 1>(MaxBackward, [x.node()], out, || (winners, adjacency))
    }

    fn attention(
        a_src: FloatTensor<Self>,
        a_dst: FloatTensor<Self>,
        adjacency: Arc<Adjacency>,
        slope: f32,
    ) -> FloatTensor<Self> {
        let alpha = B::target_attention(a_src.primitive(), a_dst.primitive(), &adjacency, slope);
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

    fn elu(x: FloatTensor<Self>, alpha: f32) -> FloatTensor<Self> {
        let out = <B as KernelDevice>::elu(x.primitive(), alpha);
        let state = || (out.clone(), alpha);
        record::<B, C, _, 1>(EluBackward, [x.node()], out.clone(), state)
    }

    fn softplus(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let out = <B as KernelDevice>::softplus(x.primitive());
        let state = || x.primitive().clone();
        record::<B, C, _, 1>(SoftplusBackward, [x.node()], out, state)
    }

    fn matmul(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        let out = B::float_matmul(x.primitive().clone(), w.primitive().clone());
        // Each input is kept only for the other's gradient.
        let state = || {
            let keep = |t: &FloatTensor<Self>, other: &FloatTensor<Self>| {
                other.is_tracked().then(|| t.primitive().clone())
            };
            (keep(&x, &w), keep(&w, &x))
        };
        record::<B, C, _, 2>(MatmulBackward, [x.node(), w.node()], out, state)
    }

    fn add_bias(y: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        // The backward pass keeps nothing, so `y`'s buffer can become the output.
        let nodes = [y.node(), b.node()];
        let out = <B as KernelDevice>::add_bias(y.into_primitive(), b.primitive());
        record::<B, C, _, 2>(BiasBackward, nodes, out, || ())
    }

    fn seeded_dropout(x: FloatTensor<Self>, seed: u64, keep: f64) -> FloatTensor<Self> {
        let out = B::dropout(x.primitive(), seed, keep);
        record::<B, C, _, 1>(DropoutBackward, [x.node()], out, || (seed, keep))
    }

    fn softmax_at_targets(
        scores: FloatTensor<Self>,
        adjacency: Arc<Adjacency>,
    ) -> FloatTensor<Self> {
        let out = B::target_softmax(scores.primitive(), &adjacency);
        let state = || (out.clone(), adjacency);
        record::<B, C, _, 1>(SoftmaxBackward, [scores.node()], out.clone(), state)
    }

    fn row_sum(x: FloatTensor<Self>, adjacency: Arc<Adjacency>, spec: RowSum) -> FloatTensor<Self> {
        let out = <B as KernelDevice>::row_sum(x.primitive(), None, &adjacency, spec);
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
        let out =
            <B as KernelDevice>::row_sum(x.primitive(), Some(weight.primitive()), &adjacency, spec);
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
