//! Graph auto-encoders on Planetoid link prediction (Kipf & Welling 2016) with the library's
//! loop: the seeded edge split, per-epoch negatives, the GAE/VGAE encoder and its
//! inner-product decoder, ROC-AUC and average precision — what `gnn train --model gae|vgae`
//! runs, as a library call.
//!
//! `cargo run --release -p gnn-train --example gae_cora [-- RUNS [gae|vgae] [cora|citeseer]]`
//!
//! The protocol of PyG's `examples/autoencoder.py` ([`GaeSpec`]'s): row-normalised features,
//! 85 / 5 / 10 % of the undirected edges for training / validation / test (one negative pair
//! per validation and test edge), 32 hidden and 16 latent features, Adam with learning rate
//! 0.01, 400 epochs, the last epoch reported; one fresh negative pair per training edge each
//! epoch.

use std::error::Error;

use gnn_datasets::{DataRoot, planetoid};
use gnn_models::models::{GaeConfig, GaeSpec};
use gnn_models::registry::ModelSpec;
use gnn_train::data::SplitKind;
use gnn_train::datasets::AnyDataset;
use gnn_train::experiment::{ExperimentSpec, link_data, train_one};
use gnn_train::{Backend, stats};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: u64 = args.first().map_or(Ok(10), |a| a.parse())?;
    let spec = if args.get(1).is_some_and(|m| m == "vgae") {
        GaeSpec::VGAE
    } else {
        GaeSpec::GAE
    };
    let name = args.get(2).map_or("cora", String::as_str);
    let data = planetoid::load(name, &DataRoot::resolve(None))?;
    let config = GaeConfig::new(data.num_features()).with_variational(spec.variational);
    let dataset = AnyDataset::Node(data);
    let protocol = spec.protocol(name);
    let experiment = ExperimentSpec::bare(spec.name(), Backend::Flex);
    let device = Backend::Flex.device()?;
    let (mut aucs, mut aps) = (Vec::new(), Vec::new());
    for seed in 0..runs {
        let task = link_data(&experiment, &dataset, seed, &device)?;
        let run = train_one(
            &device,
            seed,
            &task,
            &protocol.fit,
            |d| config.init(d),
            |_| {},
        )?;
        let test = &run.best[&SplitKind::Test];
        let (auc, ap) = (test.metric, test.more["ap"]);
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
        spec.name(),
        100.0 * stats::mean(&aucs),
        100.0 * stats::std(&aucs),
        100.0 * stats::mean(&aps),
        100.0 * stats::std(&aps)
    );
    Ok(())
}
