//! [`ModelSpec`]: the contract a model fulfils to be trained, saved, evaluated, exported,
//! imported and benchmarked by name — implemented in the model's own file.

use burn::tensor::Device;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::SpecError;
use super::fit_config::FitConfig;
use super::options::ModelOptions;
use crate::GraphModel;
use crate::interop::{PygParams, StateDict};

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Task {
    /// One output row per node of one graph (node classification).
    Node,
    /// One output row per graph of a mini-batch (graph classification or regression).
    Graph,
    /// Node embeddings `[N, D]` whose decoder scores node pairs or knowledge-graph triples
    /// (link prediction).
    Link,
}

impl Task {
    /// `node`, `graph` or `link`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Node => "node",
            Task::Graph => "graph",
            Task::Link => "link",
        }
    }
}

/// What a dataset offers a model: its task, widths and graph structure.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo {
    /// The dataset's name.
    pub name: String,
    /// Node-level (one graph), graph-level (many graphs) or link-level (node pairs or facts).
    pub task: Task,
    /// Input width `F`: the node features, or for a featureless node dataset the number of
    /// nodes (its input is the identity `I_N`, one learned embedding per node).
    pub num_features: usize,
    /// True when the nodes have no features.
    pub featureless: bool,
    /// Outputs per node or graph: classes, or regression targets (link tasks: 0, the model
    /// chooses its embedding width).
    pub num_outputs: usize,
    /// Relation types of the edges (0: an untyped graph). A knowledge graph's link task has
    /// `2R`: each of its `R` relations and the inverse `r + R`.
    pub num_relations: usize,
    /// Edge features per edge (0: none).
    pub edge_dim: usize,
}

/// A model's protocol on one dataset: the options and training settings of its paper (or of
/// the reference implementation it follows) for that dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Protocol<O> {
    /// The model's options.
    pub options: O,
    /// Optimiser and schedule.
    pub fit: FitConfig,
}

/// The contract of a model the library can train, save, evaluate, export, import and
/// benchmark by name. Implement it next to the model, register it with one line
/// ([`crate::models::builtin`], or [`Registry::with`](super::Registry::with) for a model
/// outside this crate), and every command and the bench serve it.
///
/// Three types describe a model: its [`Options`](Self::Options) (the hyperparameters a user
/// sets: `--hidden 16`), its [`Config`](Self::Config) (the architecture the options and a
/// dataset give, stored in model cards, from which the model is rebuilt), and the
/// [`Model`](Self::Model) itself.
pub trait ModelSpec: Send + Sync + 'static {
    /// The hyperparameters a user sets.
    type Options: ModelOptions;
    /// The architecture: everything needed to rebuild the model before its weights load.
    type Config: Serialize + DeserializeOwned + Clone + std::fmt::Debug;
    /// The model.
    type Model: GraphModel + PygParams;

    /// Its name on the command line and in model cards (`gcn`).
    fn name(&self) -> &'static str;

    /// One line: what the model is, with its reference.
    fn about(&self) -> &'static str;

    /// Node-level or graph-level: the task it is listed under.
    fn task(&self) -> Task;

    /// Whether it can be trained on datasets of `task` (its own by default; a model that
    /// serves both builds its architecture from [`DataInfo::task`]).
    fn supports(&self, task: Task) -> bool {
        task == self.task()
    }

    /// The paper protocol on `dataset` (lower-case name; `""` for the general defaults).
    fn protocol(&self, dataset: &str) -> Protocol<Self::Options>;

    /// The architecture for a dataset: errors name the option at fault (`--heads`) or what
    /// the data lacks.
    fn config(&self, options: &Self::Options, data: &DataInfo) -> Result<Self::Config, SpecError>;

    /// Input and output widths `(F, C)` of an architecture.
    fn widths(&self, config: &Self::Config) -> (usize, usize);

    /// Checks an architecture (perhaps read from a file) before anything is allocated for it:
    /// every width at least 1, at most [`MAX_PARAMETERS`](super::MAX_PARAMETERS) parameters,
    /// at most [`MAX_STEPS`](super::MAX_STEPS) steps (see [`super::bound`] for helpers).
    fn validate(&self, config: &Self::Config) -> Result<(), SpecError>;

    /// The architecture of a PyTorch Geometric `state_dict` of this model, read off its
    /// tensor names and shapes ([`super::dims`]).
    fn infer(&self, dict: &StateDict) -> Result<Self::Config, SpecError>;

    /// A freshly initialised model on `device` (the registry validates `config` first).
    fn init(&self, config: &Self::Config, device: &Device) -> Result<Self::Model, SpecError>;

    /// Whether the model has attention layers: its [trace](crate::trace) carries attention
    /// coefficients (`gnn train --dump-attention`).
    fn has_attention(&self) -> bool {
        false
    }

    /// The datasets `gnn-bench --full` measures this model on.
    fn bench_datasets(&self) -> &'static [&'static str] {
        &[]
    }

    /// The same model in PyTorch Geometric, for side-by-side benchmarks: a JSON description
    /// that `bench/pyg_bench.py` builds (see its docstring), or `None` without one.
    fn pyg_reference(&self, config: &Self::Config, fit: &FitConfig) -> Option<Value> {
        let _ = (config, fit);
        None
    }

    /// Fields added to the configuration after model cards were first written: fill what
    /// `config` (JSON) lacks with the values that rebuild the older models unchanged.
    fn upgrade_config(&self, config: &mut Map<String, Value>) {
        let _ = config;
    }
}
