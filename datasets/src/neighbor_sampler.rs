//! [`NeighborSampler`]: GraphSAGE's layer-wise neighbour sampling (PyG's `NeighborLoader`,
//! DGL's `NeighborSampler`) over a [`Csr`]: from a batch of seed nodes, round `k` draws up to
//! `fanout[k]` in-neighbours of every node first reached in round `k − 1`.
//!
//! The result, a [`Sample`], is the sampled subgraph in local ids with the seeds first — a
//! model runs on it as on any graph and reads its first `num_seeds` output rows — and, per
//! layer, the bipartite block that layer needs ([`Sample::block`]).
//!
//! Deterministic: node `v`'s draw in round `k` uses a generator seeded from `(seed, k, v)`
//! alone, and new nodes are numbered in the order of the frontier, so the sample is the same
//! for a given seed whatever the number of threads that drew it (draws run in parallel on
//! rayon's pool).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

use crate::DatasetError;
use crate::csr::Csr;
use crate::synthetic::SplitMix64;

/// How many in-neighbours one round draws per node. In JSON a number, `-1` for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "i64", try_from = "i64")]
pub enum Fanout {
    /// Every in-neighbour (PyG's `-1`).
    All,
    /// At most this many (exactly this many with replacement, when the node has any).
    Sample(usize),
}

impl Fanout {
    /// Parses a comma-separated list, `15,10` (`-1` or `all`: every neighbour), one entry per
    /// layer from the seeds outwards.
    pub fn parse_list(text: &str) -> Result<Vec<Fanout>, DatasetError> {
        let bad = || {
            DatasetError::Invalid(format!(
                "fan-out {text:?}: expected counts per layer such as 15,10 (-1 or all: every \
                 neighbour)"
            ))
        };
        let list = text
            .split(',')
            .map(|part| match part.trim() {
                "-1" | "all" => Ok(Fanout::All),
                n => n.parse().map(Fanout::Sample).map_err(|_| bad()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if text.trim().is_empty() {
            return Err(bad());
        }
        Ok(list)
    }
}

impl From<Fanout> for i64 {
    fn from(f: Fanout) -> i64 {
        match f {
            Fanout::All => -1,
            Fanout::Sample(k) => k as i64,
        }
    }
}

impl TryFrom<i64> for Fanout {
    type Error = String;

    fn try_from(k: i64) -> Result<Self, String> {
        match k {
            -1 => Ok(Fanout::All),
            k => usize::try_from(k)
                .map(Fanout::Sample)
                .map_err(|_| format!("fan-out {k}: a count or -1 (all)")),
        }
    }
}

impl std::fmt::Display for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fanout::All => f.write_str("-1"),
            Fanout::Sample(k) => write!(f, "{k}"),
        }
    }
}

/// Layer-wise neighbour sampling: `fanouts[k]` in-neighbours per node in round `k + 1`, with
/// or without replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborSampler {
    fanouts: Vec<Fanout>,
    replace: bool,
}

/// Frontier nodes drawn per parallel task.
const TASK_NODES: usize = 512;

impl NeighborSampler {
    /// A sampler of `fanouts.len()` rounds (one per message-passing layer), at least one.
    pub fn new(fanouts: Vec<Fanout>, replace: bool) -> Result<Self, DatasetError> {
        if fanouts.is_empty() {
            return Err(DatasetError::Invalid(
                "neighbour sampler: needs a fan-out per layer".into(),
            ));
        }
        Ok(NeighborSampler { fanouts, replace })
    }

    /// The fan-out of each round.
    pub fn fanouts(&self) -> &[Fanout] {
        &self.fanouts
    }

    /// Samples the computation graph of `seeds` (distinct node ids of `csr`) with `seed`.
    pub fn sample(&self, csr: &Csr, seeds: &[u32], seed: u64) -> Result<Sample, DatasetError> {
        let n = csr.num_nodes();
        let mut local: HashMap<u32, u32, BuildHasherDefault<IdHasher>> = HashMap::default();
        local.reserve(seeds.len());
        for (i, &s) in seeds.iter().enumerate() {
            if s as usize >= n {
                return Err(DatasetError::Invalid(format!(
                    "neighbour sampler: seed {s} outside 0..{n}"
                )));
            }
            if local.insert(s, i as u32).is_some() {
                return Err(DatasetError::Invalid(format!(
                    "neighbour sampler: seed {s} given twice"
                )));
            }
        }
        let mut sample = Sample {
            nodes: seeds.to_vec(),
            hop_ends: vec![seeds.len()],
            src: Vec::new(),
            dst: Vec::new(),
            edge_ids: Vec::new(),
            edge_ends: vec![0],
        };
        let mut frontier = 0..seeds.len();
        for (k, &fanout) in self.fanouts.iter().enumerate() {
            let round = k as u64 + 1;
            let nodes = &sample.nodes;
            // (target local id, source global id, edge id), in frontier order.
            let picks: Vec<Vec<(u32, u32, u32)>> = frontier
                .clone()
                .collect::<Vec<usize>>()
                .par_chunks(TASK_NODES)
                .map(|chunk| {
                    let mut out = Vec::new();
                    let mut chosen = Vec::new();
                    for &i in chunk {
                        let v = nodes[i] as usize;
                        let mut rng = SplitMix64::new(draw_seed(seed, round, v as u64));
                        self.draw(csr.in_degree(v), fanout, &mut rng, &mut chosen);
                        let (sources, ids) = (csr.in_neighbors(v), csr.in_edge_ids(v));
                        out.extend(chosen.iter().map(|&p| (i as u32, sources[p], ids[p])));
                    }
                    out
                })
                .collect();
            for (t, s, e) in picks.into_iter().flatten() {
                let next = sample.nodes.len() as u32;
                let s_local = *local.entry(s).or_insert_with(|| {
                    sample.nodes.push(s);
                    next
                });
                sample.src.push(s_local);
                sample.dst.push(t);
                sample.edge_ids.push(e);
            }
            // Next round expands the nodes this round reached first.
            frontier = sample.hop_ends[k]..sample.nodes.len();
            sample.hop_ends.push(sample.nodes.len());
            sample.edge_ends.push(sample.src.len());
        }
        Ok(sample)
    }

    /// Positions `chosen` (sorted) among a node's `degree` in-edges.
    fn draw(&self, degree: usize, fanout: Fanout, rng: &mut SplitMix64, chosen: &mut Vec<usize>) {
        chosen.clear();
        match fanout {
            Fanout::Sample(k) if self.replace && degree > 0 => {
                chosen.extend((0..k).map(|_| rng.below(degree)));
            }
            Fanout::Sample(k) if k < degree => {
                // Floyd's algorithm: k distinct positions, each k-subset equally likely.
                for j in degree - k..degree {
                    let t = rng.below(j + 1);
                    chosen.push(if chosen.contains(&t) { j } else { t });
                }
            }
            Fanout::All | Fanout::Sample(_) => chosen.extend(0..degree),
        }
        chosen.sort_unstable();
    }
}

/// The generator seed of node `v`'s draw in round `round`.
fn draw_seed(seed: u64, round: u64, v: u64) -> u64 {
    let mut g = SplitMix64::new(seed ^ round.wrapping_mul(0xA24B_AED4_963E_E407));
    g.next_u64() ^ v.wrapping_mul(0x9FB2_1C65_1E98_DF25)
}

/// A hash for node ids (a multiply-xorshift; the default SipHash costs more than the draw).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        let z = (self.0 ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = z ^ (z >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A sampled computation graph in local ids: node `i` is `nodes[i]` of the full graph; the
/// seeds are nodes `0..num_seeds`, then the nodes first reached in round 1, round 2, …; edge
/// `e` is `src[e] → dst[e]`, drawn in round `k` when `edge_ends[k−1] ≤ e < edge_ends[k]` (its
/// target reached in round `k − 1`), and is edge `edge_ids[e]` of the full graph.
///
/// # Shapes
/// - `nodes`: `[N_s]`; `hop_ends`: `[L + 1]`, `hop_ends[0] = num_seeds`, `hop_ends[L] = N_s`
/// - `src`, `dst`, `edge_ids`: `[E_s]`; `edge_ends`: `[L + 1]`, `edge_ends[0] = 0`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Full-graph id of each local node.
    pub nodes: Vec<u32>,
    /// Nodes reached within `k` rounds.
    pub hop_ends: Vec<usize>,
    /// Local source of each sampled edge.
    pub src: Vec<u32>,
    /// Local target of each sampled edge.
    pub dst: Vec<u32>,
    /// Full-graph id of each sampled edge.
    pub edge_ids: Vec<u32>,
    /// Edges drawn within `k` rounds.
    pub edge_ends: Vec<usize>,
}

/// The edges one layer of a model reads in a [`Sample`]: sources `0..num_src`, targets
/// `0..num_dst` (a prefix of the sources: PyG's bipartite `(x_src, x_dst)` with
/// `x_dst = x_src[..num_dst]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// Local sources `[E_l]`.
    pub src: &'a [u32],
    /// Local targets `[E_l]`.
    pub dst: &'a [u32],
    /// Source nodes `N_s`.
    pub num_src: usize,
    /// Target nodes `N_t ≤ N_s`.
    pub num_dst: usize,
}

impl Sample {
    /// The seeds' count (their outputs are rows `0..num_seeds`).
    pub fn num_seeds(&self) -> usize {
        self.hop_ends[0]
    }

    /// Nodes of the subgraph.
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Sampling rounds `L` (the model's depth).
    pub fn layers(&self) -> usize {
        self.hop_ends.len() - 1
    }

    /// Layer `l`'s block (`1 ≤ l ≤ L`, `1` next to the input): its targets are the nodes within
    /// `L − l` rounds of the seeds, its sources those within `L − l + 1`, its edges the ones
    /// drawn in rounds `1..=L − l + 1` (PyG's `trim_to_layer`). Layer `L` outputs the seeds.
    ///
    /// # Panics
    /// If `l` is outside `1..=L`.
    pub fn block(&self, l: usize) -> Block<'_> {
        assert!(
            (1..=self.layers()).contains(&l),
            "layer {l} outside 1..={}",
            self.layers()
        );
        let reach = self.layers() - l;
        let edges = self.edge_ends[reach + 1];
        Block {
            src: &self.src[..edges],
            dst: &self.dst[..edges],
            num_src: self.hop_ends[reach + 1],
            num_dst: self.hop_ends[reach],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random directed graph with hubs, isolated nodes and repeated edges.
    fn graph(n: usize, e: usize, seed: u64) -> (Vec<usize>, Vec<usize>, Csr) {
        let mut rng = SplitMix64::new(seed);
        let (src, dst): (Vec<usize>, Vec<usize>) = (0..e)
            .map(|i| match i % 5 {
                0 => (rng.below(n), 0),                 // node 0 is a hub
                _ => (rng.below(n), rng.below(n - 10)), // the last 10 have no in-edges
            })
            .unzip();
        let csr = Csr::from_edges(n, &src, &dst).unwrap();
        (src, dst, csr)
    }

    fn sampler(fanouts: &str, replace: bool) -> NeighborSampler {
        NeighborSampler::new(Fanout::parse_list(fanouts).unwrap(), replace).unwrap()
    }

    #[test]
    fn every_sampled_edge_is_an_edge_and_fan_outs_are_bounds() {
        let (src, dst, csr) = graph(300, 3000, 1);
        let seeds: Vec<u32> = vec![0, 5, 299, 17, 42];
        for replace in [false, true] {
            let s = sampler("4,3", replace).sample(&csr, &seeds, 9).unwrap();
            assert_eq!(&s.nodes[..5], &seeds[..]);
            assert_eq!(s.layers(), 2);
            for e in 0..s.src.len() {
                let id = s.edge_ids[e] as usize;
                assert_eq!(src[id], s.nodes[s.src[e] as usize] as usize);
                assert_eq!(dst[id], s.nodes[s.dst[e] as usize] as usize);
            }
            for (k, fanout) in [4, 3].into_iter().enumerate() {
                let (lo, hi) = (s.edge_ends[k], s.edge_ends[k + 1]);
                let targets = if k == 0 {
                    0..5
                } else {
                    s.hop_ends[0]..s.hop_ends[1]
                };
                for t in targets {
                    let drawn: Vec<u32> = (lo..hi)
                        .filter(|&e| s.dst[e] as usize == t)
                        .map(|e| s.edge_ids[e])
                        .collect();
                    let degree = csr.in_degree(s.nodes[t] as usize);
                    let expected = if replace && degree > 0 {
                        fanout
                    } else {
                        degree.min(fanout)
                    };
                    assert_eq!(drawn.len(), expected, "node {t} round {}", k + 1);
                    if !replace {
                        let mut distinct = drawn.clone();
                        distinct.dedup();
                        assert_eq!(distinct, drawn, "drawn twice without replacement");
                    }
                }
                // Round k's edges point into the nodes reached in round k − 1.
                for e in lo..hi {
                    let t = s.dst[e] as usize;
                    assert!(t < s.hop_ends[k] && (k == 0 || t >= s.hop_ends[k - 1]));
                }
            }
        }
    }

    #[test]
    fn all_neighbours_and_blocks() {
        let (_, _, csr) = graph(100, 600, 2);
        let s = sampler("all,-1", false).sample(&csr, &[3, 0], 0).unwrap();
        let round1: usize = [3, 0].iter().map(|&v| csr.in_degree(v)).sum();
        assert_eq!(s.edge_ends[1], round1);
        let top = s.block(2);
        assert_eq!(
            (top.num_dst, top.num_src, top.src.len()),
            (2, s.hop_ends[1], round1)
        );
        let bottom = s.block(1);
        assert_eq!(
            (bottom.num_dst, bottom.num_src, bottom.src.len()),
            (s.hop_ends[1], s.num_nodes(), s.src.len())
        );
        assert!(bottom.dst.iter().all(|&t| (t as usize) < bottom.num_dst));
    }

    #[test]
    fn the_same_seed_gives_the_same_sample_whatever_the_thread_count() {
        let (_, _, csr) = graph(5000, 60000, 3);
        let seeds: Vec<u32> = (0..2000).map(|i| i * 2).collect();
        let s = sampler("15,10", false);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| s.sample(&csr, &seeds, 11).unwrap())
        };
        let one = on(1);
        assert!(one.edge_ends[2] > TASK_NODES * 10, "several parallel tasks");
        assert_eq!(one, on(2));
        assert_eq!(one, on(3));
        assert_ne!(one, s.sample(&csr, &seeds, 12).unwrap(), "another seed");
    }

    #[test]
    fn bad_seeds_and_fanouts_are_errors() {
        let (_, _, csr) = graph(50, 100, 4);
        let s = sampler("2", false);
        assert!(
            s.sample(&csr, &[50], 0)
                .unwrap_err()
                .to_string()
                .contains("outside")
        );
        assert!(
            s.sample(&csr, &[1, 1], 0)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        for bad in ["", "a", "15,", "1.5"] {
            assert!(Fanout::parse_list(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Fanout::parse_list("15, all,-1").unwrap(),
            vec![Fanout::Sample(15), Fanout::All, Fanout::All]
        );
        assert!(NeighborSampler::new(vec![], false).is_err());
    }
}
