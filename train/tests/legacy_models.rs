//! Model directories written before models entered through the registry (`tests/legacy/`,
//! see its README) still load, evaluate to exactly the metrics saved in their cards, predict
//! and export.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::data_dir;

fn gnn(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gnn"))
        .args(args)
        .env("GNN_DATA_DIR", data_dir())
        .output()
        .expect("run gnn");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn legacy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/legacy")
        .join(name)
}

#[test]
fn old_model_directories_evaluate_to_their_saved_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "gcn-cora",
        "gat-cora",
        "rgcn-aifb",
        "mpnn-mutag",
        "mpnn-jk-mutag",
        "mpnn-qm9",
    ] {
        let dir = legacy(name);
        let card: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
        assert!(
            card["training"].get("hidden").is_some(),
            "{name}: a card of the old format"
        );
        let dir = dir.to_str().unwrap();
        let eval = gnn(&["eval", "--model", dir, "--offline"]);
        let metrics = card["metrics"].as_object().unwrap();
        for split in metrics.keys() {
            assert!(
                eval.contains(&format!("{split} ")) && !eval.contains("(saved "),
                "{name}: {eval}"
            );
        }
        assert_eq!(
            eval.matches("(as saved)").count(),
            metrics.len(),
            "{name}: {eval}"
        );
        let csv = tmp.path().join(format!("{name}.csv"));
        gnn(&[
            "predict",
            "--model",
            dir,
            "--offline",
            "--out",
            csv.to_str().unwrap(),
        ]);
        assert!(std::fs::read_to_string(&csv).unwrap().lines().count() > 1);
        let st = tmp.path().join(format!("{name}.safetensors"));
        gnn(&["export", "--model", dir, "--out", st.to_str().unwrap()]);
        assert!(st.is_file());
    }
}
