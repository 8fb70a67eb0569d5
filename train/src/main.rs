//! `gnn`: train graph neural networks on benchmark datasets, on any backend.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gnn_datasets::molecule::Hydrogens;
use gnn_datasets::{DataRoot, GraphDataset, NodeDataset, entities, planetoid};
use gnn_models::layers::RgcnNorm;
use gnn_train::attention::{self, LayerAttention};
use gnn_train::experiment::{
    ExperimentReport, ModelKind, NodeSpec, TrainedModel, graph_model_config, model_config,
    node_data, rgcn_paper_settings, run_graph_task, run_node_classification,
};
use gnn_train::fit::Selection;
use gnn_train::graph_data::load_graph_dataset;
use gnn_train::saved::{self, ModelCard, Preprocessing, SavedModel};
use gnn_train::{Backend, TrainError, commands, output, plot};

#[derive(Parser, Debug)]
#[command(
    name = "gnn",
    version,
    about = "Graph neural networks on Burn: train, evaluate, export"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Write a graph dataset, as the models see it, and a split to one safetensors file
    /// (for PyG side-by-side runs: bench/pyg_qm9.py).
    ExportData(ExportDataArgs),
}

#[derive(Args, Debug)]
struct ExportDataArgs {
    /// Graph dataset: tu-<name>, qm9, qm9-sdf.
    #[arg(long)]
    dataset: String,
    /// QM9: the target (PyG's order) [default: 0].
    #[arg(long, default_value_t = 0)]
    target: usize,
    /// QM9: hydrogens as graph nodes.
    #[arg(long)]
    explicit_h: bool,
    /// Seed of the 80/10/10 split (the split of `gnn train --seed S`'s first run).
    #[arg(long, default_value_t = 0)]
    seed: u64,
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

/// How R-GCN models the self-connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SelfLoop {
    /// A separate root weight and a bias (PyG).
    Root,
    /// A self-loop relation in the decomposition, no bias (the authors' code).
    Relation,
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
}

#[derive(Args, Debug)]
struct PredictArgs {
    #[command(flatten)]
    using: UseArgs,
    /// Output CSV [default: standard output].
    #[arg(long)]
    out: Option<PathBuf>,
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
    /// Its architecture: gcn, gat, rgcn (sizes are read off the tensor shapes).
    #[arg(long)]
    model: ModelKind,
    /// The dataset it is meant for (recorded in the card).
    #[arg(long)]
    dataset: String,
    /// The model was trained on features as stored, not row-normalised.
    #[arg(long)]
    raw_features: bool,
    /// Backend recorded in the card.
    #[arg(long, default_value = "flex")]
    backend: Backend,
    /// The model directory to write.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Model: gcn, gat, rgcn (node classification); mpnn (graph classification/regression).
    #[arg(long)]
    model: ModelKind,
    /// Dataset: cora, citeseer, pubmed (Planetoid); aifb, mutag, bgs, am (R-GCN entities);
    /// tu-<name> (TU graph classification, e.g. tu-mutag); qm9, qm9-sdf (regression).
    #[arg(long)]
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
    /// Maximum epochs [default: the model's paper protocol: GCN 200, GAT 1000].
    #[arg(long)]
    epochs: Option<usize>,
    /// Adam learning rate [default: GCN 0.01, GAT 0.005 (PubMed 0.01)].
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Multiply the learning rate by --lr-decay-factor every this many epochs [default: never].
    #[arg(long)]
    lr_decay_every: Option<usize>,
    /// Step decay factor of --lr-decay-every.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    lr_decay_factor: f64,
    /// Hidden features, per head for GAT [default: GCN 16, GAT 8].
    #[arg(long)]
    hidden: Option<usize>,
    /// GAT: attention heads of the first layer [default: 8].
    #[arg(long)]
    heads: Option<usize>,
    /// GAT: attention heads of the output layer, averaged [default: 1; PubMed 8].
    #[arg(long)]
    out_heads: Option<usize>,
    /// R-GCN: basis decomposition with this many bases [default: the paper's: AIFB none,
    /// MUTAG 30, BGS 40, AM 40].
    #[arg(long)]
    bases: Option<usize>,
    /// R-GCN: block-diagonal decomposition with this many blocks (needs node features).
    #[arg(long)]
    blocks: Option<usize>,
    /// R-GCN: what the mean aggregation divides by: `relation` (in-degree per relation, PyG's
    /// RGCNConv) or `node` (in-degree over all relations) [default: MUTAG node, others relation].
    #[arg(long)]
    rgcn_norm: Option<RgcnNorm>,
    /// R-GCN: the self-connection as `root` (PyG's RGCNConv: a separate root weight and a
    /// bias) or `relation` (the authors' code: a self-loop relation inside the basis
    /// decomposition, no bias).
    #[arg(long, default_value = "root")]
    rgcn_self_loop: SelfLoop,
    /// Dropout probability [default: GCN 0.5, GAT 0.6, MPNN 0 (before its last layer)].
    #[arg(long, allow_negative_numbers = true)]
    dropout: Option<f64>,
    /// L2 weight decay [default: GCN 5e-4 on the first layer, GAT 5e-4 on all (PubMed 1e-3)].
    #[arg(long, allow_negative_numbers = true)]
    weight_decay: Option<f64>,
    /// Stop after this many epochs without improvement of the selection criterion
    /// [default: GCN none, GAT 100].
    #[arg(long)]
    patience: Option<usize>,
    /// Which validation numbers pick the kept epoch and count as progress for --patience:
    /// acc, loss, or acc-and-loss (the GAT authors' rule) [default: GCN acc, GAT acc-and-loss].
    #[arg(long)]
    select_by: Option<Selection>,
    /// Use the features as stored instead of row-normalising them.
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
    /// GAT: write the first run's attention per edge and head as CSV
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
    /// MPNN: graph readout, set2set, sum, or jk-sum (the sums after every step, concatenated)
    /// [default: set2set].
    #[arg(long)]
    readout: Option<gnn_models::models::Readout>,
    /// MPNN: message aggregation, sum, mean or max [default: mean].
    #[arg(long)]
    aggr: Option<gnn_models::message_passing::Aggregation>,
    /// Graph datasets: graphs per training mini-batch [default: 32].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Save the first run's model (weights and model card) into this directory.
    #[arg(long)]
    save: Option<PathBuf>,
    /// No progress bar or per-run lines; only the final summary.
    #[arg(long)]
    quiet: bool,
}

fn load_dataset(name: &str, root: &DataRoot) -> Result<NodeDataset, TrainError> {
    let lower = name.to_ascii_lowercase();
    if planetoid::NAMES.contains(&lower.as_str()) {
        return Ok(planetoid::load(&lower, root)?);
    }
    if entities::NAMES.contains(&lower.as_str()) {
        return Ok(entities::load(&lower, root)?);
    }
    Err(TrainError::Config(format!(
        "unknown dataset '{name}' (cora, citeseer, pubmed, aifb, mutag, bgs, am, tu-<name>, qm9, qm9-sdf)"
    )))
}

/// A node-level or a graph-level dataset.
enum AnyDataset {
    Node(NodeDataset),
    Graph(GraphDataset),
}

impl AnyDataset {
    fn name(&self) -> &str {
        match self {
            AnyDataset::Node(d) => &d.name,
            AnyDataset::Graph(d) => &d.name,
        }
    }
}

/// Which molecule settings a graph dataset is loaded with.
#[derive(Debug, Clone, Copy, Default)]
struct GraphOptions {
    /// Regression target (QM9).
    target: usize,
    /// Hydrogens as nodes (QM9).
    explicit_h: bool,
}

impl GraphOptions {
    fn of(spec: &NodeSpec) -> Self {
        GraphOptions {
            target: spec.target,
            explicit_h: spec.explicit_h,
        }
    }
}

fn load_any(name: &str, root: &DataRoot, opts: GraphOptions) -> Result<AnyDataset, TrainError> {
    let hydrogens = if opts.explicit_h {
        Hydrogens::Explicit
    } else {
        Hydrogens::Implicit
    };
    Ok(
        match load_graph_dataset(name, root, opts.target, hydrogens)? {
            Some(ds) => AnyDataset::Graph(ds),
            None => AnyDataset::Node(load_dataset(name, root)?),
        },
    )
}

fn train(args: TrainArgs) -> Result<(), TrainError> {
    let mut spec = NodeSpec::new(args.model, args.backend);
    if args.model == ModelKind::Gat && args.dataset.eq_ignore_ascii_case("pubmed") {
        // The GAT paper's PubMed setting.
        spec.out_heads = 8;
        spec.fit.lr = 0.01;
        spec.fit.weight_decay = 1e-3;
    }
    if args.model == ModelKind::Rgcn {
        let paper = rgcn_paper_settings(&args.dataset);
        (spec.bases, spec.fit.weight_decay, spec.hidden) =
            (paper.bases, paper.weight_decay, paper.hidden);
        spec.rgcn_norm = paper.norm;
    }
    spec.runs = args.runs;
    if let Some(k) = args.folds {
        spec.folds = k;
    }
    if let Some(b) = args.batch_size {
        spec.batch_size = b;
    }
    spec.aggr = args.aggr;
    if let Some(r) = args.readout {
        spec.readout = r;
    }
    spec.no_val_fold = args.no_val_fold;
    spec.seed = args.seed;
    if let Some(v) = args.epochs {
        spec.fit.epochs = v;
    }
    if let Some(v) = args.lr {
        spec.fit.lr = v;
    }
    if let Some(every) = args.lr_decay_every {
        spec.fit.lr_decay = Some(gnn_train::fit::LrDecay {
            every,
            factor: args.lr_decay_factor,
        });
    }
    if let Some(v) = args.hidden {
        spec.hidden = v;
    }
    if let Some(v) = args.heads {
        spec.heads = v;
    }
    if let Some(v) = args.out_heads {
        spec.out_heads = v;
    }
    if args.blocks.is_some() {
        spec.bases = None;
        spec.blocks = args.blocks;
    }
    if args.bases.is_some() {
        spec.bases = args.bases;
    }
    if let Some(norm) = args.rgcn_norm {
        spec.rgcn_norm = norm;
    }
    spec.rgcn_self_loop_relation = args.rgcn_self_loop == SelfLoop::Relation;
    if let Some(v) = args.dropout {
        spec.dropout = v;
    }
    if let Some(v) = args.weight_decay {
        spec.fit.weight_decay = v;
    }
    spec.fit.patience = args.patience.or(spec.fit.patience);
    spec.normalize_features = !args.raw_features;
    if let Some(v) = args.select_by {
        spec.fit.selection = v;
    }
    spec.validate()?;
    if args.dump_attention.is_some() && args.model != ModelKind::Gat {
        return Err(TrainError::Config(format!(
            "--dump-attention needs an attention model (gat), not {}",
            args.model
        )));
    }
    // Check output locations before spending minutes training.
    if let Some(dir) = &args.save
        && dir.exists()
        && !dir.join(saved::CARD_FILE).is_file()
    {
        return Err(TrainError::Model {
            path: dir.clone(),
            reason: "exists and is not a model directory; refusing to replace it".into(),
        });
    }
    for path in [&args.json, &args.plot, &args.save, &args.dump_attention]
        .into_iter()
        .flatten()
    {
        check_output_dir(path)?;
    }

    let root = dataset_root(args.root.as_deref(), args.offline);
    if let Some(t) = args.target {
        spec.target = t;
    }
    spec.explicit_h = args.explicit_h;
    let any = load_any(&args.dataset, &root, GraphOptions::of(&spec))?;
    // Regression datasets have no classes to stratify: a seeded 80/10/10 split per run.
    if let AnyDataset::Graph(ds) = &any
        && ds.num_classes.is_none()
        && args.folds.is_none()
    {
        spec.folds = 0;
    }

    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        let bar = indicatif::ProgressBar::new((spec.runs * spec.fit.epochs) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!("{} {}", spec.model, any.name()));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let epochs = spec.fit.epochs;
    let mut on_epoch = |run: usize, rec: &gnn_train::fit::EpochRecord| {
        bar.set_position((run * epochs + rec.epoch) as u64);
        if let Some(v) = rec.scores.get(&gnn_train::data::SplitKind::Val) {
            bar.set_message(format!(
                "run {} epoch {} loss {:.4} val {:.3}",
                run + 1,
                rec.epoch,
                rec.step_loss,
                v.metric
            ));
        }
    };
    let (report, models) = match &any {
        AnyDataset::Node(ds) => run_node_classification(&spec, ds, &mut on_epoch)?,
        AnyDataset::Graph(ds) => run_graph_task(&spec, ds, &mut on_epoch)?,
    };
    bar.finish_and_clear();

    if !args.quiet {
        for (i, r) in report.runs.iter().enumerate() {
            // Datasets without a validation split (the R-GCN entities) have no val acc.
            let val = if r.val_metric.is_nan() {
                "-".to_string()
            } else {
                format!("{:.4}", r.val_metric)
            };
            eprintln!(
                "run {}/{} seed {}: test {} {:.4}, val {} {val}, best epoch {}/{}, {:.2} ms/epoch",
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
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| TrainError::Output {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        output::write_atomic(path, json.as_bytes())?;
    }
    if let Some(path) = &args.plot
        && let Some(first) = report.runs.first()
    {
        let title = format!(
            "{} on {} ({}), seed {}",
            report.model, report.dataset, report.backend, first.seed
        );
        plot::write_curves(
            path,
            &title,
            &report.metric,
            &first.history,
            first.best_epoch,
        )?;
    }
    if let (Some(path), Some(TrainedModel::Gat(model)), AnyDataset::Node(dataset)) =
        (&args.dump_attention, models.first(), &any)
    {
        let data = node_data(&spec, dataset, &spec.backend.device()?)?;
        let (_, layers) = model.forward_with_attention(data.features().clone(), data.graph());
        let layers: Vec<LayerAttention> = layers
            .iter()
            .enumerate()
            .map(|(i, a)| LayerAttention::from_attention(i + 1, a))
            .collect();
        attention::write_csv(path, &layers)?;
        print!("{}", attention::summary(&layers[0], 5));
    }
    if let (Some(dir), Some(model), Some(run)) = (&args.save, models.first(), report.runs.first()) {
        let (config, normalize) = match &any {
            AnyDataset::Node(ds) => (model_config(&spec, ds)?, spec.normalize_features),
            AnyDataset::Graph(ds) => (graph_model_config(&spec, ds)?, false),
        };
        let pre = Preprocessing {
            normalize_features: normalize,
        };
        let mut card = ModelCard::new(config, any.name(), pre, spec.backend.name());
        card.training = Some(spec.clone());
        card.seed = Some(run.seed);
        card.best_epoch = Some(run.best_epoch);
        card.metrics = run.split_metrics.clone();
        SavedModel::save(&card, model, dir)?;
        eprintln!("saved run 1 (seed {}) to {}", run.seed, dir.display());
    }
    println!("{}", summary(&report));
    Ok(())
}

fn dataset_root(root: Option<&std::path::Path>, offline: bool) -> DataRoot {
    let mut root = DataRoot::resolve(root);
    if offline {
        root.download = false;
    }
    root
}

fn open_model(using: &UseArgs) -> Result<(SavedModel, AnyDataset), TrainError> {
    let saved = SavedModel::load(&using.model, &using.backend.device()?)?;
    let name = using.dataset.as_deref().unwrap_or(&saved.card.dataset);
    let opts = saved
        .card
        .training
        .as_ref()
        .map(GraphOptions::of)
        .unwrap_or_default();
    let dataset = load_any(
        name,
        &dataset_root(using.root.as_deref(), using.offline),
        opts,
    )?;
    Ok((saved, dataset))
}

fn eval(args: EvalArgs) -> Result<(), TrainError> {
    let (saved, dataset) = open_model(&args.using)?;
    let metrics = match &dataset {
        AnyDataset::Node(ds) => commands::eval(&saved, ds, args.using.backend)?,
        AnyDataset::Graph(ds) => commands::eval_graph(&saved, ds, args.using.backend)?,
    };
    let metric = match &dataset {
        AnyDataset::Graph(ds) if ds.num_classes.is_none() => "mae",
        _ => "accuracy",
    };
    let parts: Vec<String> = metrics
        .iter()
        .map(|(k, v)| {
            let note = match saved.card.metrics.get(k) {
                // The card's JSON keeps 17 digits; parsing may differ in the last bit.
                Some(s) if (s - v).abs() <= 1e-12 => " (as saved)".to_string(),
                Some(s) => format!(" (saved {s:.4})"),
                None => String::new(),
            };
            format!("{k} {} {v:.4}{note}", short_metric(metric))
        })
        .collect();
    println!(
        "{} on {} ({}): {}",
        saved.card.model.kind(),
        dataset.name(),
        args.using.backend.name(),
        parts.join(", ")
    );
    Ok(())
}

fn predict(args: PredictArgs) -> Result<(), TrainError> {
    if let Some(path) = &args.out {
        check_output_dir(path)?;
    }
    let (saved, dataset) = open_model(&args.using)?;
    let csv = match &dataset {
        AnyDataset::Node(ds) => commands::predict_csv(&saved, ds, args.using.backend)?,
        AnyDataset::Graph(ds) => commands::predict_graph_csv(&saved, ds, args.using.backend)?,
    };
    match &args.out {
        Some(path) => output::write_atomic(path, csv.as_bytes()),
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
    let opts = GraphOptions {
        target: args.target,
        explicit_h: args.explicit_h,
    };
    let any = load_any(
        &args.dataset,
        &dataset_root(args.root.as_deref(), args.offline),
        opts,
    )?;
    let AnyDataset::Graph(ds) = any else {
        return Err(TrainError::Config(format!(
            "{} is a node-level dataset; export-data writes graph datasets",
            args.dataset
        )));
    };
    let (split, note) = gnn_train::experiment::seeded_split(ds.len(), args.seed);
    commands::export_graph_dataset(&ds, &split, &note, &args.out)?;
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
        saved.model.export_pyg().len(),
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
        &args.from_pyg,
        args.model,
        &args.dataset,
        pre,
        args.backend,
        &args.out,
    )?;
    eprintln!(
        "imported a {} model into {}",
        saved.card.model.kind(),
        args.out.display()
    );
    Ok(())
}

/// The directory an output goes into must exist.
fn check_output_dir(path: &std::path::Path) -> Result<(), TrainError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir
        && !dir.is_dir()
    {
        return Err(TrainError::Output {
            path: path.to_path_buf(),
            reason: format!("directory {} does not exist", dir.display()),
        });
    }
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
    if r.metric == "accuracy" {
        format!(
            "{} on {} ({}): test accuracy {:.2} ± {:.2} % {runs}",
            r.model,
            r.dataset,
            r.backend,
            100.0 * r.test_metric_mean,
            100.0 * r.test_metric_std,
        )
    } else {
        format!(
            "{} on {} ({}): test {} {:.4} ± {:.4} {runs}",
            r.model, r.dataset, r.backend, r.metric, r.test_metric_mean, r.test_metric_std,
        )
    }
}

fn main() -> ExitCode {
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
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Train(args) => train(*args),
        Command::Eval(args) => eval(args),
        Command::Predict(args) => predict(args),
        Command::Export(args) => export(args),
        Command::Import(args) => import(args),
        Command::ExportData(args) => export_data(args),
    });
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("gnn: error: {e}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::from(101),
    }
}
