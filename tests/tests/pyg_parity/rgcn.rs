//! RGCNConv cases.

use burn::tensor::Device;
use gnn_models::Graph;
use gnn_models::layers::RgcnConvConfig;
use gnn_models::message_passing::Aggregation;
use gnn_tests::{Fixture, param_grads, values};

use crate::Computed;

pub fn conv(fx: &Fixture, device: &Device) -> Result<Computed, String> {
    let ad = device.clone().autodiff();
    let (src, dst) = fx.edge_index()?;
    let types: Vec<usize> = fx.int("edge_type")?.1.iter().map(|&t| t as usize).collect();
    let r = fx.opt_usize("num_relations")?;
    let graph = Graph::from_i64(&src, &dst, fx.num_nodes()?, &ad)
        .and_then(|g| g.with_edge_types(&types, r))
        .map_err(|e| e.to_string())?;
    let opt = |k: &str| {
        fx.options
            .get(k)
            .and_then(|v| v.as_u64())
            .map(|v| v as usize)
    };
    let aggr: Aggregation = fx.options["aggr"].as_str().unwrap_or("mean").parse()?;
    let mut layer = RgcnConvConfig::new(
        fx.opt_usize("in_channels")?,
        fx.opt_usize("out_channels")?,
        r,
    )
    .with_num_bases(opt("num_bases"))
    .with_num_blocks(opt("num_blocks"))
    .with_aggr(aggr)
    .with_root_weight(fx.opt_bool("root_weight", true))
    .with_bias(fx.opt_bool("bias", true))
    .init(&ad)
    .map_err(|e| e.to_string())?;
    // Parameters through the library's PyG import (block weights [R, B, F/B, F'/B]).
    fx.load_params(&mut layer)?;

    let x = fx.tensor::<2>("x", &ad)?.require_grad();
    let out = layer
        .forward(x.clone(), &graph)
        .map_err(|e| e.to_string())?;
    let grads = (out.clone() * fx.tensor::<2>("loss_weight", &ad)?)
        .sum()
        .backward();
    let mut c = Computed::new();
    c.insert("out".into(), values(out));
    c.insert(
        "grad.x".into(),
        values(x.grad(&grads).ok_or("no gradient for x")?),
    );
    // Every parameter's gradient, in PyG's names and layouts.
    c.extend(param_grads(&layer, &grads));
    Ok(c)
}
