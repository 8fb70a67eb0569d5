//! APPNP (Klicpera et al. 2019): a two-layer MLP predicts, personalised PageRank propagates.

use burn::config::Config;
use burn::module::{Module, ParamGroup};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde_json::{Value, json};

use crate::interop::{Import, PygParams, StateDict, export_linear, import_linear};
use crate::kernels;
use crate::layers::{Appnp as AppnpPropagation, AppnpConfig};
use crate::registry::bound::{Count, check_parameters, check_steps, check_widths};
use crate::registry::{
    DataInfo, FitConfig, ModelSpec, Protocol, SpecError, Task, at_least_one, dims, probability,
};
use crate::{Features, Graph, GraphError, GraphModel};

/// Configuration of an [`AppnpNet`].
#[derive(Config, Debug)]
pub struct AppnpNetConfig {
    /// Input features.
    pub d_input: usize,
    /// Classes.
    pub d_output: usize,
    /// Hidden features of the MLP.
    #[config(default = 64)]
    pub d_hidden: usize,
    /// Dropout on the input and hidden features.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Power-iteration steps `K`.
    #[config(default = 10)]
    pub k: usize,
    /// Teleport probability `α`.
    #[config(default = 0.1)]
    pub alpha: f64,
    /// Dropout on the normalised edge weights in each propagation step (training only).
    #[config(default = 0.0)]
    pub edge_dropout: f64,
}

/// APPNP: `h = lin2(dropout(relu(lin1(dropout(x)))))`, then `K` steps of
/// `h^{k+1} = (1 − α) Â h^k + α h` (PyG's `examples/citation/appnp.py`).
///
/// Parameters have PyG's names: `lin1.*`, `lin2.*` (the propagation has none).
///
/// # Shapes
/// - `x`: `[N, F]`; output `[N, C]`
#[derive(Module, Debug)]
pub struct AppnpNet {
    /// First layer `F → H`.
    pub lin1: Linear,
    /// Second layer `H → C`.
    pub lin2: Linear,
    /// The propagation.
    pub prop: AppnpPropagation,
    /// Dropout (training only).
    pub dropout: Dropout,
}

impl AppnpNetConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> AppnpNet {
        AppnpNet {
            lin1: LinearConfig::new(self.d_input, self.d_hidden).init(device),
            lin2: LinearConfig::new(self.d_hidden, self.d_output).init(device),
            prop: AppnpConfig::new(self.k, self.alpha)
                .with_cached(true)
                .with_edge_dropout(self.edge_dropout)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl GraphModel for AppnpNet {
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let h = relu(x.dropout(&self.dropout).linear(&self.lin1));
        let h = self.lin2.forward(kernels::dropout(&self.dropout, h));
        Ok(self.prop.forward(h, graph))
    }

    /// Klicpera et al. regularise the first layer only.
    fn weight_decay_group(&self) -> Option<ParamGroup> {
        Some(ParamGroup::ids_from_module(self.lin1.clone()))
    }
}

impl PygParams for AppnpNet {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.lin1, &format!("{prefix}lin1."), out);
        export_linear(&self.lin2, &format!("{prefix}lin2."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.lin1, &format!("{prefix}lin1."), src);
        import_linear(&mut self.lin2, &format!("{prefix}lin2."), src);
    }
}

crate::model_options! {
    /// The options of `appnp`.
    pub struct AppnpOptions {
        /// Hidden features of the MLP.
        pub hidden: usize = 64,
        /// Dropout probability on the input and hidden features.
        pub dropout: f64 = 0.5,
        /// Power-iteration steps `K`.
        pub k: usize = 10,
        /// Teleport probability `α`.
        pub alpha: f64 = 0.1,
        /// Dropout probability on the normalised edge weights in each step (training only).
        pub edge_dropout: f64 = 0.0,
    }
}

/// [`AppnpNet`] in the registry as `appnp`: hidden 64, dropout 0.5, `K = 10`, `α = 0.1`,
/// edge dropout 0.5 on Cora (0 elsewhere), Adam lr 0.01 with weight decay 5e-3 on the first
/// layer, up to 1000 epochs, patience 100. Klicpera et al. drop edges at 0.5 as well; here that
/// wins on Cora and loses on CiteSeer by the mean validation accuracy over 10 seeds (Cora 82.0
/// against 81.2 % without, CiteSeer 73.3 against 74.3 %).
#[derive(Debug, Clone, Copy)]
pub struct AppnpSpec;

impl ModelSpec for AppnpSpec {
    type Options = AppnpOptions;
    type Config = AppnpNetConfig;
    type Model = AppnpNet;

    fn name(&self) -> &'static str {
        "appnp"
    }

    fn about(&self) -> &'static str {
        "predict then propagate: an MLP and personalised PageRank (Klicpera et al. 2019)"
    }

    fn task(&self) -> Task {
        Task::Node
    }

    fn protocol(&self, dataset: &str) -> Protocol<AppnpOptions> {
        // Klicpera et al. drop adjacency entries with 0.5; chosen per dataset by mean
        // validation accuracy over 10 seeds here (Cora 82.0 vs 81.2 %; CiteSeer 73.3 vs 74.3 %).
        let edge_dropout = if dataset == "cora" { 0.5 } else { 0.0 };
        Protocol {
            options: AppnpOptions {
                edge_dropout,
                ..AppnpOptions::default()
            },
            fit: FitConfig {
                epochs: 1000,
                lr: 0.01,
                weight_decay: 5e-3,
                patience: Some(100),
                ..FitConfig::default()
            },
        }
    }

    fn config(&self, o: &AppnpOptions, data: &DataInfo) -> Result<AppnpNetConfig, SpecError> {
        at_least_one("hidden", o.hidden)?;
        probability("dropout", o.dropout)?;
        probability("edge_dropout", o.edge_dropout)?;
        if !(0.0..=1.0).contains(&o.alpha) {
            return Err(SpecError::option(
                "alpha",
                format!("must be in [0, 1], got {}", o.alpha),
            ));
        }
        Ok(AppnpNetConfig::new(data.num_features, data.num_outputs)
            .with_d_hidden(o.hidden)
            .with_dropout(o.dropout)
            .with_k(o.k)
            .with_alpha(o.alpha)
            .with_edge_dropout(o.edge_dropout))
    }

    fn widths(&self, c: &AppnpNetConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &AppnpNetConfig) -> Result<(), SpecError> {
        let widths = [
            ("d_input", c.d_input),
            ("d_hidden", c.d_hidden),
            ("d_output", c.d_output),
        ];
        check_widths(self.name(), &widths)?;
        check_steps(self.name(), "propagation steps", c.k)?;
        probability("dropout", c.dropout)?;
        let bound =
            (Count::of(c.d_input) + 1) * c.d_hidden + (Count::of(c.d_hidden) + 1) * c.d_output;
        check_parameters(self.name(), bound)
    }

    fn infer(&self, dict: &StateDict) -> Result<AppnpNetConfig, SpecError> {
        let [h, f] = dims(dict, self.name(), "lin1.weight")?;
        let [c, _] = dims(dict, self.name(), "lin2.weight")?;
        Ok(AppnpNetConfig::new(f, c).with_d_hidden(h))
    }

    fn init(&self, c: &AppnpNetConfig, device: &Device) -> Result<AppnpNet, SpecError> {
        Ok(c.init(device))
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["cora"]
    }

    /// PyG's `examples/citation/appnp.py`.
    fn pyg_reference(&self, c: &AppnpNetConfig, fit: &FitConfig) -> Option<Value> {
        Some(json!({
            "builder": "appnp",
            "in_channels": c.d_input,
            "hidden_channels": c.d_hidden,
            "out_channels": c.d_output,
            "dropout": c.dropout,
            "K": c.k,
            "alpha": c.alpha,
            "edge_dropout": c.edge_dropout,
            "lr": fit.lr,
            "weight_decay": fit.weight_decay,
        }))
    }
}
