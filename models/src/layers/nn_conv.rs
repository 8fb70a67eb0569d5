//! [`NnConv`]: edge-conditioned convolution (Gilmer et al. 2017; Simonovsky & Komodakis 2017),
//! with PyG's `NNConv` semantics.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::interop::{
    Import, PygParams, StateDict, export_bias, export_linear, import_bias, import_linear,
};
use crate::kernels;
use crate::message_passing::{Aggregation, aggregate, gather_src};
use crate::{Graph, GraphError};

/// Configuration of an [`NnConv`] layer.
#[derive(Config, Debug)]
pub struct NnConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Output features per node `F'`.
    pub d_output: usize,
    /// Edge features per edge `D`.
    pub edge_dim: usize,
    /// Hidden width of the edge network.
    #[config(default = 128)]
    pub edge_hidden: usize,
    /// Aggregation of the messages at each target (`Sum` is PyG's default `add`).
    #[config(default = "Aggregation::Sum")]
    pub aggr: Aggregation,
    /// Add the root term `x_i W_root`.
    #[config(default = true)]
    pub root_weight: bool,
    /// Learn an additive bias.
    #[config(default = true)]
    pub bias: bool,
}

/// Edge-conditioned convolution:
///
/// `W_e = reshape(nn(e_ji), [F, F'])`, `m_ji = x_j W_e`, `x'_i = ⊕_{j→i} m_ji + x_i W_root + b`,
///
/// with the edge network `nn = Linear(D, H) → ReLU → Linear(H, F·F')` (PyG's `nn.0`, `nn.2`)
/// and `⊕` sum, mean or max. Messages cost `O(E·F·F')` memory, as in PyG.
///
/// # Shapes
/// - input `x`: `[N, F]`; graph with edge features `[E, D]`; output: `[N, F']`
#[derive(Module, Debug)]
pub struct NnConv {
    /// First layer of the edge network, `D → H`.
    pub nn0: Linear,
    /// Second layer of the edge network, `H → F·F'`.
    pub nn2: Linear,
    /// Root weight `W_root`, `[F, F']`, without bias (PyG's `lin`).
    pub lin: Option<Linear>,
    /// The bias `b`.
    pub bias: Option<Param<Tensor<1>>>,
    #[module(skip)]
    aggr: Aggregation,
    d_input: usize,
    d_output: usize,
}

impl NnConvConfig {
    /// Builds the layer with PyTorch's default `Linear` initialisation and a zero bias.
    pub fn init(&self, device: &Device) -> NnConv {
        let (f, o) = (self.d_input, self.d_output);
        NnConv {
            nn0: LinearConfig::new(self.edge_dim, self.edge_hidden).init(device),
            nn2: LinearConfig::new(self.edge_hidden, f * o).init(device),
            lin: self
                .root_weight
                .then(|| LinearConfig::new(f, o).with_bias(false).init(device)),
            bias: self
                .bias
                .then(|| Param::from_tensor(Tensor::zeros([o], device))),
            aggr: self.aggr,
            d_input: f,
            d_output: o,
        }
    }
}

impl NnConv {
    /// Applies the layer. A graph without edge features of the edge network's input width is
    /// an error.
    pub fn forward(&self, x: Tensor<2>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let w = self.edge_weights(graph)?;
        Ok(self.forward_with_weights(x, graph, w))
    }

    /// The per-edge matrices of the edge network, `W_e = reshape(nn(e_ji), [F, F'])`:
    /// `[E, F, F']`. They depend only on the edge features, so a model that applies the layer
    /// several times to one graph (the MPNN's shared steps) computes them once. A graph
    /// without edge features of the edge network's input width is an error.
    pub fn edge_weights(&self, graph: &Graph) -> Result<Tensor<3>, GraphError> {
        let [edge_dim, _] = self.nn0.weight.val().dims();
        let edge_attr = graph.require_edge_attr("NNConv", edge_dim)?.clone();
        let e = graph.num_edges();
        Ok(self
            .nn2
            .forward(relu(self.nn0.forward(edge_attr)))
            .reshape([e, self.d_input, self.d_output]))
    }

    /// Applies the layer with edge matrices `w` `[E, F, F']` from [`NnConv::edge_weights`] of
    /// the same graph.
    pub fn forward_with_weights(&self, x: Tensor<2>, graph: &Graph, w: Tensor<3>) -> Tensor<2> {
        let (f, o) = (self.d_input, self.d_output);
        let e = graph.num_edges();
        let x_j = gather_src(x.clone(), graph).reshape([e, 1, f]);
        let messages = x_j.matmul(w).reshape([e, o]);
        let mut out = aggregate(messages, graph, self.aggr);
        if let Some(lin) = &self.lin {
            out = out + lin.forward(x);
        }
        kernels::plus_bias(out, self.bias.as_ref())
    }
}

impl PygParams for NnConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.nn0, &format!("{prefix}nn.0."), out);
        export_linear(&self.nn2, &format!("{prefix}nn.2."), out);
        if let Some(lin) = &self.lin {
            export_linear(lin, &format!("{prefix}lin."), out);
        }
        export_bias(&self.bias, prefix, out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.nn0, &format!("{prefix}nn.0."), src);
        import_linear(&mut self.nn2, &format!("{prefix}nn.2."), src);
        if let Some(lin) = &mut self.lin {
            import_linear(lin, &format!("{prefix}lin."), src);
        }
        import_bias(&mut self.bias, prefix, src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    /// Brute force: `x'_i = Σ_{j→i} x_j W(e_ji) + x_i W_root + b`.
    #[test]
    fn matches_per_edge_reference() {
        let d = Device::flex();
        let (src, dst) = ([0usize, 1, 2, 2], [1usize, 2, 1, 0]);
        let ea = seeded_values(4 * 2, 5);
        let g = Graph::new(&src, &dst, 3, &d)
            .unwrap()
            .with_edge_attr(tensor2(&ea, [4, 2], &d))
            .unwrap();
        let x = seeded_values(3 * 3, 6);
        let layer = NnConvConfig::new(3, 2, 2).with_edge_hidden(4).init(&d);
        let out = to_vec(layer.forward(tensor2(&x, [3, 3], &d), &g).unwrap());
        let w_all = to_vec(
            layer
                .nn2
                .forward(relu(layer.nn0.forward(tensor2(&ea, [4, 2], &d)))),
        );
        let root = to_vec(layer.lin.as_ref().unwrap().weight.val());
        let mut want = vec![0.0f32; 6];
        for i in 0..3 {
            for c in 0..2 {
                let mut v: f32 = (0..3).map(|k| x[i * 3 + k] * root[k * 2 + c]).sum();
                for e in (0..4).filter(|&e| dst[e] == i) {
                    v += (0..3)
                        .map(|k| x[src[e] * 3 + k] * w_all[e * 6 + k * 2 + c])
                        .sum::<f32>();
                }
                want[i * 2 + c] = v;
            }
        }
        assert_close(&out, &want, 1e-5, "nnconv");
        // Without edge features, or with features of another width: errors, not panics.
        let bare = Graph::new(&src, &dst, 3, &d).unwrap();
        let x = tensor2(&x, [3, 3], &d);
        assert!(matches!(
            layer.forward(x.clone(), &bare),
            Err(GraphError::Missing { .. })
        ));
        let wide = bare.with_edge_attr(Tensor::zeros([4, 5], &d)).unwrap();
        assert!(matches!(
            layer.forward(x, &wide),
            Err(GraphError::Width {
                expected: 2,
                got: 5,
                ..
            })
        ));
    }
}
