//! What `gnn eval` and `gnn predict` do: a saved model scored, or its predictions written, on
//! the splits it was trained on.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use gnn_datasets::{GraphDataset, GraphTarget, NodeDataset, TargetScaler};

use crate::data::{NodeClassification, SplitKind, TrainData};
use crate::datasets::AnyDataset;
use crate::experiment::{ExperimentSpec, graph_splits, link_data, prepare};
use crate::graph_data::GraphBatches;
use crate::link_data::LinkPrediction;
use crate::saved::SavedModel;
use crate::{Backend, TrainError};

/// Checks that `dataset` has the widths the model was built for.
fn check_fits(saved: &SavedModel, dataset: &NodeDataset) -> Result<(), TrainError> {
    let (f, c) = saved.model.entry().widths(&saved.card.model)?;
    let input = if dataset.num_features() == 0 {
        dataset.num_nodes()
    } else {
        dataset.num_features()
    };
    if input != f || dataset.num_classes != c {
        return Err(TrainError::Config(format!(
            "the model takes {f} input features and predicts {c} classes; {} has {input} and {}",
            dataset.name, dataset.num_classes
        )));
    }
    Ok(())
}

/// The model's metric per split name.
fn named_metrics(
    saved: &SavedModel,
    data: &dyn TrainData,
) -> Result<BTreeMap<String, f64>, TrainError> {
    Ok(saved
        .model
        .evaluate(data)?
        .into_iter()
        .map(|(k, s)| (k.name().to_string(), s.metric))
        .collect())
}

/// A node dataset on `backend`, prepared as the saved model was trained on it.
pub(super) fn node_data(
    saved: &SavedModel,
    dataset: &NodeDataset,
    backend: Backend,
) -> Result<NodeClassification, TrainError> {
    check_fits(saved, dataset)?;
    prepare(
        dataset,
        saved.card.preprocessing.normalize_features,
        &backend.device()?,
    )
}

/// What `gnn eval --json` writes: the fields of `gnn train --json` (and of its runs) that a
/// saved model has, and the metrics its card saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Model name.
    pub model: String,
    /// Dataset name.
    pub dataset: String,
    /// Backend name.
    pub backend: String,
    /// `accuracy` (a fraction) or `mae` (in the target's units).
    pub metric: String,
    /// The test split's metric.
    pub test_metric: Option<f64>,
    /// The validation split's metric.
    pub val_metric: Option<f64>,
    /// Metric per split (`train`, `val`, `test`), as computed now.
    pub split_metrics: BTreeMap<String, f64>,
    /// Metric per split as the model card saved them (empty for imported weights).
    pub saved_metrics: BTreeMap<String, f64>,
}

/// Accuracy per split of a saved model on `dataset`, computed exactly as training scored it.
pub fn eval(
    saved: &SavedModel,
    dataset: &NodeDataset,
    backend: Backend,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let data = node_data(saved, dataset, backend)?;
    named_metrics(saved, &data)
}

/// The graph batches a saved graph-level model was scored on: the split of its first run
/// (fold 0, or the first seeded split), rebuilt from the card's training settings — for
/// imported weights, which have none, fold 0 of the default stratified 10-fold split (seed 0),
/// or for regression the first seeded 80/10/10 split.
fn graph_batches(
    saved: &SavedModel,
    dataset: &GraphDataset,
    backend: Backend,
) -> Result<GraphBatches, TrainError> {
    let spec = saved.card.training.clone().unwrap_or_else(|| {
        let mut spec = ExperimentSpec::bare(&saved.card.model.kind, backend);
        if dataset.num_classes.is_none() {
            // Regression: the first seeded 80/10/10 split, as `gnn train` makes.
            spec.folds = 0;
        }
        spec
    });
    let (f, c) = saved.model.entry().widths(&saved.card.model)?;
    if dataset.num_node_features != f || dataset.num_outputs() != c {
        return Err(TrainError::Config(format!(
            "the model takes {f} node features and predicts {c} outputs; {} has {} and {}",
            dataset.name,
            dataset.num_node_features,
            dataset.num_outputs()
        )));
    }
    let split = graph_splits(&spec, dataset)?
        .into_iter()
        .next()
        .ok_or_else(|| TrainError::Config("no split".into()))?;
    GraphBatches::new(
        dataset,
        split,
        spec.batch_size,
        spec.seed,
        saved.card.preprocessing.normalize_features,
        &backend.device()?,
    )
}

/// Accuracy per split of a saved graph-level model on the split of its first run.
pub fn eval_graph(
    saved: &SavedModel,
    dataset: &GraphDataset,
    backend: Backend,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let data = graph_batches(saved, dataset, backend)?;
    named_metrics(saved, &data)
}

/// The link-prediction data a saved link model was scored on: the edge split of its run (the
/// card's seed and settings; seed 0 and the defaults for imported weights), or a knowledge
/// graph's own splits.
pub fn link_task(
    saved: &SavedModel,
    dataset: &AnyDataset,
    backend: Backend,
) -> Result<LinkPrediction, TrainError> {
    let kind = &saved.card.model.kind;
    let spec = saved.card.training.clone().unwrap_or_else(|| {
        let mut spec = ExperimentSpec::bare(kind, backend);
        spec.normalize_features = saved.card.preprocessing.normalize_features;
        spec
    });
    let (f, _) = saved.model.entry().widths(&saved.card.model)?;
    let info = dataset.info_for(gnn_models::registry::Task::Link);
    if info.num_features != f {
        return Err(TrainError::Config(format!(
            "the model takes {f} input features; {} has {}",
            info.name, info.num_features
        )));
    }
    let seed = saved.card.seed.unwrap_or(spec.seed);
    link_data(&spec, dataset, seed, &backend.device()?)
}

/// A saved link model's metric per split (ROC-AUC or filtered MRR), with the further metrics
/// as `<split>_<metric>` (`test_ap`, `test_hits10`), as training scored them.
pub fn eval_links(
    saved: &SavedModel,
    dataset: &AnyDataset,
    backend: Backend,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let data = link_task(saved, dataset, backend)?;
    let mut out = BTreeMap::new();
    for (split, score) in saved.model.evaluate(&data)? {
        for (name, value) in &score.more {
            out.insert(format!("{}_{name}", split.name()), *value);
        }
        out.insert(split.name().to_string(), score.metric);
    }
    Ok(out)
}

/// What a model predicted for one node or graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Predicted {
    /// Classification: the most probable class and every class's probability (softmax).
    Class {
        /// The true class, where known.
        label: Option<usize>,
        /// The most probable class.
        prediction: usize,
        /// `p_0 … p_{C−1}`.
        probabilities: Vec<f32>,
    },
    /// Regression, in the target's units (de-normalised with the training graphs' statistics).
    Values {
        /// The true targets.
        target: Vec<f32>,
        /// The predicted targets.
        prediction: Vec<f32>,
    },
}

/// One row of `gnn predict`: a node or graph, its split, and what the model predicted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The node or graph id.
    pub id: usize,
    /// `train`, `val` or `test`; none for a node outside the split.
    pub split: Option<&'static str>,
    /// The prediction.
    #[serde(flatten)]
    pub predicted: Predicted,
}

/// Every prediction of a model on a dataset, per node or per graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Predictions {
    /// `node` or `graph`.
    pub level: &'static str,
    /// One per node or graph, by id.
    pub rows: Vec<Prediction>,
}

impl Predictions {
    /// As CSV: for classification `id,split,label,prediction,p_0,…` (the first column named
    /// `node` or `graph`); for regression `graph,split,target,prediction`, several targets
    /// joined by `;`. Unknown splits and labels are empty fields.
    pub fn to_csv(&self) -> String {
        let joined = |v: &[f32]| v.iter().map(f32::to_string).collect::<Vec<_>>().join(";");
        let mut out = String::new();
        for (r, row) in self.rows.iter().enumerate() {
            let split = row.split.unwrap_or("");
            match &row.predicted {
                Predicted::Class {
                    label,
                    prediction,
                    probabilities,
                } => {
                    if r == 0 {
                        let _ = write!(out, "{},split,label,prediction", self.level);
                        for k in 0..probabilities.len() {
                            let _ = write!(out, ",p_{k}");
                        }
                        out.push('\n');
                    }
                    let label = label.map_or(String::new(), |l| l.to_string());
                    let _ = write!(out, "{},{split},{label},{prediction}", row.id);
                    for p in probabilities {
                        let _ = write!(out, ",{p}");
                    }
                    out.push('\n');
                }
                Predicted::Values { target, prediction } => {
                    if r == 0 {
                        let _ = writeln!(out, "{},split,target,prediction", self.level);
                    }
                    let (t, p) = (joined(target), joined(prediction));
                    let _ = writeln!(out, "{},{split},{t},{p}", row.id);
                }
            }
        }
        out
    }
}

/// The split name of every id in `0..n` (none outside the split).
fn split_names(
    n: usize,
    train: &[usize],
    val: &[usize],
    test: &[usize],
) -> Vec<Option<&'static str>> {
    let mut name = vec![None; n];
    for (s, ids) in [("train", train), ("val", val), ("test", test)] {
        for &i in ids {
            if let Some(slot) = name.get_mut(i) {
                *slot = Some(s);
            }
        }
    }
    name
}

/// The rows of `[R, C]` logits as classes: the most probable one and every probability.
fn classes(logits: Tensor<2>) -> Result<Vec<(usize, Vec<f32>)>, TrainError> {
    let [_, c] = logits.dims();
    let probs = host(softmax(logits, 1))?;
    Ok(probs
        .chunks(c.max(1))
        .map(|row| {
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (k, &p)| if p > b.1 { (k, p) } else { b },
                )
                .0;
            (best, row.to_vec())
        })
        .collect())
}

/// A tensor's values on the host.
fn host(t: Tensor<2>) -> Result<Vec<f32>, TrainError> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Config(format!("reading predictions: {e:?}")))
}

/// Per-graph predictions on the split of the model's first run: classes with their
/// probabilities, or regression targets in their units (de-normalised with the training
/// graphs' statistics).
pub fn predict_graph(
    saved: &SavedModel,
    dataset: &GraphDataset,
    backend: Backend,
) -> Result<Predictions, TrainError> {
    let data = graph_batches(saved, dataset, backend)?;
    let split = data.split();
    let name = split_names(dataset.len(), &split.train, &split.val, &split.test);
    let all: Vec<usize> = (0..dataset.len()).collect();
    let mut rows = Vec::with_capacity(dataset.len());
    for chunk in all.chunks(512) {
        let batch = data.batch(chunk, SplitKind::Test)?;
        let outputs = saved.model.forward(batch.x, &batch.graph)?;
        let predicted: Vec<Predicted> = match data.scaler() {
            Some(scaler) => regression(outputs, scaler, chunk, dataset)?,
            None => classes(outputs)?
                .into_iter()
                .zip(chunk)
                .map(|((prediction, probabilities), &g)| Predicted::Class {
                    label: match dataset.graphs[g].y {
                        GraphTarget::Class(k) => Some(k),
                        GraphTarget::Values(_) => None,
                    },
                    prediction,
                    probabilities,
                })
                .collect(),
        };
        rows.extend(
            chunk
                .iter()
                .zip(predicted)
                .map(|(&g, predicted)| Prediction {
                    id: g,
                    split: name[g],
                    predicted,
                }),
        );
    }
    Ok(Predictions {
        level: "graph",
        rows,
    })
}

/// A regression model's outputs (normalised) for `graphs`, in the target's units.
fn regression(
    outputs: Tensor<2>,
    scaler: &TargetScaler,
    graphs: &[usize],
    dataset: &GraphDataset,
) -> Result<Vec<Predicted>, TrainError> {
    let mut pred = host(outputs)?;
    scaler.denormalize(&mut pred);
    let width = scaler.mean.len().max(1);
    Ok(graphs
        .iter()
        .zip(pred.chunks(width))
        .map(|(&g, p)| Predicted::Values {
            target: match &dataset.graphs[g].y {
                GraphTarget::Values(v) => v.clone(),
                GraphTarget::Class(k) => vec![*k as f32],
            },
            prediction: p.to_vec(),
        })
        .collect())
}

/// Per-node predictions: every node's class probabilities (softmax), the most probable class,
/// its label and split where it has them.
pub fn predict(
    saved: &SavedModel,
    dataset: &NodeDataset,
    backend: Backend,
) -> Result<Predictions, TrainError> {
    let data = node_data(saved, dataset, backend)?;
    let logits = saved.model.forward(data.features().clone(), data.graph())?;
    let [n, _] = logits.dims();
    let s = &dataset.split;
    let name = split_names(n, &s.train, &s.val, &s.test);
    let rows = classes(logits)?
        .into_iter()
        .enumerate()
        .map(|(i, (prediction, probabilities))| Prediction {
            id: i,
            split: name[i],
            predicted: Predicted::Class {
                label: dataset.labels.get(i).copied().flatten(),
                prediction,
                probabilities,
            },
        })
        .collect();
    Ok(Predictions {
        level: "node",
        rows,
    })
}
