//! The `custom_layer` example in CI: a layer and model defined outside the library train a few
//! epochs with the library's loop, save, load back through the same registry and evaluate to
//! their saved metrics.

mod common;
#[allow(dead_code)]
#[path = "../examples/custom_layer.rs"]
mod custom_layer;

use gnn_datasets::DataRoot;
use gnn_models::interop::export_pyg;

fn data_root() -> DataRoot {
    DataRoot::new(common::data_dir()).with_download(false)
}

#[test]
fn a_layer_from_outside_trains_saves_and_loads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("custom-gin");
    let (outcome, reloaded) = custom_layer::train_save_reload(data_root(), 8, &dir).unwrap();
    let run = &outcome.report.runs[0];
    assert_eq!(outcome.report.model, "custom-gin");
    assert_eq!(run.epochs, 8);
    let first = run.history.first().unwrap().step_loss;
    let last = run.history.last().unwrap().step_loss;
    assert!(last < first, "training loss {first} -> {last}");
    // The reloaded model scores every split exactly as the run that saved it.
    assert_eq!(reloaded, run.split_metrics);

    // Its PyG names come from the layer's own mapping.
    let model = outcome.models[0]
        .downcast_ref::<custom_layer::GinNet>()
        .expect("a GinNet was trained");
    let names: Vec<String> = export_pyg(model).into_keys().collect();
    assert!(
        names.contains(&"conv.nn.0.weight".to_string()) && names.contains(&"conv.eps".to_string())
    );
}
