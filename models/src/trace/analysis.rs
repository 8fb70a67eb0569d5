//! Reading a [`Trace`]: the history of a node's messages and the health of each step.

use serde::Serialize;

use super::step::{Step, Trace};

/// A chain of messages ending at a node: `nodes[0] → nodes[1] → … → nodes[L]`, one message per
/// step, weighted by the product of their shares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Path {
    /// The nodes, from the first sender to the node asked about; `nodes.len() = steps + 1`.
    pub nodes: Vec<u32>,
    /// The input edge of each message (`None` for an added self-loop).
    pub edges: Vec<Option<u32>>,
    /// The relation of each message, where its step's graph is typed.
    pub relations: Vec<Option<u32>>,
    /// `Π share` over the path's messages.
    pub weight: f64,
}

/// The `k` chains of messages that carried the most to `node` over all the trace's steps:
/// walking back from the last step, each message into the chain's current node extends it, and
/// a chain weighs the product of its messages' shares (sums and means: the projection share,
/// so the weights of all chains into a node add up to 1 when every aggregate is non-zero; max
/// and min: the fraction of channels won). Ranked by `|weight|`, ties by node ids.
///
/// Exact while at most `beam` partial chains live at each step; beyond that the `beam`
/// heaviest are kept (a beam search). Steps without shares (user aggregations) weigh each
/// message 1.
pub fn history(trace: &Trace, node: u32, k: usize, beam: usize) -> Vec<Path> {
    let mut paths = vec![Path {
        nodes: vec![node],
        edges: Vec::new(),
        relations: Vec::new(),
        weight: 1.0,
    }];
    for step in trace.steps.iter().rev() {
        let incoming = by_target(step);
        let mut next = Vec::new();
        for p in &paths {
            let head = p.nodes[0] as usize;
            for &m in incoming.get(head).map_or(&[][..], |v| &v[..]) {
                let share = step.share.as_ref().map_or(1.0, |s| s[m] as f64);
                let mut nodes = Vec::with_capacity(p.nodes.len() + 1);
                nodes.push(step.src[m]);
                nodes.extend_from_slice(&p.nodes);
                let mut edges = Vec::with_capacity(p.edges.len() + 1);
                edges.push(step.edge[m]);
                edges.extend_from_slice(&p.edges);
                let mut relations = Vec::with_capacity(p.relations.len() + 1);
                relations.push(step.relation.as_ref().map(|r| r[m]));
                relations.extend_from_slice(&p.relations);
                next.push(Path {
                    nodes,
                    edges,
                    relations,
                    weight: p.weight * share,
                });
            }
        }
        rank(&mut next);
        next.truncate(beam.max(k));
        paths = next;
    }
    rank(&mut paths);
    paths.truncate(k);
    paths
}

/// Per step and kept edge, the flow of shares the message carries to `node`: walking back from
/// the last step, a message `j → v` carries `flow(v) · share`, and `flow(j)` is what `j`'s
/// messages of that step carry (`flow(node) = 1` at the last step). The sum over the chains of
/// [`history`] through the message, without a beam. Steps without shares give each message 1.
pub fn message_flow(trace: &Trace, node: u32) -> Vec<Vec<f64>> {
    let mut flow = std::collections::HashMap::from([(node, 1.0f64)]);
    let mut out = Vec::with_capacity(trace.steps.len());
    for step in trace.steps.iter().rev() {
        let mut next = std::collections::HashMap::new();
        let carried: Vec<f64> = (0..step.len())
            .map(|m| {
                let f = flow.get(&step.dst[m]).copied().unwrap_or(0.0);
                let c = f * step.share.as_ref().map_or(1.0, |s| s[m] as f64);
                if c != 0.0 {
                    *next.entry(step.src[m]).or_insert(0.0) += c;
                }
                c
            })
            .collect();
        out.push(carried);
        flow = next;
    }
    out.reverse();
    out
}

/// Heaviest first; ties by the node sequence.
fn rank(paths: &mut [Path]) {
    paths.sort_by(|a, b| {
        b.weight
            .abs()
            .total_cmp(&a.weight.abs())
            .then_with(|| a.nodes.cmp(&b.nodes))
            .then_with(|| a.relations.cmp(&b.relations))
    });
}

/// The kept edges into each node, by target.
fn by_target(step: &Step) -> Vec<Vec<usize>> {
    let mut incoming = vec![Vec::new(); step.num_nodes];
    for (m, &d) in step.dst.iter().enumerate() {
        incoming[d as usize].push(m);
    }
    incoming
}

/// Summary of one step's messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerHealth {
    /// Step number (0-based, call order).
    pub step: usize,
    /// The primitive and its reduction, as in [`Step`].
    pub op: String,
    /// Kept edges.
    pub edges: usize,
    /// Message norms: minimum, 25th, 50th, 75th percentile, maximum (nearest rank).
    pub norm_quantiles: [f32; 5],
    /// Mean message norm.
    pub norm_mean: f32,
    /// Max and min: the fraction of edges whose message never won a channel.
    pub never_won: Option<f64>,
    /// Per head, the mean over targets with at least two incoming edges of the attention's
    /// entropy divided by the uniform one (`−Σ α log α / log deg`): 1 is uniform attention,
    /// near 0 attention on a single neighbour.
    pub attention_entropy: Vec<f64>,
    /// Mean of the update's `‖h' − h‖` over nodes, where the step has one.
    pub update_change: Option<f64>,
    /// Mean GRU update gate over nodes, where the step has one.
    pub update_gate: Option<f64>,
}

/// The [`LayerHealth`] of every step.
pub fn layer_health(trace: &Trace) -> Vec<LayerHealth> {
    trace
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| step_health(i, step))
        .collect()
}

fn step_health(index: usize, step: &Step) -> LayerHealth {
    let mut norms = step.norm.clone();
    norms.sort_by(f32::total_cmp);
    let q = |f: f64| match norms.len() {
        0 => 0.0,
        n => norms[((f * (n - 1) as f64).round() as usize).min(n - 1)],
    };
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64;
    let never_won = step
        .won
        .as_ref()
        .map(|w| w.iter().filter(|&&won| !won).count() as f64 / w.len().max(1) as f64);
    LayerHealth {
        step: index,
        op: format!("{} ({})", step.op, step.aggregation),
        edges: step.len(),
        norm_quantiles: [q(0.0), q(0.25), q(0.5), q(0.75), q(1.0)],
        norm_mean: mean(&step.norm) as f32,
        never_won,
        attention_entropy: attention_entropy(step),
        update_change: step.update_change.as_deref().map(mean),
        update_gate: step.update_gate.as_deref().map(mean),
    }
}

/// Per head, the mean normalised entropy of the attention over targets with two or more
/// incoming edges.
fn attention_entropy(step: &Step) -> Vec<f64> {
    let Some(a) = &step.attention else {
        return Vec::new();
    };
    let h = step.heads;
    let incoming = by_target(step);
    (0..h)
        .map(|head| {
            let (mut total, mut count) = (0.0, 0usize);
            for edges in incoming.iter().filter(|e| e.len() >= 2) {
                let entropy: f64 = edges
                    .iter()
                    .map(|&m| a[m * h + head] as f64)
                    .filter(|&p| p > 0.0)
                    .map(|p| -p * p.ln())
                    .sum();
                total += entropy / (edges.len() as f64).ln();
                count += 1;
            }
            if count == 0 {
                1.0
            } else {
                total / count as f64
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Star: leaves 1, 2, 3 send to 0 with shares 0.5, 0.3, 0.2 in both steps; node 0 sends
    /// nothing; leaves receive from nobody.
    fn star() -> Trace {
        let step = Step {
            op: "aggregate",
            aggregation: "sum",
            num_nodes: 4,
            num_edges: 3,
            kept_fraction: 1.0,
            position: vec![0, 1, 2],
            edge: vec![Some(0), Some(1), Some(2)],
            src: vec![1, 2, 3],
            dst: vec![0, 0, 0],
            norm: vec![1.0, 2.0, 3.0],
            share: Some(vec![0.5, 0.3, 0.2]),
            heads: 1,
            attention: Some(vec![0.5, 0.3, 0.2]),
            in_degree: vec![3, 0, 0, 0],
            aggregate_norm: vec![1.0, 0.0, 0.0, 0.0],
            ..Step::default()
        };
        Trace {
            steps: vec![step],
            num_nodes: 4,
            num_edges: 3,
            budget_bytes: 0,
        }
    }

    #[test]
    fn history_ranks_chains_by_the_product_of_shares() {
        let paths = history(&star(), 0, 2, 100);
        assert_eq!(paths.len(), 2);
        assert_eq!(paths[0].nodes, [1, 0]);
        assert_eq!(paths[0].weight, 0.5f32 as f64);
        assert_eq!(paths[1].nodes, [2, 0]);
        // Two steps: leaves receive nothing, so no chain of length 2 exists.
        let mut two = star();
        two.steps.push(two.steps[0].clone());
        assert!(history(&two, 0, 5, 100).is_empty());
    }

    #[test]
    fn message_flow_sums_the_chains_through_each_message() {
        // Two steps of the star: into 0 the leaves carry their shares in the last step; in the
        // first step nothing reaches the leaves, so no message carries flow.
        let mut two = star();
        two.steps.push(two.steps[0].clone());
        let flow = message_flow(&two, 0);
        assert_eq!(flow[1], [0.5f32 as f64, 0.3f32 as f64, 0.2f32 as f64]);
        assert_eq!(flow[0], [0.0; 3]);
    }

    #[test]
    fn health_reports_quantiles_and_entropy() {
        let h = &layer_health(&star())[0];
        assert_eq!(h.norm_quantiles, [1.0, 2.0, 2.0, 3.0, 3.0]);
        let p = [0.5f64, 0.3, 0.2];
        let want = -p
            .iter()
            .map(|&x| (x as f32 as f64) * (x as f32 as f64).ln())
            .sum::<f64>()
            / 3f64.ln();
        assert!((h.attention_entropy[0] - want).abs() < 1e-9);
        assert!(h.never_won.is_none());
    }
}
