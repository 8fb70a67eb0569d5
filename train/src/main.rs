//! `gnn`: train graph neural networks on benchmark datasets, on any backend.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use gnn_datasets::DataRoot;
use gnn_datasets::molecule::Hydrogens;
use gnn_datasets::transforms::row_normalize;
use gnn_models::registry::{Registry, Task, flag_name};
use gnn_train::commands::{
    FitOverrides, TrainOutputs, TrainRequest, check_output_dir, shared_options,
};
use gnn_train::datasets::{self, AnyDataset, LoadOptions};
use gnn_train::experiment::ExperimentReport;
use gnn_train::fit::{LrDecay, Selection};
use gnn_train::progress::Stage;
use gnn_train::saved::{self, Preprocessing, SavedModel};
use gnn_train::{Backend, TrainError, commands, output, stats};

#[derive(Parser, Debug)]
#[command(
    name = "gnn",
    version,
    about = "Graph neural networks on Burn: train, evaluate, export"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Compute threads of the whole process (flex and ndarray kernels, sampling) [default:
    /// $RAYON_NUM_THREADS, else every core]. Results are bitwise repeatable at a fixed count.
    #[arg(long, global = true)]
    threads: Option<usize>,
}

/// Which mini-batches a node task trains on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SamplerKind {
    /// Sampled neighbourhoods of seed nodes (GraphSAGE; PyG's NeighborLoader).
    Neighbor,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model on a dataset, possibly several times with consecutive seeds.
    Train(Box<TrainArgs>),
    /// Rebuild a saved model from its card and score it on every split.
    Eval(EvalArgs),
    /// Write per-node predictions and class probabilities of a saved model as CSV.
    Predict(PredictArgs),
    /// Write a saved model's weights under PyTorch Geometric's state_dict names.
    Export(ExportArgs),
    /// Make a model directory from PyTorch Geometric weights (a safetensors state_dict).
    Import(ImportArgs),
    /// Write a dataset, as the models see it, and a split to one safetensors file (for PyG
    /// side-by-side runs: bench/pyg_qm9.py, bench/pyg_accuracy.py).
    ExportData(ExportDataArgs),
    /// List the models with their options, defaults and training protocols.
    Models(ModelsArgs),
    /// Record how messages flow through a saved model on its dataset: per step (aggregation)
    /// and edge the message's norm, weight, share of its target's aggregate, attention and
    /// relation; per node the aggregate's norm and the update. Writes Parquet (or CSV) tables
    /// and a JSON header; --analyze prints each step's health and the chains of messages that
    /// reached the --nodes.
    Trace(TraceArgs),
}

#[derive(Args, Debug)]
struct TraceArgs {
    #[command(flatten)]
    using: UseArgs,
    /// Keep only the messages that can reach these nodes (comma-separated dataset ids): their
    /// receptive field, step by step.
    #[arg(long, value_delimiter = ',')]
    nodes: Option<Vec<u32>>,
    /// The edge table; the node table and the header go beside it (OUT.nodes.EXT, OUT.json).
    #[arg(long, default_value = "trace.parquet")]
    out: PathBuf,
    /// Write CSV tables instead of Parquet.
    #[arg(long)]
    csv: bool,
    /// The most memory the recorded columns may take, in MiB; beyond it a step keeps the
    /// messages of a seeded random part of its target nodes (said in the header).
    #[arg(long, default_value_t = 512)]
    budget_mb: usize,
    /// Seed of that choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print each step's health (message norms, max winners, attention entropy, updates) and,
    /// for each --nodes node, the chains of messages that carried the most to it.
    #[arg(long)]
    analyze: bool,
    /// With --analyze: chains per node (and bottlenecks listed).
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Also record the influence of every message on this node's predicted output: the
    /// derivative with respect to a scale on the message (column `influence`; the model runs
    /// frozen on the backend's autodiff device); --analyze compares it with the share flow.
    #[arg(long)]
    influence: Option<u32>,
    /// Also draw: OUT-stem.health.svg (the steps' health), OUT-stem.field-NODE.svg (each
    /// --nodes node's receptive field, edges as wide as the flow they carry) and OUT-stem.html
    /// (both, a node picked from a list; no network needed to open it).
    #[arg(long)]
    draw: bool,
}

#[derive(Args, Debug)]
struct ModelsArgs {
    /// Print JSON (name, task, options with types, docs and defaults, protocol).
    #[arg(long)]
    json: bool,
    /// With --json: the protocols on this dataset (some models' defaults differ per dataset).
    #[arg(long, default_value = "")]
    dataset: String,
}

#[derive(Args, Debug)]
struct ExportDataArgs {
    /// Dataset: a node dataset (cora, ...; its own split) or a graph dataset (tu-NAME, qm9,
    /// qm9-sdf).
    #[arg(long)]
    dataset: String,
    /// QM9: the target (PyG's order).
    #[arg(long, default_value_t = 0)]
    target: usize,
    /// QM9: hydrogens as graph nodes.
    #[arg(long)]
    explicit_h: bool,
    /// Graph datasets: seed of the split — the 80/10/10 split of `gnn train --folds 0 --seed
    /// S`'s first run, or with --folds the folds' seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Graph datasets: the split of fold --fold of stratified cross-validation with this many
    /// folds, as `gnn train --folds K` trains it (0: the seeded 80/10/10 split).
    #[arg(long, default_value_t = 0)]
    folds: usize,
    /// Graph datasets with --folds: which fold is the test fold (run --fold of `gnn train`).
    #[arg(long, default_value_t = 0)]
    fold: usize,
    /// Graph datasets with --folds: no validation fold (as `gnn train --no-val-fold`).
    #[arg(long)]
    no_val_fold: bool,
    /// Features as stored: not row-normalised (node datasets), continuous node attributes not
    /// standardised (graph datasets).
    #[arg(long)]
    raw_features: bool,
    /// Data root [default: $GNN_DATA_DIR, else the per-user cache directory].
    #[arg(long)]
    root: Option<PathBuf>,
    /// Never download; fail if a file is missing.
    #[arg(long)]
    offline: bool,
    /// Output file (.safetensors).
    #[arg(long)]
    out: PathBuf,
}

/// Where a saved model is used.
#[derive(Args, Debug)]
struct UseArgs {
    /// The model directory (written by `gnn train --save` or `gnn import`).
    #[arg(long)]
    model: PathBuf,
    /// Dataset [default: the one in the model card].
    #[arg(long)]
    dataset: Option<String>,
    /// Backend: flex (default), ndarray, wgpu.
    #[arg(long, default_value = "flex")]
    backend: Backend,
    /// Data root [default: $GNN_DATA_DIR, else the per-user cache directory].
    #[arg(long)]
    root: Option<PathBuf>,
    /// Never download; fail if a file is missing.
    #[arg(long)]
    offline: bool,
}

#[derive(Args, Debug)]
struct EvalArgs {
    #[command(flatten)]
    using: UseArgs,
    /// Also write the metrics as JSON (the fields of `gnn train --json` a saved model has).
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct PredictArgs {
    #[command(flatten)]
    using: UseArgs,
    /// Output CSV [default: standard output, unless --json is given].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the predictions as JSON: model, dataset, backend, level (node or graph) and one
    /// object per node or graph (id, split, label, prediction, probabilities; regression:
    /// target, prediction).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Link models: the queries to complete, one `head<TAB>relation` per line (entity and
    /// relation names of a knowledge graph) or one node id per line; writes the --top-k best
    /// tails of each as `head,relation,rank,tail,score,known`.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Link models: tails per query.
    #[arg(long, default_value_t = 10)]
    top_k: usize,
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// The model directory.
    #[arg(long)]
    model: PathBuf,
    /// Output format: safetensors (PyG state_dict names and layouts).
    #[arg(long, default_value = "safetensors")]
    format: String,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// The safetensors file of a PyG model's state_dict.
    #[arg(long)]
    from_pyg: PathBuf,
    /// Its architecture: a model of `gnn models` (sizes are read off the tensor shapes).
    #[arg(long, value_parser = model_name)]
    model: String,
    /// The dataset it is meant for (recorded in the card).
    #[arg(long)]
    dataset: String,
    /// The model was trained on features as stored (see `gnn train --raw-features`).
    #[arg(long)]
    raw_features: bool,
    /// Backend recorded in the card.
    #[arg(long, default_value = "flex")]
    backend: Backend,
    /// The model directory to write.
    #[arg(long)]
    out: PathBuf,
}

/// A registered model's name, as the registry spells it.
fn model_name(s: &str) -> Result<String, String> {
    Registry::builtin()
        .get(s)
        .map(|e| e.name().to_string())
        .map_err(|e| e.to_string())
}

fn dataset_help() -> String {
    let names: Vec<&str> = datasets::FAMILIES.iter().map(|f| f.names).collect();
    format!("Dataset: {}", names.join("; "))
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    flags: TrainFlags,
    #[command(flatten)]
    options: ModelOptionArgs,
}

/// The settings every model shares.
#[derive(Args, Debug)]
struct TrainFlags {
    /// Model: one of `gnn models` (gcn, gat, ... node classification; mpnn graph
    /// classification/regression).
    #[arg(long, value_parser = model_name)]
    model: String,
    #[arg(long, help = dataset_help())]
    dataset: String,
    /// QM9: the target to regress, in PyG's order (0 dipole moment in D, 1 polarizability,
    /// 2 HOMO, 3 LUMO, 4 gap, ... 18 rotational constant C) [default: 0].
    #[arg(long)]
    target: Option<usize>,
    /// QM9: hydrogens as graph nodes (PyG's QM9) instead of a count per heavy atom.
    #[arg(long)]
    explicit_h: bool,
    /// Backend: flex (default, CPU), ndarray (CPU), wgpu (GPU; needs the `wgpu` build feature).
    #[arg(long, default_value = "flex")]
    backend: Backend,
    /// Number of runs; run r uses seed `seed + r`.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Seed of the first run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Maximum epochs [default: the model's protocol, see `gnn models`].
    #[arg(long)]
    epochs: Option<usize>,
    /// Adam learning rate [default: the model's protocol].
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Multiply the learning rate by --lr-decay-factor every this many epochs [default: never].
    #[arg(long)]
    lr_decay_every: Option<usize>,
    /// Step decay factor of --lr-decay-every.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    lr_decay_factor: f64,
    /// L2 weight decay [default: the model's protocol].
    #[arg(long, allow_negative_numbers = true)]
    weight_decay: Option<f64>,
    /// Stop after this many epochs without improvement of the selection criterion
    /// [default: the model's protocol].
    #[arg(long)]
    patience: Option<usize>,
    /// Which validation numbers pick the kept epoch and count as progress for --patience:
    /// acc, loss, acc-and-loss (the GAT authors' rule) or last [default: the model's protocol].
    #[arg(long)]
    select_by: Option<Selection>,
    /// Evaluate every this many epochs and after the last [default: the model's protocol;
    /// rgcn-distmult on fb15k-237: 500].
    #[arg(long)]
    eval_every: Option<usize>,
    /// Scale each step's gradients together so their joint L2 norm is at most this (torch's
    /// clip_grad_norm_; PyG's and DGL's R-GCN link examples use 1) [default: none].
    #[arg(long, allow_negative_numbers = true)]
    clip_grad_norm: Option<f64>,
    /// Link ranking: how a tie with the true answer ranks — mean (of optimistic and
    /// pessimistic), optimistic or pessimistic.
    #[arg(long, default_value = "mean")]
    tie: gnn_train::link_metrics::TieRule,
    /// Link prediction: train each epoch on this many training links drawn at random, the
    /// first --graph-share of them forming the encoder's graph (the R-GCN paper's sampled
    /// training graphs: 30000 and 0.5) [default: every link, on the full training graph].
    #[arg(long)]
    sample_links: Option<usize>,
    /// Link prediction with --sample-links: the share of the drawn links that the encoder
    /// passes messages on (the rest are only scored).
    #[arg(long, default_value_t = 0.5)]
    graph_share: f64,
    /// Node datasets: train in mini-batches of --batch-size seed nodes on their sampled
    /// neighbourhoods instead of full-batch; evaluation too, on every neighbour unless
    /// --eval-fanout says otherwise.
    #[arg(long, value_enum)]
    sampler: Option<SamplerKind>,
    /// With --sampler: neighbours drawn per layer from the seeds outwards, one count per
    /// message-passing layer (-1: all) [default: 15,10].
    #[arg(long)]
    fanout: Option<String>,
    /// With --sampler: draw neighbours with replacement.
    #[arg(long)]
    replace: bool,
    /// With --sampler: neighbours per layer when evaluating [default: all].
    #[arg(long)]
    eval_fanout: Option<String>,
    /// With --sampler: train on node features mapped from this file instead of held in
    /// memory; the file is written from the dataset first if it does not exist, and must
    /// hold the dataset's features if it does.
    #[arg(long)]
    features_file: Option<PathBuf>,
    /// Link prediction: negatives per positive link each epoch, or `all` — on a graph every
    /// node pair, the GAE paper's full adjacency reconstruction (memory O(N²)); on a
    /// knowledge graph every entity as each fact's head and tail, softmax cross-entropy
    /// ("1-vs-all"), in steps of --batch-size facts.
    #[arg(long, default_value = "1")]
    negatives: gnn_train::link_data::LinkNegatives,
    /// Use the features as stored: not row-normalised (node datasets), continuous node
    /// attributes not standardised (graph datasets).
    #[arg(long)]
    raw_features: bool,
    /// Data root [default: $GNN_DATA_DIR, else the per-user cache directory].
    #[arg(long)]
    root: Option<PathBuf>,
    /// Never download; fail if a file is missing.
    #[arg(long)]
    offline: bool,
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Draw the loss and accuracy curves of the first run as SVG.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Attention models: write the first run's attention per edge and head as CSV
    /// (source,target,head,layer,coefficient) and print where the attention went.
    #[arg(long)]
    dump_attention: Option<PathBuf>,
    /// Graph datasets: stratified cross-validation folds, one run per fold (0: `--runs` seeded
    /// 80/10/10 splits) [default: 10 for classification, 0 for regression].
    #[arg(long)]
    folds: Option<usize>,
    /// Graph datasets with --folds: no validation fold; train on the other k-1 folds and keep
    /// the last epoch.
    #[arg(long)]
    no_val_fold: bool,
    /// Graph datasets: graphs per training mini-batch [default: 32]; with --sampler: seed
    /// nodes per mini-batch [default: 1024]; knowledge graphs with --negatives all: facts
    /// per step [default: 1024].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Save the first run's model (weights and model card) into this directory.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Write each run's state (weights, optimizer, history, kept epoch) into this directory
    /// every --checkpoint-every epochs and after the last, atomically; it must hold no
    /// checkpoints yet.
    #[arg(long, conflicts_with = "resume")]
    checkpoint_dir: Option<PathBuf>,
    /// With --checkpoint-dir or --resume: epochs between checkpoints [default: 1].
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Continue the checkpoints in this directory (written by the same command with
    /// --checkpoint-dir): each run from its last checkpoint, ending as the uninterrupted run
    /// would; checkpoints go on being written there.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// No progress bar or per-run lines; only the final summary.
    #[arg(long)]
    quiet: bool,
}

/// The registered models' options as flags (`--heads 8`): one flag per option name of any
/// model, built from the registry, plus `--set NAME=VALUE` for any option. Each is checked
/// against the chosen model's own options.
#[derive(Debug, Default)]
struct ModelOptionArgs {
    /// `(name, value)` in the order they apply: flags, then `--set`.
    settings: Vec<(String, String)>,
}

/// The option flags: every option name of the registry that no shared flag already uses.
fn option_flags() -> Vec<commands::SharedOption> {
    let fixed: Vec<String> = TrainFlags::augment_args(clap::Command::new("train"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    shared_options(&Registry::builtin())
        .into_iter()
        .filter(|o| !fixed.iter().any(|f| f == o.name))
        .collect()
}

impl FromArgMatches for ModelOptionArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut settings = Vec::new();
        for o in option_flags() {
            if let Ok(Some(v)) = m.try_get_one::<String>(o.name) {
                settings.push((o.name.to_string(), v.clone()));
            }
        }
        if let Ok(Some(values)) = m.try_get_many::<String>("set") {
            for kv in values {
                let (k, v) = kv.split_once('=').ok_or_else(|| {
                    clap::Error::raw(
                        clap::error::ErrorKind::ValueValidation,
                        format!("--set takes NAME=VALUE, got '{kv}'"),
                    )
                })?;
                settings.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Ok(ModelOptionArgs { settings })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for ModelOptionArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let mut cmd = cmd;
        for o in option_flags() {
            cmd = cmd.arg(
                clap::Arg::new(o.name)
                    // Built once per run of the program: the flag lives as long as it.
                    .long(&*Box::leak(flag_name(o.name).into_boxed_str()))
                    .value_name("VALUE")
                    .allow_negative_numbers(true)
                    .help(format!("{} [{}]", o.doc, o.models.join(", ")))
                    .help_heading("Model options (see `gnn models` for each model's defaults)"),
            );
        }
        cmd.arg(
            clap::Arg::new("set")
                .long("set")
                .value_name("NAME=VALUE")
                .action(clap::ArgAction::Append)
                .help("Set any option of the model by name (repeatable)")
                .help_heading("Model options (see `gnn models` for each model's defaults)"),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

fn dataset_root(root: Option<&std::path::Path>, offline: bool) -> DataRoot {
    let mut root = DataRoot::resolve(root);
    if offline {
        root.download = false;
    }
    root
}

fn train(args: TrainArgs) -> Result<(), TrainError> {
    let f = args.flags;
    let registry = Registry::builtin();
    let mut request = TrainRequest::new(
        &f.model,
        &f.dataset,
        dataset_root(f.root.as_deref(), f.offline),
    );
    request.backend = f.backend;
    request.options = args.options.settings;
    request.runs = f.runs;
    request.seed = f.seed;
    request.fit = FitOverrides {
        epochs: f.epochs,
        lr: f.lr,
        lr_decay: f.lr_decay_every.map(|every| LrDecay {
            every,
            factor: f.lr_decay_factor,
        }),
        weight_decay: f.weight_decay,
        patience: f.patience,
        select_by: f.select_by,
        eval_every: f.eval_every,
        clip_grad_norm: f.clip_grad_norm,
    };
    request.tie = f.tie;
    request.link_sampling = f
        .sample_links
        .map(|links| gnn_train::link_data::LinkSampling {
            links,
            graph_share: f.graph_share,
        });
    request.negatives = f.negatives;
    let sampling_flags = f.fanout.is_some() || f.replace || f.eval_fanout.is_some();
    if f.sampler.is_none() && sampling_flags {
        return Err(TrainError::Config(
            "--fanout, --replace and --eval-fanout need --sampler neighbor".into(),
        ));
    }
    if f.sampler.is_some() {
        let list = |text: &str| gnn_datasets::Fanout::parse_list(text).map_err(TrainError::from);
        request.sampler = Some(gnn_train::sampled_data::NeighborSampling {
            fanouts: list(
                f.fanout
                    .as_deref()
                    .unwrap_or(gnn_train::sampled_data::DEFAULT_FANOUT),
            )?,
            replace: f.replace,
            eval_fanouts: f.eval_fanout.as_deref().map(list).transpose()?,
        });
    }
    request.checkpoints = match (f.checkpoint_dir, f.resume) {
        (Some(dir), _) => Some((dir, false)),
        (None, Some(dir)) => Some((dir, true)),
        (None, None) if f.checkpoint_every.is_some() => {
            return Err(TrainError::Config(
                "--checkpoint-every needs --checkpoint-dir or --resume".into(),
            ));
        }
        (None, None) => None,
    }
    .map(|(dir, resume)| gnn_train::checkpoint::Checkpoints {
        dir,
        every: f.checkpoint_every.unwrap_or(1),
        resume,
    });
    request.features_file = f.features_file;
    request.folds = f.folds;
    request.no_val_fold = f.no_val_fold;
    request.batch_size = f.batch_size;
    request.target = f.target;
    request.explicit_h = f.explicit_h;
    request.raw_features = f.raw_features;
    request.outputs = TrainOutputs {
        json: f.json,
        plot: f.plot,
        dump_attention: f.dump_attention,
        save: f.save,
    };
    let plan = commands::plan(&registry, &request)?;

    let show = !f.quiet && std::io::stderr().is_terminal();
    let epochs = plan.spec.fit.epochs;
    let bar = if show {
        let bar = indicatif::ProgressBar::new((plan.num_runs() * epochs) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!("{} {}", plan.spec.model, plan.dataset.name()));
        let ranking = bar.clone();
        gnn_train::progress::observe(move |stage| match stage {
            Stage::Ranking { done, total } => {
                ranking.set_message(format!("evaluating: {done}/{total} facts ranked"))
            }
        });
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let outcome = plan.run(&registry, |run, rec| {
        bar.set_position((run * epochs + rec.epoch) as u64);
        let val = rec
            .scores
            .get(&gnn_train::data::SplitKind::Val)
            .map_or(String::new(), |v| format!(" val {:.3}", v.metric));
        bar.set_message(format!(
            "run {} epoch {} loss {:.4}{val}",
            run + 1,
            rec.epoch,
            rec.step_loss,
        ));
    })?;
    bar.finish_and_clear();

    let report = &outcome.report;
    if !f.quiet {
        for (i, r) in report.runs.iter().enumerate() {
            // Datasets without a validation split (the R-GCN entities) have no val metric.
            let val = if r.val_metric.is_nan() {
                "-".to_string()
            } else {
                format!("{:.4}", r.val_metric)
            };
            // The task's further test metrics (link prediction: ap, hits@k).
            let more: String = r
                .more_metrics
                .iter()
                .filter_map(|(k, v)| Some(format!(" {} {v:.4}", k.strip_prefix("test_")?)))
                .collect();
            // Evaluation is worth its own number when it is not every epoch's share.
            let eval = if plan.spec.fit.eval_every > 1 {
                format!(", {:.0} ms per evaluation", r.eval_ms_median)
            } else {
                String::new()
            };
            eprintln!(
                "run {}/{} seed {}: test {} {:.4}{more}, val {} {val}, best epoch {}/{}, {:.2} ms/epoch{eval}",
                i + 1,
                report.runs.len(),
                r.seed,
                short_metric(&report.metric),
                r.test_metric,
                short_metric(&report.metric),
                r.best_epoch,
                r.epochs,
                r.epoch_ms_median
            );
        }
    }
    if let Some(summary) = &outcome.attention_summary {
        print!("{summary}");
    }
    if let (Some(dir), Some(run)) = (&plan.outputs.save, report.runs.first()) {
        eprintln!("saved run 1 (seed {}) to {}", run.seed, dir.display());
    }
    println!("{}", summary(report));
    Ok(())
}

fn trace(args: TraceArgs) -> Result<(), TrainError> {
    use gnn_train::trace_file::{self, TraceFormat};
    check_output_dir(&args.out)?;
    let (saved, dataset) = open_model(&args.using)?;
    let AnyDataset::Node(ds) = &dataset else {
        return Err(TrainError::Config(format!(
            "gnn trace runs on node datasets, and {} is not one",
            dataset.name()
        )));
    };
    if saved.model.entry().task() != Task::Node {
        return Err(TrainError::Config(format!(
            "gnn trace runs node-level models; {} is not one (tracing a link model's encoder is not built yet)",
            saved.card.model.kind
        )));
    }
    let options = gnn_models::trace::TraceOptions {
        budget_bytes: args.budget_mb.saturating_mul(1 << 20),
        seed: args.seed,
    };
    let nodes = args.nodes.as_deref();
    let traced = commands::trace(
        &saved,
        ds,
        args.using.backend,
        options,
        nodes,
        args.influence,
    )?;
    let context = serde_json::json!({
        "card": saved.card,
        "dataset": ds.name,
        "backend": args.using.backend.name(),
        "focus": args.nodes,
        "influence_node": args.influence,
        "inference_seconds": traced.plain.as_secs_f64(),
        "traced_inference_seconds": traced.traced.as_secs_f64(),
    });
    let trace = &traced.trace;
    let focused = nodes.map(|v| trace.focus(v));
    let written = focused.as_ref().unwrap_or(trace);
    let header = trace_file::header(written, context);
    let format = if args.csv {
        TraceFormat::Csv
    } else {
        TraceFormat::Parquet
    };
    let start = std::time::Instant::now();
    let files = trace_file::write_trace(written, &header, &args.out, format)?;
    let writing = start.elapsed();
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / 1024.0;
    println!(
        "traced {} on {}: {} steps, {} edge rows; inference {:.1} ms plain, {:.1} ms recording; files written in {:.1} ms",
        saved.card.model.kind,
        ds.name,
        trace.steps.len(),
        written.num_rows(),
        1e3 * traced.plain.as_secs_f64(),
        1e3 * traced.traced.as_secs_f64(),
        1e3 * writing.as_secs_f64()
    );
    for path in [&files.edges, &files.nodes, &files.header] {
        println!("wrote {} ({:.1} KiB)", path.display(), size(path));
    }
    if args.draw {
        for path in draw_trace(
            trace,
            &args.out,
            nodes.unwrap_or_default(),
            &saved.card.model.kind,
            &ds.name,
        )? {
            println!("wrote {} ({:.1} KiB)", path.display(), size(&path));
        }
    }
    if args.analyze {
        print!(
            "{}",
            commands::trace_analysis(trace, nodes.unwrap_or_default(), args.top_k, args.influence)
        );
    }
    Ok(())
}

/// The pictures of `gnn trace --draw`, beside `out`; returns their paths.
fn draw_trace(
    trace: &gnn_models::trace::Trace,
    out: &std::path::Path,
    nodes: &[u32],
    model: &str,
    dataset: &str,
) -> Result<Vec<PathBuf>, TrainError> {
    use gnn_train::trace_draw::{field, render_field, render_health, render_page};
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    let beside = |name: String| out.with_file_name(name);
    let fail = |path: &PathBuf| {
        let path = path.clone();
        move |reason| TrainError::Output { path, reason }
    };
    let mut written = Vec::new();
    let health_path = beside(format!("{stem}.health.svg"));
    let title = format!("{model} on {dataset}: messages per step");
    let health = render_health(&gnn_models::trace::layer_health(trace), &title)
        .map_err(fail(&health_path))?;
    output::write_atomic(&health_path, health.as_bytes())?;
    written.push(health_path);
    let mut fields = Vec::new();
    for &node in nodes {
        let path = beside(format!("{stem}.field-{node}.svg"));
        let title = format!("{model} on {dataset}: the messages that reached node {node}");
        let svg = render_field(&field(trace, node, 16), &title).map_err(fail(&path))?;
        output::write_atomic(&path, svg.as_bytes())?;
        written.push(path);
        fields.push((node, svg));
    }
    let page_path = beside(format!("{stem}.html"));
    let page = render_page(
        &format!("{model} on {dataset}: message trace"),
        &health,
        &fields,
    );
    output::write_atomic(&page_path, page.as_bytes())?;
    written.push(page_path);
    Ok(written)
}

fn models(args: ModelsArgs) -> Result<(), TrainError> {
    let registry = Registry::builtin();
    if args.json {
        let json = commands::listing_json(&registry, &args.dataset);
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| TrainError::Config(e.to_string()))?
        );
    } else {
        print!("{}", commands::listing(&registry));
    }
    Ok(())
}

fn open_model(using: &UseArgs) -> Result<(SavedModel, AnyDataset), TrainError> {
    let saved = SavedModel::load(&using.model, &using.backend.device()?)?;
    let name = using.dataset.as_deref().unwrap_or(&saved.card.dataset);
    let options = saved
        .card
        .training
        .as_ref()
        .map(|t| LoadOptions {
            target: t.target,
            hydrogens: if t.explicit_h {
                Hydrogens::Explicit
            } else {
                Hydrogens::Implicit
            },
        })
        .unwrap_or_default();
    let root = dataset_root(using.root.as_deref(), using.offline);
    let dataset = datasets::load(name, &root, &options)?;
    Ok((saved, dataset))
}

/// A bar on a terminal's stderr that follows a knowledge graph's filtered ranking (hidden
/// when `ranks` is false or stderr is not a terminal).
fn ranking_bar(ranks: bool) -> indicatif::ProgressBar {
    if !ranks || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("ranking [{bar:30}] {pos}/{len} facts")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    gnn_train::progress::observe(move |stage| match stage {
        Stage::Ranking { done, total } => {
            shown.set_length(total as u64);
            shown.set_position(done as u64);
        }
    });
    bar
}

fn eval(args: EvalArgs) -> Result<(), TrainError> {
    if let Some(path) = &args.json {
        check_output_dir(path)?;
    }
    let (saved, dataset) = open_model(&args.using)?;
    let link_model = saved.model.entry().task() == Task::Link;
    let bar = ranking_bar(matches!(dataset, AnyDataset::Knowledge(_)) && link_model);
    let metrics = match &dataset {
        _ if link_model => commands::eval_links(&saved, &dataset, args.using.backend)?,
        AnyDataset::Node(ds) => commands::eval(&saved, ds, args.using.backend)?,
        AnyDataset::Graph(ds) => commands::eval_graph(&saved, ds, args.using.backend)?,
        AnyDataset::Knowledge(g) => {
            return Err(TrainError::Config(format!(
                "{} is a knowledge graph; {} is not a link model",
                g.name, saved.card.model.kind
            )));
        }
    };
    bar.finish_and_clear();
    let metric = match &dataset {
        AnyDataset::Knowledge(_) => "mrr",
        _ if link_model => "auc",
        AnyDataset::Graph(ds) if ds.num_classes.is_none() => "mae",
        _ => "accuracy",
    };
    let parts: Vec<String> = metrics
        .iter()
        .map(|(k, v)| {
            let note = match saved.card.metrics.get(k) {
                // Equal up to f32 rounding: kernels built with other SIMD or thread settings
                // sum in another order (a regression moves a metric far more than 1e-6).
                Some(s) if (s - v).abs() <= 1e-6 * s.abs().max(1.0) => " (as saved)".to_string(),
                Some(s) => format!(" (saved {s:.4})"),
                None => String::new(),
            };
            // Further metrics are keyed `<split>_<metric>` (`test_ap`).
            let (split, name) = k.split_once('_').unwrap_or((k, short_metric(metric)));
            format!("{split} {name} {v:.4}{note}")
        })
        .collect();
    println!(
        "{} on {} ({}): {}",
        saved.card.model.kind,
        dataset.name(),
        args.using.backend.name(),
        parts.join(", ")
    );
    if let Some(path) = &args.json {
        let report = commands::EvalReport {
            model: saved.card.model.kind.clone(),
            dataset: dataset.name().to_string(),
            backend: args.using.backend.name().to_string(),
            metric: metric.to_string(),
            test_metric: metrics.get("test").copied(),
            val_metric: metrics.get("val").copied(),
            split_metrics: metrics,
            saved_metrics: saved.card.metrics.clone(),
        };
        output::write_json(path, &report)?;
    }
    Ok(())
}

fn predict(args: PredictArgs) -> Result<(), TrainError> {
    for path in [&args.out, &args.json].into_iter().flatten() {
        check_output_dir(path)?;
    }
    let (saved, dataset) = open_model(&args.using)?;
    let link_model = saved.model.entry().task() == Task::Link;
    if let (true, Some(queries)) = (link_model, &args.queries) {
        let rows =
            commands::predict_links(&saved, &dataset, args.using.backend, queries, args.top_k)?;
        if let Some(path) = &args.json {
            let report = serde_json::json!({
                "model": saved.card.model.kind,
                "dataset": dataset.name(),
                "backend": args.using.backend.name(),
                "level": "link",
                "predictions": rows,
            });
            output::write_json(path, &report)?;
        }
        return write_csv(
            args.out.as_deref(),
            args.json.is_some(),
            &commands::ranked_tails_csv(&rows),
        );
    }
    let predictions = match &dataset {
        _ if link_model => {
            return Err(TrainError::Config(format!(
                "{} is a link model: give the queries to complete with --queries FILE",
                saved.card.model.kind
            )));
        }
        _ if args.queries.is_some() => {
            return Err(TrainError::Config(format!(
                "--queries is for link models; {} predicts per node or graph",
                saved.card.model.kind
            )));
        }
        AnyDataset::Node(ds) => commands::predict(&saved, ds, args.using.backend)?,
        AnyDataset::Graph(ds) => commands::predict_graph(&saved, ds, args.using.backend)?,
        AnyDataset::Knowledge(g) => {
            return Err(TrainError::Config(format!(
                "{} is a knowledge graph; {} is not a link model",
                g.name, saved.card.model.kind
            )));
        }
    };
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "model": saved.card.model.kind,
            "dataset": dataset.name(),
            "backend": args.using.backend.name(),
            "level": predictions.level,
            "predictions": predictions.rows,
        });
        output::write_json(path, &report)?;
    }
    write_csv(
        args.out.as_deref(),
        args.json.is_some(),
        &predictions.to_csv(),
    )
}

/// Writes `csv` to `out` atomically, or to standard output unless JSON was asked for instead.
fn write_csv(out: Option<&std::path::Path>, json: bool, csv: &str) -> Result<(), TrainError> {
    match out {
        Some(path) => output::write_atomic(path, csv.as_bytes()),
        None if json => Ok(()),
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(csv.as_bytes())
                .map_err(|e| TrainError::Output {
                    path: "<stdout>".into(),
                    reason: e.to_string(),
                })
        }
    }
}

fn export_data(args: ExportDataArgs) -> Result<(), TrainError> {
    check_output_dir(&args.out)?;
    let options = LoadOptions {
        target: args.target,
        hydrogens: if args.explicit_h {
            Hydrogens::Explicit
        } else {
            Hydrogens::Implicit
        },
    };
    let root = dataset_root(args.root.as_deref(), args.offline);
    let ds = match datasets::load(&args.dataset, &root, &options)? {
        AnyDataset::Node(mut ds) => {
            if args.folds != 0 || args.fold != 0 || args.no_val_fold {
                return Err(TrainError::Config(format!(
                    "{} is a node dataset with its own split: --folds, --fold and --no-val-fold \
                     are for graph datasets",
                    args.dataset
                )));
            }
            if !args.raw_features {
                row_normalize(&mut ds.features);
            }
            commands::export_node_dataset(&ds, &args.out)?;
            eprintln!(
                "wrote {} nodes ({} train / {} val / {} test) to {}",
                ds.num_nodes(),
                ds.split.train.len(),
                ds.split.val.len(),
                ds.split.test.len(),
                args.out.display()
            );
            return Ok(());
        }
        AnyDataset::Graph(ds) => ds,
        AnyDataset::Knowledge(g) => {
            return Err(TrainError::Config(format!(
                "{} is a knowledge graph: its triple files are the export",
                g.name
            )));
        }
    };
    let (split, note) = match args.folds {
        0 => gnn_train::experiment::seeded_split(ds.len(), args.seed),
        k => {
            let splits = gnn_train::experiment::cv_splits(&ds, k, args.seed, args.no_val_fold)?;
            let split = splits.get(args.fold).cloned().ok_or_else(|| {
                TrainError::Config(format!("--fold {} of {k} folds (0..{k})", args.fold))
            })?;
            let val = if args.no_val_fold {
                "none"
            } else {
                "the next fold"
            };
            let note = format!(
                "stratified_folds(k={k}, seed={}), test fold {}, validation {val}",
                args.seed, args.fold
            );
            (split, note)
        }
    };
    commands::export_graph_dataset(&ds, &split, &note, !args.raw_features, &args.out)?;
    eprintln!(
        "wrote {} graphs ({} train / {} val / {} test) to {}",
        ds.len(),
        split.train.len(),
        split.val.len(),
        split.test.len(),
        args.out.display()
    );
    Ok(())
}

fn export(args: ExportArgs) -> Result<(), TrainError> {
    if args.format != "safetensors" {
        return Err(TrainError::Config(format!(
            "unknown export format '{}' (safetensors)",
            args.format
        )));
    }
    check_output_dir(&args.out)?;
    let saved = SavedModel::load(&args.model, &Backend::Flex.device()?)?;
    commands::export_safetensors(&saved, &args.out)?;
    eprintln!(
        "wrote {} tensors under PyG names to {}",
        saved.model.export_pyg()?.len(),
        args.out.display()
    );
    Ok(())
}

fn import(args: ImportArgs) -> Result<(), TrainError> {
    if args.out.exists() && !args.out.join(saved::CARD_FILE).is_file() {
        return Err(TrainError::Model {
            path: args.out.clone(),
            reason: "exists and is not a model directory; refusing to replace it".into(),
        });
    }
    check_output_dir(&args.out)?;
    let pre = Preprocessing {
        normalize_features: !args.raw_features,
    };
    let saved = commands::import_pyg(
        &Registry::builtin(),
        &args.from_pyg,
        &args.model,
        &args.dataset,
        pre,
        args.backend,
        &args.out,
    )?;
    eprintln!(
        "imported a {} model into {}",
        saved.card.model.kind,
        args.out.display()
    );
    Ok(())
}

/// `acc` or `mae`, for one-line reports.
fn short_metric(metric: &str) -> &str {
    if metric == "accuracy" { "acc" } else { metric }
}

fn summary(r: &ExperimentReport) -> String {
    let runs = format!(
        "over {} run{}, median epoch {:.2} ms",
        r.runs.len(),
        if r.runs.len() == 1 { "" } else { "s" },
        r.epoch_ms_median
    );
    let value = |mean: f64, std: f64| match r.metric.as_str() {
        "accuracy" => format!("accuracy {:.2} ± {:.2} %", 100.0 * mean, 100.0 * std),
        metric => format!("{metric} {mean:.4} ± {std:.4}"),
    };
    // The task's further test metrics, averaged over runs like the main one.
    let names = r.runs.first().map(|run| run.more_metrics.keys());
    let more: String = names
        .into_iter()
        .flatten()
        .filter_map(|k| {
            let name = k.strip_prefix("test_")?;
            let v: Vec<f64> = r
                .runs
                .iter()
                .filter_map(|run| run.more_metrics.get(k).copied())
                .collect();
            Some(format!(
                ", {name} {:.4} ± {:.4}",
                stats::mean(&v),
                stats::std(&v)
            ))
        })
        .collect();
    let mut line = format!(
        "{} on {} ({}): test {}{more} {runs}",
        r.model,
        r.dataset,
        r.backend,
        value(r.test_metric_mean, r.test_metric_std)
    );
    if let Some(b) = &r.best_mean_epoch {
        line += &format!(
            "\n  GIN paper's protocol (the epoch with the best mean over the test folds, chosen on them): {} at epoch {}",
            value(b.test_metric_mean, b.test_metric_std),
            b.epoch
        );
    }
    line
}

fn main() -> ExitCode {
    gnn_train::allocator::keep_freed_buffers();
    // A panic is a bug, but the user still gets one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown error".into());
        let first = msg.lines().next().unwrap_or("").to_string();
        eprintln!("gnn: internal error: {first} (please report this)");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // Clap's message, without its usage block, folded onto one line.
            let text = e.render().to_string();
            let line = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let line = line.trim_start_matches("error: ");
            eprintln!("gnn: error: {line} (see gnn --help)");
            return ExitCode::from(2);
        }
    };
    if cli.threads == Some(0) {
        eprintln!("gnn: error: --threads 0: must be at least 1");
        return ExitCode::from(2);
    }
    let command = cli.command;
    let run = || {
        std::panic::catch_unwind(|| match command {
            Command::Train(args) => train(*args),
            Command::Eval(args) => eval(args),
            Command::Predict(args) => predict(args),
            Command::Export(args) => export(args),
            Command::Import(args) => import(args),
            Command::ExportData(args) => export_data(args),
            Command::Models(args) => models(args),
            Command::Trace(args) => trace(args),
        })
    };
    let result = match gnn_train::threads::run_on_pool(cli.threads, run) {
        Ok(result) => result,
        Err(e) => {
            let flag = cli
                .threads
                .map_or(String::new(), |n| format!("--threads {n}: "));
            eprintln!("gnn: error: {flag}{e}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("gnn: error: {e}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::from(101),
    }
}
