//! [`Set2Set`]: the order-invariant LSTM readout of Vinyals et al. (2016), with PyG's
//! `Set2Set` semantics.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Int, Tensor};

use crate::interop::{
    Import, PygParams, StateDict, export_param, export_transposed, import_param, import_transposed,
};
use crate::message_passing::{gather_rows, segment_softmax, segment_sum};

/// Configuration of a [`Set2Set`] readout.
#[derive(Config, Debug)]
pub struct Set2SetConfig {
    /// Node features `d`.
    pub d_input: usize,
    /// Attention rounds `T`.
    #[config(default = 3)]
    pub processing_steps: usize,
}

/// Set2Set readout over the graphs of a batch:
///
/// `q* = 0 [B, 2d]`, `h = c = 0 [B, d]`; `T` times:
/// `(h, c) = LSTM(q*, (h, c))`, `q = h`, `e_n = ⟨x_n, q_{b(n)}⟩`, `a = softmax_b(e)` (within
/// each graph), `r_b = Σ_{n ∈ b} a_n x_n`, `q* = [q, r]`. Output `q*`.
///
/// The LSTM cell (gates i, f, g, o) is stored as `x @ W`: `weight_ih [2d, 4d]`,
/// `weight_hh [d, 4d]`, the transposes of PyTorch's `lstm.weight_ih_l0`, `lstm.weight_hh_l0`.
///
/// # Shapes
/// - `x`: `[N, d]`, `batch`: `[N]` in `0..B`; output `[B, 2d]`
#[derive(Module, Debug)]
pub struct Set2Set {
    /// LSTM input weights `[2d, 4d]`.
    pub weight_ih: Param<Tensor<2>>,
    /// LSTM hidden weights `[d, 4d]`.
    pub weight_hh: Param<Tensor<2>>,
    /// LSTM input bias `[4d]`.
    pub bias_ih: Param<Tensor<1>>,
    /// LSTM hidden bias `[4d]`.
    pub bias_hh: Param<Tensor<1>>,
    d_input: usize,
    processing_steps: usize,
}

impl Set2SetConfig {
    /// Builds the readout with PyTorch's LSTM initialisation, `U(−1/√d, 1/√d)`.
    pub fn init(&self, device: &Device) -> Set2Set {
        let d = self.d_input;
        let k = 1.0 / (d as f64).sqrt();
        let u = Initializer::Uniform { min: -k, max: k };
        Set2Set {
            weight_ih: u.init([2 * d, 4 * d], device),
            weight_hh: u.init([d, 4 * d], device),
            bias_ih: u.init([4 * d], device),
            bias_hh: u.init([4 * d], device),
            d_input: d,
            processing_steps: self.processing_steps,
        }
    }
}

impl Set2Set {
    /// Reads out every graph of the batch.
    pub fn forward(&self, x: Tensor<2>, batch: &Tensor<1, Int>, num_graphs: usize) -> Tensor<2> {
        let (d, b) = (self.d_input, num_graphs);
        let device = x.device();
        let mut q_star = Tensor::<2>::zeros([b, 2 * d], &device);
        let mut h = Tensor::<2>::zeros([b, d], &device);
        let mut c = Tensor::<2>::zeros([b, d], &device);
        let gate = |t: &Tensor<2>, k: usize| t.clone().slice([0..b, k * d..(k + 1) * d]);
        for _ in 0..self.processing_steps {
            let g = q_star.matmul(self.weight_ih.val())
                + self.bias_ih.val().unsqueeze_dim(0)
                + h.matmul(self.weight_hh.val())
                + self.bias_hh.val().unsqueeze_dim(0);
            c = sigmoid(gate(&g, 1)) * c + sigmoid(gate(&g, 0)) * tanh(gate(&g, 2));
            h = sigmoid(gate(&g, 3)) * tanh(c.clone());
            let e = (x.clone() * gather_rows(h.clone(), batch)).sum_dim(1);
            let a = segment_softmax(e, batch, b);
            let r = segment_sum(a * x.clone(), batch, b);
            q_star = Tensor::cat(vec![h.clone(), r], 1);
        }
        q_star
    }
}

impl PygParams for Set2Set {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_transposed(&self.weight_ih, format!("{prefix}lstm.weight_ih_l0"), out);
        export_transposed(&self.weight_hh, format!("{prefix}lstm.weight_hh_l0"), out);
        export_param(&self.bias_ih, format!("{prefix}lstm.bias_ih_l0"), out);
        export_param(&self.bias_hh, format!("{prefix}lstm.bias_hh_l0"), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_transposed(
            &mut self.weight_ih,
            &format!("{prefix}lstm.weight_ih_l0"),
            src,
        );
        import_transposed(
            &mut self.weight_hh,
            &format!("{prefix}lstm.weight_hh_l0"),
            src,
        );
        import_param(&mut self.bias_ih, &format!("{prefix}lstm.bias_ih_l0"), src);
        import_param(&mut self.bias_hh, &format!("{prefix}lstm.bias_hh_l0"), src);
    }
}
