//! The training loop: one loop for every model and task.
//!
//! Each epoch runs the training batches (forward on the autodiff device, backward, Adam step),
//! then evaluates every split in eval mode (no dropout, no autodiff), keeps the weights of the
//! best epoch by the validation criterion, and stops early when asked.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, decay::WeightDecayConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use gnn_models::GraphModel;
use serde::{Deserialize, Serialize};

use crate::data::{Batch, Objective, SplitKind, Targets, TrainData};

/// Which validation numbers pick the best epoch and count as progress for early stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Highest validation accuracy (lowest MAE for regression); the first best epoch wins.
    ValMetric,
    /// Lowest validation loss.
    ValLoss,
    /// The GAT authors' rule: progress when the validation metric or the loss is at least as
    /// good as its best so far; the weights are kept when both are.
    ValMetricAndLoss,
}

impl std::str::FromStr for Selection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "acc" | "metric" => Ok(Selection::ValMetric),
            "loss" => Ok(Selection::ValLoss),
            "acc-and-loss" | "metric-and-loss" => Ok(Selection::ValMetricAndLoss),
            _ => Err(format!("unknown selection '{s}' (acc, loss, acc-and-loss)")),
        }
    }
}

/// Tracks the best validation numbers seen: which epoch to keep, and when to stop.
#[derive(Debug, Clone)]
struct Selector {
    selection: Selection,
    /// +1 when a higher metric is better (accuracy), -1 when lower is (MAE).
    sign: f64,
    best_loss: f64,
    best_metric: f64,
    since_progress: usize,
}

impl Selector {
    fn new(selection: Selection, objective: Objective) -> Self {
        let sign = match objective {
            Objective::Classification { .. } => 1.0,
            Objective::Regression { .. } => -1.0,
        };
        Selector {
            selection,
            sign,
            best_loss: f64::INFINITY,
            best_metric: f64::NEG_INFINITY,
            since_progress: 0,
        }
    }

    /// Records an epoch's validation score; returns whether its weights are the new best.
    fn observe(&mut self, val: &Score) -> bool {
        let metric = self.sign * val.metric;
        let (keep, progress) = match self.selection {
            Selection::ValMetric => {
                let b = metric > self.best_metric;
                (b, b)
            }
            Selection::ValLoss => {
                let b = val.loss < self.best_loss;
                (b, b)
            }
            Selection::ValMetricAndLoss => {
                let (m, l) = (metric >= self.best_metric, val.loss <= self.best_loss);
                (m && l, m || l)
            }
        };
        let both = self.selection == Selection::ValMetricAndLoss;
        if keep || (both && progress) {
            self.best_metric = self.best_metric.max(metric);
            self.best_loss = self.best_loss.min(val.loss);
        }
        self.since_progress = if progress { 0 } else { self.since_progress + 1 };
        keep
    }
}

/// Optimiser and schedule settings of one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay (added to the gradient, as torch's Adam does), applied to the model's
    /// [`weight_decay_group`](GraphModel::weight_decay_group).
    pub weight_decay: f64,
    /// Adam's epsilon (torch's default 1e-8; Burn's default is 1e-5).
    pub adam_epsilon: f64,
    /// Stop when the selection criterion has not improved for this many epochs.
    pub patience: Option<usize>,
    /// How the best epoch is chosen.
    pub selection: Selection,
    /// Step decay of the learning rate: multiplied by `factor` every `every` epochs (torch's
    /// `StepLR`); none by default.
    #[serde(default)]
    pub lr_decay: Option<LrDecay>,
}

/// A step schedule: the learning rate at epoch `e` (1-based) is `lr · factor^⌊(e−1)/every⌋`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrDecay {
    /// Epochs between decays (≥ 1).
    pub every: usize,
    /// Multiplier per decay, in `(0, 1]`.
    pub factor: f64,
}

impl FitConfig {
    /// The learning rate of `epoch` (1-based) under the schedule.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.lr_decay {
            Some(d) if d.every > 0 => {
                self.lr
                    * d.factor
                        .powi(((epoch.max(1) - 1) / d.every).min(i32::MAX as usize) as i32)
            }
            _ => self.lr,
        }
    }
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 200,
            lr: 0.01,
            weight_decay: 5e-4,
            adam_epsilon: 1e-8,
            patience: None,
            selection: Selection::ValMetric,
            lr_decay: None,
        }
    }
}

/// Loss and metric of one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Mean loss (cross-entropy or L1).
    pub loss: f64,
    /// Accuracy (classification) or mean absolute error (regression).
    pub metric: f64,
    /// Number of scored rows.
    pub count: usize,
}

/// Scores of every split present in the data.
pub type Scores = BTreeMap<SplitKind, Score>;

impl PartialOrd for SplitKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SplitKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss of the optimisation step(s), dropout active.
    pub step_loss: f64,
    /// Eval-mode scores of every split after the step.
    pub scores: Scores,
    /// Wall time of the epoch (training step + evaluation) in milliseconds.
    pub ms: f64,
}

/// The result of [`fit`].
#[derive(Debug, Clone)]
pub struct FitResult<M> {
    /// The model with the weights of the best epoch, in eval mode on the plain device.
    pub model: M,
    /// The best epoch (1-based).
    pub best_epoch: usize,
    /// Scores at the best epoch.
    pub best: Scores,
    /// Every epoch.
    pub history: Vec<EpochRecord>,
}

impl<M> FitResult<M> {
    /// The same result without the model (scores and history only).
    pub fn without_model(self) -> FitResult<()> {
        FitResult {
            model: (),
            best_epoch: self.best_epoch,
            best: self.best,
            history: self.history,
        }
    }

    /// Median epoch time in milliseconds.
    pub fn epoch_ms_median(&self) -> f64 {
        crate::stats::median(&self.history.iter().map(|r| r.ms).collect::<Vec<_>>())
    }

    /// The metric of `split` at the best epoch (NaN when the split is absent).
    pub fn metric(&self, split: SplitKind) -> f64 {
        self.best.get(&split).map_or(f64::NAN, |s| s.metric)
    }
}

/// Summed loss and metric over the scored rows of one batch output, as a `[2]` tensor
/// `(Σ loss, Σ metric)` so that one device read serves both.
fn batch_sums(out: Tensor<2>, rows: Option<&Tensor<1, Int>>, targets: &Targets) -> Tensor<1> {
    let out = match rows {
        Some(r) => out.select(0, r.clone()),
        None => out,
    };
    match targets {
        Targets::Classes(y) => {
            let logp = log_softmax(out, 1);
            let picked = logp.clone().gather(1, y.clone().unsqueeze_dim(1));
            let correct = logp
                .argmax(1)
                .equal(y.clone().unsqueeze_dim(1))
                .float()
                .sum();
            Tensor::cat(vec![picked.sum().neg(), correct], 0)
        }
        Targets::Values(t) => {
            let abs = (out - t.clone()).abs();
            let [_, cols] = abs.dims();
            // Per row: mean over targets; summed over rows.
            let per_row = abs.sum_dim(1).div_scalar(cols as f64).sum();
            Tensor::cat(vec![per_row.clone(), per_row], 0)
        }
    }
}

/// The mean training loss of a batch (cross-entropy or L1 over its training rows).
fn train_loss(out: Tensor<2>, batch: &Batch) -> Tensor<1> {
    let mut total: Option<Tensor<1>> = None;
    let mut count = 0usize;
    for s in batch.scored.iter().filter(|s| s.split == SplitKind::Train) {
        let rows = match &s.rows {
            Some(r) => out.clone().select(0, r.clone()),
            None => out.clone(),
        };
        let sum = match &s.targets {
            Targets::Classes(y) => log_softmax(rows, 1)
                .gather(1, y.clone().unsqueeze_dim(1))
                .sum()
                .neg(),
            Targets::Values(t) => {
                let [_, cols] = t.dims();
                (rows - t.clone()).abs().sum().div_scalar(cols as f64)
            }
        };
        count += s.targets.len();
        total = Some(match total {
            Some(t) => t + sum,
            None => sum,
        });
    }
    total
        .expect("a training batch scores its training rows")
        .div_scalar(count.max(1) as f64)
}

/// Scores every split with `model` in eval mode (call it on `model.valid()`).
pub fn evaluate<M: GraphModel>(model: &M, data: &dyn TrainData) -> Scores {
    let scale = match data.objective() {
        Objective::Regression { scale } => scale,
        Objective::Classification { .. } => 1.0,
    };
    let mut sums: BTreeMap<SplitKind, (f64, f64, usize)> = BTreeMap::new();
    for batch in data.eval_batches() {
        let out = model.forward(batch.x.clone(), &batch.graph);
        let parts: Vec<Tensor<1>> = batch
            .scored
            .iter()
            .map(|s| batch_sums(out.clone(), s.rows.as_ref(), &s.targets))
            .collect();
        if parts.is_empty() {
            continue;
        }
        let values = Tensor::cat(parts, 0)
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap_or_default();
        for (i, s) in batch.scored.iter().enumerate() {
            let e = sums.entry(s.split).or_default();
            e.0 += values.get(2 * i).copied().unwrap_or(f64::NAN);
            e.1 += values.get(2 * i + 1).copied().unwrap_or(f64::NAN);
            e.2 += s.targets.len();
        }
    }
    sums.into_iter()
        .map(|(k, (l, m, n))| {
            let d = n.max(1) as f64;
            (
                k,
                Score {
                    loss: l / d,
                    metric: m / d * scale,
                    count: n,
                },
            )
        })
        .collect()
}

fn optimizer<M: GraphModel>(model: &M, cfg: &FitConfig) -> ModuleOptimizer {
    let adam = AdamConfig::new().with_epsilon(cfg.adam_epsilon as f32);
    if cfg.weight_decay == 0.0 {
        return adam.init();
    }
    let decayed = adam
        .clone()
        .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)));
    match model.weight_decay_group() {
        None => decayed.init(),
        Some(group) => ModuleOptimizer::from(adam.build()).with_group(group, decayed.build(), None),
    }
}

/// One model under optimisation: the model on the autodiff device, its Adam state and the
/// learning rate. [`fit`] drives it; benchmarks time [`Trainer::step`] alone.
pub struct Trainer<M> {
    model: M,
    optim: ModuleOptimizer,
    lr: f64,
}

impl<M: GraphModel> Trainer<M> {
    /// Wraps a model initialised on an autodiff device.
    pub fn new(model: M, cfg: &FitConfig) -> Self {
        Trainer {
            optim: optimizer(&model, cfg),
            model,
            lr: cfg.lr,
        }
    }

    /// One optimisation step on `batch` (forward with dropout, backward, Adam); returns the
    /// batch's mean training loss, detached.
    pub fn step(&mut self, batch: &Batch) -> Tensor<1> {
        // Features on the autodiff device, so dropout on the input is active.
        let out = self.model.forward(batch.x.clone().autodiff(), &batch.graph);
        let loss = train_loss(out, batch);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let model = self.model.clone();
        self.model = self.optim.step(self.lr, model, grads);
        loss.detach()
    }

    /// Sets the learning rate of the next steps.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The model being trained.
    pub fn model(&self) -> &M {
        &self.model
    }
}

/// Trains `model` (initialised on an autodiff device) on `data` and returns the best epoch's
/// weights, scores and the history. `on_epoch` sees every epoch as it ends.
pub fn fit<M>(
    model: M,
    data: &dyn TrainData,
    cfg: &FitConfig,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> FitResult<M>
where
    M: GraphModel,
{
    let mut selector = Selector::new(cfg.selection, data.objective());
    let mut trainer = Trainer::new(model, cfg);
    let mut best: Option<(usize, M, Scores)> = None;
    let mut history = Vec::with_capacity(cfg.epochs);

    for epoch in 1..=cfg.epochs {
        let start = Instant::now();
        trainer.set_lr(cfg.lr_at(epoch));
        let step_losses: Vec<Tensor<1>> = data
            .train_batches(epoch)
            .iter()
            .map(|b| trainer.step(b))
            .collect();
        let scores = evaluate(&trainer.model().valid(), data);
        let step_loss = Tensor::cat(step_losses, 0)
            .mean()
            .into_data()
            .try_into_vec_as::<f64>()
            .map_or(f64::NAN, |v| v[0]);
        let record = EpochRecord {
            epoch,
            step_loss,
            scores,
            ms: start.elapsed().as_secs_f64() * 1e3,
        };
        on_epoch(&record);

        // Without a validation split the last epoch is the best.
        let keep = record
            .scores
            .get(&SplitKind::Val)
            .is_none_or(|v| selector.observe(v));
        if keep {
            best = Some((epoch, trainer.model().clone(), record.scores.clone()));
        }
        history.push(record);
        if cfg.patience.is_some_and(|p| selector.since_progress >= p) {
            break;
        }
    }

    let (best_epoch, best_model, best_scores) = match best {
        Some(b) => b,
        None => (0, trainer.model().clone(), Scores::new()),
    };
    FitResult {
        model: best_model.valid(),
        best_epoch,
        best: best_scores,
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_decay_schedule() {
        let cfg = FitConfig {
            lr: 0.01,
            lr_decay: Some(LrDecay {
                every: 50,
                factor: 0.5,
            }),
            ..FitConfig::default()
        };
        assert_eq!(cfg.lr_at(1), 0.01);
        assert_eq!(cfg.lr_at(50), 0.01);
        assert_eq!(cfg.lr_at(51), 0.005);
        assert_eq!(cfg.lr_at(101), 0.0025);
        assert_eq!(FitConfig::default().lr_at(1000), 0.01);
    }

    fn score(loss: f64, metric: f64) -> Score {
        Score {
            loss,
            metric,
            count: 1,
        }
    }

    #[test]
    fn gat_rule_keeps_when_both_improve_and_waits_while_either_does() {
        let mut s = Selector::new(
            Selection::ValMetricAndLoss,
            Objective::Classification { num_classes: 2 },
        );
        assert!(s.observe(&score(1.0, 0.5)));
        assert!(!s.observe(&score(0.9, 0.4))); // loss better, accuracy worse: progress only
        assert_eq!(s.since_progress, 0);
        assert!(!s.observe(&score(0.95, 0.45))); // neither
        assert_eq!(s.since_progress, 1);
        assert!(s.observe(&score(0.85, 0.5))); // both at least as good as the best seen
    }

    #[test]
    fn regression_metric_is_lower_is_better() {
        let mut s = Selector::new(Selection::ValMetric, Objective::Regression { scale: 1.0 });
        assert!(s.observe(&score(1.0, 0.5)));
        assert!(!s.observe(&score(1.0, 0.6)));
        assert!(s.observe(&score(1.0, 0.4)));
    }
}
