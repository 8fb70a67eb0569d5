//! A model of any kind: its architecture ([`ModelConfig`]) and trained weights
//! ([`TrainedModel`]), with forward, native save/load and PyG export/import.

use std::path::Path;

use burn::tensor::{Device, Tensor};
use gnn_models::interop::{self, InteropError, StateDict};
use gnn_models::models::{
    Gat, GatConfig, Gcn, GcnConfig, Mpnn, MpnnConfig, Readout, Rgcn, RgcnConfig,
};
use gnn_models::{Features, Graph, GraphModel};
use serde::{Deserialize, Serialize};

use crate::data::TrainData;
use crate::experiment::ModelKind;
use crate::fit::{Scores, evaluate};

/// The most parameters a model read from a file may have (2^28, 1 GiB of `f32`).
pub const MAX_PARAMETERS: usize = 1 << 28;
/// The most message-passing or readout steps a model read from a file may take.
pub const MAX_STEPS: usize = 64;

/// The architecture of a model: everything needed to rebuild it before its weights are
/// loaded. Serialised into model cards as `{"kind": "gcn", ...the layer config}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    /// A two-layer GCN.
    Gcn(GcnConfig),
    /// A two-layer GAT.
    Gat(GatConfig),
    /// A two-layer R-GCN.
    Rgcn(RgcnConfig),
    /// An MPNN (graph-level).
    Mpnn(MpnnConfig),
}

impl ModelConfig {
    /// Which model.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelConfig::Gcn(_) => ModelKind::Gcn,
            ModelConfig::Gat(_) => ModelKind::Gat,
            ModelConfig::Rgcn(_) => ModelKind::Rgcn,
            ModelConfig::Mpnn(_) => ModelKind::Mpnn,
        }
    }

    /// An upper bound on the number of parameters, `None` if it overflows.
    pub fn parameter_bound(&self) -> Option<usize> {
        // Every sum and product checked: the widths may come from a hostile file.
        let m = |a: Option<usize>, b: Option<usize>| a?.checked_mul(b?);
        let p = |a: usize, k: usize| a.checked_add(k);
        let v = Some;
        let add =
            |xs: &[Option<usize>]| xs.iter().try_fold(0usize, |acc, x| acc.checked_add((*x)?));
        match self {
            ModelConfig::Gcn(c) => add(&[
                m(p(c.d_input, 1), v(c.d_hidden)),
                m(p(c.d_hidden, 1), v(c.d_output)),
            ]),
            ModelConfig::Gat(c) => {
                let h = m(v(c.d_hidden), v(c.heads));
                add(&[
                    m(p(c.d_input, 3), h),
                    m(m(h.and_then(|h| p(h, 3)), v(c.d_output)), v(c.out_heads)),
                ])
            }
            ModelConfig::Rgcn(c) => {
                let r = p(c.num_relations, 2);
                let input = c.input_projection.map_or(c.d_input, |x| x.max(1));
                add(&[
                    c.input_projection
                        .map_or(Some(0), |x| m(v(c.d_input), v(x))),
                    m(m(r, v(input)), v(c.d_hidden)),
                    m(m(r, v(c.d_hidden)), v(c.d_output)),
                    m(r, v(c.num_bases.unwrap_or(0))),
                ])
            }
            ModelConfig::Mpnn(c) => add(&[
                m(p(c.d_input, 1), v(c.dim)),
                m(p(c.edge_dim, 1), v(c.edge_hidden)),
                m(m(p(c.edge_hidden, 1), v(c.dim)), v(c.dim)),
                // Root weight, GRU and Set2Set's LSTM: under 30·dim² + 30·dim.
                m(m(p(c.dim, 1), v(c.dim)), v(30)),
                // lin1: at most (T+1)·dim inputs (the jumping-knowledge readout).
                m(m(p(c.mp_steps, 2), v(c.dim)), p(c.dim, 1)),
                m(p(c.dim, 1), v(c.d_output)),
            ]),
        }
    }

    /// Checks an architecture read from a file before anything is allocated for it: every
    /// width at least 1, at most [`MAX_PARAMETERS`] parameters, at most [`MAX_STEPS`]
    /// message-passing or readout steps.
    pub fn validate(&self) -> Result<(), String> {
        let widths: Vec<(&str, usize)> = match self {
            ModelConfig::Gcn(c) => vec![
                ("d_input", c.d_input),
                ("d_hidden", c.d_hidden),
                ("d_output", c.d_output),
            ],
            ModelConfig::Gat(c) => vec![
                ("d_input", c.d_input),
                ("d_hidden", c.d_hidden),
                ("d_output", c.d_output),
                ("heads", c.heads),
                ("out_heads", c.out_heads),
            ],
            ModelConfig::Rgcn(c) => vec![
                ("d_input", c.d_input),
                ("d_hidden", c.d_hidden),
                ("d_output", c.d_output),
                ("num_relations", c.num_relations),
                ("num_bases", c.num_bases.unwrap_or(1)),
                ("num_blocks", c.num_blocks.unwrap_or(1)),
                ("input_projection", c.input_projection.unwrap_or(1)),
            ],
            ModelConfig::Mpnn(c) => vec![
                ("d_input", c.d_input),
                ("d_output", c.d_output),
                ("edge_dim", c.edge_dim),
                ("dim", c.dim),
                ("edge_hidden", c.edge_hidden),
                ("mp_steps", c.mp_steps),
                ("processing_steps", c.processing_steps),
            ],
        };
        if let Some((name, _)) = widths.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{} model: {name} is 0", self.kind()));
        }
        if let ModelConfig::Mpnn(c) = self {
            if c.mp_steps > MAX_STEPS || c.processing_steps > MAX_STEPS {
                return Err(format!(
                    "mpnn model: more than {MAX_STEPS} message-passing or readout steps"
                ));
            }
            if !(0.0..1.0).contains(&c.dropout) {
                return Err(format!(
                    "mpnn model: dropout must be in [0, 1), got {}",
                    c.dropout
                ));
            }
        }
        match self.parameter_bound() {
            Some(n) if n <= MAX_PARAMETERS => Ok(()),
            _ => Err(format!(
                "{} model: its widths need more than {MAX_PARAMETERS} parameters",
                self.kind()
            )),
        }
    }

    /// A freshly initialised model of this architecture on `device`.
    pub fn init(&self, device: &Device) -> TrainedModel {
        match self {
            ModelConfig::Gcn(c) => TrainedModel::Gcn(c.init(device)),
            ModelConfig::Gat(c) => TrainedModel::Gat(c.init(device)),
            ModelConfig::Rgcn(c) => TrainedModel::Rgcn(c.init(device)),
            ModelConfig::Mpnn(c) => TrainedModel::Mpnn(c.init(device)),
        }
    }

    /// Input and output widths `(F, C)`.
    pub fn widths(&self) -> (usize, usize) {
        match self {
            ModelConfig::Gcn(c) => (c.d_input, c.d_output),
            ModelConfig::Gat(c) => (c.d_input, c.d_output),
            ModelConfig::Rgcn(c) => (c.d_input, c.d_output),
            ModelConfig::Mpnn(c) => (c.d_input, c.d_output),
        }
    }

    /// The architecture of a PyG state dict of model `kind`, read off its tensor shapes
    /// (PyG names as [`gnn_models::interop::pyg`] lists them).
    pub fn infer(kind: ModelKind, dict: &StateDict) -> Result<ModelConfig, String> {
        let shape = |k: &str| -> Result<&[usize], String> {
            dict.get(k)
                .map(|t| t.shape.as_slice())
                .ok_or_else(|| format!("no tensor '{k}', so this is not a {kind} state dict"))
        };
        let dims2 = |k: &str| -> Result<[usize; 2], String> {
            match shape(k)? {
                &[a, b] => Ok([a, b]),
                s => Err(format!("'{k}' has shape {s:?}; expected 2 dimensions")),
            }
        };
        let dims3 = |k: &str| -> Result<[usize; 3], String> {
            match shape(k)? {
                &[a, b, c] => Ok([a, b, c]),
                s => Err(format!("'{k}' has shape {s:?}; expected 3 dimensions")),
            }
        };
        Ok(match kind {
            ModelKind::Gcn => {
                let [h, f] = dims2("conv1.lin.weight")?;
                let [c, _] = dims2("conv2.lin.weight")?;
                ModelConfig::Gcn(GcnConfig::new(f, c).with_d_hidden(h))
            }
            ModelKind::Gat => {
                let [_, heads, hidden] = dims3("conv1.att_src")?;
                let [_, f] = dims2("conv1.lin.weight")?;
                let [_, out_heads, c] = dims3("conv2.att_src")?;
                ModelConfig::Gat(
                    GatConfig::new(f, c)
                        .with_d_hidden(hidden)
                        .with_heads(heads)
                        .with_out_heads(out_heads),
                )
            }
            ModelKind::Rgcn => {
                let layer = |p: &str| -> Result<LayerShape, String> {
                    let w = shape(&format!("{p}weight"))?;
                    if dict.contains_key(&format!("{p}comp")) {
                        let [r, b] = dims2(&format!("{p}comp"))?;
                        let [_, f, o] = dims3(&format!("{p}weight"))?;
                        return Ok(LayerShape::new(r, Some(b), None, f, o));
                    }
                    match *w {
                        [r, f, o] => Ok(LayerShape::new(r, None, None, f, o)),
                        [r, b, fb, ob] => Ok(LayerShape::new(r, None, Some(b), fb * b, ob * b)),
                        _ => Err(format!("'{p}weight' has shape {w:?}")),
                    }
                };
                let (first, second) = (layer("conv1.")?, layer("conv2.")?);
                let (f, projection) = match dict.get("lin_in.weight") {
                    Some(t) if t.shape.len() == 2 => (t.shape[1], Some(t.shape[0])),
                    Some(t) => return Err(format!("'lin_in.weight' has shape {:?}", t.shape)),
                    None => (first.input, None),
                };
                // Without a root weight the self-connection is the last relation (the
                // authors' formulation, `RgcnConfig::self_loop_relation`).
                let loops = !dict.contains_key("conv1.root");
                let r = first.relations - usize::from(loops && first.relations > 1);
                return Ok(ModelConfig::Rgcn(
                    RgcnConfig::new(f, second.output, r)
                        .with_d_hidden(first.output)
                        .with_num_bases(first.bases)
                        .with_num_blocks(first.blocks)
                        .with_input_projection(projection)
                        .with_self_loop_relation(loops),
                ));
            }
            ModelKind::Mpnn => {
                // Steps and Set2Set rounds are not in the shapes: PyG's example's 3 and 3.
                let [dim, f] = dims2("lin0.weight")?;
                let [hidden, d] = dims2("conv.nn.0.weight")?;
                let [c, _] = dims2("lin2.weight")?;
                let [_, embedding] = dims2("lin1.weight")?;
                // The readout is read off lin1's input width: 2·dim after Set2Set, dim after
                // a sum, (T+1)·dim after a jumping-knowledge sum.
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
                        return Err(format!(
                            "'lin1.weight' takes {embedding} inputs: not dim ({dim}), 2·dim (Set2Set) or (T+1)·dim (jk-sum)"
                        ));
                    }
                    config = config.with_mp_steps(embedding / dim - 1);
                }
                ModelConfig::Mpnn(config)
            }
        })
    }
}

/// The sizes of one R-GCN layer read off its tensors.
struct LayerShape {
    relations: usize,
    bases: Option<usize>,
    blocks: Option<usize>,
    input: usize,
    output: usize,
}

impl LayerShape {
    fn new(
        relations: usize,
        bases: Option<usize>,
        blocks: Option<usize>,
        input: usize,
        output: usize,
    ) -> Self {
        LayerShape {
            relations,
            bases,
            blocks,
            input,
            output,
        }
    }
}

/// A model of any kind (in eval mode after training).
// Modules are tensor handles of a few hundred bytes; boxing one variant gains nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TrainedModel {
    /// A GCN.
    Gcn(Gcn),
    /// A GAT.
    Gat(Gat),
    /// An R-GCN.
    Rgcn(Rgcn),
    /// An MPNN.
    Mpnn(Mpnn),
}

impl TrainedModel {
    /// Output logits `[N, C]`.
    pub fn forward(&self, x: Features, graph: &Graph) -> Tensor<2> {
        match self {
            TrainedModel::Gcn(m) => m.forward(x, graph),
            TrainedModel::Gat(m) => GraphModel::forward(m, x, graph),
            TrainedModel::Rgcn(m) => GraphModel::forward(m, x, graph),
            TrainedModel::Mpnn(m) => GraphModel::forward(m, x, graph),
        }
    }

    /// Scores of every split of `data` (as the training loop computes them).
    pub fn evaluate(&self, data: &dyn TrainData) -> Scores {
        match self {
            TrainedModel::Gcn(m) => evaluate(m, data),
            TrainedModel::Gat(m) => evaluate(m, data),
            TrainedModel::Rgcn(m) => evaluate(m, data),
            TrainedModel::Mpnn(m) => evaluate(m, data),
        }
    }

    /// Writes the weights (burnpack) atomically.
    pub fn save_weights(&self, path: &Path) -> Result<(), InteropError> {
        match self {
            TrainedModel::Gcn(m) => interop::save_weights(m, path),
            TrainedModel::Gat(m) => interop::save_weights(m, path),
            TrainedModel::Rgcn(m) => interop::save_weights(m, path),
            TrainedModel::Mpnn(m) => interop::save_weights(m, path),
        }
    }

    /// Loads weights written by [`save_weights`](Self::save_weights), strictly.
    pub fn load_weights(&mut self, path: &Path) -> Result<(), InteropError> {
        match self {
            TrainedModel::Gcn(m) => interop::load_weights(m, path),
            TrainedModel::Gat(m) => interop::load_weights(m, path),
            TrainedModel::Rgcn(m) => interop::load_weights(m, path),
            TrainedModel::Mpnn(m) => interop::load_weights(m, path),
        }
    }

    /// The weights under PyG's `state_dict` names and layouts.
    pub fn export_pyg(&self) -> StateDict {
        match self {
            TrainedModel::Gcn(m) => interop::export_pyg(m),
            TrainedModel::Gat(m) => interop::export_pyg(m),
            TrainedModel::Rgcn(m) => interop::export_pyg(m),
            TrainedModel::Mpnn(m) => interop::export_pyg(m),
        }
    }

    /// Loads a PyG state dict, strictly.
    pub fn import_pyg(&mut self, dict: StateDict) -> Result<(), InteropError> {
        match self {
            TrainedModel::Gcn(m) => interop::import_pyg(m, dict),
            TrainedModel::Gat(m) => interop::import_pyg(m, dict),
            TrainedModel::Rgcn(m) => interop::import_pyg(m, dict),
            TrainedModel::Mpnn(m) => interop::import_pyg(m, dict),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_architectures_are_refused_before_allocation() {
        // Real models pass, with a bound at least their true parameter count.
        let gcn = ModelConfig::Gcn(GcnConfig::new(1433, 7));
        gcn.validate().unwrap();
        let model = gcn.init(&Device::flex());
        let real: usize = model.export_pyg().values().map(|t| t.values.len()).sum();
        assert!(gcn.parameter_bound().unwrap() >= real);
        for ok in [
            ModelConfig::Rgcn(RgcnConfig::new(8285, 4, 90)),
            ModelConfig::Rgcn(RgcnConfig::new(23644, 2, 46).with_num_bases(Some(30))),
            ModelConfig::Gat(GatConfig::new(3703, 6)),
        ] {
            ok.validate().unwrap();
        }
        for readout in [Readout::Set2Set, Readout::Sum, Readout::JkSum] {
            for steps in [1, 3, 8] {
                let mpnn = ModelConfig::Mpnn(
                    MpnnConfig::new(11, 1, 4)
                        .with_readout(readout)
                        .with_mp_steps(steps),
                );
                mpnn.validate().unwrap();
                let real: usize = mpnn
                    .init(&Device::flex())
                    .export_pyg()
                    .values()
                    .map(|t| t.values.len())
                    .sum();
                assert!(mpnn.parameter_bound().unwrap() >= real, "{mpnn:?}");
            }
        }
        for bad in [
            ModelConfig::Gcn(GcnConfig::new(1 << 40, 7)),
            ModelConfig::Gcn(GcnConfig::new(usize::MAX, 7)),
            ModelConfig::Gcn(GcnConfig::new(10, 0)),
            ModelConfig::Gat(GatConfig::new(10, 2).with_heads(1 << 30)),
            ModelConfig::Rgcn(RgcnConfig::new(10, 2, 1 << 40)),
            ModelConfig::Mpnn(MpnnConfig::new(11, 1, 4).with_dim(1 << 16)),
            ModelConfig::Mpnn(MpnnConfig::new(11, 1, 4).with_mp_steps(1 << 40)),
            ModelConfig::Mpnn(MpnnConfig::new(11, 1, 4).with_dropout(1.0)),
            ModelConfig::Mpnn(MpnnConfig::new(11, 1, 4).with_dropout(f64::NAN)),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn architectures_are_read_off_exported_shapes() {
        let d = Device::flex();
        for config in [
            ModelConfig::Gcn(GcnConfig::new(7, 3).with_d_hidden(5)),
            ModelConfig::Gat(
                GatConfig::new(7, 3)
                    .with_d_hidden(4)
                    .with_heads(2)
                    .with_out_heads(3),
            ),
            ModelConfig::Rgcn(RgcnConfig::new(7, 3, 4).with_num_bases(Some(2))),
            ModelConfig::Rgcn(
                RgcnConfig::new(8, 4, 4)
                    .with_d_hidden(6)
                    .with_num_blocks(Some(2)),
            ),
            ModelConfig::Rgcn(RgcnConfig::new(7, 3, 4).with_input_projection(Some(6))),
            ModelConfig::Rgcn(
                RgcnConfig::new(7, 3, 4)
                    .with_num_bases(Some(3))
                    .with_self_loop_relation(true),
            ),
            ModelConfig::Mpnn(MpnnConfig::new(7, 2, 4).with_dim(8).with_edge_hidden(5)),
            ModelConfig::Mpnn(
                MpnnConfig::new(7, 2, 4)
                    .with_dim(8)
                    .with_edge_hidden(5)
                    .with_readout(Readout::Sum),
            ),
            ModelConfig::Mpnn(
                MpnnConfig::new(7, 2, 4)
                    .with_dim(8)
                    .with_edge_hidden(5)
                    .with_readout(Readout::JkSum)
                    .with_mp_steps(2),
            ),
        ] {
            let dict = config.init(&d).export_pyg();
            let inferred = ModelConfig::infer(config.kind(), &dict).unwrap();
            assert_eq!(
                serde_json::to_value(&inferred).unwrap(),
                serde_json::to_value(&config).unwrap()
            );
        }
        let gcn = ModelConfig::Gcn(GcnConfig::new(7, 3)).init(&d).export_pyg();
        let e = ModelConfig::infer(ModelKind::Gat, &gcn).unwrap_err();
        assert!(e.contains("not a gat state dict"), "{e}");
        // A lin1 whose input is not a multiple of the state width fits no readout.
        let mut jk = ModelConfig::Mpnn(
            MpnnConfig::new(7, 2, 4)
                .with_dim(8)
                .with_readout(Readout::Sum),
        )
        .init(&d)
        .export_pyg();
        let lin1 = jk.get_mut("lin1.weight").unwrap();
        lin1.shape = vec![8, 12];
        lin1.values = vec![0.0; 96];
        let e = ModelConfig::infer(ModelKind::Mpnn, &jk).unwrap_err();
        assert!(e.contains("'lin1.weight' takes 12 inputs"), "{e}");
    }
}
