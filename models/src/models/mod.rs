//! Complete models built from the layers, each with its [`ModelSpec`](crate::registry::ModelSpec)
//! in its own file, and [`builtin`]: the registry of them all.

mod appnp;
mod cheb;
mod gae;
mod gat;
mod gatv2;
mod gcn;
mod gin;
mod mpnn;
mod rgcn;
mod rgcn_distmult;
mod sage;
mod sgc;
mod stack;
mod transformer;

pub use appnp::{AppnpNet, AppnpNetConfig, AppnpOptions, AppnpSpec};
pub use cheb::{ChebOptions, ChebStack};
pub use gae::{Encoding, Gae, GaeConfig, GaeOptions, GaeSpec};
pub use gat::{Gat, GatConfig, GatOptions, GatSpec, gat_protocol};
pub use gatv2::{GatV2, GatV2Spec};
pub use gcn::{Gcn, GcnConfig, GcnOptions, GcnSpec};
pub use gin::{GinOptions, GinStack};
pub use mpnn::{Mpnn, MpnnConfig, MpnnOptions, MpnnSpec, Readout};
pub use rgcn::{Rgcn, RgcnConfig, RgcnOptions, RgcnSpec, SelfLoop};
pub use rgcn_distmult::{RgcnDistMult, RgcnDistMultConfig, RgcnDistMultOptions, RgcnDistMultSpec};
pub use sage::{SageOptions, SageStack};
pub use sgc::{Sgc, SgcConfig, SgcOptions, SgcSpec};
pub use stack::{
    Act, Jk, Norm, NormKind, Pool, Stack, StackCommon, StackConfig, StackDef, StackLayer,
    StackOptions, StackSpec,
};
pub use transformer::{TransformerOptions, TransformerStack};

use crate::registry::Registry;

/// Every model of this library, one registration line each, in the order `gnn models` lists
/// them.
pub fn builtin() -> Registry {
    Registry::new()
        .with(GcnSpec)
        .with(GatSpec)
        .with(GatV2Spec)
        .with(RgcnSpec)
        .with(MpnnSpec)
        .with(StackSpec(SageStack))
        .with(StackSpec(GinStack))
        .with(StackSpec(TransformerStack))
        .with(StackSpec(ChebStack))
        .with(SgcSpec)
        .with(AppnpSpec)
        .with(GaeSpec::GAE)
        .with(GaeSpec::VGAE)
        .with(RgcnDistMultSpec)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::registry::{DataInfo, ModelEntry, Task};

    /// A dataset each model can be built for: relations and edge features for those that
    /// need them.
    fn data_for(entry: &dyn ModelEntry) -> DataInfo {
        DataInfo {
            name: "toy".into(),
            task: entry.task(),
            num_features: 6,
            // R-GCN + DistMult learns its own input: the toy graph is a featureless one then.
            featureless: entry.name() == "rgcn-distmult",
            num_outputs: 3,
            num_relations: 2,
            edge_dim: 4,
        }
    }

    /// The options each model is built with in these tests: link models' embeddings as wide
    /// as the other models' outputs.
    fn options_for(entry: &dyn ModelEntry) -> serde_json::Value {
        let (options, _) = entry.protocol("");
        let width = match entry.name() {
            "gae" | "vgae" => ("latent", "3"),
            "rgcn-distmult" => ("hidden", "3"),
            _ => return options,
        };
        let mut settings = vec![(width.0.to_string(), width.1.to_string())];
        if entry.name() == "rgcn-distmult" {
            settings.push(("blocks".into(), "none".into()));
        }
        entry.apply(&options, &settings).unwrap()
    }

    #[test]
    fn every_model_is_registered_once_and_found_by_name() {
        let registry = builtin();
        let names = registry.names();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert_eq!(registry.get("GCN").unwrap().name(), "gcn");
        let e = registry.get("gnc").unwrap_err().to_string();
        assert_eq!(e, format!("unknown model 'gnc' ({})", names.join(", ")));
        assert_eq!(
            registry.names_for(Task::Graph),
            "mpnn, sage, gin, transformer, cheb"
        );
    }

    #[test]
    fn every_model_builds_counts_and_reads_its_architecture_back_from_pyg_shapes() {
        let d = Device::flex();
        for entry in builtin().iter() {
            let options = options_for(entry.as_ref());
            let config = entry.config(&options, &data_for(entry.as_ref())).unwrap();
            entry.validate(&config).unwrap();
            let model = entry.init(&config, &d).unwrap();
            let dict = entry.export_pyg(model.as_ref()).unwrap();
            // Every parameter is exported (buffers too: GIN's fixed ε, batch norm statistics).
            let exported: usize = dict.values().map(|t| t.values.len()).sum();
            assert!(exported >= model.num_params(), "{}", entry.name());
            assert_eq!(entry.infer(&dict).unwrap(), config, "{}", entry.name());
            assert_eq!(entry.widths(&config).unwrap(), (6, 3));
        }
    }

    /// A graph classifier with a two-layer head reads back whether it pools its input
    /// features from the head's input width (`F + L·H` against `L·H`).
    #[test]
    fn a_graph_head_reads_back_its_input_readout() {
        let registry = builtin();
        let entry = registry.get("gin").unwrap();
        let data = DataInfo {
            task: Task::Graph,
            ..data_for(entry.as_ref())
        };
        for readout_input in ["false", "true"] {
            let (options, _) = entry.protocol("");
            let settings = [
                ("head_layers", "2"),
                ("layers", "3"),
                ("readout_input", readout_input),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()));
            let options = entry.apply(&options, &settings).unwrap();
            let config = entry.config(&options, &data).unwrap();
            let model = entry.init(&config, &Device::flex()).unwrap();
            let dict = entry.export_pyg(model.as_ref()).unwrap();
            let [_, read] = dict["head.weight"].shape[..] else {
                panic!("head.weight is a matrix")
            };
            let pooled = if readout_input == "true" { 6 } else { 0 };
            assert_eq!(read, pooled + 3 * 64);
            assert_eq!(
                entry.infer(&dict).unwrap(),
                config,
                "readout_input {readout_input}"
            );
        }
    }

    #[test]
    fn hostile_architectures_are_refused_before_allocation() {
        let registry = builtin();
        for entry in registry.iter() {
            let options = options_for(entry.as_ref());
            let data = data_for(entry.as_ref());
            let config = entry.config(&options, &data).unwrap();
            for (field, value) in [
                ("d_input", serde_json::json!(1u64 << 40)),
                ("d_input", serde_json::json!(u64::MAX)),
                ("d_output", serde_json::json!(0)),
            ] {
                let mut bad = config.clone();
                bad.params.insert(field.into(), value.clone());
                assert!(
                    entry.validate(&bad).is_err() && entry.init(&bad, &Device::flex()).is_err(),
                    "{} with {field} = {value}",
                    entry.name()
                );
            }
        }
        // Model-specific: widths that multiply past the bound, steps, dropout.
        let bad = [
            ("gat", "heads", serde_json::json!(1u64 << 30)),
            ("rgcn", "num_relations", serde_json::json!(1u64 << 40)),
            ("mpnn", "dim", serde_json::json!(1 << 16)),
            ("mpnn", "mp_steps", serde_json::json!(1u64 << 40)),
            ("mpnn", "dropout", serde_json::json!(1.0)),
        ];
        for (model, field, value) in bad {
            let entry = registry.get(model).unwrap();
            let (options, _) = entry.protocol("");
            let mut config = entry.config(&options, &data_for(entry.as_ref())).unwrap();
            config.params.insert(field.into(), value);
            assert!(entry.validate(&config).is_err(), "{model} {field}");
        }
    }

    #[test]
    fn protocols_follow_the_papers_per_dataset() {
        let registry = builtin();
        let (gat, fit) = registry.get("gat").unwrap().protocol("PubMed");
        assert_eq!((gat["out_heads"].as_u64(), fit.lr), (Some(8), 0.01));
        let (rgcn, fit) = registry.get("rgcn").unwrap().protocol("mutag");
        assert_eq!(rgcn["bases"], 30);
        assert_eq!(rgcn["rgcn_norm"], "node");
        assert_eq!(fit.weight_decay, 5e-4);
        let (rgcn, _) = registry.get("rgcn").unwrap().protocol("aifb");
        assert!(rgcn["bases"].is_null());
    }
}
