//! The GAT model of Veličković et al. (2018) for transductive node classification.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};
use serde_json::{Value, json};

use crate::interop::{Import, PygParams, StateDict};
use crate::kernels;
use crate::layers::{Attention, GatConv, GatConvConfig};
use crate::registry::bound::{Count, check_parameters, check_widths};
use crate::registry::{
    DataInfo, FitConfig, ModelSpec, Protocol, Selection, SpecError, Task, at_least_one, dims,
    probability,
};
use crate::{BipartiteGraph, Features, Graph, GraphError, GraphModel};

/// Configuration of the two-layer [`Gat`]. The defaults are the paper's Cora/CiteSeer model;
/// its PubMed model has `out_heads = 8` (averaged).
#[derive(Config, Debug)]
pub struct GatConfig {
    /// Input features per node.
    pub d_input: usize,
    /// Output classes.
    pub d_output: usize,
    /// Hidden features per head.
    #[config(default = 8)]
    pub d_hidden: usize,
    /// Heads of the first layer (concatenated).
    #[config(default = 8)]
    pub heads: usize,
    /// Heads of the output layer (averaged).
    #[config(default = 1)]
    pub out_heads: usize,
    /// Dropout on the input, the hidden features and the attention coefficients.
    #[config(default = 0.6)]
    pub dropout: f64,
}

/// Two GAT layers with ELU between them:
///
/// `out = conv2(dropout(elu(conv1(dropout(x)))))`, `conv1`: `H` heads of `C` concatenated,
/// `conv2`: `out_heads` heads averaged; attention dropout inside both layers.
///
/// # Shapes
/// - input `x`: `[N, F]`; output: `[N, classes]` (logits)
#[derive(Module, Debug)]
pub struct Gat {
    /// First layer `F → H·C`.
    pub conv1: GatConv,
    /// Output layer `H·C → classes`.
    pub conv2: GatConv,
    /// Dropout on features (training only).
    pub dropout: Dropout,
}

impl GatConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> Gat {
        Gat {
            conv1: GatConvConfig::new(self.d_input, self.d_hidden)
                .with_heads(self.heads)
                .with_dropout(self.dropout)
                .init(device),
            conv2: GatConvConfig::new(self.d_hidden * self.heads, self.d_output)
                .with_heads(self.out_heads)
                .with_concat(false)
                .with_dropout(self.dropout)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl Gat {
    /// Applies the model.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output: `[N, classes]`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        self.forward_with_attention(x, graph).0
    }

    /// Applies the model and returns the attention of both layers.
    pub fn forward_with_attention(
        &self,
        x: impl Into<Features>,
        graph: &Graph,
    ) -> (Tensor<2>, [Attention; 2]) {
        two_attention_layers(
            x.into(),
            &self.dropout,
            |x| self.conv1.forward_with_attention(x, graph),
            |h| self.conv2.forward_with_attention(h, graph),
        )
    }
}

/// The forward pass of the two-layer attention models (GAT, GATv2):
/// `conv2(dropout(elu(conv1(dropout(x)))))`, with both layers' attention.
pub(crate) fn two_attention_layers(
    x: Features,
    dropout: &Dropout,
    conv1: impl FnOnce(Features) -> (Tensor<2>, Attention),
    conv2: impl FnOnce(Tensor<2>) -> (Tensor<2>, Attention),
) -> (Tensor<2>, [Attention; 2]) {
    let (h, a1) = conv1(x.dropout(dropout));
    let (out, a2) = conv2(kernels::dropout(dropout, kernels::elu(h, 1.0)));
    (out, [a1, a2])
}

impl GraphModel for Gat {
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        Ok(Gat::forward(self, x, graph))
    }

    fn block_layers(&self) -> usize {
        2
    }

    // `conv2(dropout(elu(conv1(dropout(x)))))`, as `forward`, a layer at a time.
    fn forward_layer(
        &self,
        l: usize,
        x_src: Features,
        block: &BipartiteGraph,
    ) -> Result<Tensor<2>, GraphError> {
        let (conv, x_src) = match l {
            0 => (&self.conv1, x_src.dropout(&self.dropout)),
            1 => (&self.conv2, x_src),
            _ => {
                return Err(GraphError::Unsupported {
                    layer: "Gat",
                    what: "layer after its second",
                });
            }
        };
        let n_t = block.num_dst_nodes().min(x_src.dims()[0]);
        let x_dst = x_src.clone().head(n_t, &block.device());
        let (y, _) = conv.forward_bipartite(x_src, x_dst, block)?;
        Ok(match l {
            0 => kernels::dropout(&self.dropout, kernels::elu(y, 1.0)),
            _ => y,
        })
    }
}

crate::model_options! {
    /// The options of [`Gat`] (`gnn train --model gat`), shared by GATv2.
    pub struct GatOptions {
        /// Hidden features per head.
        pub hidden: usize = 8,
        /// Attention heads of the first layer (concatenated).
        pub heads: usize = 8,
        /// Attention heads of the output layer (averaged).
        pub out_heads: usize = 1,
        /// Dropout probability on the input, the hidden features and the attention
        /// coefficients.
        pub dropout: f64 = 0.6,
    }
}

impl GatOptions {
    /// The two-layer architecture these options give on `data`, checked.
    pub fn config(&self, data: &DataInfo) -> Result<GatConfig, SpecError> {
        at_least_one("hidden", self.hidden)?;
        at_least_one("heads", self.heads)?;
        at_least_one("out_heads", self.out_heads)?;
        probability("dropout", self.dropout)?;
        Ok(GatConfig::new(data.num_features, data.num_outputs)
            .with_d_hidden(self.hidden)
            .with_heads(self.heads)
            .with_out_heads(self.out_heads)
            .with_dropout(self.dropout))
    }
}

impl GatConfig {
    /// The widths every GAT-like architecture must have at least 1 of.
    pub fn check_widths(&self, model: &str) -> Result<(), SpecError> {
        check_widths(
            model,
            &[
                ("d_input", self.d_input),
                ("d_hidden", self.d_hidden),
                ("d_output", self.d_output),
                ("heads", self.heads),
                ("out_heads", self.out_heads),
            ],
        )?;
        probability("dropout", self.dropout)
    }

    /// The two layers of a GAT-like model as PyG reference convolutions of `class`, for the
    /// bench (`GATConv`, `GATv2Conv`).
    pub fn pyg_stack(&self, class: &str, fit: &FitConfig) -> Value {
        let hidden = self.d_hidden * self.heads;
        json!({
            "builder": "stack",
            "convs": [
                {"class": class, "args": [self.d_input, self.d_hidden],
                 "kwargs": {"heads": self.heads, "dropout": self.dropout}},
                {"class": class, "args": [hidden, self.d_output],
                 "kwargs": {"heads": self.out_heads, "concat": false, "dropout": self.dropout}},
            ],
            "activation": "elu",
            "dropout": self.dropout,
            "lr": fit.lr,
            "weight_decay": fit.weight_decay,
            "decay": "all",
        })
    }
}

/// The GAT paper's protocol, also GATv2's: up to 1000 epochs, Adam lr 0.005 with weight decay
/// 5e-4 on every parameter, the authors' early stopping (patience 100 on validation accuracy
/// and loss); on PubMed 8 output heads, lr 0.01, weight decay 1e-3.
pub fn gat_protocol(dataset: &str) -> Protocol<GatOptions> {
    let mut p = Protocol {
        options: GatOptions::default(),
        fit: FitConfig {
            epochs: 1000,
            lr: 0.005,
            weight_decay: 5e-4,
            patience: Some(100),
            selection: Selection::ValMetricAndLoss,
            ..FitConfig::default()
        },
    };
    if dataset == "pubmed" {
        p.options.out_heads = 8;
        p.fit.lr = 0.01;
        p.fit.weight_decay = 1e-3;
    }
    p
}

/// [`Gat`] in the registry as `gat`, with the GAT paper's protocol ([`gat_protocol`]).
#[derive(Debug, Clone, Copy)]
pub struct GatSpec;

impl ModelSpec for GatSpec {
    type Options = GatOptions;
    type Config = GatConfig;
    type Model = Gat;

    fn name(&self) -> &'static str {
        "gat"
    }

    fn about(&self) -> &'static str {
        "two-layer graph attention network (Veličković et al. 2018)"
    }

    fn task(&self) -> Task {
        Task::Node
    }

    fn protocol(&self, dataset: &str) -> Protocol<GatOptions> {
        gat_protocol(dataset)
    }

    fn config(&self, o: &GatOptions, data: &DataInfo) -> Result<GatConfig, SpecError> {
        o.config(data)
    }

    fn widths(&self, c: &GatConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &GatConfig) -> Result<(), SpecError> {
        c.check_widths(self.name())?;
        // Per layer: W, a_src, a_dst and the bias.
        let h = Count::of(c.d_hidden) * c.heads;
        let bound = (Count::of(c.d_input) + 3) * h + (h + 3) * c.d_output * c.out_heads;
        check_parameters(self.name(), bound)
    }

    fn infer(&self, dict: &StateDict) -> Result<GatConfig, SpecError> {
        let [_, heads, hidden] = dims(dict, self.name(), "conv1.att_src")?;
        let [_, f] = dims(dict, self.name(), "conv1.lin.weight")?;
        let [_, out_heads, c] = dims(dict, self.name(), "conv2.att_src")?;
        Ok(GatConfig::new(f, c)
            .with_d_hidden(hidden)
            .with_heads(heads)
            .with_out_heads(out_heads))
    }

    fn init(&self, c: &GatConfig, device: &Device) -> Result<Gat, SpecError> {
        Ok(c.init(device))
    }

    fn has_attention(&self) -> bool {
        true
    }

    fn bench_datasets(&self) -> &'static [&'static str] {
        &["cora", "citeseer"]
    }

    /// PyG's `examples/gat.py`.
    fn pyg_reference(&self, c: &GatConfig, fit: &FitConfig) -> Option<Value> {
        Some(c.pyg_stack("GATConv", fit))
    }
}

impl PygParams for Gat {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        self.conv1.export_pyg(&format!("{prefix}conv1."), out);
        self.conv2.export_pyg(&format!("{prefix}conv2."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        self.conv1.import_pyg(&format!("{prefix}conv1."), src);
        self.conv2.import_pyg(&format!("{prefix}conv2."), src);
    }
}
