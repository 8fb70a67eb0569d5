//! [`GatV2Conv`]: dynamic graph attention (Brody et al. 2022), with PyG's `GATv2Conv`
//! semantics (`share_weights = false`).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

use super::gat_conv::{Attention, attend, attention_graph, finish_heads};
use crate::interop::{
    Import, PygParams, StateDict, export_bias, export_linear, export_param, import_bias,
    import_linear, import_param,
};
use crate::message_passing::{gather_dst, gather_src, softmax_at_targets};
use crate::{Features, Graph};

/// Configuration of a [`GatV2Conv`] layer.
#[derive(Config, Debug)]
pub struct GatV2ConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Output features per head `C`.
    pub d_output: usize,
    /// Attention heads `H`.
    #[config(default = 1)]
    pub heads: usize,
    /// Concatenate the heads (`[N, H·C]`) or average them (`[N, C]`).
    #[config(default = true)]
    pub concat: bool,
    /// Slope of the LeakyReLU inside the attention.
    #[config(default = 0.2)]
    pub negative_slope: f64,
    /// Dropout on the attention coefficients (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Replace existing self-loops by one loop per node.
    #[config(default = true)]
    pub add_self_loops: bool,
    /// Learn biases (on `lin_l`, `lin_r` and the output).
    #[config(default = true)]
    pub bias: bool,
}

/// GATv2 layer: the attention is computed after the non-linearity, so its ranking of
/// neighbours can depend on the query node ("dynamic" attention):
///
/// `x_l = x W_l + b_l`, `x_r = x W_r + b_r` (viewed `[N, H, C]`),
/// `e_jik = ⟨a_k, LeakyReLU(x_l,jk + x_r,ik)⟩`, `α_jik = softmax_j(e_jik)`,
/// `x'_ik = Σ_j α_jik x_l,jk`; heads concatenated (or averaged), then `+ b`.
///
/// Parameters use PyG's names: `lin_l.*`, `lin_r.*`, `att` (`[1, H, C]`), `bias`.
///
/// # Shapes
/// - input `x`: `[N, F]`; output: `[N, H·C]` (concat) or `[N, C]`
#[derive(Module, Debug)]
pub struct GatV2Conv {
    /// Source-side map `W_l`, `[F, H·C]`.
    pub lin_l: Linear,
    /// Target-side map `W_r`, `[F, H·C]`.
    pub lin_r: Linear,
    /// Attention vector `a`, `[1, H, C]`.
    pub att: Param<Tensor<3>>,
    /// The output bias.
    pub bias: Option<Param<Tensor<1>>>,
    /// Dropout on the attention coefficients.
    pub attention_dropout: Dropout,
    heads: usize,
    channels: usize,
    concat: bool,
    negative_slope: f64,
    add_self_loops: bool,
}

impl GatV2ConvConfig {
    /// Builds the layer: Glorot-uniform weights and `a`, zero biases (PyG's initialisation).
    pub fn init(&self, device: &Device) -> GatV2Conv {
        let (h, c) = (self.heads, self.d_output);
        let lin = || {
            let mut lin = LinearConfig::new(self.d_input, h * c)
                .with_bias(self.bias)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device);
            lin.bias = self.bias.then(|| Initializer::Zeros.init([h * c], device));
            lin
        };
        let bias_len = if self.concat { h * c } else { c };
        GatV2Conv {
            lin_l: lin(),
            lin_r: lin(),
            att: Initializer::XavierUniform { gain: 1.0 }.init_with(
                [1, h, c],
                Some(h),
                Some(c),
                device,
            ),
            bias: self
                .bias
                .then(|| Initializer::Zeros.init([bias_len], device)),
            attention_dropout: DropoutConfig::new(self.dropout).init(),
            heads: h,
            channels: c,
            concat: self.concat,
            negative_slope: self.negative_slope,
            add_self_loops: self.add_self_loops,
        }
    }
}

impl GatV2Conv {
    /// Applies the layer.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output: `[N, H·C]` or `[N, C]`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        self.forward_with_attention(x, graph).0
    }

    /// Applies the layer and also returns the attention coefficients it used.
    pub fn forward_with_attention(
        &self,
        x: impl Into<Features>,
        graph: &Graph,
    ) -> (Tensor<2>, Attention) {
        let x: Features = x.into();
        let [n, _] = x.dims();
        let (hh, c) = (self.heads, self.channels);
        let xl = x.clone().linear(&self.lin_l).reshape([n, hh, c]);
        let xr = x.linear(&self.lin_r).reshape([n, hh, c]);
        let graph = attention_graph(graph, self.add_self_loops);
        let hidden = leaky_relu(
            gather_src(xl.clone(), &graph) + gather_dst(xr, &graph),
            self.negative_slope,
        );
        let [e, _, _] = hidden.dims();
        let logits = (hidden * self.att.val()).sum_dim(2).reshape([e, hh]);
        let alpha = softmax_at_targets(logits, &graph);
        let out = attend(xl, &self.attention_dropout, alpha.clone(), &graph);
        (
            finish_heads(out, self.concat, self.bias.as_ref()),
            Attention { graph, alpha },
        )
    }
}

impl PygParams for GatV2Conv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.lin_l, &format!("{prefix}lin_l."), out);
        export_linear(&self.lin_r, &format!("{prefix}lin_r."), out);
        export_param(&self.att, format!("{prefix}att"), out);
        export_bias(&self.bias, prefix, out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.lin_l, &format!("{prefix}lin_l."), src);
        import_linear(&mut self.lin_r, &format!("{prefix}lin_r."), src);
        import_param(&mut self.att, &format!("{prefix}att"), src);
        import_bias(&mut self.bias, prefix, src);
    }
}
