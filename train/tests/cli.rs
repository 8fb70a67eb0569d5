//! The `gnn` program end to end: a short training run with every output, and bad invocations
//! that must give one line on stderr and a non-zero exit, never a panic.

mod common;

use std::process::Command;

use common::data_dir;

/// Runs `gnn` outside the repository, so that a relative output path of a case that should
/// fail never lands in the checkout if it succeeds.
fn gnn(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gnn"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("GNN_DATA_DIR")
        .output()
        .expect("run gnn");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn train_writes_json_and_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("gcn.json");
    let svg = tmp.path().join("curves.svg");
    let root = data_dir();
    let (code, stdout, stderr) = gnn(&[
        "train",
        "--model",
        "gcn",
        "--dataset",
        "cora",
        "--epochs",
        "30",
        "--runs",
        "2",
        "--root",
        root.to_str().unwrap(),
        "--offline",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        stdout.contains("gcn on cora (flex): test accuracy"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for key in [
        "model",
        "dataset",
        "backend",
        "runs",
        "test_metric_mean",
        "test_metric_std",
    ] {
        assert!(report.get(key).is_some(), "json lacks {key}");
    }
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["seed"], 1);
    for key in [
        "seed",
        "test_metric",
        "val_metric",
        "epochs",
        "epoch_ms_median",
    ] {
        assert!(runs[0].get(key).is_some(), "run lacks {key}");
    }
    let acc = report["test_metric_mean"].as_f64().unwrap();
    assert!(
        (0.5..=1.0).contains(&acc),
        "accuracy {acc} is not a fraction from a trained model"
    );
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg_text.starts_with("<svg") && svg_text.contains("polyline"),
        "not an SVG chart"
    );
}

#[test]
fn gat_dumps_its_attention() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("attention.csv");
    let root = data_dir();
    let (code, stdout, stderr) = gnn(&[
        "train",
        "--model",
        "gat",
        "--dataset",
        "cora",
        "--epochs",
        "5",
        "--root",
        root.to_str().unwrap(),
        "--offline",
        "--dump-attention",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        stdout.contains("the 5 nodes with the most concentrated attention"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("source,target,head,layer,coefficient"));
    // Layer 1: (10556 edges + 2708 self-loops) x 8 heads; layer 2: the same edges x 1 head.
    assert_eq!(lines.count(), 13264 * 8 + 13264);
}

#[test]
fn bad_invocations_give_one_line_and_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().to_str().unwrap().to_string();
    let root = data_dir();
    let root = root.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--model", "gnc", "--dataset", "cora"],
            "unknown model",
        ),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--backend",
                "tpu",
            ],
            "unknown backend",
        ),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "imdb",
                "--root",
                root,
            ],
            "unknown dataset",
        ),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--dropout",
                "1.5",
                "--root",
                root,
            ],
            "--dropout",
        ),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--lr",
                "-1",
                "--root",
                root,
            ],
            "--lr",
        ),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--epochs",
                "0",
                "--root",
                root,
            ],
            "--epochs",
        ),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--runs",
                "x",
            ],
            "invalid value",
        ),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--root",
                &empty,
                "--offline",
            ],
            "ind.cora.x",
        ),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--root",
                root,
                "--json",
                "/no/such/dir/x.json",
            ],
            "does not exist",
        ),
        (vec!["train", "--dataset", "cora"], "--model"),
        (
            vec![
                "train",
                "--model",
                "gcn",
                "--dataset",
                "cora",
                "--root",
                root,
                "--dump-attention",
                "a.csv",
            ],
            "attention model",
        ),
        (
            vec![
                "train",
                "--model",
                "gat",
                "--dataset",
                "cora",
                "--heads",
                "0",
                "--root",
                root,
            ],
            "--heads",
        ),
        (
            vec![
                "train",
                "--model",
                "gat",
                "--dataset",
                "cora",
                "--select-by",
                "vibes",
            ],
            "unknown selection",
        ),
        (vec!["fly"], "unrecognized subcommand"),
    ];
    for (args, expect) in cases {
        let (code, _, stderr) = gnn(&args);
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
}

/// Graph-level and file commands: the same contract (non-zero exit, one line, no panic, the
/// cause named). Each case is a whitespace-separated command line; `ROOT` is the data root.
#[test]
fn bad_graph_and_file_invocations_give_one_line_and_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let root = data_dir();
    let root = root.to_str().unwrap();
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, b"\x00\x01 not a model").unwrap();
    let junk = junk.to_str().unwrap();
    let missing = tmp.path().join("none");
    let missing = missing.to_str().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "train --model mpnn --dataset cora --root ROOT",
            "mpnn is a graph-level model; cora is a node-level dataset",
        ),
        (
            "train --model gcn --dataset tu-mutag --root ROOT",
            "gcn is a node-level model",
        ),
        (
            "train --model gcn --dataset nations --root ROOT",
            "nations is a link-prediction dataset (models for it: gae, vgae, rgcn-distmult)",
        ),
        (
            "train --model gae --dataset tu-mutag --root ROOT",
            "gae is a link-prediction model",
        ),
        (
            "train --model gae --dataset cora --negatives 0 --root ROOT",
            "at least 1 per link, or 'all'",
        ),
        (
            "train --model rgcn-distmult --dataset nations --negatives all --batch-size 0 --root ROOT",
            "--batch-size must be at least 1",
        ),
        (
            "train --model rgcn-distmult --dataset nations --eval-every 0 --root ROOT",
            "--eval-every must be at least 1",
        ),
        (
            "train --model rgcn-distmult --dataset nations --clip-grad-norm 0 --root ROOT",
            "--clip-grad-norm must be a positive number, got 0",
        ),
        (
            "train --model gae --dataset cora --sample-links 10 --graph-share 0 --root ROOT",
            "graph share in (0, 1]",
        ),
        (
            "train --model rgcn-distmult --dataset cora --root ROOT",
            "learns an embedding per entity; cora has node features",
        ),
        (
            "train --model sage --dataset er-200-4 --fanout 5,5",
            "--fanout, --replace and --eval-fanout need --sampler neighbor",
        ),
        (
            "train --model sage --dataset er-200-4 --sampler neighbor --fanout 5,x",
            "fan-out \"5,x\"",
        ),
        (
            "train --model gae --dataset er-200-4 --sampler neighbor",
            "--sampler neighbor trains node classification",
        ),
        (
            "train --model sage --dataset aifb --sampler neighbor --root ROOT",
            "--sampler neighbor needs node features; aifb has none",
        ),
        (
            "train --model sage --dataset er-200-4 --threads 0",
            "--threads 0: must be at least 1",
        ),
        (
            "train --model sage --dataset ogbn-arxiv --root ROOT --offline",
            "arxiv.zip: file is missing",
        ),
        (
            "train --model mpnn --dataset tu-nosuch --root ROOT --offline",
            "NOSUCH_A.txt",
        ),
        (
            "train --model mpnn --dataset tu-mutag --folds 2 --root ROOT",
            "k-fold",
        ),
        (
            "train --model mpnn --dataset tu-mutag --folds 500 --root ROOT",
            "k-fold",
        ),
        (
            "train --model mpnn --dataset tu-mutag --batch-size 0 --root ROOT",
            "--batch-size",
        ),
        (
            "train --model mpnn --dataset qm9 --target 19 --root ROOT",
            "target 19",
        ),
        (
            "train --model mpnn --dataset qm9 --folds 10 --root ROOT",
            "regression",
        ),
        (
            "train --model mpnn --dataset qm9 --aggr median --root ROOT",
            "invalid value",
        ),
        (
            "train --model mpnn --dataset qm9-sdf --readout max --root ROOT",
            "invalid value",
        ),
        (
            "export-data --dataset cora --folds 10 --out x.safetensors --root ROOT",
            "own split",
        ),
        (
            "export-data --dataset tu-mutag --folds 10 --fold 10 --out x.safetensors --root ROOT",
            "--fold 10 of 10",
        ),
        (
            "export-data --dataset qm9 --out /no/such/dir/q.st --root ROOT",
            "does not exist",
        ),
        (
            "export-data --dataset qm9 --target 40 --out q.st --root ROOT",
            "target 40",
        ),
        ("eval --model MISSING", "model.json"),
        ("eval --model JUNK", "JUNK"),
        ("predict --model MISSING --out p.csv", "model.json"),
        ("export --model MISSING --out w.safetensors", "model.json"),
        ("export --model MISSING --format onnx --out w.onnx", "onnx"),
        (
            "import --from-pyg JUNK --model gcn --dataset cora --out OUT",
            "JUNK",
        ),
        (
            "import --from-pyg MISSING --model gcn --dataset cora --out OUT",
            "MISSING",
        ),
        (
            "import --from-pyg JUNK --model gnc --dataset cora --out OUT",
            "invalid value",
        ),
    ];
    let out = tmp.path().join("out");
    for (line, expect) in cases {
        let args: Vec<String> = line
            .split_whitespace()
            .map(|a| {
                a.replace("ROOT", root)
                    .replace("MISSING", missing)
                    .replace("JUNK", junk)
                    .replace("OUT", out.to_str().unwrap())
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = gnn(&args);
        let expect = expect.replace("MISSING", missing).replace("JUNK", junk);
        assert_ne!(code, 0, "{line}: succeeded");
        assert!(!stderr.contains("panicked"), "{line}: panicked: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{line}: not one line: {stderr}"
        );
        assert!(
            stderr.contains(&expect),
            "{line}: expected '{expect}' in: {stderr}"
        );
    }
}
