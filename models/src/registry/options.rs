//! A model's options (hyperparameters): a serde struct with a default per field and a doc
//! comment per field, declared with [`model_options!`](crate::model_options), and the
//! `name=value` settings a command line applies to it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::SpecError;

/// One option of a model, for listings (`gnn models`) and help texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionDoc {
    /// Its name (`out_heads`; `--out-heads` on the command line).
    pub name: &'static str,
    /// Its Rust type, as written (`usize`, `Option<usize>`, `Aggregation`).
    pub ty: &'static str,
    /// Its documentation, one paragraph.
    pub doc: String,
}

impl OptionDoc {
    /// An option from its declaration: name, doc-comment lines, type.
    pub fn new(name: &'static str, doc: &[&str], ty: &'static str) -> Self {
        let doc = doc
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        OptionDoc { name, ty, doc }
    }
}

/// A model's options: serialisable (model cards store them), with defaults, each field
/// documented. Declare them with [`model_options!`](crate::model_options).
pub trait ModelOptions:
    Serialize + DeserializeOwned + Clone + std::fmt::Debug + Default + Send + Sync + 'static
{
    /// Every option, in declaration order.
    fn docs() -> Vec<OptionDoc>;
}

/// Declares a model's options: a struct whose fields each have a doc comment and a default,
/// with [`ModelOptions`] implemented (serde, `Default`, the docs).
///
/// ```
/// gnn_models::model_options! {
///     /// Options of my model.
///     pub struct MyOptions {
///         /// Hidden features.
///         pub hidden: usize = 16,
///         /// Dropout on the hidden features.
///         pub dropout: f64 = 0.5,
///     }
/// }
/// use gnn_models::registry::ModelOptions;
/// assert_eq!(MyOptions::default().hidden, 16);
/// assert_eq!(MyOptions::docs()[1].doc, "Dropout on the hidden features.");
/// ```
#[macro_export]
macro_rules! model_options {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $fvis:vis $field:ident : $ty:ty = $default:expr
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, $crate::__serde::Serialize, $crate::__serde::Deserialize)]
        #[serde(crate = "gnn_models::__serde", default, deny_unknown_fields)]
        $vis struct $name {
            $( $(#[doc = $doc])* $fvis $field: $ty, )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl $crate::registry::ModelOptions for $name {
            fn docs() -> ::std::vec::Vec<$crate::registry::OptionDoc> {
                ::std::vec![$(
                    $crate::registry::OptionDoc::new(
                        ::core::stringify!($field),
                        &[$($doc),*],
                        ::core::stringify!($ty),
                    )
                ),*]
            }
        }
    };
}

/// A setting's value as JSON: JSON itself (`16`, `0.5`, `true`, `null`), `none` for `null`,
/// anything else a string (`mean`, `jk-sum`).
fn parse_value(raw: &str) -> Value {
    if raw.eq_ignore_ascii_case("none") {
        return Value::Null;
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// `options` with `settings` applied: each `(name, value)` names an option (`out_heads` or
/// `out-heads`) and gives a value read as JSON (`none`, numbers, booleans; anything else a
/// string); each is checked against the
/// option's type as it is applied, so an error names the setting at fault.
pub fn apply_settings<O: ModelOptions>(
    model: &str,
    options: &O,
    settings: &[(String, String)],
) -> Result<O, SpecError> {
    let mut value =
        serde_json::to_value(options).map_err(|e| SpecError::architecture(model, e.to_string()))?;
    let mut typed = options.clone();
    for (name, raw) in settings {
        let name = name.replace('-', "_");
        if !value.as_object().is_some_and(|f| f.contains_key(&name)) {
            let known: Vec<String> = O::docs()
                .iter()
                .map(|d| format!("--{}", d.name.replace('_', "-")))
                .collect();
            return Err(SpecError::UnknownOption {
                model: model.to_string(),
                option: name,
                known: known.join(", "),
            });
        }
        // `none` is `null` for an optional option, the string for an enum with a `none`.
        let mut candidates = vec![parse_value(raw)];
        if candidates[0].is_null() {
            candidates.push(Value::String(raw.to_ascii_lowercase()));
        }
        let mut failure = None;
        let mut applied = None;
        for candidate in candidates {
            let mut trial = value.clone();
            if let Some(fields) = trial.as_object_mut() {
                fields.insert(name.clone(), candidate);
            }
            match serde_json::from_value::<O>(trial.clone()) {
                Ok(t) => {
                    applied = Some((trial, t));
                    break;
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        let Some((v, t)) = applied else {
            return Err(SpecError::InvalidValue {
                option: name.clone(),
                value: raw.clone(),
                reason: failure.map_or_else(String::new, |e| e.to_string()),
            });
        };
        (value, typed) = (v, t);
    }
    Ok(typed)
}

/// Options read back from JSON (a model card, a protocol): fields it lacks take their
/// defaults, unknown fields are an error.
pub fn options_from_json<O: ModelOptions>(model: &str, value: &Value) -> Result<O, SpecError> {
    serde_json::from_value(value.clone())
        .map_err(|e| SpecError::architecture(model, format!("options: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_passing::Aggregation;

    crate::model_options! {
        /// Test options.
        pub struct Demo {
            /// Hidden
            /// features.
            pub hidden: usize = 16,
            /// Bases, or none.
            pub bases: Option<usize> = None,
            /// The aggregation.
            pub aggr: Aggregation = Aggregation::Mean,
            /// Dropout.
            pub dropout: f64 = 0.5,
        }
    }

    fn set(pairs: &[(&str, &str)]) -> Result<Demo, SpecError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        apply_settings("demo", &Demo::default(), &pairs)
    }

    #[test]
    fn docs_defaults_and_settings() {
        let docs = Demo::docs();
        assert_eq!(docs[0].name, "hidden");
        assert_eq!(docs[0].doc, "Hidden features.");
        assert_eq!(docs[1].ty, "Option<usize>");
        let o = set(&[
            ("hidden", "8"),
            ("bases", "30"),
            ("aggr", "add"),
            ("dropout", "0"),
        ])
        .unwrap();
        assert_eq!(
            o,
            Demo {
                hidden: 8,
                bases: Some(30),
                aggr: Aggregation::Sum,
                dropout: 0.0
            }
        );
        assert_eq!(set(&[("bases", "none")]).unwrap().bases, None);
        // A card's options without a later field read with its default.
        let read: Demo = options_from_json("demo", &serde_json::json!({"hidden": 4})).unwrap();
        assert_eq!((read.hidden, read.dropout), (4, 0.5));
    }

    #[test]
    fn bad_settings_name_the_option() {
        let e = set(&[("heads", "8")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "demo has no option --heads (its options: --hidden, --bases, --aggr, --dropout)"
        );
        let e = set(&[("hidden", "8"), ("aggr", "median")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid value 'median' for --aggr: unknown variant"),
            "{e}"
        );
        let e = set(&[("hidden", "-3")]).unwrap_err().to_string();
        assert!(e.starts_with("invalid value '-3' for --hidden"), "{e}");
        assert!(options_from_json::<Demo>("demo", &serde_json::json!({"heads": 1})).is_err());
    }
}
