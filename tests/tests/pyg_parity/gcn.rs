//! GCNConv and TwoLayerGCN cases.

use burn::tensor::{Device, Tensor};
use gnn_models::Graph;
use gnn_models::layers::GcnConvConfig;
use gnn_models::models::GcnConfig;
use gnn_tests::{Fixture, param_grads, values};

use crate::Computed;

/// The fixture's graph on `device`, with its `edge_weight` (tracked) when present.
fn graph(fx: &Fixture, device: &Device) -> Result<(Graph, Option<Tensor<1>>), String> {
    let (src, dst) = fx.edge_index()?;
    let g = Graph::from_i64(&src, &dst, fx.num_nodes()?, device).map_err(|e| e.to_string())?;
    if fx.has("edge_weight") {
        let w = fx.tensor::<1>("edge_weight", device)?.require_grad();
        Ok((
            g.with_edge_weight(w.clone()).map_err(|e| e.to_string())?,
            Some(w),
        ))
    } else {
        Ok((g, None))
    }
}

pub fn conv(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let (graph, weight) = graph(fx, &ad)?;
    let mut layer = GcnConvConfig::new(fx.opt_usize("in_channels")?, fx.opt_usize("out_channels")?)
        .with_improved(fx.opt_bool("improved", false))
        .with_add_self_loops(fx.opt_bool("add_self_loops", true))
        .with_normalize(fx.opt_bool("normalize", true))
        .with_bias(fx.opt_bool("bias", true))
        .init(&ad);
    fx.load_params(&mut layer)?;
    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    let out = layer.forward(x.clone(), &graph);
    let grads = (out.clone() * fx.tensor::<2>("loss_weight", &ad)?)
        .sum()
        .backward();

    let mut c = Computed::new();
    c.insert("out".into(), values(out));
    c.insert(
        "grad.x".into(),
        values(x.grad(&grads).ok_or("no gradient for x")?),
    );
    c.extend(param_grads(&layer, &grads));
    if let Some(w) = weight {
        c.insert(
            "grad.edge_weight".into(),
            values(w.grad(&grads).ok_or("no gradient for edge_weight")?),
        );
    }
    let norm = layer.normalized_graph(&graph);
    if fx.opt_bool("normalize", true) {
        let index: Vec<f64> = norm
            .host_src()
            .iter()
            .chain(norm.host_dst())
            .map(|&v| v as f64)
            .collect();
        c.insert("aux.norm_edge_index".into(), index);
        let w = norm
            .edge_weight()
            .ok_or("normalised graph has no weights")?
            .clone();
        c.insert("aux.norm_edge_weight".into(), values(w));
    }
    Ok(c)
}

pub fn two_layer(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let (graph, _) = graph(fx, &ad)?;
    let mut model = GcnConfig::new(fx.opt_usize("in_channels")?, fx.opt_usize("out_channels")?)
        .with_d_hidden(fx.opt_usize("hidden_channels")?)
        .with_dropout(0.0)
        .with_cached(false)
        .init(&ad);
    fx.load_params(&mut model)?;
    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    let out = model.forward(x.clone(), &graph);
    let grads = (out.clone() * fx.tensor::<2>("loss_weight", &ad)?)
        .sum()
        .backward();

    let mut c = Computed::new();
    c.insert("out".into(), values(out));
    c.insert(
        "grad.x".into(),
        values(x.grad(&grads).ok_or("no gradient for x")?),
    );
    c.extend(param_grads(&model, &grads));
    Ok(c)
}
