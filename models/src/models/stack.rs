//! [`Stack`]: a configurable-depth GNN of any stackable layer — PyG's `BasicGNN` — predicting
//! per node, or per graph through a jumping-knowledge readout; and [`StackSpec`], which puts a
//! [`StackDef`] (a layer type, its options and its protocol) in the registry, for node and
//! graph datasets alike.
//!
//! A new depth-configurable model is a [`StackDef`]: which layer to build and how, its
//! options, its protocol — the rest (depth, width, activation, normalisation, dropout,
//! jumping knowledge, readout, the registry contract) is written here once.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig,
};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::interop::{
    HostTensor, Import, PygParams, StateDict, export_linear, export_param, import_linear,
    import_param,
};
use crate::kernels;
use crate::message_passing::{global_add_pool, global_mean_pool};
use crate::registry::bound::{Count, check_parameters, check_steps, check_widths};
use crate::registry::{
    DataInfo, FitConfig, ModelOptions, OptionDoc, Protocol, SpecError, Task, at_least_one, dims,
    probability,
};
use crate::{BipartiteGraph, Features, Graph, GraphError, GraphModel};

/// A layer a [`Stack`] stacks: one forward for every layer type.
pub trait StackLayer:
    Module + burn::module::ModuleDisplay + PygParams + std::fmt::Debug + 'static
{
    /// Applies the layer to node features `[N, F]` (the first layer may get sparse ones).
    fn forward_stacked(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError>;

    /// Whether the layer has a bipartite form ([`forward_block`](Self::forward_block)).
    const BIPARTITE: bool = false;

    /// Applies the layer from the sources of a block to its targets, for a layer with a
    /// bipartite form; an error (the default) when it has none.
    ///
    /// # Shapes
    /// - `x_src`: `[N_s, F]`, `x_dst`: `[N_t, F]` (its first rows); output `[N_t, F']`
    fn forward_block(
        &self,
        x_src: Features,
        x_dst: Features,
        block: &BipartiteGraph,
    ) -> Result<Tensor<2>, GraphError> {
        let _ = (x_src, x_dst, block);
        Err(GraphError::Unsupported {
            layer: "this layer",
            what: "bipartite form",
        })
    }
}

/// The non-linearity between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Act {
    /// `max(0, x)`.
    #[default]
    Relu,
    /// `x` for `x > 0`, `eˣ − 1` otherwise.
    Elu,
}

impl Act {
    fn apply(self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Act::Relu => relu(x),
            Act::Elu => kernels::elu(x, 1.0),
        }
    }
}

/// Jumping knowledge: what the output layer sees of the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jk {
    /// The last layer alone (node models: it is the output layer).
    #[default]
    Last,
    /// Every layer's output, concatenated, then a linear output layer.
    Cat,
    /// The element-wise maximum over layers, then a linear output layer.
    Max,
}

/// Normalisation after each hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// None.
    #[default]
    None,
    /// Batch normalisation over the nodes (`torch.nn.BatchNorm1d`, PyG's `BatchNorm`).
    Batch,
    /// Layer normalisation of each node's features (`torch.nn.LayerNorm`).
    Layer,
}

/// A graph's readout: how node states become one vector per graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    /// `Σ_{n ∈ b} h_n` (GIN's: it keeps the graph's size).
    #[default]
    Sum,
    /// `mean_{n ∈ b} h_n`.
    Mean,
}

/// The options every [`Stack`] has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StackCommon {
    /// Hidden features (per head for attention layers).
    pub hidden: usize,
    /// Layers.
    pub layers: usize,
    /// Dropout probability after each hidden layer (and in the graph head).
    pub dropout: f64,
    /// Dropout probability on the input features.
    pub input_dropout: f64,
    /// Non-linearity: relu or elu.
    pub act: Act,
    /// Jumping knowledge for node models: last, cat or max (graph models read out every layer).
    pub jk: Jk,
    /// Normalisation after each hidden layer: none, batch or layer.
    pub norm: NormKind,
    /// Graph models: readout of each layer, sum or mean.
    pub readout: Pool,
    /// Graph models: layers of the head after the readout (1: linear; 2: an MLP).
    pub head_layers: usize,
    /// Graph models: read out the input features too (`k = 0` of GIN's Eq. 4.2), before
    /// every layer's output.
    pub readout_input: bool,
    /// Weight decay on the first layer only (Kipf & Welling's protocol), else on all.
    pub decay_first: bool,
}

impl Default for StackCommon {
    fn default() -> Self {
        StackCommon {
            hidden: 64,
            layers: 2,
            dropout: 0.5,
            input_dropout: 0.0,
            act: Act::Relu,
            jk: Jk::Last,
            norm: NormKind::None,
            readout: Pool::Sum,
            head_layers: 2,
            readout_input: false,
            decay_first: false,
        }
    }
}

impl StackCommon {
    fn docs() -> Vec<OptionDoc> {
        let d = |name, doc: &str, ty| OptionDoc::new(name, &[doc], ty);
        vec![
            d(
                "hidden",
                "Hidden features (per head for attention layers).",
                "usize",
            ),
            d("layers", "Layers.", "usize"),
            d(
                "dropout",
                "Dropout probability after each hidden layer (and in a graph head).",
                "f64",
            ),
            d(
                "input_dropout",
                "Dropout probability on the input features.",
                "f64",
            ),
            d("act", "Non-linearity: relu or elu.", "Act"),
            d(
                "jk",
                "Jumping knowledge of node models: last, cat or max.",
                "Jk",
            ),
            d(
                "norm",
                "Normalisation after each hidden layer: none, batch or layer.",
                "NormKind",
            ),
            d(
                "readout",
                "Graph models: readout of every layer, sum or mean.",
                "Pool",
            ),
            d(
                "head_layers",
                "Graph models: layers of the head (1: linear, 2: an MLP).",
                "usize",
            ),
            d(
                "readout_input",
                "Graph models: read out the input features too, before every layer's output.",
                "bool",
            ),
            d(
                "decay_first",
                "Weight decay on the first layer only (else on all).",
                "bool",
            ),
        ]
    }
}

/// A [`Stack`]'s options: the common ones and its layer's, in one flat object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "L: Serialize", deserialize = "L: DeserializeOwned"))]
pub struct StackOptions<L> {
    /// Depth, width, regularisation, jumping knowledge, readout.
    #[serde(flatten)]
    pub common: StackCommon,
    /// The layer's own options.
    #[serde(flatten)]
    pub layer: L,
}

impl<L: ModelOptions> Default for StackOptions<L> {
    fn default() -> Self {
        StackOptions {
            common: StackCommon::default(),
            layer: L::default(),
        }
    }
}

impl<L: ModelOptions> ModelOptions for StackOptions<L> {
    fn docs() -> Vec<OptionDoc> {
        let mut docs = StackCommon::docs();
        docs.extend(L::docs());
        docs
    }
}

/// What a depth-configurable model says of itself: which layer it stacks and how to build it,
/// its options and its protocol. Registered as [`StackSpec`]`(def)`.
pub trait StackDef: Send + Sync + 'static {
    /// The layer.
    type Layer: StackLayer;
    /// The layer's own options (`--aggr`, `--heads`, `--k`, …).
    type Options: ModelOptions;

    /// Its name on the command line and in model cards.
    fn name(&self) -> &'static str;
    /// One line: what the model is, with its reference.
    fn about(&self) -> &'static str;
    /// The paper protocol on `dataset` (lower-case; `""` for the general defaults).
    fn protocol(&self, dataset: &str) -> Protocol<StackOptions<Self::Options>>;
    /// Layer `d_in → d_out`; `last` for the output layer of a node model.
    fn layer(
        &self,
        d_in: usize,
        d_out: usize,
        last: bool,
        options: &Self::Options,
        device: &Device,
    ) -> Result<Self::Layer, SpecError>;
    /// The width of a layer built for `d_out` (`H · d_out` for concatenated heads).
    fn width(&self, d_out: usize, last: bool, options: &Self::Options) -> usize {
        let _ = (last, options);
        d_out
    }
    /// An upper bound on a layer's parameters.
    fn parameters(&self, d_in: usize, d_out: usize, options: &Self::Options) -> Count;
    /// A layer's input width, output width (per head) and options, read off its tensors
    /// under `prefix` in a PyG state dict ([`dims`]).
    fn infer_layer(
        &self,
        dict: &crate::interop::StateDict,
        prefix: &str,
    ) -> Result<(usize, usize, Self::Options), SpecError>;
    /// The PyG convolution class and its keyword arguments (for the output layer of a node
    /// model when `last`), for the bench's PyG reference.
    fn pyg_conv(&self, options: &Self::Options, last: bool) -> Option<(&'static str, Value)> {
        let _ = (options, last);
        None
    }
    /// The datasets `gnn-bench --full` measures this model on.
    fn bench_datasets(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The architecture of a [`Stack`]: widths, task, the common options and the layer's.
#[derive(Config, Debug)]
pub struct StackConfig {
    /// Input features.
    pub d_input: usize,
    /// Outputs per node or graph.
    pub d_output: usize,
    /// One output row per node, or per graph.
    pub task: Task,
    /// Depth, width and the rest.
    pub common: StackCommon,
    /// The layer's options, as JSON.
    pub layer: Value,
}

/// A normalisation module after a hidden layer.
#[derive(Module, Debug)]
pub enum Norm {
    /// Batch normalisation over the nodes.
    Batch(BatchNorm),
    /// Layer normalisation per node.
    Layer(LayerNorm),
}

impl Norm {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Norm::Batch(bn) => bn.forward(x),
            Norm::Layer(ln) => ln.forward(x),
        }
    }
}

/// A stack of layers (PyG's `BasicGNN`): for each layer `conv → norm → act → dropout` (the
/// last layer of a node model without jumping knowledge is the output layer, bare). Node
/// models with jumping knowledge (cat, max) combine the layers' outputs and apply a linear
/// output layer `lin`. Graph models read out every layer's output per graph (sum or mean) —
/// with `readout_input`, the input features first —, concatenate them, and apply a head:
/// `lin` (one layer) or `head → act → dropout → lin`.
///
/// Parameters have PyG's `BasicGNN` names: `convs.l.*`, `norms.l.*`, `lin.*` (and `head.*`).
///
/// # Shapes
/// - `x`: `[N, F]`; output `[N, C]` (node task) or `[B, C]` (graph task: a batch vector)
/// - graph readout: `[B, L·H]`, with `readout_input` `[B, F + L·H]`
#[derive(Module, Debug)]
pub struct Stack<L: StackLayer> {
    /// The layers.
    pub convs: Vec<L>,
    /// The normalisations after the hidden layers.
    pub norms: Vec<Norm>,
    /// Graph models with a two-layer head: its first layer.
    pub head: Option<Linear>,
    /// The output layer after jumping knowledge or the readout.
    pub lin: Option<Linear>,
    /// Dropout after the hidden layers.
    pub dropout: Dropout,
    /// Dropout on the input.
    pub input_dropout: Dropout,
    #[module(skip)]
    act: Act,
    #[module(skip)]
    jk: Jk,
    #[module(skip)]
    task: Task,
    #[module(skip)]
    readout: Pool,
    #[module(skip)]
    readout_input: bool,
    #[module(skip)]
    decay_first: bool,
}

impl<L: StackLayer> Stack<L> {
    /// Whether layer `i` is followed by normalisation, activation and dropout.
    fn is_hidden(&self, i: usize) -> bool {
        i + 1 < self.convs.len() || self.jk != Jk::Last || self.task == Task::Graph
    }

    /// Every layer's output: after its normalisation, activation and dropout for a hidden
    /// layer, bare for a node model's output layer.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; each output `[N, width of the layer]`
    pub fn layer_outputs(&self, x: Features, graph: &Graph) -> Result<Vec<Tensor<2>>, GraphError> {
        let mut h = x.dropout(&self.input_dropout);
        let mut outs = Vec::with_capacity(self.convs.len());
        for (i, conv) in self.convs.iter().enumerate() {
            let y = self.after_layer(i, conv.forward_stacked(h, graph)?);
            outs.push(y.clone());
            h = Features::Dense(y);
        }
        Ok(outs)
    }

    /// Normalisation, activation and dropout after layer `i` when it is hidden.
    fn after_layer(&self, i: usize, mut y: Tensor<2>) -> Tensor<2> {
        if self.is_hidden(i) {
            if let Some(norm) = self.norms.get(i) {
                y = norm.forward(y);
            }
            y = kernels::dropout(&self.dropout, self.act.apply(y));
        }
        y
    }

    /// A node model's output from its layers' outputs (jumping knowledge, the output layer).
    fn node_output(&self, outs: Vec<Tensor<2>>) -> Result<Tensor<2>, GraphError> {
        let combined = match self.jk {
            Jk::Last => {
                return outs.last().cloned().ok_or(GraphError::Missing {
                    layer: "Stack",
                    part: "layers",
                });
            }
            Jk::Cat => Tensor::cat(outs, 1),
            Jk::Max => Tensor::stack::<3>(outs, 0).max_dim(0).squeeze_dim(0),
        };
        Ok(self.output(combined))
    }

    /// The output layer after jumping knowledge or the readout, where there is one.
    fn output(&self, combined: Tensor<2>) -> Tensor<2> {
        match &self.lin {
            Some(lin) => lin.forward(combined),
            None => combined,
        }
    }
}

impl<L: StackLayer> GraphModel for Stack<L> {
    fn weight_decay_group(&self) -> Option<burn::module::ParamGroup> {
        let first = self.convs.first().filter(|_| self.decay_first)?;
        Some(burn::module::ParamGroup::ids_from_module(first.clone()))
    }

    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let input = (self.task == Task::Graph && self.readout_input).then(|| x.clone());
        let outs = self.layer_outputs(x, graph)?;
        if self.task != Task::Graph {
            return self.node_output(outs);
        }
        let (batch, b) = batch_of(graph);
        let input = input.map(|x| x.to_dense(&graph.device()));
        let pooled = input
            .into_iter()
            .chain(outs)
            .map(|h| match self.readout {
                Pool::Sum => global_add_pool(h, &batch, b),
                Pool::Mean => global_mean_pool(h, &batch, b),
            })
            .collect();
        let g = Tensor::cat(pooled, 1);
        let g = match &self.head {
            Some(head) => kernels::dropout(&self.dropout, self.act.apply(head.forward(g))),
            None => g,
        };
        Ok(self.output(g))
    }

    fn block_layers(&self) -> usize {
        match self.task == Task::Node && L::BIPARTITE {
            true => self.convs.len(),
            false => 0,
        }
    }

    fn forward_layer(
        &self,
        l: usize,
        x_src: Features,
        block: &BipartiteGraph,
    ) -> Result<Tensor<2>, GraphError> {
        let conv = self.convs.get(l).ok_or(GraphError::Unsupported {
            layer: "Stack",
            what: "layer of that index",
        })?;
        let h = match l {
            0 => x_src.dropout(&self.input_dropout),
            _ => x_src,
        };
        let [rows, _] = h.dims();
        let n_t = block.num_dst_nodes().min(rows);
        block.check_rows("Stack", rows, n_t)?;
        let x_dst = h.clone().head(n_t, &block.device());
        Ok(self.after_layer(l, conv.forward_block(h, x_dst, block)?))
    }

    fn combine_layers(&self, outs: Vec<Tensor<2>>) -> Result<Tensor<2>, GraphError> {
        self.node_output(outs)
    }
}

/// The batch vector of a mini-batch of graphs (one graph when it has none).
fn batch_of(graph: &Graph) -> (Tensor<1, Int>, usize) {
    match graph.batch() {
        Some(b) => (b.tensor.clone(), b.num_graphs),
        None => {
            let n = graph.num_nodes();
            let zeros = TensorData::new(vec![0i64; n], [n]);
            (Tensor::from_data(zeros, &graph.device()), 1)
        }
    }
}

/// Adds a [`Norm`] under `prefix` with PyTorch's names (`weight`, `bias`, and batch norm's
/// `running_mean`, `running_var`, `num_batches_tracked`).
fn export_norm(norm: &Norm, prefix: &str, out: &mut StateDict) {
    match norm {
        Norm::Batch(bn) => {
            export_param(&bn.gamma, format!("{prefix}weight"), out);
            export_param(&bn.beta, format!("{prefix}bias"), out);
            let stats = [
                ("running_mean", &bn.running_mean),
                ("running_var", &bn.running_var),
            ];
            for (name, state) in stats {
                out.insert(
                    format!("{prefix}{name}"),
                    HostTensor::from_tensor(state.value()),
                );
            }
            let tracked = HostTensor {
                shape: vec![],
                values: vec![0.0],
            };
            out.insert(format!("{prefix}num_batches_tracked"), tracked);
        }
        Norm::Layer(ln) => {
            export_param(&ln.gamma, format!("{prefix}weight"), out);
            if let Some(b) = &ln.beta {
                export_param(b, format!("{prefix}bias"), out);
            }
        }
    }
}

fn import_norm(norm: &mut Norm, prefix: &str, src: &mut Import) {
    match norm {
        Norm::Batch(bn) => {
            import_param(&mut bn.gamma, &format!("{prefix}weight"), src);
            import_param(&mut bn.beta, &format!("{prefix}bias"), src);
            let device = bn.gamma.val().device();
            let [f] = bn.gamma.val().dims();
            for (name, state) in [
                ("running_mean", &mut bn.running_mean),
                ("running_var", &mut bn.running_var),
            ] {
                if let Some(t) = src.take(&format!("{prefix}{name}"), &[f], [f], &device) {
                    *state = burn::module::RunningState::new(t);
                }
            }
            src.take_host(&format!("{prefix}num_batches_tracked"), &[]);
        }
        Norm::Layer(ln) => {
            import_param(&mut ln.gamma, &format!("{prefix}weight"), src);
            if let Some(b) = &mut ln.beta {
                import_param(b, &format!("{prefix}bias"), src);
            }
        }
    }
}

impl<L: StackLayer> PygParams for Stack<L> {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        for (i, conv) in self.convs.iter().enumerate() {
            conv.export_pyg(&format!("{prefix}convs.{i}."), out);
        }
        for (i, norm) in self.norms.iter().enumerate() {
            export_norm(norm, &format!("{prefix}norms.{i}."), out);
        }
        if let Some(head) = &self.head {
            export_linear(head, &format!("{prefix}head."), out);
        }
        if let Some(lin) = &self.lin {
            export_linear(lin, &format!("{prefix}lin."), out);
        }
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        for (i, conv) in self.convs.iter_mut().enumerate() {
            conv.import_pyg(&format!("{prefix}convs.{i}."), src);
        }
        for (i, norm) in self.norms.iter_mut().enumerate() {
            import_norm(norm, &format!("{prefix}norms.{i}."), src);
        }
        if let Some(head) = &mut self.head {
            import_linear(head, &format!("{prefix}head."), src);
        }
        if let Some(lin) = &mut self.lin {
            import_linear(lin, &format!("{prefix}lin."), src);
        }
    }
}

/// A [`StackDef`] in the registry: its name, node models on node datasets and graph
/// classifiers (or regressors) on graph datasets.
#[derive(Debug, Clone, Copy)]
pub struct StackSpec<D>(pub D);

impl<D: StackDef> StackSpec<D> {
    /// The layer options of an architecture.
    fn layer_options(&self, c: &StackConfig) -> Result<D::Options, SpecError> {
        serde_json::from_value(c.layer.clone())
            .map_err(|e| SpecError::architecture(self.0.name(), format!("layer options: {e}")))
    }

    /// Every layer's input and output width, and whether it is the output layer.
    fn widths_of(&self, c: &StackConfig, o: &D::Options) -> Vec<(usize, usize, bool)> {
        let l = c.common.layers;
        let node_last = c.task == Task::Node && c.common.jk == Jk::Last;
        let mut d_in = c.d_input;
        (0..l)
            .map(|i| {
                let last = node_last && i + 1 == l;
                let d_out = if last { c.d_output } else { c.common.hidden };
                let w = (d_in, d_out, last);
                d_in = self.0.width(d_out, last, o);
                w
            })
            .collect()
    }

    /// The width the output layer or head reads: jumping knowledge or the readout.
    fn combined_width(&self, c: &StackConfig, o: &D::Options) -> usize {
        let h = self.0.width(c.common.hidden, false, o);
        match (c.task, c.common.jk) {
            (Task::Graph, _) if c.common.readout_input => c.d_input + c.common.layers * h,
            (Task::Graph, _) | (_, Jk::Cat) => c.common.layers * h,
            _ => h,
        }
    }
}

impl<D: StackDef> crate::registry::ModelSpec for StackSpec<D> {
    type Options = StackOptions<D::Options>;
    type Config = StackConfig;
    type Model = Stack<D::Layer>;

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn about(&self) -> &'static str {
        self.0.about()
    }

    fn task(&self) -> Task {
        Task::Node
    }

    fn supports(&self, task: Task) -> bool {
        matches!(task, Task::Node | Task::Graph)
    }

    fn protocol(&self, dataset: &str) -> Protocol<Self::Options> {
        self.0.protocol(dataset)
    }

    fn config(&self, o: &Self::Options, data: &DataInfo) -> Result<StackConfig, SpecError> {
        let c = &o.common;
        at_least_one("hidden", c.hidden)?;
        at_least_one("layers", c.layers)?;
        at_least_one("head_layers", c.head_layers)?;
        if c.head_layers > 2 {
            return Err(SpecError::option("head_layers", "must be 1 or 2"));
        }
        probability("dropout", c.dropout)?;
        probability("input_dropout", c.input_dropout)?;
        let layer = serde_json::to_value(&o.layer)
            .map_err(|e| SpecError::architecture(self.name(), e.to_string()))?;
        Ok(StackConfig::new(
            data.num_features,
            data.num_outputs,
            data.task,
            c.clone(),
            layer,
        ))
    }

    fn widths(&self, c: &StackConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &StackConfig) -> Result<(), SpecError> {
        let name = self.name();
        check_widths(
            name,
            &[
                ("d_input", c.d_input),
                ("d_output", c.d_output),
                ("hidden", c.common.hidden),
                ("layers", c.common.layers),
                ("head_layers", c.common.head_layers),
            ],
        )?;
        check_steps(name, "layers", c.common.layers)?;
        probability("dropout", c.common.dropout)?;
        probability("input_dropout", c.common.input_dropout)?;
        let o = self.layer_options(c)?;
        let mut bound: Count = self
            .widths_of(c, &o)
            .into_iter()
            .map(|(i, out, _)| self.0.parameters(i, out, &o) + Count::of(4) * out)
            .sum();
        let combined = Count::of(self.combined_width(c, &o));
        bound = bound
            + (combined + 1) * c.common.hidden
            + (Count::of(c.common.hidden) + 1) * c.d_output;
        bound = bound + (combined + 1) * c.d_output;
        check_parameters(name, bound)
    }

    /// Reads a `BasicGNN`-shaped state dict: the depth from `convs.l.*`, each layer's widths
    /// and options from its tensors ([`StackDef::infer_layer`]), the normalisation from
    /// `norms.0.*`, node jumping knowledge from `lin`'s input width, a graph model from
    /// `head.*`. A graph model with a one-layer head reads as a node model with `cat`: import
    /// it from a file `gnn export` wrote (its metadata holds the architecture).
    fn infer(&self, dict: &crate::interop::StateDict) -> Result<StackConfig, SpecError> {
        let name = self.name();
        let layers = (0..)
            .take_while(|l| dict.keys().any(|k| k.starts_with(&format!("convs.{l}."))))
            .count();
        if layers == 0 {
            return Err(SpecError::StateDict(format!(
                "no tensor 'convs.0.*', so this is not a {name} state dict"
            )));
        }
        let (d_input, hidden, layer) = self.0.infer_layer(dict, "convs.0.")?;
        let (_, last_out, _) = self
            .0
            .infer_layer(dict, &format!("convs.{}.", layers - 1))?;
        let mut common = self.0.protocol("").options.common;
        common.layers = layers;
        common.norm = if dict.contains_key("norms.0.running_mean") {
            NormKind::Batch
        } else if dict.contains_key("norms.0.weight") {
            NormKind::Layer
        } else {
            NormKind::None
        };
        let width = self.0.width(hidden, false, &layer);
        let (task, d_output) = if dict.contains_key("head.weight") {
            let [h, read] = dims(dict, name, "head.weight")?;
            let [c, _] = dims(dict, name, "lin.weight")?;
            common.head_layers = 2;
            common.hidden = h;
            common.readout_input = read == d_input + layers * width;
            (Task::Graph, c)
        } else if dict.contains_key("lin.weight") {
            let [c, w] = dims(dict, name, "lin.weight")?;
            common.hidden = hidden;
            common.jk = if w == width { Jk::Max } else { Jk::Cat };
            (Task::Node, c)
        } else {
            if layers > 1 {
                common.hidden = hidden;
            }
            common.jk = Jk::Last;
            (Task::Node, last_out)
        };
        let layer = serde_json::to_value(&layer)
            .map_err(|e| SpecError::architecture(name, e.to_string()))?;
        Ok(StackConfig::new(d_input, d_output, task, common, layer))
    }

    fn init(&self, c: &StackConfig, device: &Device) -> Result<Stack<D::Layer>, SpecError> {
        let o = self.layer_options(c)?;
        let convs = self
            .widths_of(c, &o)
            .into_iter()
            .map(|(i, out, last)| self.0.layer(i, out, last, &o, device))
            .collect::<Result<Vec<_>, _>>()?;
        let hidden_width = self.0.width(c.common.hidden, false, &o);
        let hidden_layers = (0..convs.len())
            .filter(|&i| i + 1 < convs.len() || c.common.jk != Jk::Last || c.task == Task::Graph)
            .count();
        let norms = (0..hidden_layers)
            .filter_map(|_| match c.common.norm {
                NormKind::None => None,
                NormKind::Batch => {
                    Some(Norm::Batch(BatchNormConfig::new(hidden_width).init(device)))
                }
                NormKind::Layer => {
                    Some(Norm::Layer(LayerNormConfig::new(hidden_width).init(device)))
                }
            })
            .collect();
        let combined = self.combined_width(c, &o);
        let (head, lin) = match (c.task, c.common.jk) {
            (Task::Graph, _) if c.common.head_layers == 2 => (
                Some(LinearConfig::new(combined, c.common.hidden).init(device)),
                Some(LinearConfig::new(c.common.hidden, c.d_output).init(device)),
            ),
            (Task::Graph, _) | (_, Jk::Cat | Jk::Max) => (
                None,
                Some(LinearConfig::new(combined, c.d_output).init(device)),
            ),
            _ => (None, None),
        };
        Ok(Stack {
            convs,
            norms,
            head,
            lin,
            dropout: DropoutConfig::new(c.common.dropout).init(),
            input_dropout: DropoutConfig::new(c.common.input_dropout).init(),
            act: c.common.act,
            jk: c.common.jk,
            task: c.task,
            readout: c.common.readout,
            readout_input: c.common.readout_input,
            decay_first: c.common.decay_first,
        })
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        self.0.bench_datasets()
    }

    fn pyg_reference(&self, c: &StackConfig, fit: &FitConfig) -> Option<Value> {
        if c.task != Task::Node {
            return None;
        }
        let o = self.layer_options(c).ok()?;
        let convs = self
            .widths_of(c, &o)
            .into_iter()
            .map(|(d_in, d_out, last)| {
                let (class, kwargs) = self.0.pyg_conv(&o, last)?;
                let width = self.0.width(d_out, last, &o);
                Some(
                    json!({"class": class, "args": [d_in, d_out], "kwargs": kwargs,
                            "width": width}),
                )
            })
            .collect::<Option<Vec<_>>>()?;
        Some(json!({
            "builder": "basic",
            "convs": convs,
            "out_channels": c.d_output,
            "dropout": c.common.dropout,
            "input_dropout": c.common.input_dropout,
            "act": c.common.act,
            "jk": c.common.jk,
            "norm": c.common.norm,
            "lr": fit.lr,
            "weight_decay": fit.weight_decay,
            "decay": if c.common.decay_first { "first" } else { "all" },
        }))
    }

    fn upgrade_config(&self, config: &mut Map<String, Value>) {
        let _ = config;
    }
}
