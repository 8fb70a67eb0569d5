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

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
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

/// The random-graph model of [`random_graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RandomGraph {
    /// Erdős–Rényi `G(n, m)`: `m = n·d/2` node pairs drawn uniformly (self-loops redrawn,
    /// repeated pairs merged), each an undirected edge.
    ErdosRenyi,
    /// Barabási–Albert preferential attachment: each new node links to `d/2` distinct earlier
    /// nodes chosen with probability proportional to their degree (power-law degrees, exponent
    /// ≈ 3), starting from a ring of `d/2 + 1` nodes.
    PowerLaw,
    /// A stochastic block model with a learnable label: node `u` is in block
    /// `u mod C` (its class); each node draws `d/2` partners, in its own block with probability
    /// [`SBM_HOMOPHILY`], else uniformly; features are binary "words" as in a citation graph:
    /// the features are cut into `C` equal topics, and a node has each word of its block's
    /// topic with probability [`SBM_TOPIC_P`], every other word with [`SBM_BACKGROUND_P`] — a
    /// node's own words name its class about half the time, its neighbours' far more often.
    Sbm,
}

/// [`RandomGraph::Sbm`]: the chance that a drawn partner is in the node's own block.
pub const SBM_HOMOPHILY: f32 = 0.8;
/// [`RandomGraph::Sbm`]: the chance of each word of the node's own topic.
pub const SBM_TOPIC_P: f32 = 0.2;
/// [`RandomGraph::Sbm`]: the chance of every other word.
pub const SBM_BACKGROUND_P: f32 = 0.1;

/// A synthetic node-classification graph for scaling benchmarks.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomGraphSpec {
    /// The model.
    pub model: RandomGraph,
    /// Nodes `n`.
    pub nodes: usize,
    /// Average degree `d`: about `n·d` directed edges (each undirected edge both ways).
    pub avg_degree: usize,
    /// Feature width.
    pub features: usize,
    /// Classes.
    pub classes: usize,
    /// Seed.
    pub seed: u64,
}

/// The most directed edges [`random_graph`] builds (2^31).
pub const MAX_RANDOM_EDGES: usize = 1 << 31;

impl RandomGraphSpec {
    /// Parses a dataset name `er-<nodes>-<degree>[-<features>]`, `ba-…` (`ba`: power law) or
    /// `sbm-…` (stochastic block model), e.g. `er-100000-10`: 10^5 nodes, about 10^6 directed
    /// edges, 32 features, 8 classes.
    /// Counts may be written `1e5`.
    pub fn parse(name: &str) -> Option<Self> {
        let mut parts = name.split('-');
        let model = match parts.next()? {
            "er" => RandomGraph::ErdosRenyi,
            "ba" => RandomGraph::PowerLaw,
            "sbm" => RandomGraph::Sbm,
            _ => return None,
        };
        let num = |s: &str| -> Option<usize> {
            match s.split_once('e') {
                Some((m, e)) => {
                    let (m, e) = (m.parse::<usize>().ok()?, e.parse::<u32>().ok()?);
                    m.checked_mul(10usize.checked_pow(e)?)
                }
                None => s.parse().ok(),
            }
        };
        let nodes = num(parts.next()?)?;
        let avg_degree = num(parts.next()?)?;
        let features = match parts.next() {
            Some(f) => num(f)?,
            None => 32,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RandomGraphSpec {
            model,
            nodes,
            avg_degree,
            features,
            classes: 8,
            seed: 0,
        })
    }
}

/// Builds the graph of `spec`: undirected edges stored both ways, uniform features in
/// `[0, 1)`, the label of a node the argmax of its first `classes` features (learnable from
/// the node alone), and a 10/10/80 split in node order.
pub fn random_graph(spec: &RandomGraphSpec) -> Result<NodeDataset, crate::DatasetError> {
    let (n, d) = (spec.nodes, spec.avg_degree);
    let half = d / 2;
    let invalid = |why: String| crate::DatasetError::Invalid(format!("random graph: {why}"));
    if n < 2 || half == 0 || half >= n {
        return Err(invalid(format!(
            "needs 2 ≤ nodes and 2 ≤ degree < 2·nodes, got {n} nodes, degree {d}"
        )));
    }
    if n.checked_mul(d).is_none_or(|e| e > MAX_RANDOM_EDGES) {
        return Err(invalid(format!("{n}·{d} edges is over {MAX_RANDOM_EDGES}")));
    }
    if spec.classes == 0 || spec.classes > spec.features {
        return Err(invalid("needs 1 ≤ classes ≤ features".into()));
    }
    if n.checked_mul(spec.features)
        .is_none_or(|v| v > MAX_RANDOM_EDGES)
    {
        return Err(invalid("too many feature values".into()));
    }
    if spec.model == RandomGraph::Sbm {
        return sbm(spec);
    }
    let mut rng = SplitMix64::new(spec.seed);
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(n * half);
    match spec.model {
        RandomGraph::Sbm => unreachable!("generated above"),
        RandomGraph::ErdosRenyi => {
            while pairs.len() < n * half {
                let (a, b) = (rng.below(n) as u32, rng.below(n) as u32);
                if a != b {
                    pairs.push((a.min(b), a.max(b)));
                }
            }
        }
        RandomGraph::PowerLaw => {
            // Every edge endpoint once: picking uniformly from it is picking by degree.
            let mut ends: Vec<u32> = Vec::with_capacity(2 * n * half);
            let start = half + 1;
            for v in 0..start {
                let w = (v + 1) % start;
                pairs.push((v.min(w) as u32, v.max(w) as u32));
                ends.extend([v as u32, w as u32]);
            }
            let mut chosen: Vec<u32> = Vec::with_capacity(half);
            for v in start..n {
                chosen.clear();
                while chosen.len() < half {
                    let t = ends[rng.below(ends.len())];
                    if !chosen.contains(&t) {
                        chosen.push(t);
                    }
                }
                for &t in &chosen {
                    pairs.push((t, v as u32));
                    ends.extend([t, v as u32]);
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut src = Vec::with_capacity(2 * pairs.len());
    let mut dst = Vec::with_capacity(2 * pairs.len());
    for &(a, b) in &pairs {
        src.extend([a as usize, b as usize]);
        dst.extend([b as usize, a as usize]);
    }
    drop(pairs);
    let f = spec.features;
    let x: Vec<f32> = (0..n * f).map(|_| rng.unit()).collect();
    let labels = (0..n)
        .map(|i| {
            let row = &x[i * f..i * f + spec.classes];
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (k, &v)| if v > b.1 { (k, v) } else { b },
                );
            Some(best.0)
        })
        .collect();
    generated(spec, src, dst, x, labels)
}

/// The dataset of a generated graph, split 10/10/80 in node order.
fn generated(
    spec: &RandomGraphSpec,
    src: Vec<usize>,
    dst: Vec<usize>,
    x: Vec<f32>,
    labels: Vec<Option<usize>>,
) -> Result<NodeDataset, crate::DatasetError> {
    let n = spec.nodes;
    let (a, b) = (n / 10, n / 5);
    let model = match spec.model {
        RandomGraph::ErdosRenyi => "er",
        RandomGraph::PowerLaw => "ba",
        RandomGraph::Sbm => "sbm",
    };
    Ok(NodeDataset {
        name: format!("{model}-{n}-{}-{}", spec.avg_degree, spec.features),
        edges: crate::EdgeList::new(n, src, dst)?,
        features: Matrix::new(n, spec.features, x)?,
        labels,
        num_classes: spec.classes,
        split: Split {
            train: (0..a).collect(),
            val: (a..b).collect(),
            test: (b..n).collect(),
        },
        relations: None,
    })
}

/// The stochastic block model of [`RandomGraph::Sbm`], generated in one pass: `O(E)` memory
/// for the edges (partners are drawn, never sorted or de-duplicated, so a repeated pair —
/// rare, about `d²/(2·n/C)` of them — stays a multi-edge) and `O(N·F)` for the features,
/// whose rows are drawn in parallel from per-row seeds (the same graph for any thread count).
fn sbm(spec: &RandomGraphSpec) -> Result<NodeDataset, crate::DatasetError> {
    use rayon::prelude::*;
    let (n, half, c, f) = (spec.nodes, spec.avg_degree / 2, spec.classes, spec.features);
    if n < 2 * c {
        return Err(crate::DatasetError::Invalid(format!(
            "sbm: needs at least two nodes per block, got {n} nodes for {c} blocks"
        )));
    }
    let mut rng = SplitMix64::new(spec.seed);
    let mut src = Vec::with_capacity(2 * n * half);
    let mut dst = Vec::with_capacity(2 * n * half);
    for u in 0..n {
        let (block, size) = (u % c, (n - u % c).div_ceil(c));
        for _ in 0..half {
            let partner = loop {
                let p = match rng.unit() < SBM_HOMOPHILY {
                    true => block + c * rng.below(size),
                    false => rng.below(n),
                };
                if p != u {
                    break p;
                }
            };
            src.extend([u, partner]);
            dst.extend([partner, u]);
        }
    }
    let topic = f / c;
    let mut x = vec![0f32; n * f];
    x.par_chunks_mut(f.max(1)).enumerate().for_each(|(u, row)| {
        let mut g = SplitMix64::new(spec.seed ^ (u as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let own = (u % c) * topic..(u % c + 1) * topic;
        for (k, v) in row.iter_mut().enumerate() {
            let p = if own.contains(&k) {
                SBM_TOPIC_P
            } else {
                SBM_BACKGROUND_P
            };
            *v = f32::from(u8::from(g.unit() < p));
        }
    });
    let labels = (0..n).map(|u| Some(u % c)).collect();
    generated(spec, src, dst, x, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_graphs_have_the_asked_size_and_shape() {
        let spec = RandomGraphSpec::parse("er-2000-10").unwrap();
        assert_eq!((spec.nodes, spec.avg_degree, spec.features), (2000, 10, 32));
        assert_eq!(RandomGraphSpec::parse("ba-1e4-8-16").unwrap().nodes, 10_000);
        for bad in ["er-10", "xx-10-2", "er-1e99-2", "er-10-2-3-4", "er-a-2"] {
            assert!(RandomGraphSpec::parse(bad).is_none(), "{bad}");
        }
        let er = random_graph(&spec).unwrap();
        er.validate().unwrap();
        assert!(er.edges.is_undirected());
        assert_eq!(er.edges.num_self_loops(), 0);
        // 10^4 pairs drawn; a few repeats merged.
        let e = er.edges.num_edges();
        assert!((19_800..=20_000).contains(&e), "{e}");
        assert_eq!(random_graph(&spec).unwrap(), er);

        let ba = random_graph(&RandomGraphSpec {
            model: RandomGraph::PowerLaw,
            ..spec.clone()
        })
        .unwrap();
        ba.validate().unwrap();
        assert!(ba.edges.is_undirected());
        let mut degree = vec![0usize; 2000];
        for &s in ba.edges.src() {
            degree[s] += 1;
        }
        // Preferential attachment: hubs far above the mean degree of 10; ER has none.
        let max_ba = *degree.iter().max().unwrap();
        let mut er_degree = vec![0usize; 2000];
        for &s in er.edges.src() {
            er_degree[s] += 1;
        }
        let max_er = *er_degree.iter().max().unwrap();
        assert!(
            max_ba > 60 && max_er < 30,
            "max degree BA {max_ba}, ER {max_er}"
        );
        assert!(
            random_graph(&RandomGraphSpec {
                nodes: 1,
                ..spec.clone()
            })
            .is_err()
        );
        assert!(
            random_graph(&RandomGraphSpec {
                avg_degree: 1,
                ..spec.clone()
            })
            .is_err()
        );
        assert!(
            random_graph(&RandomGraphSpec {
                nodes: 1 << 40,
                ..spec
            })
            .is_err()
        );
    }

    #[test]
    fn a_block_model_is_homophilous_with_class_dependent_features() {
        let spec = RandomGraphSpec::parse("sbm-4000-10-64").unwrap();
        let g = random_graph(&spec).unwrap();
        g.validate().unwrap();
        assert_eq!(g.name, "sbm-4000-10-64");
        assert_eq!(g.edges.num_edges(), 4000 * 10);
        assert!(g.edges.is_undirected());
        assert_eq!(g.edges.num_self_loops(), 0);
        let label = |v: usize| g.labels[v].unwrap();
        assert!((0..4000).all(|v| label(v) == v % 8));
        // Same-block edges: 0.8 drawn in-block plus 0.2 · 1/8 by chance.
        let same = (0..g.edges.num_edges())
            .filter(|&e| label(g.edges.src()[e]) == label(g.edges.dst()[e]))
            .count() as f64
            / g.edges.num_edges() as f64;
        assert!((same - 0.825).abs() < 0.02, "{same}");
        // Binary words, each block's topic (8 of the 64 words) twice as frequent in it.
        assert!(g.features.data().iter().all(|&v| v == 0.0 || v == 1.0));
        let frequency = |block: usize, words: std::ops::Range<usize>| -> f32 {
            let rows: Vec<usize> = (block..4000).step_by(8).collect();
            let hits: f32 = rows
                .iter()
                .map(|&v| g.features.row(v)[words.clone()].iter().sum::<f32>())
                .sum();
            hits / (rows.len() * words.len()) as f32
        };
        assert!((frequency(1, 8..16) - SBM_TOPIC_P).abs() < 0.02);
        assert!((frequency(1, 16..64) - SBM_BACKGROUND_P).abs() < 0.01);
        assert!((frequency(0, 8..16) - SBM_BACKGROUND_P).abs() < 0.02);
        assert_eq!(random_graph(&spec).unwrap(), g);
        assert!(random_graph(&RandomGraphSpec { nodes: 10, ..spec }).is_err());
    }

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
