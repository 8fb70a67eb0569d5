//! Where information bottlenecks: betweenness centrality (`rustworkx-core`) of the graph the
//! messages actually used, against that of the plain graph.
//!
//! - *structural betweenness* of node `v`: the normalised betweenness (Brandes; endpoints
//!   excluded) in the directed graph of every pair `j → i`, `j ≠ i`, that carried a message in
//!   some step of the trace;
//! - *flow betweenness*: the same in the **flow backbone**, the pairs whose message carried at
//!   least a uniform share of its target's aggregate (`share ≥ 1 / in_degree(i)`) in some step —
//!   the routes the trained model relies on.
//!
//! A node whose flow betweenness far exceeds its structural one is a bottleneck the model made:
//! many of the messages it relies on pass through it, though the graph offers other routes.

use std::collections::HashMap;

use gnn_models::trace::Trace;
use rustworkx_core::centrality::betweenness_centrality;
use rustworkx_core::petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

/// Betweenness is `O(N·E)`: beyond this many nodes the analysis asks for a focus instead.
pub const MAX_NODES: usize = 50_000;

/// One node's two betweenness values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bottleneck {
    /// The node (dataset id).
    pub node: u32,
    /// Its betweenness in the flow backbone.
    pub flow: f64,
    /// Its betweenness in the structural graph.
    pub structural: f64,
}

/// The structural and flow betweenness of every node of the trace, `None` when the trace has
/// more than [`MAX_NODES`] nodes.
pub fn betweenness(trace: &Trace) -> Option<Vec<Bottleneck>> {
    let n = trace.num_nodes;
    if n > MAX_NODES {
        return None;
    }
    // Per pair: whether it ever carried a uniform share.
    let mut pairs: HashMap<(u32, u32), bool> = HashMap::new();
    for step in &trace.steps {
        for k in 0..step.len() {
            let (j, i) = (step.src[k], step.dst[k]);
            if j == i || j as usize >= n || i as usize >= n {
                continue;
            }
            let uniform = 1.0 / step.in_degree[i as usize].max(1) as f32;
            let strong = step.share.as_ref().is_none_or(|s| s[k] >= uniform);
            *pairs.entry((j, i)).or_default() |= strong;
        }
    }
    let mut sorted: Vec<((u32, u32), bool)> = pairs.into_iter().collect();
    sorted.sort_unstable();
    let graph = |keep: &dyn Fn(bool) -> bool| {
        let mut g = DiGraph::<(), ()>::with_capacity(n, sorted.len());
        for _ in 0..n {
            g.add_node(());
        }
        for &((j, i), strong) in &sorted {
            if keep(strong) {
                g.add_edge(NodeIndex::new(j as usize), NodeIndex::new(i as usize), ());
            }
        }
        g
    };
    let structural = betweenness_centrality(&graph(&|_| true), false, true, 50);
    let flow = betweenness_centrality(&graph(&|strong| strong), false, true, 50);
    Some(
        (0..n)
            .map(|v| Bottleneck {
                node: v as u32,
                flow: flow[v].unwrap_or(0.0),
                structural: structural[v].unwrap_or(0.0),
            })
            .collect(),
    )
}

/// The `k` nodes whose flow betweenness most exceeds their structural one, among those where
/// it is at least twice as large; largest excess first.
pub fn bottlenecks(all: &[Bottleneck], k: usize) -> Vec<Bottleneck> {
    let mut found: Vec<Bottleneck> = all
        .iter()
        .filter(|b| b.flow > 0.0 && b.flow >= 2.0 * b.structural)
        .cloned()
        .collect();
    found.sort_by(|a, b| {
        (b.flow - b.structural)
            .total_cmp(&(a.flow - a.structural))
            .then(a.node.cmp(&b.node))
    });
    found.truncate(k);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use gnn_models::trace::Step;

    /// One step over `pairs` (both directions of each), each message with share `share(j, i)`.
    fn trace(n: usize, pairs: &[(u32, u32)], share: impl Fn(u32, u32) -> f32) -> Trace {
        let (mut src, mut dst) = (Vec::new(), Vec::new());
        for &(a, b) in pairs {
            src.extend([a, b]);
            dst.extend([b, a]);
        }
        let mut in_degree = vec![0u32; n];
        dst.iter().for_each(|&i| in_degree[i as usize] += 1);
        let shares = src.iter().zip(&dst).map(|(&j, &i)| share(j, i)).collect();
        let e = src.len();
        let step = Step {
            num_nodes: n,
            num_edges: e,
            position: (0..e as u32).collect(),
            edge: vec![None; e],
            norm: vec![1.0; e],
            share: Some(shares),
            in_degree,
            src,
            dst,
            ..Step::default()
        };
        Trace {
            steps: vec![step],
            num_nodes: n,
            num_edges: e,
            budget_bytes: 0,
        }
    }

    #[test]
    fn structural_betweenness_of_a_path_is_the_known_one() {
        // 0 - 1 - 2 - 3 both ways: the inner nodes lie on 4 of the 12 ordered pairs' paths.
        let t = trace(4, &[(0, 1), (1, 2), (2, 3)], |_, _| 1.0);
        let b = betweenness(&t).unwrap();
        for (v, want) in [0.0, 4.0 / 6.0, 4.0 / 6.0, 0.0].into_iter().enumerate() {
            assert!((b[v].structural - want).abs() < 1e-12, "{v}: {b:?}");
            assert_eq!(b[v].flow, b[v].structural, "every message is strong");
        }
    }

    #[test]
    fn a_route_the_model_ignores_leaves_a_bottleneck() {
        // Triangles {0,1,2} and {4,5,6} joined through 3 (2-3-4) and through 7 (1-7-5); the
        // model's messages out of 7 carry almost nothing.
        let pairs = [
            (0, 1),
            (1, 2),
            (0, 2),
            (4, 5),
            (5, 6),
            (4, 6),
            (2, 3),
            (3, 4),
            (1, 7),
            (7, 5),
        ];
        let t = trace(8, &pairs, |j, _| if j == 7 { 0.01 } else { 0.9 });
        let all = betweenness(&t).unwrap();
        assert!(all[3].flow > all[3].structural);
        let found = bottlenecks(&all, 3);
        assert_eq!(found[0].node, 3, "{found:?}");
        assert!(found.iter().all(|b| b.node != 7));
    }
}
