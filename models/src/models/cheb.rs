//! ChebNet (Defferrard et al. 2016) as a depth-configurable model: [`ChebConv`] stacked by
//! [`Stack`](super::Stack), with Kipf & Welling's protocol for it.

use burn::tensor::{Device, Tensor};
use serde_json::{Value, json};

use super::stack::{StackCommon, StackDef, StackLayer, StackOptions};
use crate::interop::StateDict;
use crate::layers::{ChebConv, ChebConvConfig, ChebNormalization};
use crate::registry::bound::Count;
use crate::registry::{FitConfig, Protocol, SpecError, at_least_one, dims};
use crate::{Features, Graph, GraphError};

impl StackLayer for ChebConv {
    fn forward_stacked(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Ok(self.forward(x, graph))
    }
}

crate::model_options! {
    /// The layer options of `cheb`.
    pub struct ChebOptions {
        /// Chebyshev order `K`: polynomials `T_0 … T_{K−1}`.
        pub k: usize = 3,
        /// The Laplacian: sym, rw or none.
        pub normalization: ChebNormalization = ChebNormalization::Sym,
        /// The largest eigenvalue used for scaling (`none`: 2, needs `--normalization` sym
        /// or rw).
        pub lambda_max: Option<f64> = None,
    }
}

/// `cheb`: Kipf & Welling's ChebNet (their Table 2): two layers of 16 with `K = 3`, dropout
/// 0.5 on the input and hidden features, Adam lr 0.01 with weight decay 5e-4 on the first
/// layer, 200 epochs, best validation accuracy. On CiteSeer 32 hidden features: of `K = 3`
/// with 16 or 32 and `K = 2` with 16, the best mean validation accuracy over 10 seeds here
/// (71.0 against 70.5 and 70.5 %).
#[derive(Debug, Clone, Copy)]
pub struct ChebStack;

impl StackDef for ChebStack {
    type Layer = ChebConv;
    type Options = ChebOptions;

    fn name(&self) -> &'static str {
        "cheb"
    }

    fn about(&self) -> &'static str {
        "Chebyshev spectral GCN, depth-configurable (Defferrard et al. 2016; Kipf & Welling's protocol)"
    }

    fn protocol(&self, dataset: &str) -> Protocol<StackOptions<ChebOptions>> {
        Protocol {
            options: StackOptions {
                common: StackCommon {
                    hidden: if dataset == "citeseer" { 32 } else { 16 },
                    input_dropout: 0.5,
                    decay_first: true,
                    ..StackCommon::default()
                },
                layer: ChebOptions::default(),
            },
            fit: FitConfig::default(),
        }
    }

    fn layer(
        &self,
        d_in: usize,
        d_out: usize,
        _last: bool,
        o: &ChebOptions,
        device: &Device,
    ) -> Result<ChebConv, SpecError> {
        at_least_one("k", o.k)?;
        if o.normalization == ChebNormalization::None && o.lambda_max.is_none() {
            return Err(SpecError::option(
                "lambda_max",
                "is needed with --normalization none",
            ));
        }
        Ok(ChebConvConfig::new(d_in, d_out, o.k)
            .with_normalization(o.normalization)
            .with_lambda_max(o.lambda_max)
            .with_cached(true)
            .init(device))
    }

    fn parameters(&self, d_in: usize, d_out: usize, o: &ChebOptions) -> Count {
        Count::of(o.k) * d_in * d_out + d_out
    }

    fn infer_layer(
        &self,
        dict: &StateDict,
        prefix: &str,
    ) -> Result<(usize, usize, ChebOptions), SpecError> {
        let [d_out, d_in] = dims(dict, self.name(), &format!("{prefix}lins.0.weight"))?;
        let k = (0..)
            .take_while(|k| dict.contains_key(&format!("{prefix}lins.{k}.weight")))
            .count();
        Ok((
            d_in,
            d_out,
            ChebOptions {
                k,
                ..ChebOptions::default()
            },
        ))
    }

    fn pyg_conv(&self, o: &ChebOptions, _last: bool) -> Option<(&'static str, Value)> {
        Some((
            "ChebConv",
            json!({"K": o.k, "normalization": o.normalization}),
        ))
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["cora"]
    }
}
