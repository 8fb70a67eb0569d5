//! Sampled runs end to end through `gnn train`, each in its own process: a run killed
//! mid-epoch and resumed ends with the weights of the uninterrupted run, bitwise; features
//! mapped from a file train to the weights of features in memory; directories and files that
//! do not fit the command are refused with one line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use gnn_train::saved::SavedModel;

/// Sampled GraphSAGE on a generated block model, one thread: every source of randomness
/// (dropout, shuffles, neighbour draws) is in play, and an epoch lasts long enough to be
/// interrupted.
const TRAIN: &[&str] = &[
    "--threads",
    "1",
    "train",
    "--model",
    "sage",
    "--dataset",
    "sbm-20000-10-32",
    "--sampler",
    "neighbor",
    "--fanout",
    "10,5",
    "--batch-size",
    "256",
    "--eval-every",
    "2",
    "--quiet",
];

fn gnn(extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gnn"));
    c.args(TRAIN)
        .args(extra)
        .current_dir(std::env::temp_dir())
        .env_remove("GNN_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn run(extra: &[&str]) -> (bool, String) {
    let out = gnn(extra).output().expect("run gnn");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A saved model's weights by PyG name, and its kept epoch and metrics.
type Trained = (Vec<(String, Vec<f32>)>, (Option<usize>, Vec<(String, f64)>));

fn trained(dir: &Path) -> Trained {
    let saved = SavedModel::load(dir, &Device::flex()).unwrap();
    let weights = saved
        .model
        .export_pyg()
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.values))
        .collect();
    let card = saved.card;
    (
        weights,
        (card.best_epoch, card.metrics.into_iter().collect()),
    )
}

#[test]
fn a_run_killed_mid_epoch_resumes_to_the_uninterrupted_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (plain, whole, resumed) = (t.join("plain"), t.join("whole"), t.join("resumed"));
    let (whole_ckpt, killed_ckpt) = (t.join("ckpt-whole"), t.join("ckpt-killed"));

    // Uninterrupted, without and with checkpoints: checkpointing changes nothing.
    let six = ["--epochs", "6"];
    let (ok, err) = run(&[&six[..], &["--save", path(&plain)]].concat());
    assert!(ok, "{err}");
    let (ok, err) = run(&[
        &six[..],
        &[
            "--save",
            path(&whole),
            "--checkpoint-dir",
            path(&whole_ckpt),
            "--checkpoint-every",
            "2",
        ],
    ]
    .concat());
    assert!(ok, "{err}");
    // Only the last checkpoint is kept.
    let kept: Vec<String> = std::fs::read_dir(whole_ckpt.join("run-0"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(kept, ["epoch-6"]);

    // Killed once the first checkpoint (epoch 2) is in place, i.e. during epoch 3.
    let killed = [
        "--checkpoint-dir",
        path(&killed_ckpt),
        "--checkpoint-every",
        "2",
    ];
    let mut child = gnn(&[&six[..], &killed].concat()).spawn().unwrap();
    let first = killed_ckpt.join("run-0").join("epoch-2");
    let start = Instant::now();
    while !first.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(start.elapsed() < Duration::from_secs(600), "no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run ended before it was killed");
    assert!(!killed_ckpt.join("run-0").join("epoch-6").exists());

    let json = t.join("resumed.json");
    let resume = [
        "--save",
        path(&resumed),
        "--resume",
        path(&killed_ckpt),
        "--json",
        path(&json),
    ];
    let (ok, err) = run(&[&six[..], &resume].concat());
    assert!(ok, "{err}");
    // It did resume (a run from scratch would end the same).
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["runs"][0]["resumed_after"], 2, "{report}");

    let (a, b, c) = (trained(&plain), trained(&whole), trained(&resumed));
    assert_eq!(a.0, b.0, "checkpointing changed the weights");
    assert_eq!(b.0, c.0, "the resumed run ended with other weights");
    assert_eq!(b.1, c.1, "the resumed run kept another epoch or scores");
    assert_eq!(a.1, b.1);
}

#[test]
fn checkpoint_directories_that_do_not_fit_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    let short = ["--epochs", "1", "--checkpoint-dir", path(&dir)];
    let first_line = |err: &str| {
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        err.to_string()
    };
    // Nothing to resume.
    let (ok, err) = run(&["--epochs", "1", "--resume", path(&dir)]);
    assert!(
        !ok && first_line(&err).contains("no checkpoints to resume"),
        "{err}"
    );
    let (ok, err) = run(&["--epochs", "1", "--checkpoint-every", "2"]);
    assert!(
        !ok && first_line(&err).contains("--checkpoint-every needs"),
        "{err}"
    );
    let (ok, err) = run(&[
        "--epochs",
        "1",
        "--checkpoint-every",
        "0",
        "--checkpoint-dir",
        path(&dir),
    ]);
    assert!(!ok && first_line(&err).contains("at least 1"), "{err}");
    // Written once; a second fresh start there is refused, a resume with other settings too.
    let (ok, err) = run(&short);
    assert!(ok, "{err}");
    let (ok, err) = run(&short);
    assert!(!ok && first_line(&err).contains("--resume"), "{err}");
    let (ok, err) = run(&["--epochs", "2", "--resume", path(&dir)]);
    assert!(!ok, "{err}");
    assert!(
        first_line(&err).contains("experiment.fit.epochs: 1 then, 2 now"),
        "{err}"
    );
    // The same command resumes a finished run: nothing left to train, same result.
    let (ok, err) = run(&["--epochs", "1", "--resume", path(&dir)]);
    assert!(ok, "{err}");
}

#[test]
fn features_mapped_from_a_file_train_as_features_in_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let file = t.join("features.f32");
    let three = ["--epochs", "3"];
    let save = |dir: &Path, extra: &[&str]| {
        let (ok, err) = run(&[&three[..], &["--save", path(dir)], extra].concat());
        assert!(ok, "{err}");
        trained(dir)
    };
    let memory = save(&t.join("memory"), &[]);
    let written = save(&t.join("written"), &["--features-file", path(&file)]);
    // 20,000 rows of 32 features after a 32-byte header.
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        32 + 20_000 * 32 * 4
    );
    let mapped = save(&t.join("mapped"), &["--features-file", path(&file)]);
    assert_eq!(memory, written);
    assert_eq!(memory, mapped);

    // Another dataset's file, and a file without a sampler, are refused.
    let other = [
        "--dataset",
        "sbm-20000-10-16",
        "--features-file",
        path(&file),
    ];
    let mut c = Command::new(env!("CARGO_BIN_EXE_gnn"));
    let out = c
        .args([
            "train",
            "--model",
            "sage",
            "--sampler",
            "neighbor",
            "--epochs",
            "1",
        ])
        .args(other)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("holds other features"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gnn"))
        .args([
            "train",
            "--model",
            "gcn",
            "--dataset",
            "sbm-2000-10-16",
            "--epochs",
            "1",
        ])
        .args(["--features-file", path(&file)])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("needs --sampler"),
        "{err}"
    );
}
