//! [`GatedGraphConv`]: gated graph neural network layers (Li et al. 2016), with PyG's
//! `GatedGraphConv` semantics — the classic GRU-update message passing.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

use super::gru_cell::{GruCell, GruCellConfig};
use crate::interop::{
    Import, PygParams, StateDict, export_param, export_transposed, import_param, import_transposed,
};
use crate::message_passing::{Aggregation, aggregate, gather_src};
use crate::{Graph, GraphError};

/// Configuration of a [`GatedGraphConv`] layer.
#[derive(Config, Debug)]
pub struct GatedGraphConvConfig {
    /// Input features per node `F` (at most `C`: the state is zero-padded to `C`).
    pub d_input: usize,
    /// State width `C`.
    pub d_output: usize,
    /// Propagation steps `L`, one weight matrix each.
    pub num_layers: usize,
    /// Aggregation of the messages (`Sum` is PyG's default `add`).
    #[config(default = "Aggregation::Sum")]
    pub aggr: Aggregation,
}

/// Gated graph convolution:
///
/// `h⁰ = [x, 0]` (zero-padded to `C` columns); for `l = 0..L`:
/// `m_i = ⊕_{j → i} h_j W_l`, `h = GRU(m, h)`; output `h^L`.
///
/// One `W_l` per step (`weight [L, C, C]`, used as `h @ W_l` — PyG's layout), one GRU cell
/// shared by the steps (PyG's `rnn.weight_ih`, … of a `torch.nn.GRUCell`).
///
/// # Shapes
/// - input `x`: `[N, F]`, `F ≤ C`; output `[N, C]`
#[derive(Module, Debug)]
pub struct GatedGraphConv {
    /// Per-step weights `[L, C, C]`.
    pub weight: Param<Tensor<3>>,
    /// The shared GRU cell (`C → C`).
    pub rnn: GruCell,
    #[module(skip)]
    aggr: Aggregation,
    d_input: usize,
    d_output: usize,
    num_layers: usize,
}

impl GatedGraphConvConfig {
    /// Builds the layer: `weight ~ U(−1/√C, 1/√C)` (PyG's), the GRU cell as PyTorch
    /// initialises it.
    pub fn init(&self, device: &Device) -> GatedGraphConv {
        let (l, c) = (self.num_layers, self.d_output);
        let k = 1.0 / (c.max(1) as f64).sqrt();
        GatedGraphConv {
            weight: Initializer::Uniform { min: -k, max: k }.init([l, c, c], device),
            rnn: GruCellConfig::new(c, c).init(device),
            aggr: self.aggr,
            d_input: self.d_input,
            d_output: c,
            num_layers: l,
        }
    }
}

impl GatedGraphConv {
    /// Applies the layer. An input wider than the state is an error.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, C]`
    pub fn forward(&self, x: Tensor<2>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let [n, f] = x.dims();
        let c = self.d_output;
        if f > c || f != self.d_input {
            return Err(GraphError::Width {
                layer: "GatedGraphConv",
                what: "node features",
                expected: self.d_input,
                got: f,
            });
        }
        let mut h = if f < c {
            Tensor::cat(vec![x.clone(), Tensor::zeros([n, c - f], &x.device())], 1)
        } else {
            x
        };
        let w = self.weight.val();
        for l in 0..self.num_layers {
            let wl = w.clone().slice([l..l + 1, 0..c, 0..c]).reshape([c, c]);
            let m = aggregate(gather_src(h.clone().matmul(wl), graph), graph, self.aggr);
            h = self.rnn.forward(m, h);
        }
        Ok(h)
    }
}

impl PygParams for GatedGraphConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_param(&self.weight, format!("{prefix}weight"), out);
        let rnn = &self.rnn;
        export_transposed(&rnn.weight_ih, format!("{prefix}rnn.weight_ih"), out);
        export_transposed(&rnn.weight_hh, format!("{prefix}rnn.weight_hh"), out);
        export_param(&rnn.bias_ih, format!("{prefix}rnn.bias_ih"), out);
        export_param(&rnn.bias_hh, format!("{prefix}rnn.bias_hh"), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_param(&mut self.weight, &format!("{prefix}weight"), src);
        let rnn = &mut self.rnn;
        import_transposed(&mut rnn.weight_ih, &format!("{prefix}rnn.weight_ih"), src);
        import_transposed(&mut rnn.weight_hh, &format!("{prefix}rnn.weight_hh"), src);
        import_param(&mut rnn.bias_ih, &format!("{prefix}rnn.bias_ih"), src);
        import_param(&mut rnn.bias_hh, &format!("{prefix}rnn.bias_hh"), src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn pads_the_input_and_refuses_a_wider_one() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1], &[1, 2], 3, &d).unwrap();
        let layer = GatedGraphConvConfig::new(2, 4, 2).init(&d);
        let out = layer
            .forward(tensor2(&seeded_values(6, 1), [3, 2], &d), &g)
            .unwrap();
        assert_eq!(out.dims(), [3, 4]);
        let wide = tensor2(&seeded_values(15, 1), [3, 5], &d);
        assert!(layer.forward(wide, &g).is_err());
    }
}
