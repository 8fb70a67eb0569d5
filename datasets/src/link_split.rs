//! Seeded edge splits and negative sampling for link prediction on one graph.
//!
//! [`random_link_split`] follows PyG's `RandomLinkSplit(is_undirected=True,
//! split_labels=True, add_negative_train_samples=False)`, the graph auto-encoder protocol of
//! Kipf & Welling (2016): the graph's edges are taken as undirected pairs, so a pair and its
//! reverse always land in the same split (a test edge never leaks into the encoder's graph
//! through its reverse); validation and test get as many negative pairs as positives, drawn
//! once; training negatives are drawn afresh each epoch with [`sample_negatives`].

use std::collections::HashSet;

use crate::DatasetError;
use crate::graph::EdgeList;
use crate::synthetic::SplitMix64;

/// An unordered node pair, stored `(u, v)` with `u < v`.
pub type Pair = (usize, usize);

/// The edges of a graph split for link prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSplit {
    /// The graph the encoder passes messages on: the training pairs in both directions.
    pub train_graph: EdgeList,
    /// Training positives (the pairs of `train_graph`, once each).
    pub train_pos: Vec<Pair>,
    /// Validation positives.
    pub val_pos: Vec<Pair>,
    /// Validation negatives: as many as `val_pos`, pairs that are no edge of the graph.
    pub val_neg: Vec<Pair>,
    /// Test positives.
    pub test_pos: Vec<Pair>,
    /// Test negatives: as many as `test_pos`, distinct from every edge and from `val_neg`.
    pub test_neg: Vec<Pair>,
}

impl LinkSplit {
    /// Every positive pair of the graph (train, validation and test), for excluding known
    /// edges.
    pub fn all_positives(&self) -> HashSet<Pair> {
        self.train_pos
            .iter()
            .chain(&self.val_pos)
            .chain(&self.test_pos)
            .copied()
            .collect()
    }
}

/// The distinct unordered pairs of `edges` without self-loops, sorted.
pub fn undirected_pairs(edges: &EdgeList) -> Vec<Pair> {
    let mut pairs: Vec<Pair> = edges
        .iter()
        .filter(|(s, d)| s != d)
        .map(|(s, d)| (s.min(d), s.max(d)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// Splits the undirected pairs of `edges` at random (seeded): `floor(val · P)` validation and
/// `floor(test · P)` test pairs of the `P` pairs, the rest for training, with one negative per
/// validation and test positive (see the module docs).
///
/// Errors if the fractions are not in `[0, 1)` with `val + test < 1`, or if the graph is too
/// dense to find the negatives (more than half of all pairs are edges).
pub fn random_link_split(
    edges: &EdgeList,
    val: f64,
    test: f64,
    seed: u64,
) -> Result<LinkSplit, DatasetError> {
    if !(0.0..1.0).contains(&val) || !(0.0..1.0).contains(&test) || val + test >= 1.0 {
        return Err(DatasetError::Invalid(format!(
            "link split fractions val {val}, test {test}: each in [0, 1), together below 1"
        )));
    }
    let mut pairs = undirected_pairs(edges);
    let mut rng = SplitMix64::new(seed);
    for i in (1..pairs.len()).rev() {
        pairs.swap(i, rng.below(i + 1));
    }
    let n_val = (val * pairs.len() as f64) as usize;
    let n_test = (test * pairs.len() as f64) as usize;
    let test_pos = pairs[..n_test].to_vec();
    let val_pos = pairs[n_test..n_test + n_val].to_vec();
    let mut train_pos = pairs[n_test + n_val..].to_vec();
    train_pos.sort_unstable();
    let mut known: HashSet<Pair> = pairs.iter().copied().collect();
    let n = edges.num_nodes();
    let val_neg = sample_negatives(n, n_val, &known, &mut rng)?;
    known.extend(val_neg.iter().copied());
    let test_neg = sample_negatives(n, n_test, &known, &mut rng)?;
    let (src, dst): (Vec<usize>, Vec<usize>) = train_pos
        .iter()
        .flat_map(|&(u, v)| [(u, v), (v, u)])
        .unzip();
    Ok(LinkSplit {
        train_graph: EdgeList::new(n, src, dst)?,
        train_pos,
        val_pos,
        val_neg,
        test_pos,
        test_neg,
    })
}

/// `count` distinct unordered pairs `(u, v)`, `u < v < num_nodes`, drawn uniformly (seeded by
/// `rng`) among the pairs not in `known`. Errors when fewer than twice `count + |known|`
/// pairs exist (rejection sampling would then crawl).
pub fn sample_negatives(
    num_nodes: usize,
    count: usize,
    known: &HashSet<Pair>,
    rng: &mut SplitMix64,
) -> Result<Vec<Pair>, DatasetError> {
    let all = num_nodes.saturating_mul(num_nodes.saturating_sub(1)) / 2;
    if count == 0 {
        return Ok(Vec::new());
    }
    if all < 2 * (count + known.len()) {
        return Err(DatasetError::Invalid(format!(
            "cannot draw {count} negative pairs: {} of the {all} node pairs are edges or taken",
            known.len()
        )));
    }
    let mut drawn: HashSet<Pair> = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let (a, b) = (rng.below(num_nodes), rng.below(num_nodes));
        if a == b {
            continue;
        }
        let p = (a.min(b), a.max(b));
        if !known.contains(&p) && drawn.insert(p) {
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring of `n` nodes with chords, every edge in both directions plus a self-loop.
    fn graph(n: usize) -> EdgeList {
        let mut src = vec![0];
        let mut dst = vec![0];
        for i in 0..n {
            for j in [(i + 1) % n, (i + 5) % n] {
                src.extend([i, j]);
                dst.extend([j, i]);
            }
        }
        EdgeList::new(n, src, dst).unwrap()
    }

    #[test]
    fn sizes_no_leakage_and_negatives_are_not_edges() {
        let g = graph(100);
        let pairs = undirected_pairs(&g);
        assert_eq!(pairs.len(), 200);
        let s = random_link_split(&g, 0.05, 0.10, 7).unwrap();
        assert_eq!((s.val_pos.len(), s.test_pos.len()), (10, 20));
        assert_eq!(s.train_pos.len(), 170);
        assert_eq!((s.val_neg.len(), s.test_neg.len()), (10, 20));
        // The encoder's graph holds exactly the training pairs, both directions.
        assert_eq!(s.train_graph.num_edges(), 340);
        let train_edges: HashSet<(usize, usize)> = s.train_graph.iter().collect();
        for &(u, v) in s.val_pos.iter().chain(&s.test_pos) {
            assert!(!train_edges.contains(&(u, v)) && !train_edges.contains(&(v, u)));
        }
        // Every positive exactly once across the splits.
        let mut all: Vec<Pair> = [&s.train_pos, &s.val_pos, &s.test_pos]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, pairs);
        // Negatives: no edge of the graph, no self-loop, distinct across validation and test.
        let positives = s.all_positives();
        let negs: HashSet<Pair> = s.val_neg.iter().chain(&s.test_neg).copied().collect();
        assert_eq!(negs.len(), 30);
        assert!(
            negs.iter()
                .all(|&(u, v)| u < v && !positives.contains(&(u, v)))
        );
    }

    #[test]
    fn seeded_and_deterministic() {
        let g = graph(60);
        let a = random_link_split(&g, 0.1, 0.2, 3).unwrap();
        assert_eq!(a, random_link_split(&g, 0.1, 0.2, 3).unwrap());
        assert_ne!(
            a.test_pos,
            random_link_split(&g, 0.1, 0.2, 4).unwrap().test_pos
        );
    }

    #[test]
    fn bad_fractions_and_dense_graphs_are_errors() {
        let g = graph(20);
        for (v, t) in [(0.5, 0.5), (-0.1, 0.1), (0.1, 1.0)] {
            assert!(random_link_split(&g, v, t, 0).is_err(), "{v} {t}");
        }
        // A complete graph has no negative pair to draw.
        let (src, dst): (Vec<usize>, Vec<usize>) = (0..6)
            .flat_map(|u| (0..6).filter(move |&v| v != u).map(move |v| (u, v)))
            .unzip();
        let k6 = EdgeList::new(6, src, dst).unwrap();
        let err = random_link_split(&k6, 0.2, 0.2, 0).unwrap_err();
        assert!(err.to_string().contains("cannot draw"), "{err}");
        let known: HashSet<Pair> = HashSet::new();
        let mut rng = SplitMix64::new(1);
        let negs = sample_negatives(50, 100, &known, &mut rng).unwrap();
        assert_eq!(negs.iter().collect::<HashSet<_>>().len(), 100);
    }
}
