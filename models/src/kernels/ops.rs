//! The fused kernels on Burn tensors: the entry points the message-passing primitives call
//! when the tensors live on a backend the kernels serve. Each returns `Err` with its input,
//! untouched, where the kernels do not apply, so the caller's portable path takes it over.

// Tensor handles are large (hundreds of bytes) whatever they hold, in `Ok` and `Err` alike;
// boxing gains nothing here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use burn::backend::Dispatch;
use burn::module::Param;
use burn::nn::Dropout;
use burn::tensor::{DType, Device, Distribution, Int, Tensor};
use burn_dispatch::DispatchDevice;

use super::backend::{GraphKernels, Group, RowSum};
use super::csr::Adjacency;
use super::host::Read;
use crate::Graph;

/// Whether the fused kernels serve `f32` tensors on `device`: flex and ndarray (host
/// kernels), and, built with the `wgpu` or `cuda` feature, the CubeCL backends (GPU kernels);
/// with or without autodiff. Elsewhere the primitives take Burn's portable gather and scatter.
pub fn fused_on(device: &Device) -> bool {
    match device.clone().inner().as_dispatch() {
        DispatchDevice::Flex(_) | DispatchDevice::NdArray(_) => true,
        #[cfg(any(feature = "wgpu", feature = "cuda"))]
        DispatchDevice::Cube(_) => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Whether the fused path takes these tensors.
fn takes(x: &Tensor<2>, weight: Option<&Tensor<2>>) -> bool {
    // The kernels index values with 32 bits (the GPU's default address width).
    let fits =
        |t: &Tensor<2>| t.dtype() == DType::F32 && t.shape().num_elements() <= u32::MAX as usize;
    fused_on(&x.device()) && fits(x) && weight.is_none_or(fits)
}

/// The fused weighted row sum over `graph`'s edges grouped by target:
/// `out[i, h, :] = Σ_{e : dst[e] = i} w[e, h] · x[i_e, h, :]`, `i_e = src[e]` for
/// `Read::Other`, `e` for `Read::Edge`; `Err(x)` where the kernels do not serve the tensors
/// or `x` does not fit the graph (the caller's portable path then says why).
///
/// # Shapes
/// - `x`: `[N_s or E, H·C]`, `weight`: `[E, H]`; output `[N, H·C]`
pub(crate) fn sum_at_targets(
    x: Tensor<2>,
    weight: Option<&Tensor<2>>,
    graph: &Graph,
    read: Read,
) -> Result<Tensor<2>, Tensor<2>> {
    let heads = weight.map_or(1, |w| w.dims()[1]);
    let [rows, f] = x.dims();
    let adjacency = graph.adjacency();
    let fits = match read {
        Read::Other => adjacency.by_source().rows() <= rows,
        Read::Edge => rows == adjacency.num_edges(),
    };
    if !takes(&x, weight) || !fits || heads == 0 || f % heads != 0 {
        return Err(x);
    }
    let spec = RowSum {
        group: Group::ByTarget,
        read,
        rows: graph.num_nodes(),
        heads,
    };
    Ok(row_sum(x, weight.cloned(), adjacency, spec))
}

/// The fused softmax of per-edge scores over each target's incoming edges, per head;
/// `Err(scores)` where the kernels do not serve them.
///
/// # Shapes
/// - `scores`: `[E, H]`; output `[E, H]`
pub(crate) fn softmax_at_targets(scores: Tensor<2>, graph: &Graph) -> Result<Tensor<2>, Tensor<2>> {
    if !takes(&scores, None) || scores.dims()[0] != graph.num_edges() {
        return Err(scores);
    }
    let out =
        <Dispatch as GraphKernels>::softmax_at_targets(scores.into_dispatch(), graph.adjacency());
    Ok(Tensor::from_dispatch(out))
}

/// Burn's [`Dropout`] layer applied to `x` — inverted dropout, only while training (an
/// autodiff device and the layer's training flag on) — with, where the kernels serve the
/// device ([`fused_on`]), a counter-based mask seeded by one draw from the device's random
/// stream ([`GraphKernels::seeded_dropout`]; a 32-bit hash of each value's index and the seed,
/// the same on the CPU and the GPU):
/// the same distribution as the layer's one Bernoulli sample per value drawn from the device's
/// generator (which took ~30 % of a GCN step on a 10^6-edge graph with dense features), at a
/// fraction of its cost, spread over the cores, bitwise the same for every thread count, and
/// the same again for the same device seed. Elsewhere, the layer itself.
///
/// `out = x ⊙ m / (1 − p)`, `m_i ~ Bernoulli(1 − p)`
///
/// # Shapes
/// - `x`: any; output: the same
pub fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if !layer.training.is_enabled() || !device.is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    // The mask indexes values with 32 bits.
    if !fused_on(&device) || x.dtype() != DType::F32 || x.shape().num_elements() > 1 << 32 {
        return layer.forward(x);
    }
    // Three 30-bit draws (the device's int type may be 32-bit) make a 64-bit seed.
    let draw = Tensor::<1, Int>::random([3], Distribution::Uniform(0.0, 1_073_741_824.0), &device);
    let seed = draw
        .into_data()
        .iter::<i64>()
        .fold(0u64, |seed, v| (seed << 30) ^ v as u64);
    let out = <Dispatch as GraphKernels>::seeded_dropout(x.into_dispatch(), seed, 1.0 - layer.prob);
    Tensor::from_dispatch(out)
}

/// ELU, `x` for `x > 0` and `α (eˣ − 1)` otherwise (Burn's
/// [`elu`](burn::tensor::activation::elu)): one fused pass forward and one backward where the
/// kernels serve the device ([`fused_on`], `f32`), Burn's composition elsewhere.
///
/// # Shapes
/// - `x`: any; output: the same
pub fn elu<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    if !fused_on(&x.device()) || x.dtype() != DType::F32 {
        return burn::tensor::activation::elu(x, alpha);
    }
    Tensor::from_dispatch(<Dispatch as GraphKernels>::elu(
        x.into_dispatch(),
        alpha as f32,
    ))
}

/// Softplus, `ln(1 + eˣ)` (`−log σ(−x)`, Burn's `log_sigmoid(x.neg()).neg()`): one parallel
/// pass forward and one backward where the kernels serve the device ([`fused_on`], `f32`),
/// Burn's composition elsewhere.
///
/// # Shapes
/// - `x`: any; output: the same
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !fused_on(&x.device()) || x.dtype() != DType::F32 {
        return burn::tensor::activation::log_sigmoid(x.neg()).neg();
    }
    Tensor::from_dispatch(<Dispatch as GraphKernels>::softplus(x.into_dispatch()))
}

/// `x W`: Burn's product, with the weight gradient `xᵀ g` computed by the kernels where they
/// serve the device ([`fused_on`], `f32`): on the host, for outputs of at most 64 · 64 values,
/// Burn's product over parts of the rows (fixed by their number) in parallel, added in order —
/// one product over all the rows into so small an output runs on one thread. Burn's product and
/// gradient elsewhere.
///
/// # Shapes
/// - `x`: `[N, K]`, `w`: `[K, M]`; output `[N, M]`
pub fn matmul(x: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
    if !fused_on(&x.device()) || x.dtype() != DType::F32 || w.dtype() != DType::F32 {
        return x.matmul(w);
    }
    let out = <Dispatch as GraphKernels>::matmul(x.into_dispatch(), w.into_dispatch());
    Tensor::from_dispatch(out)
}

/// `y + b` with the bias added to every row, and its gradient `Σ_r g[r]`, in parallel on the
/// host where the kernels serve the device ([`fused_on`], `f32`) — Burn's broadcast add and
/// its reduction run on one thread; Burn's broadcast elsewhere.
///
/// # Shapes
/// - `y`: `[N, M]`, `b`: `[M]`; output `[N, M]`
pub fn add_bias(y: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    if !fused_on(&y.device()) || y.dtype() != DType::F32 || b.dtype() != DType::F32 {
        return y + b.unsqueeze_dim(0);
    }
    let out = <Dispatch as GraphKernels>::add_bias(y.into_dispatch(), b.into_dispatch());
    Tensor::from_dispatch(out)
}

/// [`add_bias`] of a layer's optional bias parameter: `y + b`, or `y` for a layer without one.
///
/// # Shapes
/// - `y`: `[N, M]`, `bias`: `[M]`; output `[N, M]`
pub(crate) fn plus_bias(y: Tensor<2>, bias: Option<&Param<Tensor<1>>>) -> Tensor<2> {
    match bias {
        Some(b) => add_bias(y, b.val()),
        None => y,
    }
}

/// GAT's attention coefficients fused: `softmax_{j → i}(LeakyReLU(a_src[j] + a_dst[i]))` per
/// head, one pass over each target's edges; `Err` with the inputs where the kernels do not
/// serve them or they do not fit the graph.
///
/// # Shapes
/// - `a_src`: `[N_s, H]`, `a_dst`: `[N, H]`; output `[E, H]`
pub(crate) fn attention(
    a_src: Tensor<2>,
    a_dst: Tensor<2>,
    graph: &Graph,
    slope: f32,
) -> Result<Tensor<2>, (Tensor<2>, Tensor<2>)> {
    let adjacency = graph.adjacency();
    let fits = a_src.dims()[1] == a_dst.dims()[1]
        && a_dst.dims()[0] == graph.num_nodes()
        && adjacency.by_source().rows() <= a_src.dims()[0];
    if !fits || !takes(&a_src, Some(&a_dst)) {
        return Err((a_src, a_dst));
    }
    let out = <Dispatch as GraphKernels>::attention(
        a_src.into_dispatch(),
        a_dst.into_dispatch(),
        adjacency,
        slope,
    );
    Ok(Tensor::from_dispatch(out))
}

/// The fused element-wise maximum of per-edge rows at each target (0 for a target without
/// edges; the gradient goes to the first edge attaining the maximum, PyG's `scatter_max`);
/// `Err(x)` where the kernels do not serve it.
///
/// # Shapes
/// - `x`: `[E, F]`; output `[N, F]`
pub(crate) fn max_at_targets(x: Tensor<2>, graph: &Graph) -> Result<Tensor<2>, Tensor<2>> {
    if !takes(&x, None) || x.dims()[0] != graph.num_edges() {
        return Err(x);
    }
    let out = <Dispatch as GraphKernels>::max_at_targets(x.into_dispatch(), graph.adjacency());
    Ok(Tensor::from_dispatch(out))
}

/// [`GraphKernels`] through Burn's dispatch.
fn row_sum(
    x: Tensor<2>,
    weight: Option<Tensor<2>>,
    adjacency: Arc<Adjacency>,
    spec: RowSum,
) -> Tensor<2> {
    let out = match weight {
        None => <Dispatch as GraphKernels>::row_sum(x.into_dispatch(), adjacency, spec),
        Some(w) => <Dispatch as GraphKernels>::weighted_row_sum(
            x.into_dispatch(),
            w.into_dispatch(),
            adjacency,
            spec,
        ),
    };
    Tensor::from_dispatch(out)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Int, TensorData};

    use super::*;
    use crate::message_passing::{
        Aggregation, aggregate, aggregate_sources, gather_src, propagate_heads, propagate_weighted,
        segment_mean, segment_sum,
    };
    use crate::testing::*;

    /// A random multigraph on `n` nodes: repeated edges, loops, empty rows, and a hub
    /// (node 0) that receives `hub` extra edges.
    fn random_graph(n: usize, e: usize, hub: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let r = seeded_values(2 * e, seed);
        // Only the first n/2 nodes ever receive, so the rest are empty rows.
        let pick = |v: f32, m: usize| (((v + 1.0) * 0.5 * m as f32) as usize).min(m - 1);
        let mut src: Vec<usize> = (0..e).map(|k| pick(r[k], n)).collect();
        let mut dst: Vec<usize> = (0..e).map(|k| pick(r[e + k], n / 2)).collect();
        src.extend((0..hub).map(|k| k % n));
        dst.extend(std::iter::repeat_n(0, hub));
        (src, dst)
    }

    /// The portable compositions the kernels replace (what every backend ran before).
    fn reference(op: &str, x: Tensor<2>, w: Option<Tensor<2>>, g: &Graph) -> Tensor<2> {
        let n = g.num_nodes();
        match op {
            "sum" => segment_sum(x, g.dst(), n),
            "mean" => segment_mean(x, g.dst(), n),
            "sources-sum" => segment_sum(gather_src(x, g), g.dst(), n),
            "sources-mean" => segment_mean(gather_src(x, g), g.dst(), n),
            "softmax" => crate::message_passing::segment_softmax(x, g.dst(), n),
            "max" => crate::message_passing::segment_max(x, g.dst(), n),
            "min" => crate::message_passing::segment_min(x, g.dst(), n),
            "weighted" | "heads" => {
                let w = w.expect("weights");
                let heads = w.dims()[1];
                let [rows, f] = x.dims();
                let m = gather_src(x.reshape([rows, heads, f / heads]), g) * w.unsqueeze_dim(2);
                segment_sum(m, g.dst(), n).reshape([n, f])
            }
            _ => unreachable!(),
        }
    }

    /// The same through the public primitives (fused where the device allows).
    fn fused(op: &str, x: Tensor<2>, w: Option<Tensor<2>>, g: &Graph) -> Tensor<2> {
        let n = g.num_nodes();
        match op {
            "sum" => aggregate(x, g, Aggregation::Sum),
            "mean" => aggregate(x, g, Aggregation::Mean),
            "sources-sum" => aggregate_sources(x, g, Aggregation::Sum),
            "sources-mean" => aggregate_sources(x, g, Aggregation::Mean),
            "softmax" => crate::message_passing::softmax_at_targets(x, g),
            "max" => aggregate(x, g, Aggregation::Max),
            "min" => aggregate(x, g, Aggregation::Min),
            "weighted" => {
                let w = w.expect("weights").reshape([g.num_edges()]);
                propagate_weighted(x, &g.clone().with_edge_weight(w).unwrap())
            }
            "heads" => {
                let w = w.expect("weights");
                let [rows, f] = x.dims();
                let heads = w.dims()[1];
                propagate_heads(x.reshape([rows, heads, f / heads]), w, g).reshape([n, f])
            }
            _ => unreachable!(),
        }
    }

    /// `(op, input rows per edge?, heads of the weights)`.
    const OPS: [(&str, bool, usize); 9] = [
        ("softmax", true, 0),
        ("max", true, 0),
        ("min", true, 0),
        ("sum", true, 0),
        ("mean", true, 0),
        ("sources-sum", false, 0),
        ("sources-mean", false, 0),
        ("weighted", false, 1),
        ("heads", false, 3),
    ];

    fn case(op: (&str, bool, usize), n: usize, src: &[usize], dst: &[usize], device: &Device) {
        let (name, per_edge, heads) = op;
        let g = Graph::new(src, dst, n, device).unwrap();
        let (e, f) = (src.len(), 6);
        let rows = if per_edge { e } else { n };
        let x = seeded_values(rows * f, 21);
        let w = seeded_values(e * heads.max(1), 22);
        let make = |d: &Device| {
            let x = tensor2(&x, [rows, f], d);
            let w = (heads > 0).then(|| tensor2(&w, [e, heads], d));
            (x, w)
        };
        // Forward, on the device itself.
        let (xa, wa) = make(device);
        let (xb, wb) = make(device);
        assert!(fused_on(device));
        let read = if per_edge { Read::Edge } else { Read::Other };
        let (xc, wc) = make(device);
        assert!(
            sum_at_targets(xc, wc.as_ref(), &g, read).is_ok(),
            "{name}: fused path taken"
        );
        let got = to_vec(fused(name, xa, wa, &g));
        assert_close(&got, &to_vec(reference(name, xb, wb, &g)), 1e-5, name);
        // Gradients of both inputs under autodiff against the portable path's.
        let auto = device.clone().autodiff();
        let ga = g.to_device(&auto);
        let out_rows = if name == "softmax" { e } else { n };
        let r = tensor2(&seeded_values(out_rows * f, 23), [out_rows, f], &auto);
        let grads = |reference_path: bool| {
            let (x, w) = make(&auto);
            let x = x.require_grad();
            let w = w.map(|w| w.require_grad());
            let out = match reference_path {
                true => super::tests::reference(name, x.clone(), w.clone(), &ga),
                false => fused(name, x.clone(), w.clone(), &ga),
            };
            let grads = (out * r.clone()).sum().backward();
            let gw = w.map(|w| to_vec(w.grad(&grads).expect("weight gradient")));
            (to_vec(x.grad(&grads).expect("input gradient")), gw)
        };
        let ((fx, fw), (rx, rw)) = (grads(false), grads(true));
        assert_close(&fx, &rx, 1e-5, &format!("{name}: ∂x"));
        if let (Some(fw), Some(rw)) = (fw, rw) {
            assert_close(&fw, &rw, 1e-5, &format!("{name}: ∂w"));
        }
    }

    #[test]
    fn fused_ops_match_the_portable_path_forward_and_backward() {
        let (n, e) = (40, 300);
        let (src, dst) = random_graph(n, e, 0, 1);
        for device in kernel_devices() {
            for op in OPS {
                case(op, n, &src, &dst, &device);
            }
        }
    }

    #[test]
    fn a_hub_of_ten_thousand_in_edges() {
        let (src, dst) = random_graph(64, 100, 10_000, 2);
        for device in std::iter::once(Device::flex()).chain(gpu_devices()) {
            for op in OPS {
                case(op, 64, &src, &dst, &device);
            }
        }
    }

    #[test]
    fn fused_attention_matches_the_portable_composition() {
        use crate::message_passing::{attention_coefficients, gather_rows};
        // 30 sources into 20 targets (a bipartite block), with a hub and repeated edges.
        let (src, dst) = random_graph(30, 200, 500, 11);
        let dst: Vec<usize> = dst.iter().map(|&t| t % 20).collect();
        let heads = 3;
        let (s_vals, d_vals) = (seeded_values(30 * heads, 12), seeded_values(20 * heads, 13));
        let reference = |a_src: Tensor<2>, a_dst: Tensor<2>, g: &Graph| {
            let scores = gather_src(a_src, g) + gather_rows(a_dst, g.dst());
            let logits = burn::tensor::activation::leaky_relu(scores, 0.2);
            crate::message_passing::segment_softmax(logits, g.dst(), g.num_nodes())
        };
        for device in kernel_devices() {
            let auto = device.autodiff();
            let g = Graph::from_checked(&src, &dst, 20, &auto);
            let r = tensor2(
                &seeded_values(src.len() * heads, 14),
                [src.len(), heads],
                &auto,
            );
            let run = |fused: bool| {
                let a_src = tensor2(&s_vals, [30, heads], &auto).require_grad();
                let a_dst = tensor2(&d_vals, [20, heads], &auto).require_grad();
                if fused {
                    let (s, d) = (a_src.clone(), a_dst.clone());
                    assert!(attention(s, d, &g, 0.2).is_ok(), "fused path taken");
                }
                let alpha = match fused {
                    true => attention_coefficients(a_src.clone(), a_dst.clone(), &g, 0.2),
                    false => reference(a_src.clone(), a_dst.clone(), &g),
                };
                let grads = (alpha.clone() * r.clone()).sum().backward();
                let grad = |t: &Tensor<2>| to_vec(t.grad(&grads).expect("gradient"));
                (to_vec(alpha), grad(&a_src), grad(&a_dst))
            };
            let (fused, portable) = (run(true), run(false));
            assert_close(&fused.0, &portable.0, 1e-5, "α");
            assert_close(&fused.1, &portable.1, 1e-5, "∂a_src");
            assert_close(&fused.2, &portable.2, 1e-5, "∂a_dst");
        }
    }

    #[test]
    fn max_gives_the_gradient_to_the_first_edge_attaining_it() {
        for device in kernel_devices() {
            let d = device.clone().autodiff();
            // Target 0 receives messages 1, 3, 3, 2 (3.0 on edges 1 and 2); the others nothing.
            let g = Graph::new(&[2, 3, 0, 1], &[0, 0, 0, 0], 4, &d).unwrap();
            let x = tensor2(&[1.0, 3.0, 3.0, 2.0], [4, 1], &d).require_grad();
            let out = aggregate(x.clone(), &g, Aggregation::Max);
            assert_eq!(to_vec(out.clone()), vec![3.0, 0.0, 0.0, 0.0], "{device:?}");
            let grads = out.sum().backward();
            let grad = to_vec(x.grad(&grads).unwrap());
            assert_eq!(grad, vec![0.0, 1.0, 0.0, 0.0], "{device:?}");
        }
    }

    #[test]
    fn edgeless_graphs_give_zeros() {
        for d in kernel_devices() {
            let g = Graph::new(&[], &[], 3, &d).unwrap();
            let x = tensor2(&seeded_values(6, 3), [3, 2], &d);
            assert_eq!(
                to_vec(aggregate_sources(x.clone(), &g, Aggregation::Mean)),
                vec![0.0; 6],
                "{d:?}"
            );
            assert_eq!(
                to_vec(aggregate_sources(x, &g, Aggregation::Max)),
                vec![0.0; 6],
                "{d:?}"
            );
        }
    }

    #[test]
    fn fused_gradients_match_finite_differences() {
        let (src, dst) = random_graph(8, 30, 5, 3);
        let d = Device::flex();
        let g = Graph::new(&src, &dst, 8, &d).unwrap();
        let x = seeded_values(8 * 3, 4);
        let scores: Vec<f32> = seeded_values(src.len() * 2, 9)
            .iter()
            .map(|v| v * 30.0)
            .collect();
        check_gradient("softmax", &scores, [src.len(), 2], |s| {
            crate::message_passing::softmax_at_targets(s.clone(), &g.to_device(&s.device()))
        });
        let a_dst = seeded_values(8 * 2, 10);
        check_gradient(
            "attention: ∂a_src",
            &seeded_values(8 * 2, 11),
            [8, 2],
            |a| {
                let dev = a.device();
                let a_dst = tensor2(&a_dst, [8, 2], &dev);
                crate::message_passing::attention_coefficients(a, a_dst, &g.to_device(&dev), 0.2)
            },
        );
        check_gradient("sources-mean", &x, [8, 3], |x| {
            aggregate_sources(x.clone(), &g.to_device(&x.device()), Aggregation::Mean)
        });
        let w = seeded_values(src.len() * 2, 5);
        let h = tensor2(&seeded_values(8 * 4, 6), [8, 4], &d);
        check_gradient("heads: ∂α", &w, [src.len(), 2], |w| {
            let dev = w.device();
            propagate_heads(
                h.clone().to_device(&dev).reshape([8, 2, 2]),
                w,
                &g.to_device(&dev),
            )
            .reshape([8, 4])
        });
    }

    #[test]
    fn bitwise_equal_across_thread_counts_and_runs() {
        let (src, dst) = random_graph(2000, 40_000, 3000, 7);
        let d = Device::flex().autodiff();
        let g = Graph::new(&src, &dst, 2000, &d).unwrap();
        let x = seeded_values(2000 * 32, 8);
        let run = || {
            let x = tensor2(&x, [2000, 32], &d).require_grad();
            let out = propagate_weighted(x.clone(), &g);
            let grads = (out.clone() * out.clone()).sum().backward();
            let bits = |t: Tensor<2>| -> Vec<u32> {
                t.into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
                    .into_iter()
                    .map(f32::to_bits)
                    .collect()
            };
            (bits(out), bits(x.grad(&grads).unwrap()))
        };
        let one = pool(1).install(run);
        assert_eq!(one, pool(1).install(run), "two runs");
        assert_eq!(one, pool(2).install(run), "1 and 2 threads");
        assert_eq!(one, pool(4).install(run), "1 and 4 threads");
    }

    #[test]
    fn fused_elu_matches_burns_forward_and_backward() {
        // Values on both sides of 0, and 0 itself (the negative branch, slope α there).
        let mut v: Vec<f32> = seeded_values(300, 31).iter().map(|x| 4.0 * x).collect();
        v[7] = 0.0;
        for device in kernel_devices() {
            let d = device.clone().autodiff();
            let r = tensor2(&seeded_values(300, 32), [30, 10], &d);
            let run = |fused: bool| {
                let x = tensor2(&v, [30, 10], &d).require_grad();
                let y = match fused {
                    true => elu(x.clone(), 0.7),
                    false => burn::tensor::activation::elu(x.clone(), 0.7),
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                (to_vec(y), to_vec(x.grad(&grads).unwrap()))
            };
            let ((y, g), (y_ref, g_ref)) = (run(true), run(false));
            assert_close(&y, &y_ref, 1e-6, &format!("{device:?}: elu"));
            assert_close(&g, &g_ref, 1e-6, &format!("{device:?}: ∂elu"));
        }
        check_gradient("elu", &seeded_values(24, 33), [4, 6], |x| elu(x, 1.0));
    }

    #[test]
    fn fused_softplus_matches_burns_forward_and_backward() {
        // Both sides of 0, 0 itself, and magnitudes where e^x overflows or vanishes.
        let mut v: Vec<f32> = seeded_values(300, 34).iter().map(|x| 8.0 * x).collect();
        v[3] = 0.0;
        v[4] = 95.0;
        v[5] = -95.0;
        for device in kernel_devices() {
            let d = device.clone().autodiff();
            let r = tensor2(&seeded_values(300, 35), [30, 10], &d);
            let run = |fused: bool| {
                let x = tensor2(&v, [30, 10], &d).require_grad();
                let y = match fused {
                    true => softplus(x.clone()),
                    false => burn::tensor::activation::log_sigmoid(x.clone().neg()).neg(),
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                (to_vec(y), to_vec(x.grad(&grads).unwrap()))
            };
            let ((y, g), (y_ref, g_ref)) = (run(true), run(false));
            assert_close(&y, &y_ref, 1e-6, &format!("{device:?}: softplus"));
            assert_close(&g, &g_ref, 1e-6, &format!("{device:?}: ∂softplus"));
            assert!(
                y.iter().chain(&g).all(|v| v.is_finite()),
                "{device:?}: finite"
            );
            assert_eq!(y[4], 95.0, "{device:?}: softplus(95)");
        }
        check_gradient("softplus", &seeded_values(24, 36), [4, 6], softplus);
    }

    #[test]
    fn fused_dense_layer_matches_burns_forward_and_backward() {
        // 20,000 rows: the weight and bias gradients are summed in three parts.
        let (n, k, m) = (20_000, 9, 7);
        let (xv, wv, bv) = (
            seeded_values(n * k, 41),
            seeded_values(k * m, 42),
            seeded_values(m, 43),
        );
        for device in kernel_devices() {
            let d = device.clone().autodiff();
            let r = tensor2(&seeded_values(n * m, 44), [n, m], &d);
            let run = |fused: bool| {
                let x = tensor2(&xv, [n, k], &d).require_grad();
                let w = tensor2(&wv, [k, m], &d).require_grad();
                let b = tensor1(&bv, &d).require_grad();
                let y = match fused {
                    true => add_bias(matmul(x.clone(), w.clone()), b.clone()),
                    false => x.clone().matmul(w.clone()) + b.clone().unsqueeze_dim(0),
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                let (dx, dw) = (x.grad(&grads).unwrap(), w.grad(&grads).unwrap());
                let db = b.grad(&grads).unwrap().into_data();
                [
                    to_vec(y),
                    to_vec(dx),
                    to_vec(dw),
                    db.try_to_vec::<f32>().unwrap(),
                ]
            };
            let (got, want) = (run(true), run(false));
            for (what, (a, b)) in ["y", "∂x", "∂W", "∂b"].iter().zip(got.iter().zip(&want)) {
                assert_close(a, b, 1e-5, &format!("{device:?}: {what}"));
            }
        }
        let w = seeded_values(4 * 3, 45);
        check_gradient("matmul: ∂x", &seeded_values(5 * 4, 46), [5, 4], |x| {
            let w = tensor2(&w, [4, 3], &x.device());
            matmul(x, w)
        });
        let x = seeded_values(5 * 4, 47);
        check_gradient("matmul: ∂W", &w, [4, 3], |w| {
            matmul(tensor2(&x, [5, 4], &w.device()), w)
        });
        check_gradient("bias: ∂b", &seeded_values(3, 48), [1, 3], |b| {
            let y = tensor2(&seeded_values(6 * 3, 49), [6, 3], &b.device());
            add_bias(y, b.reshape([3]))
        });
        check_gradient("bias: ∂y", &seeded_values(6 * 3, 49), [6, 3], |y| {
            let b = tensor1(&seeded_values(3, 48), &y.device());
            add_bias(y, b)
        });
    }

    #[test]
    fn dense_layer_gradients_are_bitwise_equal_for_any_thread_count() {
        let (n, k, m) = (50_000, 12, 16);
        let (xv, gv) = (seeded_values(n * k, 48), seeded_values(n * m, 49));
        let d = Device::flex().autodiff();
        let run = || {
            let x = tensor2(&xv, [n, k], &d);
            let w = tensor2(&seeded_values(k * m, 50), [k, m], &d).require_grad();
            let b = Tensor::<1>::zeros([m], &d).require_grad();
            let y = add_bias(matmul(x, w.clone()), b.clone());
            let grads = (y * tensor2(&gv, [n, m], &d)).sum().backward();
            let mut values = to_vec(w.grad(&grads).unwrap());
            values.extend(b.grad(&grads).unwrap().into_data().iter::<f32>());
            values.into_iter().map(f32::to_bits).collect::<Vec<_>>()
        };
        let one = pool(1).install(run);
        for threads in [2, 3] {
            assert_eq!(one, pool(threads).install(run), "1 and {threads} threads");
        }
    }

    #[test]
    fn gpu_kernels_repeat_bitwise() {
        // Every output value has one writer summing in edge order: two runs give the same bits
        // (Burn's portable scatter adds with float atomics in no fixed order).
        let (src, dst) = random_graph(500, 5000, 2000, 17);
        let x = seeded_values(500 * 16, 18);
        let a = seeded_values(500 * 2, 19);
        for device in gpu_devices() {
            let d = device.clone().autodiff();
            let g = Graph::new(&src, &dst, 500, &d).unwrap();
            let run = || {
                let x = tensor2(&x, [500, 16], &d).require_grad();
                let a_src = tensor2(&a, [500, 2], &d).require_grad();
                let alpha = crate::message_passing::attention_coefficients(
                    a_src.clone(),
                    a_src.clone() * 0.5,
                    &g,
                    0.2,
                );
                let out = propagate_heads(x.clone().reshape([500, 2, 8]), alpha, &g);
                let out = propagate_weighted(out.reshape([500, 16]), &g);
                let grads = (out.clone() * out.clone()).sum().backward();
                let bits = |t: Tensor<2>| -> Vec<u32> {
                    let values = t.into_data().try_to_vec::<f32>().unwrap();
                    values.into_iter().map(f32::to_bits).collect()
                };
                let (gx, ga) = (x.grad(&grads).unwrap(), a_src.grad(&grads).unwrap());
                (bits(out), bits(gx), bits(ga))
            };
            let first = run();
            assert!(first.0.iter().any(|&b| b != 0), "a non-zero output");
            assert_eq!(first, run(), "{device:?}: two runs");
        }
    }

    #[test]
    fn dropout_backward_reuses_the_forward_mask_and_follows_the_device_seed() {
        for device in kernel_devices() {
            dropout_case(device.autodiff());
        }
    }

    #[test]
    fn the_same_seed_drops_the_same_values_on_every_device() {
        // The host's mask and the GPU kernel's are one hash: bitwise the same output.
        let x = seeded_values(400 * 100, 51);
        let masked = |device: &Device| {
            let x = tensor2(&x, [400, 100], device).into_dispatch();
            let seed = 0xDEAD_BEEF_0123_4567;
            let out: Tensor<2> =
                Tensor::from_dispatch(<Dispatch as GraphKernels>::seeded_dropout(x, seed, 0.35));
            let values = out.into_data().try_to_vec::<f32>().unwrap();
            values.into_iter().map(f32::to_bits).collect::<Vec<_>>()
        };
        let devices = kernel_devices();
        let first = masked(&devices[0]);
        let kept = first.iter().filter(|&&b| b != 0).count() as f64 / first.len() as f64;
        assert!((kept - 0.35).abs() < 0.01, "kept {kept}");
        for device in &devices[1..] {
            assert_eq!(masked(device), first, "{device:?} against {:?}", devices[0]);
        }
    }

    fn dropout_case(d: Device) {
        let layer = burn::nn::DropoutConfig::new(0.4).init();
        let run = |seed| {
            d.seed(seed);
            let x = Tensor::<2>::ones([60, 50], &d).require_grad();
            let out = dropout(&layer, x.clone());
            let grads = out.clone().sum().backward();
            (to_vec(out), to_vec(x.grad(&grads).unwrap()))
        };
        let (out, grad) = run(7);
        // For x = 1, ∂(Σ out)/∂x is the mask over (1 − p): the output itself.
        assert_eq!(out, grad);
        let kept = out.iter().filter(|&&v| v != 0.0).count() as f64 / out.len() as f64;
        assert!((kept - 0.6).abs() < 0.05, "kept {kept}");
        assert!(
            out.iter()
                .all(|&v| v == 0.0 || (v - 1.0 / 0.6).abs() < 1e-6)
        );
        assert_eq!(run(7).0, out, "same device seed, same mask");
        assert_ne!(run(8).0, out, "another seed, another mask");
        // Not training: the identity.
        let plain = Tensor::<2>::ones([3, 3], &Device::flex());
        assert_eq!(to_vec(dropout(&layer, plain)), vec![1.0; 9]);
    }

    #[test]
    fn expanded_index_views_scatter_to_their_rows() {
        // Regression for the aliasing others hit: an index made by `unsqueeze` + `repeat_dim`
        // (a stride-0 view) must still send update k to row ids[k], not every update to row 0.
        for device in cpu_devices() {
            let ids = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 0, 1], [3]), &device);
            let index = ids.unsqueeze_dim::<2>(1).repeat_dim(1, 4);
            let values = Tensor::<2>::ones([3, 4], &device);
            let out = Tensor::<2>::zeros([3, 4], &device).scatter(
                0,
                index,
                values,
                burn::tensor::IndexingUpdateOp::Add,
            );
            assert_eq!(to_vec(out), vec![1.0; 12], "{device:?}");
        }
    }
}
