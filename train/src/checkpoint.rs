//! [`Checkpoints`]: a run's state written every few epochs, atomically, and resumed after an
//! interruption to end exactly where the uninterrupted run ends (bitwise on CPU at a fixed
//! thread count).
//!
//! What the next epoch depends on is either written or a pure function of the epoch: the
//! model's weights and Adam state (Burn's burnpack files, keyed by parameter id), the kept
//! epoch's weights and scores, the history, the early-stopping state; the device's random
//! numbers are reseeded from `(run seed, epoch)` before every epoch, and every dataset makes
//! epoch `k`'s batches (shuffles, negatives, sampled neighbourhoods) from the run seed and `k`
//! alone, so the sampler's position is the epoch number.
//!
//! Layout of `DIR`: `experiment.json` (the experiment and dataset the checkpoints belong to;
//! a resume with another is refused), and per run seeded `s`, `run-<s>/epoch-<k>/` holding
//! `state.json`, `model.bpk`, `optimizer.bpk` and, once an epoch is kept, `best.bpk`. An
//! epoch's folder is written under a temporary name and renamed into place, and older ones are
//! removed only after, so the last complete checkpoint survives a kill at any instant.

use std::fs;
use std::path::{Path, PathBuf};

use burn::optim::record::OptimizerRecord;
use burn::tensor::Device;
use gnn_datasets::graph_set::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::TrainError;
use crate::fit::{EpochHooks, EpochRecord, FitConfig, Progress, Scores, Trainer};
use crate::output::write_json;

/// The file in `DIR` naming the experiment the checkpoints belong to.
const EXPERIMENT_FILE: &str = "experiment.json";
const STATE_FILE: &str = "state.json";
const MODEL_FILE: &str = "model.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const BEST_FILE: &str = "best.bpk";

/// Where and how often runs write checkpoints (`--checkpoint-dir DIR --checkpoint-every N`),
/// and whether they start from the last ones there (`--resume DIR`).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoints {
    /// The directory.
    pub dir: PathBuf,
    /// Epochs between checkpoints (the last epoch is always written).
    pub every: usize,
    /// Continue from the last checkpoint of each run; otherwise `dir` must hold none.
    pub resume: bool,
}

/// A run's state besides its weight files, as `state.json` holds it. Floats the loop compares
/// are kept as bit patterns, so they read back exactly.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    stopped: bool,
    best_loss_bits: u64,
    best_metric_bits: u64,
    since_progress: usize,
    /// The kept epoch and its scores (weights in `best.bpk`).
    best: Option<(usize, Scores)>,
    /// Every epoch done; the last is the checkpoint's (its folder's `k`).
    history: Vec<EpochRecord>,
}

impl Checkpoints {
    /// Checks that `dir` belongs to `experiment` (a description of the experiment and its
    /// dataset) and records it there: a fresh start needs a directory without checkpoints, a
    /// resume one written by the same experiment. Call once before the runs.
    pub fn claim(&self, experiment: &Value) -> Result<(), TrainError> {
        if self.every == 0 {
            return Err(TrainError::Config(
                "--checkpoint-every must be at least 1".into(),
            ));
        }
        let path = self.dir.join(EXPERIMENT_FILE);
        let error = |reason: String| TrainError::Model {
            path: path.clone(),
            reason,
        };
        match fs::read(&path) {
            Ok(bytes) if self.resume => {
                let stored: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| error(format!("not a checkpoint description: {e}")))?;
                if stored != *experiment {
                    return Err(error(format!(
                        "the checkpoints belong to another experiment ({}); resume with the \
                         command that wrote them",
                        first_difference(&stored, experiment, "")
                    )));
                }
                Ok(())
            }
            Ok(_) => Err(error(
                "holds checkpoints already: continue them with --resume, or choose another \
                 directory"
                    .into(),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.resume {
                    return Err(error(
                        "no checkpoints to resume (no experiment.json)".into(),
                    ));
                }
                fs::create_dir_all(&self.dir).map_err(|e| TrainError::Output {
                    path: self.dir.clone(),
                    reason: e.to_string(),
                })?;
                write_json(&path, experiment)
            }
            Err(e) => Err(error(e.to_string())),
        }
    }

    fn run_dir(&self, seed: u64) -> PathBuf {
        self.dir.join(format!("run-{seed}"))
    }

    /// Writes the run seeded `seed` as it stands after its last epoch.
    fn save(&self, seed: u64, progress: &Progress) -> Result<(), TrainError> {
        let run = self.run_dir(seed);
        let epoch = progress.epochs_done();
        let output = |path: &Path, e: String| TrainError::Output {
            path: path.to_path_buf(),
            reason: e,
        };
        let tmp = run.join(format!(".epoch-{epoch}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| output(&tmp, e.to_string()))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| output(&tmp, e.to_string()))?;
        let model = progress.trainer.model();
        model
            .save_weights(&tmp.join(MODEL_FILE))
            .map_err(|e| output(&tmp, e.to_string()))?;
        let optimizer = tmp.join(OPTIMIZER_FILE);
        progress
            .trainer
            .optimizer_record()
            .save(&optimizer)
            .map_err(|e| output(&optimizer, e.to_string()))?;
        if let Some((_, best, _)) = &progress.best {
            best.save_weights(&tmp.join(BEST_FILE))
                .map_err(|e| output(&tmp, e.to_string()))?;
        }
        let s = &progress.selector;
        let state = State {
            stopped: progress.stopped,
            best_loss_bits: s.best_loss.to_bits(),
            best_metric_bits: s.best_metric.to_bits(),
            since_progress: s.since_progress,
            best: progress.best.as_ref().map(|(e, _, sc)| (*e, sc.clone())),
            history: progress.history.clone(),
        };
        write_json(&tmp.join(STATE_FILE), &state)?;
        let done = run.join(format!("epoch-{epoch}"));
        if done.exists() {
            fs::remove_dir_all(&done).map_err(|e| output(&done, e.to_string()))?;
        }
        fs::rename(&tmp, &done).map_err(|e| output(&done, e.to_string()))?;
        // Older checkpoints go only once this one is in place.
        for (k, path) in epochs(&run)? {
            if k != epoch {
                fs::remove_dir_all(&path).map_err(|e| output(&path, e.to_string()))?;
            }
        }
        Ok(())
    }

    /// The run seeded `seed` from its last checkpoint, or `None` when it has none; `fresh`
    /// is the run before its first epoch (its model is the template the weights load into).
    fn load(
        &self,
        seed: u64,
        fresh: &Progress,
        cfg: &FitConfig,
    ) -> Result<Option<Progress>, TrainError> {
        let Some((epoch, dir)) = epochs(&self.run_dir(seed))?.into_iter().max() else {
            return Ok(None);
        };
        let model_error = |path: &Path, reason: String| TrainError::Model {
            path: path.to_path_buf(),
            reason,
        };
        let state_path = dir.join(STATE_FILE);
        let bytes = fs::read(&state_path).map_err(|e| model_error(&state_path, e.to_string()))?;
        let state: State = serde_json::from_slice(&bytes)
            .map_err(|e| model_error(&state_path, format!("not a checkpoint state: {e}")))?;
        if state.history.last().map(|r| r.epoch) != Some(epoch) {
            return Err(model_error(
                &state_path,
                format!("epoch {epoch} without its history"),
            ));
        }
        let template = fresh.trainer.model();
        let mut model = template.clone_box();
        let weights = |e: gnn_models::interop::InteropError| model_error(&dir, e.to_string());
        model.load_weights(&dir.join(MODEL_FILE)).map_err(weights)?;
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        let record = OptimizerRecord::load(&optimizer_path)
            .map_err(|e| model_error(&optimizer_path, e.to_string()))?;
        let best = match state.best {
            Some((epoch, scores)) => {
                let mut best = template.clone_box();
                best.load_weights(&dir.join(BEST_FILE)).map_err(weights)?;
                Some((epoch, best.valid(), scores))
            }
            None => None,
        };
        let mut selector = fresh.selector.clone();
        selector.best_loss = f64::from_bits(state.best_loss_bits);
        selector.best_metric = f64::from_bits(state.best_metric_bits);
        selector.since_progress = state.since_progress;
        Ok(Some(Progress {
            trainer: Trainer::restore(model, record, cfg),
            selector,
            best,
            history: state.history,
            stopped: state.stopped,
        }))
    }
}

/// The complete checkpoints `epoch-<k>` in a run's folder, with `k`; none when it does not
/// exist.
fn epochs(run: &Path) -> Result<Vec<(usize, PathBuf)>, TrainError> {
    let entries = match fs::read_dir(run) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TrainError::Model {
                path: run.to_path_buf(),
                reason: e.to_string(),
            });
        }
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let k = name.strip_prefix("epoch-")?.parse().ok()?;
            Some((k, entry.path()))
        })
        .collect())
}

/// Where two JSON values first differ, as a path (`spec.fit.lr`).
fn first_difference(a: &Value, b: &Value, path: &str) -> String {
    if let (Value::Object(a), Value::Object(b)) = (a, b) {
        for key in a.keys().chain(b.keys()) {
            let (x, y) = (a.get(key), b.get(key));
            if x != y {
                let inner = format!("{path}{}{key}", if path.is_empty() { "" } else { "." });
                return match (x, y) {
                    (Some(x), Some(y)) => first_difference(x, y, &inner),
                    _ => format!("{inner} differs"),
                };
            }
        }
    }
    let shown = |v: &Value| {
        let s = v.to_string();
        match s.chars().count() > 60 {
            true => format!("{}…", s.chars().take(60).collect::<String>()),
            false => s,
        }
    };
    format!("{path}: {} then, {} now", shown(a), shown(b))
}

/// The device seed of epoch `epoch` of the run seeded `seed`.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    Rng::new(seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// The hooks of a run seeded `seed` on the autodiff `device`: reseeding before each epoch,
/// and checkpoints after every `every`-th one and the last.
pub(crate) struct RunHooks<'a> {
    pub(crate) device: Device,
    pub(crate) seed: u64,
    pub(crate) checkpoints: Option<&'a Checkpoints>,
}

impl RunHooks<'_> {
    /// `progress` from the run's last checkpoint when resuming and there is one.
    pub(crate) fn resume(
        &self,
        progress: Progress,
        cfg: &FitConfig,
    ) -> Result<Progress, TrainError> {
        match self.checkpoints {
            Some(c) if c.resume => Ok(c.load(self.seed, &progress, cfg)?.unwrap_or(progress)),
            _ => Ok(progress),
        }
    }
}

impl EpochHooks for RunHooks<'_> {
    fn before(&mut self, epoch: usize) {
        self.device.seed(epoch_seed(self.seed, epoch));
    }

    fn after(&mut self, progress: &Progress, cfg: &FitConfig) -> Result<(), TrainError> {
        let Some(c) = self.checkpoints else {
            return Ok(());
        };
        if progress.epochs_done().is_multiple_of(c.every) || progress.finished(cfg) {
            c.save(self.seed, progress)?;
        }
        Ok(())
    }
}
