//! The training loop: one loop for every model and task.
//!
//! Each epoch runs the training batches (forward on the autodiff device, backward, Adam step),
//! then evaluates every split in eval mode (no dropout, no autodiff), keeps the weights of the
//! best epoch by the validation criterion, and stops early when asked.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::optim::record::OptimizerRecord;
use burn::optim::{AdamConfig, ModuleOptimizer, decay::WeightDecayConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use gnn_models::GraphModel;
use gnn_models::kernels::softplus;
use gnn_models::link::{Missing, recon_loss};
use gnn_models::registry::DynModel;
pub use gnn_models::registry::{FitConfig, LrDecay, Selection};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::data::{Batch, Objective, Scored, SplitKind, Targets, TrainData};
use crate::link_data::{Ranked, candidate_scores, rank};
use crate::link_metrics::{RankingMetrics, average_precision, roc_auc};
use crate::progress::{self, Stage};

/// Tracks the best validation numbers seen: which epoch to keep, and when to stop.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    selection: Selection,
    /// +1 when a higher metric is better (accuracy), -1 when lower is (MAE).
    sign: f64,
    pub(crate) best_loss: f64,
    pub(crate) best_metric: f64,
    pub(crate) since_progress: usize,
}

impl Selector {
    fn new(selection: Selection, objective: Objective) -> Self {
        let sign = if objective.higher_is_better() {
            1.0
        } else {
            -1.0
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Mean loss: cross-entropy, L1, the links' reconstruction loss, or for ranking the mean
    /// cross-entropy of the true answer among all candidates.
    pub loss: f64,
    /// Accuracy (classification), mean absolute error (regression), ROC-AUC (link pairs) or
    /// filtered MRR (ranking).
    pub metric: f64,
    /// Number of scored rows (links; ranking queries).
    pub count: usize,
    /// The task's further metrics: `ap` (link pairs); `hits1`, `hits3`, `hits10` (ranking).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub more: BTreeMap<String, f64>,
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
    /// Eval-mode scores of every split after the step (empty for an epoch not evaluated,
    /// [`FitConfig::eval_every`]).
    pub scores: Scores,
    /// Wall time of the epoch (training step + evaluation) in milliseconds.
    pub ms: f64,
    /// The part of `ms` spent evaluating (0 for an epoch not evaluated).
    #[serde(default)]
    pub eval_ms: f64,
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
    /// The epoch of the checkpoint the run resumed from, if it did
    /// ([`crate::checkpoint`]).
    pub resumed_after: Option<usize>,
}

impl<M> FitResult<M> {
    /// The same result without the model (scores and history only).
    pub fn without_model(self) -> FitResult<()> {
        FitResult {
            model: (),
            best_epoch: self.best_epoch,
            best: self.best,
            history: self.history,
            resumed_after: self.resumed_after,
        }
    }

    /// Median epoch time in milliseconds.
    pub fn epoch_ms_median(&self) -> f64 {
        crate::stats::median(&self.history.iter().map(|r| r.ms).collect::<Vec<_>>())
    }

    /// Median time of one evaluation of every split in milliseconds, over the evaluated
    /// epochs.
    pub fn eval_ms_median(&self) -> f64 {
        let evaluated: Vec<f64> = self
            .history
            .iter()
            .filter(|r| !r.scores.is_empty())
            .map(|r| r.eval_ms)
            .collect();
        crate::stats::median(&evaluated)
    }

    /// The metric of `split` at the best epoch (NaN when the split is absent).
    pub fn metric(&self, split: SplitKind) -> f64 {
        self.best.get(&split).map_or(f64::NAN, |s| s.metric)
    }
}

/// Summed loss and metric over the scored rows of one batch output, as a `[2]` tensor
/// `(Σ loss, Σ metric)` so that one device read serves both; `None` for links and ranking,
/// which are scored on the host.
fn batch_sums(out: Tensor<2>, scored: &Scored) -> Option<Tensor<1>> {
    let out = scored.select(out);
    Some(match scored.targets() {
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
        Targets::Links { .. }
        | Targets::AllPairs { .. }
        | Targets::OneVsAll(_)
        | Targets::Ranking(_) => return None,
    })
}

/// Checks every scored split of a batch against the model's output for it.
fn check_scored(out: &Tensor<2>, scored: &[Scored]) -> Result<(), TrainError> {
    scored.iter().try_for_each(|s| s.check(out.dims()))
}

/// The summed loss of one scored split of a model output `out` (`[N, C]`; node embeddings
/// for links): cross-entropy of the scored rows' logits against classes, the L1 distance to
/// the values averaged over the `T` targets of a row, for links the reconstruction loss of
/// the decoder's logits ([`recon_loss`]) times the number of links, or for all pairs the
/// weighted sum over the `N²` pairs ([`Targets::AllPairs`]), for facts ranked against every
/// node the softmax cross-entropy of the true answers ([`Targets::OneVsAll`]). Divided by
/// [`Targets::len`] it is the mean loss the loop (and the `Learner`) trains on. Ranking
/// splits are scored in evaluation only: an error here.
pub(crate) fn loss_sum(
    model: &dyn DynModel,
    out: Tensor<2>,
    scored: &Scored,
) -> Result<Tensor<1>, TrainError> {
    Ok(match scored.targets() {
        Targets::Classes(y) => log_softmax(scored.select(out), 1)
            .gather(1, y.clone().unsqueeze_dim(1))
            .sum()
            .neg(),
        Targets::Values(t) => {
            let [_, cols] = t.dims();
            (scored.select(out) - t.clone())
                .abs()
                .sum()
                .div_scalar(cols as f64)
        }
        Targets::Links { pos, neg } => recon_loss(
            model.score_links(out.clone(), pos)?,
            model.score_links(out, neg)?,
        )
        .mul_scalar(scored.targets().len() as f64),
        Targets::AllPairs {
            pos,
            num_nodes,
            pos_weight,
            norm,
        } => {
            let n = *num_nodes;
            let all = Tensor::<1, Int>::arange(0..n as i64, &out.device());
            let logits = model.score_candidates(out.clone(), all, None, Missing::Tail)?;
            let positives = model.score_links(out, pos)?;
            // Σ_all softplus(s) + Σ_pos [w·softplus(−s) − softplus(s)], as a sum over pairs.
            let everyone = softplus(logits.reshape([n * n])).sum();
            let pos_part =
                softplus(positives.clone().neg()).mul_scalar(*pos_weight) - softplus(positives);
            (everyone + pos_part.sum()).mul_scalar(*norm)
        }
        Targets::OneVsAll(facts) => {
            // One direction: −Σ_k log softmax(S)[k, answer_k] over the `[F, N]` scores.
            let nll = |missing, anchors: &Tensor<1, Int>, answers: &Tensor<1, Int>| {
                let scores =
                    candidate_scores(model, &out, anchors.clone(), facts.rel.clone(), missing)?;
                Ok::<_, TrainError>(
                    log_softmax(scores, 1)
                        .gather(1, answers.clone().unsqueeze_dim(1))
                        .sum()
                        .neg(),
                )
            };
            nll(Missing::Tail, &facts.src, &facts.dst)?
                + nll(Missing::Head, &facts.dst, &facts.src)?
        }
        Targets::Ranking(_) => {
            return Err(TrainError::Data(format!(
                "the {} split ranks queries, which only evaluation does",
                scored.split().name()
            )));
        }
    })
}

/// The mean training loss of a batch (cross-entropy, L1 or the links' reconstruction loss
/// over its training rows); a batch without training rows is an error.
fn train_loss(
    model: &dyn DynModel,
    out: Tensor<2>,
    batch: &Batch,
) -> Result<Tensor<1>, TrainError> {
    check_scored(&out, &batch.scored)?;
    let mut total: Option<Tensor<1>> = None;
    let mut count = 0usize;
    for s in batch
        .scored
        .iter()
        .filter(|s| s.split() == SplitKind::Train)
    {
        let sum = loss_sum(model, out.clone(), s)?;
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

/// What the batches have told about one split so far.
enum Tally {
    /// Classes or values: summed loss and metric, rows.
    Rows {
        loss: f64,
        metric: f64,
        count: usize,
    },
    /// Link pairs: the decoder's logits of the existing and the non-existing links.
    Links { pos: Vec<f32>, neg: Vec<f32> },
    /// Ranking queries.
    Ranked(Ranked),
}

impl Tally {
    /// The split's score (`scale`: the regression metric's unit).
    fn score(self, scale: f64) -> Score {
        match self {
            Tally::Rows {
                loss,
                metric,
                count,
            } => {
                let d = count.max(1) as f64;
                Score {
                    loss: loss / d,
                    metric: metric / d * scale,
                    count,
                    more: BTreeMap::new(),
                }
            }
            Tally::Links { pos, neg } => {
                // recon_loss on the host: mean softplus(−pos) + mean softplus(neg).
                let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
                let mean = |v: &[f32], sign: f64| {
                    v.iter()
                        .map(|&x| softplus(sign * f64::from(x)))
                        .sum::<f64>()
                        / v.len().max(1) as f64
                };
                Score {
                    loss: mean(&pos, -1.0) + mean(&neg, 1.0),
                    metric: roc_auc(&pos, &neg),
                    count: pos.len() + neg.len(),
                    more: BTreeMap::from([("ap".to_string(), average_precision(&pos, &neg))]),
                }
            }
            Tally::Ranked(r) => {
                let m = RankingMetrics::of(&r.ranks);
                Score {
                    loss: r.cross_entropy / m.count.max(1) as f64,
                    metric: m.mrr,
                    count: m.count,
                    more: BTreeMap::from([
                        ("hits1".to_string(), m.hits1),
                        ("hits3".to_string(), m.hits3),
                        ("hits10".to_string(), m.hits10),
                    ]),
                }
            }
        }
    }
}

/// The decoder's logits of `links` as host values.
fn host_logits(
    model: &dyn DynModel,
    z: &Tensor<2>,
    links: &gnn_models::link::Links,
) -> Result<Vec<f32>, TrainError> {
    model
        .score_links(z.clone(), links)?
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| TrainError::Data(format!("link logits: {e:?}")))
}

/// Scores every split with `model` in eval mode (call it on `model.valid()`).
pub fn evaluate(model: &dyn DynModel, data: &dyn TrainData) -> Result<Scores, TrainError> {
    let scale = match data.objective() {
        Objective::Regression { scale } => scale,
        _ => 1.0,
    };
    let mut tallies: BTreeMap<SplitKind, Tally> = BTreeMap::new();
    for output in data.eval_outputs(model)? {
        let (out, scored) = output?;
        check_scored(&out, &scored)?;
        // Rows of every split in one device read.
        let (row_splits, parts): (Vec<&Scored>, Vec<Tensor<1>>) = scored
            .iter()
            .filter_map(|s| batch_sums(out.clone(), s).map(|p| (s, p)))
            .unzip();
        if !parts.is_empty() {
            let values = Tensor::cat(parts, 0)
                .into_data()
                .try_into_vec_as::<f64>()
                .unwrap_or_default();
            for (i, s) in row_splits.iter().enumerate() {
                let tally = tallies.entry(s.split()).or_insert(Tally::Rows {
                    loss: 0.0,
                    metric: 0.0,
                    count: 0,
                });
                if let Tally::Rows {
                    loss,
                    metric,
                    count,
                } = tally
                {
                    *loss += values.get(2 * i).copied().unwrap_or(f64::NAN);
                    *metric += values.get(2 * i + 1).copied().unwrap_or(f64::NAN);
                    *count += s.targets().len();
                }
            }
        }
        for s in &scored {
            match s.targets() {
                Targets::Links { pos, neg } => {
                    let (p, n) = (
                        host_logits(model, &out, pos)?,
                        host_logits(model, &out, neg)?,
                    );
                    let tally = tallies.entry(s.split()).or_insert(Tally::Links {
                        pos: Vec::new(),
                        neg: Vec::new(),
                    });
                    if let Tally::Links { pos, neg } = tally {
                        pos.extend(p);
                        neg.extend(n);
                    }
                }
                Targets::Ranking(queries) => {
                    let r = rank(model, &out, queries, |done, total| {
                        progress::report(Stage::Ranking { done, total })
                    })?;
                    let tally = tallies
                        .entry(s.split())
                        .or_insert(Tally::Ranked(Ranked::default()));
                    if let Tally::Ranked(all) = tally {
                        all.ranks.extend(r.ranks);
                        all.cross_entropy += r.cross_entropy;
                    }
                }
                // Training objectives only.
                Targets::Classes(_)
                | Targets::Values(_)
                | Targets::AllPairs { .. }
                | Targets::OneVsAll(_) => {}
            }
        }
    }
    Ok(tallies
        .into_iter()
        .map(|(k, t)| (k, t.score(scale)))
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

/// One model under optimisation: the model on the autodiff device, its Adam state, the
/// learning rate and the gradient-norm bound. [`fit`] drives it; benchmarks time
/// [`Trainer::step`] alone.
pub struct Trainer {
    model: Box<dyn DynModel>,
    optim: ModuleOptimizer,
    lr: f64,
    clip_grad_norm: Option<f64>,
}

impl Trainer {
    /// Wraps a model initialised on an autodiff device.
    pub fn new(model: Box<dyn DynModel>, cfg: &FitConfig) -> Self {
        Trainer {
            optim: optimizer(model.as_ref(), cfg),
            model,
            lr: cfg.lr,
            clip_grad_norm: cfg.clip_grad_norm,
        }
    }

    /// One optimisation step on `batch` (forward with dropout, backward, the gradients scaled
    /// to the norm bound if there is one, Adam); returns the
    /// batch's mean training loss (with the model's own penalty term, if it has one,
    /// [`GraphModel::forward_train`]), detached.
    pub fn step(&mut self, batch: &Batch) -> Result<Tensor<1>, TrainError> {
        let (out, penalty) = batch.forward(self.model.as_ref(), true)?;
        let mut loss = train_loss(self.model.as_ref(), out, batch)?;
        if let Some(p) = penalty {
            loss = loss + p;
        }
        let mut grads = self.model.gradients(loss.backward());
        if let Some(max) = self.clip_grad_norm {
            grads = self.model.clip_grad_norm(grads, max);
        }
        self.model = self.model.clone_box().step(&mut self.optim, self.lr, grads);
        Ok(loss.detach())
    }

    /// A trainer resumed from a checkpoint: `model` with the parameter ids its weights were
    /// saved with, and the Adam state saved with them ([`optimizer_record`](Self::optimizer_record)).
    pub fn restore(model: Box<dyn DynModel>, record: OptimizerRecord, cfg: &FitConfig) -> Self {
        Trainer {
            optim: optimizer(model.as_ref(), cfg).load_record(record),
            model,
            lr: cfg.lr,
            clip_grad_norm: cfg.clip_grad_norm,
        }
    }

    /// The Adam state, keyed by parameter id (Burn's record).
    pub fn optimizer_record(&self) -> OptimizerRecord {
        self.optim.to_record()
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
    fit_dyn(Box::new(model), data, cfg, on_epoch)?.downcast()
}

impl FitResult<Box<dyn DynModel>> {
    /// The result with its model as the concrete type `M` it was trained as.
    pub fn downcast<M: GraphModel>(self) -> Result<FitResult<M>, TrainError> {
        let model = self
            .model
            .into_any()
            .downcast::<M>()
            .map_err(|_| TrainError::Config("the trained model changed type".into()))?;
        Ok(FitResult {
            model: *model,
            best_epoch: self.best_epoch,
            best: self.best,
            history: self.history,
            resumed_after: self.resumed_after,
        })
    }
}

/// [`fit`] for a model of any type behind [`DynModel`] (what the registry builds). The
/// device's random numbers are the caller's: [`train_dyn`](crate::experiment::train_dyn)
/// seeds them per run and reseeds them per epoch (what makes a resumed run exact).
pub fn fit_dyn(
    model: Box<dyn DynModel>,
    data: &dyn TrainData,
    cfg: &FitConfig,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<FitResult<Box<dyn DynModel>>, TrainError> {
    let progress = Progress::new(model, cfg, data.objective());
    fit_from(progress, data, cfg, None, on_epoch)
}

/// A run between two epochs: everything its next epoch depends on besides the data, the
/// configuration and the device's random state — what a checkpoint holds
/// ([`crate::checkpoint`]).
pub(crate) struct Progress {
    /// The model under optimisation and its Adam state.
    pub(crate) trainer: Trainer,
    pub(crate) selector: Selector,
    /// The kept epoch: its number, its weights (eval mode) and its scores.
    pub(crate) best: Option<(usize, Box<dyn DynModel>, Scores)>,
    /// Every epoch done.
    pub(crate) history: Vec<EpochRecord>,
    /// Stopped early: no epoch is left.
    pub(crate) stopped: bool,
}

impl Progress {
    /// Before the first epoch.
    pub(crate) fn new(model: Box<dyn DynModel>, cfg: &FitConfig, objective: Objective) -> Self {
        Progress {
            trainer: Trainer::new(model, cfg),
            selector: Selector::new(cfg.selection, objective),
            best: None,
            history: Vec::with_capacity(cfg.epochs),
            stopped: false,
        }
    }

    /// Epochs done.
    pub(crate) fn epochs_done(&self) -> usize {
        self.history.last().map_or(0, |r| r.epoch)
    }

    /// Whether no epoch is left.
    pub(crate) fn finished(&self, cfg: &FitConfig) -> bool {
        self.stopped || self.epochs_done() >= cfg.epochs
    }
}

/// What the loop does between epochs besides training: reseed the device's random numbers
/// per epoch (so a run resumed after any epoch draws what the uninterrupted run drew) and
/// write checkpoints.
pub(crate) trait EpochHooks {
    /// Before epoch `epoch` (1-based).
    fn before(&mut self, epoch: usize);
    /// After an epoch, with the run as it now stands.
    fn after(&mut self, progress: &Progress, cfg: &FitConfig) -> Result<(), TrainError>;
}

/// Runs the epochs left of `progress`.
pub(crate) fn fit_from(
    mut progress: Progress,
    data: &dyn TrainData,
    cfg: &FitConfig,
    mut hooks: Option<&mut dyn EpochHooks>,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<FitResult<Box<dyn DynModel>>, TrainError> {
    let resumed_after = Some(progress.epochs_done()).filter(|&k| k > 0);
    let first = progress.epochs_done() + 1;
    for epoch in first..=cfg.epochs {
        if progress.stopped {
            break;
        }
        if let Some(h) = hooks.as_mut() {
            h.before(epoch);
        }
        let start = Instant::now();
        let trainer = &mut progress.trainer;
        trainer.set_lr(cfg.lr_at(epoch));
        let step_losses: Vec<Tensor<1>> = data
            .train_batches(epoch)?
            .map(|b| trainer.step(&b?))
            .collect::<Result<_, _>>()?;
        let evaluated = epoch % cfg.eval_every.max(1) == 0 || epoch == cfg.epochs;
        // A snapshot, not a clone: a clone would share batch norm's running statistics with
        // the model that goes on training, so a kept epoch's weights would drift.
        let snapshot = trainer.model().valid();
        let eval_start = Instant::now();
        let scores = if evaluated {
            evaluate(snapshot.as_ref(), data)?
        } else {
            Scores::new()
        };
        let eval_ms = eval_start.elapsed().as_secs_f64() * 1e3;
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
            eval_ms: if evaluated { eval_ms } else { 0.0 },
        };
        on_epoch(&record);

        // Without a validation split the last epoch is the best.
        let keep = evaluated
            && record
                .scores
                .get(&SplitKind::Val)
                .is_none_or(|v| progress.selector.observe(v));
        if keep {
            progress.best = Some((epoch, snapshot, record.scores.clone()));
        }
        progress.history.push(record);
        progress.stopped = evaluated
            && cfg
                .patience
                .is_some_and(|p| progress.selector.since_progress >= p);
        if let Some(h) = hooks.as_mut() {
            h.after(&progress, cfg)?;
        }
    }

    let (best_epoch, best_model, best_scores) = match progress.best {
        Some(b) => b,
        None => (0, progress.trainer.model().valid(), Scores::new()),
    };
    Ok(FitResult {
        model: best_model,
        best_epoch,
        best: best_scores,
        history: progress.history,
        resumed_after,
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
            more: BTreeMap::new(),
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
