//! NNConv, MPNNStep (NNConv + GRU), Set2Set and the full MPNN.

use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Gradients, Tensor};
use gnn_models::Graph;
use gnn_models::interop::{Import, PygParams};
use gnn_models::layers::{GruCell, GruCellConfig, NnConv, NnConvConfig, Set2SetConfig};
use gnn_models::message_passing::Aggregation;
use gnn_models::models::MpnnConfig;
use gnn_tests::{Fixture, param_grads, values};

use crate::Computed;

/// The fixture's graph with its edge features (tracked), and those features.
fn graph(fx: &Fixture, device: &Device) -> Result<(Graph, Tensor<2>), String> {
    let (src, dst) = fx.edge_index()?;
    let ea = fx.tensor::<2>("edge_attr", device)?.require_grad();
    let mut g = Graph::from_i64(&src, &dst, fx.num_nodes()?, device)
        .and_then(|g| g.with_edge_attr(ea.clone()))
        .map_err(|e| e.to_string())?;
    if fx.has("batch") {
        g = with_batch(fx, g)?;
    }
    Ok((g, ea))
}

fn with_batch(fx: &Fixture, g: Graph) -> Result<Graph, String> {
    let batch: Vec<usize> = fx.int("batch")?.1.iter().map(|&b| b as usize).collect();
    g.with_batch(&batch, fx.opt_usize("num_graphs")?)
        .map_err(|e| e.to_string())
}

fn aggr(fx: &Fixture) -> Result<Aggregation, String> {
    fx.options["aggr"].as_str().unwrap_or("add").parse()
}

/// Output, input gradients and every parameter gradient (PyG layout).
fn finish<M: PygParams + Module>(
    fx: &Fixture,
    out: Tensor<2>,
    inputs: &[(&str, Tensor<2>)],
    module: &M,
    ad: &Device,
) -> Result<(Computed, Gradients), String> {
    let grads = (out.clone() * fx.tensor::<2>("loss_weight", ad)?)
        .sum()
        .backward();
    let mut c = Computed::new();
    c.insert("out".into(), values(out));
    for (name, t) in inputs {
        let g = t
            .grad(&grads)
            .ok_or_else(|| format!("no gradient for {name}"))?;
        c.insert(format!("grad.{name}"), values(g));
    }
    c.extend(param_grads(module, &grads));
    Ok((c, grads))
}

fn nnconv_config(fx: &Fixture, fin: usize, fout: usize) -> Result<NnConvConfig, String> {
    Ok(NnConvConfig::new(fin, fout, fx.opt_usize("edge_dim")?)
        .with_edge_hidden(fx.opt_usize("edge_hidden")?)
        .with_aggr(aggr(fx)?)
        .with_root_weight(fx.opt_bool("root_weight", true))
        .with_bias(fx.opt_bool("bias", true)))
}

pub fn nnconv(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let (graph, ea) = graph(fx, &ad)?;
    let fin = fx.opt_usize("in_channels")?;
    let mut layer = nnconv_config(fx, fin, fx.opt_usize("out_channels")?)?.init(&ad);
    fx.load_params(&mut layer)?;
    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    let out = layer
        .forward(x.clone(), &graph)
        .map_err(|e| e.to_string())?;
    Ok(finish(fx, out, &[("x", x), ("edge_attr", ea)], &layer, &ad)?.0)
}

/// PyG's `MPNNStep` fixture module: `conv` and `gru`.
#[derive(Module, Debug)]
struct Step {
    conv: NnConv,
    gru: GruCell,
}

impl PygParams for Step {
    fn export_pyg(&self, prefix: &str, out: &mut gnn_models::interop::StateDict) {
        self.conv.export_pyg(&format!("{prefix}conv."), out);
        self.gru.export_pyg(&format!("{prefix}gru."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        self.conv.import_pyg(&format!("{prefix}conv."), src);
        self.gru.import_pyg(&format!("{prefix}gru."), src);
    }
}

pub fn mpnn_step(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let (graph, ea) = graph(fx, &ad)?;
    let dim = fx.opt_usize("dim")?;
    let mut step = Step {
        conv: nnconv_config(fx, dim, dim)?.init(&ad),
        gru: GruCellConfig::new(dim, dim).init(&ad),
    };
    fx.load_params(&mut step)?;
    let h = fx.tensor::<2>("x", &ad)?.require_grad();
    let m = step
        .conv
        .forward(h.clone(), &graph)
        .map_err(|e| e.to_string())?;
    let out = step.gru.forward(relu(m.clone()), h.clone());
    let (mut c, _) = finish(fx, out, &[("x", h), ("edge_attr", ea)], &step, &ad)?;
    c.insert("aux.m".into(), values(m));
    Ok(c)
}

pub fn set2set(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let d = fx.opt_usize("in_channels")?;
    let mut layer = Set2SetConfig::new(d)
        .with_processing_steps(fx.opt_usize("processing_steps")?)
        .init(&ad);
    fx.load_params(&mut layer)?;
    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    let batch = fx.int_tensor("batch", &ad)?;
    let out = layer.forward(x.clone(), &batch, fx.opt_usize("num_graphs")?);
    Ok(finish(fx, out, &[("x", x)], &layer, &ad)?.0)
}

pub fn mpnn(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let (graph, ea) = graph(fx, &ad)?;
    let mut model = MpnnConfig::new(fx.opt_usize("in_channels")?, 1, fx.opt_usize("edge_dim")?)
        .with_dim(fx.opt_usize("dim")?)
        .with_edge_hidden(fx.opt_usize("edge_hidden")?)
        .with_mp_steps(fx.opt_usize("mp_steps")?)
        .with_processing_steps(fx.opt_usize("processing_steps")?)
        .with_aggr(aggr(fx)?)
        .init(&ad);
    fx.load_params(&mut model)?;
    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    let h = model
        .node_states(x.clone().into(), &graph)
        .map_err(|e| e.to_string())?;
    let g = model.readout(h.clone(), &graph);
    let out = model.lin2.forward(relu(model.lin1.forward(g.clone())));
    let (mut c, _) = finish(fx, out, &[("x", x), ("edge_attr", ea)], &model, &ad)?;
    c.insert("aux.node_h".into(), values(h));
    c.insert("aux.graph_emb".into(), values(g));
    Ok(c)
}
