//! [`Trace`] and [`Step`]: the recorded message flow, on the host.

use std::collections::HashMap;

use serde::Serialize;

/// The message flow of one forward pass: one [`Step`] per aggregation, in call order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trace {
    /// The steps, in the order the forward pass made them.
    pub steps: Vec<Step>,
    /// Nodes of the traced graph.
    pub num_nodes: usize,
    /// Edges of the traced graph.
    pub num_edges: usize,
    /// The byte budget the recording ran under.
    pub budget_bytes: usize,
}

/// One aggregation of a forward pass (see the [module documentation](super) for the
/// definitions). Edge columns have one entry per kept edge, node columns one per target node
/// `0..num_nodes` (a node that was not kept under the budget or a focus has `in_degree` 0 and
/// no messages).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Step {
    /// The primitive: `propagate_weighted`, `propagate_heads`, `aggregate` or
    /// `aggregate_sources`.
    pub op: &'static str,
    /// The reduction: `weighted sum`, `sum`, `mean`, `max`, `min` or `custom`.
    pub aggregation: &'static str,
    /// Target nodes of the step's graph.
    pub num_nodes: usize,
    /// Edges of the step's graph (before the budget or a focus kept some).
    pub num_edges: usize,
    /// The fraction of target nodes whose messages were kept under the budget (1 when all).
    pub kept_fraction: f64,
    /// Position of each kept edge in the step's graph.
    pub position: Vec<u32>,
    /// The input edge each kept edge is, `None` for an edge a layer added (a self-loop).
    pub edge: Vec<Option<u32>>,
    /// The node each kept edge's message came from.
    pub src: Vec<u32>,
    /// The node each kept edge's message went to.
    pub dst: Vec<u32>,
    /// Relation type of each kept edge, where the step's graph is typed.
    pub relation: Option<Vec<u32>>,
    /// `‖c_e m_e‖` (weighted sums) or `‖m_e‖` (aggregations) per kept edge.
    pub norm: Vec<f32>,
    /// The coefficient `c_e` per kept edge; `None` for max, min and user aggregations.
    pub weight: Option<Vec<f32>>,
    /// The message's share of its target's aggregate; `None` for user aggregations.
    pub share: Option<Vec<f32>>,
    /// Max and min: whether the message won at least one channel.
    pub won: Option<Vec<bool>>,
    /// Attention heads (0 when the step has no attention).
    pub heads: usize,
    /// Attention coefficients `[kept, heads]`, row-major.
    pub attention: Option<Vec<f32>>,
    /// Incoming edges per target node `[N]`.
    pub in_degree: Vec<u32>,
    /// `‖out_i‖` per target node `[N]`.
    pub aggregate_norm: Vec<f32>,
    /// `‖h'_i − h_i‖` per node, where an update reported it.
    pub update_change: Option<Vec<f32>>,
    /// The GRU's mean update gate per node, where a GRU update reported it.
    pub update_gate: Option<Vec<f32>>,
    /// Per kept edge, `∂y/∂μ_e`: the influence of the message on the output
    /// [`record_influence`](super::record_influence) was asked about.
    pub influence: Option<Vec<f32>>,
}

impl Step {
    /// Number of kept edges.
    pub fn len(&self) -> usize {
        self.src.len()
    }

    /// Whether no edge was kept.
    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    /// The step with only the kept edges `keep` (positions into the edge columns).
    fn select(&self, keep: &[usize]) -> Step {
        let pick = |v: &[f32]| keep.iter().map(|&k| v[k]).collect::<Vec<_>>();
        let mut in_degree = vec![0u32; self.num_nodes];
        for &k in keep {
            in_degree[self.dst[k] as usize] += 1;
        }
        Step {
            position: keep.iter().map(|&k| self.position[k]).collect(),
            edge: keep.iter().map(|&k| self.edge[k]).collect(),
            src: keep.iter().map(|&k| self.src[k]).collect(),
            dst: keep.iter().map(|&k| self.dst[k]).collect(),
            relation: self
                .relation
                .as_ref()
                .map(|r| keep.iter().map(|&k| r[k]).collect()),
            norm: pick(&self.norm),
            weight: self.weight.as_deref().map(pick),
            share: self.share.as_deref().map(pick),
            influence: self.influence.as_deref().map(pick),
            won: self
                .won
                .as_ref()
                .map(|w| keep.iter().map(|&k| w[k]).collect()),
            attention: self.attention.as_ref().map(|a| {
                let h = self.heads;
                keep.iter()
                    .flat_map(|&k| a[k * h..(k + 1) * h].iter().copied())
                    .collect()
            }),
            in_degree,
            ..self.clone()
        }
    }

    /// The attention of kept edge `k`, averaged over heads.
    pub fn mean_attention(&self, k: usize) -> Option<f32> {
        let a = self.attention.as_ref()?;
        let row = &a[k * self.heads..(k + 1) * self.heads];
        Some(row.iter().sum::<f32>() / self.heads as f32)
    }
}

impl Trace {
    /// The part of the trace that can reach `nodes`: in the last step the messages into them,
    /// and walking back, in each earlier step the messages into any node a later kept message
    /// came from (the receptive field of `nodes`, step by step).
    pub fn focus(&self, nodes: &[u32]) -> Trace {
        let mut wanted = vec![false; self.num_nodes.max(1)];
        for &v in nodes {
            if let Some(w) = wanted.get_mut(v as usize) {
                *w = true;
            }
        }
        let mut steps = Vec::with_capacity(self.steps.len());
        for step in self.steps.iter().rev() {
            let keep: Vec<usize> = (0..step.len())
                .filter(|&k| wanted.get(step.dst[k] as usize) == Some(&true))
                .collect();
            let kept = step.select(&keep);
            for &s in &kept.src {
                if let Some(w) = wanted.get_mut(s as usize) {
                    *w = true;
                }
            }
            steps.push(kept);
        }
        steps.reverse();
        Trace {
            steps,
            ..self.clone()
        }
    }

    /// The steps' total kept edges.
    pub fn num_rows(&self) -> usize {
        self.steps.iter().map(Step::len).sum()
    }
}

/// Each kept edge's input edge: the edge at the same position when its endpoints match there
/// (a layer that adds self-loops appends them), otherwise the first input edge with the same
/// endpoints, otherwise `None`.
pub(super) fn resolve_edges(steps: &mut [Step], input_src: &[u32], input_dst: &[u32]) {
    let mut by_pair: Option<HashMap<(u32, u32), u32>> = None;
    for step in steps {
        for k in 0..step.len() {
            let (p, s, d) = (step.position[k] as usize, step.src[k], step.dst[k]);
            step.edge[k] = if input_src.get(p) == Some(&s) && input_dst.get(p) == Some(&d) {
                Some(p as u32)
            } else {
                let map = by_pair.get_or_insert_with(|| {
                    let mut m = HashMap::with_capacity(input_src.len());
                    for (e, pair) in input_src.iter().zip(input_dst).enumerate() {
                        m.entry((*pair.0, *pair.1)).or_insert(e as u32);
                    }
                    m
                });
                map.get(&(s, d)).copied()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps on the path 0 → 1 → 2 → 3 with self-loops (positions 3.. are the loops).
    fn path_trace() -> Trace {
        let step = || {
            let src = vec![0, 1, 2, 0, 1, 2, 3];
            let dst = vec![1, 2, 3, 0, 1, 2, 3];
            Step {
                op: "aggregate",
                aggregation: "sum",
                num_nodes: 4,
                num_edges: 7,
                kept_fraction: 1.0,
                position: (0..7).collect(),
                edge: vec![None; 7],
                norm: vec![1.0; 7],
                weight: Some(vec![1.0; 7]),
                share: Some(vec![0.5; 7]),
                in_degree: vec![1, 2, 2, 2],
                aggregate_norm: vec![1.0; 4],
                src,
                dst,
                ..Step::default()
            }
        };
        let mut steps = vec![step(), step()];
        resolve_edges(&mut steps, &[0, 1, 2], &[1, 2, 3]);
        Trace {
            steps,
            num_nodes: 4,
            num_edges: 3,
            budget_bytes: 0,
        }
    }

    #[test]
    fn edges_resolve_to_input_ids_and_loops_to_none() {
        let t = path_trace();
        assert_eq!(
            t.steps[0].edge,
            [Some(0), Some(1), Some(2), None, None, None, None]
        );
    }

    #[test]
    fn focus_keeps_the_receptive_field_step_by_step() {
        let t = path_trace().focus(&[3]);
        // Last step: messages into 3 (from 2 and from itself).
        assert_eq!(
            (t.steps[1].src.clone(), t.steps[1].dst.clone()),
            (vec![2, 3], vec![3, 3])
        );
        // The step before: messages into 2 or 3.
        assert_eq!(t.steps[0].src, [1, 2, 2, 3]);
        assert_eq!(t.steps[0].in_degree, [0, 0, 2, 2]);
        assert_eq!(t.num_rows(), 6);
    }
}
