//! What the training loop consumes: batches of `(features, graph)` with the output rows (or
//! the links) each split scores, so that full-batch node classification, mini-batches of
//! graphs and link prediction go through the same loop.

use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor, TensorData};
use gnn_datasets::{Matrix, NodeDataset};
use gnn_models::link::Links;
use gnn_models::registry::DynModel;
use gnn_models::{BipartiteGraph, Features, Graph, GraphError};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::link_data::RankingQueries;

/// A data split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitKind {
    /// Training set.
    Train,
    /// Validation set.
    Val,
    /// Test set.
    Test,
}

impl SplitKind {
    /// `train`, `val` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            SplitKind::Train => "train",
            SplitKind::Val => "val",
            SplitKind::Test => "test",
        }
    }
}

/// What the model's output rows are compared with.
#[derive(Debug, Clone)]
pub enum Targets {
    /// A class per row, `[R]`.
    Classes(Tensor<1, Int>),
    /// Values per row, `[R, T]`.
    Values(Tensor<2>),
    /// Link prediction: links that exist and links that do not, scored by the model's decoder
    /// ([`GraphModel::score_links`](gnn_models::GraphModel::score_links)) on its node output;
    /// loss [`recon_loss`](gnn_models::link::recon_loss), metrics ROC-AUC and average
    /// precision.
    Links {
        /// Existing links `[P]`.
        pos: Box<Links>,
        /// Non-existing links `[Q]`.
        neg: Box<Links>,
    },
    /// The training adjacency reconstructed in full (Kipf & Welling's GAE objective, training
    /// only): every ordered node pair `(u, v)` is scored
    /// ([`GraphModel::score_candidates`](gnn_models::GraphModel::score_candidates)), the
    /// positives `pos` weighted by `pos_weight`, the mean over the `N²` pairs scaled by
    /// `norm`: `norm · mean_uv [w·y·softplus(−s) + (1−y)·softplus(s)]`. Memory `O(N²)`.
    AllPairs {
        /// The pairs labelled 1 `[P]`.
        pos: Box<Links>,
        /// `N`.
        num_nodes: usize,
        /// The weight `w` of a positive pair.
        pos_weight: f64,
        /// The scale of the mean.
        norm: f64,
    },
    /// Knowledge-graph completion trained against every entity ("1-vs-all", training only):
    /// each fact `(h, r, t)` asked as `(h, r, ?)` and `(?, r, t)`, every node scored as the
    /// answer ([`GraphModel::score_candidates`](gnn_models::GraphModel::score_candidates)) and
    /// the loss the softmax cross-entropy of the true answer,
    /// `Σ_queries [log Σ_n exp s_n − s_answer]`: the ranking's own loss, unfiltered. Memory
    /// `O(F · N)` for `F` facts.
    OneVsAll(Box<Links>),
    /// Ranking (evaluation only): each fact's missing head and tail ranked against every node,
    /// the other known answers filtered out; metrics MRR and Hits@1/3/10.
    Ranking(Arc<RankingQueries>),
}

impl Targets {
    /// Number of scored rows (links: positives and negatives; ranking: two queries a fact).
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(t) => t.dims()[0],
            Targets::Values(t) => t.dims()[0],
            Targets::Links { pos, neg } => pos.len() + neg.len(),
            Targets::AllPairs { num_nodes, .. } => num_nodes * num_nodes,
            Targets::OneVsAll(facts) => 2 * facts.len(),
            Targets::Ranking(q) => 2 * q.facts.len(),
        }
    }

    /// True when no row is scored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The output rows of one split in a batch, and their targets. Built from host values, which
/// are checked, so that the loop can check them against the model's output without reading
/// the device: row ids below the output's rows, classes below its width, targets as wide as
/// it.
#[derive(Debug, Clone)]
pub struct Scored {
    split: SplitKind,
    rows: Option<Tensor<1, Int>>,
    targets: Targets,
    /// One past the largest row id scored (the number of rows when `rows` is `None`).
    rows_end: usize,
    /// Classification: one past the largest class; regression: the number of targets.
    width: usize,
}

fn int_tensor(values: &[usize], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(data, [values.len()]), device)
}

impl Scored {
    /// Rows `rows` of the output (all rows, in order, when `None`) scored as `split` against
    /// a class each.
    pub fn classes(
        split: SplitKind,
        rows: Option<&[usize]>,
        labels: &[usize],
        device: &Device,
    ) -> Result<Self, TrainError> {
        let rows_end = Self::check_rows(rows, labels.len())?;
        Ok(Scored {
            split,
            rows: rows.map(|r| int_tensor(r, device)),
            targets: Targets::Classes(int_tensor(labels, device)),
            rows_end,
            width: labels.iter().max().map_or(0, |&c| c + 1),
        })
    }

    /// Rows scored as `split` against `width` values each (`values` row-major, `[R, width]`).
    pub fn values(
        split: SplitKind,
        rows: Option<&[usize]>,
        values: &[f32],
        width: usize,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if width == 0 || !values.len().is_multiple_of(width) {
            return Err(TrainError::Data(format!(
                "{} target values do not make rows of {width}",
                values.len()
            )));
        }
        let count = values.len() / width;
        let rows_end = Self::check_rows(rows, count)?;
        Ok(Scored {
            split,
            rows: rows.map(|r| int_tensor(r, device)),
            targets: Targets::Values(Tensor::from_data(
                TensorData::new(values.to_vec(), [count, width]),
                device,
            )),
            rows_end,
            width,
        })
    }

    /// Links scored as `split`: `pos` exist, `neg` do not; node ids index the model's output
    /// rows.
    pub fn links(split: SplitKind, pos: Links, neg: Links, num_nodes: usize) -> Self {
        Scored {
            split,
            rows: None,
            targets: Targets::Links {
                pos: Box::new(pos),
                neg: Box::new(neg),
            },
            rows_end: num_nodes,
            width: 0,
        }
    }

    /// The full adjacency of `num_nodes` nodes reconstructed as `split` (training only; see
    /// [`Targets::AllPairs`]).
    pub fn all_pairs(
        split: SplitKind,
        pos: Links,
        num_nodes: usize,
        pos_weight: f64,
        norm: f64,
    ) -> Self {
        Scored {
            split,
            rows: None,
            targets: Targets::AllPairs {
                pos: Box::new(pos),
                num_nodes,
                pos_weight,
                norm,
            },
            rows_end: num_nodes,
            width: 0,
        }
    }

    /// Facts whose heads and tails are each ranked against all `num_nodes` nodes as `split`
    /// (training only; see [`Targets::OneVsAll`]).
    pub fn one_vs_all(split: SplitKind, facts: Links, num_nodes: usize) -> Self {
        Scored {
            split,
            rows: None,
            targets: Targets::OneVsAll(Box::new(facts)),
            rows_end: num_nodes,
            width: 0,
        }
    }

    /// Ranking queries scored as `split` (evaluation only), over `num_nodes` candidates.
    pub fn ranking(split: SplitKind, queries: RankingQueries, num_nodes: usize) -> Self {
        Scored {
            split,
            rows: None,
            targets: Targets::Ranking(Arc::new(queries)),
            rows_end: num_nodes,
            width: 0,
        }
    }

    /// One past the largest row id (the number of targets when every row is scored).
    fn check_rows(rows: Option<&[usize]>, targets: usize) -> Result<usize, TrainError> {
        match rows {
            None => Ok(targets),
            Some(r) if r.len() == targets => Ok(r.iter().max().map_or(0, |&m| m + 1)),
            Some(r) => Err(TrainError::Data(format!(
                "{} scored rows but {targets} targets",
                r.len()
            ))),
        }
    }

    /// Which split these rows belong to.
    pub fn split(&self) -> SplitKind {
        self.split
    }

    /// The output rows scored, `[R]`; `None` for all rows.
    pub fn rows(&self) -> Option<&Tensor<1, Int>> {
        self.rows.as_ref()
    }

    /// Their targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The scored rows of a model output `[N, C]`: `[R, C]`, in the order of the targets.
    pub fn select(&self, out: Tensor<2>) -> Tensor<2> {
        match &self.rows {
            Some(r) => out.select(0, r.clone()),
            None => out,
        }
    }

    /// Checks these rows against a model output of shape `[rows, width]`.
    pub fn check(&self, [rows, width]: [usize; 2]) -> Result<(), TrainError> {
        let all = self.rows.is_none();
        if (all && self.rows_end != rows) || self.rows_end > rows {
            return Err(TrainError::Data(format!(
                "the {} split scores rows up to {} of an output with {rows}",
                self.split.name(),
                self.rows_end
            )));
        }
        let (fits, what) = match self.targets {
            Targets::Classes(_) => (self.width <= width, "classes"),
            Targets::Values(_) => (self.width == width, "targets"),
            // Links index the output's rows (its nodes), whatever their width.
            Targets::Links { .. }
            | Targets::AllPairs { .. }
            | Targets::OneVsAll(_)
            | Targets::Ranking(_) => (true, ""),
        };
        if !fits {
            return Err(TrainError::Data(format!(
                "the {} split has {} {what}, the model outputs {width}",
                self.split.name(),
                self.width
            )));
        }
        Ok(())
    }
}

/// One forward pass: node features, the graph, and the rows scored per split.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Node features `[N, F]`.
    pub x: Features,
    /// The graph (one graph, or a disjoint union with a batch vector).
    pub graph: Graph,
    /// A sampled batch's per-layer blocks of `graph`, first layer first
    /// ([`GraphModel::forward_blocks`](gnn_models::GraphModel::forward_blocks)); their last
    /// targets are the scored rows.
    pub blocks: Option<Vec<BipartiteGraph>>,
    /// Scored rows per split.
    pub scored: Vec<Scored>,
}

impl Batch {
    /// The model's output rows for this batch: on its blocks when it has them and the model
    /// runs on blocks, else on the whole graph. `train`: the training forward, with features
    /// on the autodiff device (so input dropout is active) and the model's own penalty term
    /// ([`GraphModel::forward_train`](gnn_models::GraphModel::forward_train)).
    ///
    /// # Shapes
    /// - output `[rows, C]` (rows covering the scored ones); the term `[1]`
    pub fn forward(
        &self,
        model: &dyn DynModel,
        train: bool,
    ) -> Result<(Tensor<2>, Option<Tensor<1>>), GraphError> {
        let x = match train {
            true => self.x.clone().autodiff(),
            false => self.x.clone(),
        };
        if let Some(out) = self
            .blocks
            .as_deref()
            .and_then(|blocks| model.forward_blocks(x.clone(), blocks))
        {
            return Ok((out?, None));
        }
        match train {
            true => model.forward_train(x, &self.graph),
            false => Ok((model.forward(x, &self.graph)?, None)),
        }
    }
}

/// The kind of task, which fixes the loss and the metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Cross-entropy loss over logits, accuracy metric.
    Classification {
        /// Number of classes.
        num_classes: usize,
    },
    /// Mean absolute error loss and metric. Targets are trained normalised, `(y − μ)/σ`; the
    /// metric is reported in the target's units, `scale · mean |ŷ − y|` with `scale = σ` (1
    /// for several targets, whose metric stays in σ units).
    Regression {
        /// `σ` of the target.
        scale: f64,
    },
    /// Link prediction scored as classification of pairs: reconstruction loss, ROC-AUC metric
    /// (average precision beside it).
    Link,
    /// Link prediction scored by ranking: reconstruction loss in training; filtered MRR metric
    /// (Hits@1/3/10 beside it).
    Ranking,
}

impl Objective {
    /// `accuracy`, `mae`, `auc` or `mrr`: what the metric measures.
    pub fn metric_name(self) -> &'static str {
        match self {
            Objective::Classification { .. } => "accuracy",
            Objective::Regression { .. } => "mae",
            Objective::Link => "auc",
            Objective::Ranking => "mrr",
        }
    }

    /// Whether a higher metric is better (all but the regression error).
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Objective::Regression { .. })
    }
}

/// A dataset as the training loop sees it, on a (non-autodiff) device. Implement it to train
/// on data of your own: build each [`Batch`]'s scored rows with [`Scored::classes`] or
/// [`Scored::values`], or its links with [`Scored::links`] and [`Scored::ranking`].
pub trait TrainData {
    /// Loss and metric.
    fn objective(&self) -> Objective;
    /// Batches of one training epoch (each scoring its training rows); `epoch` seeds shuffling.
    fn train_batches(&self, epoch: usize) -> Result<Batches<'_>, TrainError>;
    /// Batches that together score every split once.
    fn eval_batches(&self) -> Result<Batches<'_>, TrainError>;
    /// The model's output rows of each evaluation batch, with the rows it scores: by default
    /// ([`batch_outputs`]) the model's forward on each of [`eval_batches`](Self::eval_batches);
    /// a dataset may compute them otherwise (sampled data: layer-wise inference over the
    /// whole graph).
    fn eval_outputs<'a>(&'a self, model: &'a dyn DynModel) -> Result<Outputs<'a>, TrainError> {
        batch_outputs(self, model)
    }
}

/// Output rows `[R, C]` with the rows of them scored, one item per evaluation batch.
pub type Outputs<'a> = Box<dyn Iterator<Item = Result<(Tensor<2>, Vec<Scored>), TrainError>> + 'a>;

/// The model's forward on each of `data`'s evaluation batches, with the rows each scores.
pub fn batch_outputs<'a, D: TrainData + ?Sized>(
    data: &'a D,
    model: &'a dyn DynModel,
) -> Result<Outputs<'a>, TrainError> {
    Ok(Box::new(data.eval_batches()?.map(move |batch| {
        let batch = batch?;
        let (out, _) = batch.forward(model, false)?;
        Ok((out, batch.scored))
    })))
}

/// Batches made one at a time, so that an epoch of sampled mini-batches never holds all of
/// them at once ([`SampledNodes`](crate::sampled_data::SampledNodes) makes them ahead in a
/// background thread).
pub type Batches<'a> = Box<dyn Iterator<Item = Result<Batch, TrainError>> + 'a>;

/// [`Batches`] of batches already made.
pub fn batches<'a>(made: Vec<Batch>) -> Batches<'a> {
    Box::new(made.into_iter().map(Ok))
}

/// Input features with at most this share of non-zeros are kept sparse on the device.
pub const SPARSE_MAX_DENSITY: f64 = 0.1;

/// A node dataset's input on `device`: its features `[N, F]` (sparse when at most
/// [`SPARSE_MAX_DENSITY`] of them are non-zero), or [`Features::Identity`] for `num_nodes`
/// nodes when it has none (`F = 0`).
pub fn node_features(features: &Matrix, num_nodes: usize, device: &Device) -> Features {
    if features.cols() == 0 {
        return Features::Identity { num_nodes };
    }
    Features::auto(
        features.data(),
        num_nodes,
        features.cols(),
        SPARSE_MAX_DENSITY,
        device,
    )
}

/// Full-batch node classification on one graph (Planetoid and the like).
#[derive(Debug, Clone)]
pub struct NodeClassification {
    x: Features,
    graph: Graph,
    num_classes: usize,
    splits: Vec<Scored>,
}

impl NodeClassification {
    /// Puts a host dataset on `device`: features `[N, F]` ([`node_features`]), the edge list (with its relation types) as a [`Graph`], and the node ids and
    /// labels of each non-empty split.
    pub fn new(dataset: &NodeDataset, device: &Device) -> Result<Self, TrainError> {
        dataset.validate()?;
        let n = dataset.num_nodes();
        let mut graph = Graph::new(dataset.edges.src(), dataset.edges.dst(), n, device)?;
        if let Some(r) = &dataset.relations {
            graph = graph.with_edge_types(&r.edge_type, r.len())?;
        }
        let x = node_features(&dataset.features, n, device);
        let splits = [
            (SplitKind::Train, &dataset.split.train),
            (SplitKind::Val, &dataset.split.val),
            (SplitKind::Test, &dataset.split.test),
        ]
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(kind, ids)| {
            // validate() guarantees every split node has a label.
            let labels: Vec<usize> = ids
                .iter()
                .map(|&i| dataset.labels[i].unwrap_or(0))
                .collect();
            Scored::classes(kind, Some(ids), &labels, device)
        })
        .collect::<Result<_, _>>()?;
        Ok(NodeClassification {
            x,
            graph,
            num_classes: dataset.num_classes,
            splits,
        })
    }

    /// The node features `[N, F]`.
    pub fn features(&self) -> &Features {
        &self.x
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
}

impl TrainData for NodeClassification {
    fn objective(&self) -> Objective {
        Objective::Classification {
            num_classes: self.num_classes,
        }
    }

    fn train_batches(&self, _epoch: usize) -> Result<Batches<'_>, TrainError> {
        Ok(batches(vec![Batch {
            x: self.x.clone(),
            graph: self.graph.clone(),
            blocks: None,
            scored: self
                .splits
                .iter()
                .filter(|s| s.split == SplitKind::Train)
                .cloned()
                .collect(),
        }]))
    }

    fn eval_batches(&self) -> Result<Batches<'_>, TrainError> {
        Ok(batches(vec![Batch {
            x: self.x.clone(),
            graph: self.graph.clone(),
            blocks: None,
            scored: self.splits.clone(),
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scored_rows_are_checked_against_the_output() {
        let d = Device::flex();
        let s = Scored::classes(SplitKind::Val, Some(&[4, 1]), &[2, 0], &d).unwrap();
        s.check([5, 3]).unwrap();
        let e = s.check([4, 3]).unwrap_err().to_string();
        assert_eq!(
            e,
            "training data: the val split scores rows up to 5 of an output with 4"
        );
        assert!(
            s.check([5, 2])
                .unwrap_err()
                .to_string()
                .contains("3 classes")
        );
        assert!(Scored::classes(SplitKind::Train, Some(&[1]), &[0, 1], &d).is_err());
        let v = Scored::values(SplitKind::Test, None, &[1.0, 2.0, 3.0, 4.0], 2, &d).unwrap();
        v.check([2, 2]).unwrap();
        assert!(
            v.check([3, 2]).is_err(),
            "every row is scored: counts must match"
        );
        assert!(v.check([2, 1]).is_err());
        assert!(Scored::values(SplitKind::Test, None, &[1.0, 2.0, 3.0], 2, &d).is_err());
    }
}
