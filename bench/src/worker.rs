//! One measurement in its own process: a model on a dataset on a backend.

use std::time::Instant;

use burn::tensor::Tensor;
use gnn_datasets::molecule::Hydrogens;
use gnn_datasets::synthetic::{RandomGraphSpec, random_graph};
use gnn_datasets::transforms::row_normalize;
use gnn_datasets::{DataRoot, GraphDataset, NodeDataset, entities, planetoid};
use gnn_models::GraphModel;
use gnn_models::models::Mpnn;
use gnn_models::models::{GatConfig, GcnConfig, RgcnConfig};
use gnn_train::Backend;
use gnn_train::data::{NodeClassification, TrainData};
use gnn_train::experiment::{ModelKind, rgcn_paper_settings};
use gnn_train::fit::Trainer;
use gnn_train::graph_data::GraphBatches;
use serde::{Deserialize, Serialize};

/// What a worker (ours or the PyG script) prints: one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    /// `gnn-rs` or `pyg`.
    pub implementation: String,
    /// Model name.
    pub model: String,
    /// Dataset name.
    pub dataset: String,
    /// Backend (`flex`, `ndarray`, `wgpu`, `torch-cpu`, ...).
    pub backend: String,
    /// Compute threads.
    pub threads: usize,
    /// Each timed training step (forward + backward + optimiser), milliseconds.
    pub train_ms: Vec<f64>,
    /// Each timed eval-mode forward pass, milliseconds.
    pub infer_ms: Vec<f64>,
    /// Peak resident set size of the process, MiB.
    pub peak_rss_mb: f64,
    /// Library versions.
    #[serde(default)]
    pub versions: serde_json::Map<String, serde_json::Value>,
}

/// Peak resident set size of this process in MiB (`VmHWM`), 0 if unknown.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A dataset as the training program prepares it: Planetoid with row-normalised features, an
/// entities graph, or a synthetic graph (`er-<nodes>-<degree>[-<features>]`, `ba-…`).
pub fn load_dataset(name: &str, root: Option<&std::path::Path>) -> Result<NodeDataset, String> {
    if let Some(spec) = RandomGraphSpec::parse(name) {
        return random_graph(&spec).map_err(|e| e.to_string());
    }
    let root = DataRoot::resolve(root);
    if entities::NAMES.contains(&name) {
        return entities::load(name, &root).map_err(|e| e.to_string());
    }
    let mut ds = planetoid::load(name, &root).map_err(|e| e.to_string())?;
    row_normalize(&mut ds.features);
    Ok(ds)
}

/// A node dataset as one safetensors file for the PyG script (`x [N, F]`, `edge_index [2, E]`,
/// `y [N]`, `train_idx`; all `F32`, exact below 2^24).
pub fn write_node_data(ds: &NodeDataset, path: &std::path::Path) -> Result<(), String> {
    use gnn_models::interop::{HostTensor, StateDict, encode_safetensors};
    let n = ds.num_nodes();
    if n >= 1 << 24 || ds.edges.num_edges() >= 1 << 24 {
        return Err(format!(
            "{}: too large to hand to PyG as F32 indices",
            ds.name
        ));
    }
    let t = |shape: Vec<usize>, values: Vec<f32>| HostTensor { shape, values };
    let mut dict = StateDict::new();
    dict.insert(
        "x".into(),
        t(vec![n, ds.num_features()], ds.features.data().to_vec()),
    );
    let mut ei: Vec<f32> = ds.edges.src().iter().map(|&v| v as f32).collect();
    ei.extend(ds.edges.dst().iter().map(|&v| v as f32));
    dict.insert("edge_index".into(), t(vec![2, ds.edges.num_edges()], ei));
    let y = ds.labels.iter().map(|l| l.unwrap_or(0) as f32).collect();
    dict.insert("y".into(), t(vec![n], y));
    let train = ds.split.train.iter().map(|&i| i as f32).collect();
    dict.insert("train_idx".into(), t(vec![ds.split.train.len()], train));
    let bytes = encode_safetensors(&dict, Default::default())?;
    gnn_train::output::write_atomic(path, &bytes).map_err(|e| e.to_string())
}

/// The processed graph as JSON, so the PyG script runs on exactly the same data.
pub fn graph_json(ds: &NodeDataset) -> serde_json::Value {
    let ids = |v: &[usize]| v.to_vec();
    let labels = |v: &[usize]| {
        v.iter()
            .map(|&i| ds.labels[i].unwrap_or(0))
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "num_nodes": ds.num_nodes(),
        "num_classes": ds.num_classes,
        "src": ds.edges.src(),
        "dst": ds.edges.dst(),
        "edge_type": ds.relations.as_ref().map(|r| r.edge_type.clone()),
        "num_relations": ds.relations.as_ref().map_or(0, |r| r.len()),
        "train_idx": ids(&ds.split.train),
        "train_y": labels(&ds.split.train),
        "test_idx": ids(&ds.split.test),
        "test_y": labels(&ds.split.test),
    })
}

/// Settings of one worker run.
pub struct WorkerArgs {
    pub model: String,
    pub dataset: String,
    pub backend: Backend,
    pub threads: usize,
    pub warmup: usize,
    pub steps: usize,
    pub root: Option<std::path::PathBuf>,
}

/// A graph-level dataset (`tu-<name>`, `qm9` with target 0), as `gnn train` loads it.
pub fn load_graph_dataset(
    name: &str,
    root: Option<&std::path::Path>,
) -> Result<GraphDataset, String> {
    let root = DataRoot::resolve(root);
    gnn_train::graph_data::load_graph_dataset(name, &root, 0, Hydrogens::Implicit)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{name} is not a graph-level dataset (tu-<name>, qm9, qm9-sdf)"))
}

/// The split graph-level benchmarks train on: seeded 80/10/10 (seed 0), as `gnn export-data`,
/// with its note.
pub fn graph_split(ds: &GraphDataset) -> (gnn_datasets::GraphSplit, String) {
    gnn_train::experiment::seeded_split(ds.len(), 0)
}

/// The MPNN on a graph dataset with `gnn train`'s defaults (dim 64, batch 32, Adam 1e-3):
/// a timed "step" is one epoch (every training mini-batch, reshuffled), inference one
/// eval-mode pass over every graph.
fn run_graph(args: &WorkerArgs) -> Result<(Vec<f64>, Vec<f64>), String> {
    let ds = load_graph_dataset(&args.dataset, args.root.as_deref())?;
    let device = args.backend.device().map_err(|e| e.to_string())?;
    let spec = gnn_train::experiment::NodeSpec::new(ModelKind::Mpnn, args.backend);
    let data = GraphBatches::new(&ds, graph_split(&ds).0, spec.batch_size, 0, &device)
        .map_err(|e| e.to_string())?;
    let train_device = device.clone().autodiff();
    train_device.seed(0);
    let gnn_train::model::ModelConfig::Mpnn(config) =
        gnn_train::experiment::graph_model_config(&spec, &ds).map_err(|e| e.to_string())?
    else {
        return Err("graph_model_config returns an MPNN".into());
    };
    let model = config.init(&train_device);
    let mut trainer = Trainer::new(model, &spec.fit);
    let eval = data.eval_batches();
    let mut epoch = 0;
    let mut train_epoch = |trainer: &mut Trainer<Mpnn>| -> Result<(), String> {
        epoch += 1;
        for b in data.train_batches(epoch) {
            read(trainer.step(&b))?;
        }
        Ok(())
    };
    let infer = |trainer: &Trainer<Mpnn>| -> Result<(), String> {
        let model = burn::module::Module::valid(trainer.model());
        for b in &eval {
            let out = model.forward(b.x.clone(), &b.graph);
            read(out.slice([0..1, 0..1]).reshape([1]))?;
        }
        Ok(())
    };
    for _ in 0..args.warmup {
        train_epoch(&mut trainer)?;
        infer(&trainer)?;
    }
    let (mut train_ms, mut infer_ms) = (vec![], vec![]);
    for _ in 0..args.steps {
        let t0 = Instant::now();
        train_epoch(&mut trainer)?;
        train_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    for _ in 0..args.steps {
        let t0 = Instant::now();
        infer(&trainer)?;
        infer_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok((train_ms, infer_ms))
}

/// Reads the first value of `t` back to the host, which waits for the device (as PyG's
/// `float(loss)` does).
fn read(t: Tensor<1>) -> Result<f32, String> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .map(|v| v[0])
        .map_err(|e| format!("{e:?}"))
}

/// Loads the data, builds the model, and times training steps and inference.
pub fn run(args: &WorkerArgs) -> Result<Measurement, String> {
    let kind: ModelKind = args.model.parse()?;
    if kind == ModelKind::Mpnn {
        let (train_ms, infer_ms) = run_graph(args)?;
        return Ok(measurement(args, train_ms, infer_ms));
    }
    let ds = load_dataset(&args.dataset, args.root.as_deref())?;
    let device = args.backend.device().map_err(|e| e.to_string())?;
    let data = NodeClassification::new(&ds, &device).map_err(|e| e.to_string())?;
    let train_device = device.clone().autodiff();
    train_device.seed(0);
    let fit = kind.default_fit();
    let (f, c) = (ds.num_features(), ds.num_classes);
    let (train_ms, infer_ms) = match kind {
        ModelKind::Gcn => {
            let model = GcnConfig::new(f, c).init(&train_device);
            time(Trainer::new(model, &fit), &data, args)?
        }
        ModelKind::Gat => {
            let model = GatConfig::new(f, c).init(&train_device);
            time(Trainer::new(model, &fit), &data, args)?
        }
        ModelKind::Mpnn => unreachable!("graph models are timed by run_graph"),
        ModelKind::Rgcn => {
            // PyG's RGCNConv semantics (per-relation mean), as bench/pyg_bench.py runs it; the
            // normalisation does not change the cost.
            let paper = rgcn_paper_settings(&args.dataset);
            let (bases, weight_decay, hidden) = (paper.bases, paper.weight_decay, paper.hidden);
            let r = ds
                .relations
                .as_ref()
                .ok_or("R-GCN needs an entities dataset")?
                .len();
            let n = if f == 0 { ds.num_nodes() } else { f };
            let model = RgcnConfig::new(n, c, r)
                .with_num_bases(bases)
                .with_d_hidden(hidden)
                .init(&train_device);
            let fit = gnn_train::fit::FitConfig {
                weight_decay,
                ..fit
            };
            time(Trainer::new(model, &fit), &data, args)?
        }
    };
    Ok(measurement(args, train_ms, infer_ms))
}

fn measurement(args: &WorkerArgs, train_ms: Vec<f64>, infer_ms: Vec<f64>) -> Measurement {
    let mut versions = serde_json::Map::new();
    versions.insert("burn".into(), "0.22.1".into());
    versions.insert("gnn-rs".into(), env!("CARGO_PKG_VERSION").into());
    Measurement {
        implementation: "gnn-rs".into(),
        model: args.model.clone(),
        dataset: args.dataset.clone(),
        backend: args.backend.name().into(),
        threads: args.threads,
        train_ms,
        infer_ms,
        peak_rss_mb: peak_rss_mb(),
        versions,
    }
}

/// Times `args.steps` training steps and as many eval-mode forward passes, after warm-up.
/// Each is followed by a read-back of one value, which waits for the device (as PyG's
/// `float(loss)` does).
fn time<M: GraphModel>(
    mut trainer: Trainer<M>,
    data: &NodeClassification,
    args: &WorkerArgs,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let train = data.train_batches(0);
    let eval = data.eval_batches();
    let infer = |trainer: &Trainer<M>| {
        let out = trainer
            .model()
            .valid()
            .forward(eval[0].x.clone(), &eval[0].graph);
        read(out.slice([0..1, 0..1]).reshape([1]))
    };
    for _ in 0..args.warmup {
        read(trainer.step(&train[0]))?;
        infer(&trainer)?;
    }
    let mut train_ms = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        let t0 = Instant::now();
        read(trainer.step(&train[0]))?;
        train_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let mut infer_ms = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        let t0 = Instant::now();
        infer(&trainer)?;
        infer_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok((train_ms, infer_ms))
}
