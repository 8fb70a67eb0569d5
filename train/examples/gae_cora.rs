//! Graph auto-encoders on Planetoid link prediction (Kipf & Welling 2016), written with the
//! library's pieces: the seeded edge split, per-epoch negatives, the GAE/VGAE encoder, the
//! inner-product decoder, ROC-AUC and average precision.
//!
//! `cargo run --release -p gnn-train --example gae_cora [-- RUNS [gae|vgae] [cora|citeseer]]`
//!
//! The protocol of PyG's `examples/autoencoder.py`: row-normalised features, 85 / 5 / 10 % of
//! the undirected edges for training / validation / test (one negative pair per validation and
//! test edge), 32 hidden and 16 latent features, Adam with learning rate 0.01, 400 epochs, the
//! last epoch reported; one fresh negative pair per training edge each epoch.

use std::collections::HashSet;
use std::error::Error;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor};
use gnn_datasets::link_split::{LinkSplit, Pair, random_link_split, sample_negatives};
use gnn_datasets::synthetic::SplitMix64;
use gnn_datasets::{DataRoot, planetoid, transforms::row_normalize};
use gnn_models::models::{Gae, GaeConfig, inner_product, recon_loss};
use gnn_models::{Features, Graph};
use gnn_train::link_metrics::{average_precision, roc_auc};
use gnn_train::{Backend, stats};

/// Source and target id tensors of `pairs`.
fn pair_tensors(pairs: &[Pair], device: &Device) -> (Tensor<1, Int>, Tensor<1, Int>) {
    let col = |f: fn(&Pair) -> usize| {
        let ids: Vec<i64> = pairs.iter().map(|p| f(p) as i64).collect();
        Tensor::<1, Int>::from_data(ids.as_slice(), device)
    };
    (col(|p| p.0), col(|p| p.1))
}

/// Decoder logits of `pairs` as host values.
fn scores(z: &Tensor<2>, pairs: &[Pair]) -> Vec<f32> {
    let (s, d) = pair_tensors(pairs, &z.device());
    inner_product(z.clone(), s, d)
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("f32 scores")
}

/// ROC-AUC and average precision of a trained encoder on one split's pairs.
fn evaluate(model: &Gae, x: &Features, graph: &Graph, pos: &[Pair], neg: &[Pair]) -> (f64, f64) {
    let z = model.encode(x.clone(), graph).mu;
    let (p, n) = (scores(&z, pos), scores(&z, neg));
    (roc_auc(&p, &n), average_precision(&p, &n))
}

fn run(
    split: &LinkSplit,
    x: &Features,
    config: &GaeConfig,
    seed: u64,
    device: &Device,
) -> Result<(f64, f64), Box<dyn Error>> {
    let n = split.train_graph.num_nodes();
    let graph = Graph::new(split.train_graph.src(), split.train_graph.dst(), n, device)?;
    let ad = device.clone().autodiff();
    ad.seed(seed);
    let mut model = config.init(&ad);
    // PyTorch's epsilon (Burn's default 1e-5 damps the tiny gradients of the first layer on
    // row-normalised bag-of-words features).
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let known: HashSet<Pair> = split.train_pos.iter().copied().collect();
    let mut rng = SplitMix64::new(seed);
    let (pos_src, pos_dst) = pair_tensors(&split.train_pos, &ad);
    for _epoch in 0..400 {
        let neg = sample_negatives(n, split.train_pos.len(), &known, &mut rng)?;
        let (neg_src, neg_dst) = pair_tensors(&neg, &ad);
        let enc = model.encode(x.clone().autodiff(), &graph);
        let z = model.latent(&enc);
        let loss = recon_loss(
            inner_product(z.clone(), pos_src.clone(), pos_dst.clone()),
            inner_product(z, neg_src, neg_dst),
        ) + enc.kl_loss().div_scalar(n as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.01, model, grads);
    }
    let eval = model.valid();
    Ok(evaluate(&eval, x, &graph, &split.test_pos, &split.test_neg))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: u64 = args.first().map_or(Ok(10), |a| a.parse())?;
    let variational = args.get(1).is_some_and(|m| m == "vgae");
    let name = args.get(2).map_or("cora", String::as_str);
    let mut data = planetoid::load(name, &DataRoot::resolve(None))?;
    row_normalize(&mut data.features);
    let device = Backend::Flex.device()?;
    let x = Features::auto(
        data.features.data(),
        data.num_nodes(),
        data.num_features(),
        gnn_train::data::SPARSE_MAX_DENSITY,
        &device,
    );
    let config = GaeConfig::new(data.num_features()).with_variational(variational);
    let (mut aucs, mut aps) = (Vec::new(), Vec::new());
    for seed in 0..runs {
        let split = random_link_split(&data.edges, 0.05, 0.10, seed)?;
        let (auc, ap) = run(&split, &x, &config, seed, &device)?;
        println!(
            "seed {seed}: test AUC {:.2} %, AP {:.2} %",
            100.0 * auc,
            100.0 * ap
        );
        aucs.push(auc);
        aps.push(ap);
    }
    println!(
        "{} on {name}, {runs} seeds: test AUC {:.2} ± {:.2} %, AP {:.2} ± {:.2} %",
        if variational { "VGAE" } else { "GAE" },
        100.0 * stats::mean(&aucs),
        100.0 * stats::std(&aucs),
        100.0 * stats::mean(&aps),
        100.0 * stats::std(&aps)
    );
    Ok(())
}
