//! [`FitConfig`]: the optimiser and schedule of a training protocol, part of a model's
//! contract (each model's paper protocol names them) and consumed by `gnn-train`'s loop.

use serde::{Deserialize, Serialize};

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
    /// The last epoch, whatever the validation numbers (a fixed schedule: SGC's 100 epochs).
    Last,
}

impl Selection {
    /// Its name on the command line (`acc`, `loss`, `acc-and-loss`).
    pub fn name(self) -> &'static str {
        match self {
            Selection::ValMetric => "acc",
            Selection::ValLoss => "loss",
            Selection::ValMetricAndLoss => "acc-and-loss",
            Selection::Last => "last",
        }
    }
}

impl std::str::FromStr for Selection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "acc" | "metric" => Ok(Selection::ValMetric),
            "loss" => Ok(Selection::ValLoss),
            "acc-and-loss" | "metric-and-loss" => Ok(Selection::ValMetricAndLoss),
            "last" => Ok(Selection::Last),
            _ => Err(format!(
                "unknown selection '{s}' (acc, loss, acc-and-loss, last)"
            )),
        }
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
    /// [`weight_decay_group`](crate::GraphModel::weight_decay_group).
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
    /// Evaluate every this many epochs (and after the last): the epochs between are trained
    /// only, so an expensive evaluation (filtered ranking of a knowledge graph) is paid
    /// rarely. Selection and patience count evaluated epochs. 1 by default.
    #[serde(default = "every_epoch")]
    pub eval_every: usize,
    /// Scale each step's gradients together so their joint L2 norm is at most this
    /// ([`clip_grad_norm`](crate::registry::clip_grad_norm)); none by default. Left out of
    /// the JSON when none, so experiments, cards and checkpoints written before it read and
    /// compare as they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f64>,
}

fn every_epoch() -> usize {
    1
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

    /// One line for listings: `200 epochs, Adam lr 0.01, weight decay 5e-4, keep best val acc`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} epochs, Adam lr {}, weight decay {}",
            self.epochs, self.lr, self.weight_decay
        );
        if let Some(d) = self.lr_decay {
            s.push_str(&format!(", lr ×{} every {} epochs", d.factor, d.every));
        }
        if let Some(p) = self.patience {
            s.push_str(&format!(", patience {p}"));
        }
        if let Some(c) = self.clip_grad_norm {
            s.push_str(&format!(", gradient norm clipped at {c}"));
        }
        if self.eval_every > 1 {
            s.push_str(&format!(", evaluate every {} epochs", self.eval_every));
        }
        s.push_str(&format!(", select by {}", self.selection.name()));
        s
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
            eval_every: 1,
            clip_grad_norm: None,
        }
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

    #[test]
    fn an_unclipped_config_serialises_as_before_the_bound_existed() {
        let json = serde_json::to_value(FitConfig::default()).unwrap();
        assert!(json.get("clip_grad_norm").is_none(), "{json}");
        let clipped = FitConfig {
            clip_grad_norm: Some(1.0),
            ..FitConfig::default()
        };
        let back: FitConfig =
            serde_json::from_value(serde_json::to_value(&clipped).unwrap()).unwrap();
        assert_eq!(back, clipped);
    }

    #[test]
    fn selections_round_trip_their_names() {
        for s in [
            Selection::ValMetric,
            Selection::ValLoss,
            Selection::ValMetricAndLoss,
            Selection::Last,
        ] {
            assert_eq!(s.name().parse::<Selection>(), Ok(s));
        }
    }
}
