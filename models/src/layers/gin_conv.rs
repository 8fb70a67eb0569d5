//! [`GinConv`]: the graph isomorphism network layer (Xu et al. 2019) and its edge-feature
//! variant GINE (Hu et al. 2020), with PyG's `GINConv` / `GINEConv` semantics.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::interop::{
    HostTensor, Import, PygParams, StateDict, export_linear, export_param, import_linear,
    import_param,
};
use crate::kernels;
use crate::message_passing::{Aggregation, EdgeInputs, MessagePassing, aggregate_sources};
use crate::{Features, Graph, GraphError};

/// Configuration of a [`GinConv`] layer.
#[derive(Config, Debug)]
pub struct GinConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Hidden width of the MLP `H`.
    pub d_hidden: usize,
    /// Output features per node `F'`.
    pub d_output: usize,
    /// The initial `ε`.
    #[config(default = 0.0)]
    pub eps: f64,
    /// Learn `ε` (otherwise it stays fixed).
    #[config(default = false)]
    pub train_eps: bool,
    /// GINE: messages `relu(x_j + e_ji)` use the edge features.
    #[config(default = false)]
    pub gine: bool,
    /// GINE: project edge features of this width to `F` first (`lin`); without it they must
    /// be `F` wide.
    #[config(default = "None")]
    pub edge_dim: Option<usize>,
}

/// GIN: `x'_i = MLP((1 + ε) x_i + Σ_{j → i} x_j)`;
/// GINE: `x'_i = MLP((1 + ε) x_i + Σ_{j → i} relu(x_j + e_ji W_e + b_e))` (`W_e` only with
/// `edge_dim`), with `MLP = Linear(F, H) → ReLU → Linear(H, F')`.
///
/// Parameters have PyG's names: `nn.0.*`, `nn.2.*`, `eps` (a parameter with `train_eps`, a
/// buffer otherwise, exported either way), and GINE's `lin.*`. An input self-loop `(i, i)`
/// adds `x_i` once more, as in PyG.
///
/// # Shapes
/// - input `x`: `[N, F]`; GINE: edge features `[E, D]` (`D = edge_dim`, else `F`); output
///   `[N, F']`
#[derive(Module, Debug)]
pub struct GinConv {
    /// First layer of the MLP, `F → H` (PyG's `nn.0`).
    pub nn0: Linear,
    /// Second layer of the MLP, `H → F'` (PyG's `nn.2`).
    pub nn2: Linear,
    /// The learned `ε`, `[1]` (with `train_eps`).
    pub eps: Option<Param<Tensor<1>>>,
    /// GINE's edge projection `D → F`.
    pub lin: Option<Linear>,
    /// The fixed `ε` (without `train_eps`).
    #[module(skip)]
    fixed_eps: f64,
    #[module(skip)]
    gine: bool,
    #[module(skip)]
    d_input: usize,
}

impl GinConvConfig {
    /// Builds the layer with PyTorch's default `Linear` initialisation.
    pub fn init(&self, device: &Device) -> GinConv {
        let eps = || {
            let t = Tensor::<1>::from_data(TensorData::new(vec![self.eps as f32], [1]), device);
            Param::from_tensor(t)
        };
        GinConv {
            nn0: LinearConfig::new(self.d_input, self.d_hidden).init(device),
            nn2: LinearConfig::new(self.d_hidden, self.d_output).init(device),
            eps: self.train_eps.then(eps),
            lin: self
                .edge_dim
                .filter(|_| self.gine)
                .map(|d| LinearConfig::new(d, self.d_input).init(device)),
            fixed_eps: self.eps,
            gine: self.gine,
            d_input: self.d_input,
        }
    }
}

impl GinConv {
    /// Applies the layer. GINE on a graph without edge features of the expected width is an
    /// error.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, F']`
    pub fn forward(&self, x: Tensor<2>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        self.propagate(x, graph)
    }

    /// [`forward`](Self::forward) on features of any kind. GIN (not GINE) with an input wider
    /// than the MLP's hidden layer projects first: the first linear layer commutes with the
    /// sum, `((1 + ε) x_i + Σ_j x_j) W₀ + b₀ = (1 + ε) x_i W₀ + Σ_j x_j W₀ + b₀`, so the
    /// aggregation runs over `H` columns instead of `F`, and sparse features are multiplied as
    /// they are (Cora: 1433 → 64 columns to aggregate).
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, F']`
    pub fn forward_features(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let [_, hidden] = self.nn0.weight.dims();
        if self.gine || self.d_input <= hidden {
            return self.forward(x.to_dense(&graph.device()), graph);
        }
        let h = x.matmul(self.nn0.weight.val());
        let z = self.own(h.clone()) + aggregate_sources(h, graph, Aggregation::Sum);
        let z = kernels::plus_bias(z, self.nn0.bias.as_ref());
        Ok(self.nn2.forward(relu(z)))
    }

    /// `(1 + ε) x`.
    fn own(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.eps {
            Some(eps) => x * eps.val().add_scalar(1.0).unsqueeze_dim(0),
            None => x.mul_scalar(1.0 + self.fixed_eps),
        }
    }
}

impl MessagePassing for GinConv {
    type Aggr = Aggregation;

    fn aggregator(&self) -> Aggregation {
        Aggregation::Sum
    }

    fn message(&self, edges: &EdgeInputs<'_>) -> Result<Tensor<2>, GraphError> {
        if !self.gine {
            return Ok(edges.x_j());
        }
        let e = match &self.lin {
            Some(lin) => {
                let [d, _] = lin.weight.val().dims();
                lin.forward(edges.edge_attr("GINEConv", d)?)
            }
            None => edges.edge_attr("GINEConv", self.d_input)?,
        };
        Ok(relu(edges.x_j() + e))
    }

    fn update(&self, aggregated: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        self.nn2
            .forward(relu(self.nn0.forward(self.own(x) + aggregated)))
    }
}

impl PygParams for GinConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        match &self.eps {
            Some(eps) => export_param(eps, format!("{prefix}eps"), out),
            None => {
                let eps = HostTensor {
                    shape: vec![1],
                    values: vec![self.fixed_eps as f32],
                };
                out.insert(format!("{prefix}eps"), eps);
            }
        }
        export_linear(&self.nn0, &format!("{prefix}nn.0."), out);
        export_linear(&self.nn2, &format!("{prefix}nn.2."), out);
        if let Some(lin) = &self.lin {
            export_linear(lin, &format!("{prefix}lin."), out);
        }
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        match &mut self.eps {
            Some(eps) => import_param(eps, &format!("{prefix}eps"), src),
            None => {
                if let Some(t) = src.take_host(&format!("{prefix}eps"), &[1]) {
                    self.fixed_eps = f64::from(t.values[0]);
                }
            }
        }
        import_linear(&mut self.nn0, &format!("{prefix}nn.0."), src);
        import_linear(&mut self.nn2, &format!("{prefix}nn.2."), src);
        if let Some(lin) = &mut self.lin {
            import_linear(lin, &format!("{prefix}lin."), src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::{export_pyg, import_pyg};
    use crate::testing::*;

    /// Brute force: `MLP((1 + ε) x_i + Σ_j x_j)`.
    #[test]
    fn matches_the_formula_and_keeps_a_fixed_eps_through_pyg_names() {
        let d = Device::flex();
        let (src, dst) = ([0usize, 1, 2, 2], [1usize, 2, 1, 2]);
        let g = Graph::new(&src, &dst, 3, &d).unwrap();
        let x = seeded_values(3 * 2, 4);
        let layer = GinConvConfig::new(2, 3, 2).with_eps(0.25).init(&d);
        let out = to_vec(layer.forward(tensor2(&x, [3, 2], &d), &g).unwrap());
        let mut h = x.iter().map(|v| v * 1.25).collect::<Vec<f32>>();
        for e in 0..4 {
            for c in 0..2 {
                h[dst[e] * 2 + c] += x[src[e] * 2 + c];
            }
        }
        let mlp = |h: Vec<f32>| {
            let t = tensor2(&h, [3, 2], &d);
            to_vec(layer.nn2.forward(relu(layer.nn0.forward(t))))
        };
        assert_close(&out, &mlp(h), 1e-6, "gin");
        // eps is a buffer: exported, read back, never trained.
        let dict = export_pyg(&layer);
        assert_eq!(dict["eps"].values, vec![0.25]);
        let mut other = GinConvConfig::new(2, 3, 2).init(&d);
        import_pyg(&mut other, dict).unwrap();
        assert_eq!(other.fixed_eps, 0.25);
        assert!(other.eps.is_none());
    }

    /// Projecting first is the same function, on dense and sparse features, with a learned ε.
    #[test]
    fn a_wide_input_is_projected_before_the_sum() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2, 2, 3], &[1, 2, 1, 3, 0], 4, &d).unwrap();
        let mut x = seeded_values(4 * 6, 9);
        x.iter_mut().step_by(3).for_each(|v| *v = 0.0);
        let layer = GinConvConfig::new(6, 3, 2)
            .with_eps(0.5)
            .with_train_eps(true)
            .init(&d);
        let reference = to_vec(layer.forward(tensor2(&x, [4, 6], &d), &g).unwrap());
        for features in [
            Features::dense(&x, 4, 6, &d),
            Features::sparse(&x, 4, 6, &d),
        ] {
            let out = to_vec(layer.forward_features(features, &g).unwrap());
            assert_close(&out, &reference, 1e-5, "projected first");
        }
    }

    #[test]
    fn gine_needs_edge_features_of_its_width() {
        let d = Device::flex();
        let g = Graph::new(&[0], &[1], 2, &d).unwrap();
        let layer = GinConvConfig::new(2, 3, 2)
            .with_gine(true)
            .with_edge_dim(Some(4))
            .init(&d);
        let x = tensor2(&[1.0, 2.0, 3.0, 4.0], [2, 2], &d);
        assert!(matches!(
            layer.forward(x.clone(), &g),
            Err(GraphError::Missing { .. })
        ));
        let g = g.with_edge_attr(Tensor::zeros([1, 3], &d)).unwrap();
        assert!(matches!(
            layer.forward(x, &g),
            Err(GraphError::Width {
                expected: 4,
                got: 3,
                ..
            })
        ));
    }
}
