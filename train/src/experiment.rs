//! Repeated training runs of a model on a dataset: what `gnn train` does, as a library call.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use gnn_datasets::NodeDataset;
use gnn_datasets::transforms::row_normalize;
use gnn_models::GraphModel;
use gnn_models::models::GcnConfig;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::backend::Backend;
use crate::data::{NodeClassification, SplitKind, TrainData};
use crate::fit::{EpochRecord, FitConfig, FitResult, fit};
use crate::stats;

/// The models `gnn train` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Two-layer GCN (Kipf & Welling 2017).
    Gcn,
}

impl ModelKind {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Gcn => "gcn",
        }
    }

    /// The paper protocol's training settings for this model.
    pub fn default_fit(self) -> FitConfig {
        match self {
            ModelKind::Gcn => FitConfig::default(),
        }
    }

    /// The paper's hidden width and dropout.
    pub fn default_hidden_dropout(self) -> (usize, f64) {
        match self {
            ModelKind::Gcn => (16, 0.5),
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gcn" => Ok(ModelKind::Gcn),
            _ => Err(format!("unknown model '{s}' (gcn)")),
        }
    }
}

/// Everything that defines a node-classification experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// The model.
    pub model: ModelKind,
    /// The backend.
    pub backend: Backend,
    /// Number of runs; run `r` uses seed `seed + r`.
    pub runs: usize,
    /// Seed of the first run.
    pub seed: u64,
    /// Hidden width.
    pub hidden: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// Row-normalise the node features first (`x_i / Σ_j x_ij`; the GCN and GAT papers do).
    pub normalize_features: bool,
    /// Optimiser and schedule.
    pub fit: FitConfig,
}

impl NodeSpec {
    /// The paper protocol of `model` on `backend`: 1 run, seed 0.
    pub fn new(model: ModelKind, backend: Backend) -> Self {
        let (hidden, dropout) = model.default_hidden_dropout();
        NodeSpec {
            model,
            backend,
            runs: 1,
            seed: 0,
            hidden,
            dropout,
            normalize_features: true,
            fit: model.default_fit(),
        }
    }

    /// Checks value ranges, so that bad settings are an error rather than a panic deep inside.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.runs == 0 {
            return bad("--runs must be at least 1".into());
        }
        if self.fit.epochs == 0 {
            return bad("--epochs must be at least 1".into());
        }
        if self.hidden == 0 {
            return bad("--hidden must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("--dropout must be in [0, 1), got {}", self.dropout));
        }
        if !(self.fit.lr.is_finite() && self.fit.lr > 0.0) {
            return bad(format!(
                "--lr must be a positive number, got {}",
                self.fit.lr
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
        Ok(())
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Its seed.
    pub seed: u64,
    /// Test accuracy at the best epoch (a fraction).
    pub test_acc: f64,
    /// Validation accuracy at the best epoch.
    pub val_acc: f64,
    /// Epochs run.
    pub epochs: usize,
    /// The best epoch.
    pub best_epoch: usize,
    /// Median wall time of an epoch (training step + evaluation), milliseconds.
    pub epoch_ms_median: f64,
    /// Every epoch (not written to `--json`).
    #[serde(skip)]
    pub history: Vec<EpochRecord>,
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
    /// One entry per run.
    pub runs: Vec<RunReport>,
    /// Mean test accuracy over runs.
    pub test_acc_mean: f64,
    /// Sample standard deviation of the test accuracy.
    pub test_acc_std: f64,
    /// Median over runs of each run's median epoch time, milliseconds.
    pub epoch_ms_median: f64,
}

/// Trains `spec.runs` models on `dataset` and reports each run. `on_epoch(run, record)` sees
/// every epoch (for progress bars).
pub fn run_node_classification(
    spec: &NodeSpec,
    dataset: &NodeDataset,
    mut on_epoch: impl FnMut(usize, &EpochRecord),
) -> Result<ExperimentReport, TrainError> {
    spec.validate()?;
    let device = spec.backend.device()?;
    let data = if spec.normalize_features {
        let mut normalized = dataset.clone();
        row_normalize(&mut normalized.features);
        NodeClassification::new(&normalized, &device)?
    } else {
        NodeClassification::new(dataset, &device)?
    };
    let mut runs = Vec::with_capacity(spec.runs);
    for r in 0..spec.runs {
        let seed = spec.seed + r as u64;
        let run = match spec.model {
            ModelKind::Gcn => {
                let config = GcnConfig::new(dataset.num_features(), dataset.num_classes)
                    .with_d_hidden(spec.hidden)
                    .with_dropout(spec.dropout);
                train_one(
                    &device,
                    seed,
                    &data,
                    &spec.fit,
                    |d| config.init(d),
                    |rec| on_epoch(r, rec),
                )
            }
        };
        runs.push(RunReport {
            seed,
            test_acc: run.metric(SplitKind::Test),
            val_acc: run.metric(SplitKind::Val),
            epochs: run.history.len(),
            best_epoch: run.best_epoch,
            epoch_ms_median: run.epoch_ms_median(),
            history: run.history,
        });
    }
    let accs: Vec<f64> = runs.iter().map(|r| r.test_acc).collect();
    let times: Vec<f64> = runs.iter().map(|r| r.epoch_ms_median).collect();
    Ok(ExperimentReport {
        model: spec.model.name().into(),
        dataset: dataset.name.clone(),
        backend: spec.backend.name().into(),
        test_acc_mean: stats::mean(&accs),
        test_acc_std: stats::std(&accs),
        epoch_ms_median: stats::median(&times),
        runs,
    })
}

/// One seeded run: seeds the device, initialises the model on the autodiff device and fits it.
pub fn train_one<M: GraphModel>(
    device: &Device,
    seed: u64,
    data: &dyn TrainData,
    fit_config: &FitConfig,
    init: impl FnOnce(&Device) -> M,
    on_epoch: impl FnMut(&EpochRecord),
) -> FitResult<M> {
    let train_device = device.clone().autodiff();
    train_device.seed(seed);
    let model = init(&train_device);
    fit(model, data, fit_config, on_epoch)
}
