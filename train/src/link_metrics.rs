//! The metrics of link prediction, on host scores.
//!
//! - [`roc_auc`] and [`average_precision`] of scored positive and negative edges (the GAE
//!   protocol of Kipf & Welling 2016; the same definitions as scikit-learn's
//!   `roc_auc_score` and `average_precision_score`, which PyG's `GAE.test` calls).
//! - [`filtered_rank`] of a true entity among every candidate, with the other known true
//!   answers removed (the filtered setting of Bordes et al. 2013), and [`RankingMetrics`]:
//!   mean reciprocal rank and Hits@1/3/10 over many queries. How a tie is ranked is a
//!   [`TieRule`]; [`KnownFacts`](gnn_datasets::kg::KnownFacts) gives the answers to filter.

/// How the true entity is ranked among candidates with exactly its score.
///
/// With `g` candidates scoring higher and `e` others scoring the same, the rank is `g + 1`
/// ([`Optimistic`](Self::Optimistic)), `g + e + 1` ([`Pessimistic`](Self::Pessimistic)) or
/// their mean `g + e / 2 + 1` ([`Mean`](Self::Mean), the default: the expected rank under a
/// random order of the tied candidates, as PyKEEN's "realistic" rank and the mean of
/// optimistic and pessimistic that recent papers report). A degenerate model that scores
/// everything alike gets rank 1 under the optimistic rule — the reason it is not the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TieRule {
    /// Ties ranked below the true entity.
    Optimistic,
    /// Ties ranked above the true entity.
    Pessimistic,
    /// The mean of the two.
    #[default]
    Mean,
}

impl std::str::FromStr for TieRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "optimistic" => Ok(TieRule::Optimistic),
            "pessimistic" => Ok(TieRule::Pessimistic),
            "mean" => Ok(TieRule::Mean),
            _ => Err(format!(
                "unknown tie rule '{s}' (expected optimistic, pessimistic or mean)"
            )),
        }
    }
}

/// The filtered rank (1 = best) of candidate `target` by `scores` (one per candidate entity):
/// the candidates in `filtered` — the other true answers of the query, distinct ids, which
/// may include `target` itself — are left out. A NaN score counts as higher than any other,
/// so a NaN target ranks last and a NaN candidate above the target.
///
/// # Panics
/// If `target` or an id of `filtered` is not a candidate (`>= scores.len()`).
pub fn filtered_rank(scores: &[f32], target: usize, filtered: &[u32], tie: TieRule) -> f64 {
    let s = scores[target];
    let above = |c: f32| s.is_nan() || c.is_nan() || c > s;
    let (mut higher, mut equal) = (0usize, 0usize);
    for &c in scores {
        if above(c) {
            higher += 1;
        } else if c == s {
            equal += 1;
        }
    }
    // The target itself was counted: as equal, or as above when its score is NaN.
    if s.is_nan() {
        higher -= 1;
    } else {
        equal -= 1;
    }
    for &f in filtered {
        let f = f as usize;
        if f == target {
            continue;
        }
        let c = scores[f];
        if above(c) {
            higher -= 1;
        } else if c == s {
            equal -= 1;
        }
    }
    let (g, e) = (higher as f64, equal as f64);
    match tie {
        TieRule::Optimistic => g + 1.0,
        TieRule::Pessimistic => g + e + 1.0,
        TieRule::Mean => g + e / 2.0 + 1.0,
    }
}

/// Mean reciprocal rank and Hits@1/3/10 over ranked queries.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct RankingMetrics {
    /// Queries ranked.
    pub count: usize,
    /// Mean of `1 / rank`.
    pub mrr: f64,
    /// Share of queries with rank ≤ 1.
    pub hits1: f64,
    /// Share with rank ≤ 3.
    pub hits3: f64,
    /// Share with rank ≤ 10.
    pub hits10: f64,
}

impl RankingMetrics {
    /// The metrics of `ranks`.
    pub fn of(ranks: &[f64]) -> Self {
        let n = ranks.len();
        if n == 0 {
            return RankingMetrics::default();
        }
        let share = |k: f64| ranks.iter().filter(|&&r| r <= k).count() as f64 / n as f64;
        RankingMetrics {
            count: n,
            mrr: ranks.iter().map(|r| 1.0 / r).sum::<f64>() / n as f64,
            hits1: share(1.0),
            hits3: share(3.0),
            hits10: share(10.0),
        }
    }
}

/// Positives first, then negatives, with their labels, sorted by descending score; NaN
/// scores are ranked lowest.
fn labelled_desc(pos: &[f32], neg: &[f32]) -> Vec<(f32, bool)> {
    let mut all: Vec<(f32, bool)> = pos
        .iter()
        .map(|&s| (s, true))
        .chain(neg.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    all.sort_by_key(|a| a.0.is_nan());
    all
}

/// Groups of equal scores in a descending list, as `(positives, negatives)` per group.
fn tie_groups(sorted: &[(f32, bool)]) -> Vec<(usize, usize)> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut last: Option<f32> = None;
    for &(s, is_pos) in sorted {
        let same = last.is_some_and(|l| l == s || (l.is_nan() && s.is_nan()));
        if !same {
            groups.push((0, 0));
        }
        let g = groups.last_mut().expect("pushed above");
        if is_pos {
            g.0 += 1;
        } else {
            g.1 += 1;
        }
        last = Some(s);
    }
    groups
}

/// The area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (the Mann–Whitney statistic). `NaN` when either side is
/// empty.
pub fn roc_auc(pos: &[f32], neg: &[f32]) -> f64 {
    if pos.is_empty() || neg.is_empty() {
        return f64::NAN;
    }
    // Walk from the lowest score up: each positive beats the negatives below its group and
    // half-beats those in it.
    let mut below = 0usize;
    let mut wins = 0.0f64;
    for (p, n) in tie_groups(&labelled_desc(pos, neg)).into_iter().rev() {
        wins += p as f64 * (below as f64 + n as f64 / 2.0);
        below += n;
    }
    wins / (pos.len() as f64 * neg.len() as f64)
}

/// Average precision: `Σ_k (R_k − R_{k−1}) · P_k` over the distinct score thresholds from the
/// highest down, with `P_k`, `R_k` the precision and recall of predicting "edge" at or above
/// the `k`-th threshold (tied scores enter together). `NaN` without positives.
pub fn average_precision(pos: &[f32], neg: &[f32]) -> f64 {
    if pos.is_empty() {
        return f64::NAN;
    }
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut ap = 0.0f64;
    for (p, n) in tie_groups(&labelled_desc(pos, neg)) {
        tp += p;
        fp += n;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += p as f64 / pos.len() as f64 * precision;
    }
    ap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_rank_with_ties_under_each_rule() {
        // Candidates 0..6; the target is 2 (score 0.5). Higher: 0 (0.9) and 4 (0.7), but 4 is
        // another true answer (filtered). Equal: 1, 5 and 6 (0.5), of which 6 is filtered.
        let scores = [0.9, 0.5, 0.5, 0.1, 0.7, 0.5, 0.5];
        let filtered = [2, 4, 6];
        let rank = |tie| filtered_rank(&scores, 2, &filtered, tie);
        assert_eq!(rank(TieRule::Optimistic), 2.0);
        assert_eq!(rank(TieRule::Pessimistic), 4.0);
        assert_eq!(rank(TieRule::Mean), 3.0);
        // Raw (unfiltered): 2 higher, 3 tied.
        assert_eq!(filtered_rank(&scores, 2, &[], TieRule::Mean), 4.5);
        // A model that scores everything alike is not rewarded under the default rule.
        let flat = [1.0f32; 100];
        assert_eq!(filtered_rank(&flat, 7, &[], TieRule::Optimistic), 1.0);
        assert_eq!(filtered_rank(&flat, 7, &[], TieRule::Mean), 50.5);
        // NaN: a NaN target ranks last; a NaN candidate counts above the target.
        let nan = [0.2, f32::NAN, 0.9];
        assert_eq!(filtered_rank(&nan, 1, &[], TieRule::Mean), 3.0);
        assert_eq!(filtered_rank(&nan, 2, &[], TieRule::Mean), 2.0);
        assert_eq!(filtered_rank(&nan, 2, &[1], TieRule::Mean), 1.0);
    }

    #[test]
    fn mrr_and_hits() {
        let m = RankingMetrics::of(&[1.0, 2.0, 4.0, 20.0]);
        assert_eq!(m.count, 4);
        assert!((m.mrr - (1.0 + 0.5 + 0.25 + 0.05) / 4.0).abs() < 1e-12);
        assert_eq!((m.hits1, m.hits3, m.hits10), (0.25, 0.5, 0.75));
        assert_eq!(RankingMetrics::of(&[]).count, 0);
    }

    #[test]
    fn auc_and_ap_on_hand_computed_cases() {
        // Perfect separation, and its reverse.
        assert_eq!(roc_auc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(roc_auc(&[0.1], &[0.9]), 0.0);
        assert_eq!(average_precision(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        // pos {0.8, 0.4}, neg {0.6, 0.4, 0.2}: pairs won 0.8>all (3), 0.4>0.2 (1), 0.4=0.4
        // (1/2): 4.5 / 6.
        let (pos, neg) = ([0.8, 0.4], [0.6, 0.4, 0.2]);
        assert!((roc_auc(&pos, &neg) - 0.75).abs() < 1e-12);
        // Thresholds 0.8 (P 1, R 1/2), 0.6 (no positive), 0.4 (P 2/4, R 1): 1/2·1 + 1/2·1/2.
        assert!((average_precision(&pos, &neg) - 0.75).abs() < 1e-12);
        // All scores tied: AUC 1/2, AP = the share of positives.
        assert_eq!(roc_auc(&[0.5; 3], &[0.5; 5]), 0.5);
        assert_eq!(average_precision(&[0.5; 3], &[0.5; 5]), 3.0 / 8.0);
        assert!(roc_auc(&[], &[0.1]).is_nan() && average_precision(&[], &[0.1]).is_nan());
    }
}
