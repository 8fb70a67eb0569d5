//! [`NnConv`]: edge-conditioned convolution (Gilmer et al. 2017; Simonovsky & Komodakis 2017),
//! with PyG's `NNConv` semantics.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::Graph;
use crate::message_passing::{Aggregation, aggregate, gather_src};

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
    /// Applies the layer.
    ///
    /// # Panics
    /// If the graph has no edge features.
    pub fn forward(&self, x: Tensor<2>, graph: &Graph) -> Tensor<2> {
        let w = self.edge_weights(graph);
        self.forward_with_weights(x, graph, w)
    }

    /// The per-edge matrices of the edge network, `W_e = reshape(nn(e_ji), [F, F'])`:
    /// `[E, F, F']`. They depend only on the edge features, so a model that applies the layer
    /// several times to one graph (the MPNN's shared steps) computes them once.
    ///
    /// # Panics
    /// If the graph has no edge features.
    pub fn edge_weights(&self, graph: &Graph) -> Tensor<3> {
        let edge_attr = graph
            .edge_attr()
            .expect("NnConv needs a graph with edge features")
            .clone();
        let e = graph.num_edges();
        self.nn2
            .forward(relu(self.nn0.forward(edge_attr)))
            .reshape([e, self.d_input, self.d_output])
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
        match &self.bias {
            Some(b) => out + b.val().unsqueeze_dim(0),
            None => out,
        }
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
        let out = to_vec(layer.forward(tensor2(&x, [3, 3], &d), &g));
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
    }
}
