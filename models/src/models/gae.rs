//! Graph auto-encoders (Kipf & Welling 2016): GAE and VGAE — a two-layer GCN encoder and the
//! inner-product decoder `p(A_uv = 1) = σ(z_u · z_v)` — with PyG's `GAE` / `VGAE` losses.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::{log_sigmoid, relu};
use burn::tensor::{Device, Distribution, Int, Tensor};

use crate::interop::{Import, PygParams, StateDict};
use crate::layers::{GcnConv, GcnConvConfig};
use crate::{Features, Graph};

/// Configuration of a [`Gae`].
#[derive(Config, Debug)]
pub struct GaeConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Hidden features `H` (the paper's 32).
    #[config(default = 32)]
    pub d_hidden: usize,
    /// Latent features per node `D` (the paper's 16).
    #[config(default = 16)]
    pub d_latent: usize,
    /// VGAE: a Gaussian latent `z ~ N(μ, σ²)` with a KL term, instead of `z = μ`.
    #[config(default = false)]
    pub variational: bool,
}

/// The encoder of the graph auto-encoders, with PyG's `examples/autoencoder.py` names:
///
/// - GAE: `z = conv2(relu(conv1(x)))` (`conv1`, `conv2`);
/// - VGAE: `h = relu(conv1(x))`, `μ = conv_mu(h)`, `log σ = conv_logstd(h)`, and during
///   training `z = μ + ε · σ`, `ε ~ N(0, I)` (the reparameterisation); `z = μ` otherwise.
///
/// All layers are GCN layers with self-loops and symmetric normalisation, on the training
/// graph only (its edges are the training pairs in both directions).
///
/// # Shapes
/// - input `x`: `[N, F]`; `μ`, `log σ`, `z`: `[N, D]`
#[derive(Module, Debug)]
pub struct Gae {
    /// First layer `F → H`.
    pub conv1: GcnConv,
    /// Second layer `H → D` (GAE: `z`; VGAE: `μ`).
    pub conv_mu: GcnConv,
    /// VGAE only: `H → D`, the log standard deviation.
    pub conv_logstd: Option<GcnConv>,
}

/// What the encoder gives: the mean (GAE: the embedding) and, for VGAE, `log σ`.
#[derive(Debug, Clone)]
pub struct Encoding {
    /// `μ` (GAE: `z`), `[N, D]`.
    pub mu: Tensor<2>,
    /// VGAE: `log σ`, `[N, D]`, clamped above at 10 as PyG does.
    pub logstd: Option<Tensor<2>>,
}

impl GaeConfig {
    /// Builds the encoder.
    pub fn init(&self, device: &Device) -> Gae {
        let conv = |i, o| GcnConvConfig::new(i, o).with_cached(true).init(device);
        Gae {
            conv1: conv(self.d_input, self.d_hidden),
            conv_mu: conv(self.d_hidden, self.d_latent),
            conv_logstd: self.variational.then(|| conv(self.d_hidden, self.d_latent)),
        }
    }
}

impl Gae {
    /// Encodes the nodes.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output tensors `[N, D]`
    pub fn encode(&self, x: impl Into<Features>, graph: &Graph) -> Encoding {
        let h = relu(self.conv1.forward(x.into(), graph));
        Encoding {
            mu: self.conv_mu.forward(h.clone(), graph),
            logstd: self
                .conv_logstd
                .as_ref()
                .map(|c| c.forward(h, graph).clamp_max(10.0)),
        }
    }

    /// The latent `z`: `μ + ε · exp(log σ)` for VGAE on an autodiff device (training), else
    /// `μ`.
    ///
    /// # Shapes
    /// - output `[N, D]`
    pub fn latent(&self, enc: &Encoding) -> Tensor<2> {
        match &enc.logstd {
            Some(logstd) if enc.mu.device().is_autodiff() => {
                let eps = enc.mu.random_like(Distribution::Normal(0.0, 1.0));
                enc.mu.clone() + eps * logstd.clone().exp()
            }
            _ => enc.mu.clone(),
        }
    }
}

impl Encoding {
    /// VGAE's KL divergence from the prior, as PyG's `VGAE.kl_loss`:
    /// `−½ · mean_i Σ_d (1 + 2 log σ_id − μ_id² − σ_id²)`; zero for GAE.
    ///
    /// # Shapes
    /// - output `[1]`
    pub fn kl_loss(&self) -> Tensor<1> {
        match &self.logstd {
            None => Tensor::zeros([1], &self.mu.device()),
            Some(logstd) => {
                let mu2 = self.mu.clone().powi_scalar(2);
                let var = logstd.clone().mul_scalar(2.0).exp();
                (logstd.clone().mul_scalar(2.0).add_scalar(1.0) - mu2 - var)
                    .sum_dim(1)
                    .mean()
                    .mul_scalar(-0.5)
            }
        }
    }
}

/// The inner-product decoder's logits for node pairs: `z_u · z_v` (the edge probability is
/// `σ` of it).
///
/// # Shapes
/// - `z`: `[N, D]`; `src`, `dst`: `[P]`; output `[P]`
pub fn inner_product(z: Tensor<2>, src: Tensor<1, Int>, dst: Tensor<1, Int>) -> Tensor<1> {
    (z.clone().select(0, src) * z.select(0, dst))
        .sum_dim(1)
        .squeeze_dim(1)
}

/// The reconstruction loss of the auto-encoders: binary cross-entropy of the positive pairs'
/// logits against 1 and the negative pairs' against 0, each side averaged on its own as PyG's
/// `GAE.recon_loss` does: `−mean log σ(pos) − mean log(1 − σ(neg))`, with `log σ` computed
/// stably (PyG adds 1e-15 inside the log instead).
///
/// # Shapes
/// - `pos`: `[P]`, `neg`: `[Q]`; output `[1]`
pub fn recon_loss(pos: Tensor<1>, neg: Tensor<1>) -> Tensor<1> {
    let pos_term = log_sigmoid(pos).mean().neg();
    let neg_term = log_sigmoid(neg.neg()).mean().neg();
    pos_term + neg_term
}

impl Gae {
    /// PyG's name of the second layer: `conv2` in the GAE encoder, `conv_mu` in VGAE's.
    fn mu_name(&self) -> &'static str {
        match self.conv_logstd {
            None => "conv2",
            Some(_) => "conv_mu",
        }
    }
}

impl PygParams for Gae {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        self.conv1
            .export_pyg(&format!("{prefix}encoder.conv1."), out);
        let mu = format!("{prefix}encoder.{}.", self.mu_name());
        self.conv_mu.export_pyg(&mu, out);
        if let Some(logstd) = &self.conv_logstd {
            logstd.export_pyg(&format!("{prefix}encoder.conv_logstd."), out);
        }
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        self.conv1
            .import_pyg(&format!("{prefix}encoder.conv1."), src);
        let mu = format!("{prefix}encoder.{}.", self.mu_name());
        self.conv_mu.import_pyg(&mu, src);
        if let Some(logstd) = &mut self.conv_logstd {
            logstd.import_pyg(&format!("{prefix}encoder.conv_logstd."), src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::export_pyg;
    use crate::testing::*;

    fn ids(v: &[i64], d: &Device) -> Tensor<1, Int> {
        Tensor::from_data(v, d)
    }

    #[test]
    fn decoder_and_losses_by_hand() {
        let d = Device::flex();
        let z = tensor2(&[1.0, 0.0, 0.5, 2.0, -1.0, 1.0], [3, 2], &d);
        let logits = to_vec(inner_product(z, ids(&[0, 1, 2], &d), ids(&[1, 2, 0], &d)));
        assert_close(&logits, &[0.5, 1.5, -1.0], 1e-6, "z_u . z_v");
        // −log σ(2) − log(1 − σ(−1)) = softplus(−2) + softplus(−1).
        let loss = to_vec(recon_loss(
            Tensor::from_data([2.0f32], &d),
            Tensor::from_data([-1.0f32], &d),
        ));
        let sp = |x: f32| (1.0 + x.exp()).ln();
        assert_close(&loss, &[sp(-2.0) + sp(-1.0)], 1e-6, "bce");
        // Saturated logits stay finite.
        let big = to_vec(recon_loss(
            Tensor::from_data([-200.0f32], &d),
            Tensor::from_data([200.0f32], &d),
        ));
        assert!((big[0] - 400.0).abs() < 1e-3, "{big:?}");
    }

    #[test]
    fn vgae_kl_is_zero_at_the_prior_and_the_latent_is_the_mean_in_eval() {
        let d = Device::flex();
        let enc = Encoding {
            mu: Tensor::zeros([4, 3], &d),
            logstd: Some(Tensor::zeros([4, 3], &d)),
        };
        assert_close(&to_vec(enc.kl_loss()), &[0.0], 1e-7, "kl at N(0, I)");
        let moved = Encoding {
            mu: Tensor::ones([4, 3], &d),
            logstd: Some(Tensor::zeros([4, 3], &d)),
        };
        // −½ Σ_d (1 + 0 − 1 − 1) = 1.5 per node.
        assert_close(&to_vec(moved.kl_loss()), &[1.5], 1e-6, "kl");
        let g = Graph::new(&[0, 1], &[1, 2], 4, &d).unwrap();
        let model = GaeConfig::new(5).with_variational(true).init(&d);
        let enc = model.encode(Tensor::<2>::ones([4, 5], &d), &g);
        assert_eq!(to_vec(model.latent(&enc)), to_vec(enc.mu.clone()));
        assert_eq!(enc.mu.dims(), [4, 16]);
    }

    #[test]
    fn pyg_names_of_both_encoders() {
        let d = Device::flex();
        let names = |variational| -> Vec<String> {
            let m = GaeConfig::new(5).with_variational(variational).init(&d);
            export_pyg(&m).into_keys().collect()
        };
        assert_eq!(
            names(false),
            [
                "encoder.conv1.bias",
                "encoder.conv1.lin.weight",
                "encoder.conv2.bias",
                "encoder.conv2.lin.weight"
            ]
        );
        assert!(names(true).contains(&"encoder.conv_logstd.lin.weight".to_string()));
    }
}
