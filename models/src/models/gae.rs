//! Graph auto-encoders (Kipf & Welling 2016): GAE and VGAE — a two-layer GCN encoder and the
//! inner-product decoder `p(A_uv = 1) = σ(z_u · z_v)` ([`GraphModel::score_links`]'s default)
//! — with PyG's `GAE` / `VGAE` losses, registered as `gae` and `vgae`.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};

use crate::interop::{Import, PygParams, StateDict};
use crate::layers::{GcnConv, GcnConvConfig};
use crate::registry::bound::{Count, check_parameters, check_widths};
use crate::registry::{
    DataInfo, FitConfig, ModelSpec, Protocol, Selection, SpecError, Task, at_least_one, dims,
};
use crate::{Features, Graph, GraphError, GraphModel};

/// Configuration of a [`Gae`].
#[derive(Config, Debug)]
pub struct GaeConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Hidden features `H` (the paper's 32).
    #[config(default = 32)]
    pub d_hidden: usize,
    /// Latent features per node `D`, the output width (the paper's 16).
    #[config(default = 16)]
    pub d_output: usize,
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
            conv_mu: conv(self.d_hidden, self.d_output),
            conv_logstd: self.variational.then(|| conv(self.d_hidden, self.d_output)),
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

impl Gae {
    /// PyG's name of the second layer: `conv2` in the GAE encoder, `conv_mu` in VGAE's.
    fn mu_name(&self) -> &'static str {
        match self.conv_logstd {
            None => "conv2",
            Some(_) => "conv_mu",
        }
    }
}

impl GraphModel for Gae {
    /// The latent `z`, `[N, D]` ([`Gae::latent`]: sampled while training VGAE).
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Ok(self.latent(&self.encode(x, graph)))
    }

    /// VGAE's term: the KL divergence divided by the number of nodes, as PyG's
    /// `examples/autoencoder.py` adds it (`loss + 1/N · kl_loss()`).
    fn forward_train(
        &self,
        x: Features,
        graph: &Graph,
    ) -> Result<(Tensor<2>, Option<Tensor<1>>), GraphError> {
        let enc = self.encode(x, graph);
        let kl = enc
            .logstd
            .is_some()
            .then(|| enc.kl_loss().div_scalar(graph.num_nodes().max(1) as f64));
        Ok((self.latent(&enc), kl))
    }
}

crate::model_options! {
    /// The options of [`Gae`] (`gnn train --model gae|vgae`).
    pub struct GaeOptions {
        /// Hidden features of the first GCN layer.
        pub hidden: usize = 32,
        /// Latent features per node (the embedding the decoder scores).
        pub latent: usize = 16,
    }
}

/// [`Gae`] in the registry: `gae` ([`GaeSpec::GAE`]) or `vgae` ([`GaeSpec::VGAE`]), with PyG's
/// `examples/autoencoder.py` protocol (32 hidden and 16 latent features, Adam lr 0.01 without
/// weight decay, 400 epochs, the last one kept) on the link task: 85 / 5 / 10 % of the edges
/// for training / validation / test, one fresh negative pair per training edge each epoch.
#[derive(Debug, Clone, Copy)]
pub struct GaeSpec {
    /// VGAE rather than GAE.
    pub variational: bool,
}

impl GaeSpec {
    /// The graph auto-encoder.
    pub const GAE: GaeSpec = GaeSpec { variational: false };
    /// The variational graph auto-encoder.
    pub const VGAE: GaeSpec = GaeSpec { variational: true };
}

impl ModelSpec for GaeSpec {
    type Options = GaeOptions;
    type Config = GaeConfig;
    type Model = Gae;

    fn name(&self) -> &'static str {
        if self.variational { "vgae" } else { "gae" }
    }

    fn about(&self) -> &'static str {
        if self.variational {
            "variational graph auto-encoder, GCN encoder + inner product (Kipf & Welling 2016)"
        } else {
            "graph auto-encoder, GCN encoder + inner product (Kipf & Welling 2016)"
        }
    }

    fn task(&self) -> Task {
        Task::Link
    }

    fn protocol(&self, _dataset: &str) -> Protocol<GaeOptions> {
        Protocol {
            options: GaeOptions::default(),
            fit: FitConfig {
                epochs: 400,
                lr: 0.01,
                weight_decay: 0.0,
                selection: Selection::Last,
                ..FitConfig::default()
            },
        }
    }

    fn config(&self, o: &GaeOptions, data: &DataInfo) -> Result<GaeConfig, SpecError> {
        at_least_one("hidden", o.hidden)?;
        at_least_one("latent", o.latent)?;
        Ok(GaeConfig::new(data.num_features)
            .with_d_hidden(o.hidden)
            .with_d_output(o.latent)
            .with_variational(self.variational))
    }

    fn widths(&self, c: &GaeConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &GaeConfig) -> Result<(), SpecError> {
        let widths = [
            ("d_input", c.d_input),
            ("d_hidden", c.d_hidden),
            ("d_output", c.d_output),
        ];
        check_widths(self.name(), &widths)?;
        if c.variational != self.variational {
            return Err(SpecError::architecture(
                self.name(),
                "the configuration is of the other auto-encoder",
            ));
        }
        let heads = if c.variational { 2 } else { 1 };
        let bound = (Count::of(c.d_input) + 1) * c.d_hidden
            + (Count::of(c.d_hidden) + 1) * c.d_output * heads;
        check_parameters(self.name(), bound)
    }

    fn infer(&self, dict: &StateDict) -> Result<GaeConfig, SpecError> {
        let [h, f] = dims(dict, self.name(), "encoder.conv1.lin.weight")?;
        let second = if self.variational {
            "encoder.conv_mu.lin.weight"
        } else {
            "encoder.conv2.lin.weight"
        };
        let [d, _] = dims(dict, self.name(), second)?;
        Ok(GaeConfig::new(f)
            .with_d_hidden(h)
            .with_d_output(d)
            .with_variational(self.variational))
    }

    fn init(&self, c: &GaeConfig, device: &Device) -> Result<Gae, SpecError> {
        Ok(c.init(device))
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
