//! [`GruCell`]: one step of a gated recurrent unit, with PyTorch's `torch.nn.GRU` parameters.

use crate::interop::{
    Import, PygParams, StateDict, export_param, export_transposed, import_param, import_transposed,
};
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor};

/// Configuration of a [`GruCell`].
#[derive(Config, Debug)]
pub struct GruCellConfig {
    /// Input features.
    pub d_input: usize,
    /// Hidden features `H`.
    pub d_hidden: usize,
}

/// One GRU step, gates in PyTorch's order (r, z, n):
///
/// `r = σ(x W_ir + b_ir + h W_hr + b_hr)`, `z = σ(x W_iz + b_iz + h W_hz + b_hz)`,
/// `n = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
///
/// Stored as `x @ W`: `weight_ih [F, 3H]`, `weight_hh [H, 3H]` (the transposes of PyTorch's
/// `weight_ih_l0 [3H, F]`, `weight_hh_l0 [3H, H]`), `bias_ih`, `bias_hh [3H]`.
///
/// # Shapes
/// - `x`: `[N, F]`, `h`: `[N, H]`; output `[N, H]`
#[derive(Module, Debug)]
pub struct GruCell {
    /// Input weights `[F, 3H]`.
    pub weight_ih: Param<Tensor<2>>,
    /// Hidden weights `[H, 3H]`.
    pub weight_hh: Param<Tensor<2>>,
    /// Input bias `[3H]`.
    pub bias_ih: Param<Tensor<1>>,
    /// Hidden bias `[3H]`.
    pub bias_hh: Param<Tensor<1>>,
    d_hidden: usize,
}

impl GruCellConfig {
    /// Builds the cell with PyTorch's initialisation: every parameter `U(−1/√H, 1/√H)`.
    pub fn init(&self, device: &Device) -> GruCell {
        let h = self.d_hidden;
        let k = 1.0 / (h as f64).sqrt();
        let u = Initializer::Uniform { min: -k, max: k };
        GruCell {
            weight_ih: u.init([self.d_input, 3 * h], device),
            weight_hh: u.init([h, 3 * h], device),
            bias_ih: u.init([3 * h], device),
            bias_hh: u.init([3 * h], device),
            d_hidden: h,
        }
    }
}

impl GruCell {
    /// One step from hidden state `h` with input `x`.
    pub fn forward(&self, x: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
        let hd = self.d_hidden;
        let [n, _] = x.dims();
        let gi = x.matmul(self.weight_ih.val()) + self.bias_ih.val().unsqueeze_dim(0);
        let gh = h.clone().matmul(self.weight_hh.val()) + self.bias_hh.val().unsqueeze_dim(0);
        let part = |t: &Tensor<2>, k: usize| t.clone().slice([0..n, k * hd..(k + 1) * hd]);
        let r = sigmoid(part(&gi, 0) + part(&gh, 0));
        let z = sigmoid(part(&gi, 1) + part(&gh, 1));
        let cand = tanh(part(&gi, 2) + r * part(&gh, 2));
        let before = crate::trace::recording().then(|| {
            crate::trace::note_update_gate(&z);
            h.clone()
        });
        let h_new = z.clone().neg().add_scalar(1.0) * cand + z * h;
        if let Some(h) = before {
            crate::trace::note_update(&h, &h_new);
        }
        h_new
    }
}

impl PygParams for GruCell {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_transposed(&self.weight_ih, format!("{prefix}weight_ih_l0"), out);
        export_transposed(&self.weight_hh, format!("{prefix}weight_hh_l0"), out);
        export_param(&self.bias_ih, format!("{prefix}bias_ih_l0"), out);
        export_param(&self.bias_hh, format!("{prefix}bias_hh_l0"), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_transposed(&mut self.weight_ih, &format!("{prefix}weight_ih_l0"), src);
        import_transposed(&mut self.weight_hh, &format!("{prefix}weight_hh_l0"), src);
        import_param(&mut self.bias_ih, &format!("{prefix}bias_ih_l0"), src);
        import_param(&mut self.bias_hh, &format!("{prefix}bias_hh_l0"), src);
    }
}
