//! Graph classification end to end: the MPNN learns TU MUTAG through the same training loop
//! as the node tasks, over shuffled mini-batches of many graphs.

use gnn_datasets::tu;
use gnn_tests::data_root;
use gnn_train::Backend;
use gnn_train::experiment::{ModelKind, NodeSpec, run_graph_task};

#[test]
fn mpnn_learns_tu_mutag() {
    let ds = tu::load("tu-mutag", &data_root()).expect("MUTAG");
    let mut spec = NodeSpec::new(ModelKind::Mpnn, Backend::Flex);
    spec.folds = 0; // one seeded 80/10/10 split
    spec.hidden = 16;
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
    assert!(run.test_acc.is_finite() && run.val_acc.is_finite());
}

#[test]
fn node_models_refuse_graph_datasets_and_back() {
    let ds = tu::load("tu-mutag", &data_root()).expect("MUTAG");
    let spec = NodeSpec::new(ModelKind::Gcn, Backend::Flex);
    let e = run_graph_task(&spec, &ds, |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("node-level model"), "{e}");
}
