//! PyG parity: every fixture in `$GNN_PYG_FIXTURES` (default: the repository's
//! `tests/fixtures/pyg`) whose layer is implemented is recomputed on every CPU backend and
//! compared with the fixture's float64 reference (`f64.*`): the output, every gradient and the
//! `aux.*` intermediates.
//!
//! Prints one line per fixture: `pass <case>`, `FAIL <case>: <tensor> <error>` or
//! `unimplemented <case> (<layer>)`. Fails if a fixture of an implemented layer fails, if a
//! fixture names a module the library lists as reproduced (`gnn_models::interop::PYG_MODULES`)
//! and no case here runs it, or if the directory holds no fixture. Run with `-- --nocapture` to
//! see the lines.
//!
//! With the `wgpu` feature, every case also runs on wgpu and is compared with flex
//! (`wgpu_agrees_with_flex`): each layer's output, gradients and intermediates on the GPU
//! backend.

mod gat;
mod gcn;
mod layers;
mod mpnn;
mod rgcn;

use std::collections::BTreeMap;

use burn::tensor::Device;
use gnn_tests::{Fixture, FixtureTensor, fixtures_dir, relative_error};

/// What a case computed, by fixture tensor name without the `f64.` prefix (`out`, `grad.x`,
/// `grad.lin.weight` in PyG's layout, `aux.*`).
pub type Computed = BTreeMap<String, Vec<f64>>;

/// Largest accepted relative error (of each tensor's max magnitude).
const TOLERANCE: f64 = 1e-5;

/// Runs a fixture's layer, or `None` if that layer is not implemented.
fn run_case(fx: &Fixture, device: &Device) -> Option<Result<Computed, String>> {
    match fx.layer.as_str() {
        "GCNConv" => Some(gcn::conv(fx, device)),
        "TwoLayerGCN" => Some(gcn::two_layer(fx, device)),
        "GATConv" => Some(gat::conv(fx, device)),
        "GATv2Conv" => Some(gat::conv_v2(fx, device)),
        "TwoLayerGAT" => Some(gat::two_layer(fx, device)),
        "RGCNConv" => Some(rgcn::conv(fx, device)),
        "NNConv" => Some(mpnn::nnconv(fx, device)),
        "MPNNStep" => Some(mpnn::mpnn_step(fx, device)),
        "Set2Set" => Some(mpnn::set2set(fx, device)),
        "MPNN" => Some(mpnn::mpnn(fx, device)),
        "SAGEConv" => Some(layers::sage(fx, device)),
        "GINConv" | "GINEConv" => Some(layers::gin(fx, device)),
        "GatedGraphConv" => Some(layers::ggnn(fx, device)),
        "TransformerConv" => Some(layers::transformer(fx, device)),
        "ChebConv" => Some(layers::cheb(fx, device)),
        "SGConv" | "APPNP" => Some(layers::propagation(fx, device)),
        "PNAConv" => Some(layers::pna(fx, device)),
        "EdgeConv" => Some(layers::edge_conv(fx, device)),
        "TwoLayerSAGE" => Some(layers::two_layer_sage(fx, device)),
        "GINGraphClassifier" => Some(layers::gin_graph(fx, device)),
        "DistMult" => Some(layers::distmult(fx, device)),
        _ => None,
    }
}

/// Compares every `f64.*` tensor of the fixture with what was computed: the relative error
/// of each (of its own largest magnitude), except for a tensor that is zero to float64
/// precision (at most 1e-9 of the output's magnitude: TransformerConv's key bias, to which the
/// softmax is invariant, has an exactly zero gradient), whose error is taken relative to the
/// output's magnitude — float32 rounding leaves ~1e-8 there, which no relative measure of a
/// zero can accept. Returns the worst error, or the first failing tensor.
fn compare(fx: &Fixture, computed: &Computed) -> Result<f64, (String, String)> {
    let out_scale = match fx.tensors.get("f64.out") {
        Some(FixtureTensor::Float(_, out)) => magnitude(out),
        _ => 0.0,
    };
    let mut worst = 0.0f64;
    for (name, reference) in fx.tensors.iter().filter(|(n, _)| n.starts_with("f64.")) {
        let key = &name["f64.".len()..];
        let Some(ours) = computed.get(key) else {
            return Err((key.to_string(), "not computed".into()));
        };
        let err = match reference {
            FixtureTensor::Float(_, r) => tensor_error(ours, r, out_scale, 1e-9),
            FixtureTensor::Int(_, r) => {
                let r: Vec<f64> = r.iter().map(|&v| v as f64).collect();
                if ours == &r { 0.0 } else { f64::INFINITY }
            }
        };
        if err.is_nan() || err > TOLERANCE {
            return Err((
                key.to_string(),
                format!("relative error {err:.3e} > {TOLERANCE:e}"),
            ));
        }
        worst = worst.max(err);
    }
    Ok(worst)
}

/// The largest magnitude in `v`.
fn magnitude(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// `ours` against `reference`: the relative error, or — for a reference that is zero to
/// within `zero` of the output's magnitude `out_scale` — `ours`' magnitude relative to the
/// output's.
fn tensor_error(ours: &[f64], reference: &[f64], out_scale: f64, zero: f64) -> f64 {
    if magnitude(reference) <= zero * out_scale && reference.len() == ours.len() {
        magnitude(ours) / out_scale
    } else {
        relative_error(ours, reference)
    }
}

#[test]
fn pyg_parity() {
    let dir = fixtures_dir();
    let fixtures = Fixture::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read fixtures: {e}"));
    assert!(!fixtures.is_empty(), "no fixtures in {}", dir.display());
    let devices = [
        ("flex", Device::flex()),
        (
            "ndarray",
            gnn_train::Backend::Ndarray.device().expect("ndarray"),
        ),
    ];
    let (mut passed, mut failed, mut unimplemented) = (0, Vec::new(), 0);
    for fx in &fixtures {
        let mut outcome = Ok(0.0f64);
        for (backend, device) in &devices {
            let Some(result) = run_case(fx, device) else {
                outcome = Err(None);
                break;
            };
            let checked = result
                .map_err(|e| ("setup".to_string(), e))
                .and_then(|computed| compare(fx, &computed));
            match checked {
                Ok(err) => outcome = outcome.map(|w: f64| w.max(err)),
                Err((tensor, why)) => {
                    outcome = Err(Some(format!("{tensor} {why} [{backend}]")));
                    break;
                }
            }
        }
        match outcome {
            Ok(worst) => {
                passed += 1;
                println!(
                    "pass {} (flex, ndarray; max relative error {worst:.1e})",
                    fx.case
                );
            }
            Err(None) if gnn_models::interop::PYG_MODULES.contains(&fx.layer.as_str()) => {
                println!(
                    "FAIL {}: the library reproduces {} but no case runs it",
                    fx.case, fx.layer
                );
                failed.push(fx.case.clone());
            }
            Err(None) => {
                unimplemented += 1;
                println!("unimplemented {} ({})", fx.case, fx.layer);
            }
            Err(Some(why)) => {
                println!("FAIL {}: {why}", fx.case);
                failed.push(fx.case.clone());
            }
        }
    }
    println!(
        "{passed} passed, {} failed, {unimplemented} unimplemented",
        failed.len()
    );
    assert!(failed.is_empty(), "fixtures failed: {failed:?}");
    assert!(
        passed > 0,
        "no fixture of an implemented layer in {}",
        dir.display()
    );
}

/// Largest accepted relative error between wgpu and flex (float32 on both; GPU reductions sum
/// in another order).
#[cfg(feature = "wgpu")]
const WGPU_TOLERANCE: f64 = 1e-4;

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_agrees_with_flex() {
    let dir = fixtures_dir();
    let fixtures = Fixture::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read fixtures: {e}"));
    let wgpu = gnn_train::Backend::Wgpu.device().expect("wgpu device");
    let flex = Device::flex();
    let mut layers = std::collections::BTreeSet::new();
    for fx in &fixtures {
        let Some(on_flex) = run_case(fx, &flex) else {
            continue;
        };
        let on_flex = on_flex.unwrap_or_else(|e| panic!("{} on flex: {e}", fx.case));
        let on_wgpu = run_case(fx, &wgpu)
            .expect("the same cases on every device")
            .unwrap_or_else(|e| panic!("{} on wgpu: {e}", fx.case));
        let out_scale = on_flex.get("out").map_or(0.0, |o| magnitude(o));
        for (name, reference) in &on_flex {
            // A gradient that is zero in exact arithmetic is float32 noise on both: zero to
            // 1e-6 of the output's magnitude counts as zero.
            let err = on_wgpu.get(name).map_or(f64::INFINITY, |ours| {
                tensor_error(ours, reference, out_scale, 1e-6)
            });
            assert!(
                err <= WGPU_TOLERANCE,
                "{} {name}: wgpu vs flex relative error {err:.3e} > {WGPU_TOLERANCE:e}",
                fx.case
            );
        }
        println!("pass {} (wgpu = flex)", fx.case);
        layers.insert(fx.layer.clone());
    }
    println!(
        "wgpu agrees with flex on {} layers: {layers:?}",
        layers.len()
    );
    assert!(
        !layers.is_empty(),
        "no fixture of an implemented layer in {}",
        dir.display()
    );
}
