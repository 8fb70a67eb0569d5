//! Turning recording on and off, and the hooks the primitives call.

use std::cell::RefCell;

use burn::tensor::Tensor;

use super::stats::{HostStep, Messages, Reduce, row_norms};
use super::step::{Step, Trace, resolve_edges};
use crate::Graph;
use crate::message_passing::Aggregation;

/// How much a recording may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceOptions {
    /// The most bytes the recorded columns may take (about `32 + 4·heads` per edge and 16 per
    /// node and step). Beyond it, a step keeps the messages of a seeded random fraction of its
    /// target nodes.
    pub budget_bytes: usize,
    /// Seed of that choice.
    pub seed: u64,
}

impl Default for TraceOptions {
    /// 512 MiB, seed 0.
    fn default() -> Self {
        TraceOptions {
            budget_bytes: 512 << 20,
            seed: 0,
        }
    }
}

/// The recording in progress on this thread.
struct Recorder {
    options: TraceOptions,
    used: usize,
    steps: Vec<Step>,
    /// The last attention coefficients `(edges, heads, [E, heads])`, for the aggregation over
    /// the same edges that follows.
    attention: Option<(usize, usize, Vec<f32>)>,
    /// Whether aggregations scale their messages by tracked masks ([`record_influence`]).
    masking: bool,
    /// The masks handed out, with the step each belongs to.
    masks: Vec<(usize, Tensor<1>)>,
}

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// Whether a [`record`] is running on this thread.
pub fn recording() -> bool {
    RECORDER.with(|r| r.borrow().is_some())
}

/// Runs `run` (a forward pass over `graph`) with recording on, and returns its result with the
/// [`Trace`] of every aggregation it made, its edges resolved against `graph`'s. Recordings
/// nest: an inner one sees only its own steps.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use gnn_models::Graph;
/// use gnn_models::layers::GcnConvConfig;
/// use gnn_models::trace::{TraceOptions, record};
///
/// let device = Device::flex();
/// let graph = Graph::new(&[0, 1, 1, 2], &[1, 0, 2, 1], 3, &device)?;
/// let conv = GcnConvConfig::new(2, 4).init(&device);
/// let x = Tensor::<2>::ones([3, 2], &device);
/// let (h, trace) = record(&graph, TraceOptions::default(), || conv.forward(x, &graph));
/// assert_eq!(h.dims(), [3, 4]);
/// // One step: 4 edges and 3 self-loops, each with its normalised weight.
/// assert_eq!(trace.steps[0].len(), 7);
/// assert_eq!(trace.steps[0].edge[..4], [Some(0), Some(1), Some(2), Some(3)]);
/// # Ok::<(), gnn_models::GraphError>(())
/// ```
pub fn record<R>(graph: &Graph, options: TraceOptions, run: impl FnOnce() -> R) -> (R, Trace) {
    let (out, rec) = recording_of(options, false, run);
    (out, finish(graph, options, rec.steps))
}

/// [`record`], and the **influence** of every message on `node`'s predicted output: each
/// step's messages are scaled by a mask `μ_e = 1` that the forward pass tracks, and
/// [`Step::influence`] is `∂y/∂μ_e`, `y` the largest entry of `node`'s output row — how much
/// the prediction would move per unit of that message (an edge-mask saliency). `run` must
/// compute on an autodiff device (`Device::autodiff`) with dropout off (a frozen model);
/// elsewhere the influence stays `None`. `node` must be a row of the output. An error of `run`
/// is returned as it is.
pub fn record_influence<E>(
    graph: &Graph,
    options: TraceOptions,
    node: usize,
    run: impl FnOnce() -> Result<Tensor<2>, E>,
) -> Result<(Tensor<2>, Trace), E> {
    let (out, rec) = recording_of(options, true, run);
    let out = out?;
    let mut steps = rec.steps;
    let [_, c] = out.dims();
    if !rec.masks.is_empty() && c > 0 {
        let row = out.clone().slice([node..node + 1, 0..c]);
        let best = host(row.clone()).map_or(0, |v| {
            (0..v.len()).fold(0, |b, k| if v[k] > v[b] { k } else { b })
        });
        let grads = row.slice([0..1, best..best + 1]).sum().backward();
        for (step, mask) in rec.masks {
            let (Some(step), Some(g)) = (steps.get_mut(step), mask.grad(&grads)) else {
                continue;
            };
            if let Some(g) = host(g) {
                step.influence = Some(step.position.iter().map(|&p| g[p as usize]).collect());
            }
        }
    }
    Ok((out, finish(graph, options, steps)))
}

/// The trace of `steps`, their edges resolved against `graph`'s.
fn finish(graph: &Graph, options: TraceOptions, mut steps: Vec<Step>) -> Trace {
    resolve_edges(&mut steps, graph.host_src(), graph.host_dst());
    Trace {
        steps,
        num_nodes: graph.num_nodes(),
        num_edges: graph.num_edges(),
        budget_bytes: options.budget_bytes,
    }
}

/// Runs `run` with a fresh recorder (masking messages when `masks`), then puts the outer one
/// back, also when `run` panics.
fn recording_of<R>(options: TraceOptions, masks: bool, run: impl FnOnce() -> R) -> (R, Recorder) {
    /// Puts the outer recording (or none) back.
    struct Restore(Option<Option<Recorder>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                RECORDER.with(|r| *r.borrow_mut() = previous);
            }
        }
    }
    let fresh = Recorder {
        options,
        used: 0,
        steps: Vec::new(),
        attention: None,
        masking: masks,
        masks: Vec::new(),
    };
    let _restore = Restore(Some(RECORDER.with(|r| r.replace(Some(fresh)))));
    let out = run();
    let rec = RECORDER
        .with(|r| r.borrow_mut().take())
        .expect("the recorder stays in place while `run` runs");
    (out, rec)
}

/// Influence recording: a mask `μ = 1` `[E]` over `graph`'s edges, tracked by autodiff, for
/// the aggregation about to run (it becomes the next step) to scale its messages by; `None`
/// when not recording influence or not on an autodiff device.
pub(crate) fn edge_mask(graph: &Graph) -> Option<Tensor<1>> {
    let mut mask = None;
    with_recorder(|rec| {
        let device = graph.device();
        if rec.masking && device.is_autodiff() {
            let m = Tensor::<1>::ones([graph.num_edges()], &device).require_grad();
            rec.masks.push((rec.steps.len(), m.clone()));
            mask = Some(m);
        }
    });
    mask
}

/// Runs `f` on the recording, if one is running.
fn with_recorder(f: impl FnOnce(&mut Recorder)) {
    RECORDER.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            f(rec)
        }
    })
}

/// A tensor's values on the host as `f32`, `None` for a dtype that does not convert.
fn host<const D: usize>(t: Tensor<D>) -> Option<Vec<f32>> {
    t.into_data().try_into_vec_as::<f32>().ok()
}

/// Records a weighted sum of source rows: `out[i] = Σ_{e → i} w[e, h] · x[src[e], h-th chunk]`
/// (`propagate_weighted`: `H = 1`; `propagate_heads`: the attention's heads).
///
/// # Shapes
/// - `x`: `[N_s, K]`; `weight`: `[E, H]` (`None`: all 1); `out`: `[N, K]`
pub(crate) fn note_weighted_sum(
    op: &'static str,
    graph: &Graph,
    x: Tensor<2>,
    weight: Option<Tensor<2>>,
    out: &Tensor<2>,
) {
    with_recorder(|rec| {
        let (Some(x), Some(out_host)) = (host(x), host(out.clone())) else {
            return;
        };
        let (heads, w) = match weight {
            Some(w) => {
                let [_, heads] = w.dims();
                match host(w) {
                    Some(w) => (heads, w),
                    None => return,
                }
            }
            None => (1, vec![1.0; graph.num_edges()]),
        };
        // The coefficients are the attention of a per-head sum that no softmax announced.
        let own_attention =
            (op == "propagate_heads").then(|| (graph.num_edges(), heads, w.clone()));
        let reduce = Reduce::Weighted { w, heads };
        let k = out.dims()[1];
        rec.push(
            op,
            "weighted sum",
            graph,
            &x,
            true,
            &out_host,
            k,
            &reduce,
            own_attention,
        );
    })
}

/// Records an aggregation (`aggr`: `None` for a user's aggregator) of per-edge messages or of
/// gathered source rows.
///
/// # Shapes
/// - `messages`: `[E, K]` or `[N_s, K]` rows; `out`: `[N, K]`
pub(crate) fn note_aggregation(
    op: &'static str,
    graph: &Graph,
    messages: Messages,
    aggr: Option<Aggregation>,
    out: &Tensor<2>,
) {
    with_recorder(|rec| {
        let (x, by_source) = match messages {
            Messages::Rows(x) => (x, true),
            Messages::Edges(m) => (m, false),
        };
        let (Some(x), Some(out_host)) = (host(x), host(out.clone())) else {
            return;
        };
        let (name, reduce) = match aggr {
            Some(Aggregation::Sum) => ("sum", Reduce::Sum),
            Some(Aggregation::Mean) => ("mean", Reduce::Mean),
            Some(Aggregation::Max) => ("max", Reduce::Max),
            Some(Aggregation::Min) => ("min", Reduce::Min),
            None => ("custom", Reduce::Custom),
        };
        let k = out.dims()[1];
        rec.push(op, name, graph, &x, by_source, &out_host, k, &reduce, None);
    })
}

/// Records attention coefficients `[E, H]` over `graph`'s edges, for the aggregation that
/// follows.
pub(crate) fn note_attention(graph: &Graph, alpha: &Tensor<2>) {
    with_recorder(|rec| {
        let [e, heads] = alpha.dims();
        if let Some(a) = host(alpha.clone()) {
            rec.attention = (e == graph.num_edges()).then_some((e, heads, a));
        }
    })
}

/// Reports a node update `h → h_new` (both `[N, F]`) of the nodes the last step aggregated at:
/// the trace keeps `‖h_new_i − h_i‖` per node. The library's GRU update reports it; a user's
/// update calls this to appear in the trace. Does nothing unless recording, or when the shapes
/// do not match the last step's nodes.
pub fn note_update(h: &Tensor<2>, h_new: &Tensor<2>) {
    if !recording() || h.dims() != h_new.dims() {
        return;
    }
    let [n, k] = h.dims();
    let Some(diff) = host(h_new.clone() - h.clone()) else {
        return;
    };
    with_recorder(|rec| {
        if let Some(step) = rec.steps.last_mut().filter(|s| s.num_nodes == n) {
            step.update_change = Some(row_norms(&diff, k));
        }
    })
}

/// Reports a GRU's update gate `z` (`[N, F]`) for the nodes the last step aggregated at: the
/// trace keeps the mean gate per node.
pub fn note_update_gate(z: &Tensor<2>) {
    if !recording() {
        return;
    }
    let [n, k] = z.dims();
    let Some(z) = host(z.clone()) else {
        return;
    };
    with_recorder(|rec| {
        if let Some(step) = rec.steps.last_mut().filter(|s| s.num_nodes == n) {
            let mean = z.chunks(k.max(1)).map(|r| r.iter().sum::<f32>() / k as f32);
            step.update_gate = Some(mean.collect());
        }
    })
}

impl Recorder {
    /// Adds a step: the budget decides which targets' messages are kept, then their columns
    /// are computed from the host copies.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        op: &'static str,
        aggregation: &'static str,
        graph: &Graph,
        x: &[f32],
        by_source: bool,
        out: &[f32],
        k: usize,
        reduce: &Reduce,
        own_attention: Option<(usize, usize, Vec<f32>)>,
    ) {
        let (n, e) = (graph.num_nodes(), graph.num_edges());
        let dst = graph.host_dst();
        let mut in_degree = vec![0u32; n];
        for &i in dst {
            in_degree[i as usize] += 1;
        }
        let attention = match self.attention.take() {
            Some(a) if a.0 == e => Some(a),
            _ => own_attention,
        };
        let heads = attention.as_ref().map_or(0, |a| a.1);
        // The budget: every target's messages if they fit, else a seeded random fraction.
        let (per_edge, per_node) = (32 + 4 * heads, 16);
        let room = self
            .options
            .budget_bytes
            .saturating_sub(self.used + per_node * n);
        let kept_fraction = if e * per_edge <= room {
            1.0
        } else {
            room as f64 / (e * per_edge) as f64
        };
        let step_no = self.steps.len() as u64;
        let seed = self.options.seed;
        let keep_node = |i: u32| kept_fraction >= 1.0 || unit(seed, step_no, i) < kept_fraction;
        let keep: Vec<usize> = (0..e).filter(|&p| keep_node(dst[p])).collect();
        let host = HostStep {
            x,
            rows: by_source.then_some(graph.host_src()),
            dst,
            out,
            k,
            in_degree: &in_degree,
        };
        let stats = host.edge_stats(&keep, reduce);
        let sources = graph.message_sources();
        let step = Step {
            op,
            aggregation,
            num_nodes: n,
            num_edges: e,
            kept_fraction,
            position: keep.iter().map(|&p| p as u32).collect(),
            edge: vec![None; keep.len()],
            src: keep.iter().map(|&p| sources[p]).collect(),
            dst: keep.iter().map(|&p| dst[p]).collect(),
            relation: graph
                .host_edge_type()
                .map(|t| keep.iter().map(|&p| t[p]).collect()),
            norm: stats.norm,
            weight: stats.weight,
            share: stats.share,
            won: stats.won,
            heads,
            attention: attention.map(|(_, h, a)| {
                keep.iter()
                    .flat_map(|&p| a[p * h..(p + 1) * h].iter().copied())
                    .collect()
            }),
            aggregate_norm: row_norms(out, k),
            in_degree: if kept_fraction >= 1.0 {
                in_degree
            } else {
                let mut d = vec![0; n];
                keep.iter().for_each(|&p| d[dst[p] as usize] += 1);
                d
            },
            update_change: None,
            update_gate: None,
            influence: None,
        };
        self.used += keep.len() * per_edge + per_node * n;
        self.steps.push(step);
    }
}

/// A uniform number in `[0, 1)` from `(seed, step, node)` (SplitMix64's finaliser).
fn unit(seed: u64, step: u64, node: u32) -> f64 {
    let mut z = seed
        ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (node as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}
