//! Model directories: `model.json` (the model card) and `model.bpk` (the weights, Burn's
//! burnpack format). `gnn train --save DIR` writes one; `gnn eval`, `gnn predict` and
//! `gnn export` read one; `gnn import` makes one from PyG weights.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use gnn_models::registry::{ModelConfig, Registry};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::experiment::ExperimentSpec;
use crate::model::TrainedModel;

/// The model card's file name in a model directory.
pub const CARD_FILE: &str = "model.json";
/// The weights' file name in a model directory.
pub const WEIGHTS_FILE: &str = "model.bpk";
/// The card format this version writes and reads.
pub const CARD_FORMAT: &str = "gnn-model-card/1";

/// Everything needed to rebuild, evaluate and account for a saved model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCard {
    /// [`CARD_FORMAT`].
    pub format: String,
    /// The architecture (`{"kind": <registered name>, ...its configuration}`).
    pub model: ModelConfig,
    /// The dataset it was trained on (or is meant for, when imported).
    pub dataset: String,
    /// Input preprocessing.
    pub preprocessing: Preprocessing,
    /// The training settings (absent for imported weights).
    pub training: Option<ExperimentSpec>,
    /// The seed of the saved run.
    pub seed: Option<u64>,
    /// The epoch whose weights were kept.
    pub best_epoch: Option<usize>,
    /// Accuracy per split at that epoch (`train`, `val`, `test`), as the training loop measured it.
    pub metrics: BTreeMap<String, f64>,
    /// Backend the weights were trained (or imported) on.
    pub backend: String,
    /// `gnn-train` version.
    pub gnn_version: String,
    /// Burn version.
    pub burn_version: String,
    /// When the card was written (UTC, RFC 3339).
    pub created: String,
    /// Where the weights came from: `trained`, or `imported from PyG: <file>`.
    pub source: String,
}

/// How the input features are prepared before the model sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Node datasets: features row-normalised (`x_i / Σ_j x_ij`). Graph datasets: continuous
    /// node attributes standardised with the training graphs' statistics.
    pub normalize_features: bool,
}

/// The Burn version this build uses.
pub const BURN_VERSION: &str = "0.22.1";

impl ModelCard {
    /// A card for `model` with the build's versions and the current time.
    pub fn new(
        model: ModelConfig,
        dataset: &str,
        preprocessing: Preprocessing,
        backend: &str,
    ) -> Self {
        ModelCard {
            format: CARD_FORMAT.into(),
            model,
            dataset: dataset.into(),
            preprocessing,
            training: None,
            seed: None,
            best_epoch: None,
            metrics: BTreeMap::new(),
            backend: backend.into(),
            gnn_version: env!("CARGO_PKG_VERSION").into(),
            burn_version: BURN_VERSION.into(),
            created: utc_now(),
            source: "trained".into(),
        }
    }
}

/// A model directory's card and weights, loaded.
#[derive(Debug, Clone)]
pub struct SavedModel {
    /// The card.
    pub card: ModelCard,
    /// The model with its weights, on the device it was loaded to.
    pub model: TrainedModel,
}

fn dir_error(path: &Path, reason: impl ToString) -> TrainError {
    TrainError::Model {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl SavedModel {
    /// Writes `DIR/model.json` and `DIR/model.bpk`. Both are written into a temporary
    /// directory beside `dir` first, which then replaces `dir`, so that a reader never sees
    /// a card with other weights or half a file.
    pub fn save(card: &ModelCard, model: &TrainedModel, dir: &Path) -> Result<(), TrainError> {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dir
            .file_name()
            .ok_or_else(|| dir_error(dir, "not a directory name"))?
            .to_string_lossy()
            .into_owned();
        if dir.exists() && !dir.join(CARD_FILE).is_file() {
            return Err(dir_error(
                dir,
                "exists and is not a model directory; refusing to replace it",
            ));
        }
        let tmp = parent.join(format!(".{name}.{}.partial", std::process::id()));
        let old = parent.join(format!(".{name}.{}.old", std::process::id()));
        let write = || -> Result<(), TrainError> {
            std::fs::create_dir_all(&tmp).map_err(|e| dir_error(&tmp, e))?;
            model
                .save_weights(&tmp.join(WEIGHTS_FILE))
                .map_err(|e| dir_error(dir, e))?;
            let json = serde_json::to_string_pretty(card).map_err(|e| dir_error(dir, e))?;
            std::fs::write(tmp.join(CARD_FILE), json).map_err(|e| dir_error(dir, e))?;
            if dir.exists() {
                std::fs::rename(dir, &old).map_err(|e| dir_error(dir, e))?;
            }
            std::fs::rename(&tmp, dir).map_err(|e| dir_error(dir, e))?;
            let _ = std::fs::remove_dir_all(&old);
            Ok(())
        };
        let result = write();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }

    /// Reads a model directory's card, its architecture checked by the library's registry.
    pub fn read_card(dir: &Path) -> Result<ModelCard, TrainError> {
        Self::read_card_with(&Registry::builtin(), dir)
    }

    /// Reads a model directory's card; its model must be registered in `registry`, which
    /// checks the architecture before anything is built.
    pub fn read_card_with(registry: &Registry, dir: &Path) -> Result<ModelCard, TrainError> {
        let path = dir.join(CARD_FILE);
        let value: serde_json::Value = read_bounded_json(&path).map_err(|e| dir_error(&path, e))?;
        let card: ModelCard = serde_json::from_value(value)
            .map_err(|e| dir_error(&path, format!("not a valid model card: {e}")))?;
        if card.format != CARD_FORMAT {
            return Err(dir_error(
                &path,
                format!("card format '{}', expected '{CARD_FORMAT}'", card.format),
            ));
        }
        registry
            .get(&card.model.kind)
            .and_then(|entry| entry.validate(&card.model))
            .map_err(|e| dir_error(&path, e))?;
        Ok(card)
    }

    /// Rebuilds the model from the card alone and loads its weights onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<SavedModel, TrainError> {
        Self::load_with(&Registry::builtin(), dir, device)
    }

    /// [`load`](Self::load) for a model registered in `registry` (a model defined outside the
    /// library: `Registry::builtin().with(MySpec)`).
    pub fn load_with(
        registry: &Registry,
        dir: &Path,
        device: &Device,
    ) -> Result<SavedModel, TrainError> {
        let card = Self::read_card_with(registry, dir)?;
        let mut model = TrainedModel::init(registry, &card.model, device)
            .map_err(|e| dir_error(&dir.join(CARD_FILE), e))?;
        let weights = dir.join(WEIGHTS_FILE);
        model
            .load_weights(&weights)
            .map_err(|e| TrainError::Model {
                path: dir.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(SavedModel { card, model })
    }
}

/// The largest model card read (1 MiB).
pub const MAX_CARD_BYTES: u64 = 1 << 20;

/// Reads and parses a JSON file of at most [`MAX_CARD_BYTES`].
fn read_bounded_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_CARD_BYTES {
        return Err(format!(
            "{len} bytes is over the {MAX_CARD_BYTES}-byte limit for a model card"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("not a valid model card: {e}"))
}

/// The current time, UTC, as RFC 3339 (`2026-11-24T08:15:00Z`).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the Unix epoch as an RFC 3339 UTC time.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpnn_cards_without_later_fields_read_as_before() {
        let registry = Registry::builtin();
        let mpnn = gnn_models::models::MpnnConfig::new(7, 2, 4).with_dim(8);
        let config = ModelConfig::new("mpnn", &mpnn).unwrap();
        let card = ModelCard::new(
            config.clone(),
            "tu-mutag",
            Preprocessing {
                normalize_features: false,
            },
            "flex",
        );
        let mut value = serde_json::to_value(&card).unwrap();
        let model = value["model"].as_object_mut().unwrap();
        assert!(model.remove("readout").is_some() && model.remove("dropout").is_some());
        let read: ModelCard = serde_json::from_value(value).unwrap();
        let entry = registry.get("mpnn").unwrap();
        entry.validate(&read.model).unwrap();
        let d = Device::flex();
        let old = TrainedModel::init(&registry, &read.model, &d).unwrap();
        let new = TrainedModel::init(&registry, &config, &d).unwrap();
        assert_eq!(
            old.export_pyg().unwrap().keys().collect::<Vec<_>>(),
            new.export_pyg().unwrap().keys().collect::<Vec<_>>(),
            "a card without readout and dropout rebuilds the Set2Set model"
        );
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_478_400 + 3_661), "2026-11-24T01:01:01Z");
    }
}
