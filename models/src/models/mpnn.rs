//! The message-passing neural network of Gilmer et al. (2017): edge-network messages, a GRU
//! update shared over `T` steps, and a Set2Set readout — PyG's `examples/qm9_nn_conv.py`.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use serde_json::{Map, Value, json};

use crate::interop::{Import, PygParams, StateDict, export_linear, import_linear};
use crate::kernels;
use crate::layers::{GruCell, GruCellConfig, NnConv, NnConvConfig, Set2Set, Set2SetConfig};
use crate::message_passing::{Aggregation, global_add_pool};
use crate::registry::bound::{Count, check_parameters, check_steps, check_widths};
use crate::registry::{
    DataInfo, FitConfig, ModelSpec, Protocol, SpecError, Task, at_least_one, dims, probability,
};
use crate::{Features, Graph, GraphError, GraphModel};

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
    /// Dropout probability on the hidden layer of the output MLP (PyG's GIN example: 0.5;
    /// training only).
    #[config(default = 0.0)]
    pub dropout: f64,
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
    /// Jumping-knowledge sum (Xu et al. 2018; GIN's readout): the sums of the states after the
    /// input layer and after every step, concatenated, `[Σ h⁰ ‖ Σ h¹ ‖ … ‖ Σ hᵀ]`,
    /// `[B, (T+1)·dim]`. The output layer then sees the graph at every radius, down to counts
    /// of the input labels.
    #[serde(alias = "jk-sum")]
    JkSum,
}

impl Readout {
    /// Width of the graph embedding for node states of width `dim` after `steps` steps.
    pub fn width(self, dim: usize, steps: usize) -> usize {
        match self {
            Readout::Set2Set => 2 * dim,
            Readout::Sum => dim,
            Readout::JkSum => (steps + 1) * dim,
        }
    }
}

impl std::str::FromStr for Readout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "set2set" => Ok(Readout::Set2Set),
            "sum" => Ok(Readout::Sum),
            "jk-sum" => Ok(Readout::JkSum),
            _ => Err(format!("unknown readout '{s}' (set2set, sum, jk-sum)")),
        }
    }
}

/// The MPNN:
///
/// `h = relu(lin0(x))`; `T` times: `m = relu(conv(h, e))`, `h = GRU(m, h)`;
/// `g = Set2Set(h)`; `out = lin2(dropout(relu(lin1(g))))`.
///
/// Parameters have PyG's names: `lin0`, `conv` ([`NnConv`], `dim → dim`), `gru`, `set2set`,
/// `lin1 (2·dim → dim)`, `lin2 (dim → outputs)`. With a [`Readout::Sum`] or
/// [`Readout::JkSum`] readout there is no `set2set` and `lin1` takes `dim` or `(T+1)·dim`.
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
    /// Dropout before `lin2` (active only on an autodiff device).
    pub dropout: Dropout,
    mp_steps: usize,
    #[module(skip)]
    readout: Readout,
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
            lin1: LinearConfig::new(self.readout.width(dim, self.mp_steps), dim).init(device),
            lin2: LinearConfig::new(dim, self.d_output).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            mp_steps: self.mp_steps,
            readout: self.readout,
        }
    }
}

impl Mpnn {
    /// Node states after the message-passing steps, `[N, dim]`. The edge network's matrices
    /// depend only on the edge features, so they are computed once and shared by the `T` steps
    /// (PyG's example recomputes them each step; the result is the same).
    pub fn node_states(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        self.run_steps(x, graph, |_| {})
    }

    /// The node states after the input layer and after each step, `T+1` tensors `[N, dim]`.
    pub fn step_states(&self, x: Features, graph: &Graph) -> Result<Vec<Tensor<2>>, GraphError> {
        let mut states = Vec::with_capacity(self.mp_steps + 1);
        let last = self.run_steps(x, graph, |h| states.push(h.clone()))?;
        states.push(last);
        Ok(states)
    }

    /// The input layer and the `T` steps; `before_step` sees the states each step starts from.
    fn run_steps(
        &self,
        x: Features,
        graph: &Graph,
        mut before_step: impl FnMut(&Tensor<2>),
    ) -> Result<Tensor<2>, GraphError> {
        let mut h = relu(x.linear(&self.lin0));
        let w = self.conv.edge_weights(graph)?;
        for _ in 0..self.mp_steps {
            before_step(&h);
            let m = relu(self.conv.forward_with_weights(h.clone(), graph, w.clone()));
            h = self.gru.forward(m, h);
        }
        Ok(h)
    }

    /// The graph embeddings of the last node states `h`: Set2Set `[B, 2·dim]`, or sums
    /// `[B, dim]` (for [`Readout::JkSum`], the sums of `h` alone; see [`Mpnn::embed`]).
    pub fn readout(&self, h: Tensor<2>, graph: &Graph) -> Tensor<2> {
        let (batch, b) = batch_of(graph, &h.device());
        match &self.set2set {
            Some(s2s) => s2s.forward(h, &batch, b),
            None => global_add_pool(h, &batch, b),
        }
    }

    /// One embedding per graph, `[B, readout width]`.
    pub fn embed(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        if self.readout != Readout::JkSum {
            return Ok(self.readout(self.node_states(x, graph)?, graph));
        }
        let states = self.step_states(x, graph)?;
        let (batch, b) = batch_of(graph, &graph.device());
        let sums = states
            .into_iter()
            .map(|h| global_add_pool(h, &batch, b))
            .collect();
        Ok(Tensor::cat(sums, 1))
    }

    /// Applies the model: one output row per graph. A graph without edge features of the edge
    /// network's width is an error.
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let g = self.embed(x.into(), graph)?;
        Ok(self
            .lin2
            .forward(kernels::dropout(&self.dropout, relu(self.lin1.forward(g)))))
    }
}

/// The batch vector `[N]` of `graph` and its number of graphs (one graph when it has none).
fn batch_of(graph: &Graph, device: &Device) -> (Tensor<1, Int>, usize) {
    match graph.batch() {
        Some(b) => (b.tensor.clone(), b.num_graphs),
        None => {
            let n = graph.num_nodes();
            let zeros = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64; n], [n]), device);
            (zeros, 1)
        }
    }
}

impl GraphModel for Mpnn {
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Mpnn::forward(self, x, graph)
    }
}

impl PygParams for Mpnn {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.lin0, &format!("{prefix}lin0."), out);
        self.conv.export_pyg(&format!("{prefix}conv."), out);
        self.gru.export_pyg(&format!("{prefix}gru."), out);
        if let Some(s) = &self.set2set {
            s.export_pyg(&format!("{prefix}set2set."), out);
        }
        export_linear(&self.lin1, &format!("{prefix}lin1."), out);
        export_linear(&self.lin2, &format!("{prefix}lin2."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.lin0, &format!("{prefix}lin0."), src);
        self.conv.import_pyg(&format!("{prefix}conv."), src);
        self.gru.import_pyg(&format!("{prefix}gru."), src);
        if let Some(s) = &mut self.set2set {
            s.import_pyg(&format!("{prefix}set2set."), src);
        }
        import_linear(&mut self.lin1, &format!("{prefix}lin1."), src);
        import_linear(&mut self.lin2, &format!("{prefix}lin2."), src);
    }
}

crate::model_options! {
    /// The options of [`Mpnn`] (`gnn train --model mpnn`).
    pub struct MpnnOptions {
        /// Hidden node state width (`dim`).
        pub hidden: usize = 64,
        /// Hidden width of the edge network (`none`: twice the state width, as PyG's example).
        pub edge_hidden: Option<usize> = None,
        /// Message-passing steps `T` (shared weights).
        pub mp_steps: usize = 3,
        /// Set2Set attention rounds.
        pub processing_steps: usize = 3,
        /// Aggregation of the messages: sum, mean or max.
        pub aggr: Aggregation = Aggregation::Mean,
        /// Graph readout: set2set, sum, or jk-sum (the sums after every step, concatenated).
        pub readout: Readout = Readout::Set2Set,
        /// Dropout probability before the last layer.
        pub dropout: f64 = 0.0,
    }
}

/// [`Mpnn`] in the registry as `mpnn`, with PyG's `examples/qm9_nn_conv.py` protocol (width
/// 64, Adam lr 0.001, 100 epochs, best validation epoch).
#[derive(Debug, Clone, Copy)]
pub struct MpnnSpec;

impl ModelSpec for MpnnSpec {
    type Options = MpnnOptions;
    type Config = MpnnConfig;
    type Model = Mpnn;

    fn name(&self) -> &'static str {
        "mpnn"
    }

    fn about(&self) -> &'static str {
        "message-passing neural network: edge network, GRU, Set2Set (Gilmer et al. 2017)"
    }

    fn task(&self) -> Task {
        Task::Graph
    }

    fn protocol(&self, _dataset: &str) -> Protocol<MpnnOptions> {
        Protocol {
            options: MpnnOptions::default(),
            fit: FitConfig {
                epochs: 100,
                lr: 0.001,
                weight_decay: 0.0,
                ..FitConfig::default()
            },
        }
    }

    fn config(&self, o: &MpnnOptions, data: &DataInfo) -> Result<MpnnConfig, SpecError> {
        at_least_one("hidden", o.hidden)?;
        at_least_one("edge_hidden", o.edge_hidden.unwrap_or(1))?;
        at_least_one("mp_steps", o.mp_steps)?;
        at_least_one("processing_steps", o.processing_steps)?;
        probability("dropout", o.dropout)?;
        Ok(
            MpnnConfig::new(data.num_features, data.num_outputs, data.edge_dim.max(1))
                .with_dim(o.hidden)
                .with_edge_hidden(o.edge_hidden.unwrap_or(2 * o.hidden))
                .with_mp_steps(o.mp_steps)
                .with_processing_steps(o.processing_steps)
                .with_aggr(o.aggr)
                .with_readout(o.readout)
                .with_dropout(o.dropout),
        )
    }

    fn widths(&self, c: &MpnnConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &MpnnConfig) -> Result<(), SpecError> {
        check_widths(
            self.name(),
            &[
                ("d_input", c.d_input),
                ("d_output", c.d_output),
                ("edge_dim", c.edge_dim),
                ("dim", c.dim),
                ("edge_hidden", c.edge_hidden),
                ("mp_steps", c.mp_steps),
                ("processing_steps", c.processing_steps),
            ],
        )?;
        check_steps(self.name(), "message-passing steps", c.mp_steps)?;
        check_steps(self.name(), "readout steps", c.processing_steps)?;
        if !(0.0..1.0).contains(&c.dropout) {
            return Err(SpecError::architecture(
                self.name(),
                format!("dropout must be in [0, 1), got {}", c.dropout),
            ));
        }
        let dim = Count::of(c.dim);
        let bound = (Count::of(c.d_input) + 1) * c.dim
            + (Count::of(c.edge_dim) + 1) * c.edge_hidden
            + (Count::of(c.edge_hidden) + 1) * c.dim * c.dim
            // Root weight, GRU and Set2Set's LSTM: under 30·dim² + 30·dim.
            + (dim + 1) * c.dim * 30
            // lin1: at most (T+1)·dim inputs (the jumping-knowledge readout).
            + (Count::of(c.mp_steps) + 2) * c.dim * (dim + 1)
            + (dim + 1) * c.d_output;
        check_parameters(self.name(), bound)
    }

    fn infer(&self, dict: &StateDict) -> Result<MpnnConfig, SpecError> {
        // Steps and Set2Set rounds are not in the shapes: PyG's example's 3 and 3.
        let [dim, f] = dims(dict, self.name(), "lin0.weight")?;
        let [hidden, d] = dims(dict, self.name(), "conv.nn.0.weight")?;
        let [c, _] = dims(dict, self.name(), "lin2.weight")?;
        let [_, embedding] = dims(dict, self.name(), "lin1.weight")?;
        // The readout is read off lin1's input width: 2·dim after Set2Set, dim after a sum,
        // (T+1)·dim after a jumping-knowledge sum.
        let readout = if dict.contains_key("set2set.lstm.weight_ih_l0") {
            Readout::Set2Set
        } else if embedding == dim {
            Readout::Sum
        } else {
            Readout::JkSum
        };
        let mut config = MpnnConfig::new(f, c, d)
            .with_dim(dim)
            .with_edge_hidden(hidden)
            .with_readout(readout);
        if readout == Readout::JkSum {
            if dim == 0 || embedding % dim != 0 || embedding / dim < 2 {
                return Err(SpecError::StateDict(format!(
                    "'lin1.weight' takes {embedding} inputs: not dim ({dim}), 2·dim (Set2Set) or (T+1)·dim (jk-sum)"
                )));
            }
            config = config.with_mp_steps(embedding / dim - 1);
        }
        Ok(config)
    }

    fn init(&self, c: &MpnnConfig, device: &Device) -> Result<Mpnn, SpecError> {
        Ok(c.init(device))
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["tu-mutag", "qm9"]
    }

    /// PyG's `examples/qm9_nn_conv.py` model, when the architecture is that example's.
    fn pyg_reference(&self, c: &MpnnConfig, fit: &FitConfig) -> Option<Value> {
        let example = c.aggr == Aggregation::Mean
            && c.readout == Readout::Set2Set
            && c.mp_steps == 3
            && c.processing_steps == 3
            && c.edge_hidden == 2 * c.dim
            && c.dropout == 0.0;
        example.then(|| json!({"builder": "edge-conditioned", "dim": c.dim, "lr": fit.lr}))
    }

    /// Cards written before `readout` and `dropout` existed: Set2Set and no dropout.
    fn upgrade_config(&self, config: &mut Map<String, Value>) {
        config.entry("readout").or_insert_with(|| json!("set2set"));
        config.entry("dropout").or_insert_with(|| json!(0.0));
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
            assert_eq!(m.forward(x.clone(), &g).unwrap().dims(), [2, 2]);
            if readout == Readout::Sum {
                let h = to_vec(m.node_states(x.clone().into(), &g).unwrap());
                let pooled = to_vec(m.readout(m.node_states(x.clone().into(), &g).unwrap(), &g));
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
    fn jk_sum_concatenates_the_sums_after_every_step() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 3, 4], &[1, 0, 4, 2], 5, &d)
            .unwrap()
            .with_edge_attr(tensor2(&seeded_values(4 * 2, 3), [4, 2], &d))
            .unwrap()
            .with_batch(&[0, 0, 1, 1, 1], 2)
            .unwrap();
        let x = tensor2(&seeded_values(5 * 3, 4), [5, 3], &d);
        let m = MpnnConfig::new(3, 2, 2)
            .with_dim(4)
            .with_edge_hidden(5)
            .with_mp_steps(2)
            .with_readout(Readout::JkSum)
            .init(&d);
        let states: Vec<Vec<f32>> = m
            .step_states(x.clone().into(), &g)
            .unwrap()
            .into_iter()
            .map(to_vec)
            .collect();
        assert_eq!(states.len(), 3);
        assert_ne!(states[0], states[2], "the steps change the states");
        assert_eq!(
            to_vec(m.node_states(x.clone().into(), &g).unwrap()),
            states[2],
            "node_states is the last step"
        );
        let embedding = to_vec(m.embed(x.clone().into(), &g).unwrap());
        assert_eq!(embedding.len(), 2 * 3 * 4);
        let graphs = [0..2, 2..5];
        for (b, nodes) in graphs.iter().enumerate() {
            for (t, h) in states.iter().enumerate() {
                for c in 0..4 {
                    let sum: f32 = nodes.clone().map(|n| h[n * 4 + c]).sum();
                    let got = embedding[b * 12 + t * 4 + c];
                    assert!((got - sum).abs() < 1e-5, "graph {b} step {t} channel {c}");
                }
            }
        }
        assert_eq!(m.forward(x, &g).unwrap().dims(), [2, 2]);
    }

    #[test]
    fn dropout_is_active_only_when_training() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1], &[1, 0], 2, &d)
            .unwrap()
            .with_edge_attr(tensor2(&seeded_values(2, 5), [2, 1], &d))
            .unwrap();
        let x = tensor2(&seeded_values(2 * 3, 6), [2, 3], &d);
        // Init is unseeded, so the head's ReLU could leave every unit of a
        // narrow model at zero and make any mask invisible; 2 x 64 units
        // make that, and four equal masks, vanishingly unlikely.
        let config = MpnnConfig::new(3, 2, 1)
            .with_dim(64)
            .with_edge_hidden(5)
            .with_readout(Readout::Sum);
        let plain = config.init(&d);
        let dropped = config
            .clone()
            .with_dropout(0.9)
            .init(&d)
            .load_record(plain.clone().into_record());
        assert_eq!(
            to_vec(plain.forward(x.clone(), &g).unwrap()),
            to_vec(dropped.forward(x.clone(), &g).unwrap()),
            "no dropout at inference"
        );
        let trained = dropped.fork(&d.clone().autodiff());
        let outputs: Vec<Vec<f32>> = (0..4)
            .map(|_| to_vec(trained.forward(x.clone().autodiff(), &g).unwrap()))
            .collect();
        assert!(
            outputs.windows(2).any(|w| w[0] != w[1]),
            "dropout 0.9 draws a different mask per forward when training"
        );
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
        let out = to_vec(m.forward(x, &g).unwrap());
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|v| v.is_finite()));
    }
}
