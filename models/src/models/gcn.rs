//! The two-layer GCN of Kipf & Welling (2017) for node classification.

use burn::config::Config;
use burn::module::{Module, ParamGroup};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor, activation::relu};

use crate::layers::{GcnConv, GcnConvConfig};
use crate::{Features, Graph, GraphModel};

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
        self.conv2.forward(self.dropout.forward(h), graph)
    }
}

impl GraphModel for Gcn {
    fn forward(&self, x: Features, graph: &Graph) -> Tensor<2> {
        Gcn::forward(self, x, graph)
    }

    fn weight_decay_group(&self) -> Option<ParamGroup> {
        Some(ParamGroup::ids_from_module(self.conv1.clone()))
    }
}
