//! The two-layer GCN of Kipf & Welling (2017) for node classification.

use burn::config::Config;
use burn::module::{Module, ParamGroup};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor, activation::relu};
use serde_json::{Value, json};

use crate::interop::{Import, PygParams, StateDict};
use crate::kernels;
use crate::layers::{GcnConv, GcnConvConfig};
use crate::registry::bound::{Count, check_parameters, check_widths};
use crate::registry::{
    DataInfo, FitConfig, ModelSpec, Protocol, SpecError, Task, at_least_one, dims, probability,
};
use crate::{Features, Graph, GraphError, GraphModel};

/// Configuration of the two-layer [`Gcn`].
#[derive(Config, Debug)]
pub struct GcnConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Output classes (or output features).
    pub d_output: usize,
    /// Hidden features.
    #[config(default = 16)]
    pub d_hidden: usize,
    /// Dropout probability on the input and hidden features (training only).
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Cache the normalised graph across calls (full-batch training on one graph).
    #[config(default = true)]
    pub cached: bool,
}

/// Two GCN layers with ReLU and dropout (the paper's and PyG's `examples/gcn.py` model):
///
/// `out = conv2(dropout(relu(conv1(dropout(x)))))`
///
/// # Shapes
/// - input `x`: `[N, F]`; output: `[N, C]` (logits)
#[derive(Module, Debug)]
pub struct Gcn {
    /// First layer `F → H`.
    pub conv1: GcnConv,
    /// Second layer `H → C`.
    pub conv2: GcnConv,
    /// Dropout (active only on an autodiff device, in training mode).
    pub dropout: Dropout,
}

impl GcnConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Gcn {
        Gcn {
            conv1: GcnConvConfig::new(self.d_input, self.d_hidden)
                .with_cached(self.cached)
                .init(device),
            conv2: GcnConvConfig::new(self.d_hidden, self.d_output)
                .with_cached(self.cached)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl Gcn {
    /// Applies the model.
    ///
    /// # Shapes
    /// - `x`: `[N, F]` (a dense tensor or [`Features`]); output: `[N, C]`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        let h = relu(self.conv1.forward(x.into().dropout(&self.dropout), graph));
        self.conv2
            .forward(kernels::dropout(&self.dropout, h), graph)
    }
}

impl GraphModel for Gcn {
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Ok(Gcn::forward(self, x, graph))
    }

    fn weight_decay_group(&self) -> Option<ParamGroup> {
        Some(ParamGroup::ids_from_module(self.conv1.clone()))
    }
}

crate::model_options! {
    /// The options of [`Gcn`] (`gnn train --model gcn`).
    pub struct GcnOptions {
        /// Hidden features.
        pub hidden: usize = 16,
        /// Dropout probability on the input and hidden features.
        pub dropout: f64 = 0.5,
    }
}

/// [`Gcn`] in the registry as `gcn`: Kipf & Welling's protocol (16 hidden, dropout 0.5, Adam
/// lr 0.01 with weight decay 5e-4 on the first layer, 200 epochs, best validation accuracy).
#[derive(Debug, Clone, Copy)]
pub struct GcnSpec;

impl ModelSpec for GcnSpec {
    type Options = GcnOptions;
    type Config = GcnConfig;
    type Model = Gcn;

    fn name(&self) -> &'static str {
        "gcn"
    }

    fn about(&self) -> &'static str {
        "two-layer graph convolutional network (Kipf & Welling 2017)"
    }

    fn task(&self) -> Task {
        Task::Node
    }

    fn protocol(&self, _dataset: &str) -> Protocol<GcnOptions> {
        Protocol {
            options: GcnOptions::default(),
            fit: FitConfig::default(),
        }
    }

    fn config(&self, o: &GcnOptions, data: &DataInfo) -> Result<GcnConfig, SpecError> {
        at_least_one("hidden", o.hidden)?;
        probability("dropout", o.dropout)?;
        Ok(GcnConfig::new(data.num_features, data.num_outputs)
            .with_d_hidden(o.hidden)
            .with_dropout(o.dropout))
    }

    fn widths(&self, c: &GcnConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &GcnConfig) -> Result<(), SpecError> {
        let widths = [
            ("d_input", c.d_input),
            ("d_hidden", c.d_hidden),
            ("d_output", c.d_output),
        ];
        check_widths(self.name(), &widths)?;
        probability("dropout", c.dropout)?;
        let bound =
            (Count::of(c.d_input) + 1) * c.d_hidden + (Count::of(c.d_hidden) + 1) * c.d_output;
        check_parameters(self.name(), bound)
    }

    fn infer(&self, dict: &StateDict) -> Result<GcnConfig, SpecError> {
        let [h, f] = dims(dict, self.name(), "conv1.lin.weight")?;
        let [c, _] = dims(dict, self.name(), "conv2.lin.weight")?;
        Ok(GcnConfig::new(f, c).with_d_hidden(h))
    }

    fn init(&self, c: &GcnConfig, device: &Device) -> Result<Gcn, SpecError> {
        Ok(c.init(device))
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["cora", "citeseer", "er-100000-10"]
    }

    /// PyG's `examples/gcn.py`: two cached `GCNConv`s, ReLU, dropout on input and hidden.
    fn pyg_reference(&self, c: &GcnConfig, fit: &FitConfig) -> Option<Value> {
        Some(json!({
            "builder": "stack",
            "convs": [
                {"class": "GCNConv", "args": [c.d_input, c.d_hidden], "kwargs": {"cached": true}},
                {"class": "GCNConv", "args": [c.d_hidden, c.d_output], "kwargs": {"cached": true}},
            ],
            "activation": "relu",
            "dropout": c.dropout,
            "lr": fit.lr,
            "weight_decay": fit.weight_decay,
            "decay": "first",
        }))
    }
}

impl PygParams for Gcn {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        self.conv1.export_pyg(&format!("{prefix}conv1."), out);
        self.conv2.export_pyg(&format!("{prefix}conv2."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        self.conv1.import_pyg(&format!("{prefix}conv1."), src);
        self.conv2.import_pyg(&format!("{prefix}conv2."), src);
    }
}
