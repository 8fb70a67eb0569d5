//! [`ModelEntry`]: the object-safe face of a [`ModelSpec`], written once for every spec, so
//! that commands, model cards and the bench hold models of any type in one list.

use burn::tensor::Device;
use serde_json::Value;

use super::config::ModelConfig;
use super::dyn_model::DynModel;
use super::error::SpecError;
use super::fit_config::FitConfig;
use super::options::{ModelOptions, OptionDoc, apply_settings, options_from_json};
use super::spec::{DataInfo, ModelSpec, Task};
use crate::interop::{StateDict, export_pyg, import_pyg};

/// A registered model, whatever its type: the [`ModelSpec`] contract with the options as JSON
/// and the architecture as a [`ModelConfig`]. Every `ModelSpec` is one.
pub trait ModelEntry: Send + Sync {
    /// [`ModelSpec::name`].
    fn name(&self) -> &'static str;
    /// [`ModelSpec::about`].
    fn about(&self) -> &'static str;
    /// [`ModelSpec::task`].
    fn task(&self) -> Task;
    /// [`ModelSpec::supports`].
    fn supports(&self, task: Task) -> bool;
    /// [`ModelSpec::has_attention`].
    fn has_attention(&self) -> bool;
    /// [`ModelSpec::bench_datasets`].
    fn bench_datasets(&self) -> &'static [&'static str];
    /// Every option, documented.
    fn option_docs(&self) -> Vec<OptionDoc>;
    /// The paper protocol on `dataset`: the options (a JSON object) and training settings.
    fn protocol(&self, dataset: &str) -> (Value, FitConfig);
    /// `options` (a JSON object of this model's options) with `name=value` settings applied
    /// and type-checked.
    fn apply(&self, options: &Value, settings: &[(String, String)]) -> Result<Value, SpecError>;
    /// The architecture `options` give on a dataset, validated.
    fn config(&self, options: &Value, data: &DataInfo) -> Result<ModelConfig, SpecError>;
    /// Checks an architecture before anything is allocated for it.
    fn validate(&self, config: &ModelConfig) -> Result<(), SpecError>;
    /// Input and output widths `(F, C)` of an architecture.
    fn widths(&self, config: &ModelConfig) -> Result<(usize, usize), SpecError>;
    /// The architecture of a PyG state dict of this model.
    fn infer(&self, dict: &StateDict) -> Result<ModelConfig, SpecError>;
    /// A freshly initialised model of a validated architecture on `device`.
    fn init(&self, config: &ModelConfig, device: &Device) -> Result<Box<dyn DynModel>, SpecError>;
    /// A model's weights under PyG's `state_dict` names and layouts.
    fn export_pyg(&self, model: &dyn DynModel) -> Result<StateDict, SpecError>;
    /// Loads a PyG state dict into a model, strictly (nothing is loaded on any mismatch).
    fn import_pyg(&self, model: &mut dyn DynModel, dict: StateDict) -> Result<(), SpecError>;
    /// [`ModelSpec::pyg_reference`] of an architecture.
    fn pyg_reference(
        &self,
        config: &ModelConfig,
        fit: &FitConfig,
    ) -> Result<Option<Value>, SpecError>;
}

impl std::fmt::Debug for dyn ModelEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelEntry({})", self.name())
    }
}

/// The typed configuration of `config`, after the spec has filled fields that older cards
/// lack.
fn typed<S: ModelSpec>(spec: &S, config: &ModelConfig) -> Result<S::Config, SpecError> {
    if config.kind != spec.name() {
        return Err(SpecError::architecture(
            spec.name(),
            format!("the configuration is of a {} model", config.kind),
        ));
    }
    let mut upgraded = config.clone();
    spec.upgrade_config(&mut upgraded.params);
    upgraded.parse()
}

/// The concrete model behind `model`, or the error that it is another model's.
fn concrete<'m, S: ModelSpec>(
    spec: &S,
    model: &'m dyn DynModel,
) -> Result<&'m S::Model, SpecError> {
    model
        .as_any()
        .downcast_ref::<S::Model>()
        .ok_or_else(|| SpecError::architecture(spec.name(), "the model is of another type"))
}

impl<S: ModelSpec> ModelEntry for S {
    fn name(&self) -> &'static str {
        ModelSpec::name(self)
    }

    fn about(&self) -> &'static str {
        ModelSpec::about(self)
    }

    fn task(&self) -> Task {
        ModelSpec::task(self)
    }

    fn supports(&self, task: Task) -> bool {
        ModelSpec::supports(self, task)
    }

    fn has_attention(&self) -> bool {
        ModelSpec::has_attention(self)
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        ModelSpec::bench_datasets(self)
    }

    fn option_docs(&self) -> Vec<OptionDoc> {
        S::Options::docs()
    }

    fn protocol(&self, dataset: &str) -> (Value, FitConfig) {
        let p = ModelSpec::protocol(self, &dataset.to_ascii_lowercase());
        // Options are plain serde structs: serialising them cannot fail.
        let options = serde_json::to_value(&p.options).unwrap_or(Value::Null);
        (options, p.fit)
    }

    fn apply(&self, options: &Value, settings: &[(String, String)]) -> Result<Value, SpecError> {
        let name = ModelSpec::name(self);
        let base: S::Options = options_from_json(name, options)?;
        let applied = apply_settings(name, &base, settings)?;
        serde_json::to_value(&applied).map_err(|e| SpecError::architecture(name, e.to_string()))
    }

    fn config(&self, options: &Value, data: &DataInfo) -> Result<ModelConfig, SpecError> {
        let options: S::Options = options_from_json(ModelSpec::name(self), options)?;
        let config = ModelSpec::config(self, &options, data)?;
        ModelSpec::validate(self, &config)?;
        ModelConfig::new(ModelSpec::name(self), &config)
    }

    fn validate(&self, config: &ModelConfig) -> Result<(), SpecError> {
        ModelSpec::validate(self, &typed(self, config)?)
    }

    fn widths(&self, config: &ModelConfig) -> Result<(usize, usize), SpecError> {
        Ok(ModelSpec::widths(self, &typed(self, config)?))
    }

    fn infer(&self, dict: &StateDict) -> Result<ModelConfig, SpecError> {
        let config = ModelSpec::infer(self, dict)?;
        ModelConfig::new(ModelSpec::name(self), &config)
    }

    fn init(&self, config: &ModelConfig, device: &Device) -> Result<Box<dyn DynModel>, SpecError> {
        let config = typed(self, config)?;
        ModelSpec::validate(self, &config)?;
        Ok(Box::new(ModelSpec::init(self, &config, device)?))
    }

    fn export_pyg(&self, model: &dyn DynModel) -> Result<StateDict, SpecError> {
        Ok(export_pyg(concrete(self, model)?))
    }

    fn import_pyg(&self, model: &mut dyn DynModel, dict: StateDict) -> Result<(), SpecError> {
        let name = ModelSpec::name(self);
        let model = model
            .as_any_mut()
            .downcast_mut::<S::Model>()
            .ok_or_else(|| SpecError::architecture(name, "the model is of another type"))?;
        import_pyg(model, dict)?;
        Ok(())
    }

    fn pyg_reference(
        &self,
        config: &ModelConfig,
        fit: &FitConfig,
    ) -> Result<Option<Value>, SpecError> {
        Ok(ModelSpec::pyg_reference(self, &typed(self, config)?, fit))
    }
}
