//! GATConv, GATv2Conv and TwoLayerGAT cases.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Gradients, Tensor};
use gnn_models::Graph;
use gnn_models::layers::{Attention, GatConv, GatConvConfig, GatV2ConvConfig};
use gnn_models::models::GatConfig;
use gnn_tests::{Fixture, transpose, values};

use crate::Computed;

fn graph(fx: &Fixture, device: &Device) -> Result<Graph, String> {
    let (src, dst) = fx.edge_index()?;
    Graph::from_i64(&src, &dst, fx.num_nodes()?, device).map_err(|e| e.to_string())
}

fn linear_grads(
    c: &mut Computed,
    lin: &Linear,
    grads: &Gradients,
    prefix: &str,
) -> Result<(), String> {
    let w = lin.weight.val();
    let [fin, fout] = w.dims();
    let g = w
        .grad(grads)
        .ok_or_else(|| format!("no gradient for {prefix}weight"))?;
    c.insert(
        format!("grad.{prefix}weight"),
        transpose(&values(g), fin, fout),
    );
    if let Some(b) = &lin.bias {
        let g = b
            .val()
            .grad(grads)
            .ok_or_else(|| format!("no gradient for {prefix}bias"))?;
        c.insert(format!("grad.{prefix}bias"), values(g));
    }
    Ok(())
}

fn param_grad<const D: usize>(
    c: &mut Computed,
    p: &Param<Tensor<D>>,
    grads: &Gradients,
    name: &str,
) -> Result<(), String> {
    let g = p
        .val()
        .grad(grads)
        .ok_or_else(|| format!("no gradient for {name}"))?;
    c.insert(format!("grad.{name}"), values(g));
    Ok(())
}

fn gat_grads(
    c: &mut Computed,
    layer: &GatConv,
    grads: &Gradients,
    prefix: &str,
) -> Result<(), String> {
    linear_grads(c, &layer.lin, grads, &format!("{prefix}lin."))?;
    param_grad(c, &layer.att_src, grads, &format!("{prefix}att_src"))?;
    param_grad(c, &layer.att_dst, grads, &format!("{prefix}att_dst"))?;
    if let Some(b) = &layer.bias {
        param_grad(c, b, grads, &format!("{prefix}bias"))?;
    }
    Ok(())
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
    let (out, att) = layer.forward_with_attention(x.clone(), &graph);
    let (mut c, grads) = finish(fx, out, &x, &ad)?;
    gat_grads(&mut c, &layer, &grads, "")?;
    attention(&mut c, &att);
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
    linear_grads(&mut c, &layer.lin_l, &grads, "lin_l.")?;
    linear_grads(&mut c, &layer.lin_r, &grads, "lin_r.")?;
    param_grad(&mut c, &layer.att, &grads, "att")?;
    if let Some(b) = &layer.bias {
        param_grad(&mut c, b, &grads, "bias")?;
    }
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
    gat_grads(&mut c, &model.conv1, &grads, "conv1.")?;
    gat_grads(&mut c, &model.conv2, &grads, "conv2.")?;
    Ok(c)
}
