//! `gnn-bench`: training-step time, inference time and peak memory of each model × dataset ×
//! backend, each configuration in its own process, with PyTorch Geometric run interleaved in
//! the same sitting and ratio columns ours / PyG.
//!
//! ```text
//! cargo run --release -p gnn-bench -- --datasets cora --backends flex,ndarray \
//!     --pyg-python /path/to/venv/bin/python --json bench.json
//! cargo run --release -p gnn-bench -- --full --setup-pyg --json bench.json --svg bench.svg
//! cargo run --release -p gnn-bench -- scaling --edges 1e4,1e5,1e6,1e7 --svg scaling.svg
//! ```

mod chart;
mod machine;
mod pyg;
mod sampled;
mod table;
mod worker;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use clap::{Args, Parser, Subcommand};
use gnn_models::registry::{Registry, Task};
use gnn_train::Backend;
use gnn_train::datasets::AnyDataset;

use crate::worker::{Measurement, Setup, WorkerArgs, step_is_epoch};

#[derive(Parser, Debug)]
#[command(
    name = "gnn-bench",
    about = "Backend comparison benchmarks with PyG side by side"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Write a dataset as processed here (nodes, edges, relation types, split, labels) to a
    /// JSON file that other implementations can read.
    ExportGraph {
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// Epoch time and peak memory of a model on synthetic graphs of growing size, each size in
    /// its own process, with the fitted log-log slope against the number of edges.
    Scaling(ScalingArgs),
    /// Neighbour-sampled mini-batch training, ours and PyG's NeighborLoader side by side:
    /// the sampler alone and whole epochs at each thread count, with peak memory.
    Sampled(sampled::SampledArgs),
    /// Measure one thread count of `sampled` in this process (used internally).
    SampledWorker {
        #[command(flatten)]
        args: sampled::SampledArgs,
        #[arg(long)]
        threads_one: usize,
    },
    /// Measure one configuration in this process and print one JSON line (used internally).
    Worker(WorkerArgs),
}

#[derive(Args, Debug)]
struct ScalingArgs {
    /// Node-level model [default: the first registered node-level model].
    #[arg(long)]
    model: Option<String>,
    /// Random-graph models, comma-separated: er (Erdős–Rényi), ba (preferential attachment).
    #[arg(long, default_value = "er,ba", value_delimiter = ',')]
    graphs: Vec<String>,
    /// Directed-edge counts, comma-separated (`1e6` allowed).
    #[arg(long, default_value = "1e4,1e5,1e6,1e7", value_delimiter = ',')]
    edges: Vec<String>,
    /// Average degree (nodes = edges / degree).
    #[arg(long, default_value_t = 10)]
    degree: usize,
    /// Backends, comma-separated.
    #[arg(long, default_value = "flex", value_delimiter = ',')]
    backends: Vec<Backend>,
    /// Compute threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Untimed epochs per process.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed epochs per process.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Write the measurements and slopes as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the log-log chart as SVG.
    #[arg(long)]
    svg: Option<PathBuf>,
}

/// The configurations of `--full`: every registered model on the datasets its spec names
/// (`ModelSpec::bench_datasets`).
fn full_configs(registry: &Registry) -> Vec<(String, String)> {
    registry
        .iter()
        .flat_map(|e| {
            e.bench_datasets()
                .iter()
                .map(|d| (e.name().to_string(), d.to_string()))
        })
        .collect()
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Every registered model on the datasets its spec names for benchmarks, instead of
    /// --models × --datasets.
    #[arg(long)]
    full: bool,
    /// Models, comma-separated [default: the first registered model].
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Datasets, comma-separated.
    #[arg(long, default_value = "cora,citeseer", value_delimiter = ',')]
    datasets: Vec<String>,
    /// Backends, comma-separated [default: flex, ndarray, and wgpu when built with it].
    #[arg(long, value_delimiter = ',')]
    backends: Vec<Backend>,
    /// Compute threads for every implementation (RAYON_NUM_THREADS / torch.set_num_threads).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Untimed steps before measuring.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Timed training steps (and inference passes) per process.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Processes per configuration, interleaved across implementations.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Data root [default: $GNN_DATA_DIR, else the per-user cache].
    #[arg(long)]
    root: Option<PathBuf>,
    /// Python interpreter with torch and torch_geometric; without it (and without
    /// --setup-pyg) PyG is not measured.
    #[arg(long)]
    pyg_python: Option<PathBuf>,
    /// Create a virtual environment with torch 2.15.0 and torch_geometric 2.8.1 (in
    /// `$GNN_PYG_VENV`, default `~/.cache/gnn/pyg-venv`) and use it.
    #[arg(long)]
    setup_pyg: bool,
    /// The torch device PyG runs on: cpu, or cuda (node models).
    #[arg(long, default_value = "cpu")]
    pyg_device: String,
    /// Timed epochs per process of graph-level models, whose step is an epoch.
    #[arg(long, default_value_t = 3)]
    graph_steps: usize,
    /// Write every measurement, with the machine description, as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a grouped bar chart of the training steps as SVG.
    #[arg(long)]
    svg: Option<PathBuf>,
}

fn worker_command(
    exe: &PathBuf,
    args: &RunArgs,
    model: &str,
    task: Task,
    dataset: &str,
    backend: Backend,
) -> Command {
    let mut c = Command::new(exe);
    c.args([
        "worker",
        "--model",
        model,
        "--dataset",
        dataset,
        "--backend",
        backend.name(),
    ])
    .args(["--threads", &args.threads.to_string()])
    .args(["--warmup", &warmup(args, task).to_string()])
    .args(["--steps", &steps(args, task).to_string()]);
    if let Some(root) = &args.root {
        c.arg("--root").arg(root);
    }
    c
}

/// Timed steps of a model of `task`: an epoch for graph-level models.
fn steps(args: &RunArgs, task: Task) -> usize {
    if step_is_epoch(task) {
        args.graph_steps
    } else {
        args.steps
    }
}

/// Warm-up steps of a model of `task`: one epoch for graph-level models.
fn warmup(args: &RunArgs, task: Task) -> usize {
    if step_is_epoch(task) {
        args.warmup.min(1)
    } else {
        args.warmup
    }
}

/// Runs a command with the thread-count environment and parses its last JSON line of stdout
/// (a [`Measurement`] or another worker's record).
fn measure<T: serde::de::DeserializeOwned>(mut cmd: Command, threads: usize) -> Result<T, String> {
    let t = threads.to_string();
    for var in [
        "RAYON_NUM_THREADS",
        "MATMUL_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
    ] {
        cmd.env(var, &t);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{:?} failed: {}",
            cmd.get_program(),
            stderr.trim().lines().last().unwrap_or("")
        ));
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("worker printed no JSON")?;
    serde_json::from_str(line).map_err(|e| format!("bad worker output: {e}"))
}

fn run(args: RunArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let backends: Vec<Backend> = if args.backends.is_empty() {
        Backend::ALL
            .into_iter()
            .filter(|b| b.is_compiled())
            .collect()
    } else {
        args.backends.clone()
    };
    let python = if args.setup_pyg {
        Some(pyg::setup_venv()?)
    } else {
        args.pyg_python.clone()
    };
    let registry = Registry::builtin();
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut all: Vec<Measurement> = Vec::new();
    let configs: Vec<(String, String)> = if args.full {
        full_configs(&registry)
    } else {
        let models = if args.models.is_empty() {
            registry
                .names()
                .into_iter()
                .take(1)
                .map(String::from)
                .collect()
        } else {
            args.models.clone()
        };
        models
            .iter()
            .flat_map(|m| args.datasets.iter().map(move |d| (m.clone(), d.clone())))
            .collect()
    };
    for (model, dataset) in &configs {
        let task = registry.get(model).map_err(|e| e.to_string())?.task();
        let pyg_args = match &python {
            Some(_) => pyg_inputs(&registry, &args, model, dataset, scratch.path())?,
            None => None,
        };
        for round in 0..args.repeats {
            // Alternate implementations within each round, so drift hits all of them.
            for &backend in &backends {
                eprintln!(
                    "[{}/{}] {model} {dataset} {backend}",
                    round + 1,
                    args.repeats
                );
                all.push(measure(
                    worker_command(&exe, &args, model, task, dataset, backend),
                    args.threads,
                )?);
            }
            if let (Some(py), Some(pyg_args)) = (&python, &pyg_args) {
                eprintln!("[{}/{}] {model} {dataset} pyg", round + 1, args.repeats);
                all.push(measure(pyg::command(py, pyg_args), args.threads)?);
            }
        }
    }
    let rows = table::aggregate(&all);
    println!("{}", table::markdown(&rows, args.threads));
    if let Some(path) = &args.svg {
        let title = format!(
            "training step, {} thread{} ({})",
            args.threads,
            if args.threads == 1 { "" } else { "s" },
            machine::utc_now()
        );
        let svg = chart::bars(&rows, &title)?;
        gnn_train::output::write_atomic(path, svg.as_bytes()).map_err(|e| e.to_string())?;
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "date": machine::utc_now(),
            "machine": machine::describe(),
            "threads": args.threads,
            "warmup": args.warmup,
            "steps": args.steps,
            "repeats": args.repeats,
            "rows": rows,
            "measurements": all,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        gnn_train::output::write_atomic(path, text.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The scaling run: per graph model, backend and size, one worker process.
fn scaling(args: ScalingArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let registry = Registry::builtin();
    let model = match &args.model {
        Some(m) => registry
            .get(m)
            .map_err(|e| e.to_string())?
            .name()
            .to_string(),
        None => registry
            .iter()
            .find(|e| e.task() == Task::Node)
            .map(|e| e.name().to_string())
            .ok_or("no node-level model is registered")?,
    };
    let mut results = vec![];
    let (mut time_series, mut memory_series) = (vec![], vec![]);
    let mut md = format!(
        "{} on synthetic graphs, average degree {}, {} thread{}; epoch = full-batch training step.\n\n\
         | graph | backend | nodes | edges | epoch ms | peak RSS MiB |\n|---|---|---|---|---|---|\n",
        model,
        args.degree,
        args.threads,
        if args.threads == 1 { "" } else { "s" }
    );
    let mut slopes = String::new();
    let mut edge_counts: std::collections::HashMap<String, f64> = Default::default();
    for graph in &args.graphs {
        for &backend in &args.backends {
            let (mut t, mut m) = (vec![], vec![]);
            for e in &args.edges {
                let spec = gnn_datasets::synthetic::RandomGraphSpec::parse(&format!(
                    "er-{e}-{}",
                    args.degree
                ))
                .ok_or_else(|| format!("bad edge count '{e}'"))?;
                let nodes = (spec.nodes / args.degree.max(1)).max(2);
                let name = format!("{graph}-{nodes}-{}", args.degree);
                eprintln!("[scaling] {model} {name} {backend}");
                let mut cmd = Command::new(&exe);
                cmd.args(["worker", "--model", &model, "--dataset", &name])
                    .args(["--backend", backend.name()])
                    .args(["--threads", &args.threads.to_string()])
                    .args(["--warmup", &args.warmup.to_string()])
                    .args(["--steps", &args.steps.to_string()]);
                let r: Measurement = measure(cmd, args.threads)?;
                // Edges actually built (merged repeats make it a little under nodes × degree),
                // generated once per graph whatever the number of backends.
                let edges = match edge_counts.get(&name) {
                    Some(&e) => e,
                    None => {
                        let ds = gnn_datasets::synthetic::RandomGraphSpec::parse(&name)
                            .ok_or("bad synthetic name")?;
                        let e = gnn_datasets::synthetic::random_graph(&ds)
                            .map_err(|e| e.to_string())?
                            .edges
                            .num_edges() as f64;
                        edge_counts.insert(name.clone(), e);
                        e
                    }
                };
                let ms = gnn_train::stats::median(&r.train_ms);
                md.push_str(&format!(
                    "| {graph} | {} | {nodes} | {edges:.0} | {ms:.1} | {:.0} |\n",
                    backend.name(),
                    r.peak_rss_mb
                ));
                t.push((edges, ms));
                m.push((edges, r.peak_rss_mb));
                results.push(serde_json::json!({
                    "graph": graph, "backend": backend.name(), "nodes": nodes, "edges": edges,
                    "measurement": r,
                }));
            }
            let label = format!("{graph} {}", backend.name());
            let (st, sm) = (chart::log_log_slope(&t), chart::log_log_slope(&m));
            slopes.push_str(&format!(
                "- {label}: epoch time ∝ edges^{:.2}, peak RSS ∝ edges^{:.2}\n",
                st.unwrap_or(f64::NAN),
                sm.unwrap_or(f64::NAN)
            ));
            time_series.push(chart::Series {
                label: label.clone(),
                points: t,
            });
            memory_series.push(chart::Series { label, points: m });
        }
    }
    println!("{md}\nFitted log-log slopes (least squares over all sizes):\n{slopes}");
    if let Some(path) = &args.svg {
        let title = format!("{model} scaling ({})", machine::utc_now());
        let svg = chart::scaling(&time_series, &memory_series, &title)?;
        gnn_train::output::write_atomic(path, svg.as_bytes()).map_err(|e| e.to_string())?;
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "date": machine::utc_now(),
            "machine": machine::describe(),
            "model": model,
            "degree": args.degree,
            "threads": args.threads,
            "slopes": time_series.iter().zip(&memory_series).map(|(t, m)| serde_json::json!({
                "series": t.label,
                "time_slope": chart::log_log_slope(&t.points),
                "rss_slope": chart::log_log_slope(&m.points),
            })).collect::<Vec<_>>(),
            "results": results,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        gnn_train::output::write_atomic(path, text.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The PyG script's arguments for `model` on `dataset`: the model's PyG reference (from its
/// spec) and the data exactly as gnn-rs prepares it, written to `scratch`; `None` when the
/// model has no PyG reference.
fn pyg_inputs(
    registry: &Registry,
    args: &RunArgs,
    model: &str,
    dataset: &str,
    scratch: &std::path::Path,
) -> Result<Option<Vec<String>>, String> {
    let setup = Setup::new(
        registry,
        model,
        dataset,
        Backend::Flex,
        args.root.as_deref(),
    )?;
    let Some(reference) = setup
        .entry
        .pyg_reference(&setup.config, &setup.spec.fit)
        .map_err(|e| e.to_string())?
    else {
        eprintln!("{model} has no PyG reference: PyG is not measured on {dataset}");
        return Ok(None);
    };
    let task = setup.entry.task();
    let mut pyg_args = vec![
        "--model".into(),
        model.into(),
        "--dataset".into(),
        dataset.into(),
        "--reference".into(),
        reference.to_string(),
        "--threads".into(),
        args.threads.to_string(),
        "--warmup".into(),
        warmup(args, task).to_string(),
        "--steps".into(),
        steps(args, task).to_string(),
        "--batch-size".into(),
        setup.spec.batch_size.to_string(),
        "--device".into(),
        args.pyg_device.clone(),
    ];
    let path = scratch.join(format!("{dataset}.safetensors"));
    match &setup.dataset {
        AnyDataset::Graph(ds) => {
            let (split, note) = worker::graph_split(ds);
            let standardize = setup.spec.normalize_features;
            gnn_train::commands::export_graph_dataset(ds, &split, &note, standardize, &path)
                .map_err(|e| e.to_string())?;
            pyg_args.extend(["--graph-data".to_string(), path.display().to_string()]);
        }
        // No PyG reference reads a knowledge graph yet.
        AnyDataset::Knowledge(_) => return Ok(None),
        AnyDataset::Node(_) => {
            let ds = setup.prepared_nodes().ok_or("a node dataset")?;
            gnn_train::commands::export_node_dataset(&ds, &path).map_err(|e| e.to_string())?;
            pyg_args.extend(["--node-data".to_string(), path.display().to_string()]);
        }
    }
    Ok(Some(pyg_args))
}

/// Runs a worker's measurement on its compute threads, as `gnn` runs its commands
/// ([`run_on_pool`](gnn_train::threads::run_on_pool)), and prints it as one JSON line.
fn measure_on_pool<T: serde::Serialize + Send>(
    threads: usize,
    work: impl FnOnce() -> Result<T, String> + Send,
) -> Result<(), String> {
    let m = gnn_train::threads::run_on_pool(Some(threads), work).map_err(|e| e.to_string())??;
    println!("{}", serde_json::to_string(&m).map_err(|e| e.to_string())?);
    Ok(())
}

fn main() -> ExitCode {
    // As the `gnn` program does, so that what is measured is what `gnn train` runs.
    gnn_train::allocator::keep_freed_buffers();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Sub::Worker(args)) => measure_on_pool(args.threads, || worker::run(&args)),
        Some(Sub::ExportGraph { dataset, out, root }) => {
            worker::load_dataset(&dataset, root.as_deref()).and_then(|ds| {
                let AnyDataset::Node(ds) = ds else {
                    return Err(format!(
                        "{dataset} is a graph-level dataset; export-graph writes node datasets"
                    ));
                };
                let text =
                    serde_json::to_string(&worker::graph_json(&ds)).map_err(|e| e.to_string())?;
                gnn_train::output::write_atomic(&out, text.as_bytes()).map_err(|e| e.to_string())
            })
        }
        Some(Sub::Scaling(args)) => scaling(args),
        Some(Sub::Sampled(args)) => sampled::run(&args),
        Some(Sub::SampledWorker { args, threads_one }) => {
            measure_on_pool(threads_one, || sampled::worker(&args, threads_one))
        }
        None => run(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gnn-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
