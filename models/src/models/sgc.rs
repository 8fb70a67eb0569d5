//! SGC (Wu et al. 2019): logistic regression on `Â^K X`, the features propagated once and
//! cached for full-batch training.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde_json::{Value, json};

use crate::interop::{Import, PygParams, StateDict};
use crate::layers::{SgConv, SgConvConfig};
use crate::registry::bound::{Count, check_parameters, check_steps, check_widths};
use crate::registry::{DataInfo, FitConfig, ModelSpec, Protocol, Selection, SpecError, Task, dims};
use crate::{Features, Graph, GraphError, GraphModel};

/// Configuration of an [`Sgc`].
#[derive(Config, Debug)]
pub struct SgcConfig {
    /// Input features.
    pub d_input: usize,
    /// Classes.
    pub d_output: usize,
    /// Propagation hops `K`.
    #[config(default = 2)]
    pub k: usize,
}

/// SGC: `out = (Â^K x) W + b` with GCN's normalised adjacency; `Â^K x` is computed on the
/// first forward with a graph and reused (transductive training on fixed features).
///
/// Parameters have PyG's `SGConv` names: `lin.weight`, `lin.bias`.
///
/// # Shapes
/// - `x`: `[N, F]`; output `[N, C]`
#[derive(Module, Debug)]
pub struct Sgc {
    /// The propagation and the linear map.
    pub conv: SgConv,
}

impl SgcConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Sgc {
        Sgc {
            conv: SgConvConfig::new(self.d_input, self.d_output)
                .with_k(self.k)
                .with_cached(true)
                .init(device),
        }
    }
}

impl GraphModel for Sgc {
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Ok(self.conv.forward(x, graph))
    }
}

impl PygParams for Sgc {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        self.conv.export_pyg(prefix, out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        self.conv.import_pyg(prefix, src);
    }
}

crate::model_options! {
    /// The options of `sgc`.
    pub struct SgcOptions {
        /// Propagation hops `K`.
        pub k: usize = 2,
    }
}

/// [`Sgc`] in the registry as `sgc`: `K = 2`, Adam lr 0.2, 100 epochs, the last epoch kept
/// (Wu et al. train a fixed 100 epochs), no dropout; weight decay 5e-5 on Cora, 1e-4 on
/// CiteSeer, 5e-4 elsewhere (the paper tunes it on the validation set per dataset; these are
/// the values of {1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3} with the best mean validation accuracy
/// over 10 seeds here; on Cora 1e-5 and 5e-5 tie at 79.2 % and 5e-5 was kept).
#[derive(Debug, Clone, Copy)]
pub struct SgcSpec;

impl ModelSpec for SgcSpec {
    type Options = SgcOptions;
    type Config = SgcConfig;
    type Model = Sgc;

    fn name(&self) -> &'static str {
        "sgc"
    }

    fn about(&self) -> &'static str {
        "simplified graph convolution: logistic regression on K-hop propagated features (Wu et al. 2019)"
    }

    fn task(&self) -> Task {
        Task::Node
    }

    fn protocol(&self, dataset: &str) -> Protocol<SgcOptions> {
        let weight_decay = match dataset {
            "cora" => 5e-5,
            "citeseer" => 1e-4,
            _ => 5e-4,
        };
        Protocol {
            options: SgcOptions::default(),
            fit: FitConfig {
                epochs: 100,
                lr: 0.2,
                weight_decay,
                selection: Selection::Last,
                ..FitConfig::default()
            },
        }
    }

    fn config(&self, o: &SgcOptions, data: &DataInfo) -> Result<SgcConfig, SpecError> {
        Ok(SgcConfig::new(data.num_features, data.num_outputs).with_k(o.k))
    }

    fn widths(&self, c: &SgcConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &SgcConfig) -> Result<(), SpecError> {
        check_widths(
            self.name(),
            &[("d_input", c.d_input), ("d_output", c.d_output)],
        )?;
        check_steps(self.name(), "propagation hops", c.k)?;
        check_parameters(self.name(), (Count::of(c.d_input) + 1) * c.d_output)
    }

    fn infer(&self, dict: &StateDict) -> Result<SgcConfig, SpecError> {
        let [c, f] = dims(dict, self.name(), "lin.weight")?;
        Ok(SgcConfig::new(f, c))
    }

    fn init(&self, c: &SgcConfig, device: &Device) -> Result<Sgc, SpecError> {
        Ok(c.init(device))
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["cora"]
    }

    /// PyG's `examples/sgc.py`: one cached `SGConv`.
    fn pyg_reference(&self, c: &SgcConfig, fit: &FitConfig) -> Option<Value> {
        Some(json!({
            "builder": "stack",
            "convs": [{"class": "SGConv", "args": [c.d_input, c.d_output],
                       "kwargs": {"K": c.k, "cached": true}}],
            "activation": "relu",
            "dropout": 0.0,
            "lr": fit.lr,
            "weight_decay": fit.weight_decay,
            "decay": "all",
        }))
    }
}
