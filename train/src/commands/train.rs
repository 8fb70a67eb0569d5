//! What `gnn train` does: a registered model's protocol on a dataset, the user's settings on
//! top, the runs, and the files asked for (report, curves, attention, model directory).

use std::path::PathBuf;

use gnn_datasets::DataRoot;
use gnn_datasets::molecule::Hydrogens;
use gnn_models::registry::Registry;
use gnn_models::trace::{TraceOptions, record};

use super::check_output_dir;
use crate::attention::{self, LayerAttention};
use crate::checkpoint::Checkpoints;
use crate::datasets::{self, AnyDataset, LoadOptions};
use crate::experiment::{
    ExperimentReport, ExperimentSpec, TrainedModel, model_config, node_data, run_experiment,
};
use crate::fit::{EpochRecord, FitConfig, LrDecay, Selection};
use crate::link_data::{LinkNegatives, LinkSampling, ONE_VS_ALL_BATCH_SIZE};
use crate::link_metrics::TieRule;
use crate::sampled_data::{NeighborSampling, SAMPLED_BATCH_SIZE};
use crate::saved::{self, ModelCard, Preprocessing, SavedModel};
use crate::{Backend, TrainError, output, plot};

/// Optimiser settings that replace the protocol's (`--epochs`, `--lr`, …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitOverrides {
    /// Maximum epochs.
    pub epochs: Option<usize>,
    /// Adam learning rate.
    pub lr: Option<f64>,
    /// Step decay of the learning rate.
    pub lr_decay: Option<LrDecay>,
    /// L2 weight decay.
    pub weight_decay: Option<f64>,
    /// Early-stopping patience.
    pub patience: Option<usize>,
    /// How the kept epoch is chosen.
    pub select_by: Option<Selection>,
    /// Epochs between evaluations.
    pub eval_every: Option<usize>,
    /// Bound on each step's joint gradient norm.
    pub clip_grad_norm: Option<f64>,
}

impl FitOverrides {
    /// `fit` with these settings in place of its own.
    pub fn apply(&self, fit: &mut FitConfig) {
        if let Some(v) = self.epochs {
            fit.epochs = v;
        }
        if let Some(v) = self.lr {
            fit.lr = v;
        }
        if self.lr_decay.is_some() {
            fit.lr_decay = self.lr_decay;
        }
        if let Some(v) = self.weight_decay {
            fit.weight_decay = v;
        }
        if self.patience.is_some() {
            fit.patience = self.patience;
        }
        if let Some(v) = self.select_by {
            fit.selection = v;
        }
        if let Some(v) = self.eval_every {
            fit.eval_every = v;
        }
        if self.clip_grad_norm.is_some() {
            fit.clip_grad_norm = self.clip_grad_norm;
        }
    }
}

/// Files a training command writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainOutputs {
    /// Every run's report as JSON.
    pub json: Option<PathBuf>,
    /// The first run's loss and metric curves as SVG.
    pub plot: Option<PathBuf>,
    /// The first run's attention per edge, head and layer as CSV (attention models).
    pub dump_attention: Option<PathBuf>,
    /// The first run's model directory.
    pub save: Option<PathBuf>,
}

/// Everything `gnn train` is asked: a model by name, a dataset by name, the model's options
/// as `name=value` settings over its protocol, and the task-level settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainRequest {
    /// The model's registered name.
    pub model: String,
    /// The dataset's name (see [`datasets::FAMILIES`]).
    pub dataset: String,
    /// The backend.
    pub backend: Backend,
    /// The model's options, applied in order over its protocol on the dataset.
    pub options: Vec<(String, String)>,
    /// Number of runs (graph datasets with folds: one run per fold instead).
    pub runs: usize,
    /// Seed of the first run.
    pub seed: u64,
    /// Optimiser settings replacing the protocol's.
    pub fit: FitOverrides,
    /// Graph datasets: cross-validation folds [default: 10 for classification, 0 for
    /// regression].
    pub folds: Option<usize>,
    /// Graph datasets with folds: no validation fold.
    pub no_val_fold: bool,
    /// Graph datasets: graphs per training mini-batch.
    pub batch_size: Option<usize>,
    /// QM9: the regression target.
    pub target: Option<usize>,
    /// QM9: hydrogens as nodes.
    pub explicit_h: bool,
    /// Node datasets: features as stored, not row-normalised.
    pub raw_features: bool,
    /// Link ranking: how ties with the true answer rank.
    pub tie: TieRule,
    /// Link prediction: sampled training links per epoch.
    pub link_sampling: Option<LinkSampling>,
    /// Link prediction: the negatives of training.
    pub negatives: LinkNegatives,
    /// Node datasets: mini-batches of sampled neighbourhoods instead of full-batch.
    pub sampler: Option<NeighborSampling>,
    /// Checkpoints of every run, resumed or not.
    pub checkpoints: Option<Checkpoints>,
    /// With a sampler: the node features read from this file, mapped into memory (written
    /// from the dataset first if it does not exist).
    pub features_file: Option<PathBuf>,
    /// Where the data is.
    pub root: DataRoot,
    /// What to write.
    pub outputs: TrainOutputs,
}

impl TrainRequest {
    /// Model `model` on `dataset` with every setting at its default.
    pub fn new(model: &str, dataset: &str, root: DataRoot) -> Self {
        TrainRequest {
            model: model.to_string(),
            dataset: dataset.to_string(),
            backend: Backend::Flex,
            options: vec![],
            runs: 1,
            seed: 0,
            fit: FitOverrides::default(),
            folds: None,
            no_val_fold: false,
            batch_size: None,
            target: None,
            explicit_h: false,
            raw_features: false,
            tie: TieRule::default(),
            link_sampling: None,
            negatives: LinkNegatives::default(),
            sampler: None,
            checkpoints: None,
            features_file: None,
            root,
            outputs: TrainOutputs::default(),
        }
    }
}

/// A training command checked and its dataset loaded, ready to run.
#[derive(Debug, Clone)]
pub struct TrainPlan {
    /// The experiment, every setting resolved.
    pub spec: ExperimentSpec,
    /// The dataset.
    pub dataset: AnyDataset,
    /// What to write.
    pub outputs: TrainOutputs,
}

/// What a training command did.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Every run.
    pub report: ExperimentReport,
    /// The trained models, one per run.
    pub models: Vec<TrainedModel>,
    /// With `dump_attention`: where the first layer's attention went, in a few lines.
    pub attention_summary: Option<String>,
}

/// Checks a training request and loads its dataset: the model's protocol on the dataset, the
/// user's settings over it, the output locations, and the architecture the dataset gives —
/// all before any training starts.
pub fn plan(registry: &Registry, request: &TrainRequest) -> Result<TrainPlan, TrainError> {
    let entry = registry.get(&request.model)?;
    let mut spec = ExperimentSpec::new(registry, entry.name(), &request.dataset, request.backend)?;
    spec.options = entry.apply(&spec.options, &request.options)?;
    spec.runs = request.runs;
    spec.seed = request.seed;
    if let Some(k) = request.folds {
        spec.folds = k;
    }
    spec.sampler = request.sampler.clone();
    spec.checkpoints = request.checkpoints.clone();
    match request.batch_size {
        Some(b) => spec.batch_size = b,
        None if spec.sampler.is_some() => spec.batch_size = SAMPLED_BATCH_SIZE,
        None if request.negatives == LinkNegatives::All => spec.batch_size = ONE_VS_ALL_BATCH_SIZE,
        None => {}
    }
    spec.no_val_fold = request.no_val_fold;
    spec.target = request.target.unwrap_or(0);
    spec.explicit_h = request.explicit_h;
    spec.normalize_features = !request.raw_features;
    spec.tie = request.tie;
    spec.link_sampling = request.link_sampling;
    spec.negatives = request.negatives;
    request.fit.apply(&mut spec.fit);
    spec.validate()?;

    let out = &request.outputs;
    if out.dump_attention.is_some() && !entry.has_attention() {
        let with: Vec<&str> = registry
            .iter()
            .filter(|e| e.has_attention())
            .map(|e| e.name())
            .collect();
        return Err(TrainError::Config(format!(
            "--dump-attention needs an attention model ({}), not {}",
            with.join(", "),
            entry.name()
        )));
    }
    // Output locations are checked before minutes of training.
    if let Some(dir) = &out.save
        && dir.exists()
        && !dir.join(saved::CARD_FILE).is_file()
    {
        return Err(TrainError::Model {
            path: dir.clone(),
            reason: "exists and is not a model directory; refusing to replace it".into(),
        });
    }
    for path in [&out.json, &out.plot, &out.save, &out.dump_attention]
        .into_iter()
        .flatten()
    {
        check_output_dir(path)?;
    }

    let hydrogens = if spec.explicit_h {
        Hydrogens::Explicit
    } else {
        Hydrogens::Implicit
    };
    let options = LoadOptions {
        target: spec.target,
        hydrogens,
    };
    let mut dataset = datasets::load(&request.dataset, &request.root, &options)?;
    if let Some(path) = &request.features_file {
        match (&mut dataset, &spec.sampler) {
            (AnyDataset::Node(ds), Some(_)) => {
                ds.features = gnn_datasets::feature_file::map_or_write(path, &ds.features)?;
            }
            _ => {
                return Err(TrainError::Config(
                    "--features-file needs --sampler neighbor (node datasets)".into(),
                ));
            }
        }
    }
    // Regression datasets have no classes to stratify: a seeded 80/10/10 split per run.
    if let AnyDataset::Graph(ds) = &dataset
        && ds.num_classes.is_none()
        && request.folds.is_none()
    {
        spec.folds = 0;
    }
    model_config(registry, &spec, &dataset.info_for(entry.task()))?;
    Ok(TrainPlan {
        spec,
        dataset,
        outputs: out.clone(),
    })
}

impl TrainPlan {
    /// How many models will be trained: one per fold for graph datasets with folds, else one
    /// per run.
    pub fn num_runs(&self) -> usize {
        match (&self.dataset, self.spec.folds) {
            (AnyDataset::Graph(_), k) if k > 0 => k,
            _ => self.spec.runs,
        }
    }

    /// Trains every run and writes the outputs; `on_epoch(run, record)` sees every epoch.
    pub fn run(
        &self,
        registry: &Registry,
        on_epoch: impl FnMut(usize, &EpochRecord),
    ) -> Result<TrainOutcome, TrainError> {
        let (report, models) = run_experiment(registry, &self.spec, &self.dataset, on_epoch)?;
        let out = &self.outputs;
        if let Some(path) = &out.json {
            output::write_json(path, &report)?;
        }
        if let Some(path) = &out.plot
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
        let mut attention_summary = None;
        if let (Some(path), Some(model), AnyDataset::Node(dataset)) =
            (&out.dump_attention, models.first(), &self.dataset)
        {
            let data = node_data(&self.spec, dataset, &self.spec.backend.device()?)?;
            let graph = data.graph();
            let (out, trace) = record(graph, TraceOptions::default(), || {
                model.forward(data.features().clone(), graph)
            });
            out?;
            let layers: Vec<LayerAttention> = trace
                .steps
                .iter()
                .filter(|s| s.attention.is_some())
                .enumerate()
                .map(|(i, s)| LayerAttention::from_step(i + 1, s))
                .collect();
            attention::write_csv(path, &layers)?;
            attention_summary = layers.first().map(|l| attention::summary(l, 5));
        }
        if let (Some(dir), Some(model), Some(run)) =
            (&out.save, models.first(), report.runs.first())
        {
            let pre = Preprocessing {
                normalize_features: self.spec.normalize_features,
            };
            let mut card = ModelCard::new(
                model.config().clone(),
                self.dataset.name(),
                pre,
                self.spec.backend.name(),
            );
            card.training = Some(self.spec.clone());
            card.seed = Some(run.seed);
            card.best_epoch = Some(run.best_epoch);
            card.metrics = run.split_metrics.clone();
            card.metrics.extend(run.more_metrics.clone());
            SavedModel::save(&card, model, dir)?;
        }
        Ok(TrainOutcome {
            report,
            models,
            attention_summary,
        })
    }
}

/// [`plan`] and [`TrainPlan::run`] in one call.
pub fn train(
    registry: &Registry,
    request: &TrainRequest,
    on_epoch: impl FnMut(usize, &EpochRecord),
) -> Result<TrainOutcome, TrainError> {
    plan(registry, request)?.run(registry, on_epoch)
}
