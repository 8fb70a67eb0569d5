//! The message trace of GCN trained on Cora, saved and loaded, against a recomputation from the
//! saved weights on the host.

use burn::tensor::Tensor;
use gnn_datasets::planetoid;
use gnn_models::models::Gcn;
use gnn_models::registry::Registry;
use gnn_models::trace::{Step, TraceOptions};
use gnn_tests::data_root;
use gnn_train::Backend;
use gnn_train::experiment::{ExperimentSpec, node_data, run_node_classification};
use gnn_train::saved::{ModelCard, Preprocessing, SavedModel};

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

/// `x W` on the host, skipping zeros (`x` `[n, f]`, `w` `[f, o]`).
fn matmul(x: &[f32], w: &[f32], n: usize, f: usize, o: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; n * o];
    for i in 0..n {
        for k in 0..f {
            let v = x[i * f + k] as f64;
            if v != 0.0 {
                for c in 0..o {
                    out[i * o + c] += v * w[k * o + c] as f64;
                }
            }
        }
    }
    out
}

/// Checks a GCN step against `xw` (`[n, o]`, the propagated rows) and returns the aggregate
/// `Σ_{j→i} w x_j W` recomputed from the step's edges with the weights recomputed from its
/// degrees (`1/√(d̂_i d̂_j)`).
fn check_step(step: &Step, xw: &[f64], n: usize, o: usize) -> Vec<f64> {
    assert_eq!(step.op, "propagate_weighted");
    let deg: Vec<f64> = step.in_degree.iter().map(|&d| d as f64).collect();
    let weight = |k: usize| 1.0 / (deg[step.dst[k] as usize] * deg[step.src[k] as usize]).sqrt();
    let mut out = vec![0.0f64; n * o];
    for k in 0..step.len() {
        let (j, i) = (step.src[k] as usize, step.dst[k] as usize);
        for c in 0..o {
            out[i * o + c] += weight(k) * xw[j * o + c];
        }
    }
    let close = |a: f64, b: f64, what: &str, k: usize| {
        assert!(
            (a - b).abs() <= 1e-3 * b.abs().max(1e-3),
            "edge {k} {what}: {a} vs {b}"
        );
    };
    for k in 0..step.len() {
        let (j, i) = (step.src[k] as usize, step.dst[k] as usize);
        let (w, row, agg) = (weight(k), &xw[j * o..(j + 1) * o], &out[i * o..(i + 1) * o]);
        let norm = w * row.iter().map(|v| v * v).sum::<f64>().sqrt();
        let agg_sq: f64 = agg.iter().map(|v| v * v).sum();
        let dot: f64 = row.iter().zip(agg).map(|(a, b)| w * a * b).sum();
        close(step.weight.as_ref().unwrap()[k] as f64, w, "weight", k);
        close(step.norm[k] as f64, norm, "norm", k);
        close(
            step.share.as_ref().unwrap()[k] as f64,
            dot / agg_sq,
            "share",
            k,
        );
    }
    for i in 0..n {
        let agg = &out[i * o..(i + 1) * o];
        let norm = agg.iter().map(|v| v * v).sum::<f64>().sqrt();
        close(step.aggregate_norm[i] as f64, norm, "aggregate norm", i);
    }
    out
}

#[test]
fn gcn_trace_on_cora_matches_a_recomputation_from_the_saved_weights() {
    let cora = planetoid::load("cora", &data_root()).unwrap();
    let mut spec = ExperimentSpec::new(&Registry::builtin(), "gcn", "cora", Backend::Flex).unwrap();
    spec.fit.epochs = 30;
    let (_, models) = run_node_classification(&spec, &cora, |_, _| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pre = Preprocessing {
        normalize_features: spec.normalize_features,
    };
    let card = ModelCard::new(models[0].config().clone(), "cora", pre, "flex");
    let model_dir = dir.path().join("gcn-cora");
    SavedModel::save(&card, &models[0], &model_dir).unwrap();
    let device = Backend::Flex.device().unwrap();
    let saved = SavedModel::load(&model_dir, &device).unwrap();
    let options = TraceOptions::default();
    let traced =
        gnn_train::commands::trace(&saved, &cora, Backend::Flex, options, None, None).unwrap();
    let trace = traced.trace;
    assert_eq!(trace.steps.len(), 2);
    let (n, e) = (cora.num_nodes(), cora.edges.num_edges());
    assert_eq!(
        trace.steps[0].len(),
        e + n,
        "every edge and a self-loop per node"
    );
    assert!(
        trace.steps[0].edge[..e]
            .iter()
            .enumerate()
            .all(|(k, id)| *id == Some(k as u32))
    );

    // The same two propagations, from the loaded weights, on the host.
    let gcn = saved.model.downcast_ref::<Gcn>().unwrap();
    let data = node_data(&spec, &cora, &device).unwrap();
    let x = host(data.features().clone().to_dense(&device));
    let f = cora.num_features();
    let (w1, b1) = (
        host(gcn.conv1.lin.weight.val()),
        host(gcn.conv1.bias.as_ref().unwrap().val()),
    );
    let (w2, c) = (host(gcn.conv2.lin.weight.val()), cora.num_classes);
    let hidden = b1.len();
    let out1 = check_step(&trace.steps[0], &matmul(&x, &w1, n, f, hidden), n, hidden);
    let h: Vec<f32> = out1
        .iter()
        .enumerate()
        .map(|(k, v)| (v + b1[k % hidden] as f64).max(0.0) as f32)
        .collect();
    check_step(&trace.steps[1], &matmul(&h, &w2, n, hidden, c), n, c);
}
