//! `gnn-bench`: training-step time, inference time and peak memory of each model × dataset ×
//! backend, each configuration in its own process, with PyTorch Geometric run interleaved in
//! the same sitting and ratio columns ours / PyG.
//!
//! ```text
//! cargo run --release -p gnn-bench -- --datasets cora --backends flex,ndarray \
//!     --pyg-python /path/to/venv/bin/python --json bench.json
//! ```

mod machine;
mod pyg;
mod table;
mod worker;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use clap::{Args, Parser, Subcommand};
use gnn_train::Backend;

use crate::worker::{Measurement, WorkerArgs};

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
    /// Measure one configuration in this process and print one JSON line (used internally).
    Worker {
        #[arg(long)]
        model: String,
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        backend: Backend,
        #[arg(long, default_value_t = 1)]
        threads: usize,
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        #[arg(long, default_value_t = 100)]
        steps: usize,
        #[arg(long)]
        root: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Models, comma-separated.
    #[arg(long, default_value = "gcn", value_delimiter = ',')]
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
    /// Write every measurement, with the machine description, as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn worker_command(
    exe: &PathBuf,
    args: &RunArgs,
    model: &str,
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
    .args([
        "--warmup",
        &args.warmup.to_string(),
        "--steps",
        &args.steps.to_string(),
    ]);
    if let Some(root) = &args.root {
        c.arg("--root").arg(root);
    }
    c
}

/// Runs a command with the thread-count environment and parses its last stdout line.
fn measure(mut cmd: Command, threads: usize) -> Result<Measurement, String> {
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
    let root = gnn_datasets::DataRoot::resolve(args.root.as_deref()).dir;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut all: Vec<Measurement> = Vec::new();
    for model in &args.models {
        for dataset in &args.datasets {
            // Entity graphs go to PyG as the processed edge list, so both sides use the same data.
            let mut pyg_args = args_for_pyg(&args, model, dataset, &root);
            if gnn_datasets::entities::NAMES.contains(&dataset.as_str()) && python.is_some() {
                let ds = worker::load_dataset(dataset, args.root.as_deref())?;
                let path = scratch.path().join(format!("{dataset}.json"));
                let text =
                    serde_json::to_string(&worker::graph_json(&ds)).map_err(|e| e.to_string())?;
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                pyg_args.extend(["--graph-json".to_string(), path.display().to_string()]);
            }
            for round in 0..args.repeats {
                // Alternate implementations within each round, so drift hits all of them.
                for &backend in &backends {
                    eprintln!(
                        "[{}/{}] {model} {dataset} {backend}",
                        round + 1,
                        args.repeats
                    );
                    all.push(measure(
                        worker_command(&exe, &args, model, dataset, backend),
                        args.threads,
                    )?);
                }
                if let Some(py) = &python {
                    eprintln!("[{}/{}] {model} {dataset} pyg", round + 1, args.repeats);
                    all.push(measure(pyg::command(py, &pyg_args), args.threads)?);
                }
            }
        }
    }
    let rows = table::aggregate(&all);
    println!("{}", table::markdown(&rows, args.threads));
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

fn args_for_pyg(args: &RunArgs, model: &str, dataset: &str, root: &std::path::Path) -> Vec<String> {
    vec![
        "--model".into(),
        model.into(),
        "--dataset".into(),
        dataset.into(),
        "--root".into(),
        root.display().to_string(),
        "--threads".into(),
        args.threads.to_string(),
        "--warmup".into(),
        args.warmup.to_string(),
        "--steps".into(),
        args.steps.to_string(),
    ]
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Sub::Worker {
            model,
            dataset,
            backend,
            threads,
            warmup,
            steps,
            root,
        }) => worker::run(&WorkerArgs {
            model,
            dataset,
            backend,
            threads,
            warmup,
            steps,
            root,
        })
        .and_then(|m| {
            println!("{}", serde_json::to_string(&m).map_err(|e| e.to_string())?);
            Ok(())
        }),
        Some(Sub::ExportGraph { dataset, out, root }) => {
            worker::load_dataset(&dataset, root.as_deref()).and_then(|ds| {
                let text =
                    serde_json::to_string(&worker::graph_json(&ds)).map_err(|e| e.to_string())?;
                gnn_train::output::write_atomic(&out, text.as_bytes()).map_err(|e| e.to_string())
            })
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
