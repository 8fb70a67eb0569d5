//! The wgpu backend agrees with ndarray: a GCN forward pass and a few training steps.
//! Built only with `--features wgpu` (CI turns it on; on a machine without a GPU it runs on
//! Mesa's software Vulkan).
#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use gnn_datasets::{EdgeList, Matrix, NodeDataset, Split};
use gnn_models::Graph;
use gnn_models::models::GcnConfig;
use gnn_train::Backend;
use gnn_train::data::NodeClassification;
use gnn_train::fit::{FitConfig, fit};

/// A small random graph (60 nodes, 3 classes) with class-correlated features.
fn toy_dataset() -> NodeDataset {
    let n = 60;
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let labels: Vec<Option<usize>> = (0..n).map(|i| Some(i % 3)).collect();
    let (mut src, mut dst) = (Vec::new(), Vec::new());
    for _ in 0..240 {
        let (a, b) = (next() % n, next() % n);
        if a != b {
            src.extend([a, b]);
            dst.extend([b, a]);
        }
    }
    let f = 8;
    let mut x = vec![0.0f32; n * f];
    for i in 0..n {
        for c in 0..f {
            x[i * f + c] = ((next() % 100) as f32) / 100.0 + if c % 3 == i % 3 { 1.0 } else { 0.0 };
        }
    }
    NodeDataset {
        name: "toy".into(),
        edges: EdgeList::new(n, src, dst).unwrap(),
        features: Matrix::new(n, f, x).unwrap(),
        labels,
        num_classes: 3,
        split: Split {
            train: (0..30).collect(),
            val: (30..45).collect(),
            test: (45..60).collect(),
        },
    }
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: wgpu {x} vs ndarray {y}"
        );
    }
}

#[test]
fn forward_and_training_steps_match_ndarray() {
    let wgpu = Backend::Wgpu.device().expect("wgpu device");
    let ndarray = Backend::Ndarray.device().unwrap();
    let ds = toy_dataset();

    // The same initial weights on both devices: built on the plain device, then each copy
    // enters its own device's autodiff with `train()`.
    let config = GcnConfig::new(8, 3).with_dropout(0.0).with_cached(false);
    ndarray.seed(1);
    let base = config.init(&ndarray);
    let base_gpu = base.clone().to_device(&wgpu);

    // Forward pass in eval mode.
    let x = Tensor::<2>::from_data(
        TensorData::new(ds.features.data().to_vec(), [60, 8]),
        &ndarray,
    );
    let g_nd = Graph::new(ds.edges.src(), ds.edges.dst(), 60, &ndarray).unwrap();
    let g_gpu = g_nd.to_device(&wgpu);
    let out_nd = values(base.valid().forward(x.clone(), &g_nd));
    let out_gpu = values(base_gpu.valid().forward(x.to_device(&wgpu), &g_gpu));
    assert_close(&out_gpu, &out_nd, 1e-4, "forward");
    let (model_nd, model_gpu) = (base.train(), base_gpu.train());

    // Five Adam steps (no dropout, so both devices follow the same path).
    let cfg = FitConfig {
        epochs: 5,
        ..FitConfig::default()
    };
    let data_nd = NodeClassification::new(&ds, &ndarray).unwrap();
    let data_gpu = NodeClassification::new(&ds, &wgpu).unwrap();
    let run_nd = fit(model_nd, &data_nd, &cfg, |_| {});
    let run_gpu = fit(model_gpu, &data_gpu, &cfg, |_| {});
    let losses = |h: &[gnn_train::fit::EpochRecord]| {
        h.iter().map(|r| r.step_loss as f32).collect::<Vec<_>>()
    };
    assert_close(
        &losses(&run_gpu.history),
        &losses(&run_nd.history),
        1e-4,
        "training loss",
    );
    assert_eq!(run_gpu.best_epoch, run_nd.best_epoch);
    let w_nd = values(run_nd.model.conv1.lin.weight.val());
    let w_gpu = values(run_gpu.model.conv1.lin.weight.val());
    assert_close(&w_gpu, &w_nd, 1e-3, "trained weights");
}
