//! [`TransformerConv`]: the graph transformer layer of Shi et al. (2021), with PyG's
//! `TransformerConv` semantics.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use super::gat_conv::Attention;
use crate::interop::{Import, PygParams, StateDict, export_linear, import_linear};
use crate::kernels;
use crate::message_passing::{Aggregation, aggregate, gather_dst, gather_src, softmax_at_targets};
use crate::{Features, Graph, GraphError};

/// Configuration of a [`TransformerConv`] layer.
#[derive(Config, Debug)]
pub struct TransformerConvConfig {
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
    /// Gate the root term: `out = g·r + (1 − g)·a` with a learned `g` (needs `root_weight`).
    #[config(default = false)]
    pub beta: bool,
    /// Edge features of this width, added to keys and values (`None`: no edge features).
    #[config(default = "None")]
    pub edge_dim: Option<usize>,
    /// Add the root (skip) term `x_i W_skip + b_skip`.
    #[config(default = true)]
    pub root_weight: bool,
    /// Biases on the query, key, value and skip maps.
    #[config(default = true)]
    pub bias: bool,
    /// Dropout on the attention coefficients (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
}

/// Graph transformer layer: for every edge `j → i` and head `h`,
///
/// `e_ji = e_ji W_e` (viewed `[H, C]`, or 0 without edge features),
/// `α_ji = softmax_j(⟨q_i, k_j + e_ji⟩ / √C)` over the incoming edges of `i` (no loops added),
/// `a_i = Σ_j α_ji (v_j + e_ji)`, with `q, k, v = x W_q + b_q, x W_k + b_k, x W_v + b_v`;
/// heads concatenated or averaged; then with `root_weight` `r = x W_skip + b_skip` and
/// `out = a + r`, or with `beta` `g = σ([a, r, a − r] w_β)`, `out = g·r + (1 − g)·a`.
///
/// Parameters have PyG's names: `lin_query`, `lin_key`, `lin_value`, `lin_edge` (no bias),
/// `lin_skip` (present, unused, without `root_weight`), `lin_beta` (no bias).
///
/// # Shapes
/// - input `x`: `[N, F]`; edge features `[E, D]` with `edge_dim`; output `[N, H·C]` (concat)
///   or `[N, C]`
#[derive(Module, Debug)]
pub struct TransformerConv {
    /// Queries `W_q`, `[F, H·C]`.
    pub lin_query: Linear,
    /// Keys `W_k`, `[F, H·C]`.
    pub lin_key: Linear,
    /// Values `W_v`, `[F, H·C]`.
    pub lin_value: Linear,
    /// Edge projection `W_e`, `[D, H·C]`.
    pub lin_edge: Option<Linear>,
    /// Root map `W_skip`, `[F, H·C]` (concat) or `[F, C]`.
    pub lin_skip: Linear,
    /// The gate `w_β`, `[3·H·C, 1]` (or `[3·C, 1]`).
    pub lin_beta: Option<Linear>,
    /// Dropout on the attention coefficients.
    pub attention_dropout: Dropout,
    heads: usize,
    channels: usize,
    concat: bool,
    root_weight: bool,
    edge_dim: usize,
}

impl TransformerConvConfig {
    /// Builds the layer with PyTorch's default `Linear` initialisation.
    pub fn init(&self, device: &Device) -> TransformerConv {
        let (f, h, c) = (self.d_input, self.heads, self.d_output);
        let lin =
            |i: usize, o: usize, bias: bool| LinearConfig::new(i, o).with_bias(bias).init(device);
        let out = if self.concat { h * c } else { c };
        TransformerConv {
            lin_query: lin(f, h * c, self.bias),
            lin_key: lin(f, h * c, self.bias),
            lin_value: lin(f, h * c, self.bias),
            lin_edge: self.edge_dim.map(|d| lin(d, h * c, false)),
            lin_skip: lin(f, out, self.bias),
            lin_beta: (self.beta && self.root_weight).then(|| lin(3 * out, 1, false)),
            attention_dropout: DropoutConfig::new(self.dropout).init(),
            heads: h,
            channels: c,
            concat: self.concat,
            root_weight: self.root_weight,
            edge_dim: self.edge_dim.unwrap_or(0),
        }
    }
}

impl TransformerConv {
    /// Applies the layer.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, H·C]` or `[N, C]`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Ok(self.forward_with_attention(x, graph)?.0)
    }

    /// Applies the layer and returns the attention coefficients, `[E, H]` over the input
    /// edges. A layer with `edge_dim` on a graph without edge features of that width is an
    /// error.
    pub fn forward_with_attention(
        &self,
        x: impl Into<Features>,
        graph: &Graph,
    ) -> Result<(Tensor<2>, Attention), GraphError> {
        let x: Features = x.into();
        let [n, _] = x.dims();
        let (hh, c, e) = (self.heads, self.channels, graph.num_edges());
        let q = x.clone().linear(&self.lin_query).reshape([n, hh, c]);
        let k = x.clone().linear(&self.lin_key).reshape([n, hh, c]);
        let v = x.clone().linear(&self.lin_value).reshape([n, hh, c]);
        let (mut k_e, mut v_e) = (gather_src(k, graph), gather_src(v, graph));
        if let Some(lin) = &self.lin_edge {
            let attr = graph.require_edge_attr("TransformerConv", self.edge_dim)?;
            let ed = lin.forward(attr.clone()).reshape([e, hh, c]);
            k_e = k_e + ed.clone();
            v_e = v_e + ed;
        }
        let scores = (gather_dst(q, graph) * k_e)
            .sum_dim(2)
            .reshape([e, hh])
            .div_scalar((c as f64).sqrt());
        let alpha = softmax_at_targets(scores, graph);
        let weights = kernels::dropout(&self.attention_dropout, alpha.clone());
        let a = aggregate(v_e * weights.unsqueeze_dim(2), graph, Aggregation::Sum);
        let a = if self.concat {
            a.reshape([n, hh * c])
        } else {
            a.mean_dim(1).reshape([n, c])
        };
        let out = if self.root_weight {
            let r = x.linear(&self.lin_skip);
            match &self.lin_beta {
                Some(beta) => {
                    let g = sigmoid(beta.forward(Tensor::cat(
                        vec![a.clone(), r.clone(), a.clone() - r.clone()],
                        1,
                    )));
                    r * g.clone() + a * g.neg().add_scalar(1.0)
                }
                None => a + r,
            }
        } else {
            a
        };
        let attention = Attention {
            graph: graph.clone(),
            alpha,
        };
        Ok((out, attention))
    }
}

impl PygParams for TransformerConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.lin_key, &format!("{prefix}lin_key."), out);
        export_linear(&self.lin_query, &format!("{prefix}lin_query."), out);
        export_linear(&self.lin_value, &format!("{prefix}lin_value."), out);
        if let Some(lin) = &self.lin_edge {
            export_linear(lin, &format!("{prefix}lin_edge."), out);
        }
        export_linear(&self.lin_skip, &format!("{prefix}lin_skip."), out);
        if let Some(lin) = &self.lin_beta {
            export_linear(lin, &format!("{prefix}lin_beta."), out);
        }
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.lin_key, &format!("{prefix}lin_key."), src);
        import_linear(&mut self.lin_query, &format!("{prefix}lin_query."), src);
        import_linear(&mut self.lin_value, &format!("{prefix}lin_value."), src);
        if let Some(lin) = &mut self.lin_edge {
            import_linear(lin, &format!("{prefix}lin_edge."), src);
        }
        import_linear(&mut self.lin_skip, &format!("{prefix}lin_skip."), src);
        if let Some(lin) = &mut self.lin_beta {
            import_linear(lin, &format!("{prefix}lin_beta."), src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn attention_sums_to_one_and_a_lonely_node_gets_its_root_term() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2, 2], &[1, 2, 0, 1], 4, &d).unwrap();
        let layer = TransformerConvConfig::new(3, 2).with_heads(2).init(&d);
        let x = tensor2(&seeded_values(12, 3), [4, 3], &d);
        let (out, att) = layer.forward_with_attention(x.clone(), &g).unwrap();
        let alpha = to_vec(att.alpha);
        let mut sums = [0.0f32; 8];
        for (e, &t) in g.host_dst().iter().enumerate() {
            sums[t as usize * 2] += alpha[e * 2];
            sums[t as usize * 2 + 1] += alpha[e * 2 + 1];
        }
        for t in 0..3 {
            assert!((sums[t * 2] - 1.0).abs() < 1e-6 && (sums[t * 2 + 1] - 1.0).abs() < 1e-6);
        }
        // Node 3 receives nothing: its output is the skip term alone.
        let out = to_vec(out);
        let skip = to_vec(layer.lin_skip.forward(x));
        assert_close(&out[12..16], &skip[12..16], 1e-6, "root term");
    }
}
