//! [`SpecError`]: why a model could not be chosen, configured, checked or built.

use crate::interop::InteropError;

/// An option's name as a command-line flag: `out_heads` → `out-heads`.
pub fn flag_name(option: &str) -> String {
    option.replace('_', "-")
}

/// Why a model could not be chosen, configured, checked or built. Options are named as
/// command-line flags (`--heads`), which is also how `gnn train` takes them.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// No model of that name is registered.
    #[error("unknown model '{name}' ({known})")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// The model has no option of that name.
    #[error("{model} has no option --{} (its options: {known})", flag_name(option))]
    UnknownOption {
        /// The model.
        model: String,
        /// The option asked for.
        option: String,
        /// Its options, comma-separated.
        known: String,
    },
    /// A value that does not parse as the option's type.
    #[error("invalid value '{value}' for --{}: {reason}", flag_name(option))]
    InvalidValue {
        /// The option.
        option: String,
        /// The value given.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// An option's value is out of range (`--heads must be at least 1, got 0`).
    #[error("--{} {reason}", flag_name(option))]
    Option {
        /// The option.
        option: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// The dataset does not fit the model (no relation types for R-GCN, a node dataset for a
    /// graph-level model).
    #[error("{0}")]
    Data(String),
    /// An architecture that cannot be built: a width of 0, too many parameters, a
    /// configuration that does not parse.
    #[error("{model} model: {reason}")]
    Architecture {
        /// The model.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// A state dict that is not this model's (read off its tensor names and shapes).
    #[error("{0}")]
    StateDict(String),
    /// Weights that do not fit the model.
    #[error(transparent)]
    Weights(#[from] InteropError),
}

impl SpecError {
    /// An option out of range.
    pub fn option(option: &str, reason: impl Into<String>) -> Self {
        SpecError::Option {
            option: option.to_string(),
            reason: reason.into(),
        }
    }

    /// An architecture that cannot be built.
    pub fn architecture(model: &str, reason: impl Into<String>) -> Self {
        SpecError::Architecture {
            model: model.to_string(),
            reason: reason.into(),
        }
    }
}

/// `value ≥ 1`, else the error naming `option`.
pub fn at_least_one(option: &str, value: usize) -> Result<(), SpecError> {
    if value == 0 {
        return Err(SpecError::option(option, "must be at least 1, got 0"));
    }
    Ok(())
}

/// `value` in `[0, 1)` (a dropout probability), else the error naming `option`.
pub fn probability(option: &str, value: f64) -> Result<(), SpecError> {
    if !(0.0..1.0).contains(&value) {
        return Err(SpecError::option(
            option,
            format!("must be in [0, 1), got {value}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_named_as_flags() {
        assert_eq!(
            at_least_one("out_heads", 0).unwrap_err().to_string(),
            "--out-heads must be at least 1, got 0"
        );
        assert_eq!(
            probability("dropout", 1.5).unwrap_err().to_string(),
            "--dropout must be in [0, 1), got 1.5"
        );
        assert!(probability("dropout", f64::NAN).is_err());
        assert!(probability("dropout", 0.0).is_ok() && at_least_one("heads", 1).is_ok());
    }
}
