//! The model registry: every model the library trains, saves, evaluates, exports, imports and
//! benchmarks enters through one [`ModelSpec`], implemented in the model's own file, and one
//! registration line ([`crate::models::builtin`]). Commands, model cards and the bench iterate
//! a [`Registry`] and never name a model.
//!
//! - [`ModelSpec`]: the contract (name, task, options with defaults, per-dataset protocols,
//!   validation and parameter bound, architecture from PyG shapes, `init`).
//! - [`ModelEntry`]: its object-safe face, written once for every spec.
//! - [`DynModel`]: a built model behind one object-safe face, written once for every
//!   [`GraphModel`](crate::GraphModel).
//! - [`ModelConfig`]: an architecture as model cards store it.
//! - [`model_options!`](crate::model_options): a model's documented options with defaults.
//! - [`FitConfig`]: a protocol's optimiser and schedule.
//!
//! A model defined outside this crate registers the same way:
//! `Registry::builtin().with(MySpec)` (see `train/examples/custom_layer.rs`).

pub mod bound;
mod config;
mod dyn_model;
mod entry;
mod error;
mod fit_config;
mod grad_norm;
mod options;
mod spec;

use std::sync::Arc;

pub use bound::{Count, MAX_PARAMETERS, MAX_STEPS, dims};
pub use config::ModelConfig;
pub use dyn_model::DynModel;
pub use entry::ModelEntry;
pub use error::{SpecError, at_least_one, flag_name, probability};
pub use fit_config::{FitConfig, LrDecay, Selection};
pub use grad_norm::clip_grad_norm;
pub use options::{ModelOptions, OptionDoc, apply_settings, options_from_json};
pub use spec::{DataInfo, ModelSpec, Protocol, Task};

/// Registered models, by name, in registration order.
#[derive(Clone, Default)]
pub struct Registry {
    entries: Vec<Arc<dyn ModelEntry>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every model of this library ([`crate::models::builtin`]).
    pub fn builtin() -> Self {
        crate::models::builtin()
    }

    /// The registry with `spec` added; a model registered under the same name is replaced.
    pub fn with(mut self, spec: impl ModelSpec) -> Self {
        let entry: Arc<dyn ModelEntry> = Arc::new(spec);
        match self.entries.iter().position(|e| e.name() == entry.name()) {
            Some(i) => self.entries[i] = entry,
            None => self.entries.push(entry),
        }
        self
    }

    /// The model registered as `name` (case-insensitive), or the error listing the names.
    pub fn get(&self, name: &str) -> Result<&Arc<dyn ModelEntry>, SpecError> {
        self.entries
            .iter()
            .find(|e| e.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| SpecError::UnknownModel {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }

    /// Every registered model.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn ModelEntry>> {
        self.entries.iter()
    }

    /// The registered names, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name()).collect()
    }

    /// The names of the models that train on datasets of `task`, comma-separated (for
    /// messages).
    pub fn names_for(&self, task: Task) -> String {
        let names: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| e.supports(task))
            .map(|e| e.name())
            .collect();
        names.join(", ")
    }
}
