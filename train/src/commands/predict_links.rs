//! What `gnn predict --queries FILE` does for a link model: for each query `(head, relation,
//! ?)` the `k` best-scoring tails among every node, with their scores and whether the fact is
//! already known.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use gnn_datasets::kg::KnownFacts;
use gnn_datasets::link_queries::{LinkQuery, Vocabulary, read_queries};
use gnn_models::link::{Links, Missing};
use serde::Serialize;

use super::link_task;
use crate::datasets::AnyDataset;
use crate::link_data::{RANKING_BATCH_SCORES, candidate_scores, host_scores};
use crate::saved::SavedModel;
use crate::{Backend, TrainError};

/// One completed query: a tail among the `k` best.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedTail {
    /// The head, by name (knowledge graphs) or id.
    pub head: String,
    /// The relation, by name; absent for untyped pairs.
    pub relation: Option<String>,
    /// 1 for the best-scoring tail.
    pub rank: usize,
    /// The tail, by name or id.
    pub tail: String,
    /// The decoder's logit `s(h, r, t)` (the probability is `σ(s)`).
    pub score: f32,
    /// Whether `(head, relation, tail)` is a fact of the dataset (any split; for a node
    /// dataset, an edge in either direction).
    pub known: bool,
}

/// The rows as CSV: `head,relation,rank,tail,score,known` (names with a comma or quote are
/// quoted).
pub fn ranked_tails_csv(rows: &[RankedTail]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from("head,relation,rank,tail,score,known\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            field(&r.head),
            field(r.relation.as_deref().unwrap_or("")),
            r.rank,
            field(&r.tail),
            r.score,
            r.known
        );
    }
    out
}

/// Which facts a dataset already has.
enum Known {
    Facts(KnownFacts),
    Edges(HashSet<(u32, u32)>),
}

impl Known {
    fn contains(&self, q: &LinkQuery, tail: u32) -> bool {
        match self {
            Known::Facts(f) => f.contains(q.head, q.relation.unwrap_or(0), tail),
            Known::Edges(e) => e.contains(&(q.head.min(tail), q.head.max(tail))),
        }
    }
}

/// The `k` best tails of every query in `queries_path` (see
/// [`gnn_datasets::link_queries`]) by a saved link model on `dataset`, queries in file order,
/// tails best first (ties by id). The candidate scores are computed
/// [`RANKING_BATCH_SCORES`] at a time.
pub fn predict_links(
    saved: &SavedModel,
    dataset: &AnyDataset,
    backend: Backend,
    queries_path: &Path,
    k: usize,
) -> Result<Vec<RankedTail>, TrainError> {
    let (vocabulary, known, name) = match dataset {
        AnyDataset::Knowledge(g) => (
            Vocabulary::Names {
                entities: &g.entities,
                relations: &g.relations,
            },
            Known::Facts(KnownFacts::new(&[&g.train, &g.valid, &g.test])),
            Some((&g.entities, &g.relations)),
        ),
        AnyDataset::Node(ds) => (
            Vocabulary::Ids {
                num_nodes: ds.num_nodes(),
            },
            Known::Edges(
                ds.edges
                    .src()
                    .iter()
                    .zip(ds.edges.dst())
                    .map(|(&a, &b)| (a.min(b) as u32, a.max(b) as u32))
                    .collect(),
            ),
            None,
        ),
        AnyDataset::Graph(ds) => {
            return Err(TrainError::Config(format!(
                "{} is a set of graphs; link queries ask about one graph",
                ds.name
            )));
        }
    };
    let queries = read_queries(queries_path, vocabulary)?;
    let data = link_task(saved, dataset, backend)?;
    let model = saved.model.model();
    let z = model.forward(data.features().clone(), data.graph())?;
    let [n, _] = z.dims();
    let k = k.min(n);
    if k == 0 {
        return Err(TrainError::Config("--top-k must be at least 1".into()));
    }
    let device = z.device();
    let entity = |id: u32| match name {
        Some((entities, _)) => entities[id as usize].clone(),
        None => id.to_string(),
    };
    let mut out = Vec::with_capacity(queries.len() * k);
    for chunk in queries.chunks((RANKING_BATCH_SCORES / n.max(1)).max(1)) {
        let heads: Vec<u32> = chunk.iter().map(|q| q.head).collect();
        let rels: Option<Vec<u32>> =
            name.map(|_| chunk.iter().filter_map(|q| q.relation).collect());
        let links = Links::from_ids(&heads, &heads, rels.as_deref(), &device);
        let scores = host_scores(candidate_scores(
            model,
            &z,
            links.src,
            links.rel,
            Missing::Tail,
        )?)?;
        for (b, q) in chunk.iter().enumerate() {
            let row = &scores[b * n..(b + 1) * n];
            let mut order: Vec<u32> = (0..n as u32).collect();
            // Best first; NaN last; ties by id.
            let key = |i: &u32| {
                let s = row[*i as usize];
                if s.is_nan() { f32::NEG_INFINITY } else { s }
            };
            order.select_nth_unstable_by(k.saturating_sub(1), |a, b| {
                key(b).total_cmp(&key(a)).then(a.cmp(b))
            });
            order.truncate(k);
            order.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.cmp(b)));
            for (rank, &tail) in order.iter().enumerate() {
                out.push(RankedTail {
                    head: entity(q.head),
                    relation: name
                        .zip(q.relation)
                        .map(|((_, r), id)| r[id as usize].clone()),
                    rank: rank + 1,
                    tail: entity(tail),
                    score: row[tail as usize],
                    known: known.contains(q, tail),
                });
            }
        }
    }
    Ok(out)
}
