//! One measurement in its own process: a registered model on a dataset on a backend, built
//! and fed exactly as `gnn train` builds and feeds it.

use std::path::Path;
use std::time::Instant;

use burn::tensor::Tensor;
use gnn_datasets::{DataRoot, GraphDataset, GraphSplit, NodeDataset};
use gnn_models::registry::{ModelConfig, ModelEntry, Registry, Task};
use gnn_train::Backend;
use gnn_train::data::TrainData;
use gnn_train::datasets::{self, AnyDataset, LoadOptions};
use gnn_train::experiment::{ExperimentSpec, link_data, model_config, node_data, seeded_split};
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

/// A dataset by name from the dataset registry (QM9: target 0, implicit hydrogens).
pub fn load_dataset(name: &str, root: Option<&Path>) -> Result<AnyDataset, String> {
    datasets::load(name, &DataRoot::resolve(root), &LoadOptions::default())
        .map_err(|e| e.to_string())
}

/// A registered model's protocol on a dataset, its entry and the architecture it gives there:
/// what `gnn train --model <model> --dataset <dataset>` trains.
pub struct Setup {
    /// The experiment (protocol, task-level defaults).
    pub spec: ExperimentSpec,
    /// The model's registry entry.
    pub entry: std::sync::Arc<dyn ModelEntry>,
    /// The architecture.
    pub config: ModelConfig,
    /// The dataset.
    pub dataset: AnyDataset,
}

impl Setup {
    /// `model` on `dataset` as `gnn train` sets it up.
    pub fn new(
        registry: &Registry,
        model: &str,
        dataset: &str,
        backend: Backend,
        root: Option<&Path>,
    ) -> Result<Self, String> {
        let spec =
            ExperimentSpec::new(registry, model, dataset, backend).map_err(|e| e.to_string())?;
        let dataset = load_dataset(dataset, root)?;
        let (entry, config) = model_config(
            registry,
            &spec,
            &dataset.info_for(registry.get(model).map_err(|e| e.to_string())?.task()),
        )
        .map_err(|e| e.to_string())?;
        Ok(Setup {
            entry: entry.clone(),
            spec,
            config,
            dataset,
        })
    }

    /// The model initialised (seed 0) on `device`'s autodiff form, under the protocol's
    /// optimiser.
    pub fn trainer(&self, device: &burn::tensor::Device) -> Result<Trainer, String> {
        let train_device = device.clone().autodiff();
        train_device.seed(0);
        let model = self
            .entry
            .init(&self.config, &train_device)
            .map_err(|e| e.to_string())?;
        Ok(Trainer::new(model, &self.spec.fit))
    }

    /// The node dataset as the model sees it (features row-normalised when the protocol does).
    pub fn prepared_nodes(&self) -> Option<NodeDataset> {
        let AnyDataset::Node(ds) = &self.dataset else {
            return None;
        };
        let mut ds = ds.clone();
        if self.spec.normalize_features {
            gnn_datasets::transforms::row_normalize(&mut ds.features);
        }
        Some(ds)
    }
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
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Registered model name.
    #[arg(long)]
    pub model: String,
    /// Dataset name.
    #[arg(long)]
    pub dataset: String,
    /// Backend the model runs on.
    #[arg(long)]
    pub backend: Backend,
    /// Compute threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Untimed steps before measuring.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Timed training steps and inference passes.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Data root.
    #[arg(long)]
    pub root: Option<std::path::PathBuf>,
}

/// The split graph-level benchmarks train on: seeded 80/10/10 (seed 0), as `gnn export-data`,
/// with its note.
pub fn graph_split(ds: &GraphDataset) -> (GraphSplit, String) {
    seeded_split(ds.len(), 0)
}

/// Reads the first value of `t` back to the host, which waits for the device (as PyG's
/// `float(loss)` does).
fn read(t: Tensor<1>) -> Result<f32, String> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .map(|v| v[0])
        .map_err(|e| format!("{e:?}"))
}

/// Loads the data, builds the model as `gnn train` does, and times training steps and
/// inference. A timed step is one epoch's training batches: the full-batch step of a node
/// model, every mini-batch (reshuffled) of a graph model; inference is one eval-mode pass over
/// every evaluation batch. Each is followed by a read-back of one value, which waits for the
/// device (as PyG's `float(loss)` does).
pub fn run(args: &WorkerArgs) -> Result<Measurement, String> {
    let registry = Registry::builtin();
    let setup = Setup::new(
        &registry,
        &args.model,
        &args.dataset,
        args.backend,
        args.root.as_deref(),
    )?;
    let device = args.backend.device().map_err(|e| e.to_string())?;
    let data: Box<dyn TrainData> = match &setup.dataset {
        _ if setup.entry.task() == Task::Link => {
            Box::new(link_data(&setup.spec, &setup.dataset, 0, &device).map_err(|e| e.to_string())?)
        }
        AnyDataset::Knowledge(g) => return Err(format!("{} is a knowledge graph", g.name)),
        AnyDataset::Node(ds) => {
            Box::new(node_data(&setup.spec, ds, &device).map_err(|e| e.to_string())?)
        }
        AnyDataset::Graph(ds) => Box::new(
            GraphBatches::new(
                ds,
                graph_split(ds).0,
                setup.spec.batch_size,
                0,
                setup.spec.normalize_features,
                &device,
            )
            .map_err(|e| e.to_string())?,
        ),
    };
    let mut trainer = setup.trainer(&device)?;
    let eval: Vec<_> = data
        .eval_batches()
        .and_then(|b| b.collect::<Result<_, _>>())
        .map_err(|e| e.to_string())?;
    let mut epoch = 0;
    let mut train_epoch = |trainer: &mut Trainer| -> Result<(), String> {
        epoch += 1;
        for b in data.train_batches(epoch).map_err(|e| e.to_string())? {
            let b = b.map_err(|e| e.to_string())?;
            read(trainer.step(&b).map_err(|e| e.to_string())?)?;
        }
        Ok(())
    };
    let infer = |trainer: &Trainer| -> Result<(), String> {
        let model = trainer.model().valid();
        for b in &eval {
            let out = model
                .forward(b.x.clone(), &b.graph)
                .map_err(|e| e.to_string())?;
            read(out.slice([0..1, 0..1]).reshape([1]))?;
        }
        Ok(())
    };
    for _ in 0..args.warmup {
        train_epoch(&mut trainer)?;
        infer(&trainer)?;
    }
    let mut train_ms = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        let t0 = Instant::now();
        train_epoch(&mut trainer)?;
        train_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let mut infer_ms = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        let t0 = Instant::now();
        infer(&trainer)?;
        infer_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(measurement(args, train_ms, infer_ms))
}

/// Whether a step of `task` is a whole epoch of mini-batches (graph-level models).
pub fn step_is_epoch(task: Task) -> bool {
    task == Task::Graph
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
