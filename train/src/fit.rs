//! The training loop: one loop for every model and task.
//!
//! Each epoch runs the training batches (forward on the autodiff device, backward, Adam step),
//! then evaluates every split in eval mode (no dropout, no autodiff), keeps the weights of the
//! best epoch by the validation criterion, and stops early when asked.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::optim::{AdamConfig, ModuleOptimizer, decay::WeightDecayConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use gnn_models::GraphModel;
use gnn_models::registry::DynModel;
pub use gnn_models::registry::{FitConfig, LrDecay, Selection};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::data::{Batch, Objective, Scored, SplitKind, Targets, TrainData};

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
            // Every epoch is kept and counts as progress: the last one is the result.
            Selection::Last => (true, true),
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
fn batch_sums(out: Tensor<2>, scored: &Scored) -> Tensor<1> {
    let out = scored.select(out);
    match scored.targets() {
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

/// Checks every scored split of a batch against the model's output for it.
fn check_scored(out: &Tensor<2>, scored: &[Scored]) -> Result<(), TrainError> {
    scored.iter().try_for_each(|s| s.check(out.dims()))
}

/// The summed loss of scored rows `[R, C]` against their targets: cross-entropy of logits
/// against classes, or the L1 distance to the values averaged over the `T` targets of a row.
/// Divided by `R` it is the mean loss the loop (and the `Learner`) trains on.
pub(crate) fn loss_sum(rows: Tensor<2>, targets: &Targets) -> Tensor<1> {
    match targets {
        Targets::Classes(y) => log_softmax(rows, 1)
            .gather(1, y.clone().unsqueeze_dim(1))
            .sum()
            .neg(),
        Targets::Values(t) => {
            let [_, cols] = t.dims();
            (rows - t.clone()).abs().sum().div_scalar(cols as f64)
        }
    }
}

/// The mean training loss of a batch (cross-entropy or L1 over its training rows); a batch
/// without training rows is an error.
fn train_loss(out: Tensor<2>, batch: &Batch) -> Result<Tensor<1>, TrainError> {
    check_scored(&out, &batch.scored)?;
    let mut total: Option<Tensor<1>> = None;
    let mut count = 0usize;
    for s in batch
        .scored
        .iter()
        .filter(|s| s.split() == SplitKind::Train)
    {
        let sum = loss_sum(s.select(out.clone()), s.targets());
        count += s.targets().len();
        total = Some(match total {
            Some(t) => t + sum,
            None => sum,
        });
    }
    let total =
        total.ok_or_else(|| TrainError::Data("a training batch scores no training rows".into()))?;
    Ok(total.div_scalar(count.max(1) as f64))
}

/// Scores every split with `model` in eval mode (call it on `model.valid()`).
pub fn evaluate(model: &dyn DynModel, data: &dyn TrainData) -> Result<Scores, TrainError> {
    let scale = match data.objective() {
        Objective::Regression { scale } => scale,
        Objective::Classification { .. } => 1.0,
    };
    let mut sums: BTreeMap<SplitKind, (f64, f64, usize)> = BTreeMap::new();
    for batch in data.eval_batches()? {
        let out = model.forward(batch.x.clone(), &batch.graph)?;
        check_scored(&out, &batch.scored)?;
        let parts: Vec<Tensor<1>> = batch
            .scored
            .iter()
            .map(|s| batch_sums(out.clone(), s))
            .collect();
        if parts.is_empty() {
            continue;
        }
        let values = Tensor::cat(parts, 0)
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap_or_default();
        for (i, s) in batch.scored.iter().enumerate() {
            let e = sums.entry(s.split()).or_default();
            e.0 += values.get(2 * i).copied().unwrap_or(f64::NAN);
            e.1 += values.get(2 * i + 1).copied().unwrap_or(f64::NAN);
            e.2 += s.targets().len();
        }
    }
    Ok(sums
        .into_iter()
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
        .collect())
}

/// The optimiser of [`fit`]: Adam with `cfg`'s epsilon and, when `cfg.weight_decay` is
/// non-zero, L2 weight decay on the model's [`weight_decay_group`](GraphModel::weight_decay_group)
/// (all parameters when it names none). The learning rate is given per step.
pub fn optimizer(model: &dyn DynModel, cfg: &FitConfig) -> ModuleOptimizer {
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
pub struct Trainer {
    model: Box<dyn DynModel>,
    optim: ModuleOptimizer,
    lr: f64,
}

impl Trainer {
    /// Wraps a model initialised on an autodiff device.
    pub fn new(model: Box<dyn DynModel>, cfg: &FitConfig) -> Self {
        Trainer {
            optim: optimizer(model.as_ref(), cfg),
            model,
            lr: cfg.lr,
        }
    }

    /// One optimisation step on `batch` (forward with dropout, backward, Adam); returns the
    /// batch's mean training loss, detached.
    pub fn step(&mut self, batch: &Batch) -> Result<Tensor<1>, TrainError> {
        // Features on the autodiff device, so dropout on the input is active.
        let out = self
            .model
            .forward(batch.x.clone().autodiff(), &batch.graph)?;
        let loss = train_loss(out, batch)?;
        let grads = self.model.gradients(loss.backward());
        self.model = self.model.clone_box().step(&mut self.optim, self.lr, grads);
        Ok(loss.detach())
    }

    /// Sets the learning rate of the next steps.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The model being trained.
    pub fn model(&self) -> &dyn DynModel {
        self.model.as_ref()
    }
}

/// Trains `model` (initialised on an autodiff device) on `data` and returns the best epoch's
/// weights, scores and the history. `on_epoch` sees every epoch as it ends.
pub fn fit<M: GraphModel>(
    model: M,
    data: &dyn TrainData,
    cfg: &FitConfig,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<FitResult<M>, TrainError> {
    let run = fit_dyn(Box::new(model), data, cfg, on_epoch)?;
    let model = run
        .model
        .into_any()
        .downcast::<M>()
        .map_err(|_| TrainError::Config("the trained model changed type".into()))?;
    Ok(FitResult {
        model: *model,
        best_epoch: run.best_epoch,
        best: run.best,
        history: run.history,
    })
}

/// [`fit`] for a model of any type behind [`DynModel`] (what the registry builds).
pub fn fit_dyn(
    model: Box<dyn DynModel>,
    data: &dyn TrainData,
    cfg: &FitConfig,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<FitResult<Box<dyn DynModel>>, TrainError> {
    let mut selector = Selector::new(cfg.selection, data.objective());
    let mut trainer = Trainer::new(model, cfg);
    let mut best: Option<(usize, Box<dyn DynModel>, Scores)> = None;
    let mut history = Vec::with_capacity(cfg.epochs);

    for epoch in 1..=cfg.epochs {
        let start = Instant::now();
        trainer.set_lr(cfg.lr_at(epoch));
        let step_losses: Vec<Tensor<1>> = data
            .train_batches(epoch)?
            .iter()
            .map(|b| trainer.step(b))
            .collect::<Result<_, _>>()?;
        // A snapshot, not a clone: a clone would share batch norm's running statistics with
        // the model that goes on training, so a kept epoch's weights would drift.
        let snapshot = trainer.model().valid();
        let scores = evaluate(snapshot.as_ref(), data)?;
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
            best = Some((epoch, snapshot, record.scores.clone()));
        }
        history.push(record);
        if cfg.patience.is_some_and(|p| selector.since_progress >= p) {
            break;
        }
    }

    let (best_epoch, best_model, best_scores) = match best {
        Some(b) => b,
        None => (0, trainer.model().valid(), Scores::new()),
    };
    Ok(FitResult {
        model: best_model,
        best_epoch,
        best: best_scores,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
