//! What `gnn models` prints: every registered model with its task, options and defaults, and
//! its training protocol.

use std::fmt::Write as _;

use gnn_models::registry::{OptionDoc, Registry, Task, flag_name};
use serde::Serialize;
use serde_json::Value;

/// One option of the registry's models: its documentation and which models have it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedOption {
    /// The option's name.
    pub name: &'static str,
    /// Its documentation (from the first model that has it).
    pub doc: String,
    /// The models that have it.
    pub models: Vec<&'static str>,
}

/// Every option name of the registry's models, in first-seen order, with the models that have
/// it: the flags `gnn train` accepts.
pub fn shared_options(registry: &Registry) -> Vec<SharedOption> {
    let mut all: Vec<SharedOption> = Vec::new();
    for entry in registry.iter() {
        for OptionDoc { name, doc, .. } in entry.option_docs() {
            match all.iter_mut().find(|o| o.name == name) {
                Some(o) => o.models.push(entry.name()),
                None => all.push(SharedOption {
                    name,
                    doc,
                    models: vec![entry.name()],
                }),
            }
        }
    }
    all
}

/// A value as the command line writes it (`none` for null, strings unquoted).
fn display(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The registry as text: per model its name, task and description, each option as a flag with
/// its default, and the default training protocol.
pub fn listing(registry: &Registry) -> String {
    let mut s = String::new();
    for entry in registry.iter() {
        let (options, fit) = entry.protocol("");
        let tasks: Vec<&str> = [Task::Node, Task::Graph, Task::Link]
            .into_iter()
            .filter(|&t| entry.supports(t))
            .map(Task::name)
            .collect();
        let _ = writeln!(
            s,
            "{} ({}-level): {}",
            entry.name(),
            tasks.join("- and "),
            entry.about()
        );
        for doc in entry.option_docs() {
            let default = options.get(doc.name).map(display).unwrap_or_default();
            let flag = format!("--{} {default}", flag_name(doc.name));
            let _ = writeln!(s, "    {flag:<28} {}", doc.doc);
        }
        let _ = writeln!(s, "    training: {}", fit.summary());
        s.push('\n');
    }
    s.push_str(
        "Options are set with their flag or --set NAME=VALUE; the defaults above are the general\n\
         protocol, and some models' protocols differ per dataset (`gnn models --json` lists\n\
         them for --dataset).\n",
    );
    s
}

/// The registry as JSON: per model its name, task, description, options (name, type,
/// documentation, default) and protocol on `dataset`.
pub fn listing_json(registry: &Registry, dataset: &str) -> Value {
    let models: Vec<Value> = registry
        .iter()
        .map(|entry| {
            let (options, fit) = entry.protocol(dataset);
            let docs: Vec<Value> = entry
                .option_docs()
                .into_iter()
                .map(|d| {
                    serde_json::json!({
                        "name": d.name,
                        "type": d.ty,
                        "doc": d.doc,
                        "default": options.get(d.name).cloned().unwrap_or(Value::Null),
                    })
                })
                .collect();
            serde_json::json!({
                "name": entry.name(),
                "task": entry.task(),
                "about": entry.about(),
                "attention": entry.has_attention(),
                "options": docs,
                "fit": fit,
            })
        })
        .collect();
    serde_json::json!({ "dataset": dataset, "models": models })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_model_with_its_options() {
        let registry = Registry::builtin();
        let text = listing(&registry);
        for name in registry.names() {
            assert!(
                text.contains(&format!("{name} (")),
                "{name} missing:\n{text}"
            );
        }
        assert!(text.contains("--heads 8"), "{text}");
        let shared = shared_options(&registry);
        let hidden = shared.iter().find(|o| o.name == "hidden").unwrap();
        assert!(hidden.models.len() > 5, "{:?}", hidden.models);
        assert!(hidden.models.contains(&"mpnn"), "{:?}", hidden.models);
        // SGC is a linear model on propagated features: no hidden layer to size.
        assert!(!hidden.models.contains(&"sgc"), "{:?}", hidden.models);
        let json = listing_json(&registry, "pubmed");
        let gat = json["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "gat")
            .unwrap();
        let out_heads = gat["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "out_heads")
            .unwrap();
        assert_eq!(out_heads["default"], 8, "GAT's PubMed protocol");
    }
}
