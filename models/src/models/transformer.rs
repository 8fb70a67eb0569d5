//! The graph transformer (Shi et al. 2021) as a depth-configurable model:
//! [`TransformerConv`] stacked by [`Stack`](super::Stack).

use burn::tensor::{Device, Tensor};
use serde_json::{Value, json};

use super::stack::{StackCommon, StackDef, StackLayer, StackOptions};
use crate::interop::StateDict;
use crate::layers::{TransformerConv, TransformerConvConfig};
use crate::registry::bound::Count;
use crate::registry::{FitConfig, Protocol, SpecError, at_least_one, dims};
use crate::{Features, Graph, GraphError};

impl StackLayer for TransformerConv {
    fn forward_stacked(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        self.forward(x, graph)
    }
}

crate::model_options! {
    /// The layer options of `transformer`.
    pub struct TransformerOptions {
        /// Attention heads (concatenated in hidden layers, averaged in a node model's output
        /// layer).
        pub heads: usize = 2,
        /// Gate the root term with a learned `β`.
        pub beta: bool = false,
        /// Dropout probability on the attention coefficients.
        pub attention_dropout: f64 = 0.0,
    }
}

/// `transformer`: two TransformerConv layers of 2 heads × 64, dropout 0.5, Adam lr 0.01 with
/// weight decay 5e-4, 200 epochs.
#[derive(Debug, Clone, Copy)]
pub struct TransformerStack;

impl StackDef for TransformerStack {
    type Layer = TransformerConv;
    type Options = TransformerOptions;

    fn name(&self) -> &'static str {
        "transformer"
    }

    fn about(&self) -> &'static str {
        "graph transformer, depth-configurable (Shi et al. 2021; PyG's TransformerConv)"
    }

    fn protocol(&self, _dataset: &str) -> Protocol<StackOptions<TransformerOptions>> {
        Protocol {
            options: StackOptions {
                common: StackCommon::default(),
                layer: TransformerOptions::default(),
            },
            fit: FitConfig::default(),
        }
    }

    fn layer(
        &self,
        d_in: usize,
        d_out: usize,
        last: bool,
        o: &TransformerOptions,
        device: &Device,
    ) -> Result<TransformerConv, SpecError> {
        at_least_one("heads", o.heads)?;
        Ok(TransformerConvConfig::new(d_in, d_out)
            .with_heads(o.heads)
            .with_concat(!last)
            .with_beta(o.beta)
            .with_dropout(o.attention_dropout)
            .init(device))
    }

    fn width(&self, d_out: usize, last: bool, o: &TransformerOptions) -> usize {
        if last { d_out } else { o.heads * d_out }
    }

    fn parameters(&self, d_in: usize, d_out: usize, o: &TransformerOptions) -> Count {
        let hc = Count::of(o.heads) * d_out;
        (Count::of(d_in) + 1) * hc * 4 + hc * 3
    }

    /// The heads are not in the shapes: the protocol's, unless the skip map shows one head.
    fn infer_layer(
        &self,
        dict: &StateDict,
        prefix: &str,
    ) -> Result<(usize, usize, TransformerOptions), SpecError> {
        let [hc, d_in] = dims(dict, self.name(), &format!("{prefix}lin_query.weight"))?;
        let mut options = TransformerOptions {
            beta: dict.contains_key(&format!("{prefix}lin_beta.weight")),
            ..TransformerOptions::default()
        };
        if hc % options.heads != 0 {
            options.heads = 1;
        }
        Ok((d_in, hc / options.heads, options))
    }

    fn pyg_conv(&self, o: &TransformerOptions, last: bool) -> Option<(&'static str, Value)> {
        Some((
            "TransformerConv",
            json!({"heads": o.heads, "concat": !last, "beta": o.beta,
                   "dropout": o.attention_dropout}),
        ))
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["cora"]
    }
}
