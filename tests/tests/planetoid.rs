//! The Planetoid loader on the real files: statistics equal PyG's `Planetoid(split="public")`.

use std::path::PathBuf;

use gnn_datasets::{DatasetError, NodeDataset, pickle, planetoid};
use gnn_tests::data_root;

/// Share of edges (both ends labelled) that join nodes of the same class. The reference values
/// were computed independently with Python's `pickle` + numpy on the same files, with the
/// `test.index` file order; the sorted order would give ~0.45, so this checks the node order.
fn homophily(d: &NodeDataset) -> f64 {
    let (mut same, mut both) = (0usize, 0usize);
    for (s, t) in d.edges.iter() {
        if let (Some(a), Some(b)) = (d.labels[s], d.labels[t]) {
            both += 1;
            same += (a == b) as usize;
        }
    }
    same as f64 / both as f64
}

#[test]
fn cora_matches_pyg_statistics() {
    let d = planetoid::load("cora", &data_root()).expect("Cora loads");
    assert_eq!(d.num_nodes(), 2708);
    assert_eq!(d.edges.num_edges(), 10556);
    assert_eq!(d.num_features(), 1433);
    assert_eq!(d.num_classes, 7);
    assert_eq!(d.features.nnz(), 49216);
    assert_eq!(d.class_counts(), vec![351, 217, 418, 818, 426, 298, 180]);
    assert_eq!(
        (d.split.train.len(), d.split.val.len(), d.split.test.len()),
        (140, 500, 1000)
    );
    assert_eq!(d.split.train, (0..140).collect::<Vec<_>>());
    assert_eq!(d.split.val, (140..640).collect::<Vec<_>>());
    assert!(d.split.test.iter().all(|&t| (1708..2708).contains(&t)));
    assert_eq!(d.edges.num_self_loops(), 0);
    assert!(d.edges.is_undirected());
    assert!(
        (homophily(&d) - 0.80997).abs() < 1e-4,
        "homophily {}",
        homophily(&d)
    );
}

#[test]
fn citeseer_matches_pyg_statistics_with_padded_isolated_nodes() {
    let d = planetoid::load("CiteSeer", &data_root()).expect("CiteSeer loads");
    assert_eq!(d.num_nodes(), 3327);
    assert_eq!(d.edges.num_edges(), 9104);
    assert_eq!(d.num_features(), 3703);
    assert_eq!(d.num_classes, 6);
    assert_eq!(d.features.nnz(), 105165);
    assert_eq!(d.class_counts(), vec![249, 590, 668, 701, 596, 508]);
    assert_eq!(
        (d.split.train.len(), d.split.val.len(), d.split.test.len()),
        (120, 500, 1000)
    );
    // The 15 ids of the test range without a tx row: no label, all-zero features.
    let unlabelled: Vec<usize> = (0..d.num_nodes())
        .filter(|&i| d.labels[i].is_none())
        .collect();
    assert_eq!(unlabelled.len(), 15);
    assert!(
        unlabelled
            .iter()
            .all(|&i| i >= 2312 && d.features.row(i).iter().all(|&v| v == 0.0))
    );
    assert!(unlabelled.iter().all(|i| !d.split.test.contains(i)));
    assert!(d.edges.is_undirected());
    assert!(
        (homophily(&d) - 0.73765).abs() < 1e-4,
        "homophily {}",
        homophily(&d)
    );
}

/// The path of `ind.<name>.<suffix>` in the test data root (downloaded on a fresh clone).
fn raw_file(name: &str, suffix: &str) -> PathBuf {
    let file = planetoid::remote_file(name, suffix).expect("a known file");
    data_root()
        .fetch("planetoid", planetoid::CANONICAL_BASE, file)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn offline_error_names_the_missing_file() {
    // Every PubMed file but ind.pubmed.allx (which the shared copy lacks, too).
    let dir = tempfile::tempdir().unwrap();
    let planetoid_dir = dir.path().join("planetoid");
    std::fs::create_dir(&planetoid_dir).unwrap();
    for suffix in ["x", "y", "tx", "ty", "ally", "graph", "test.index"] {
        let name = format!("ind.pubmed.{suffix}");
        std::fs::copy(raw_file("pubmed", suffix), planetoid_dir.join(name)).unwrap();
    }
    let root = gnn_datasets::DataRoot::new(dir.path()).with_download(false);
    let err = planetoid::load("pubmed", &root).expect_err("allx is missing");
    assert!(matches!(err, DatasetError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("ind.pubmed.allx"), "{err}");
}

#[test]
fn unknown_name_is_an_error() {
    let err = planetoid::load("corra", &data_root()).unwrap_err();
    assert!(
        err.to_string().contains("unknown Planetoid dataset"),
        "{err}"
    );
}

/// A copy of the Cora files in a fresh directory, for corrupting one of them.
fn cora_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for suffix in ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"] {
        let name = format!("ind.cora.{suffix}");
        std::fs::copy(raw_file("cora", suffix), dir.path().join(&name)).unwrap();
    }
    dir
}

#[test]
fn corrupt_file_error_names_the_file() {
    let dir = cora_copy();
    // Truncate tx in the middle of its data.
    let tx = dir.path().join("ind.cora.tx");
    let bytes = std::fs::read(&tx).unwrap();
    std::fs::write(&tx, &bytes[..bytes.len() / 2]).unwrap();
    let err = planetoid::load_dir("cora", dir.path()).unwrap_err();
    assert!(matches!(err, DatasetError::Format { .. }), "{err}");
    assert!(err.to_string().contains("ind.cora.tx"), "{err}");
}

/// One test id changed to 999999 once padded the graph to a million nodes (5.6 GB, and a
/// silent 10.7 % run): the adjacency and the feature rows bound the padding.
#[test]
fn a_test_id_beyond_the_other_files_is_an_error_not_padding() {
    let dir = cora_copy();
    let path = dir.path().join("ind.cora.test.index");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[10] = "999999";
    std::fs::write(&path, lines.join("\n")).unwrap();
    let err = planetoid::load_dir("cora", dir.path()).unwrap_err();
    assert!(matches!(err, DatasetError::Format { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("ind.cora.test.index"), "{msg}");
    assert!(msg.contains("999999") && msg.contains("2708"), "{msg}");
}

#[test]
fn pubmed_files_that_exist_parse_with_the_same_reader() {
    // PubMed stores TF-IDF floats (and one array short enough for SHORT_BINSTRING): the reader
    // handles every file that is present; only allx is absent from the shared data.
    let read = |s: &str| pickle::unpickle(&std::fs::read(raw_file("pubmed", s)).unwrap()).unwrap();
    let x = pickle::csr_matrix(&read("x")).unwrap();
    assert_eq!((x.rows, x.cols, x.data.len()), (60, 500, 2819));
    assert!(x.data.iter().all(|v| v.is_finite() && *v > 0.0 && *v < 2.0));
    let tx = pickle::csr_matrix(&read("tx")).unwrap();
    assert_eq!((tx.rows, tx.cols, tx.data.len()), (1000, 500, 50140));
    let (rows, cols, _) = pickle::int_matrix(&read("ally")).unwrap();
    assert_eq!((rows, cols), (18717, 3));
    let graph = pickle::adjacency(&read("graph")).unwrap();
    assert_eq!(graph.len(), 19717);
    assert_eq!(graph.iter().map(|(_, n)| n.len()).sum::<usize>(), 88676);
}
