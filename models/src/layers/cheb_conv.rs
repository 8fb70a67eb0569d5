//! [`ChebConv`]: Chebyshev spectral graph convolution (Defferrard et al. 2016), with PyG's
//! `ChebConv` semantics.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::interop::{
    Import, PygParams, StateDict, export_bias, export_linear, import_bias, import_linear,
};
use crate::kernels;
use crate::message_passing::{gather_rows, propagate_weighted, remove_self_loops, segment_sum};
use crate::{Features, Graph};

/// The Laplacian a [`ChebConv`] expands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ChebNormalization {
    /// `L = I − D^{-1/2} A D^{-1/2}`.
    #[default]
    Sym,
    /// `L = I − D^{-1} A` (PyG applies the degree of each edge's source).
    Rw,
    /// `L = D − A` (needs `lambda_max`).
    None,
}

impl std::str::FromStr for ChebNormalization {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sym" => Ok(Self::Sym),
            "rw" => Ok(Self::Rw),
            "none" => Ok(Self::None),
            _ => Err(format!("unknown normalization '{s}' (sym, rw, none)")),
        }
    }
}

/// Configuration of a [`ChebConv`] layer.
#[derive(Config, Debug)]
pub struct ChebConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Output features per node `F'`.
    pub d_output: usize,
    /// Chebyshev order `K` (≥ 1): polynomials `T_0 … T_{K−1}`.
    pub k: usize,
    /// The Laplacian.
    #[config(default = "ChebNormalization::Sym")]
    pub normalization: ChebNormalization,
    /// The largest eigenvalue of `L` used for scaling; `None`: 2, which bounds the spectrum
    /// of the normalised Laplacians (and is what PyG uses for them).
    #[config(default = "None")]
    pub lambda_max: Option<f64>,
    /// Learn an additive bias.
    #[config(default = true)]
    pub bias: bool,
    /// Compute the scaled Laplacian once per [`Graph`] value (full-batch training); its
    /// weights are then constants.
    #[config(default = false)]
    pub cached: bool,
}

/// Chebyshev convolution:
///
/// `out = Σ_{k<K} T_k W_k + b`, `T_0 = x`, `T_1 = L̂ x`, `T_k = 2 L̂ T_{k−1} − T_{k−2}`,
///
/// with the scaled Laplacian `L̂ = 2 L / λ_max − I`. Input self-loops are dropped (with their
/// weights); with weights `w` (or 1) the off-diagonal entries of `L` are
/// `−d_j^{-1/2} w_ji d_i^{-1/2}` (`Sym`), `−w_ji / d_j` (`Rw`) or `−w_ji` (`None`), with `d`
/// the weighted **out**-degree (PyG's convention), and the diagonal is 1 (`D` for `None`).
///
/// Parameters have PyG's names: `lins.k.weight` (no bias each), `bias`.
///
/// # Shapes
/// - input `x`: `[N, F]`; graph with optional edge weights `[E]`; output `[N, F']`
#[derive(Module, Debug)]
pub struct ChebConv {
    /// `W_k`, `[F, F']` each.
    pub lins: Vec<Linear>,
    /// The bias `[F']`.
    pub bias: Option<Param<Tensor<1>>>,
    #[module(skip)]
    normalization: ChebNormalization,
    #[module(skip)]
    lambda_max: f64,
    #[module(skip)]
    cached: bool,
}

impl ChebConvConfig {
    /// Builds the layer: Glorot-uniform `W_k`, zero bias (PyG's initialisation).
    pub fn init(&self, device: &Device) -> ChebConv {
        let lins = (0..self.k.max(1))
            .map(|_| {
                LinearConfig::new(self.d_input, self.d_output)
                    .with_bias(false)
                    .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                    .init(device)
            })
            .collect();
        ChebConv {
            lins,
            bias: self
                .bias
                .then(|| Initializer::Zeros.init([self.d_output], device)),
            normalization: self.normalization,
            lambda_max: self.lambda_max.unwrap_or(2.0),
            cached: self.cached,
        }
    }
}

/// The memo key of a cached scaled Laplacian.
#[derive(Debug, PartialEq)]
struct ScaledLaplacian {
    normalization: ChebNormalization,
    lambda_bits: u64,
}

impl ChebConv {
    /// The scaled Laplacian `L̂`: its off-diagonal part as the edge weights of the graph
    /// without self-loops, and its diagonal `[N]`.
    pub fn scaled_laplacian(&self, graph: &Graph) -> (Graph, Tensor<1>) {
        if !self.cached {
            return self.laplacian(graph);
        }
        let key = ScaledLaplacian {
            normalization: self.normalization,
            lambda_bits: self.lambda_max.to_bits(),
        };
        graph.memoized_value(key, |g| {
            let (lap, diagonal) = self.laplacian(g);
            let lap = match lap.edge_weight() {
                Some(w) => lap.reweighted(w.clone().detach()),
                None => lap,
            };
            (lap, diagonal.detach())
        })
    }

    /// [`scaled_laplacian`](Self::scaled_laplacian), computed.
    fn laplacian(&self, graph: &Graph) -> (Graph, Tensor<1>) {
        let g = remove_self_loops(graph);
        let (n, device) = (g.num_nodes(), g.device());
        let w = g
            .edge_weight()
            .cloned()
            .unwrap_or_else(|| Tensor::ones([g.num_edges()], &device));
        let deg = segment_sum(w.clone(), g.src(), n);
        let zero = deg.clone().equal_elem(0.0);
        let off = match self.normalization {
            ChebNormalization::Sym => {
                let inv_sqrt = deg
                    .clone()
                    .mask_fill(zero.clone(), 1.0)
                    .powf_scalar(-0.5)
                    .mask_fill(zero, 0.0);
                gather_rows(inv_sqrt.clone(), g.src()) * w * gather_rows(inv_sqrt, g.dst())
            }
            ChebNormalization::Rw => {
                let inv = deg
                    .clone()
                    .mask_fill(zero.clone(), 1.0)
                    .recip()
                    .mask_fill(zero, 0.0);
                gather_rows(inv, g.src()) * w
            }
            ChebNormalization::None => w,
        };
        let scale = 2.0 / self.lambda_max;
        let diagonal = match self.normalization {
            ChebNormalization::None => deg.mul_scalar(scale).sub_scalar(1.0),
            _ => Tensor::ones([n], &device).mul_scalar(scale - 1.0),
        };
        (g.reweighted(off.mul_scalar(-scale)), diagonal)
    }

    /// Applies the layer. Each term is computed as `T_k(L̂) (x W_k)` — the polynomial applied
    /// to the projected features, which equals `T_k(L̂) x W_k` and costs `O(K² E F')` instead of
    /// `O(K E F)` with dense `F`-wide propagations (sparse input stays sparse).
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, F']`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        let x: Features = x.into();
        let (lap, diagonal) = self.scaled_laplacian(graph);
        let diagonal = diagonal.unsqueeze_dim(1);
        let apply = |h: Tensor<2>| propagate_weighted(h.clone(), &lap) + h * diagonal.clone();
        let mut terms = self.lins.iter().enumerate().map(|(k, lin)| {
            // T_0 y = y, T_1 y = L̂ y, T_j y = 2 L̂ T_{j-1} y − T_{j-2} y.
            let y = x.clone().linear(lin);
            let (mut prev, mut t) = (y.clone(), y);
            for j in 1..=k {
                let next = if j == 1 {
                    apply(t.clone())
                } else {
                    apply(t.clone()).mul_scalar(2.0) - prev.clone()
                };
                (prev, t) = (t, next);
            }
            t
        });
        let first = terms.next();
        let out = terms.fold(first, |acc, t| Some(acc.map_or(t.clone(), |a| a + t)));
        let out = out.unwrap_or_else(|| Tensor::zeros([graph.num_nodes(), 0], &graph.device()));
        kernels::plus_bias(out, self.bias.as_ref())
    }
}

impl PygParams for ChebConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        for (k, lin) in self.lins.iter().enumerate() {
            export_linear(lin, &format!("{prefix}lins.{k}."), out);
        }
        export_bias(&self.bias, prefix, out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        for (k, lin) in self.lins.iter_mut().enumerate() {
            import_linear(lin, &format!("{prefix}lins.{k}."), src);
        }
        import_bias(&mut self.bias, prefix, src);
    }
}
