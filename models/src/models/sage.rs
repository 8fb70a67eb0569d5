//! GraphSAGE (Hamilton et al. 2017) as a depth-configurable model: [`SageConv`] stacked by
//! [`Stack`](super::Stack) — PyG's `GraphSAGE`.

use burn::tensor::{Device, Tensor};
use serde_json::{Value, json};

use super::stack::{StackCommon, StackDef, StackLayer, StackOptions};
use crate::interop::StateDict;
use crate::layers::{SageConv, SageConvConfig};
use crate::message_passing::Aggregation;
use crate::registry::bound::Count;
use crate::registry::{FitConfig, Protocol, SpecError, dims};
use crate::{BipartiteGraph, Features, Graph, GraphError};

impl StackLayer for SageConv {
    fn forward_stacked(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Ok(self.forward(x, graph))
    }

    const BIPARTITE: bool = true;

    fn forward_block(
        &self,
        x_src: Features,
        x_dst: Features,
        block: &BipartiteGraph,
    ) -> Result<Tensor<2>, GraphError> {
        Ok(self.forward_bipartite(x_src, x_dst, block))
    }
}

crate::model_options! {
    /// The layer options of `sage`.
    pub struct SageOptions {
        /// Aggregation of the neighbours: mean, max or sum.
        pub aggr: Aggregation = Aggregation::Mean,
        /// L2-normalise each layer's output rows.
        pub normalize: bool = false,
        /// Project the neighbours first (`relu(x W_p + b_p)`: the paper's pooling aggregator
        /// with `--aggr max`).
        pub project: bool = false,
        /// Add the root term `x_i W_r`.
        pub root_weight: bool = true,
    }
}

/// `sage`: two GraphSAGE layers of 64, mean aggregation, dropout 0.5, Adam lr 0.01 with
/// weight decay 5e-4, 200 epochs (PyG's `GraphSAGE` defaults; the paper is inductive).
#[derive(Debug, Clone, Copy)]
pub struct SageStack;

impl StackDef for SageStack {
    type Layer = SageConv;
    type Options = SageOptions;

    fn name(&self) -> &'static str {
        "sage"
    }

    fn about(&self) -> &'static str {
        "GraphSAGE, depth-configurable (Hamilton et al. 2017; PyG's GraphSAGE)"
    }

    fn protocol(&self, _dataset: &str) -> Protocol<StackOptions<SageOptions>> {
        Protocol {
            options: StackOptions {
                common: StackCommon::default(),
                layer: SageOptions::default(),
            },
            fit: FitConfig::default(),
        }
    }

    fn layer(
        &self,
        d_in: usize,
        d_out: usize,
        _last: bool,
        o: &SageOptions,
        device: &Device,
    ) -> Result<SageConv, SpecError> {
        Ok(SageConvConfig::new(d_in, d_out)
            .with_aggr(o.aggr)
            .with_normalize(o.normalize)
            .with_project(o.project)
            .with_root_weight(o.root_weight)
            .init(device))
    }

    fn parameters(&self, d_in: usize, d_out: usize, _o: &SageOptions) -> Count {
        (Count::of(d_in) + 1) * d_out * 2 + (Count::of(d_in) + 1) * d_in
    }

    fn infer_layer(
        &self,
        dict: &StateDict,
        prefix: &str,
    ) -> Result<(usize, usize, SageOptions), SpecError> {
        let [d_out, d_in] = dims(dict, self.name(), &format!("{prefix}lin_l.weight"))?;
        let options = SageOptions {
            project: dict.contains_key(&format!("{prefix}lin.weight")),
            root_weight: dict.contains_key(&format!("{prefix}lin_r.weight")),
            ..SageOptions::default()
        };
        Ok((d_in, d_out, options))
    }

    fn pyg_conv(&self, o: &SageOptions, _last: bool) -> Option<(&'static str, Value)> {
        Some((
            "SAGEConv",
            json!({
                "aggr": o.aggr,
                "normalize": o.normalize,
                "project": o.project,
                "root_weight": o.root_weight,
            }),
        ))
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["cora"]
    }
}
