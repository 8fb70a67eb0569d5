//! The message-passing neural network of Gilmer et al. (2017): edge-network messages, a GRU
//! update shared over `T` steps, and a Set2Set readout — PyG's `examples/qm9_nn_conv.py`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::layers::{GruCell, GruCellConfig, NnConv, NnConvConfig, Set2Set, Set2SetConfig};
use crate::message_passing::{Aggregation, global_add_pool};
use crate::{Features, Graph, GraphModel};

/// Configuration of an [`Mpnn`].
#[derive(Config, Debug)]
pub struct MpnnConfig {
    /// Node input features `F`.
    pub d_input: usize,
    /// Outputs per graph (classes, or regression targets).
    pub d_output: usize,
    /// Edge features `D`.
    pub edge_dim: usize,
    /// Hidden node state width.
    #[config(default = 64)]
    pub dim: usize,
    /// Hidden width of the edge network.
    #[config(default = 128)]
    pub edge_hidden: usize,
    /// Message-passing steps `T` (shared weights).
    #[config(default = 3)]
    pub mp_steps: usize,
    /// Set2Set attention rounds.
    #[config(default = 3)]
    pub processing_steps: usize,
    /// Aggregation of the messages.
    #[config(default = "Aggregation::Mean")]
    pub aggr: Aggregation,
    /// Graph readout: Set2Set (Gilmer et al.) or a plain sum over each graph's nodes.
    #[config(default = "Readout::Set2Set")]
    pub readout: Readout,
}

/// How an [`Mpnn`] turns node states into one vector per graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readout {
    /// Set2Set attention readout, `[B, 2·dim]` (Gilmer et al.; PyG's example).
    #[default]
    Set2Set,
    /// `Σ_{n ∈ b} h_n`, `[B, dim]` (PyG's `global_add_pool`): keeps the graph's size.
    Sum,
}

impl std::str::FromStr for Readout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "set2set" => Ok(Readout::Set2Set),
            "sum" => Ok(Readout::Sum),
            _ => Err(format!("unknown readout '{s}' (set2set, sum)")),
        }
    }
}

/// The MPNN:
///
/// `h = relu(lin0(x))`; `T` times: `m = relu(conv(h, e))`, `h = GRU(m, h)`;
/// `g = Set2Set(h)`; `out = lin2(relu(lin1(g)))`.
///
/// Parameters have PyG's names: `lin0`, `conv` ([`NnConv`], `dim → dim`), `gru`, `set2set`,
/// `lin1 (2·dim → dim)`, `lin2 (dim → outputs)`.
///
/// # Shapes
/// - `x`: `[N, F]`; graph with edge features `[E, D]` and a batch vector of `B` graphs (none:
///   one graph); output `[B, outputs]`
#[derive(Module, Debug)]
pub struct Mpnn {
    /// Input projection `F → dim`.
    pub lin0: Linear,
    /// Edge-conditioned convolution.
    pub conv: NnConv,
    /// Node update.
    pub gru: GruCell,
    /// Readout (absent for a sum readout).
    pub set2set: Option<Set2Set>,
    /// First output layer `2·dim → dim`.
    pub lin1: Linear,
    /// Second output layer `dim → outputs`.
    pub lin2: Linear,
    mp_steps: usize,
}

impl MpnnConfig {
    /// Builds the model (PyTorch's default initialisations).
    pub fn init(&self, device: &Device) -> Mpnn {
        let dim = self.dim;
        Mpnn {
            lin0: LinearConfig::new(self.d_input, dim).init(device),
            conv: NnConvConfig::new(dim, dim, self.edge_dim)
                .with_edge_hidden(self.edge_hidden)
                .with_aggr(self.aggr)
                .init(device),
            gru: GruCellConfig::new(dim, dim).init(device),
            set2set: (self.readout == Readout::Set2Set).then(|| {
                Set2SetConfig::new(dim)
                    .with_processing_steps(self.processing_steps)
                    .init(device)
            }),
            lin1: LinearConfig::new(
                if self.readout == Readout::Set2Set {
                    2 * dim
                } else {
                    dim
                },
                dim,
            )
            .init(device),
            lin2: LinearConfig::new(dim, self.d_output).init(device),
            mp_steps: self.mp_steps,
        }
    }
}

impl Mpnn {
    /// Node states after the message-passing steps, `[N, dim]`. The edge network's matrices
    /// depend only on the edge features, so they are computed once and shared by the `T` steps
    /// (PyG's example recomputes them each step; the result is the same).
    pub fn node_states(&self, x: Features, graph: &Graph) -> Tensor<2> {
        let mut h = relu(x.linear(&self.lin0));
        let w = self.conv.edge_weights(graph);
        for _ in 0..self.mp_steps {
            let m = relu(self.conv.forward_with_weights(h.clone(), graph, w.clone()));
            h = self.gru.forward(m, h);
        }
        h
    }

    /// The graph embeddings of node states `h`: Set2Set `[B, 2·dim]`, or sums `[B, dim]`.
    pub fn readout(&self, h: Tensor<2>, graph: &Graph) -> Tensor<2> {
        let (batch, b) = match graph.batch() {
            Some(b) => (b.tensor.clone(), b.num_graphs),
            None => {
                let n = graph.num_nodes();
                let zeros =
                    Tensor::<1, Int>::from_data(TensorData::new(vec![0i64; n], [n]), &h.device());
                (zeros, 1)
            }
        };
        match &self.set2set {
            Some(s2s) => s2s.forward(h, &batch, b),
            None => global_add_pool(h, &batch, b),
        }
    }

    /// Applies the model: one output row per graph.
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        let h = self.node_states(x.into(), graph);
        let g = self.readout(h, graph);
        self.lin2.forward(relu(self.lin1.forward(g)))
    }
}

impl GraphModel for Mpnn {
    fn forward(&self, x: Features, graph: &Graph) -> Tensor<2> {
        Mpnn::forward(self, x, graph)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn readouts_give_one_row_per_graph() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 3], &[1, 0, 4], 5, &d)
            .unwrap()
            .with_edge_attr(tensor2(&seeded_values(3 * 2, 1), [3, 2], &d))
            .unwrap()
            .with_batch(&[0, 0, 1, 1, 1], 2)
            .unwrap();
        let x = tensor2(&seeded_values(5 * 3, 2), [5, 3], &d);
        for readout in [Readout::Set2Set, Readout::Sum] {
            let m = MpnnConfig::new(3, 2, 2)
                .with_dim(4)
                .with_edge_hidden(5)
                .with_readout(readout)
                .init(&d);
            assert_eq!(m.forward(x.clone(), &g).dims(), [2, 2]);
            if readout == Readout::Sum {
                let h = to_vec(m.node_states(x.clone().into(), &g));
                let pooled = to_vec(m.readout(m.node_states(x.clone().into(), &g), &g));
                for c in 0..4 {
                    let first: f32 = (0..2).map(|n| h[n * 4 + c]).sum();
                    let second: f32 = (2..5).map(|n| h[n * 4 + c]).sum();
                    assert!((pooled[c] - first).abs() < 1e-5);
                    assert!((pooled[4 + c] - second).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn graphs_without_edges_are_read_out_from_their_nodes() {
        let d = Device::flex();
        let g = Graph::new(&[], &[], 3, &d)
            .unwrap()
            .with_edge_attr(Tensor::zeros([0, 2], &d))
            .unwrap()
            .with_batch(&[0, 1, 1], 2)
            .unwrap();
        let x = tensor2(&seeded_values(3 * 3, 2), [3, 3], &d);
        let m = MpnnConfig::new(3, 2, 2)
            .with_dim(4)
            .with_edge_hidden(5)
            .init(&d);
        let out = to_vec(m.forward(x, &g));
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|v| v.is_finite()));
    }
}
