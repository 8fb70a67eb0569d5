//! The per-edge quantities of a step, computed on the host from the step's tensors.

use burn::tensor::Tensor;

/// What a step aggregated: rows of a node table gathered at each edge's source, or one
/// message per edge.
pub(crate) enum Messages {
    /// `[N_s, K]`: edge `e` sends row `src[e]`.
    Rows(Tensor<2>),
    /// `[E, K]`: edge `e` sends row `e`.
    Edges(Tensor<2>),
}

/// How a step combined its messages.
pub(super) enum Reduce {
    /// `Σ w[e, h] · m_e[h-th chunk of K / H columns]`, `w` `[E, H]` row-major.
    Weighted { w: Vec<f32>, heads: usize },
    /// `Σ m_e`.
    Sum,
    /// `(1/deg) Σ m_e`.
    Mean,
    /// Element-wise maximum.
    Max,
    /// Element-wise minimum.
    Min,
    /// A user aggregation: only norms are known.
    Custom,
}

/// The edge columns of a step for the kept edges.
pub(super) struct EdgeStats {
    pub norm: Vec<f32>,
    pub weight: Option<Vec<f32>>,
    pub share: Option<Vec<f32>>,
    pub won: Option<Vec<bool>>,
}

/// Host copies of a step's inputs: the message table `x` (`[rows, k]`), which row each edge
/// sends (`None`: row `e`), the targets, the aggregate `out` (`[N, k]`) and each target's
/// in-degree.
pub(super) struct HostStep<'a> {
    pub x: &'a [f32],
    pub rows: Option<&'a [u32]>,
    pub dst: &'a [u32],
    pub out: &'a [f32],
    pub k: usize,
    pub in_degree: &'a [u32],
}

impl HostStep<'_> {
    fn message(&self, e: usize) -> &[f32] {
        let r = self.rows.map_or(e, |rows| rows[e] as usize);
        &self.x[r * self.k..(r + 1) * self.k]
    }

    fn aggregate(&self, i: usize) -> &[f32] {
        &self.out[i * self.k..(i + 1) * self.k]
    }

    /// `norm`, `weight` and `share` (or `won`) of each kept edge `keep` (ascending positions).
    pub fn edge_stats(&self, keep: &[usize], reduce: &Reduce) -> EdgeStats {
        match reduce {
            Reduce::Max | Reduce::Min => self.winners(keep, matches!(reduce, Reduce::Max)),
            _ => self.sums(keep, reduce),
        }
    }

    /// Sums, means and weighted sums: the share is the projection of the weighted message on
    /// the aggregate, `⟨c m, out⟩ / ‖out‖²`.
    fn sums(&self, keep: &[usize], reduce: &Reduce) -> EdgeStats {
        let n = keep.len();
        let (mut norm, mut weight, mut share) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for (slot, &e) in keep.iter().enumerate() {
            let (m, i) = (self.message(e), self.dst[e] as usize);
            let out = self.aggregate(i);
            let coef = |col: usize| -> f64 {
                match reduce {
                    Reduce::Weighted { w, heads } => {
                        let chunk = (self.k / heads).max(1);
                        w[e * heads + (col / chunk).min(heads - 1)] as f64
                    }
                    Reduce::Mean => 1.0 / self.in_degree[i].max(1) as f64,
                    _ => 1.0,
                }
            };
            let (mut sq, mut dot, mut out_sq) = (0.0f64, 0.0f64, 0.0f64);
            for col in 0..self.k {
                let v = m[col] as f64;
                let c = coef(col);
                let weighted = if matches!(reduce, Reduce::Weighted { .. }) {
                    c * v
                } else {
                    v
                };
                sq += weighted * weighted;
                dot += c * v * out[col] as f64;
                out_sq += (out[col] as f64).powi(2);
            }
            norm[slot] = sq.sqrt() as f32;
            share[slot] = if out_sq > 0.0 {
                (dot / out_sq) as f32
            } else {
                0.0
            };
            weight[slot] = match reduce {
                Reduce::Weighted { w, heads } => {
                    let row = &w[e * heads..(e + 1) * heads];
                    (row.iter().map(|&v| v as f64).sum::<f64>() / *heads as f64) as f32
                }
                _ => coef(0) as f32,
            };
        }
        let known = !matches!(reduce, Reduce::Custom);
        EdgeStats {
            norm,
            weight: known.then_some(weight),
            share: known.then_some(share),
            won: None,
        }
    }

    /// Max and min: per target and channel the first kept edge (in input order) attaining the
    /// extreme wins; the share is the fraction of channels won.
    fn winners(&self, keep: &[usize], max: bool) -> EdgeStats {
        let n = keep.len();
        let mut norm = vec![0.0f32; n];
        let mut wins = vec![0u32; n];
        // Kept edges grouped by target, each group in ascending position.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&s| (self.dst[keep[s]], keep[s]));
        let mut start = 0;
        while start < n {
            let target = self.dst[keep[order[start]]];
            let mut end = start;
            while end < n && self.dst[keep[order[end]]] == target {
                end += 1;
            }
            let group = &order[start..end];
            for col in 0..self.k {
                let mut best = group[0];
                for &s in &group[1..] {
                    let (v, b) = (self.message(keep[s])[col], self.message(keep[best])[col]);
                    if (max && v > b) || (!max && v < b) {
                        best = s;
                    }
                }
                wins[best] += 1;
            }
            start = end;
        }
        for (slot, &e) in keep.iter().enumerate() {
            let m = self.message(e);
            norm[slot] = m.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt() as f32;
        }
        let k = self.k.max(1) as f32;
        EdgeStats {
            norm,
            weight: None,
            share: Some(wins.iter().map(|&w| w as f32 / k).collect()),
            won: Some(wins.iter().map(|&w| w > 0).collect()),
        }
    }
}

/// `‖row_i‖` of every row of a row-major `[rows, k]` table.
pub(super) fn row_norms(x: &[f32], k: usize) -> Vec<f32> {
    x.chunks(k.max(1))
        .map(|r| r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step<'a>(x: &'a [f32], dst: &'a [u32], out: &'a [f32], deg: &'a [u32]) -> HostStep<'a> {
        HostStep {
            x,
            rows: None,
            dst,
            out,
            k: 2,
            in_degree: deg,
        }
    }

    #[test]
    fn sum_shares_are_projections_that_add_up_to_one() {
        // Two messages into node 0: (1, 0) and (1, 2); out = (2, 2).
        let x = [1.0, 0.0, 1.0, 2.0];
        let s = step(&x, &[0, 0], &[2.0, 2.0], &[2]).edge_stats(&[0, 1], &Reduce::Sum);
        let share = s.share.unwrap();
        assert_eq!(share, [0.25, 0.75]);
        assert_eq!(s.weight.unwrap(), [1.0, 1.0]);
        assert!((s.norm[1] - 5f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn max_winner_is_the_first_edge_attaining_it() {
        // Channel 0: edges 0 and 1 tie at 3 (edge 0 wins); channel 1: edge 2 wins.
        let x = [3.0, 0.0, 3.0, 1.0, 1.0, 5.0];
        let s = step(&x, &[0, 0, 0], &[3.0, 5.0], &[3]).edge_stats(&[0, 1, 2], &Reduce::Max);
        assert_eq!(s.won.unwrap(), [true, false, true]);
        assert_eq!(s.share.unwrap(), [0.5, 0.0, 0.5]);
        assert!(s.weight.is_none());
    }
}
