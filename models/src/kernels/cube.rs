//! [`KernelDevice`] on the GPU: CubeCL kernels for every CubeCL runtime Burn serves (wgpu,
//! cuda, …), one thread per output value, each a serial loop over its row's edges in edge
//! order. No atomics: every output value has exactly one writer, so results are the same on
//! every run — what Burn's `scatter` (float atomics) cannot promise.
//!
//! A graph's groupings go to the device once, on first use, and stay with the graph
//! ([`Adjacency::device_copy`]).

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::ops::{FloatTensorOps, IntTensorOps};
use burn::backend::{DType, Shape, TensorData};
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::cubecl::{CubeDim, calculate_cube_count_elemwise};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{CubeBackend, CubeDevice};
use cubecl::cube;

use super::backend::{Group, RowSum};
use super::csr::Adjacency;
use super::device::{KernelDevice, endpoints, grouping};
use super::host::Read;

/// `out[r, c] = Σ_{k in row r} w[edge_k, c / (F / H)] · x[index_k, c]`, zero for rows past
/// the grouping's (`csr_rows`); `w` is read only when `weighted`.
#[cube(launch)]
fn row_sum_kernel<F: Float, I: Int>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    offsets: &Tensor<I>,
    index: &Tensor<I>,
    edge: &Tensor<I>,
    out: &mut Tensor<F>,
    len: usize,
    csr_rows: usize,
    f: usize,
    heads: usize,
    #[comptime] weighted: bool,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let r = ABSOLUTE_POS / f;
    let c = ABSOLUTE_POS % f;
    let width = f / heads;
    let mut acc = F::new(0.0);
    if r < csr_rows {
        let start = usize::cast_from(offsets[r]);
        let end = usize::cast_from(offsets[r + 1]);
        for k in start..end {
            let v = x[usize::cast_from(index[k]) * f + c];
            if weighted {
                acc += w[usize::cast_from(edge[k]) * heads + c / width] * v;
            } else {
                acc += v;
            }
        }
    }
    out[ABSOLUTE_POS] = acc;
}

/// `out[e, c] = w[e, c / (F / H)] · g[rows_e, c]` (`w` read only when `weighted`).
#[cube(launch)]
fn edge_rows_kernel<F: Float, I: Int>(
    g: &Tensor<F>,
    w: &Tensor<F>,
    rows: &Tensor<I>,
    out: &mut Tensor<F>,
    len: usize,
    f: usize,
    heads: usize,
    #[comptime] weighted: bool,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let e = ABSOLUTE_POS / f;
    let c = ABSOLUTE_POS % f;
    let v = g[usize::cast_from(rows[e]) * f + c];
    if weighted {
        out[ABSOLUTE_POS] = w[e * heads + c / (f / heads)] * v;
    } else {
        out[ABSOLUTE_POS] = v;
    }
}

/// `out[e, h] = Σ_{c < C} g[rows_e, h C + c] · x[j_e, h C + c]`, `j_e = other_e` when
/// `gather`, else `e`.
#[cube(launch)]
fn edge_dots_kernel<F: Float, I: Int>(
    g: &Tensor<F>,
    rows: &Tensor<I>,
    x: &Tensor<F>,
    other: &Tensor<I>,
    out: &mut Tensor<F>,
    len: usize,
    f: usize,
    heads: usize,
    #[comptime] gather: bool,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let e = ABSOLUTE_POS / heads;
    let h = ABSOLUTE_POS % heads;
    let width = f / heads;
    let i = usize::cast_from(rows[e]);
    let mut j = e;
    if gather {
        j = usize::cast_from(other[e]);
    }
    let mut acc = F::new(0.0);
    for c in 0..width {
        acc += g[i * f + h * width + c] * x[j * f + h * width + c];
    }
    out[ABSOLUTE_POS] = acc;
}

/// The pre-activation score of slot `k` of target `r`, head `h`: `scores[edge_k, h]`, or with
/// `attention` `LeakyReLU(a_src[other_k, h] + a_dst[r, h])`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn score<F: Float, I: Int>(
    scores: &Tensor<F>,
    a_dst: &Tensor<F>,
    other: &Tensor<I>,
    edge: &Tensor<I>,
    k: usize,
    r: usize,
    h: usize,
    heads: usize,
    slope: F,
    #[comptime] attention: bool,
) -> F {
    if attention {
        let z = scores[usize::cast_from(other[k]) * heads + h] + a_dst[r * heads + h];
        if z > F::new(0.0) { z } else { z * slope }
    } else {
        scores[usize::cast_from(edge[k]) * heads + h]
    }
}

/// Softmax over each target's slots, per head: one thread per `(target, head)`, stabilised by
/// the row's maximum; with `attention` the scores are GAT's ([`score`]).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn softmax_kernel<F: Float, I: Int>(
    scores: &Tensor<F>,
    a_dst: &Tensor<F>,
    offsets: &Tensor<I>,
    other: &Tensor<I>,
    edge: &Tensor<I>,
    out: &mut Tensor<F>,
    len: usize,
    heads: usize,
    slope: f32,
    #[comptime] attention: bool,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let r = ABSOLUTE_POS / heads;
    let h = ABSOLUTE_POS % heads;
    let slope = F::cast_from(slope);
    let start = usize::cast_from(offsets[r]);
    let end = usize::cast_from(offsets[r + 1]);
    if start < end {
        let mut m = score::<F, I>(
            scores, a_dst, other, edge, start, r, h, heads, slope, attention,
        );
        for k in start + 1..end {
            let s = score::<F, I>(scores, a_dst, other, edge, k, r, h, heads, slope, attention);
            if s > m {
                m = s;
            }
        }
        let mut z = F::new(0.0);
        for k in start..end {
            let v = (score::<F, I>(scores, a_dst, other, edge, k, r, h, heads, slope, attention)
                - m)
                .exp();
            out[usize::cast_from(edge[k]) * heads + h] = v;
            z += v;
        }
        for k in start..end {
            let at = usize::cast_from(edge[k]) * heads + h;
            out[at] /= z;
        }
    }
}

/// The softmax's backward pass at each target's slots, per head:
/// `out = s' · y (g − Σ_row y g)`, `s'` the LeakyReLU slope of GAT's score when `attention`
/// (else 1).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn softmax_backward_kernel<F: Float, I: Int>(
    y: &Tensor<F>,
    g: &Tensor<F>,
    a_src: &Tensor<F>,
    a_dst: &Tensor<F>,
    offsets: &Tensor<I>,
    other: &Tensor<I>,
    edge: &Tensor<I>,
    out: &mut Tensor<F>,
    len: usize,
    heads: usize,
    slope: f32,
    #[comptime] attention: bool,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let r = ABSOLUTE_POS / heads;
    let h = ABSOLUTE_POS % heads;
    let start = usize::cast_from(offsets[r]);
    let end = usize::cast_from(offsets[r + 1]);
    let mut dot = F::new(0.0);
    for k in start..end {
        let at = usize::cast_from(edge[k]) * heads + h;
        dot += y[at] * g[at];
    }
    for k in start..end {
        let at = usize::cast_from(edge[k]) * heads + h;
        let mut d = y[at] * (g[at] - dot);
        if attention {
            let z = a_src[usize::cast_from(other[k]) * heads + h] + a_dst[r * heads + h];
            if z <= F::new(0.0) {
                d *= F::cast_from(slope);
            }
        }
        out[at] = d;
    }
}

/// The maximum of per-edge rows at each target and the first edge attaining it (`none` — the
/// edge count — and 0 for a target without edges).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn max_kernel<F: Float, I: Int>(
    x: &Tensor<F>,
    offsets: &Tensor<I>,
    edge: &Tensor<I>,
    out: &mut Tensor<F>,
    winner: &mut Tensor<I>,
    len: usize,
    csr_rows: usize,
    f: usize,
    none: usize,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let r = ABSOLUTE_POS / f;
    let c = ABSOLUTE_POS % f;
    let mut best = F::new(0.0);
    let mut win = none;
    if r < csr_rows {
        let start = usize::cast_from(offsets[r]);
        let end = usize::cast_from(offsets[r + 1]);
        for k in start..end {
            let e = usize::cast_from(edge[k]);
            let v = x[e * f + c];
            if win == none || v > best {
                best = v;
                win = e;
            }
        }
    }
    out[ABSOLUTE_POS] = best;
    winner[ABSOLUTE_POS] = I::cast_from(win);
}

/// `out[e, c] = g[dst_e, c]` where `e` won `(dst_e, c)`, else 0.
#[cube(launch)]
fn max_backward_kernel<F: Float, I: Int>(
    g: &Tensor<F>,
    winner: &Tensor<I>,
    dst: &Tensor<I>,
    out: &mut Tensor<F>,
    len: usize,
    f: usize,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let e = ABSOLUTE_POS / f;
    let c = ABSOLUTE_POS % f;
    let at = usize::cast_from(dst[e]) * f + c;
    if usize::cast_from(winner[at]) == e {
        out[ABSOLUTE_POS] = g[at];
    } else {
        out[ABSOLUTE_POS] = F::new(0.0);
    }
}

/// A 32-bit integer hash (two multiply-xorshift rounds; the host's `mix`, so the CPU and the
/// GPU draw the same dropout masks).
#[cube]
fn mix(x: u32) -> u32 {
    let mut x = x;
    x ^= x >> 16;
    x *= 0x7feb_352d;
    x ^= x >> 15;
    x *= 0x846c_a68b;
    x ^= x >> 16;
    x
}

/// Inverted dropout: value `p` is kept when the hash of `(p, seed)` is below `threshold`.
#[cube(launch)]
fn dropout_kernel<F: Float>(
    x: &Tensor<F>,
    out: &mut Tensor<F>,
    len: usize,
    seed_lo: u32,
    seed_hi: u32,
    threshold: u32,
    scale: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let h = mix(mix(u32::cast_from(ABSOLUTE_POS) ^ seed_lo) ^ seed_hi);
    if h < threshold {
        out[ABSOLUTE_POS] = x[ABSOLUTE_POS] * F::cast_from(scale);
    } else {
        out[ABSOLUTE_POS] = F::new(0.0);
    }
}

/// ELU: `x` for `x > 0`, `α (eˣ − 1)` otherwise.
#[cube(launch)]
fn elu_kernel<F: Float>(
    x: &Tensor<F>,
    out: &mut Tensor<F>,
    len: usize,
    alpha: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let v = x[ABSOLUTE_POS];
    if v > F::new(0.0) {
        out[ABSOLUTE_POS] = v;
    } else {
        out[ABSOLUTE_POS] = F::cast_from(alpha) * (v.exp() - F::new(1.0));
    }
}

/// `ln(1 + eˣ)` as `max(x, 0) + ln(1 + e^{−|x|})`.
#[cube(launch)]
fn softplus_kernel<F: Float>(
    x: &Tensor<F>,
    out: &mut Tensor<F>,
    len: usize,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let v = x[ABSOLUTE_POS];
    let tail = (F::new(1.0) + (F::new(0.0) - v.abs()).exp()).ln();
    if v > F::new(0.0) {
        out[ABSOLUTE_POS] = v + tail;
    } else {
        out[ABSOLUTE_POS] = tail;
    }
}

/// Softplus's gradient from its input: `g σ(x)`, from `e^{−|x|}` on either side of 0.
#[cube(launch)]
fn softplus_backward_kernel<F: Float>(
    x: &Tensor<F>,
    g: &Tensor<F>,
    out: &mut Tensor<F>,
    len: usize,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let v = x[ABSOLUTE_POS];
    let e = (F::new(0.0) - v.abs()).exp();
    if v >= F::new(0.0) {
        out[ABSOLUTE_POS] = g[ABSOLUTE_POS] / (F::new(1.0) + e);
    } else {
        out[ABSOLUTE_POS] = g[ABSOLUTE_POS] * e / (F::new(1.0) + e);
    }
}

/// ELU's gradient from its output: `g` where `y > 0`, else `g (y + α)`.
#[cube(launch)]
fn elu_backward_kernel<F: Float>(
    y: &Tensor<F>,
    g: &Tensor<F>,
    out: &mut Tensor<F>,
    len: usize,
    alpha: f32,
    #[define(F)] _dtype: ElemType,
) {
    if ABSOLUTE_POS >= len {
        terminate!();
    }
    let v = y[ABSOLUTE_POS];
    if v > F::new(0.0) {
        out[ABSOLUTE_POS] = g[ABSOLUTE_POS];
    } else {
        out[ABSOLUTE_POS] = g[ABSOLUTE_POS] * (v + F::cast_from(alpha));
    }
}

/// One grouping of a graph's edges in a device's memory (`u32` values).
#[derive(Debug)]
struct DeviceCsr {
    device: CubeDevice,
    group: Group,
    /// `[R + 1]` row starts.
    offsets: CubeTensor,
    /// `[E]` other endpoint of each slot.
    other: CubeTensor,
    /// `[E]` edge id of each slot.
    edge: CubeTensor,
    /// `[E]` grouping endpoint (row) of each edge, in edge order.
    rows_of_edge: CubeTensor,
    /// `[E]` other endpoint of each edge, in edge order.
    other_of_edge: CubeTensor,
    /// `R`.
    rows: usize,
}

fn upload(values: Vec<u32>, device: &CubeDevice) -> CubeTensor {
    let n = values.len();
    CubeBackend::int_from_data(TensorData::new(values, [n]), device)
}

/// `group` of `adjacency` on `device`, uploaded on first use.
fn device_csr(
    adjacency: &Adjacency,
    group: Group,
    device: &CubeDevice,
) -> std::sync::Arc<DeviceCsr> {
    adjacency.device_copy(
        |c: &DeviceCsr| c.group == group && &c.device == device,
        || {
            let csr = grouping(adjacency, group);
            let (rows_of_edge, other_of_edge) = endpoints(adjacency, group);
            let offsets = (0..=csr.rows())
                .map(|r| {
                    if r < csr.rows() {
                        csr.row(r).start
                    } else {
                        csr.other().len()
                    }
                })
                .map(|o| o as u32)
                .collect();
            DeviceCsr {
                device: device.clone(),
                group,
                offsets: upload(offsets, device),
                other: upload(csr.other().to_vec(), device),
                edge: upload(csr.edge().to_vec(), device),
                rows_of_edge: upload(rows_of_edge.to_vec(), device),
                other_of_edge: upload(other_of_edge.to_vec(), device),
                rows: csr.rows(),
            }
        },
    )
}

/// A contiguous `shape` tensor of `like`'s dtype on its device, uninitialised.
fn empty_like(like: &CubeTensor, shape: impl Into<Shape>, dtype: DType) -> CubeTensor {
    empty_device_contiguous_dtype(
        like.client.clone(),
        like.device.clone(),
        shape.into(),
        dtype,
    )
}

/// How many threads of how many cubes cover `len` values; `None` for none (nothing to launch).
fn grid(like: &CubeTensor, len: usize) -> Option<(CubeCount, CubeDim)> {
    let dim = CubeDim::new(&like.client, len);
    (len > 0).then(|| (calculate_cube_count_elemwise(&like.client, len, dim), dim))
}

/// The storage types of a float tensor and of the groupings' indices.
fn types(x: &CubeTensor) -> [ElemType; 2] {
    [
        dtype_to_storage_type(x.dtype),
        dtype_to_storage_type(DType::U32),
    ]
}

/// A stand-in for an input a kernel variant does not read.
fn unused(like: &CubeTensor) -> CubeTensor {
    CubeBackend::float_zeros([1].into(), &like.device, like.dtype.into())
}

impl KernelDevice for CubeBackend {
    type Winners = CubeTensor;

    fn row_sum(
        x: &CubeTensor,
        w: Option<&CubeTensor>,
        adjacency: &Adjacency,
        spec: RowSum,
    ) -> CubeTensor {
        let x = into_contiguous(x.clone());
        let f = x.shape()[1];
        let out = empty_like(&x, [spec.rows, f], x.dtype);
        let len = spec.rows * f;
        let csr = device_csr(adjacency, spec.group, &x.device);
        let index = match spec.read {
            Read::Other => &csr.other,
            Read::Edge => &csr.edge,
        };
        let weighted = w.is_some();
        let w = w.map_or_else(|| unused(&x), |w| into_contiguous(w.clone()));
        let Some((count, dim)) = grid(&x, len) else {
            return out;
        };
        row_sum_kernel::launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            w.into_tensor_arg(),
            csr.offsets.clone().into_tensor_arg(),
            index.clone().into_tensor_arg(),
            csr.edge.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            csr.rows,
            f,
            spec.heads,
            weighted,
            types(&x),
        );
        out
    }

    fn edge_rows(
        g: &CubeTensor,
        w: Option<&CubeTensor>,
        adjacency: &Adjacency,
        spec: RowSum,
    ) -> CubeTensor {
        let g = into_contiguous(g.clone());
        let f = g.shape()[1];
        let e = adjacency.num_edges();
        let out = empty_like(&g, [e, f], g.dtype);
        let len = e * f;
        let csr = device_csr(adjacency, spec.group, &g.device);
        let weighted = w.is_some();
        let w = w.map_or_else(|| unused(&g), |w| into_contiguous(w.clone()));
        let Some((count, dim)) = grid(&g, len) else {
            return out;
        };
        edge_rows_kernel::launch(
            &g.client,
            count,
            dim,
            g.clone().into_tensor_arg(),
            w.into_tensor_arg(),
            csr.rows_of_edge.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            f,
            spec.heads,
            weighted,
            types(&g),
        );
        out
    }

    fn edge_dots(
        g: &CubeTensor,
        x: &CubeTensor,
        adjacency: &Adjacency,
        spec: RowSum,
    ) -> CubeTensor {
        let (g, x) = (into_contiguous(g.clone()), into_contiguous(x.clone()));
        let f = g.shape()[1];
        let len = adjacency.num_edges() * spec.heads;
        let out = empty_like(&g, [adjacency.num_edges(), spec.heads], g.dtype);
        let csr = device_csr(adjacency, spec.group, &g.device);
        let Some((count, dim)) = grid(&g, len) else {
            return out;
        };
        edge_dots_kernel::launch(
            &g.client,
            count,
            dim,
            g.clone().into_tensor_arg(),
            csr.rows_of_edge.clone().into_tensor_arg(),
            x.into_tensor_arg(),
            csr.other_of_edge.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            f,
            spec.heads,
            spec.read == Read::Other,
            types(&g),
        );
        out
    }

    fn edge_totals(v: &CubeTensor, adjacency: &Adjacency, group: Group, rows: usize) -> CubeTensor {
        let spec = RowSum {
            group,
            read: Read::Edge,
            rows,
            heads: 1,
        };
        Self::row_sum(v, None, adjacency, spec)
    }

    fn target_softmax(scores: &CubeTensor, adjacency: &Adjacency) -> CubeTensor {
        let scores = into_contiguous(scores.clone());
        let unused = unused(&scores);
        softmax(&scores, &unused, adjacency, 0.0, false)
    }

    fn target_softmax_backward(
        y: &CubeTensor,
        g: &CubeTensor,
        adjacency: &Adjacency,
    ) -> CubeTensor {
        let unused = unused(y);
        softmax_backward(y, g, (&unused, &unused), adjacency, 0.0, false)
    }

    fn target_attention(
        a_src: &CubeTensor,
        a_dst: &CubeTensor,
        adjacency: &Adjacency,
        slope: f32,
    ) -> CubeTensor {
        let (a_src, a_dst) = (
            into_contiguous(a_src.clone()),
            into_contiguous(a_dst.clone()),
        );
        softmax(&a_src, &a_dst, adjacency, slope, true)
    }

    fn target_attention_backward(
        a_src: &CubeTensor,
        a_dst: &CubeTensor,
        alpha: &CubeTensor,
        g: &CubeTensor,
        adjacency: &Adjacency,
        slope: f32,
    ) -> CubeTensor {
        let (a_src, a_dst) = (
            into_contiguous(a_src.clone()),
            into_contiguous(a_dst.clone()),
        );
        softmax_backward(alpha, g, (&a_src, &a_dst), adjacency, slope, true)
    }

    fn target_max(x: &CubeTensor, adjacency: &Adjacency) -> (CubeTensor, CubeTensor) {
        let x = into_contiguous(x.clone());
        let f = x.shape()[1];
        let rows = adjacency.by_target().rows();
        let out = empty_like(&x, [rows, f], x.dtype);
        let winner = empty_like(&x, [rows, f], DType::U32);
        let len = rows * f;
        let csr = device_csr(adjacency, Group::ByTarget, &x.device);
        let Some((count, dim)) = grid(&x, len) else {
            return (out, winner);
        };
        max_kernel::launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            csr.offsets.clone().into_tensor_arg(),
            csr.edge.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            winner.clone().into_tensor_arg(),
            len,
            csr.rows,
            f,
            adjacency.num_edges(),
            types(&x),
        );
        (out, winner)
    }

    fn target_max_backward(
        g: &CubeTensor,
        winners: &CubeTensor,
        adjacency: &Adjacency,
    ) -> CubeTensor {
        let g = into_contiguous(g.clone());
        let f = g.shape()[1];
        let e = adjacency.num_edges();
        let out = empty_like(&g, [e, f], g.dtype);
        let len = e * f;
        let csr = device_csr(adjacency, Group::ByTarget, &g.device);
        let Some((count, dim)) = grid(&g, len) else {
            return out;
        };
        max_backward_kernel::launch(
            &g.client,
            count,
            dim,
            g.clone().into_tensor_arg(),
            winners.clone().into_tensor_arg(),
            csr.rows_of_edge.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            f,
            types(&g),
        );
        out
    }

    fn elu(x: &CubeTensor, alpha: f32) -> CubeTensor {
        let (x, out, len) = elementwise(x);
        let Some((count, dim)) = grid(&x, len) else {
            return out;
        };
        elu_kernel::launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            alpha,
            dtype_to_storage_type(x.dtype),
        );
        out
    }

    fn softplus(x: &CubeTensor) -> CubeTensor {
        let (x, out, len) = elementwise(x);
        let Some((count, dim)) = grid(&x, len) else {
            return out;
        };
        softplus_kernel::launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            dtype_to_storage_type(x.dtype),
        );
        out
    }

    fn softplus_backward(x: &CubeTensor, g: &CubeTensor) -> CubeTensor {
        let (g, out, len) = elementwise(g);
        let x = into_contiguous(x.clone());
        let Some((count, dim)) = grid(&g, len) else {
            return out;
        };
        softplus_backward_kernel::launch(
            &g.client,
            count,
            dim,
            x.into_tensor_arg(),
            g.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            dtype_to_storage_type(g.dtype),
        );
        out
    }

    fn elu_backward(y: &CubeTensor, g: &CubeTensor, alpha: f32) -> CubeTensor {
        let (g, out, len) = elementwise(g);
        let y = into_contiguous(y.clone());
        let Some((count, dim)) = grid(&g, len) else {
            return out;
        };
        elu_backward_kernel::launch(
            &g.client,
            count,
            dim,
            y.into_tensor_arg(),
            g.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            alpha,
            dtype_to_storage_type(g.dtype),
        );
        out
    }

    fn dropout(x: &CubeTensor, seed: u64, keep: f64) -> CubeTensor {
        let (x, out, len) = elementwise(x);
        // Kept when a uniform 32-bit hash is below keep · 2^32: the host's threshold and hash.
        let threshold = super::host::keep_threshold(keep);
        let Some((count, dim)) = grid(&x, len) else {
            return out;
        };
        dropout_kernel::launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            len,
            seed as u32,
            (seed >> 32) as u32,
            threshold,
            (1.0 / keep) as f32,
            dtype_to_storage_type(x.dtype),
        );
        out
    }
}

/// `x` contiguous, an output of its shape and its number of values: an element-wise kernel's.
fn elementwise(x: &CubeTensor) -> (CubeTensor, CubeTensor, usize) {
    let x = into_contiguous(x.clone());
    let out = empty_like(&x, x.shape(), x.dtype);
    let len = x.shape().num_elements();
    (x, out, len)
}

/// [`softmax_kernel`] over the targets' edges: of `scores` (`attention` off) or of GAT's
/// scores from `scores = a_src` and `a_dst`.
fn softmax(
    scores: &CubeTensor,
    a_dst: &CubeTensor,
    adjacency: &Adjacency,
    slope: f32,
    attention: bool,
) -> CubeTensor {
    let heads = scores.shape()[1];
    let out = empty_like(scores, [adjacency.num_edges(), heads], scores.dtype);
    let len = adjacency.by_target().rows() * heads;
    let Some((count, dim)) = grid(scores, len) else {
        return out;
    };
    let csr = device_csr(adjacency, Group::ByTarget, &scores.device);
    softmax_kernel::launch(
        &scores.client,
        count,
        dim,
        scores.clone().into_tensor_arg(),
        a_dst.clone().into_tensor_arg(),
        csr.offsets.clone().into_tensor_arg(),
        csr.other.clone().into_tensor_arg(),
        csr.edge.clone().into_tensor_arg(),
        out.clone().into_tensor_arg(),
        len,
        heads,
        slope,
        attention,
        types(scores),
    );
    out
}

/// [`softmax_backward_kernel`] from the softmax's output `y` and its gradient `g`; with
/// `attention`, GAT's `(a_src, a_dst)` give each score's LeakyReLU slope.
fn softmax_backward(
    y: &CubeTensor,
    g: &CubeTensor,
    (a_src, a_dst): (&CubeTensor, &CubeTensor),
    adjacency: &Adjacency,
    slope: f32,
    attention: bool,
) -> CubeTensor {
    let (y, g) = (into_contiguous(y.clone()), into_contiguous(g.clone()));
    let heads = y.shape()[1];
    let out = empty_like(&y, [adjacency.num_edges(), heads], y.dtype);
    let len = adjacency.by_target().rows() * heads;
    let Some((count, dim)) = grid(&y, len) else {
        return out;
    };
    let csr = device_csr(adjacency, Group::ByTarget, &y.device);
    softmax_backward_kernel::launch(
        &y.client,
        count,
        dim,
        y.clone().into_tensor_arg(),
        g.into_tensor_arg(),
        a_src.clone().into_tensor_arg(),
        a_dst.clone().into_tensor_arg(),
        csr.offsets.clone().into_tensor_arg(),
        csr.other.clone().into_tensor_arg(),
        csr.edge.clone().into_tensor_arg(),
        out.clone().into_tensor_arg(),
        len,
        heads,
        slope,
        attention,
        types(&y),
    );
    out
}
