//! [`ModelConfig`]: an architecture as model cards and exported files store it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::SpecError;

/// An architecture of any registered model: its name and the fields of its configuration,
/// stored flat (`{"kind": "gcn", "d_input": 1433, "d_output": 7, …}`), the form of the
/// `model` field of a model card and of the `gnn.model` metadata of an exported file. The
/// registry's entry for `kind` reads the fields as its typed configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The model's registered name.
    pub kind: String,
    /// The fields of its configuration.
    #[serde(flatten)]
    pub params: Map<String, Value>,
}

impl ModelConfig {
    /// The configuration `config` of model `kind`.
    pub fn new<C: Serialize>(kind: &str, config: &C) -> Result<Self, SpecError> {
        match serde_json::to_value(config) {
            Ok(Value::Object(params)) if !params.contains_key("kind") => Ok(ModelConfig {
                kind: kind.to_string(),
                params,
            }),
            Ok(_) => Err(SpecError::architecture(
                kind,
                "its configuration is not a JSON object without a 'kind' field",
            )),
            Err(e) => Err(SpecError::architecture(kind, e.to_string())),
        }
    }

    /// The fields as the typed configuration `C`.
    pub fn parse<C: DeserializeOwned>(&self) -> Result<C, SpecError> {
        serde_json::from_value(Value::Object(self.params.clone())).map_err(|e| {
            SpecError::architecture(&self.kind, format!("not a valid configuration: {e}"))
        })
    }
}
