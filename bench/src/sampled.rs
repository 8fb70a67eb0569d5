//! `gnn-bench sampled`: neighbour-sampled mini-batch training, ours and PyG's `NeighborLoader`
//! side by side on the identical graph, at each thread count: the sampler alone (sampled
//! edges per second) and whole training epochs (sampling overlapped with the steps), with the
//! peak memory of each process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Args;
use gnn_datasets::Fanout;
use gnn_models::registry::Registry;
use gnn_train::Backend;
use gnn_train::data::TrainData;
use gnn_train::sampled_data::{NeighborSampling, SampledNodes};
use gnn_train::stats::median;
use serde::{Deserialize, Serialize};

use crate::worker::{Setup, peak_rss_mb};

/// Settings of `gnn-bench sampled` (and of its worker, which measures one thread count).
#[derive(Args, Debug, Clone)]
pub struct SampledArgs {
    /// Node-level model.
    #[arg(long, default_value = "sage")]
    pub model: String,
    /// Node dataset (`sbm-1e6-10-128`: 10^6 nodes, 10^7 edges, 128 features).
    #[arg(long, default_value = "sbm-1e6-10-128")]
    pub dataset: String,
    /// Neighbours per layer from the seeds outwards.
    #[arg(long, default_value = gnn_train::sampled_data::DEFAULT_FANOUT)]
    pub fanout: String,
    /// Seed nodes per mini-batch.
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// Thread counts, comma-separated; each is measured in its own processes.
    #[arg(long, default_value = "1,2", value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Timed epochs per process, and as many passes of the sampler alone before them.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Data root.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Python with torch and torch_geometric (and pyg-lib or torch-sparse, which PyG's
    /// NeighborLoader needs); without it PyG is not measured.
    #[arg(long)]
    pub pyg_python: Option<PathBuf>,
    /// Write every measurement as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One process's numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampledMeasurement {
    /// `gnn-rs` or `pyg`.
    #[serde(default)]
    pub implementation: String,
    /// Threads.
    pub threads: usize,
    /// Edges of one epoch's sampled subgraphs.
    pub sampled_edges_per_epoch: usize,
    /// One pass of the sampler over an epoch's seeds (features gathered, no model), seconds.
    pub sampler_s_median: f64,
    /// Sampled edges per second of that pass.
    pub sampled_edges_per_s: f64,
    /// Training epochs (sampling, steps), seconds.
    pub epoch_s: Vec<f64>,
    /// Median of `epoch_s`.
    pub epoch_s_median: f64,
    /// Of an epoch, the time the loop waited for the next batch (sampling not hidden behind
    /// the steps), median; PyG's loader is not overlapped, so it has none.
    #[serde(default)]
    pub wait_s_median: f64,
    /// Peak resident set size, MiB.
    pub peak_rss_mib: f64,
    /// Bytes of the host adjacency (CSR) per edge.
    #[serde(default)]
    pub adjacency_bytes_per_edge: f64,
}

/// The model and dataset of `args` as `gnn train` sets them up, on flex.
fn setup(args: &SampledArgs) -> Result<Setup, String> {
    let registry = Registry::builtin();
    Setup::new(
        &registry,
        &args.model,
        &args.dataset,
        Backend::Flex,
        args.root.as_deref(),
    )
}

/// The sampling of `args` as `gnn train --sampler neighbor` takes it.
fn sampling(args: &SampledArgs) -> Result<NeighborSampling, String> {
    Ok(NeighborSampling {
        fanouts: Fanout::parse_list(&args.fanout).map_err(|e| e.to_string())?,
        replace: false,
        eval_fanouts: None,
    })
}

/// Measures one thread count in this process (the worker, run on a pool of `threads` compute
/// threads): the model and data exactly as `gnn train --sampler neighbor` builds them on flex.
pub fn worker(args: &SampledArgs, threads: usize) -> Result<SampledMeasurement, String> {
    let setup = setup(args)?;
    let gnn_train::datasets::AnyDataset::Node(ds) = &setup.dataset else {
        return Err(format!("{} is not a node dataset", args.dataset));
    };
    let device = Backend::Flex.device().map_err(|e| e.to_string())?;
    let data = SampledNodes::new(
        ds,
        &sampling(args)?,
        args.batch_size,
        setup.spec.normalize_features,
        &device,
    )
    .map_err(|e| e.to_string())?
    .with_seed(0);
    let mut sampler_s = Vec::new();
    let mut edges = 0;
    for epoch in 1..=args.epochs.max(1) {
        let t0 = Instant::now();
        edges = 0;
        for b in data.train_batches(epoch).map_err(|e| e.to_string())? {
            edges += b.map_err(|e| e.to_string())?.graph.num_edges();
        }
        sampler_s.push(t0.elapsed().as_secs_f64());
    }
    let mut trainer = setup.trainer(&device)?;
    let (mut epoch_s, mut wait_s) = (Vec::new(), Vec::new());
    for epoch in 1..=args.epochs {
        let t0 = Instant::now();
        let mut waited = 0.0;
        let mut batches = data.train_batches(epoch).map_err(|e| e.to_string())?;
        loop {
            let t = Instant::now();
            let Some(b) = batches.next() else { break };
            waited += t.elapsed().as_secs_f64();
            let loss = trainer
                .step(&b.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            loss.into_data()
                .try_into_vec_as::<f32>()
                .map_err(|e| format!("{e:?}"))?;
        }
        epoch_s.push(t0.elapsed().as_secs_f64());
        wait_s.push(waited);
    }
    let sampler = median(&sampler_s);
    Ok(SampledMeasurement {
        implementation: "gnn-rs".into(),
        threads,
        sampled_edges_per_epoch: edges,
        sampler_s_median: sampler,
        sampled_edges_per_s: edges as f64 / sampler,
        epoch_s_median: median(&epoch_s),
        epoch_s,
        wait_s_median: median(&wait_s),
        peak_rss_mib: peak_rss_mb(),
        adjacency_bytes_per_edge: data.adjacency_bytes() as f64 / ds.edges.num_edges() as f64,
    })
}

/// Runs ours and PyG (when given) at each thread count, interleaved, and prints the table.
pub fn run(args: &SampledArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let exported = match &args.pyg_python {
        Some(_) => Some(export(args, scratch.path())?),
        None => None,
    };
    let mut all = Vec::new();
    for &threads in &args.threads {
        let mut ours = Command::new(&exe);
        ours.args(["sampled-worker", "--threads-one", &threads.to_string()])
            .args(["--model", &args.model, "--dataset", &args.dataset])
            .args(["--fanout", &args.fanout])
            .args(["--batch-size", &args.batch_size.to_string()])
            .args(["--epochs", &args.epochs.to_string()]);
        if let Some(root) = &args.root {
            ours.arg("--root").arg(root);
        }
        eprintln!("gnn-rs, {threads} thread(s)");
        all.push(crate::measure::<SampledMeasurement>(ours, threads)?);
        if let (Some(python), Some(data)) = (&args.pyg_python, &exported) {
            let mut pyg = Command::new(python);
            pyg.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("pyg_sampled.py"))
                .arg("--data")
                .arg(data)
                .args(["--fanout", &args.fanout])
                .args(["--batch-size", &args.batch_size.to_string()])
                .args(["--epochs", &args.epochs.to_string()])
                .args(["--threads", &threads.to_string()]);
            eprintln!("PyG, {threads} thread(s)");
            let mut m: SampledMeasurement = crate::measure(pyg, threads)?;
            m.implementation = "pyg".into();
            all.push(m);
        }
    }
    println!(
        "| implementation | threads | sampler: edges/s | epoch s | waiting for batches s | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|");
    for m in &all {
        println!(
            "| {} | {} | {:.3e} | {:.2} | {:.2} | {:.0} |",
            m.implementation,
            m.threads,
            m.sampled_edges_per_s,
            m.epoch_s_median,
            m.wait_s_median,
            m.peak_rss_mib
        );
    }
    if let Some(path) = &args.json {
        let out = serde_json::json!({
            "machine": crate::machine::describe(),
            "dataset": args.dataset,
            "model": args.model,
            "fanout": args.fanout,
            "batch_size": args.batch_size,
            "measurements": all,
        });
        let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The dataset as the model sees it, written for PyG (`gnn export-data`'s format).
fn export(args: &SampledArgs, dir: &Path) -> Result<PathBuf, String> {
    let ds = setup(args)?
        .prepared_nodes()
        .ok_or_else(|| format!("{} is not a node dataset", args.dataset))?;
    let out = dir.join("graph.safetensors");
    gnn_train::commands::export_node_dataset(&ds, &out).map_err(|e| e.to_string())?;
    Ok(out)
}
