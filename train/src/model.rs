//! [`TrainedModel`]: a model of any registered kind with its architecture, ready to predict,
//! save, evaluate and exchange its weights.

use std::path::Path;
use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use gnn_models::interop::{InteropError, StateDict};
use gnn_models::registry::{DynModel, ModelConfig, ModelEntry, Registry};
use gnn_models::{Features, Graph};

use crate::TrainError;
use crate::data::TrainData;
use crate::fit::{Scores, evaluate};

/// A model with its architecture and its registry entry (in eval mode after training).
pub struct TrainedModel {
    entry: Arc<dyn ModelEntry>,
    config: ModelConfig,
    model: Box<dyn DynModel>,
}

impl Clone for TrainedModel {
    fn clone(&self) -> Self {
        TrainedModel {
            entry: self.entry.clone(),
            config: self.config.clone(),
            model: self.model.clone_box(),
        }
    }
}

impl std::fmt::Debug for TrainedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainedModel")
            .field("config", &self.config)
            .field("model", &self.model)
            .finish()
    }
}

impl TrainedModel {
    /// A model built by `entry` for architecture `config`.
    pub fn new(entry: Arc<dyn ModelEntry>, config: ModelConfig, model: Box<dyn DynModel>) -> Self {
        TrainedModel {
            entry,
            config,
            model,
        }
    }

    /// A freshly initialised model of architecture `config` on `device`, checked first by the
    /// registry's entry for `config.kind`.
    pub fn init(
        registry: &Registry,
        config: &ModelConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let entry = registry.get(&config.kind)?.clone();
        let model = entry.init(config, device)?;
        Ok(TrainedModel::new(entry, config.clone(), model))
    }

    /// The architecture.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The registry entry of its kind.
    pub fn entry(&self) -> &Arc<dyn ModelEntry> {
        &self.entry
    }

    /// The model behind its object-safe face.
    pub fn model(&self) -> &dyn DynModel {
        self.model.as_ref()
    }

    /// The concrete model, if it is an `M`.
    pub fn downcast_ref<M: 'static>(&self) -> Option<&M> {
        self.model.as_any().downcast_ref::<M>()
    }

    /// Output logits `[N, C]` (node models) or `[B, C]` (graph models).
    pub fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, TrainError> {
        Ok(self.model.forward(x, graph)?)
    }

    /// Scores of every split of `data` (as the training loop computes them).
    pub fn evaluate(&self, data: &dyn TrainData) -> Result<Scores, TrainError> {
        evaluate(self.model.as_ref(), data)
    }

    /// Writes the weights (burnpack) atomically.
    pub fn save_weights(&self, path: &Path) -> Result<(), InteropError> {
        self.model.save_weights(path)
    }

    /// Loads weights written by [`save_weights`](Self::save_weights), strictly.
    pub fn load_weights(&mut self, path: &Path) -> Result<(), InteropError> {
        self.model.load_weights(path)
    }

    /// The weights under PyG's `state_dict` names and layouts.
    pub fn export_pyg(&self) -> Result<StateDict, TrainError> {
        Ok(self.entry.export_pyg(self.model.as_ref())?)
    }

    /// Loads a PyG state dict, strictly.
    pub fn import_pyg(&mut self, dict: StateDict) -> Result<(), TrainError> {
        Ok(self.entry.import_pyg(self.model.as_mut(), dict)?)
    }
}
