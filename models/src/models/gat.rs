//! The GAT model of Veličković et al. (2018) for transductive node classification.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::activation::elu;
use burn::tensor::{Device, Tensor};

use crate::layers::{Attention, GatConv, GatConvConfig};
use crate::{Features, Graph, GraphModel};

/// Configuration of the two-layer [`Gat`]. The defaults are the paper's Cora/CiteSeer model;
/// its PubMed model has `out_heads = 8` (averaged).
#[derive(Config, Debug)]
pub struct GatConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Output classes.
    pub d_output: usize,
    /// Hidden features per head.
    #[config(default = 8)]
    pub d_hidden: usize,
    /// Heads of the first layer (concatenated).
    #[config(default = 8)]
    pub heads: usize,
    /// Heads of the output layer (averaged).
    #[config(default = 1)]
    pub out_heads: usize,
    /// Dropout on the input, the hidden features and the attention coefficients.
    #[config(default = 0.6)]
    pub dropout: f64,
}

/// Two GAT layers with ELU between them:
///
/// `out = conv2(dropout(elu(conv1(dropout(x)))))`, `conv1`: `H` heads of `C` concatenated,
/// `conv2`: `out_heads` heads averaged; attention dropout inside both layers.
///
/// # Shapes
/// - input `x`: `[N, F]`; output: `[N, classes]` (logits)
#[derive(Module, Debug)]
pub struct Gat {
    /// First layer `F → H·C`.
    pub conv1: GatConv,
    /// Output layer `H·C → classes`.
    pub conv2: GatConv,
    /// Dropout on features (training only).
    pub dropout: Dropout,
}

impl GatConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Gat {
        Gat {
            conv1: GatConvConfig::new(self.d_input, self.d_hidden)
                .with_heads(self.heads)
                .with_dropout(self.dropout)
                .init(device),
            conv2: GatConvConfig::new(self.d_hidden * self.heads, self.d_output)
                .with_heads(self.out_heads)
                .with_concat(false)
                .with_dropout(self.dropout)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl Gat {
    /// Applies the model.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output: `[N, classes]`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        self.forward_with_attention(x, graph).0
    }

    /// Applies the model and returns the attention of both layers.
    pub fn forward_with_attention(
        &self,
        x: impl Into<Features>,
        graph: &Graph,
    ) -> (Tensor<2>, [Attention; 2]) {
        let (h, a1) = self
            .conv1
            .forward_with_attention(x.into().dropout(&self.dropout), graph);
        let h = self.dropout.forward(elu(h, 1.0));
        let (out, a2) = self.conv2.forward_with_attention(h, graph);
        (out, [a1, a2])
    }
}

impl GraphModel for Gat {
    fn forward(&self, x: Features, graph: &Graph) -> Tensor<2> {
        Gat::forward(self, x, graph)
    }
}
