//! The R-GCN entity-classification model of Schlichtkrull et al. (2018).

use burn::config::Config;
use burn::module::{Module, ParamGroup};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::layers::{RgcnConv, RgcnConvConfig, RgcnNorm};
use crate::message_passing::Aggregation;
use crate::{Features, Graph, GraphModel};

/// Configuration of the two-layer [`Rgcn`].
#[derive(Config, Debug)]
pub struct RgcnConfig {
    /// Input features per node; the number of nodes for featureless input.
    pub d_input: usize,
    /// Output classes.
    pub d_output: usize,
    /// Number of relations.
    pub num_relations: usize,
    /// Hidden features.
    #[config(default = 16)]
    pub d_hidden: usize,
    /// Basis decomposition of both layers.
    #[config(default = "None")]
    pub num_bases: Option<usize>,
    /// Block-diagonal decomposition of both layers (needs input features, or an input
    /// projection).
    #[config(default = "None")]
    pub num_blocks: Option<usize>,
    /// Aggregation within each relation.
    #[config(default = "Aggregation::Mean")]
    pub aggr: Aggregation,
    /// What the mean divides by: per relation (PyG, the paper) or per node (DGL).
    #[config(default = "RgcnNorm::Relation")]
    pub norm: RgcnNorm,
    /// Model the self-connection as the R-GCN authors' code does: a self-loop relation `R`
    /// added to the graph, its weight part of the decomposition, no separate root weight and
    /// no bias (layers of `R + 1` relations). Otherwise (PyG's `RGCNConv`): a root weight `W_0`
    /// and a bias per layer.
    #[config(default = false)]
    pub self_loop_relation: bool,
    /// Dropout on the hidden features (training only; the paper uses none).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Project the input features to this width first. On the block-column features of a
    /// converted heterogeneous graph (`gnn_datasets::hetero`) this is a per-node-type input
    /// projection: each type's columns meet their own rows of the weight.
    #[config(default = "None")]
    pub input_projection: Option<usize>,
}

/// Two R-GCN layers with ReLU between them, optionally after a linear input projection:
///
/// `out = conv2(dropout(relu(conv1(x W_in))))`
///
/// # Shapes
/// - input `x`: `[N, F]` (or [`Features::Identity`]); graph with edge types; output `[N, C]`
#[derive(Module, Debug)]
pub struct Rgcn {
    /// Optional input projection `[F, P]`.
    pub lin_in: Option<Linear>,
    /// First layer.
    pub conv1: RgcnConv,
    /// Second layer.
    pub conv2: RgcnConv,
    /// Dropout on hidden features.
    pub dropout: Dropout,
    /// Whether the graph gets a self-loop relation (see [`RgcnConfig::self_loop_relation`]).
    #[module(skip)]
    self_loop_relation: bool,
}

impl RgcnConfig {
    /// The layer configurations, checked.
    pub fn layers(&self) -> Result<[RgcnConvConfig; 2], String> {
        let first_in = self.input_projection.unwrap_or(self.d_input);
        let relations = self.num_relations + usize::from(self.self_loop_relation);
        let layer = |fin, fout| {
            RgcnConvConfig::new(fin, fout, relations)
                .with_root_weight(!self.self_loop_relation)
                .with_bias(!self.self_loop_relation)
                .with_num_bases(self.num_bases)
                .with_num_blocks(self.num_blocks)
                .with_aggr(self.aggr)
                .with_norm(self.norm)
        };
        let layers = [
            layer(first_in, self.d_hidden),
            layer(self.d_hidden, self.d_output),
        ];
        for l in &layers {
            l.validate().map_err(|e| e.to_string())?;
        }
        Ok(layers)
    }

    /// Builds the model. Panics on settings [`layers`](Self::layers) rejects.
    pub fn init(&self, device: &Device) -> Rgcn {
        let [c1, c2] = self
            .layers()
            .unwrap_or_else(|e| panic!("invalid RgcnConfig: {e}"));
        Rgcn {
            lin_in: self.input_projection.map(|p| {
                LinearConfig::new(self.d_input, p)
                    .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                    .init(device)
            }),
            conv1: c1.init(device),
            conv2: c2.init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            self_loop_relation: self.self_loop_relation,
        }
    }
}

impl Rgcn {
    /// Applies the model.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output: `[N, C]`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        let x: Features = x.into();
        let x = match &self.lin_in {
            Some(lin) => Features::Dense(x.linear(lin)),
            None => x,
        };
        let graph = if self.self_loop_relation {
            // The authors' formulation: the self-connection is relation R.
            graph.memoized("rgcn(self-loop relation)", Graph::with_self_loop_relation)
        } else {
            graph.clone()
        };
        let h = self.dropout.forward(relu(self.conv1.forward(x, &graph)));
        self.conv2.forward(h, &graph)
    }
}

impl GraphModel for Rgcn {
    fn forward(&self, x: Features, graph: &Graph) -> Tensor<2> {
        Rgcn::forward(self, x, graph)
    }

    /// The paper's L2 penalty is on the first layer's weights (and the input projection).
    fn weight_decay_group(&self) -> Option<ParamGroup> {
        Some(ParamGroup::ids_from_module((
            self.lin_in.clone(),
            self.conv1.clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn self_loop_relation_is_relation_r_without_root_or_bias() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2], &[1, 2, 0], 3, &d)
            .unwrap()
            .with_edge_types(&[0, 1, 1], 2)
            .unwrap();
        let looped = g.with_self_loop_relation();
        assert_eq!(looped.num_relations(), 3);
        assert_eq!(looped.host_src(), &[0, 1, 2, 0, 1, 2]);
        assert_eq!(looped.host_dst(), &[1, 2, 0, 0, 1, 2]);
        assert_eq!(looped.host_edge_type().unwrap(), &[0, 1, 1, 2, 2, 2]);

        let model = RgcnConfig::new(3, 2, 2)
            .with_num_bases(Some(2))
            .with_self_loop_relation(true)
            .init(&d);
        assert!(model.conv1.root.is_none() && model.conv2.bias.is_none());
        let x = Features::Identity { num_nodes: 3 };
        let h = relu(model.conv1.forward(x.clone(), &looped));
        let want = to_vec(model.conv2.forward(h, &looped));
        assert_eq!(to_vec(model.forward(x, &g)), want);
    }
}
