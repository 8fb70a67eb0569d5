//! What the training loop consumes: batches of `(features, graph)` with the output rows each
//! split scores, so that full-batch node classification and mini-batches of graphs go through
//! the same loop.

use burn::tensor::{Device, Int, Tensor, TensorData};
use gnn_datasets::NodeDataset;
use gnn_models::{Features, Graph};
use serde::{Deserialize, Serialize};

use crate::TrainError;

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
}

impl Targets {
    /// Number of scored rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(t) => t.dims()[0],
            Targets::Values(t) => t.dims()[0],
        }
    }

    /// True when no row is scored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The output rows of one split in a batch, and their targets.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Which split these rows belong to.
    pub split: SplitKind,
    /// Output rows to score, `[R]`; `None` for all rows.
    pub rows: Option<Tensor<1, Int>>,
    /// Their targets.
    pub targets: Targets,
}

/// One forward pass: node features, the graph, and the rows scored per split.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Node features `[N, F]`.
    pub x: Features,
    /// The graph (one graph, or a disjoint union with a batch vector).
    pub graph: Graph,
    /// Scored rows per split.
    pub scored: Vec<Scored>,
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
}

/// A dataset as the training loop sees it, on a (non-autodiff) device.
pub trait TrainData {
    /// Loss and metric.
    fn objective(&self) -> Objective;
    /// Batches of one training epoch (each scoring its training rows); `epoch` seeds shuffling.
    fn train_batches(&self, epoch: usize) -> Vec<Batch>;
    /// Batches that together score every split once.
    fn eval_batches(&self) -> Vec<Batch>;
}

/// Input features with at most this share of non-zeros are kept sparse on the device.
pub const SPARSE_MAX_DENSITY: f64 = 0.1;

fn int_tensor(values: &[usize], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(data, [values.len()]), device)
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
    /// Puts a host dataset on `device`: features `[N, F]` (sparse when at most
    /// [`SPARSE_MAX_DENSITY`] of them are non-zero; [`Features::Identity`] when the dataset has
    /// none), the edge list (with its relation types) as a [`Graph`], and the node ids and
    /// labels of each non-empty split.
    pub fn new(dataset: &NodeDataset, device: &Device) -> Result<Self, TrainError> {
        dataset.validate()?;
        let n = dataset.num_nodes();
        let mut graph = Graph::new(dataset.edges.src(), dataset.edges.dst(), n, device)?;
        if let Some(r) = &dataset.relations {
            graph = graph.with_edge_types(&r.edge_type, r.len())?;
        }
        let x = if dataset.num_features() == 0 {
            Features::Identity { num_nodes: n }
        } else {
            Features::auto(
                dataset.features.data(),
                n,
                dataset.num_features(),
                SPARSE_MAX_DENSITY,
                device,
            )
        };
        let scored = |split: SplitKind, ids: &[usize]| {
            // validate() guarantees every split node has a label.
            let labels: Vec<usize> = ids
                .iter()
                .map(|&i| dataset.labels[i].unwrap_or(0))
                .collect();
            Scored {
                split,
                rows: Some(int_tensor(ids, device)),
                targets: Targets::Classes(int_tensor(&labels, device)),
            }
        };
        let splits = [
            (SplitKind::Train, &dataset.split.train),
            (SplitKind::Val, &dataset.split.val),
            (SplitKind::Test, &dataset.split.test),
        ]
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(kind, ids)| scored(kind, ids))
        .collect();
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

    fn train_batches(&self, _epoch: usize) -> Vec<Batch> {
        vec![Batch {
            x: self.x.clone(),
            graph: self.graph.clone(),
            scored: self
                .splits
                .iter()
                .filter(|s| s.split == SplitKind::Train)
                .cloned()
                .collect(),
        }]
    }

    fn eval_batches(&self) -> Vec<Batch> {
        vec![Batch {
            x: self.x.clone(),
            graph: self.graph.clone(),
            scored: self.splits.clone(),
        }]
    }
}
