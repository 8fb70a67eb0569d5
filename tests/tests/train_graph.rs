//! Graph classification end to end: the MPNN learns TU MUTAG through the same training loop
//! as the node tasks, over shuffled mini-batches of many graphs.

use gnn_datasets::tu;
use gnn_models::registry::Registry;
use gnn_tests::data_root;
use gnn_train::Backend;
use gnn_train::experiment::{ExperimentSpec, run_graph_task};

fn spec(model: &str, dataset: &str) -> ExperimentSpec {
    ExperimentSpec::new(&Registry::builtin(), model, dataset, Backend::Flex).unwrap()
}

#[test]
fn mpnn_learns_tu_mutag() {
    let ds = tu::load("tu-mutag", &data_root()).expect("MUTAG");
    let mut spec = spec("mpnn", "tu-mutag");
    spec.folds = 0; // one seeded 80/10/10 split
    spec.set(&Registry::builtin(), &[("hidden", "16")]).unwrap();
    spec.batch_size = 16;
    spec.fit.epochs = 30;
    spec.fit.lr = 0.005;
    let (report, models) = run_graph_task(&spec, &ds, |_, _| {}).unwrap();
    assert_eq!(models.len(), 1);
    let run = &report.runs[0];
    let first = run.history.first().unwrap().step_loss;
    let last = run.history.last().unwrap().step_loss;
    assert!(last < 0.8 * first, "training loss {first} -> {last}");
    // The majority class is 66.5 % of MUTAG: the model must do better on what it trains on.
    let train = run.split_metrics["train"];
    assert!(train > 0.75, "train accuracy {train}");
    assert!(run.test_metric.is_finite() && run.val_metric.is_finite());
}

#[test]
fn node_models_refuse_graph_datasets_and_back() {
    let ds = tu::load("tu-mutag", &data_root()).expect("MUTAG");
    let spec = spec("gcn", "tu-mutag");
    let e = run_graph_task(&spec, &ds, |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("node-level model"), "{e}");
}

#[test]
fn mpnn_regresses_qm9_in_target_units() {
    use gnn_datasets::molecule::Hydrogens;
    use gnn_datasets::{GraphTarget, qm9};
    let mut ds = qm9::load("qm9-sdf", &data_root(), Hydrogens::Explicit).expect("qm9_mini.sdf");
    ds.select_target(0).unwrap();
    let mut spec = spec("mpnn", "qm9-sdf");
    spec.folds = 0;
    spec.set(&Registry::builtin(), &[("hidden", "16")]).unwrap();
    spec.batch_size = 4;
    spec.fit.epochs = 60;
    spec.fit.lr = 0.005;
    let (report, _) = run_graph_task(&spec, &ds, |_, _| {}).unwrap();
    assert_eq!(report.metric, "mae");
    let run = &report.runs[0];
    // The training loss (normalised targets) falls, and the training MAE, reported in Debye,
    // ends below that of predicting the training mean.
    let first = run.history.first().unwrap().step_loss;
    let last = run.history.last().unwrap().step_loss;
    assert!(last < 0.7 * first, "training loss {first} -> {last}");
    let split = gnn_datasets::graph_set::random_split(ds.len(), 0.8, 0.1, 0);
    let mu: Vec<f32> = split
        .train
        .iter()
        .map(|&i| match &ds.graphs[i].y {
            GraphTarget::Values(v) => v[0],
            GraphTarget::Class(_) => unreachable!(),
        })
        .collect();
    let mean = mu.iter().sum::<f32>() / mu.len() as f32;
    let baseline = mu.iter().map(|v| (v - mean).abs()).sum::<f32>() / mu.len() as f32;
    let train = run.split_metrics["train"];
    assert!(
        train < 0.8 * f64::from(baseline),
        "train MAE {train} D vs {baseline} D predicting the mean"
    );
}

/// The kept epoch's model is that epoch's: batch norm's running statistics are part of it and
/// do not follow the later epochs (a clone would share them with the model still training).
#[test]
fn the_kept_epoch_keeps_its_batch_norm_statistics() {
    use gnn_train::experiment::seeded_split;
    use gnn_train::graph_data::GraphBatches;

    let ds = tu::load("tu-mutag", &data_root()).expect("MUTAG");
    let mut spec = spec("gin", "tu-mutag");
    spec.folds = 0;
    // A setting whose best validation epoch (seed 0) comes before the last one.
    let small = [("hidden", "8"), ("layers", "2"), ("head_layers", "2")];
    spec.set(&Registry::builtin(), &small).unwrap();
    spec.fit.epochs = 12;
    spec.fit.lr_decay = None;
    let (report, models) = run_graph_task(&spec, &ds, |_, _| {}).unwrap();
    let run = &report.runs[0];
    assert!(
        run.best_epoch < run.epochs,
        "the kept epoch ({}) must precede the last ({}) for this test to say anything",
        run.best_epoch,
        run.epochs
    );
    let split = seeded_split(ds.len(), spec.seed).0;
    let device = spec.backend.device().unwrap();
    let data = GraphBatches::new(&ds, split, spec.batch_size, spec.seed, true, &device).unwrap();
    for (split, score) in models[0].evaluate(&data).unwrap() {
        let saved = run.split_metrics[split.name()];
        assert_eq!(score.metric, saved, "{} accuracy", split.name());
    }
}
