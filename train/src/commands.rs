//! What `gnn eval`, `gnn predict`, `gnn export` and `gnn import` do, as library functions.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use gnn_datasets::{GraphDataset, GraphSplit, GraphTarget, NodeDataset, TargetScaler};
use gnn_models::interop::{HostTensor, StateDict, encode_safetensors, read_safetensors};

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
/// imported weights, which have none, fold 0 of the default stratified 10-fold split (seed 0),
/// or for regression the first seeded 80/10/10 split.
fn graph_batches(
    saved: &SavedModel,
    dataset: &GraphDataset,
    backend: Backend,
) -> Result<GraphBatches, TrainError> {
    let spec = saved.card.training.clone().unwrap_or_else(|| {
        let mut spec = NodeSpec::new(saved.card.model.kind(), backend);
        if dataset.num_classes.is_none() {
            // Regression: the first seeded 80/10/10 split, as `gnn train` makes.
            spec.folds = 0;
        }
        spec
    });
    let (f, c) = saved.card.model.widths();
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
        let batch = data.batch(chunk, crate::data::SplitKind::Test);
        let logits = saved.model.forward(batch.x, &batch.graph);
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
    config.validate().map_err(model_error)?;
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

/// Writes a graph dataset as the graphs are fed to the models, for other libraries to read
/// (`bench/pyg_qm9.py`): one safetensors file of disjoint-union arrays, all `F32` (integers are
/// exact: every count is checked to be below 2^24):
///
/// - `x [N, F]`, `edge_index [2, E]` (graph-local node ids), `edge_attr [E, D]` (absent
///   without edge features), `y [G, T]` (regression targets in their units, or the class)
/// - `node_ptr [G + 1]`, `edge_ptr [G + 1]`: graph `g` owns nodes `node_ptr[g]..node_ptr[g+1]`
///   and edges `edge_ptr[g]..edge_ptr[g+1]`
/// - `train_idx`, `val_idx`, `test_idx`: the graphs of `split`
///
/// Metadata: `gnn.dataset` (name), `gnn.split` (how the split was made).
pub fn export_graph_dataset(
    dataset: &GraphDataset,
    split: &GraphSplit,
    split_note: &str,
    out: &Path,
) -> Result<(), TrainError> {
    const EXACT: usize = 1 << 24;
    let nodes: usize = dataset.graphs.iter().map(|g| g.num_nodes).sum();
    let edges: usize = dataset.graphs.iter().map(|g| g.src.len()).sum();
    if nodes >= EXACT || edges >= EXACT {
        return Err(TrainError::Output {
            path: out.to_path_buf(),
            reason: format!("{nodes} nodes / {edges} edges: too many to store exactly as F32"),
        });
    }
    let f = dataset.num_node_features;
    let d = dataset.num_edge_features;
    let t = match dataset.graphs.first().map(|g| &g.y) {
        Some(GraphTarget::Values(v)) => v.len(),
        _ => 1,
    };
    let (mut x, mut src, mut dst, mut attr, mut y) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut node_ptr, mut edge_ptr) = (vec![0f32], vec![0f32]);
    for g in &dataset.graphs {
        x.extend_from_slice(g.x.data());
        src.extend(g.src.iter().map(|&v| v as f32));
        dst.extend(g.dst.iter().map(|&v| v as f32));
        if let Some(e) = &g.edge_attr {
            attr.extend_from_slice(e.data());
        }
        match &g.y {
            GraphTarget::Values(v) if v.len() == t => y.extend_from_slice(v),
            GraphTarget::Values(_) => {
                return Err(TrainError::Config(format!(
                    "{}: graphs have different numbers of targets",
                    dataset.name
                )));
            }
            GraphTarget::Class(k) => y.push(*k as f32),
        }
        node_ptr.push(node_ptr[node_ptr.len() - 1] + g.num_nodes as f32);
        edge_ptr.push(edge_ptr[edge_ptr.len() - 1] + g.src.len() as f32);
    }
    let g = dataset.len();
    let tensor = |shape: Vec<usize>, values: Vec<f32>| HostTensor { shape, values };
    let ids = |v: &[usize]| tensor(vec![v.len()], v.iter().map(|&i| i as f32).collect());
    let mut dict = StateDict::new();
    dict.insert("x".into(), tensor(vec![nodes, f], x));
    src.extend(dst);
    dict.insert("edge_index".into(), tensor(vec![2, edges], src));
    if d > 0 {
        dict.insert("edge_attr".into(), tensor(vec![edges, d], attr));
    }
    dict.insert("y".into(), tensor(vec![g, t], y));
    dict.insert("node_ptr".into(), tensor(vec![g + 1], node_ptr));
    dict.insert("edge_ptr".into(), tensor(vec![g + 1], edge_ptr));
    dict.insert("train_idx".into(), ids(&split.train));
    dict.insert("val_idx".into(), ids(&split.val));
    dict.insert("test_idx".into(), ids(&split.test));
    let meta = HashMap::from([
        ("gnn.dataset".to_string(), dataset.name.clone()),
        ("gnn.split".to_string(), split_note.to_string()),
    ]);
    let bytes = encode_safetensors(&dict, meta).map_err(|reason| TrainError::Output {
        path: out.to_path_buf(),
        reason,
    })?;
    output::write_atomic(out, &bytes)
}
