//! GCN on Cora trained by Burn's own `Learner` (burn-train: metrics, the TUI dashboard in a
//! terminal, checkpoints, early stopping), beside the project's loop with the same settings.
//!
//! `cargo run --release -p gnn-train --features learner --example burn_learner [-- RUNS]`
//! (Cora from `$GNN_DATA_DIR`, else downloaded; artifacts under `target/burn-learner/`).
//!
//! Both train the paper's model and protocol for `RUNS` seeds (default 3) on row-normalised
//! features: 16 hidden, dropout 0.5, Adam lr 0.01 with 5e-4 weight decay on the first layer,
//! 200 epochs. The Learner keeps
//! the last epoch's weights (its checkpoints are by epoch); `gnn train` keeps the best
//! validation epoch's, so the Learner's column is the last epoch of the same runs.

use std::error::Error;

use burn::optim::lr_scheduler::constant::ConstantLr;
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{Learner, MetricEarlyStoppingStrategy, StoppingCondition, SupervisedTraining};
use gnn_datasets::{DataRoot, planetoid};
use gnn_models::models::GcnConfig;
use gnn_train::data::SplitKind;
use gnn_train::experiment::{prepare, train_one};
use gnn_train::fit::{FitConfig, evaluate, optimizer};
use gnn_train::learner::{Classifier, node_loaders};
use gnn_train::{Backend, stats};

fn main() -> Result<(), Box<dyn Error>> {
    let runs: u64 = std::env::args().nth(1).map_or(Ok(3), |a| a.parse())?;
    let cora = planetoid::load("cora", &DataRoot::resolve(None))?;
    let device = Backend::Flex.device()?;
    // Features row-normalised, as `gnn train` prepares a node dataset.
    let data = prepare(&cora, true, &device)?;
    let (train, valid) = node_loaders(&data)?;
    let config = GcnConfig::new(cora.num_features(), cora.num_classes);
    let fit = FitConfig::default();
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/burn-learner");

    let (mut learner_acc, mut last_acc, mut best_acc) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..runs {
        // Burn's Learner: the model wrapped for its train / validation steps, our optimiser
        // (the same Adam and weight-decay group), a constant learning rate.
        let train_device = device.clone().autodiff();
        train_device.seed(seed);
        let model = Classifier {
            model: config.init(&train_device),
        };
        let learner = Learner::new(
            model.clone(),
            optimizer(&model.model, &fit),
            ConstantLr::new(fit.lr),
        );
        let result = SupervisedTraining::new(
            artifacts.join(format!("seed-{seed}")),
            train.clone(),
            valid.clone(),
        )
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .with_default_checkpointers()
        .early_stopping(MetricEarlyStoppingStrategy::new(
            &LossMetric::new(),
            Aggregate::Mean,
            Direction::Lowest,
            Split::Valid,
            StoppingCondition::NoImprovementSince { n_epochs: 100 },
        ))
        .num_epochs(fit.epochs)
        .summary()
        .launch(learner);
        let scores = evaluate(&result.model.model, &data)?;
        learner_acc.push(scores[&SplitKind::Test].metric);

        // The project's loop on the same seed and settings.
        let ours = train_one(&device, seed, &data, &fit, |d| config.init(d), |_| {})?;
        let last = ours.history.last().expect("200 epochs");
        last_acc.push(last.scores[&SplitKind::Test].metric);
        best_acc.push(ours.metric(SplitKind::Test));
        println!(
            "seed {seed}: Learner {:.1} %, gnn loop last epoch {:.1} %, best-validation epoch {:.1} %",
            100.0 * learner_acc[seed as usize],
            100.0 * last_acc[seed as usize],
            100.0 * best_acc[seed as usize]
        );
    }
    let pct = |v: &[f64]| 100.0 * stats::mean(v);
    println!(
        "test accuracy over {runs} seeds: Learner {:.2} %, gnn loop last epoch {:.2} %, gnn train (best validation) {:.2} %",
        pct(&learner_acc),
        pct(&last_acc),
        pct(&best_acc)
    );
    Ok(())
}
