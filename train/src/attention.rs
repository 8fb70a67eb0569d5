//! Where attention went: the per-edge, per-head coefficients of a trained attention model,
//! written as CSV, and a short summary of the most concentrated nodes — a view of the
//! [message trace](gnn_models::trace)'s attention columns.

use std::fmt::Write as _;
use std::path::Path;

use gnn_models::trace::Step;

use crate::TrainError;
use crate::output::write_atomic;

/// The attention of one layer, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerAttention {
    /// 1-based layer number.
    pub layer: usize,
    /// Source of each edge.
    pub src: Vec<u32>,
    /// Target of each edge.
    pub dst: Vec<u32>,
    /// Heads.
    pub heads: usize,
    /// Coefficients, row-major `[E, heads]`.
    pub alpha: Vec<f32>,
}

impl LayerAttention {
    /// The attention of a traced step (empty for a step without attention).
    pub fn from_step(layer: usize, step: &Step) -> Self {
        LayerAttention {
            layer,
            src: step.src.clone(),
            dst: step.dst.clone(),
            heads: step.heads,
            alpha: step.attention.clone().unwrap_or_default(),
        }
    }

    /// Mean over heads of edge `e`'s coefficient.
    pub fn mean_alpha(&self, e: usize) -> f32 {
        let row = &self.alpha[e * self.heads..(e + 1) * self.heads];
        row.iter().sum::<f32>() / self.heads as f32
    }
}

/// Writes `source,target,head,layer,coefficient` rows for every layer, edge and head.
pub fn write_csv(path: &Path, layers: &[LayerAttention]) -> Result<(), TrainError> {
    let rows: usize = layers.iter().map(|l| l.alpha.len()).sum();
    let mut out = String::with_capacity(32 * rows + 64);
    out.push_str("source,target,head,layer,coefficient\n");
    for l in layers {
        for e in 0..l.src.len() {
            for h in 0..l.heads {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{:.6}",
                    l.src[e],
                    l.dst[e],
                    h,
                    l.layer,
                    l.alpha[e * l.heads + h]
                );
            }
        }
    }
    write_atomic(path, out.as_bytes())
}

/// The `k` nodes whose incoming attention (mean over heads) is most concentrated, measured as
/// the largest coefficient over the uniform one (`max_j α_ji · deg(i)`; 1 means uniform), among
/// nodes with at least three incoming edges (self-loop included), with the neighbours they
/// attend to most.
pub fn summary(layer: &LayerAttention, k: usize) -> String {
    let n = layer.dst.iter().map(|&d| d as usize + 1).max().unwrap_or(0);
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (e, &d) in layer.dst.iter().enumerate() {
        incoming[d as usize].push(e);
    }
    let mut ranked: Vec<(usize, f32)> = incoming
        .iter()
        .enumerate()
        .filter(|(_, es)| es.len() >= 3)
        .map(|(i, es)| {
            let max = es.iter().map(|&e| layer.mean_alpha(e)).fold(0.0, f32::max);
            (i, max * es.len() as f32)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut s = format!(
        "attention of layer {} (mean over {} heads): the {k} nodes with the most concentrated attention\n",
        layer.layer, layer.heads
    );
    for &(i, factor) in ranked.iter().take(k) {
        let mut es = incoming[i].clone();
        es.sort_by(|&a, &b| layer.mean_alpha(b).total_cmp(&layer.mean_alpha(a)));
        let top: Vec<String> = es
            .iter()
            .take(3)
            .map(|&e| {
                let j = layer.src[e];
                let who = if j as usize == i {
                    format!("{j} (self)")
                } else {
                    j.to_string()
                };
                format!("{who} {:.2}", layer.mean_alpha(e))
            })
            .collect();
        let _ = writeln!(
            s,
            "  node {i} ({} incoming edges, top weight {factor:.1}x uniform): {}",
            incoming[i].len(),
            top.join(", ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> LayerAttention {
        // Node 0 receives from 0, 1, 2 (concentrated on 2); node 1 from 1, 0, 2 (uniform).
        LayerAttention {
            layer: 1,
            src: vec![0, 1, 2, 1, 0, 2],
            dst: vec![0, 0, 0, 1, 1, 1],
            heads: 2,
            alpha: vec![0.1, 0.1, 0.1, 0.1, 0.8, 0.8, 0.3, 0.4, 0.3, 0.3, 0.4, 0.3],
        }
    }

    #[test]
    fn summary_ranks_by_concentration() {
        let s = summary(&layer(), 2);
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[1].contains("node 0") && lines[1].contains("2 0.80"),
            "{s}"
        );
        assert!(lines[2].contains("node 1"), "{s}");
    }

    #[test]
    fn csv_has_a_row_per_edge_and_head() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("att.csv");
        write_csv(&p, &[layer()]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 1 + 12);
        assert!(text.lines().nth(5).unwrap().starts_with("2,0,0,1,0.8"));
    }
}
