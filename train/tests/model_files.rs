//! Model directories end to end through the `gnn` program: train → save → eval reproduces the
//! saved metrics; export → import reproduces the predictions; bad model files give one clear
//! line and a non-zero exit.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::data_dir;
use gnn_models::interop::{HostTensor, decode_safetensors, encode_safetensors};

fn gnn(args: &[&str]) -> (i32, String, String) {
    let root = data_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_gnn"))
        .args(args)
        .env("GNN_DATA_DIR", &root)
        .output()
        .expect("run gnn");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (code, stdout, stderr) = gnn(args);
    assert_eq!(code, 0, "{args:?} failed: {stderr}");
    stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Trains `model` on `dataset` briefly with `--save dir`; returns the model card.
fn train_and_save(model: &str, dataset: &str, extra: &[&str], dir: &Path) -> serde_json::Value {
    let mut args = vec![
        "train",
        "--model",
        model,
        "--dataset",
        dataset,
        "--offline",
        "--quiet",
        "--save",
    ];
    args.push(s(dir));
    args.extend_from_slice(extra);
    ok(&args);
    serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap()
}

/// Exports the model in `dir` under PyG names and imports it back into `tmp/back`.
fn export_and_import(tmp: &Path, dir: &Path, model: &str, dataset: &str) -> std::path::PathBuf {
    let st = tmp.join("w.safetensors");
    ok(&["export", "--model", s(dir), "--out", s(&st)]);
    let back = tmp.join("back");
    ok(&[
        "import",
        "--from-pyg",
        s(&st),
        "--model",
        model,
        "--dataset",
        dataset,
        "--out",
        s(&back),
    ]);
    back
}

/// Trains briefly with `--save`, then checks eval, predict, export and import.
fn round_trip(model: &str, dataset: &str, extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(model);
    let card = train_and_save(model, dataset, extra, &dir);
    assert_eq!(card["model"]["kind"], model);
    assert_eq!(card["source"], "trained");
    for key in [
        "dataset",
        "training",
        "seed",
        "metrics",
        "backend",
        "burn_version",
        "created",
    ] {
        assert!(card.get(key).is_some(), "card lacks {key}");
    }
    let test = card["metrics"]["test"].as_f64().expect("saved test metric");

    // Rebuilt from the card alone: the same metric on every split.
    let eval = ok(&["eval", "--model", s(&dir), "--offline"]);
    let metric = if dataset.starts_with("qm9") {
        "mae"
    } else {
        "acc"
    };
    assert!(
        eval.contains(&format!("test {metric} {test:.4} (as saved)")),
        "{model}: {eval}"
    );
    assert!(
        !eval.contains("saved 0"),
        "{model}: a split differs: {eval}"
    );
    // The same numbers as JSON, with the fields of `gnn train --json`.
    let eval_json = tmp.path().join("eval.json");
    ok(&[
        "eval",
        "--model",
        s(&dir),
        "--offline",
        "--json",
        s(&eval_json),
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&eval_json).unwrap()).unwrap();
    assert_eq!(report["model"], model);
    assert_eq!(report["backend"], "flex");
    assert_eq!(
        report["metric"],
        if metric == "mae" { "mae" } else { "accuracy" }
    );
    assert_eq!(report["test_metric"].as_f64(), Some(test), "{model}");
    assert_eq!(report["split_metrics"]["test"].as_f64(), Some(test));
    assert_eq!(report["saved_metrics"], card["metrics"]);

    // Export under PyG names, import back: identical predictions.
    let back = export_and_import(tmp.path(), &dir, model, dataset);
    let p1 = tmp.path().join("p1.csv");
    let p2 = tmp.path().join("p2.csv");
    ok(&["predict", "--model", s(&dir), "--out", s(&p1), "--offline"]);
    ok(&["predict", "--model", s(&back), "--out", s(&p2), "--offline"]);
    // The split column of an imported graph model is the default split (it has no training
    // settings); predictions and probabilities must be identical.
    let without_split = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| {
                let mut f: Vec<&str> = l.split(',').collect();
                f.remove(1);
                f.join(",")
            })
            .collect()
    };
    let a = std::fs::read_to_string(&p1).unwrap();
    let b = std::fs::read_to_string(&p2).unwrap();
    // The predictions as JSON: one object per CSV row, the same values.
    let pj = tmp.path().join("p.json");
    let quiet = ok(&["predict", "--model", s(&dir), "--json", s(&pj), "--offline"]);
    assert!(quiet.is_empty(), "--json alone prints no CSV: {quiet}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&pj).unwrap()).unwrap();
    let rows = json["predictions"].as_array().unwrap();
    let csv_rows: Vec<&str> = a.lines().skip(1).collect();
    assert_eq!(rows.len(), csv_rows.len(), "{model}");
    for (row, line) in rows.iter().zip(&csv_rows).step_by(97) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(row["id"].to_string(), f[0]);
        assert_eq!(row["split"].as_str().unwrap_or(""), f[1]);
        let pred = &row["prediction"];
        let shown = match pred.as_array() {
            Some(v) => v.iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>(),
            None => vec![pred.as_f64().unwrap()],
        };
        let csv: Vec<f64> = f[3].split(';').map(|x| x.parse().unwrap()).collect();
        for (j, c) in shown.iter().zip(&csv) {
            assert!(
                (j - c).abs() <= 1e-6 * c.abs().max(1.0),
                "{model}: {j} vs {c}"
            );
        }
    }
    assert_eq!(
        json["level"],
        if a.starts_with("node,") {
            "node"
        } else {
            "graph"
        }
    );
    assert_eq!(without_split(&a), without_split(&b), "{model}");
    if a.starts_with("node,") {
        assert_eq!(a, b, "{model}");
    }
    assert!(
        a.starts_with("node,split,label,prediction,p_0,")
            || a.starts_with("graph,split,label,prediction,p_0,")
            || (metric == "mae" && a.starts_with("graph,split,target,prediction\n")),
        "{a}"
    );
}

#[test]
fn gcn_round_trips() {
    round_trip("gcn", "cora", &["--epochs", "20"]);
}

#[test]
fn gat_round_trips() {
    round_trip("gat", "cora", &["--epochs", "5"]);
}

#[test]
fn gatv2_round_trips() {
    round_trip("gatv2", "cora", &["--epochs", "5", "--hidden", "4"]);
}

#[test]
fn rgcn_round_trips() {
    round_trip("rgcn", "aifb", &["--epochs", "3"]);
}

#[test]
fn mpnn_round_trips() {
    round_trip(
        "mpnn",
        "tu-mutag",
        &["--epochs", "2", "--hidden", "8", "--folds", "0"],
    );
}

/// The jumping-knowledge readout is read back off `lin1`'s width when imported.
#[test]
fn mpnn_jk_sum_round_trips() {
    round_trip(
        "mpnn",
        "tu-mutag",
        &[
            "--epochs",
            "2",
            "--hidden",
            "8",
            "--folds",
            "0",
            "--aggr",
            "sum",
            "--readout",
            "jk-sum",
            "--dropout",
            "0.5",
        ],
    );
}

#[test]
fn sage_round_trips() {
    round_trip("sage", "cora", &["--epochs", "3", "--hidden", "8"]);
}

#[test]
fn gin_round_trips_as_a_node_and_a_graph_model() {
    round_trip("gin", "cora", &["--epochs", "3", "--hidden", "8"]);
    round_trip(
        "gin",
        "tu-mutag",
        &["--epochs", "2", "--hidden", "8", "--folds", "0"],
    );
    // The input features read out too, before a linear head.
    let input = ["--readout-input", "true", "--head-layers", "1"];
    let args = [
        &["--epochs", "2", "--hidden", "8", "--folds", "0"][..],
        &input,
    ]
    .concat();
    round_trip("gin", "tu-mutag", &args);
}

#[test]
fn transformer_round_trips() {
    round_trip("transformer", "cora", &["--epochs", "3", "--hidden", "4"]);
}

#[test]
fn cheb_round_trips() {
    round_trip("cheb", "cora", &["--epochs", "3", "--hidden", "8"]);
}

#[test]
fn sgc_round_trips() {
    round_trip("sgc", "cora", &["--epochs", "3"]);
}

#[test]
fn appnp_round_trips() {
    round_trip("appnp", "cora", &["--epochs", "3", "--hidden", "8"]);
}

/// PROTEINS' continuous node attribute is standardised with the training graphs' statistics;
/// a saved model is evaluated with the same ones.
#[test]
fn standardised_attributes_are_reproduced_by_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gin");
    ok(&[
        "train",
        "--model",
        "gin",
        "--dataset",
        "tu-proteins",
        "--epochs",
        "2",
        "--hidden",
        "8",
        "--layers",
        "2",
        "--folds",
        "0",
        "--offline",
        "--quiet",
        "--save",
        s(&dir),
    ]);
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
    assert_eq!(card["preprocessing"]["normalize_features"], true);
    let test = card["metrics"]["test"].as_f64().unwrap();
    let eval = ok(&["eval", "--model", s(&dir), "--offline"]);
    assert!(
        eval.contains(&format!("test acc {test:.4} (as saved)")),
        "{eval}"
    );
    assert!(!eval.contains("saved 0"), "a split differs: {eval}");
}

#[test]
fn mpnn_regression_round_trips() {
    round_trip("mpnn", "qm9-sdf", &["--epochs", "2", "--hidden", "8"]);
}

/// Every bad model file or flag: non-zero exit, one line on stderr naming the cause.
#[test]
fn bad_model_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |name: &str| tmp.path().join(name);
    let dir = t("gcn");
    ok(&[
        "train",
        "--model",
        "gcn",
        "--dataset",
        "cora",
        "--epochs",
        "2",
        "--offline",
        "--quiet",
        "--save",
        s(&dir),
    ]);
    let st = t("gcn.safetensors");
    ok(&["export", "--model", s(&dir), "--out", s(&st)]);
    let (dict, meta) = decode_safetensors(&std::fs::read(&st).unwrap(), &st).unwrap();
    // With the architecture in the metadata (as `gnn export` writes), or without it (as
    // PyG's `save_file` does: the architecture is then read off the shapes).
    let write_st = |name: &str, edit: &dyn Fn(&mut gnn_models::interop::StateDict)| {
        let mut d = dict.clone();
        edit(&mut d);
        let path = t(name);
        std::fs::write(&path, encode_safetensors(&d, meta.clone()).unwrap()).unwrap();
        let bare = t(&format!("bare-{name}"));
        std::fs::write(&bare, encode_safetensors(&d, HashMap::new()).unwrap()).unwrap();
        path
    };
    let missing = write_st("missing.safetensors", &|d| {
        d.remove("conv2.bias");
    });
    let extra = write_st("extra.safetensors", &|d| {
        d.insert(
            "conv3.lin.weight".into(),
            HostTensor {
                shape: vec![2, 2],
                values: vec![0.0; 4],
            },
        );
    });
    let shape = write_st("shape.safetensors", &|d| {
        let w = d.get_mut("conv2.lin.weight").unwrap();
        w.shape = vec![w.shape[1], w.shape[0]];
    });
    let nan = write_st("nan.safetensors", &|d| {
        d.get_mut("conv1.bias").unwrap().values[3] = f32::NAN;
    });
    assert!(!meta.is_empty());
    let truncated = t("truncated.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    // A model directory with cut weights, and one whose card names another architecture.
    let cut = t("cut");
    std::fs::create_dir(&cut).unwrap();
    std::fs::copy(dir.join("model.json"), cut.join("model.json")).unwrap();
    let w = std::fs::read(dir.join("model.bpk")).unwrap();
    std::fs::write(cut.join("model.bpk"), &w[..w.len() * 2 / 3]).unwrap();
    let wrong = t("wrong");
    std::fs::create_dir(&wrong).unwrap();
    std::fs::copy(dir.join("model.bpk"), wrong.join("model.bpk")).unwrap();
    let card = std::fs::read_to_string(dir.join("model.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&card).unwrap();
    v["model"]["d_hidden"] = 32.into();
    std::fs::write(wrong.join("model.json"), v.to_string()).unwrap();
    let garbage = t("garbage");
    std::fs::create_dir(&garbage).unwrap();
    std::fs::write(garbage.join("model.json"), "{\"format\": 1").unwrap();
    let notdir = t("plain");
    std::fs::create_dir(&notdir).unwrap();
    std::fs::write(notdir.join("keep.txt"), "user data").unwrap();

    let import = |file: &Path, model: &'static str| -> Vec<String> {
        [
            "import",
            "--from-pyg",
            s(file),
            "--model",
            model,
            "--dataset",
            "cora",
            "--out",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([s(&t("imported")).to_string()])
        .collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (import(&missing, "gcn"), "missing conv2.bias [7]"),
        (import(&extra, "gcn"), "unexpected conv3.lin.weight [2, 2]"),
        (
            import(&shape, "gcn"),
            "conv2.lin.weight is [16, 7], expected [7, 16]",
        ),
        (import(&nan, "gcn"), "'conv1.bias' holds 1 NaN"),
        (import(&truncated, "gcn"), "not a valid safetensors file"),
        (import(&st, "gat"), "holds a gcn model, not a gat"),
        (
            import(&t("bare-missing.safetensors"), "gat"),
            "not a gat state dict",
        ),
        (
            import(&t("bare-shape.safetensors"), "gcn"),
            "conv2.lin.weight is [16, 7], expected [16, 16]",
        ),
        (import(&t("none.safetensors"), "gcn"), "none.safetensors"),
        (
            ["eval", "--model", s(&cut), "--offline"]
                .map(String::from)
                .to_vec(),
            "burnpack",
        ),
        (
            ["eval", "--model", s(&wrong), "--offline"]
                .map(String::from)
                .to_vec(),
            "conv1.lin.weight",
        ),
        (
            ["eval", "--model", s(&garbage)].map(String::from).to_vec(),
            "not a valid model card",
        ),
        (
            ["eval", "--model", s(&t("nowhere"))]
                .map(String::from)
                .to_vec(),
            "model.json",
        ),
        (
            [
                "eval",
                "--model",
                s(&dir),
                "--dataset",
                "citeseer",
                "--offline",
            ]
            .map(String::from)
            .to_vec(),
            "takes 1433 input features",
        ),
        (
            [
                "export",
                "--model",
                s(&dir),
                "--format",
                "onnx",
                "--out",
                "x.onnx",
            ]
            .map(String::from)
            .to_vec(),
            "unknown export format",
        ),
        (
            [
                "export",
                "--model",
                s(&dir),
                "--out",
                "/no/such/dir/w.safetensors",
            ]
            .map(String::from)
            .to_vec(),
            "does not exist",
        ),
        (
            [
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--epochs",
                "1",
                "--offline",
                "--save",
                s(&notdir),
            ]
            .map(String::from)
            .to_vec(),
            "not a model directory",
        ),
    ];
    for (args, expect) in cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = gnn(&refs);
        assert_ne!(code, 0, "{args:?} succeeded");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: not one line: {stderr}"
        );
        assert!(
            stderr.contains(expect),
            "{args:?}: expected '{expect}' in: {stderr}"
        );
    }
    assert!(!t("imported").exists(), "a failed import left a directory");
    assert_eq!(
        std::fs::read_to_string(notdir.join("keep.txt")).unwrap(),
        "user data"
    );
}

/// A link model through save → eval → export → import → predict: eval rebuilds the run's
/// edge split from the card (and an imported model, which has no seed, uses seed 0, the seed
/// trained with), so every metric is reproduced; the top-k tails of the queries are identical.
fn link_round_trip(model: &str, dataset: &str, queries: &str, extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(model);
    let card = train_and_save(model, dataset, extra, &dir);
    let metrics = card["metrics"].as_object().unwrap();
    let (metric, more) = if dataset == "cora" {
        ("auc", "ap")
    } else {
        ("mrr", "hits10")
    };
    let test = metrics["test"].as_f64().unwrap();
    let extra_metric = metrics[&format!("test_{more}")].as_f64().unwrap();
    let eval = ok(&["eval", "--model", s(&dir), "--offline"]);
    for want in [
        format!("test {metric} {test:.4} (as saved)"),
        format!("test {more} {extra_metric:.4} (as saved)"),
    ] {
        assert!(eval.contains(&want), "{model}: {eval} lacks {want}");
    }
    assert!(
        !eval.contains("saved 0"),
        "{model}: a split differs: {eval}"
    );

    let back = export_and_import(tmp.path(), &dir, model, dataset);
    let eval_back = ok(&["eval", "--model", s(&back), "--offline"]);
    assert!(
        eval_back.contains(&format!("test {metric} {test:.4}")),
        "{model}: {eval_back}"
    );

    let q = tmp.path().join("queries.tsv");
    std::fs::write(&q, queries).unwrap();
    let predict = |from: &Path, out: &Path| {
        ok(&[
            "predict",
            "--model",
            s(from),
            "--queries",
            s(&q),
            "--top-k",
            "3",
            "--out",
            s(out),
            "--offline",
        ]);
        std::fs::read_to_string(out).unwrap()
    };
    let a = predict(&dir, &tmp.path().join("a.csv"));
    let b = predict(&back, &tmp.path().join("b.csv"));
    assert_eq!(a, b, "{model}");
    let lines: Vec<&str> = a.lines().collect();
    assert_eq!(lines[0], "head,relation,rank,tail,score,known");
    assert_eq!(lines.len(), 1 + 3 * queries.lines().count(), "{a}");
    let scores: Vec<f64> = lines[1..4]
        .iter()
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    assert!(scores[0] >= scores[1] && scores[1] >= scores[2], "{a}");
    // Bad queries: one line naming the file and the line.
    std::fs::write(&q, "no such entity\tnor relation\n").unwrap();
    let (code, _, err) = gnn(&[
        "predict",
        "--model",
        s(&dir),
        "--queries",
        s(&q),
        "--offline",
    ]);
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("queries.tsv: line 1:"), "{err}");
}

#[test]
fn gae_round_trips() {
    link_round_trip("gae", "cora", "0\n1700\n", &["--epochs", "20"]);
}

#[test]
fn vgae_round_trips() {
    link_round_trip("vgae", "cora", "5\n", &["--epochs", "20"]);
}

#[test]
fn rgcn_distmult_round_trips() {
    link_round_trip(
        "rgcn-distmult",
        "nations",
        "usa\tembassy\nchina\ttreaties\n",
        &[
            "--epochs",
            "4",
            "--eval-every",
            "2",
            "--hidden",
            "16",
            "--blocks",
            "4",
        ],
    );
}
