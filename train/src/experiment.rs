//! Repeated training runs of a registered model on a dataset: what `gnn train` does, as a
//! library call, for node-level and graph-level tasks alike.

use std::collections::BTreeMap;

use burn::tensor::Device;
use gnn_datasets::graph_set::{GraphSplit, random_split, stratified_folds};
use gnn_datasets::link_split::random_link_split;
use gnn_datasets::transforms::row_normalize;
use gnn_datasets::{GraphDataset, NodeDataset};
use gnn_models::GraphModel;
use gnn_models::registry::{DataInfo, DynModel, ModelConfig, ModelEntry, Registry, Task};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::TrainError;
use crate::backend::Backend;
use crate::checkpoint::{Checkpoints, RunHooks};
use crate::data::{NodeClassification, Objective, SplitKind, TrainData};
use crate::datasets::{AnyDataset, graph_info, node_info};
use crate::fit::{EpochRecord, FitConfig, FitResult, Progress, fit_from};
use crate::graph_data::GraphBatches;
use crate::link_data::{LinkNegatives, LinkPrediction, LinkSampling};
use crate::link_metrics::TieRule;
pub use crate::model::TrainedModel;
use crate::sampled_data::{NeighborSampling, SampledNodes};
use crate::stats;

/// Everything that defines an experiment: the model (by registered name) with its options,
/// and the task-level settings every model shares — backend, runs and seeds, splits, batches,
/// preprocessing and the optimiser. Stored in model cards as `training`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSpec {
    /// The model's registered name.
    pub model: String,
    /// The model's options, a JSON object (its protocol's, with the user's settings applied);
    /// `null` in cards written before options existed.
    #[serde(default)]
    pub options: Value,
    /// The backend.
    pub backend: Backend,
    /// Number of runs; run `r` uses seed `seed + r`.
    pub runs: usize,
    /// Seed of the first run.
    pub seed: u64,
    /// Graph tasks: cross-validation folds (0: a seeded 80/10/10 split per run instead).
    #[serde(default)]
    pub folds: usize,
    /// Graph tasks with folds: hold out no validation fold — train on the other `k − 1` folds
    /// and keep the last epoch.
    #[serde(default)]
    pub no_val_fold: bool,
    /// Regression datasets (QM9): which target to learn (PyG's QM9 order; 0 = dipole moment).
    #[serde(default)]
    pub target: usize,
    /// Molecules (QM9): hydrogens as nodes instead of a per-atom count.
    #[serde(default)]
    pub explicit_h: bool,
    /// Graph tasks: graphs per training mini-batch; node tasks with a sampler: seed nodes;
    /// knowledge graphs trained against every entity: facts per step. 32 unless set; `gnn
    /// train` sets [`SAMPLED_BATCH_SIZE`](crate::sampled_data::SAMPLED_BATCH_SIZE) and
    /// [`ONE_VS_ALL_BATCH_SIZE`](crate::link_data::ONE_VS_ALL_BATCH_SIZE) for the latter two
    /// when its `--batch-size` is not given.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Prepare the features: on node datasets row-normalise them (`x_i / Σ_j x_ij`; the GCN
    /// and GAT papers do); on graph datasets standardise the continuous node attributes with
    /// the training graphs' statistics ([`FeatureScaler`](gnn_datasets::FeatureScaler)).
    pub normalize_features: bool,
    /// Optimiser and schedule.
    pub fit: FitConfig,
    /// Link ranking (knowledge graphs): how a tie with the true answer is ranked.
    #[serde(default)]
    pub tie: TieRule,
    /// Link prediction: train each epoch on a sample of the links (the R-GCN paper's sampled
    /// training graphs); all of them when `None`.
    #[serde(default)]
    pub link_sampling: Option<LinkSampling>,
    /// Link prediction: the negatives of training.
    #[serde(default)]
    pub negatives: LinkNegatives,
    /// Node datasets: train (and evaluate) in mini-batches of `batch_size` seed nodes on
    /// their sampled neighbourhoods; full-batch when `None`.
    #[serde(default)]
    pub sampler: Option<NeighborSampling>,
    /// Checkpoints of every run, and whether to resume from them: how a run is kept, not
    /// what it computes, so not part of the recorded experiment.
    #[serde(skip)]
    pub checkpoints: Option<Checkpoints>,
}

fn default_batch_size() -> usize {
    32
}

/// Link prediction on a node dataset: the share of its undirected edges held out for
/// validation (PyG's `examples/autoencoder.py`: 5 %).
pub const LINK_VAL_SHARE: f64 = 0.05;
/// ... and for test (10 %).
pub const LINK_TEST_SHARE: f64 = 0.10;

impl ExperimentSpec {
    /// `model` with the task-level defaults (1 run, seed 0, stratified 10-fold
    /// cross-validation for graph classification, batches of 32, row-normalised features) and
    /// no options or protocol: what an imported model, which was not trained here, is
    /// evaluated with.
    pub fn bare(model: &str, backend: Backend) -> Self {
        ExperimentSpec {
            model: model.to_string(),
            options: Value::Null,
            backend,
            runs: 1,
            seed: 0,
            folds: 10,
            no_val_fold: false,
            target: 0,
            explicit_h: false,
            batch_size: default_batch_size(),
            normalize_features: true,
            fit: FitConfig::default(),
            tie: TieRule::default(),
            link_sampling: None,
            negatives: LinkNegatives::default(),
            sampler: None,
            checkpoints: None,
        }
    }

    /// The paper protocol of `model` on `dataset` (its options and optimiser), with the
    /// task-level defaults of [`bare`](Self::bare).
    pub fn new(
        registry: &Registry,
        model: &str,
        dataset: &str,
        backend: Backend,
    ) -> Result<Self, TrainError> {
        let entry = registry.get(model)?;
        let (options, fit) = entry.protocol(dataset);
        Ok(ExperimentSpec {
            options,
            fit,
            ..Self::bare(entry.name(), backend)
        })
    }

    /// Sets model options by name (`("hidden", "16")`; values as on the command line),
    /// checking each against the model's options.
    pub fn set(
        &mut self,
        registry: &Registry,
        settings: &[(&str, &str)],
    ) -> Result<(), TrainError> {
        let owned: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.options = registry.get(&self.model)?.apply(&self.options, &owned)?;
        Ok(())
    }

    /// Claims the checkpoint directory, if any, for this experiment on `dataset`
    /// ([`Checkpoints::claim`]).
    fn claim_checkpoints(&self, dataset: &str) -> Result<(), TrainError> {
        let Some(c) = &self.checkpoints else {
            return Ok(());
        };
        let experiment = serde_json::json!({ "experiment": self, "dataset": dataset });
        c.claim(&experiment)
    }

    /// Checks the task-level settings, so that bad ones are an error rather than a panic deep
    /// inside (the model's options are checked when its architecture is built).
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.runs == 0 {
            return bad("--runs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("--batch-size must be at least 1".into());
        }
        if self.fit.epochs == 0 {
            return bad("--epochs must be at least 1".into());
        }
        if !(self.fit.lr.is_finite() && self.fit.lr > 0.0) {
            return bad(format!(
                "--lr must be a positive number, got {}",
                self.fit.lr
            ));
        }
        if let Some(d) = self.fit.lr_decay
            && (d.every == 0 || !(d.factor > 0.0 && d.factor <= 1.0))
        {
            return bad(format!(
                "--lr-decay-every must be ≥ 1 and --lr-decay-factor in (0, 1], got {} and {}",
                d.every, d.factor
            ));
        }
        if !(self.fit.weight_decay.is_finite() && self.fit.weight_decay >= 0.0) {
            return bad(format!(
                "--weight-decay must be ≥ 0, got {}",
                self.fit.weight_decay
            ));
        }
        if self.fit.patience == Some(0) {
            return bad("--patience must be at least 1".into());
        }
        if let Some(c) = self.fit.clip_grad_norm
            && !(c.is_finite() && c > 0.0)
        {
            return bad(format!(
                "--clip-grad-norm must be a positive number, got {c}"
            ));
        }
        if self.fit.eval_every == 0 {
            return bad("--eval-every must be at least 1".into());
        }
        Ok(())
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Its seed.
    pub seed: u64,
    /// Test metric at the best epoch: accuracy (a fraction) or MAE (in the target's units).
    pub test_metric: f64,
    /// Validation metric at the best epoch.
    pub val_metric: f64,
    /// Epochs run.
    pub epochs: usize,
    /// The best epoch.
    pub best_epoch: usize,
    /// Median wall time of an epoch (training step + evaluation), milliseconds.
    pub epoch_ms_median: f64,
    /// Median wall time of one evaluation of every split, milliseconds.
    #[serde(default)]
    pub eval_ms_median: f64,
    /// Metric per split (`train`, `val`, `test`) at the best epoch.
    pub split_metrics: BTreeMap<String, f64>,
    /// The task's further metrics at the best epoch, as `<split>_<metric>` (`test_ap`,
    /// `test_hits10`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub more_metrics: BTreeMap<String, f64>,
    /// Every epoch (not written to `--json`).
    #[serde(skip)]
    pub history: Vec<EpochRecord>,
    /// The checkpoint epoch the run resumed after (`--resume`), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_after: Option<usize>,
}

impl RunReport {
    /// The report of a finished run with `seed`.
    pub fn new<M>(seed: u64, run: &FitResult<M>) -> Self {
        RunReport {
            seed,
            test_metric: run.metric(SplitKind::Test),
            val_metric: run.metric(SplitKind::Val),
            epochs: run.history.len(),
            best_epoch: run.best_epoch,
            epoch_ms_median: run.epoch_ms_median(),
            eval_ms_median: run.eval_ms_median(),
            split_metrics: run
                .best
                .iter()
                .map(|(k, s)| (k.name().to_string(), s.metric))
                .collect(),
            more_metrics: run
                .best
                .iter()
                .flat_map(|(k, s)| {
                    s.more
                        .iter()
                        .map(move |(m, v)| (format!("{}_{m}", k.name()), *v))
                })
                .collect(),
            history: run.history.clone(),
            resumed_after: run.resumed_after,
        }
    }
}

/// The outcome of all runs (the `--json` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// Model name.
    pub model: String,
    /// Dataset name.
    pub dataset: String,
    /// Backend name.
    pub backend: String,
    /// What `test_metric` measures: `accuracy` (classification, a fraction), `mae`
    /// (regression, mean absolute error in the target's units), `auc` (link pairs, ROC-AUC)
    /// or `mrr` (link ranking, filtered mean reciprocal rank).
    pub metric: String,
    /// One entry per run.
    pub runs: Vec<RunReport>,
    /// Mean test metric over runs.
    pub test_metric_mean: f64,
    /// Sample standard deviation of the test metric.
    pub test_metric_std: f64,
    /// Median over runs of each run's median epoch time, milliseconds.
    pub epoch_ms_median: f64,
    /// Cross-validation: Xu et al.'s (GIN paper) protocol on the same runs — see
    /// [`BestMeanEpoch`]. Absent without folds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_mean_epoch: Option<BestMeanEpoch>,
}

/// The GIN paper's reporting protocol (Xu et al. 2019, §7): average each epoch's test metric
/// over the folds, and report the epoch where that mean is best, with the mean and the
/// standard deviation over folds there. The epoch is chosen on the held-out folds themselves,
/// so the number is optimistic; the per-run numbers of the report (epoch chosen on a
/// validation fold inside each training fold, as Errica et al. 2020 ask) are the ones to
/// trust. With `--no-val-fold` the runs train on all other folds, as in the paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestMeanEpoch {
    /// The chosen epoch (1-based; among the epochs every run reached).
    pub epoch: usize,
    /// Mean test metric over runs at that epoch.
    pub test_metric_mean: f64,
    /// Sample standard deviation over runs at that epoch.
    pub test_metric_std: f64,
}

impl BestMeanEpoch {
    /// The epoch of `runs` with the best mean test metric (the highest for accuracy, the
    /// lowest for an error); `None` without runs, epochs or test scores.
    pub fn of(runs: &[RunReport], higher_is_better: bool) -> Option<Self> {
        let epochs = runs.iter().map(|r| r.history.len()).min()?;
        let at = |e: usize| -> Option<Vec<f64>> {
            runs.iter()
                .map(|r| r.history[e].scores.get(&SplitKind::Test).map(|s| s.metric))
                .collect()
        };
        let sign = if higher_is_better { 1.0 } else { -1.0 };
        let mut best: Option<(usize, Vec<f64>)> = None;
        for e in 0..epochs {
            let metrics = at(e)?;
            if best
                .as_ref()
                .is_none_or(|(_, b)| sign * stats::mean(&metrics) > sign * stats::mean(b))
            {
                best = Some((e, metrics));
            }
        }
        let (e, metrics) = best?;
        Some(BestMeanEpoch {
            epoch: e + 1,
            test_metric_mean: stats::mean(&metrics),
            test_metric_std: stats::std(&metrics),
        })
    }
}

impl ExperimentReport {
    /// The summary of `runs` of `spec` on dataset `dataset`.
    pub fn new(
        spec: &ExperimentSpec,
        dataset: &str,
        objective: Objective,
        runs: Vec<RunReport>,
    ) -> Self {
        let accs: Vec<f64> = runs.iter().map(|r| r.test_metric).collect();
        let times: Vec<f64> = runs.iter().map(|r| r.epoch_ms_median).collect();
        ExperimentReport {
            best_mean_epoch: None,
            model: spec.model.clone(),
            dataset: dataset.into(),
            backend: spec.backend.name().into(),
            metric: objective.metric_name().into(),
            test_metric_mean: stats::mean(&accs),
            test_metric_std: stats::std(&accs),
            epoch_ms_median: stats::median(&times),
            runs,
        }
    }
}

/// The registry entry of `spec.model` and the architecture its options give on a dataset
/// offering `data`; a model of another task than the dataset's is an error.
pub fn model_config<'r>(
    registry: &'r Registry,
    spec: &ExperimentSpec,
    data: &DataInfo,
) -> Result<(&'r std::sync::Arc<dyn ModelEntry>, ModelConfig), TrainError> {
    let entry = registry.get(&spec.model)?;
    if !entry.supports(data.task) {
        let kind = |t: Task| match t {
            Task::Node => "a node-level",
            Task::Graph => "a graph-level",
            _ => "a link-prediction",
        };
        return Err(TrainError::Config(format!(
            "{} is {} model; {} is {} dataset (models for it: {})",
            entry.name(),
            kind(entry.task()),
            data.name,
            kind(data.task),
            registry.names_for(data.task)
        )));
    }
    let options = match &spec.options {
        Value::Null => entry.protocol(&data.name).0,
        options => options.clone(),
    };
    let config = entry.config(&options, data)?;
    Ok((entry, config))
}

/// Trains `spec.runs` models (or one per fold) of `spec.model` on `dataset` and reports each
/// run; also returns the trained models (best-validation weights, eval mode), one per run.
/// `on_epoch(run, record)` sees every epoch (for progress bars).
pub fn run_experiment(
    registry: &Registry,
    spec: &ExperimentSpec,
    dataset: &AnyDataset,
    on_epoch: impl FnMut(usize, &EpochRecord),
) -> Result<(ExperimentReport, Vec<TrainedModel>), TrainError> {
    let link_model = registry.get(&spec.model)?.task() == Task::Link;
    if spec.sampler.is_some() && (link_model || !matches!(dataset, AnyDataset::Node(_))) {
        return Err(TrainError::Config(
            "--sampler neighbor trains node classification; this is another task".into(),
        ));
    }
    match dataset {
        _ if link_model => run_links(registry, spec, dataset, on_epoch),
        AnyDataset::Node(ds) => run_nodes(registry, spec, ds, on_epoch),
        AnyDataset::Graph(ds) => run_graphs(registry, spec, ds, on_epoch),
        // A knowledge graph for a model of another task: model_config says why not.
        AnyDataset::Knowledge(g) => {
            model_config(registry, spec, &crate::datasets::kg_info(g))?;
            Err(TrainError::Config(format!(
                "{} is a knowledge graph",
                g.name
            )))
        }
    }
}

/// The link-prediction data of the run seeded `seed` on `device`: a node dataset's edges split
/// 85 / 5 / 10 by that seed ([`random_link_split`]; features prepared as the spec says), or a
/// knowledge graph with its own splits; sampled and with as many negatives per link as the
/// spec says (every entity: in steps of `batch_size` facts).
pub fn link_data(
    spec: &ExperimentSpec,
    dataset: &AnyDataset,
    seed: u64,
    device: &Device,
) -> Result<LinkPrediction, TrainError> {
    let data = match dataset {
        AnyDataset::Node(ds) => {
            let split = random_link_split(&ds.edges, LINK_VAL_SHARE, LINK_TEST_SHARE, seed)?;
            LinkPrediction::pairs(ds, &split, spec.normalize_features, seed, device)?
        }
        AnyDataset::Knowledge(g) => LinkPrediction::knowledge_graph(g, spec.tie, seed, device)?,
        AnyDataset::Graph(ds) => {
            return Err(TrainError::Config(format!(
                "{} is a set of graphs; link models train on one graph (cora) or a knowledge \
                 graph (fb15k-237)",
                ds.name
            )));
        }
    };
    data.with_sampling(spec.link_sampling)?
        .with_negatives(spec.negatives)?
        .with_batch_size(spec.batch_size)
}

fn run_links(
    registry: &Registry,
    spec: &ExperimentSpec,
    dataset: &AnyDataset,
    mut on_epoch: impl FnMut(usize, &EpochRecord),
) -> Result<(ExperimentReport, Vec<TrainedModel>), TrainError> {
    spec.validate()?;
    let (entry, config) = model_config(registry, spec, &dataset.info_for(Task::Link))?;
    spec.claim_checkpoints(dataset.name())?;
    let device = spec.backend.device()?;
    let mut runs = Vec::with_capacity(spec.runs);
    let mut models = Vec::with_capacity(spec.runs);
    let mut objective = None;
    for r in 0..spec.runs {
        let seed = spec.seed + r as u64;
        let data = link_data(spec, dataset, seed, &device)?;
        objective = Some(data.objective());
        let on_epoch = |rec: &EpochRecord| on_epoch(r, rec);
        let (run, model) = train_run(entry, &config, &device, seed, &data, spec, on_epoch)?;
        runs.push(run);
        models.push(model);
    }
    let objective = objective.ok_or_else(|| TrainError::Config("no run to train".into()))?;
    let report = ExperimentReport::new(spec, dataset.name(), objective, runs);
    Ok((report, models))
}

/// [`run_experiment`] on a node dataset with the library's models.
pub fn run_node_classification(
    spec: &ExperimentSpec,
    dataset: &NodeDataset,
    on_epoch: impl FnMut(usize, &EpochRecord),
) -> Result<(ExperimentReport, Vec<TrainedModel>), TrainError> {
    run_nodes(&Registry::builtin(), spec, dataset, on_epoch)
}

/// [`run_experiment`] on a graph dataset with the library's models.
pub fn run_graph_task(
    spec: &ExperimentSpec,
    dataset: &GraphDataset,
    on_epoch: impl FnMut(usize, &EpochRecord),
) -> Result<(ExperimentReport, Vec<TrainedModel>), TrainError> {
    run_graphs(&Registry::builtin(), spec, dataset, on_epoch)
}

fn run_nodes(
    registry: &Registry,
    spec: &ExperimentSpec,
    dataset: &NodeDataset,
    mut on_epoch: impl FnMut(usize, &EpochRecord),
) -> Result<(ExperimentReport, Vec<TrainedModel>), TrainError> {
    spec.validate()?;
    let (entry, config) = model_config(registry, spec, &node_info(dataset))?;
    spec.claim_checkpoints(&dataset.name)?;
    let device = spec.backend.device()?;
    // Full-batch data is the same for every run; sampled data is seeded per run.
    enum NodeData {
        Full(Box<NodeClassification>),
        Sampled(SampledNodes),
    }
    let data = match &spec.sampler {
        None => NodeData::Full(Box::new(node_data(spec, dataset, &device)?)),
        Some(s) => NodeData::Sampled(SampledNodes::new(
            dataset,
            s,
            spec.batch_size,
            spec.normalize_features,
            &device,
        )?),
    };
    let mut runs = Vec::with_capacity(spec.runs);
    let mut models = Vec::with_capacity(spec.runs);
    for r in 0..spec.runs {
        let seed = spec.seed + r as u64;
        let on_epoch = |rec: &EpochRecord| on_epoch(r, rec);
        let seeded;
        let run_data: &dyn TrainData = match &data {
            NodeData::Full(full) => full.as_ref(),
            NodeData::Sampled(sampled) => {
                seeded = sampled.with_seed(seed);
                &seeded
            }
        };
        let (run, model) = train_run(entry, &config, &device, seed, run_data, spec, on_epoch)?;
        runs.push(run);
        models.push(model);
    }
    let objective = Objective::Classification {
        num_classes: dataset.num_classes,
    };
    let report = ExperimentReport::new(spec, &dataset.name, objective, runs);
    Ok((report, models))
}

/// One seeded run of the registered model `entry` with architecture `config`: its report and
/// its trained model.
fn train_run(
    entry: &std::sync::Arc<dyn ModelEntry>,
    config: &ModelConfig,
    device: &Device,
    seed: u64,
    data: &dyn TrainData,
    spec: &ExperimentSpec,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<(RunReport, TrainedModel), TrainError> {
    let (fit, checkpoints) = (&spec.fit, spec.checkpoints.as_ref());
    let init = |d: &Device| entry.init(config, d);
    let run = train_dyn(device, seed, data, fit, init, checkpoints, on_epoch)?;
    let report = RunReport::new(seed, &run);
    let model = TrainedModel::new(entry.clone(), config.clone(), run.model);
    Ok((report, model))
}

fn run_graphs(
    registry: &Registry,
    spec: &ExperimentSpec,
    dataset: &GraphDataset,
    mut on_epoch: impl FnMut(usize, &EpochRecord),
) -> Result<(ExperimentReport, Vec<TrainedModel>), TrainError> {
    spec.validate()?;
    let (entry, config) = model_config(registry, spec, &graph_info(dataset))?;
    spec.claim_checkpoints(&dataset.name)?;
    let device = spec.backend.device()?;
    let splits = graph_splits(spec, dataset)?;
    let mut runs = Vec::with_capacity(splits.len());
    let mut models = Vec::with_capacity(splits.len());
    let mut objective = None;
    for (r, split) in splits.into_iter().enumerate() {
        let seed = spec.seed + r as u64;
        let data = GraphBatches::new(
            dataset,
            split,
            spec.batch_size,
            seed,
            spec.normalize_features,
            &device,
        )?;
        objective = Some(data.objective());
        let on_epoch = |rec: &EpochRecord| on_epoch(r, rec);
        let (run, model) = train_run(entry, &config, &device, seed, &data, spec, on_epoch)?;
        runs.push(run);
        models.push(model);
    }
    let objective = objective.ok_or_else(|| TrainError::Config("no split to train on".into()))?;
    let higher_is_better = objective.higher_is_better();
    let best_mean_epoch = match spec.folds {
        0 => None,
        _ => BestMeanEpoch::of(&runs, higher_is_better),
    };
    let report = ExperimentReport {
        best_mean_epoch,
        ..ExperimentReport::new(spec, &dataset.name, objective, runs)
    };
    Ok((report, models))
}

/// The seeded 80/10/10 split of `n` graphs that run `r` of `gnn train --seed S` uses with
/// `seed = S + r` (and `gnn export-data --seed`), with a note saying how it was made.
pub fn seeded_split(n: usize, seed: u64) -> (GraphSplit, String) {
    (
        random_split(n, 0.8, 0.1, seed),
        format!("random_split(n={n}, train 0.8, val 0.1, seed={seed})"),
    )
}

/// The splits of a graph experiment: stratified `spec.folds`-fold cross-validation (one run
/// per fold, each fold's successor its validation set), or with `folds = 0` one seeded 80/10/10
/// split per run.
pub fn graph_splits(
    spec: &ExperimentSpec,
    dataset: &GraphDataset,
) -> Result<Vec<GraphSplit>, TrainError> {
    if spec.folds == 0 {
        return Ok((0..spec.runs)
            .map(|r| seeded_split(dataset.len(), spec.seed + r as u64).0)
            .collect());
    }
    cv_splits(dataset, spec.folds, spec.seed, spec.no_val_fold)
}

/// Stratified `folds`-fold cross-validation of `dataset` with `seed`: split `i` tests on fold
/// `i`, validates on its successor and trains on the rest — or, with `no_val_fold`, trains on
/// every other fold and has no validation graphs.
pub fn cv_splits(
    dataset: &GraphDataset,
    folds: usize,
    seed: u64,
    no_val_fold: bool,
) -> Result<Vec<GraphSplit>, TrainError> {
    let classes = dataset.classes().ok_or_else(|| {
        TrainError::Config(format!(
            "{} is a regression dataset; stratified folds need classes (use --folds 0)",
            dataset.name
        ))
    })?;
    let mut splits = stratified_folds(&classes, folds, seed)?;
    if no_val_fold {
        for s in &mut splits {
            s.train.append(&mut s.val);
            s.train.sort_unstable();
        }
    }
    Ok(splits)
}

/// The dataset on `device` as the spec prepares it (features row-normalised when asked).
pub fn node_data(
    spec: &ExperimentSpec,
    dataset: &NodeDataset,
    device: &Device,
) -> Result<NodeClassification, TrainError> {
    prepare(dataset, spec.normalize_features, device)
}

/// The dataset on `device`, its features row-normalised first when `normalize` is set.
pub fn prepare(
    dataset: &NodeDataset,
    normalize: bool,
    device: &Device,
) -> Result<NodeClassification, TrainError> {
    if normalize {
        let mut normalized = dataset.clone();
        row_normalize(&mut normalized.features);
        NodeClassification::new(&normalized, device)
    } else {
        NodeClassification::new(dataset, device)
    }
}

/// One seeded run: seeds the device, initialises the model on the autodiff device and fits it.
pub fn train_one<M: GraphModel>(
    device: &Device,
    seed: u64,
    data: &dyn TrainData,
    fit_config: &FitConfig,
    init: impl FnOnce(&Device) -> M,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<FitResult<M>, TrainError> {
    let init = |d: &Device| Ok::<_, TrainError>(Box::new(init(d)) as Box<dyn DynModel>);
    train_dyn(device, seed, data, fit_config, init, None, on_epoch)?.downcast()
}

/// [`train_one`] for a model built by the registry.
pub fn train_dyn<E>(
    device: &Device,
    seed: u64,
    data: &dyn TrainData,
    fit_config: &FitConfig,
    init: impl FnOnce(&Device) -> Result<Box<dyn DynModel>, E>,
    checkpoints: Option<&Checkpoints>,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<FitResult<Box<dyn DynModel>>, TrainError>
where
    TrainError: From<E>,
{
    let train_device = device.clone().autodiff();
    train_device.seed(seed);
    let model = init(&train_device)?;
    let mut hooks = RunHooks {
        device: train_device,
        seed,
        checkpoints,
    };
    let progress = hooks.resume(
        Progress::new(model, fit_config, data.objective()),
        fit_config,
    )?;
    fit_from(progress, data, fit_config, Some(&mut hooks), on_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::{Score, Scores};

    fn run(test_metrics: &[f64]) -> RunReport {
        let history = test_metrics
            .iter()
            .enumerate()
            .map(|(e, &metric)| EpochRecord {
                epoch: e + 1,
                step_loss: 0.0,
                scores: Scores::from([(
                    SplitKind::Test,
                    Score {
                        loss: 0.0,
                        metric,
                        count: 1,
                        more: BTreeMap::new(),
                    },
                )]),
                ms: 0.0,
                eval_ms: 0.0,
            })
            .collect();
        RunReport {
            seed: 0,
            test_metric: 0.0,
            val_metric: 0.0,
            epochs: test_metrics.len(),
            best_epoch: 1,
            epoch_ms_median: 0.0,
            eval_ms_median: 0.0,
            split_metrics: BTreeMap::new(),
            more_metrics: BTreeMap::new(),
            history,
            resumed_after: None,
        }
    }

    #[test]
    fn best_mean_epoch_averages_over_folds_before_choosing() {
        // Fold 1 peaks at epoch 1, fold 2 at epoch 3; the mean peaks at epoch 2.
        let runs = [run(&[0.9, 0.8, 0.5, 0.1]), run(&[0.1, 0.6, 0.8])];
        let b = BestMeanEpoch::of(&runs, true).unwrap();
        assert_eq!(b.epoch, 2);
        assert!((b.test_metric_mean - 0.7).abs() < 1e-12);
        assert!((b.test_metric_std - 0.02f64.sqrt()).abs() < 1e-12);
        // An error metric: lowest mean (epoch 1: 0.5; epoch 3, the last both reached: 0.65).
        assert_eq!(BestMeanEpoch::of(&runs, false).unwrap().epoch, 1);
        assert_eq!(BestMeanEpoch::of(&[], true), None);
        assert_eq!(BestMeanEpoch::of(&[run(&[])], true), None);
    }
}
