//! Link prediction as the training loop sees it ([`LinkPrediction`]): the message graph, the
//! training links with fresh negatives every epoch, and evaluation by ROC-AUC / average
//! precision on held-out pairs (graph auto-encoders on Planetoid) or by filtered ranking
//! against every node (knowledge-graph completion, [`RankingQueries`]).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor};
use gnn_datasets::kg::{self, KnowledgeGraph, KnownFacts, Triple};
use gnn_datasets::link_split::{LinkSplit, Pair, sample_negatives};
use gnn_datasets::synthetic::SplitMix64;
use gnn_datasets::{NodeDataset, transforms::row_normalize};
use gnn_models::link::{Links, Missing};
use gnn_models::registry::DynModel;
use gnn_models::{Features, Graph};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::data::{
    Batch, Batches, Objective, Scored, SplitKind, TrainData, batches, node_features,
};
use crate::link_metrics::{TieRule, filtered_rank};

/// The most candidate scores one ranking batch holds on the host and the device (`B · N`
/// values, 64 MiB of `f32`): the queries per batch are `max(1, 2^24 / N)`.
pub const RANKING_BATCH_SCORES: usize = 1 << 24;

/// The facts of a ranking split, each asked twice — `(h, r, ?)` and `(?, r, t)` — with the
/// true answer ranked against every node and the other known answers (`known`: training,
/// validation and test facts) filtered out, ties ranked by `tie`.
#[derive(Debug)]
pub struct RankingQueries {
    /// The facts.
    pub facts: Vec<Triple>,
    /// Every known fact (filtered ranking).
    pub known: Arc<KnownFacts>,
    /// Whether relations are passed to the decoder (knowledge graphs) or not (plain pairs).
    pub typed: bool,
    /// How tied scores are ranked.
    pub tie: TieRule,
}

/// What ranking a split gives: one filtered rank per query (tails first, then heads, fact by
/// fact within each batch), and the summed cross-entropy of the true answer among all
/// candidates (unfiltered), the split's loss.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ranked {
    /// Filtered ranks, 1-based (fractional under [`TieRule::Mean`]).
    pub ranks: Vec<f64>,
    /// `Σ (logsumexp_n s_n − s_answer)` over the queries.
    pub cross_entropy: f64,
}

/// Id columns `(heads, tails, relations)` of `triples`, relations only when `typed`.
fn columns(triples: &[Triple], typed: bool) -> (Vec<u32>, Vec<u32>, Option<Vec<u32>>) {
    let heads = triples.iter().map(|t| t.head).collect();
    let tails = triples.iter().map(|t| t.tail).collect();
    let rels = typed.then(|| triples.iter().map(|t| t.relation).collect());
    (heads, tails, rels)
}

/// `triples` as device links.
pub fn links_of(triples: &[Triple], typed: bool, device: &Device) -> Links {
    let (h, t, r) = columns(triples, typed);
    Links::from_ids(&h, &t, r.as_deref(), device)
}

/// Ranks every query of `queries` with `model`'s decoder on the node embeddings `z`,
/// [`RANKING_BATCH_SCORES`] candidate scores at a time; `progress(done, total)` sees each
/// batch of facts.
pub fn rank(
    model: &dyn DynModel,
    z: &Tensor<2>,
    queries: &RankingQueries,
    mut progress: impl FnMut(usize, usize),
) -> Result<Ranked, TrainError> {
    let [n, _] = z.dims();
    let device = z.device();
    let per_batch = (RANKING_BATCH_SCORES / n.max(1)).max(1);
    let mut out = Ranked::default();
    let total = queries.facts.len();
    for (b, chunk) in queries.facts.chunks(per_batch).enumerate() {
        let links = links_of(chunk, queries.typed, &device);
        for missing in [Missing::Tail, Missing::Head] {
            let anchors = match missing {
                Missing::Tail => links.src.clone(),
                Missing::Head => links.dst.clone(),
            };
            let scores = host_scores(candidate_scores(
                model,
                z,
                anchors,
                links.rel.clone(),
                missing,
            )?)?;
            for (k, fact) in chunk.iter().enumerate() {
                let row = &scores[k * n..(k + 1) * n];
                let (answer, known) = match missing {
                    Missing::Tail => (fact.tail, queries.known.tails(fact.head, fact.relation)),
                    Missing::Head => (fact.head, queries.known.heads(fact.relation, fact.tail)),
                };
                out.ranks
                    .push(filtered_rank(row, answer as usize, known, queries.tie));
                out.cross_entropy += log_sum_exp(row) - f64::from(row[answer as usize]);
            }
        }
        progress(((b + 1) * per_batch).min(total), total);
    }
    Ok(out)
}

/// The decoder's scores of every node for `B` queries ([`DynModel::score_candidates`]),
/// `[B, N]`; a decoder that returns another shape is an error.
pub(crate) fn candidate_scores(
    model: &dyn DynModel,
    z: &Tensor<2>,
    anchors: Tensor<1, Int>,
    rel: Option<Tensor<1, Int>>,
    missing: Missing,
) -> Result<Tensor<2>, TrainError> {
    let want = [anchors.dims()[0], z.dims()[0]];
    let scores = model.score_candidates(z.clone(), anchors, rel, missing)?;
    if scores.dims() != want {
        return Err(TrainError::Data(format!(
            "the decoder scored {:?} candidates, not {want:?}",
            scores.dims()
        )));
    }
    Ok(scores)
}

/// Scores `[B, N]` as host values, row-major.
pub(crate) fn host_scores(scores: Tensor<2>) -> Result<Vec<f32>, TrainError> {
    scores
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| TrainError::Data(format!("candidate scores: {e:?}")))
}

/// `log Σ exp(s)`, stably.
fn log_sum_exp(row: &[f32]) -> f64 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    if !max.is_finite() {
        return max;
    }
    max + row
        .iter()
        .map(|&v| (f64::from(v) - max).exp())
        .sum::<f64>()
        .ln()
}

/// How training negatives are drawn each epoch.
#[derive(Debug, Clone)]
pub enum Negatives {
    /// Uniform node pairs `u < v` that are not training edges, as many as the positives
    /// (PyG's `negative_sampling`).
    Uniform {
        /// The training edges.
        known: HashSet<Pair>,
    },
    /// Each training fact with its head or its tail (even odds) replaced by a uniform entity,
    /// redrawn when that forms a training fact ([`kg::corrupt`]).
    Corrupt {
        /// The training facts.
        known: KnownFacts,
    },
}

/// The negatives of link training; in JSON (model cards) a count or `"all"`, as on the
/// command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "NegativesJson", into = "NegativesJson")]
pub enum LinkNegatives {
    /// This many fresh negatives per positive link each epoch (uniform pairs; for knowledge
    /// graphs corrupted heads or tails), scored by [`recon_loss`](gnn_models::link::recon_loss).
    Sampled(usize),
    /// Every candidate. On an untyped graph every node pair: Kipf & Welling's GAE objective,
    /// the training adjacency with self-loops reconstructed in full, positives weighted by
    /// `w = (N² − E)/E` and the mean scaled by `N² / (2 (N² − E))` (`E`: the training edges in
    /// both directions), as the authors' code does
    /// ([`Targets::AllPairs`](crate::data::Targets::AllPairs)). On a knowledge graph every
    /// entity as the missing head and tail of each training fact, scored by the softmax
    /// cross-entropy of the true answer ("1-vs-all", Lacroix et al. 2018; Ruffinelli et al.
    /// 2020; [`Targets::OneVsAll`](crate::data::Targets::OneVsAll)), in steps of
    /// [`with_batch_size`](LinkPrediction::with_batch_size) facts.
    All,
}

/// [`LinkNegatives`] as JSON: `3` or `"all"`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum NegativesJson {
    Count(usize),
    Name(String),
}

impl From<LinkNegatives> for NegativesJson {
    fn from(n: LinkNegatives) -> Self {
        match n {
            LinkNegatives::Sampled(k) => NegativesJson::Count(k),
            LinkNegatives::All => NegativesJson::Name("all".into()),
        }
    }
}

impl TryFrom<NegativesJson> for LinkNegatives {
    type Error = String;

    fn try_from(j: NegativesJson) -> Result<Self, String> {
        match j {
            NegativesJson::Count(k) => k.to_string().parse(),
            NegativesJson::Name(s) => s.parse(),
        }
    }
}

impl Default for LinkNegatives {
    fn default() -> Self {
        LinkNegatives::Sampled(1)
    }
}

impl std::str::FromStr for LinkNegatives {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(LinkNegatives::All),
            n => match n.parse::<usize>() {
                Ok(k) if k > 0 => Ok(LinkNegatives::Sampled(k)),
                _ => Err(format!(
                    "negatives are a count of at least 1 per link, or 'all', not '{s}'"
                )),
            },
        }
    }
}

/// Facts per step of 1-vs-all knowledge-graph training when none is given.
pub const ONE_VS_ALL_BATCH_SIZE: usize = 1024;

/// Training on a sample of the links each epoch: the R-GCN paper's sampled training graphs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinkSampling {
    /// Training links drawn uniformly without replacement each epoch (all of them when there
    /// are no more).
    pub links: usize,
    /// The share of the drawn links that forms the encoder's graph (with their inverses);
    /// the others are only scored — the paper's edge dropout, 0.5.
    pub graph_share: f64,
}

/// Link prediction on one graph: every training link (or a sample, [`LinkSampling`]) and
/// fresh negatives each epoch (drawn from `seed` and the epoch, so a run is repeatable), the
/// encoder on the message graph (training edges only), and the validation and test splits as
/// pairs (AUC / AP) or ranking queries (filtered MRR), always on the full training graph.
#[derive(Debug, Clone)]
pub struct LinkPrediction {
    x: Features,
    graph: Graph,
    train: Vec<Triple>,
    train_links: Links,
    typed: bool,
    /// `R` of a knowledge graph (its message graph has `2R` types).
    num_relations: usize,
    negatives: Negatives,
    per_link: LinkNegatives,
    sampling: Option<LinkSampling>,
    /// Facts per step of 1-vs-all training.
    batch_size: usize,
    seed: u64,
    eval: Vec<Scored>,
    objective: Objective,
}

/// Pairs `(u, v)` as untyped triples.
fn pairs_as_triples(pairs: &[Pair]) -> Vec<Triple> {
    pairs
        .iter()
        .map(|&(u, v)| Triple {
            head: u as u32,
            relation: 0,
            tail: v as u32,
        })
        .collect()
}

impl LinkPrediction {
    /// A split of `dataset`'s edges ([`random_link_split`](gnn_datasets::link_split::random_link_split)):
    /// node features row-normalised when `normalize` is set, the training pairs in both
    /// directions as the encoder's graph, validation and test pairs with their negatives
    /// scored by ROC-AUC and average precision.
    pub fn pairs(
        dataset: &NodeDataset,
        split: &LinkSplit,
        normalize: bool,
        seed: u64,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let n = dataset.num_nodes();
        let x = if normalize {
            let mut features = dataset.features.clone();
            row_normalize(&mut features);
            node_features(&features, n, device)
        } else {
            node_features(&dataset.features, n, device)
        };
        let graph = Graph::new(split.train_graph.src(), split.train_graph.dst(), n, device)?;
        let scored = |kind, pos: &[Pair], neg: &[Pair]| {
            Scored::links(
                kind,
                links_of(&pairs_as_triples(pos), false, device),
                links_of(&pairs_as_triples(neg), false, device),
                n,
            )
        };
        let eval = vec![
            scored(SplitKind::Val, &split.val_pos, &split.val_neg),
            scored(SplitKind::Test, &split.test_pos, &split.test_neg),
        ];
        let train = pairs_as_triples(&split.train_pos);
        Ok(LinkPrediction {
            x,
            graph,
            train_links: links_of(&train, false, device),
            train,
            typed: false,
            num_relations: 0,
            per_link: LinkNegatives::default(),
            sampling: None,
            batch_size: ONE_VS_ALL_BATCH_SIZE,
            negatives: Negatives::Uniform {
                known: split.train_pos.iter().copied().collect(),
            },
            seed,
            eval,
            objective: Objective::Link,
        })
    }

    /// Knowledge-graph completion on `g`: one learned input per entity
    /// ([`Features::Identity`]), the training facts and their inverses as the encoder's typed
    /// graph ([`KnowledgeGraph::message_edges`]), corrupted facts as negatives, and the
    /// validation and test facts ranked against every entity, filtered by all known facts,
    /// ties ranked by `tie`.
    pub fn knowledge_graph(
        g: &KnowledgeGraph,
        tie: TieRule,
        seed: u64,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let n = g.num_entities();
        let (src, dst, types) = g.message_edges();
        let graph =
            Graph::new(&src, &dst, n, device)?.with_edge_types(&types, 2 * g.num_relations())?;
        let known = Arc::new(KnownFacts::new(&[&g.train, &g.valid, &g.test]));
        let ranking = |kind, facts: &[Triple]| {
            let queries = RankingQueries {
                facts: facts.to_vec(),
                known: known.clone(),
                typed: true,
                tie,
            };
            Scored::ranking(kind, queries, n)
        };
        Ok(LinkPrediction {
            x: Features::Identity { num_nodes: n },
            graph,
            train_links: links_of(&g.train, true, device),
            train: g.train.clone(),
            typed: true,
            num_relations: g.num_relations(),
            per_link: LinkNegatives::default(),
            sampling: None,
            batch_size: ONE_VS_ALL_BATCH_SIZE,
            negatives: Negatives::Corrupt {
                known: KnownFacts::new(&[&g.train]),
            },
            seed,
            eval: vec![
                ranking(SplitKind::Val, &g.valid),
                ranking(SplitKind::Test, &g.test),
            ],
            objective: Objective::Ranking,
        })
    }

    /// The input features.
    pub fn features(&self) -> &Features {
        &self.x
    }

    /// The encoder's graph (training links only).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Trains on a sample of the links each epoch (`None`: all of them, the default).
    pub fn with_sampling(mut self, sampling: Option<LinkSampling>) -> Result<Self, TrainError> {
        if let Some(s) = sampling
            && (s.links == 0 || !(s.graph_share > 0.0 && s.graph_share <= 1.0))
        {
            return Err(TrainError::Config(format!(
                "link sampling needs at least one link and a graph share in (0, 1], got {} and {}",
                s.links, s.graph_share
            )));
        }
        self.sampling = sampling;
        Ok(self)
    }

    /// The negatives of training (one sampled per link by default; the R-GCN paper: 10; the
    /// GAE paper: all pairs; knowledge graphs: all entities, 1-vs-all).
    pub fn with_negatives(mut self, negatives: LinkNegatives) -> Result<Self, TrainError> {
        if negatives == LinkNegatives::Sampled(0) {
            return Err(TrainError::Config("--negatives must be at least 1".into()));
        }
        self.per_link = negatives;
        Ok(self)
    }

    /// Facts per optimisation step when every entity is a negative ([`LinkNegatives::All`]
    /// on a knowledge graph; [`ONE_VS_ALL_BATCH_SIZE`] by default): the encoder runs once per
    /// step, and a step holds `2 · batch_size · N` scores.
    pub fn with_batch_size(mut self, batch_size: usize) -> Result<Self, TrainError> {
        if batch_size == 0 {
            return Err(TrainError::Config("--batch-size must be at least 1".into()));
        }
        self.batch_size = batch_size;
        Ok(self)
    }

    /// The random stream of `epoch` for `purpose` (0: negatives, 1: link sampling, 2: the
    /// order of 1-vs-all steps).
    fn rng(&self, epoch: usize, purpose: u64) -> SplitMix64 {
        SplitMix64::new(
            self.seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(epoch as u64)
                .wrapping_add(purpose.wrapping_mul(0xD1B5_4A32_D192_ED03)),
        )
    }

    /// The sampled negatives of `epoch` for the positive links `positives`: as many per link
    /// as asked ([`with_negatives`](Self::with_negatives); none for all pairs), seeded by the
    /// run's seed and the epoch.
    pub fn negatives(&self, positives: &[Triple], epoch: usize) -> Result<Vec<Triple>, TrainError> {
        let mut rng = self.rng(epoch, 0);
        let n = self.graph.num_nodes();
        let LinkNegatives::Sampled(k) = self.per_link else {
            return Ok(Vec::new());
        };
        Ok(match &self.negatives {
            Negatives::Uniform { known } => {
                pairs_as_triples(&sample_negatives(n, k * positives.len(), known, &mut rng)?)
            }
            Negatives::Corrupt { known } => kg::corrupt(positives, k, n, Some(known), &mut rng),
        })
    }

    /// The training links of `epoch` and the graph the encoder sees: all links on the full
    /// training graph, or a uniform sample whose first `graph_share` forms the graph.
    fn epoch_links(&self, epoch: usize) -> Result<(Cow<'_, [Triple]>, Graph), TrainError> {
        let Some(s) = self.sampling else {
            return Ok((Cow::Borrowed(&self.train), self.graph.clone()));
        };
        let mut rng = self.rng(epoch, 1);
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        let m = s.links.min(order.len());
        // A partial Fisher-Yates shuffle: the first m are a uniform sample.
        for i in 0..m {
            let j = i + rng.below(order.len() - i);
            order.swap(i, j);
        }
        let sample: Vec<Triple> = order[..m].iter().map(|&i| self.train[i]).collect();
        let kept = ((m as f64 * s.graph_share).round() as usize).max(1).min(m);
        let (src, dst, types) = kg::message_edges(&sample[..kept], self.num_relations);
        let device = self.graph.device();
        let mut graph = Graph::new(&src, &dst, self.graph.num_nodes(), &device)?;
        if self.typed {
            graph = graph.with_edge_types(&types, 2 * self.num_relations)?;
        }
        Ok((Cow::Owned(sample), graph))
    }

    /// The links of an epoch's facts ([`epoch_links`](Self::epoch_links)) on the device: the
    /// cached training links when the facts are all of them (no sampling).
    fn positive_links(&self, facts: &[Triple]) -> Links {
        match self.sampling {
            None => self.train_links.clone(),
            Some(_) => links_of(facts, self.typed, &self.graph.device()),
        }
    }
}

/// The all-pairs reconstruction target of an untyped `graph` (its edges, both directions
/// present, and a self-loop per node as the positives; [`LinkNegatives::All`]).
fn all_pairs(graph: &Graph) -> Scored {
    /// The memo key of the positives: the full training graph's are made once per run.
    #[derive(Debug, PartialEq)]
    struct AllPairsPositives;
    let n = graph.num_nodes();
    let pos = graph.memoized_value(AllPairsPositives, |g| {
        let loops: Vec<u32> = (0..n as u32).collect();
        let src: Vec<u32> = g
            .host_src()
            .iter()
            .copied()
            .chain(loops.iter().copied())
            .collect();
        let dst: Vec<u32> = g.host_dst().iter().copied().chain(loops).collect();
        Links::from_ids(&src, &dst, None, &g.device())
    });
    let pairs = (n * n) as f64;
    let edges = graph.num_edges().max(1) as f64;
    Scored::all_pairs(
        SplitKind::Train,
        pos,
        n,
        (pairs - edges) / edges,
        pairs / (2.0 * (pairs - edges)),
    )
}

impl TrainData for LinkPrediction {
    fn objective(&self) -> Objective {
        self.objective
    }

    fn train_batches(&self, epoch: usize) -> Result<Batches<'_>, TrainError> {
        let (positives, graph) = self.epoch_links(epoch)?;
        let n = graph.num_nodes();
        let batch = |scored| Batch {
            x: self.x.clone(),
            graph: graph.clone(),
            blocks: None,
            scored: vec![scored],
        };
        Ok(batches(match self.per_link {
            LinkNegatives::Sampled(_) => {
                let negatives = self.negatives(&positives, epoch)?;
                let pos = self.positive_links(&positives);
                let neg = links_of(&negatives, self.typed, &graph.device());
                vec![batch(Scored::links(SplitKind::Train, pos, neg, n))]
            }
            LinkNegatives::All if !self.typed => vec![batch(all_pairs(&graph))],
            // 1-vs-all: the epoch's facts in a seeded order, a step per batch of them.
            LinkNegatives::All => {
                let mut facts = positives.into_owned();
                self.rng(epoch, 2).shuffle(&mut facts);
                facts
                    .chunks(self.batch_size)
                    .map(|chunk| {
                        let links = links_of(chunk, true, &graph.device());
                        batch(Scored::one_vs_all(SplitKind::Train, links, n))
                    })
                    .collect()
            }
        }))
    }

    fn eval_batches(&self) -> Result<Batches<'_>, TrainError> {
        Ok(batches(vec![Batch {
            x: self.x.clone(),
            graph: self.graph.clone(),
            blocks: None,
            scored: self.eval.clone(),
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;
    use gnn_models::models::GaeConfig;

    #[test]
    fn negatives_read_and_write_as_on_the_command_line() {
        for (n, json) in [
            (LinkNegatives::Sampled(10), "10"),
            (LinkNegatives::All, "\"all\""),
        ] {
            assert_eq!(serde_json::to_string(&n).unwrap(), json);
            assert_eq!(serde_json::from_str::<LinkNegatives>(json).unwrap(), n);
        }
        assert!(serde_json::from_str::<LinkNegatives>("0").is_err());
        assert!(serde_json::from_str::<LinkNegatives>("\"some\"").is_err());
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert!((log_sum_exp(&[0.0, 0.0]) - 2f64.ln()).abs() < 1e-12);
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-9);
    }

    /// Ranking with the inner-product decoder on hand-made embeddings: node 0 prefers 1 over
    /// 2 over 3, and the filtered answer 1 is skipped when 2 is asked for.
    #[test]
    fn ranks_are_filtered_by_the_known_facts() {
        let d = Device::flex();
        let model = GaeConfig::new(2).init(&d);
        let z = Tensor::<2>::from_data([[1.0f32, 0.0], [3.0, 0.0], [2.0, 0.0], [1.0, 0.0]], &d);
        let fact = |h, t| Triple {
            head: h,
            relation: 0,
            tail: t,
        };
        let known = Arc::new(KnownFacts::new(&[&[fact(0, 1), fact(0, 2)]]));
        let queries = RankingQueries {
            facts: vec![fact(0, 2)],
            known,
            typed: false,
            tie: TieRule::Mean,
        };
        let mut calls = 0;
        let ranked = rank(&model, &z, &queries, |done, total| {
            calls += 1;
            assert_eq!((done, total), (1, 1));
        })
        .unwrap();
        // Tail: scores of 0 against (0..4) = 1, 3, 2, 1; answer 2 has only 1 above it, and 1
        // is filtered: rank 1. Head (?, 0, 2): scores 2, 6, 4, 2 — node 1 is not a known
        // head of (·, 0, 2), so the answer 0 ranks below 1 and 2 and ties with 3: 3.5.
        assert_eq!(ranked.ranks, vec![1.0, 3.5]);
        assert_eq!(calls, 1);
        let ce =
            (log_sum_exp(&[1.0, 3.0, 2.0, 1.0]) - 2.0) + (log_sum_exp(&[2.0, 6.0, 4.0, 2.0]) - 2.0);
        assert!((ranked.cross_entropy - ce).abs() < 1e-9);
    }

    /// 1-vs-all training's loss is the ranking's cross-entropy of the same facts: every node
    /// a candidate, nothing filtered, both directions summed.
    #[test]
    fn one_vs_all_loss_is_the_unfiltered_ranking_cross_entropy() {
        let d = Device::flex();
        let model = GaeConfig::new(2).init(&d);
        let z = Tensor::<2>::from_data([[1.0f32, 0.5], [3.0, -1.0], [2.0, 0.0], [-1.0, 2.0]], &d);
        let fact = |h, t| Triple {
            head: h,
            relation: 0,
            tail: t,
        };
        let facts = vec![fact(0, 2), fact(3, 1), fact(2, 2)];
        let scored = Scored::one_vs_all(SplitKind::Train, links_of(&facts, false, &d), 4);
        assert_eq!(scored.targets().len(), 6);
        let loss = crate::fit::loss_sum(&model, z.clone(), &scored)
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap()[0];
        let queries = RankingQueries {
            facts,
            known: Arc::new(KnownFacts::default()),
            typed: false,
            tie: TieRule::Mean,
        };
        let ce = rank(&model, &z, &queries, |_, _| {}).unwrap().cross_entropy;
        assert!((f64::from(loss) - ce).abs() < 1e-4, "{loss} vs {ce}");
    }

    /// A toy knowledge graph: 4 entities, 2 relations, 5 training facts.
    fn toy_graph() -> KnowledgeGraph {
        let train = b"a\tr\tb\nb\tr\tc\nc\ts\ta\na\ts\tc\nd\ts\ta\n";
        kg::from_splits(
            "toy",
            [train, b"a\tr\tc\n", b"c\tr\td\n"],
            std::path::Path::new("toy.tar.gz"),
        )
        .unwrap()
    }

    /// The facts each step of `epoch` scores, as `(head, relation, tail)`.
    fn steps(data: &LinkPrediction, epoch: usize) -> Vec<Vec<(i64, i64, i64)>> {
        let ids = |t: &Tensor<1, Int>| t.clone().into_data().try_into_vec_as::<i64>().unwrap();
        data.train_batches(epoch)
            .unwrap()
            .map(|b| {
                let b = b.unwrap();
                assert_eq!(
                    b.graph.num_edges(),
                    10,
                    "the full training graph, both ways"
                );
                let [scored] = b.scored.as_slice() else {
                    panic!("one scored split a step")
                };
                let Targets::OneVsAll(l) = scored.targets() else {
                    panic!("not 1-vs-all: {:?}", scored.targets())
                };
                let (h, t, r) = (ids(&l.src), ids(&l.dst), ids(l.rel.as_ref().unwrap()));
                (0..h.len()).map(|k| (h[k], r[k], t[k])).collect()
            })
            .collect()
    }

    #[test]
    fn one_vs_all_steps_cover_the_epochs_facts_once_in_a_seeded_order() {
        let d = Device::flex();
        let g = toy_graph();
        let data = |seed| {
            LinkPrediction::knowledge_graph(&g, TieRule::Mean, seed, &d)
                .unwrap()
                .with_negatives(LinkNegatives::All)
                .unwrap()
                .with_batch_size(2)
                .unwrap()
        };
        let a = data(3);
        let epoch1 = steps(&a, 1);
        assert_eq!(epoch1.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        let mut seen: Vec<_> = epoch1.concat();
        seen.sort();
        let mut want: Vec<_> = g
            .train
            .iter()
            .map(|t| (t.head as i64, t.relation as i64, t.tail as i64))
            .collect();
        want.sort();
        assert_eq!(seen, want, "every training fact once");
        assert_eq!(steps(&data(3), 1), epoch1, "seeded");
        let orders: HashSet<_> = (1..=6).map(|e| steps(&a, e).concat()).collect();
        assert!(orders.len() > 1, "the order changes with the epoch");
        assert!(a.clone().with_batch_size(0).is_err());
    }
}
