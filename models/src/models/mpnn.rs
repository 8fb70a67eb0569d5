//! The message-passing neural network of Gilmer et al. (2017): edge-network messages, a GRU
//! update shared over `T` steps, and a Set2Set readout — PyG's `examples/qm9_nn_conv.py`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::layers::{GruCell, GruCellConfig, NnConv, NnConvConfig, Set2Set, Set2SetConfig};
use crate::message_passing::Aggregation;
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
    /// Readout.
    pub set2set: Set2Set,
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
            set2set: Set2SetConfig::new(dim)
                .with_processing_steps(self.processing_steps)
                .init(device),
            lin1: LinearConfig::new(2 * dim, dim).init(device),
            lin2: LinearConfig::new(dim, self.d_output).init(device),
            mp_steps: self.mp_steps,
        }
    }
}

impl Mpnn {
    /// Node states after the message-passing steps, `[N, dim]`.
    pub fn node_states(&self, x: Features, graph: &Graph) -> Tensor<2> {
        let mut h = relu(x.linear(&self.lin0));
        for _ in 0..self.mp_steps {
            let m = relu(self.conv.forward(h.clone(), graph));
            h = self.gru.forward(m, h);
        }
        h
    }

    /// The Set2Set graph embeddings `[B, 2·dim]` of node states `h`.
    pub fn readout(&self, h: Tensor<2>, graph: &Graph) -> Tensor<2> {
        match graph.batch() {
            Some(b) => self.set2set.forward(h, &b.tensor, b.num_graphs),
            None => {
                let n = graph.num_nodes();
                let zeros =
                    Tensor::<1, Int>::from_data(TensorData::new(vec![0i64; n], [n]), &h.device());
                self.set2set.forward(h, &zeros, 1)
            }
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
