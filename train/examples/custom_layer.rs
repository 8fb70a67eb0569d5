//! A layer and a model written outside the library, trained by the library's loop, saved as a
//! model directory and loaded back — with no change to the library: the model enters through
//! a `ModelSpec` and one registration (`Registry::builtin().with(GinNetSpec)`).
//!
//! `cargo run --release --example custom_layer` (Cora from `$GNN_DATA_DIR`, else downloaded;
//! the model directory goes to `runs/custom-gin`).

use std::path::Path;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use gnn_datasets::{DataRoot, planetoid};
use gnn_models::interop::{
    Import, PygParams, StateDict, export_linear, export_param, import_linear, import_param,
};
use gnn_models::message_passing::{Aggregation, EdgeInputs, MessagePassing};
use gnn_models::registry::bound::{Count, check_parameters, check_widths};
use gnn_models::registry::{
    DataInfo, FitConfig, ModelSpec, Protocol, Registry, SpecError, Task, at_least_one, dims,
    probability,
};
use gnn_models::{Features, Graph, GraphError, GraphModel, model_options};
use gnn_train::commands::{self, TrainOutcome, TrainRequest};
use gnn_train::saved::SavedModel;
use gnn_train::{Backend, TrainError};

/// A GIN-style layer (Xu et al. 2019): `x'_i = MLP((1 + ε) x_i + Σ_{j → i} x_j)`, with a
/// trainable `ε` and PyG's `GINConv` parameter names (`nn.0.*`, `nn.2.*`, `eps`).
///
/// # Shapes
/// - `x`: `[N, F]`; output `[N, F']`
#[derive(Module, Debug)]
pub struct GinLayer {
    /// First layer of the MLP, `F → H`.
    pub mlp0: Linear,
    /// Second layer of the MLP, `H → F'`.
    pub mlp2: Linear,
    /// `ε`, `[1]`.
    pub eps: Param<Tensor<1>>,
}

impl GinLayer {
    /// A layer `d_input → d_hidden → d_output`, `ε = 0`.
    pub fn new(d_input: usize, d_hidden: usize, d_output: usize, device: &Device) -> Self {
        GinLayer {
            mlp0: LinearConfig::new(d_input, d_hidden).init(device),
            mlp2: LinearConfig::new(d_hidden, d_output).init(device),
            eps: Initializer::Zeros.init([1], device),
        }
    }
}

/// The layer as a message, an aggregation and an update: the library's `propagate` does the
/// gathering and the scatter.
impl MessagePassing for GinLayer {
    type Aggr = Aggregation;

    fn aggregator(&self) -> Aggregation {
        Aggregation::Sum
    }

    fn message(&self, edges: &EdgeInputs<'_>) -> Result<Tensor<2>, GraphError> {
        Ok(edges.x_j())
    }

    fn update(&self, aggregated: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        let own = x * self.eps.val().add_scalar(1.0).unsqueeze_dim(0);
        self.mlp2.forward(relu(self.mlp0.forward(own + aggregated)))
    }
}

/// PyG's `GINConv(train_eps=True)` names, with the library's public helpers.
impl PygParams for GinLayer {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.mlp0, &format!("{prefix}nn.0."), out);
        export_linear(&self.mlp2, &format!("{prefix}nn.2."), out);
        export_param(&self.eps, format!("{prefix}eps"), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.mlp0, &format!("{prefix}nn.0."), src);
        import_linear(&mut self.mlp2, &format!("{prefix}nn.2."), src);
        import_param(&mut self.eps, &format!("{prefix}eps"), src);
    }
}

/// The architecture of a [`GinNet`].
#[derive(Config, Debug)]
pub struct GinNetConfig {
    /// Input features.
    pub d_input: usize,
    /// Classes.
    pub d_output: usize,
    /// Hidden width.
    #[config(default = 64)]
    pub d_hidden: usize,
    /// Dropout on the input and before the output layer.
    #[config(default = 0.5)]
    pub dropout: f64,
}

/// A node classifier around one GIN layer:
/// `out = lin_out(dropout(conv(relu(lin_in(dropout(x))))))`.
#[derive(Module, Debug)]
pub struct GinNet {
    /// Input projection (sparse inputs stay sparse here).
    pub lin_in: Linear,
    /// The GIN layer.
    pub conv: GinLayer,
    /// Output layer.
    pub lin_out: Linear,
    /// Dropout (training only).
    pub dropout: Dropout,
}

impl GraphModel for GinNet {
    fn forward(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let h = relu(x.dropout(&self.dropout).linear(&self.lin_in));
        let h = self.conv.propagate(h, graph)?;
        Ok(self.lin_out.forward(self.dropout.forward(relu(h))))
    }
}

impl PygParams for GinNet {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.lin_in, &format!("{prefix}lin_in."), out);
        self.conv.export_pyg(&format!("{prefix}conv."), out);
        export_linear(&self.lin_out, &format!("{prefix}lin_out."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.lin_in, &format!("{prefix}lin_in."), src);
        self.conv.import_pyg(&format!("{prefix}conv."), src);
        import_linear(&mut self.lin_out, &format!("{prefix}lin_out."), src);
    }
}

model_options! {
    /// The options of `custom-gin`.
    pub struct GinNetOptions {
        /// Hidden width.
        pub hidden: usize = 64,
        /// Dropout probability on the input and before the output layer.
        pub dropout: f64 = 0.5,
    }
}

/// The contract that puts [`GinNet`] in a registry as `custom-gin`.
pub struct GinNetSpec;

impl ModelSpec for GinNetSpec {
    type Options = GinNetOptions;
    type Config = GinNetConfig;
    type Model = GinNet;

    fn name(&self) -> &'static str {
        "custom-gin"
    }

    fn about(&self) -> &'static str {
        "a GIN layer defined outside the library (train/examples/custom_layer.rs)"
    }

    fn task(&self) -> Task {
        Task::Node
    }

    fn protocol(&self, _dataset: &str) -> Protocol<GinNetOptions> {
        Protocol {
            options: GinNetOptions::default(),
            fit: FitConfig {
                epochs: 200,
                lr: 0.01,
                weight_decay: 5e-4,
                ..FitConfig::default()
            },
        }
    }

    fn config(&self, o: &GinNetOptions, data: &DataInfo) -> Result<GinNetConfig, SpecError> {
        at_least_one("hidden", o.hidden)?;
        probability("dropout", o.dropout)?;
        Ok(GinNetConfig::new(data.num_features, data.num_outputs)
            .with_d_hidden(o.hidden)
            .with_dropout(o.dropout))
    }

    fn widths(&self, c: &GinNetConfig) -> (usize, usize) {
        (c.d_input, c.d_output)
    }

    fn validate(&self, c: &GinNetConfig) -> Result<(), SpecError> {
        let widths = [
            ("d_input", c.d_input),
            ("d_hidden", c.d_hidden),
            ("d_output", c.d_output),
        ];
        check_widths(self.name(), &widths)?;
        probability("dropout", c.dropout)?;
        let h = Count::of(c.d_hidden);
        check_parameters(
            self.name(),
            (Count::of(c.d_input) + 1) * c.d_hidden
                + (h + 1) * c.d_hidden * 2
                + 1
                + (h + 1) * c.d_output,
        )
    }

    fn infer(&self, dict: &StateDict) -> Result<GinNetConfig, SpecError> {
        let [h, f] = dims(dict, self.name(), "lin_in.weight")?;
        let [c, _] = dims(dict, self.name(), "lin_out.weight")?;
        Ok(GinNetConfig::new(f, c).with_d_hidden(h))
    }

    fn init(&self, c: &GinNetConfig, device: &Device) -> Result<GinNet, SpecError> {
        Ok(GinNet {
            lin_in: LinearConfig::new(c.d_input, c.d_hidden).init(device),
            conv: GinLayer::new(c.d_hidden, c.d_hidden, c.d_hidden, device),
            lin_out: LinearConfig::new(c.d_hidden, c.d_output).init(device),
            dropout: DropoutConfig::new(c.dropout).init(),
        })
    }
}

/// Trains `custom-gin` on Cora for `epochs` epochs with the library's loop, saves the model to
/// `dir`, loads it back through the same registry and scores it again: the training outcome,
/// and the reloaded model's metric per split.
pub fn train_save_reload(
    root: DataRoot,
    epochs: usize,
    dir: &Path,
) -> Result<(TrainOutcome, std::collections::BTreeMap<String, f64>), TrainError> {
    let registry = Registry::builtin().with(GinNetSpec);
    let mut request = TrainRequest::new(GinNetSpec.name(), "cora", root.clone());
    request.fit.epochs = Some(epochs);
    request.outputs.save = Some(dir.to_path_buf());
    let outcome = commands::train(&registry, &request, |_, _| {})?;

    let saved = SavedModel::load_with(&registry, dir, &Backend::Flex.device()?)?;
    let cora = planetoid::load("cora", &root)?;
    let reloaded = commands::eval(&saved, &cora, Backend::Flex)?;
    Ok((outcome, reloaded))
}

fn main() -> Result<(), TrainError> {
    let dir = Path::new("runs/custom-gin");
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| TrainError::Output {
            path: parent.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    let (outcome, reloaded) = train_save_reload(DataRoot::resolve(None), 200, dir)?;
    let run = &outcome.report.runs[0];
    println!(
        "custom-gin on cora: test accuracy {:.3} (best epoch {}); saved to {}",
        run.test_metric,
        run.best_epoch,
        dir.display()
    );
    println!("reloaded from its model directory: {reloaded:?}");
    Ok(())
}
