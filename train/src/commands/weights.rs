//! What `gnn export` and `gnn import` do: a model's weights under PyTorch Geometric's names,
//! and a model directory from a PyG `state_dict`.

use std::collections::HashMap;
use std::path::Path;

use gnn_models::interop::{encode_safetensors, read_safetensors};
use gnn_models::registry::{ModelConfig, Registry};

use crate::model::TrainedModel;
use crate::saved::{ModelCard, Preprocessing, SavedModel};
use crate::{Backend, TrainError, output};

/// Metadata key of an exported file holding the architecture (the card's `model` JSON).
pub const CONFIG_METADATA: &str = "gnn.model";

/// Writes the model's weights under PyG's `state_dict` names as safetensors, with the
/// architecture in the metadata (`gnn.model`), atomically.
pub fn export_safetensors(saved: &SavedModel, out: &Path) -> Result<(), TrainError> {
    let config =
        serde_json::to_string(&saved.card.model).map_err(|e| TrainError::Config(e.to_string()))?;
    let meta = HashMap::from([
        (CONFIG_METADATA.to_string(), config),
        ("gnn.dataset".to_string(), saved.card.dataset.clone()),
        ("format".to_string(), "pt".to_string()),
    ]);
    let bytes = encode_safetensors(&saved.model.export_pyg()?, meta).map_err(|reason| {
        TrainError::Output {
            path: out.to_path_buf(),
            reason,
        }
    })?;
    output::write_atomic(out, &bytes)
}

/// Builds a model directory from PyG weights in a safetensors file: the architecture from the
/// file's `gnn.model` metadata when it has one (files `gnn export` wrote), otherwise read off
/// the tensor shapes by the registry's entry for `kind`; loaded strictly.
pub fn import_pyg(
    registry: &Registry,
    file: &Path,
    kind: &str,
    dataset: &str,
    preprocessing: Preprocessing,
    backend: Backend,
    out: &Path,
) -> Result<SavedModel, TrainError> {
    let model_error = |reason: String| TrainError::Model {
        path: file.to_path_buf(),
        reason,
    };
    let (dict, meta) =
        read_safetensors(file).map_err(|e| model_error(strip(e.to_string(), file)))?;
    let entry = registry.get(kind)?;
    let config = match meta.get(CONFIG_METADATA) {
        Some(json) => serde_json::from_str::<ModelConfig>(json)
            .map_err(|e| model_error(format!("metadata '{CONFIG_METADATA}': {e}")))?,
        None => entry.infer(&dict).map_err(|e| model_error(e.to_string()))?,
    };
    if !config.kind.eq_ignore_ascii_case(entry.name()) {
        return Err(model_error(format!(
            "holds a {} model, not a {}",
            config.kind,
            entry.name()
        )));
    }
    let device = backend.device()?;
    let mut model =
        TrainedModel::init(registry, &config, &device).map_err(|e| model_error(e.to_string()))?;
    model
        .import_pyg(dict)
        .map_err(|e| model_error(e.to_string()))?;
    let mut card = ModelCard::new(config, dataset, preprocessing, backend.name());
    card.source = format!("imported from PyG: {}", file.display());
    SavedModel::save(&card, &model, out)?;
    Ok(SavedModel { card, model })
}

/// An error message without a leading `path: ` (the caller names the file itself).
fn strip(msg: String, path: &Path) -> String {
    let prefix = format!("{}: ", path.display());
    msg.strip_prefix(&prefix).map(str::to_string).unwrap_or(msg)
}
