//! GATConv, GATv2Conv and TwoLayerGAT cases.

use burn::tensor::{Device, Gradients, Tensor};
use gnn_models::Graph;
use gnn_models::layers::{Attention, GatConvConfig, GatV2ConvConfig};
use gnn_models::models::GatConfig;
use gnn_models::trace::{TraceOptions, record};
use gnn_tests::{Fixture, param_grads, values};

use crate::Computed;

fn graph(fx: &Fixture, device: &Device) -> Result<Graph, String> {
    let (src, dst) = fx.edge_index()?;
    Graph::from_i64(&src, &dst, fx.num_nodes()?, device).map_err(|e| e.to_string())
}

fn attention(c: &mut Computed, a: &Attention) {
    let index: Vec<f64> = a
        .graph
        .host_src()
        .iter()
        .chain(a.graph.host_dst())
        .map(|&v| v as f64)
        .collect();
    c.insert("aux.att_edge_index".into(), index);
    c.insert("aux.alpha".into(), values(a.alpha.clone()));
}

fn finish(
    fx: &Fixture,
    out: Tensor<2>,
    x: &Tensor<2>,
    ad: &Device,
) -> Result<(Computed, Gradients), String> {
    let grads = (out.clone() * fx.tensor::<2>("loss_weight", ad)?)
        .sum()
        .backward();
    let mut c = Computed::new();
    c.insert("out".into(), values(out));
    c.insert(
        "grad.x".into(),
        values(x.grad(&grads).ok_or("no gradient for x")?),
    );
    Ok((c, grads))
}

pub fn conv(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let graph = graph(fx, &ad)?;
    let mut layer = GatConvConfig::new(fx.opt_usize("in_channels")?, fx.opt_usize("out_channels")?)
        .with_heads(fx.opt_usize("heads")?)
        .with_concat(fx.opt_bool("concat", true))
        .with_negative_slope(fx.options["negative_slope"].as_f64().unwrap_or(0.2))
        .with_add_self_loops(fx.opt_bool("add_self_loops", true))
        .with_bias(fx.opt_bool("bias", true))
        .init(&ad);
    fx.load_params(&mut layer)?;
    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    // Recorded: the trace's attention column is the layer's attention, which PyG's checks.
    let ((out, att), trace) = record(&graph, TraceOptions::default(), || {
        layer.forward_with_attention(x.clone(), &graph)
    });
    let (mut c, grads) = finish(fx, out, &x, &ad)?;
    c.extend(param_grads(&layer, &grads));
    attention(&mut c, &att);
    let step = trace.steps.first().ok_or("no step traced")?;
    let traced = step.attention.as_ref().ok_or("no attention traced")?;
    let alpha = &c["aux.alpha"];
    let same_edges = step.src == att.graph.host_src() && step.dst == att.graph.host_dst();
    if !same_edges || traced.len() != alpha.len() {
        return Err("the trace's edges differ from the layer's attention graph".into());
    }
    if let Some(k) = (0..alpha.len()).find(|&k| traced[k] as f64 != alpha[k]) {
        return Err(format!(
            "traced attention {k}: {} vs {}",
            traced[k], alpha[k]
        ));
    }
    Ok(c)
}

pub fn conv_v2(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    if fx.opt_bool("share_weights", false) {
        return Err("share_weights=true is not supported".into());
    }
    let ad = device.clone().autodiff();
    let graph = graph(fx, &ad)?;
    let mut layer =
        GatV2ConvConfig::new(fx.opt_usize("in_channels")?, fx.opt_usize("out_channels")?)
            .with_heads(fx.opt_usize("heads")?)
            .with_concat(fx.opt_bool("concat", true))
            .with_negative_slope(fx.options["negative_slope"].as_f64().unwrap_or(0.2))
            .with_add_self_loops(fx.opt_bool("add_self_loops", true))
            .with_bias(fx.opt_bool("bias", true))
            .init(&ad);
    fx.load_params(&mut layer)?;
    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    let (out, att) = layer.forward_with_attention(x.clone(), &graph);
    let (mut c, grads) = finish(fx, out, &x, &ad)?;
    c.extend(param_grads(&layer, &grads));
    attention(&mut c, &att);
    Ok(c)
}

pub fn two_layer(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let graph = graph(fx, &ad)?;
    let mut model = GatConfig::new(fx.opt_usize("in_channels")?, fx.opt_usize("out_channels")?)
        .with_d_hidden(fx.opt_usize("hidden_channels")?)
        .with_heads(fx.opt_usize("heads")?)
        .with_out_heads(fx.opt_usize("out_heads")?)
        .with_dropout(0.0)
        .init(&ad);
    fx.load_params(&mut model)?;
    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    let out = model.forward(x.clone(), &graph);
    let (mut c, grads) = finish(fx, out, &x, &ad)?;
    c.extend(param_grads(&model, &grads));
    Ok(c)
}
