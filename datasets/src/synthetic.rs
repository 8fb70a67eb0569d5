//! Seeded synthetic graphs for examples, tests and benchmarks.

use crate::graph::{Matrix, NodeDataset, Split};
use crate::hetero::{EdgeSet, HeteroGraph, NodeType};

/// SplitMix64: a small, fast, seedable generator (no dependency, same stream everywhere).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A toy heterogeneous citation graph: `authors` authors with 8 features, `papers` papers with
/// 16 features, and three relations — `author writes paper`, `paper cites paper`,
/// `author coauthors author`. Each paper belongs to one of 3 topics (its label); an author works
/// mostly on one topic. Paper features carry the topic weakly and author features strongly, so
/// a model does better by passing messages from authors to papers.
///
/// Returns the graph and each paper's topic.
pub fn author_paper(authors: usize, papers: usize, seed: u64) -> (HeteroGraph, Vec<usize>) {
    let mut rng = SplitMix64::new(seed);
    let topics = 3;
    let author_topic: Vec<usize> = (0..authors).map(|_| rng.below(topics)).collect();
    let features = |rng: &mut SplitMix64, n: usize, width: usize, topic: &[usize], signal: f32| {
        let mut data = vec![0.0f32; n * width];
        for i in 0..n {
            for c in 0..width {
                let hit = if c % topics == topic[i] { signal } else { 0.0 };
                data[i * width + c] = rng.unit() + hit;
            }
        }
        Matrix::new(n, width, data).expect("n x width")
    };
    let mut writes = (Vec::new(), Vec::new());
    let mut paper_topic = Vec::with_capacity(papers);
    for p in 0..papers {
        // Two or three authors, the first one's topic is the paper's.
        let first = rng.below(authors);
        paper_topic.push(author_topic[first]);
        writes.0.push(first);
        writes.1.push(p);
        for _ in 0..1 + rng.below(2) {
            let a = rng.below(authors);
            if a != first {
                writes.0.push(a);
                writes.1.push(p);
            }
        }
    }
    let mut cites = (Vec::new(), Vec::new());
    for p in 0..papers {
        for _ in 0..2 {
            // Mostly same-topic citations.
            let q = loop {
                let q = rng.below(papers);
                if q != p && (paper_topic[q] == paper_topic[p] || rng.unit() < 0.2) {
                    break q;
                }
            };
            cites.0.push(p);
            cites.1.push(q);
        }
    }
    let mut coauthors = (Vec::new(), Vec::new());
    for a in 0..authors {
        let b = rng.below(authors);
        if a != b {
            coauthors.0.push(a);
            coauthors.1.push(b);
        }
    }
    let node_types = vec![
        NodeType {
            name: "author".into(),
            num_nodes: authors,
            features: Some(features(&mut rng, authors, 8, &author_topic, 1.0)),
        },
        NodeType {
            name: "paper".into(),
            num_nodes: papers,
            features: Some(features(&mut rng, papers, 16, &paper_topic, 0.15)),
        },
    ];
    let set = |s: &str, r: &str, d: &str, e: (Vec<usize>, Vec<usize>)| EdgeSet {
        src_type: s.into(),
        relation: r.into(),
        dst_type: d.into(),
        src: e.0,
        dst: e.1,
    };
    let edge_sets = vec![
        set("author", "writes", "paper", writes),
        set("paper", "cites", "paper", cites),
        set("author", "coauthors", "author", coauthors),
    ];
    let graph = HeteroGraph::new(node_types, edge_sets).expect("generated ids are in range");
    (graph, paper_topic)
}

/// [`author_paper`] as a node-classification dataset on the papers: relation-typed edges (with
/// reverses), block features, paper labels, and a 50/25/25 split of the papers.
pub fn author_paper_dataset(authors: usize, papers: usize, seed: u64) -> NodeDataset {
    let (graph, topics) = author_paper(authors, papers, seed);
    let r = graph.to_relational(true);
    let paper = r.type_index("paper").expect("paper type");
    let mut labels = vec![None; r.edges.num_nodes()];
    for (p, &t) in topics.iter().enumerate() {
        labels[r.global(paper, p)] = Some(t);
    }
    let ids: Vec<usize> = (0..papers).map(|p| r.global(paper, p)).collect();
    let (a, b) = (papers / 2, papers * 3 / 4);
    NodeDataset {
        name: "author-paper".into(),
        edges: r.edges,
        features: r.features,
        labels,
        num_classes: 3,
        split: Split {
            train: ids[..a].to_vec(),
            val: ids[a..b].to_vec(),
            test: ids[b..].to_vec(),
        },
        relations: Some(r.relations),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_seeded_and_valid() {
        let a = author_paper_dataset(40, 90, 1);
        let b = author_paper_dataset(40, 90, 1);
        assert_eq!(a, b);
        a.validate().unwrap();
        assert_eq!(a.relations.as_ref().unwrap().len(), 6);
        assert_eq!(a.num_features(), 24);
        assert_ne!(author_paper_dataset(40, 90, 2).edges, a.edges);
    }
}
