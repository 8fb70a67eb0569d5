//! SAGEConv, GINConv, GINEConv, GatedGraphConv, TransformerConv, ChebConv, SGConv, APPNP,
//! PNAConv, EdgeConv and DistMult cases: each layer built from the fixture's options, loaded
//! through the library's PyG import, applied to the fixture's graph (DistMult: its triples).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use gnn_models::interop::{PygParams, StateDict};
use gnn_models::layers::{
    AppnpConfig, ChebConvConfig, DistMultKgeConfig, EdgeConvConfig, GatedGraphConvConfig,
    GinConvConfig, PnaConvConfig, SageConvConfig, SgConvConfig, TransformerConvConfig,
};
use gnn_models::message_passing::Aggregation;
use gnn_models::message_passing::global_add_pool;
use gnn_models::models::Stack;
use gnn_models::registry::{DataInfo, ModelEntry, Registry, Task};
use gnn_models::{Graph, GraphModel};
use gnn_tests::{Fixture, param_grads, values};

use crate::Computed;

/// A fixture's inputs on the autodiff device: the graph with its edge weights and edge
/// features (both tracked, when the fixture has them) and the node features (tracked).
struct Inputs {
    graph: Graph,
    x: Tensor<2>,
    edge_weight: Option<Tensor<1>>,
    edge_attr: Option<Tensor<2>>,
}

fn inputs(fx: &Fixture, ad: &Device) -> Result<Inputs, String> {
    let (src, dst) = fx.edge_index()?;
    let err = |e: gnn_models::GraphError| e.to_string();
    let mut graph = Graph::from_i64(&src, &dst, fx.num_nodes()?, ad).map_err(err)?;
    let edge_weight = match fx.has("edge_weight") {
        true => Some(fx.tensor::<1>("edge_weight", ad)?.require_grad()),
        false => None,
    };
    if let Some(w) = &edge_weight {
        graph = graph.with_edge_weight(w.clone()).map_err(err)?;
    }
    let edge_attr = match fx.has("edge_attr") {
        true => Some(fx.tensor::<2>("edge_attr", ad)?.require_grad()),
        false => None,
    };
    if let Some(a) = &edge_attr {
        graph = graph.with_edge_attr(a.clone()).map_err(err)?;
    }
    let x = fx.tensor::<2>("x", ad)?.require_grad();
    Ok(Inputs {
        graph,
        x,
        edge_weight,
        edge_attr,
    })
}

/// The output, the gradients of the tracked inputs and of every parameter (PyG layout).
fn finish<M: PygParams + Module>(
    fx: &Fixture,
    input: &Inputs,
    out: Tensor<2>,
    module: &M,
    ad: &Device,
) -> Result<Computed, String> {
    let grads = (out.clone() * fx.tensor::<2>("loss_weight", ad)?)
        .sum()
        .backward();
    let mut c = Computed::new();
    c.insert("out".into(), values(out));
    let grad_x = input.x.grad(&grads).ok_or("no gradient for x")?;
    c.insert("grad.x".into(), values(grad_x));
    if let Some(w) = &input.edge_weight {
        let g = w.grad(&grads).ok_or("no gradient for edge_weight")?;
        c.insert("grad.edge_weight".into(), values(g));
    }
    if let Some(a) = &input.edge_attr {
        let g = a.grad(&grads).ok_or("no gradient for edge_attr")?;
        c.insert("grad.edge_attr".into(), values(g));
    }
    c.extend(param_grads(module, &grads));
    Ok(c)
}

fn aggr(fx: &Fixture, default: &str) -> Result<Aggregation, String> {
    fx.options["aggr"].as_str().unwrap_or(default).parse()
}

fn err(e: impl ToString) -> String {
    e.to_string()
}

pub fn sage(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    let mut layer =
        SageConvConfig::new(fx.opt_usize("in_channels")?, fx.opt_usize("out_channels")?)
            .with_aggr(aggr(fx, "mean")?)
            .with_normalize(fx.opt_bool("normalize", false))
            .with_root_weight(fx.opt_bool("root_weight", true))
            .with_project(fx.opt_bool("project", false))
            .with_bias(fx.opt_bool("bias", true))
            .init(&ad);
    fx.load_params(&mut layer)?;
    let out = layer.forward(input.x.clone(), &input.graph);
    finish(fx, &input, out, &layer, &ad)
}

pub fn gin(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    let gine = fx.layer == "GINEConv";
    let edge_dim = fx
        .options
        .get("edge_dim")
        .and_then(|v| v.as_u64())
        .map(|v| v as usize);
    let mut layer = GinConvConfig::new(
        fx.opt_usize("in_channels")?,
        fx.opt_usize("hidden_channels")?,
        fx.opt_usize("out_channels")?,
    )
    .with_eps(fx.options["eps"].as_f64().unwrap_or(0.0))
    .with_train_eps(fx.opt_bool("train_eps", false))
    .with_gine(gine)
    .with_edge_dim(edge_dim)
    .init(&ad);
    fx.load_params(&mut layer)?;
    let out = layer.forward(input.x.clone(), &input.graph).map_err(err)?;
    finish(fx, &input, out, &layer, &ad)
}

pub fn ggnn(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    let mut layer = GatedGraphConvConfig::new(
        fx.opt_usize("in_channels")?,
        fx.opt_usize("out_channels")?,
        fx.opt_usize("num_layers")?,
    )
    .with_aggr(aggr(fx, "add")?)
    .init(&ad);
    fx.load_params(&mut layer)?;
    let out = layer.forward(input.x.clone(), &input.graph).map_err(err)?;
    finish(fx, &input, out, &layer, &ad)
}

pub fn transformer(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    let edge_dim = fx
        .options
        .get("edge_dim")
        .and_then(|v| v.as_u64())
        .map(|v| v as usize);
    let mut layer =
        TransformerConvConfig::new(fx.opt_usize("in_channels")?, fx.opt_usize("out_channels")?)
            .with_heads(fx.opt_usize("heads")?)
            .with_concat(fx.opt_bool("concat", true))
            .with_beta(fx.opt_bool("beta", false))
            .with_edge_dim(edge_dim)
            .with_root_weight(fx.opt_bool("root_weight", true))
            .with_bias(fx.opt_bool("bias", true))
            .init(&ad);
    fx.load_params(&mut layer)?;
    let (out, attention) = layer
        .forward_with_attention(input.x.clone(), &input.graph)
        .map_err(err)?;
    let mut c = finish(fx, &input, out, &layer, &ad)?;
    c.insert("aux.alpha".into(), values(attention.alpha));
    Ok(c)
}

pub fn cheb(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    let normalization = fx.options["normalization"]
        .as_str()
        .unwrap_or("sym")
        .parse()?;
    let mut layer = ChebConvConfig::new(
        fx.opt_usize("in_channels")?,
        fx.opt_usize("out_channels")?,
        fx.opt_usize("K")?,
    )
    .with_normalization(normalization)
    .with_bias(fx.opt_bool("bias", true))
    .init(&ad);
    fx.load_params(&mut layer)?;
    let out = layer.forward(input.x.clone(), &input.graph);
    let (lap, diagonal) = layer.scaled_laplacian(&input.graph);
    let mut c = finish(fx, &input, out, &layer, &ad)?;
    let n = input.graph.num_nodes() as u32;
    let index: Vec<f64> = lap
        .host_src()
        .iter()
        .copied()
        .chain(0..n)
        .chain(lap.host_dst().iter().copied())
        .chain(0..n)
        .map(f64::from)
        .collect();
    c.insert("aux.lap_edge_index".into(), index);
    let weights = lap.edge_weight().ok_or("no Laplacian weights")?.clone();
    let mut w = values(weights);
    w.extend(values(diagonal));
    c.insert("aux.lap_edge_weight".into(), w);
    Ok(c)
}

/// SGConv and APPNP: GCN's normalised graph (`aux.norm_edge_*`) and the layer's output.
pub fn propagation(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    let loops = fx.opt_bool("add_self_loops", true);
    let mut c = if fx.layer == "SGConv" {
        let mut layer =
            SgConvConfig::new(fx.opt_usize("in_channels")?, fx.opt_usize("out_channels")?)
                .with_k(fx.opt_usize("K")?)
                .with_add_self_loops(loops)
                .with_bias(fx.opt_bool("bias", true))
                .init(&ad);
        fx.load_params(&mut layer)?;
        let out = layer.forward(input.x.clone(), &input.graph);
        finish(fx, &input, out, &layer, &ad)?
    } else {
        let alpha = fx.options["alpha"].as_f64().ok_or("option alpha missing")?;
        let mut layer = AppnpConfig::new(fx.opt_usize("K")?, alpha)
            .with_add_self_loops(loops)
            .with_normalize(fx.opt_bool("normalize", true))
            .init(&ad);
        fx.load_params(&mut layer)?;
        let out = layer.forward(input.x.clone(), &input.graph);
        finish(fx, &input, out, &layer, &ad)?
    };
    let norm = gnn_models::message_passing::gcn_norm(&input.graph, false, loops);
    let index: Vec<f64> = norm
        .host_src()
        .iter()
        .chain(norm.host_dst())
        .map(|&v| f64::from(v))
        .collect();
    c.insert("aux.norm_edge_index".into(), index);
    let w = norm.edge_weight().ok_or("no normalised weights")?.clone();
    c.insert("aux.norm_edge_weight".into(), values(w));
    Ok(c)
}

pub fn pna(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    fn list<T: serde::de::DeserializeOwned>(fx: &Fixture, k: &str) -> Result<T, String> {
        serde_json::from_value(fx.options[k].clone()).map_err(err)
    }
    let edge_dim = fx
        .options
        .get("edge_dim")
        .and_then(|v| v.as_u64())
        .map(|v| v as usize);
    let mut layer = PnaConvConfig::new(
        fx.opt_usize("in_channels")?,
        fx.opt_usize("out_channels")?,
        list(fx, "aggregators")?,
        list(fx, "scalers")?,
        list(fx, "deg")?,
    )
    .with_edge_dim(edge_dim)
    .with_towers(fx.opt_usize("towers")?)
    .with_pre_layers(fx.opt_usize("pre_layers")?)
    .with_post_layers(fx.opt_usize("post_layers")?)
    .with_divide_input(fx.opt_bool("divide_input", false))
    .init(&ad)
    .map_err(err)?;
    fx.load_params(&mut layer)?;
    let out = layer.forward(input.x.clone(), &input.graph).map_err(err)?;
    finish(fx, &input, out, &layer, &ad)
}

pub fn edge_conv(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    let mut layer = EdgeConvConfig::new(
        fx.opt_usize("in_channels")?,
        fx.opt_usize("hidden_channels")?,
        fx.opt_usize("out_channels")?,
    )
    .with_aggr(aggr(fx, "max")?)
    .init(&ad);
    fx.load_params(&mut layer)?;
    let out = layer.forward(input.x.clone(), &input.graph).map_err(err)?;
    finish(fx, &input, out, &layer, &ad)
}

/// A model built by the registry, with its entry.
type Built = (
    Box<dyn gnn_models::registry::DynModel>,
    std::sync::Arc<dyn ModelEntry>,
);

/// A `Stack` from the registry: the spec `name` with `options` (JSON settings) for a dataset
/// of `task`, on the autodiff device.
fn stack_model(
    name: &str,
    task: Task,
    fx: &Fixture,
    settings: &[(&str, String)],
    ad: &Device,
) -> Result<Built, String> {
    let registry = Registry::builtin();
    let entry = registry.get(name).map_err(err)?.clone();
    let (options, _) = entry.protocol("");
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let options = entry.apply(&options, &settings).map_err(err)?;
    let data = DataInfo {
        name: fx.case.clone(),
        task,
        num_features: fx.opt_usize("in_channels")?,
        featureless: false,
        num_outputs: fx.opt_usize("out_channels")?,
        num_relations: 0,
        edge_dim: 0,
    };
    let config = entry.config(&options, &data).map_err(err)?;
    let model = entry.init(&config, ad).map_err(err)?;
    Ok((model, entry))
}

/// The fixture's parameters loaded into `model` under `rename`d keys, checked to export back.
fn load_renamed(
    fx: &Fixture,
    entry: &dyn ModelEntry,
    model: &mut dyn gnn_models::registry::DynModel,
    rename: impl Fn(&str) -> String,
) -> Result<(), String> {
    let dict: StateDict = fx
        .state_dict()?
        .into_iter()
        .map(|(k, t)| (rename(&k), t))
        .collect();
    entry.import_pyg(model, dict.clone()).map_err(err)?;
    if entry.export_pyg(model).map_err(err)? != dict {
        return Err("export differs from the fixture's parameters".into());
    }
    Ok(())
}

/// PyG's `TwoLayerSAGE` (`conv1.*`, `conv2.*`) is the registry's `sage` with two layers of
/// `hidden_channels`, no dropout (PyG's `BasicGNN` names: `convs.0.*`, `convs.1.*`).
pub fn two_layer_sage(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let input = inputs(fx, &ad)?;
    let settings = [
        ("hidden", fx.opt_usize("hidden_channels")?.to_string()),
        ("layers", "2".to_string()),
        ("dropout", "0".to_string()),
    ];
    let (mut model, entry) = stack_model("sage", Task::Node, fx, &settings, &ad)?;
    let ours = |k: &str| {
        k.replace("conv1.", "convs.0.")
            .replace("conv2.", "convs.1.")
    };
    load_renamed(fx, entry.as_ref(), model.as_mut(), ours)?;
    let typed = model
        .as_any()
        .downcast_ref::<Stack<gnn_models::layers::SageConv>>()
        .ok_or("a SAGE stack")?;
    let out = typed
        .forward(input.x.clone().into(), &input.graph)
        .map_err(err)?;
    let pyg = |k: String| {
        k.replace("convs.0.", "conv1.")
            .replace("convs.1.", "conv2.")
    };
    let c = finish(fx, &input, out, typed, &ad)?;
    Ok(c.into_iter().map(|(k, v)| (pyg(k), v)).collect())
}

/// PyG's `GINGraphClassifier` is the registry's `gin` on a graph dataset: `num_layers` GIN
/// layers, a sum readout of every layer, a linear head; no normalisation, no dropout.
pub fn gin_graph(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let mut input = inputs(fx, &ad)?;
    let batch: Vec<usize> = fx.int("batch")?.1.iter().map(|&b| b as usize).collect();
    let graphs = fx.opt_usize("num_graphs")?;
    input.graph = input.graph.with_batch(&batch, graphs).map_err(err)?;
    let settings = [
        ("hidden", fx.opt_usize("hidden_channels")?.to_string()),
        ("layers", fx.opt_usize("num_layers")?.to_string()),
        ("dropout", "0".to_string()),
        ("norm", "none".to_string()),
        ("head_layers", "1".to_string()),
        ("readout", "sum".to_string()),
    ];
    let (mut model, entry) = stack_model("gin", Task::Graph, fx, &settings, &ad)?;
    load_renamed(fx, entry.as_ref(), model.as_mut(), str::to_string)?;
    let typed = model
        .as_any()
        .downcast_ref::<Stack<gnn_models::layers::GinConv>>()
        .ok_or("a GIN stack")?;
    let x: gnn_models::Features = input.x.clone().into();
    let out = typed.forward(x.clone(), &input.graph).map_err(err)?;
    let states = typed.layer_outputs(x, &input.graph).map_err(err)?;
    let batch = input.graph.batch().ok_or("a batch")?.tensor.clone();
    let pooled: Vec<Tensor<2>> = states
        .iter()
        .map(|h| global_add_pool(h.clone(), &batch, graphs))
        .collect();
    let mut c = finish(fx, &input, out, typed, &ad)?;
    c.insert(
        "aux.node_h".into(),
        values(states.last().ok_or("layers")?.clone()),
    );
    c.insert("aux.graph_emb".into(), values(Tensor::cat(pooled, 1)));
    Ok(c)
}

/// DistMult scores of the fixture's `(head, relation, tail)` rows; gradients of both
/// embedding tables (zero rows for the unused entities and relation).
pub fn distmult(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let mut model = DistMultKgeConfig::new(
        fx.opt_usize("num_entities")?,
        fx.opt_usize("num_relations")?,
        fx.opt_usize("hidden_channels")?,
    )
    .init(&ad);
    fx.load_params(&mut model)?;
    let (shape, triples) = fx.int("triples")?;
    if shape.len() != 2 || shape[1] != 3 {
        return Err(format!("{}: triples shape {shape:?}", fx.case));
    }
    let column = |c: usize| {
        let ids: Vec<i64> = triples.chunks_exact(3).map(|t| t[c]).collect();
        Tensor::<1, burn::tensor::Int>::from_data(ids.as_slice(), &ad)
    };
    let out = model.score(column(0), column(1), column(2));
    let grads = (out.clone() * fx.tensor::<1>("loss_weight", &ad)?)
        .sum()
        .backward();
    let mut c = Computed::new();
    c.insert("out".into(), values(out));
    c.extend(param_grads(&model, &grads));
    Ok(c)
}
