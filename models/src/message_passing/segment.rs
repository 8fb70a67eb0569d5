//! Segment reductions: rows of a `[E, ...]` tensor reduced into `S` segments by a segment id per
//! row (Jraph's `segment_sum` & co.). These are the aggregations of message passing, with the
//! segment id of a message being its target node.
//!
//! All are permutation-invariant in the rows (up to float rounding), have correct gradients with
//! repeated ids, and give 0 for an empty segment (never NaN or ±inf).

use burn::tensor::{Device, IndexingUpdateOp, Int, Shape, Tensor};
use burn_dispatch::DispatchDevice;

/// Whether the device's backend prefers `select_assign` (row-wise, CPU backends) over `scatter`
/// with an expanded index (GPU backends, where `select_assign` loops over rows per thread).
/// Read off Burn's typed dispatch device, autodiff wrapper removed.
fn row_scatter_is_fast(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_) | DispatchDevice::NdArray(_)
    )
}

/// The shape of `values` with its first dimension replaced by `rows`.
fn with_rows<const D: usize>(values: &Tensor<D>, rows: usize) -> Shape {
    let mut dims = values.dims();
    dims[0] = rows;
    Shape::from(dims)
}

/// `ids` broadcast to the shape of `values` (`[E]` → `[E, ...]`), for `scatter`.
fn expand_ids<const D: usize>(ids: &Tensor<1, Int>, values: &Tensor<D>) -> Tensor<D, Int> {
    let dims = values.dims();
    let mut shape = [1usize; D];
    shape[0] = dims[0];
    ids.clone().reshape(shape).expand(dims)
}

/// `[E, d1, …]` viewed as `[E, d1·…]`: backends have a fast path for row gathers and scatters
/// on 2-D tensors (flex's N-D path computes every element's offset).
pub(crate) fn as_rows<const D: usize>(t: Tensor<D>) -> Tensor<2> {
    let dims = t.dims();
    let rest: usize = dims[1..].iter().product();
    t.reshape([dims[0], rest])
}

/// Rows `x[ids[e]]` of a tensor of any rank, through the 2-D fast path.
///
/// # Shapes
/// - `x`: `[N, ...]`, `ids`: `[E]`; output: `[E, ...]`
pub fn gather_rows<const D: usize>(x: Tensor<D>, ids: &Tensor<1, Int>) -> Tensor<D> {
    let mut dims = x.dims();
    dims[0] = ids.dims()[0];
    as_rows(x).select(0, ids.clone()).reshape(dims)
}

/// `base[ids[e]] op= values[e]` along dimension 0, with the backend's faster primitive.
fn scatter_rows<const D: usize>(
    base: Tensor<D>,
    ids: &Tensor<1, Int>,
    values: Tensor<D>,
    op: IndexingUpdateOp,
) -> Tensor<D> {
    let dims = base.dims();
    let (base, values) = (as_rows(base), as_rows(values));
    let out = if row_scatter_is_fast(&values.device()) {
        base.select_assign(0, ids.clone(), values, op)
    } else {
        let index = expand_ids(ids, &values);
        base.scatter(0, index, values, op)
    };
    out.reshape(dims)
}

/// Segment sum.
///
/// `out[s] = Σ_{e : ids[e] = s} values[e]`
///
/// # Shapes
/// - `values`: `[E, ...]`
/// - `ids`: `[E]`, each in `0..num_segments`
/// - output: `[num_segments, ...]`
pub fn segment_sum<const D: usize>(
    values: Tensor<D>,
    ids: &Tensor<1, Int>,
    num_segments: usize,
) -> Tensor<D> {
    let base = Tensor::zeros(with_rows(&values, num_segments), &values.device());
    scatter_rows(base, ids, values, IndexingUpdateOp::Add)
}

/// Number of rows in each segment, as floats.
///
/// `out[s] = |{e : ids[e] = s}|`
///
/// # Shapes
/// - `ids`: `[E]`
/// - output: `[num_segments]`
pub fn segment_count(ids: &Tensor<1, Int>, num_segments: usize, device: &Device) -> Tensor<1> {
    let [e] = ids.dims();
    segment_sum(Tensor::<1>::ones([e], device), ids, num_segments)
}

/// Segment mean; an empty segment gives 0.
///
/// `out[s] = (1 / max(1, n_s)) Σ_{e : ids[e] = s} values[e]`, with `n_s` the segment's size.
///
/// # Shapes
/// - `values`: `[E, ...]`; `ids`: `[E]`; output: `[num_segments, ...]`
pub fn segment_mean<const D: usize>(
    values: Tensor<D>,
    ids: &Tensor<1, Int>,
    num_segments: usize,
) -> Tensor<D> {
    let device = values.device();
    let count = segment_count(ids, num_segments, &device).clamp_min(1.0);
    let mut shape = [1usize; D];
    shape[0] = num_segments;
    segment_sum(values, ids, num_segments) / count.reshape(shape)
}

/// The element-wise maximum of each segment, computed without gradient tracking
/// (`-inf` for an empty segment).
fn detached_max<const D: usize>(
    values: &Tensor<D>,
    ids: &Tensor<1, Int>,
    num_segments: usize,
) -> Tensor<D> {
    let v = values.clone().detach();
    let base = Tensor::full(with_rows(&v, num_segments), f32::NEG_INFINITY, &v.device());
    scatter_rows(base, ids, v, IndexingUpdateOp::Max)
}

/// Segment maximum (element-wise); an empty segment gives 0.
///
/// `out[s] = max_{e : ids[e] = s} values[e]`
///
/// The gradient goes to the rows that attain the maximum, split evenly among ties. (Burn's
/// `Max` scatter has no defined gradient for repeated ids, so the maximum is found without
/// tracking and the value is rebuilt as a differentiable sum over a winner mask.)
///
/// # Shapes
/// - `values`: `[E, ...]`; `ids`: `[E]`; output: `[num_segments, ...]`
pub fn segment_max<const D: usize>(
    values: Tensor<D>,
    ids: &Tensor<1, Int>,
    num_segments: usize,
) -> Tensor<D> {
    let max = detached_max(&values, ids, num_segments);
    let winners = values.clone().detach().equal(gather_rows(max, ids)).float();
    let ties = segment_sum(winners.clone(), ids, num_segments).clamp_min(1.0);
    segment_sum(values * winners, ids, num_segments) / ties
}

/// Segment minimum (element-wise); an empty segment gives 0. Gradient as [`segment_max`].
///
/// `out[s] = min_{e : ids[e] = s} values[e]`
///
/// # Shapes
/// - `values`: `[E, ...]`; `ids`: `[E]`; output: `[num_segments, ...]`
pub fn segment_min<const D: usize>(
    values: Tensor<D>,
    ids: &Tensor<1, Int>,
    num_segments: usize,
) -> Tensor<D> {
    segment_max(values.neg(), ids, num_segments).neg()
}

/// Softmax within each segment, element-wise over the trailing dimensions (per head, say).
///
/// `out[e] = exp(x[e] - m[s]) / Σ_{e' : ids[e'] = s} exp(x[e'] - m[s])`, `s = ids[e]`, where
/// `m[s]` is the segment's maximum, held constant (it cancels out of the value, so the gradient
/// is exact). Numerically stable for large scores.
///
/// # Shapes
/// - `scores`: `[E, ...]`; `ids`: `[E]`; output: `[E, ...]`
pub fn segment_softmax<const D: usize>(
    scores: Tensor<D>,
    ids: &Tensor<1, Int>,
    num_segments: usize,
) -> Tensor<D> {
    let max = detached_max(&scores, ids, num_segments);
    let exp = (scores - gather_rows(max, ids)).exp();
    let denom = gather_rows(segment_sum(exp.clone(), ids, num_segments), ids);
    exp / denom
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    /// Brute-force reference: reduce rows of a row-major `[e, f]` matrix by `ids`.
    fn reference(values: &[f32], f: usize, ids: &[usize], s: usize, op: &str) -> Vec<f32> {
        let mut out = vec![0.0; s * f];
        for seg in 0..s {
            let rows: Vec<usize> = (0..ids.len()).filter(|&e| ids[e] == seg).collect();
            for c in 0..f {
                let col: Vec<f32> = rows.iter().map(|&e| values[e * f + c]).collect();
                out[seg * f + c] = match (op, col.is_empty()) {
                    (_, true) => 0.0,
                    ("sum", _) => col.iter().sum(),
                    ("mean", _) => col.iter().sum::<f32>() / col.len() as f32,
                    ("max", _) => col.iter().cloned().fold(f32::NEG_INFINITY, f32::max),
                    ("min", _) => col.iter().cloned().fold(f32::INFINITY, f32::min),
                    _ => unreachable!(),
                };
            }
        }
        out
    }

    fn reduce(op: &str, v: Tensor<2>, ids: &Tensor<1, Int>, s: usize) -> Tensor<2> {
        match op {
            "sum" => segment_sum(v, ids, s),
            "mean" => segment_mean(v, ids, s),
            "max" => segment_max(v, ids, s),
            "min" => segment_min(v, ids, s),
            _ => unreachable!(),
        }
    }

    const OPS: [&str; 4] = ["sum", "mean", "max", "min"];

    #[test]
    fn reductions_match_brute_force_with_empty_segments() {
        // 9 rows into 5 segments; segments 1 and 4 are empty; repeated ids everywhere.
        let ids = [0, 2, 3, 0, 2, 2, 3, 0, 0];
        let (e, f, s) = (ids.len(), 3, 5);
        let values = seeded_values(e * f, 1);
        for op in OPS {
            for device in cpu_devices() {
                let out = reduce(
                    op,
                    tensor2(&values, [e, f], &device),
                    &int1(&ids, &device),
                    s,
                );
                assert_close(&to_vec(out), &reference(&values, f, &ids, s, op), 1e-6, op);
            }
        }
    }

    #[test]
    fn reductions_are_permutation_invariant() {
        let ids = [4, 1, 1, 0, 4, 4, 2, 1];
        let (e, f, s) = (ids.len(), 2, 6);
        let values = seeded_values(e * f, 2);
        let perm = [5, 2, 7, 0, 3, 6, 1, 4];
        let p_ids: Vec<usize> = perm.iter().map(|&p| ids[p]).collect();
        let p_values: Vec<f32> = perm
            .iter()
            .flat_map(|&p| values[p * f..(p + 1) * f].to_vec())
            .collect();
        let device = Device::flex();
        for op in OPS {
            let a = reduce(
                op,
                tensor2(&values, [e, f], &device),
                &int1(&ids, &device),
                s,
            );
            let b = reduce(
                op,
                tensor2(&p_values, [e, f], &device),
                &int1(&p_ids, &device),
                s,
            );
            assert_close(&to_vec(a), &to_vec(b), 1e-6, op);
        }
    }

    #[test]
    fn reduction_gradients_match_finite_differences() {
        let ids = [0, 2, 3, 0, 2, 2, 3, 0, 0];
        let (e, f, s) = (ids.len(), 2, 5);
        let values = seeded_values(e * f, 3);
        for op in OPS {
            check_gradient(op, &values, [e, f], |x| {
                let d = x_device(&x);
                reduce(op, x, &int1(&ids, &d), s)
            });
        }
    }

    #[test]
    fn cpu_backends_take_the_row_scatter() {
        for device in cpu_devices() {
            assert!(row_scatter_is_fast(&device), "{device:?}");
            assert!(row_scatter_is_fast(&device.autodiff()));
        }
    }

    #[test]
    fn max_gradient_is_shared_by_ties() {
        let device = Device::flex().autodiff();
        let x = tensor2(&[1.0, 3.0, 3.0, 2.0], [4, 1], &device).require_grad();
        let ids = int1(&[0, 0, 0, 1], &device);
        let out = segment_max(x.clone(), &ids, 2);
        let grads = out.sum().backward();
        let g = to_vec(x.grad(&grads).unwrap());
        assert_close(&g, &[0.0, 0.5, 0.5, 1.0], 1e-6, "tie gradient");
    }

    #[test]
    fn softmax_matches_brute_force_and_sums_to_one() {
        let ids = [1, 1, 0, 1, 3, 0];
        let (e, h, s) = (ids.len(), 2, 4);
        // Large scores: a naive exp would overflow.
        let scores: Vec<f32> = seeded_values(e * h, 4).iter().map(|v| v * 400.0).collect();
        let device = Device::flex();
        let out = to_vec(segment_softmax(
            tensor2(&scores, [e, h], &device),
            &int1(&ids, &device),
            s,
        ));
        for c in 0..h {
            for seg in 0..s {
                let rows: Vec<usize> = (0..e).filter(|&r| ids[r] == seg).collect();
                let m = rows
                    .iter()
                    .map(|&r| scores[r * h + c])
                    .fold(f32::NEG_INFINITY, f32::max);
                let z: f64 = rows
                    .iter()
                    .map(|&r| ((scores[r * h + c] - m) as f64).exp())
                    .sum();
                for &r in &rows {
                    let want = (((scores[r * h + c] - m) as f64).exp() / z) as f32;
                    assert!((out[r * h + c] - want).abs() < 1e-6, "softmax row {r}");
                }
            }
        }
        assert!(out.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn softmax_gradient_matches_finite_differences() {
        let ids = [1, 1, 0, 1, 3, 0];
        let values = seeded_values(ids.len() * 2, 5);
        check_gradient("softmax", &values, [ids.len(), 2], |x| {
            segment_softmax(x.clone(), &int1(&ids, &x_device(&x)), 4)
        });
    }
}
