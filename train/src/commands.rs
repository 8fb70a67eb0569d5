//! What `gnn eval`, `gnn predict`, `gnn export` and `gnn import` do, as library functions.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use burn::tensor::activation::softmax;
use gnn_datasets::{GraphDataset, GraphTarget, NodeDataset};
use gnn_models::interop::{encode_safetensors, read_safetensors};

use crate::data::{NodeClassification, TrainData};
use crate::experiment::{ModelKind, NodeSpec, graph_splits, prepare};
use crate::graph_data::GraphBatches;
use crate::model::ModelConfig;
use crate::saved::{ModelCard, Preprocessing, SavedModel};
use crate::{Backend, TrainError, output};

/// Metadata key of an exported file holding the architecture (the card's `model` JSON).
pub const CONFIG_METADATA: &str = "gnn.model";

/// Checks that `dataset` has the widths the model was built for.
fn check_fits(card: &ModelCard, dataset: &NodeDataset) -> Result<(), TrainError> {
    let (f, c) = card.model.widths();
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
fn named_metrics(saved: &SavedModel, data: &dyn TrainData) -> BTreeMap<String, f64> {
    saved
        .model
        .evaluate(data)
        .into_iter()
        .map(|(k, s)| (k.name().to_string(), s.metric))
        .collect()
}

/// A node dataset on `backend`, prepared as the saved model was trained on it.
fn node_data(
    saved: &SavedModel,
    dataset: &NodeDataset,
    backend: Backend,
) -> Result<NodeClassification, TrainError> {
    check_fits(&saved.card, dataset)?;
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
    Ok(named_metrics(saved, &data))
}

/// The graph batches a saved graph-level model was scored on: the split of its first run
/// (fold 0, or the first seeded split), rebuilt from the card's training settings — for
/// imported weights, which have none, fold 0 of the default stratified 10-fold split (seed 0).
fn graph_batches(
    saved: &SavedModel,
    dataset: &GraphDataset,
    backend: Backend,
) -> Result<GraphBatches, TrainError> {
    let spec = saved
        .card
        .training
        .clone()
        .unwrap_or_else(|| NodeSpec::new(saved.card.model.kind(), backend));
    let (f, c) = saved.card.model.widths();
    if dataset.num_node_features != f || dataset.num_classes.unwrap_or(1) != c {
        return Err(TrainError::Config(format!(
            "the model takes {f} node features and predicts {c} outputs; {} has {} and {}",
            dataset.name,
            dataset.num_node_features,
            dataset.num_classes.unwrap_or(1)
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
    Ok(named_metrics(saved, &data))
}

/// Per-graph predictions as CSV: `graph,split,label,prediction,p_0,…` (the split of the
/// model's first run).
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
        let batch = data.batch(chunk, crate::data::SplitKind::Test);
        let logits = saved.model.forward(batch.x, &batch.graph);
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
    let logits = saved.model.forward(data.features().clone(), data.graph());
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

/// Writes the model's weights under PyG's `state_dict` names as safetensors, with the
/// architecture in the metadata (`gnn.model`), atomically.
pub fn export_safetensors(saved: &SavedModel, out: &Path) -> Result<(), TrainError> {
    let config =
        serde_json::to_string(&saved.card.model).map_err(|e| TrainError::Config(e.to_string()))?;
    let meta = HashMap::from([
        (CONFIG_METADATA.to_string(), config),
        ("gnn.dataset".to_string(), saved.card.dataset.clone()),
        ("format".to_string(), "pt".to_string()),
    ]);
    let bytes = encode_safetensors(&saved.model.export_pyg(), meta).map_err(|reason| {
        TrainError::Output {
            path: out.to_path_buf(),
            reason,
        }
    })?;
    output::write_atomic(out, &bytes)
}

/// Builds a model directory from PyG weights in a safetensors file: the architecture from the
/// file's `gnn.model` metadata when it has one (files `gnn export` wrote), otherwise read off
/// the tensor shapes for model `kind`; loaded strictly.
pub fn import_pyg(
    file: &Path,
    kind: ModelKind,
    dataset: &str,
    preprocessing: Preprocessing,
    backend: Backend,
    out: &Path,
) -> Result<SavedModel, TrainError> {
    let model_error = |reason: String| TrainError::Model {
        path: file.to_path_buf(),
        reason,
    };
    let (dict, meta) =
        read_safetensors(file).map_err(|e| model_error(strip(e.to_string(), file)))?;
    let config = match meta.get(CONFIG_METADATA) {
        Some(json) => serde_json::from_str::<ModelConfig>(json)
            .map_err(|e| model_error(format!("metadata '{CONFIG_METADATA}': {e}")))?,
        None => ModelConfig::infer(kind, &dict).map_err(model_error)?,
    };
    if config.kind() != kind {
        return Err(model_error(format!(
            "holds a {} model, not a {kind}",
            config.kind()
        )));
    }
    let device = backend.device()?;
    let mut model = config.init(&device);
    model
        .import_pyg(dict)
        .map_err(|e| model_error(e.to_string()))?;
    let mut card = ModelCard::new(config, dataset, preprocessing, backend.name());
    card.source = format!("imported from PyG: {}", file.display());
    SavedModel::save(&card, &model, out)?;
    Ok(SavedModel { card, model })
}

/// An error message without a leading `path: ` (the caller names the file itself).
fn strip(msg: String, path: &Path) -> String {
    let prefix = format!("{}: ", path.display());
    msg.strip_prefix(&prefix).map(str::to_string).unwrap_or(msg)
}
