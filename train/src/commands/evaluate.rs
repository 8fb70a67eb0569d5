//! What `gnn eval` and `gnn predict` do: a saved model scored, or its predictions written, on
//! the splits it was trained on.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use gnn_datasets::{GraphDataset, GraphTarget, NodeDataset, TargetScaler};

use crate::data::{NodeClassification, SplitKind, TrainData};
use crate::experiment::{ExperimentSpec, graph_splits, prepare};
use crate::graph_data::GraphBatches;
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
fn node_data(
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

/// Per-graph predictions as CSV (the split of the model's first run): for classification
/// `graph,split,label,prediction,p_0,…`; for regression `graph,split,target,prediction` in the
/// target's units (de-normalised with the training graphs' statistics).
pub fn predict_graph_csv(
    saved: &SavedModel,
    dataset: &GraphDataset,
    backend: Backend,
) -> Result<String, TrainError> {
    let data = graph_batches(saved, dataset, backend)?;
    let split = data.split().clone();
    let mut name = vec![""; dataset.len()];
    for (s, ids) in [
        ("train", &split.train),
        ("val", &split.val),
        ("test", &split.test),
    ] {
        for &i in ids {
            name[i] = s;
        }
    }
    let all: Vec<usize> = (0..dataset.len()).collect();
    let mut out = String::new();
    for chunk in all.chunks(512) {
        let batch = data.batch(chunk, SplitKind::Test)?;
        let logits = saved.model.forward(batch.x, &batch.graph)?;
        if let Some(scaler) = data.scaler() {
            regression_rows(&mut out, logits, scaler, chunk, dataset, &name)?;
            continue;
        }
        let [_, c] = logits.dims();
        if out.is_empty() {
            out = header("graph", c);
        }
        let probs = softmax(logits, 1)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| TrainError::Config(format!("reading predictions: {e:?}")))?;
        let rows = chunk.iter().map(|&g| {
            let label = match &dataset.graphs[g].y {
                GraphTarget::Class(k) => k.to_string(),
                GraphTarget::Values(_) => String::new(),
            };
            (g, name[g].to_string(), label)
        });
        write_rows(&mut out, &probs, c, rows);
    }
    Ok(out)
}

/// Appends `graph,split,target,prediction` rows of a regression model's outputs (normalised)
/// in the target's units.
fn regression_rows(
    out: &mut String,
    outputs: Tensor<2>,
    scaler: &TargetScaler,
    graphs: &[usize],
    dataset: &GraphDataset,
    split_of: &[&str],
) -> Result<(), TrainError> {
    if out.is_empty() {
        out.push_str("graph,split,target,prediction\n");
    }
    let mut pred = outputs
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Config(format!("reading predictions: {e:?}")))?;
    scaler.denormalize(&mut pred);
    let width = scaler.mean.len().max(1);
    for (r, &g) in graphs.iter().enumerate() {
        let target = match &dataset.graphs[g].y {
            GraphTarget::Values(v) => v
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(";"),
            GraphTarget::Class(k) => k.to_string(),
        };
        let p: Vec<String> = pred[r * width..(r + 1) * width]
            .iter()
            .map(|x| x.to_string())
            .collect();
        let _ = writeln!(out, "{g},{},{target},{}", split_of[g], p.join(";"));
    }
    Ok(())
}

/// Appends one CSV row per output row: `id,split,label,prediction,p_0,…`, the prediction being
/// the most probable class.
fn write_rows(
    out: &mut String,
    probs: &[f32],
    c: usize,
    rows: impl Iterator<Item = (usize, String, String)>,
) {
    for (r, (id, split, label)) in rows.enumerate() {
        let row = &probs[r * c..(r + 1) * c];
        let pred = row
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |b, (k, &p)| if p > b.1 { (k, p) } else { b },
            )
            .0;
        let _ = write!(out, "{id},{split},{label},{pred}");
        for p in row {
            let _ = write!(out, ",{p}");
        }
        out.push('\n');
    }
}

/// The CSV header for `c` classes, first column `id`.
fn header(id: &str, c: usize) -> String {
    let mut out = format!("{id},split,label,prediction");
    for k in 0..c {
        let _ = write!(out, ",p_{k}");
    }
    out.push('\n');
    out
}

/// Per-node predictions as CSV: `node,split,label,prediction,p_0,…,p_{C-1}` (class
/// probabilities by softmax; `split` and `label` empty where the node has none).
pub fn predict_csv(
    saved: &SavedModel,
    dataset: &NodeDataset,
    backend: Backend,
) -> Result<String, TrainError> {
    let data = node_data(saved, dataset, backend)?;
    let logits = saved.model.forward(data.features().clone(), data.graph())?;
    let [n, c] = logits.dims();
    let probs = softmax(logits, 1)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Config(format!("reading predictions: {e:?}")))?;
    let mut split = vec![""; n];
    for (name, ids) in [
        ("train", &dataset.split.train),
        ("val", &dataset.split.val),
        ("test", &dataset.split.test),
    ] {
        for &i in ids {
            split[i] = name;
        }
    }
    let mut out = header("node", c);
    let rows = (0..n).map(|i| {
        let label = dataset.labels[i].map_or(String::new(), |l| l.to_string());
        (i, split[i].to_string(), label)
    });
    write_rows(&mut out, &probs, c, rows);
    Ok(out)
}
