//! Aggregating messages at their target nodes: the "reduce" half of message passing.

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::gather::gather_src;
use super::segment::{
    as_rows, gather_rows, segment_max, segment_mean, segment_min, segment_softmax, segment_sum,
};
use crate::Graph;
use crate::kernels::{
    Read, attention as attention_fused, max_at_targets,
    softmax_at_targets as softmax_at_targets_fused, sum_at_targets,
};
use crate::trace::{self, Messages};

/// A permutation-invariant reduction of the rows that share a segment id: the "reduce" of
/// message passing (messages grouped by target node) and of graph readout (nodes grouped by
/// graph). [`Aggregation`] (sum, mean, max, min) and [`SoftmaxAggregation`] implement it;
/// implement it to give any layer that takes an `impl Aggregator` a new aggregation. Compose
/// the segment primitives and the gradient comes for free.
pub trait Aggregator {
    /// `out[s] = ⊕_{e : ids[e] = s} values[e]`; a segment without rows gives 0.
    ///
    /// # Shapes
    /// - `values`: `[E, ...]`; `ids`: `[E]`, each in `0..num_segments`; output
    ///   `[num_segments, ...]`
    fn reduce<const D: usize>(
        &self,
        values: Tensor<D>,
        ids: &Tensor<1, Int>,
        num_segments: usize,
    ) -> Tensor<D>;

    /// The built-in [`Aggregation`] this reduction is, if it is one: message passing over a
    /// [`Graph`] then takes the fused kernels for a sum or mean ([`crate::kernels`]).
    fn as_aggregation(&self) -> Option<Aggregation> {
        None
    }
}

impl<A: Aggregator + ?Sized> Aggregator for &A {
    fn reduce<const D: usize>(
        &self,
        values: Tensor<D>,
        ids: &Tensor<1, Int>,
        num_segments: usize,
    ) -> Tensor<D> {
        (**self).reduce(values, ids, num_segments)
    }

    fn as_aggregation(&self) -> Option<Aggregation> {
        (**self).as_aggregation()
    }
}

/// A permutation-invariant aggregation of the messages arriving at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// `Σ_j m_ji`
    #[default]
    #[serde(alias = "add")]
    Sum,
    /// `(1/deg(i)) Σ_j m_ji` (0 for a node without incoming edges)
    Mean,
    /// element-wise `max_j m_ji` (0 for a node without incoming edges)
    Max,
    /// element-wise `min_j m_ji` (0 for a node without incoming edges)
    Min,
}

impl std::str::FromStr for Aggregation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sum" | "add" => Ok(Aggregation::Sum),
            "mean" => Ok(Aggregation::Mean),
            "max" => Ok(Aggregation::Max),
            "min" => Ok(Aggregation::Min),
            _ => Err(format!("unknown aggregation '{s}' (sum, mean, max, min)")),
        }
    }
}

impl Aggregator for Aggregation {
    fn reduce<const D: usize>(
        &self,
        values: Tensor<D>,
        ids: &Tensor<1, Int>,
        num_segments: usize,
    ) -> Tensor<D> {
        match self {
            Aggregation::Sum => segment_sum(values, ids, num_segments),
            Aggregation::Mean => segment_mean(values, ids, num_segments),
            Aggregation::Max => segment_max(values, ids, num_segments),
            Aggregation::Min => segment_min(values, ids, num_segments),
        }
    }

    fn as_aggregation(&self) -> Option<Aggregation> {
        Some(*self)
    }
}

/// Softmax aggregation (Li et al. 2020; PyG's `SoftmaxAggregation`): each channel's messages
/// weighted by their softmax within the segment,
///
/// `out[s] = Σ_{e : ids[e] = s} softmax_s(t · m)_e ⊙ m_e`,
///
/// element-wise over the channels. `t → 0` gives the mean, `t → ∞` the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxAggregation {
    /// The inverse temperature `t`.
    pub t: f64,
}

impl Aggregator for SoftmaxAggregation {
    fn reduce<const D: usize>(
        &self,
        values: Tensor<D>,
        ids: &Tensor<1, Int>,
        num_segments: usize,
    ) -> Tensor<D> {
        let weights = segment_softmax(values.clone().mul_scalar(self.t), ids, num_segments);
        segment_sum(values * weights, ids, num_segments)
    }
}

/// Aggregates per-edge messages at each edge's target node.
///
/// `out[i] = ⊕_{e : dst[e] = i} messages[e]`, `⊕` any [`Aggregator`]
///
/// # Shapes
/// - `messages`: `[E, ...]`; output: `[N, ...]`
pub fn aggregate<const D: usize>(
    messages: Tensor<D>,
    graph: &Graph,
    aggr: impl Aggregator,
) -> Tensor<D> {
    let kind = aggr.as_aggregation();
    let traced = trace::recording().then(|| as_rows(messages.clone()));
    let out = match traced.as_ref().and_then(|_| trace::edge_mask(graph)) {
        Some(mask) => {
            let dims = messages.dims();
            let masked = as_rows(messages) * mask.unsqueeze_dim(1);
            reduce_at_targets(masked.reshape(dims), graph, aggr)
        }
        None => reduce_at_targets(messages, graph, aggr),
    };
    if let Some(m) = traced {
        let rows = as_rows(out.clone());
        trace::note_aggregation("aggregate", graph, Messages::Edges(m), kind, &rows);
    }
    out
}

/// [`aggregate`] without the trace.
fn reduce_at_targets<const D: usize>(
    messages: Tensor<D>,
    graph: &Graph,
    aggr: impl Aggregator,
) -> Tensor<D> {
    let mut dims = messages.dims();
    match fused_reduce(aggr.as_aggregation(), as_rows(messages), graph, Read::Edge) {
        Ok(out) => {
            dims[0] = graph.num_nodes();
            out.reshape(dims)
        }
        Err(rows) => aggr.reduce(rows.reshape(dims), graph.dst(), graph.num_nodes()),
    }
}

/// The aggregation of source rows at each target, `aggregate(gather_src(x, graph), graph,
/// aggr)`: the copy-source + reduce pair DGL fuses. A sum or mean on the CPU is one fused pass
/// that never makes the `[E, F]` messages.
///
/// `out[i] = ⊕_{j → i} x[j]`
///
/// # Shapes
/// - `x`: `[N_s, F]` (sources may index another node set, as in a
///   [`BipartiteGraph`](crate::BipartiteGraph)); output: `[N, F]`
pub fn aggregate_sources(x: Tensor<2>, graph: &Graph, aggr: impl Aggregator) -> Tensor<2> {
    let kind = aggr.as_aggregation();
    let traced = trace::recording().then(|| x.clone());
    let mask = traced.as_ref().and_then(|_| trace::edge_mask(graph));
    let out = match mask {
        Some(mask) => {
            let masked = gather_src(x, graph) * mask.unsqueeze_dim(1);
            reduce_at_targets(masked, graph, aggr)
        }
        None => match fused_reduce(kind, x, graph, Read::Other) {
            Ok(out) => out,
            Err(x) => reduce_at_targets(gather_src(x, graph), graph, aggr),
        },
    };
    if let Some(x) = traced {
        trace::note_aggregation("aggregate_sources", graph, Messages::Rows(x), kind, &out);
    }
    out
}

/// A built-in aggregation at the targets by the fused kernels: a sum, a mean (a sum weighted
/// by `1 / deg(dst[e])`), and for per-edge messages a maximum or minimum (the gradient to the
/// first edge attaining it, as PyG's `scatter_max`; [`segment_max`] splits it among ties);
/// `Err` with the input where they do not apply.
// Tensor handles are large whatever they hold, in `Ok` and `Err` alike.
#[allow(clippy::result_large_err)]
fn fused_reduce(
    aggr: Option<Aggregation>,
    x: Tensor<2>,
    graph: &Graph,
    read: Read,
) -> Result<Tensor<2>, Tensor<2>> {
    let weight = match (aggr, read) {
        (Some(Aggregation::Sum), _) => None,
        (Some(Aggregation::Mean), _) => Some(mean_weights(graph, &x.device())),
        (Some(Aggregation::Max), Read::Edge) => return max_at_targets(x, graph),
        (Some(Aggregation::Min), Read::Edge) => {
            return max_at_targets(x.neg(), graph)
                .map(Tensor::neg)
                .map_err(Tensor::neg);
        }
        _ => return Err(x),
    };
    sum_at_targets(x, weight.as_ref(), graph, read)
}

/// `1 / deg(dst[e])` for every edge `[E, 1]` on `device`, a constant remembered by the graph.
fn mean_weights(graph: &Graph, device: &burn::tensor::Device) -> Tensor<2> {
    /// The memo key of the mean's per-edge weights on a device.
    #[derive(Debug, PartialEq)]
    struct MeanWeights(burn::tensor::Device);
    graph.memoized_value(MeanWeights(device.clone()), |g| {
        let csr = g.adjacency();
        let by_target = csr.by_target();
        let w: Vec<f32> = g
            .host_dst()
            .iter()
            .map(|&i| 1.0 / by_target.row(i as usize).len() as f32)
            .collect();
        Tensor::<1>::from_data(burn::tensor::TensorData::new(w, [g.num_edges()]), device)
            .reshape([g.num_edges(), 1])
    })
}

/// Softmax of every edge's scores over the edges into the same target, element-wise over the
/// trailing dimensions (attention heads): [`segment_softmax`] over `graph.dst()`, one fused
/// pass on the CPU.
///
/// `out[e] = exp(s[e] − m_i) / Σ_{e' : dst[e'] = i} exp(s[e'] − m_i)`, `i = dst[e]`, `m_i` the
/// maximum over those edges
///
/// # Shapes
/// - `scores`: `[E, ...]`; output `[E, ...]`
pub fn softmax_at_targets<const D: usize>(scores: Tensor<D>, graph: &Graph) -> Tensor<D> {
    let dims = scores.dims();
    let out = match softmax_at_targets_fused(as_rows(scores), graph) {
        Ok(out) => out.reshape(dims),
        Err(rows) => segment_softmax(rows.reshape(dims), graph.dst(), graph.num_nodes()),
    };
    if trace::recording() {
        trace::note_attention(graph, &as_rows(out.clone()));
    }
    out
}

/// GAT's attention coefficients (Veličković et al. 2018): for every edge `j → i` and head
/// `h`, the LeakyReLU of the source's and the target's scores, softmax-normalised over the
/// edges into `i`; one fused pass on the CPU (no `[E, H]` gathers, and the LeakyReLU's and the
/// softmax's backward in one pass too).
///
/// `α[e, h] = softmax_{e' : dst[e'] = i}(LeakyReLU(a_src[src[e'], h] + a_dst[i, h]))_e`
///
/// # Shapes
/// - `a_src`: `[N_s, H]`, `a_dst`: `[N, H]`; output: `[E, H]`
pub fn attention_coefficients(
    a_src: Tensor<2>,
    a_dst: Tensor<2>,
    graph: &Graph,
    negative_slope: f64,
) -> Tensor<2> {
    match attention_fused(a_src, a_dst, graph, negative_slope as f32) {
        Ok(alpha) => {
            if trace::recording() {
                trace::note_attention(graph, &alpha);
            }
            alpha
        }
        Err((a_src, a_dst)) => {
            let scores = gather_src(a_src, graph) + gather_rows(a_dst, graph.dst());
            let logits = burn::tensor::activation::leaky_relu(scores, negative_slope);
            softmax_at_targets(logits, graph)
        }
    }
}

/// The weighted sum of source rows at each target: the sparse-dense product `A x` of the
/// graph's (weighted) adjacency with `x` (DGL's copy-source × edge-weight + sum pair, one
/// fused pass on the CPU).
///
/// `out[i] = Σ_{e : dst[e] = i} w_e · x[src[e]]`, `w_e = 1` when the graph has no weights
///
/// # Shapes
/// - `x`: `[N, F]`; output: `[N, F]`
pub fn propagate_weighted(x: Tensor<2>, graph: &Graph) -> Tensor<2> {
    let traced = trace::recording().then(|| x.clone());
    let out = match traced.as_ref().and_then(|_| trace::edge_mask(graph)) {
        Some(mask) => {
            let w = match graph.edge_weight() {
                Some(w) => w.clone() * mask,
                None => mask,
            };
            weighted_sum(x, &graph.reweighted(w))
        }
        None => weighted_sum(x, graph),
    };
    if let Some(x) = traced {
        let weight = graph.edge_weight().map(|w| w.clone().unsqueeze_dim(1));
        trace::note_weighted_sum("propagate_weighted", graph, x, weight, &out);
    }
    out
}

/// [`propagate_weighted`] without the trace: products that are not message passing (sparse
/// features' `X W`).
pub(crate) fn weighted_sum(x: Tensor<2>, graph: &Graph) -> Tensor<2> {
    let weight = graph.edge_weight().map(|w| w.clone().unsqueeze_dim(1));
    match sum_at_targets(x, weight.as_ref(), graph, Read::Other) {
        Ok(out) => out,
        Err(x) => {
            let messages = gather_src(x, graph);
            let messages = match weight {
                Some(w) => messages * w,
                None => messages,
            };
            segment_sum(messages, graph.dst(), graph.num_nodes())
        }
    }
}

/// The per-head weighted sum of source rows at each target (attention's weighted sum, one
/// fused pass on the CPU that never makes the `[E, H, C]` messages).
///
/// `out[i, h, :] = Σ_{e : dst[e] = i} α[e, h] · x[src[e], h, :]`
///
/// # Shapes
/// - `x`: `[N_s, H, C]`, `alpha`: `[E, H]`; output: `[N, H, C]`
pub fn propagate_heads(x: Tensor<3>, alpha: Tensor<2>, graph: &Graph) -> Tensor<3> {
    let [n_s, h, c] = x.dims();
    let n = graph.num_nodes();
    let traced = trace::recording().then(|| (x.clone().reshape([n_s, h * c]), alpha.clone()));
    let alpha = match traced.as_ref().and_then(|_| trace::edge_mask(graph)) {
        Some(mask) => alpha * mask.unsqueeze_dim(1),
        None => alpha,
    };
    let out = match sum_at_targets(x.reshape([n_s, h * c]), Some(&alpha), graph, Read::Other) {
        Ok(out) => out.reshape([n, h, c]),
        Err(x) => {
            let messages = gather_src(x.reshape([n_s, h, c]), graph) * alpha.unsqueeze_dim(2);
            segment_sum(messages, graph.dst(), n)
        }
    };
    if let Some((x, alpha)) = traced {
        let rows = out.clone().reshape([n, h * c]);
        trace::note_weighted_sum("propagate_heads", graph, x, Some(alpha), &rows);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use burn::tensor::Device;

    #[test]
    fn propagate_matches_dense_adjacency_product() {
        let d = Device::flex();
        let (src, dst) = ([0, 1, 2, 2, 0], [1, 2, 0, 1, 1]);
        let w = [0.5, 2.0, 1.5, -1.0, 3.0];
        let g = Graph::new(&src, &dst, 4, &d)
            .unwrap()
            .with_edge_weights(&w)
            .unwrap();
        let x = seeded_values(8, 7);
        let out = to_vec(propagate_weighted(tensor2(&x, [4, 2], &d), &g));
        let mut want = vec![0.0f32; 8];
        for e in 0..5 {
            for c in 0..2 {
                want[dst[e] * 2 + c] += w[e] * x[src[e] * 2 + c];
            }
        }
        assert_close(&out, &want, 1e-6, "A x");
    }

    #[test]
    fn softmax_aggregation_weights_each_channel_by_its_softmax() {
        let d = Device::flex();
        // Node 1 receives 3 messages, node 0 one, node 2 none.
        let g = Graph::new(&[0, 2, 2, 1], &[1, 1, 1, 0], 3, &d).unwrap();
        let m = seeded_values(4 * 2, 11);
        let t = 2.0f32;
        let out = to_vec(aggregate(
            tensor2(&m, [4, 2], &d),
            &g,
            SoftmaxAggregation { t: t as f64 },
        ));
        let mut want = vec![0.0f32; 6];
        for c in 0..2 {
            let into_1: Vec<f32> = (0..3).map(|e| m[e * 2 + c]).collect();
            let z: f32 = into_1.iter().map(|v| (t * v).exp()).sum();
            want[2 + c] = into_1.iter().map(|v| (t * v).exp() / z * v).sum();
            want[c] = m[3 * 2 + c];
        }
        assert_close(&out, &want, 1e-6, "softmax aggregation");
        // A user's aggregator works wherever the library's do.
        struct SumOfSquares;
        impl Aggregator for SumOfSquares {
            fn reduce<const D: usize>(
                &self,
                values: Tensor<D>,
                ids: &Tensor<1, Int>,
                num_segments: usize,
            ) -> Tensor<D> {
                segment_sum(values.clone() * values, ids, num_segments)
            }
        }
        let sq = to_vec(aggregate(tensor2(&m, [4, 2], &d), &g, SumOfSquares));
        let want: f32 = (0..3).map(|e| m[e * 2] * m[e * 2]).sum();
        assert_close(&sq[2..3], &[want], 1e-6, "user aggregator");
    }

    #[test]
    fn relabelling_nodes_permutes_the_output() {
        // out(P graph, P x) = P out(graph, x) for every aggregation.
        let d = Device::flex();
        let (src, dst) = ([0, 1, 2, 2, 3, 3], [1, 2, 0, 1, 1, 0]);
        let perm = [2, 0, 3, 1]; // old node i becomes perm[i]
        let g = Graph::new(&src, &dst, 4, &d).unwrap();
        let pg = Graph::new(&src.map(|s| perm[s]), &dst.map(|t| perm[t]), 4, &d).unwrap();
        let m = seeded_values(6 * 3, 8);
        for aggr in [
            Aggregation::Sum,
            Aggregation::Mean,
            Aggregation::Max,
            Aggregation::Min,
        ] {
            let out = to_vec(aggregate(tensor2(&m, [6, 3], &d), &g, aggr));
            let pout = to_vec(aggregate(tensor2(&m, [6, 3], &d), &pg, aggr));
            for i in 0..4 {
                assert_eq!(
                    out[i * 3..i * 3 + 3],
                    pout[perm[i] * 3..perm[i] * 3 + 3],
                    "{aggr:?}"
                );
            }
        }
    }
}
