//! The R-GCN entities loader on the real AIFB and MUTAG files: statistics equal PyG's
//! `Entities` (and the R-GCN paper).

use gnn_datasets::{DatasetError, entities};
use gnn_tests::data_root;

#[test]
fn aifb_matches_pyg_statistics() {
    let d = entities::load("aifb", &data_root()).expect("AIFB loads");
    assert_eq!(d.num_nodes(), 8285);
    assert_eq!(d.edges.num_edges(), 58086);
    let r = d.relations.as_ref().unwrap();
    assert_eq!(r.len(), 90);
    assert_eq!(d.num_classes, 4);
    assert_eq!(
        (d.split.train.len(), d.split.test.len(), d.split.val.len()),
        (140, 36, 0)
    );
    let mut counts = d.class_counts();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(counts, vec![73, 60, 28, 15]);
    assert_eq!(d.num_features(), 0, "featureless");
    // Every edge has its inverse, with the paired relation id.
    let mut fwd: Vec<(usize, usize, usize)> = d
        .edges
        .iter()
        .zip(&r.edge_type)
        .map(|((s, t), &k)| (s, t, k))
        .collect();
    let mut rev: Vec<(usize, usize, usize)> = fwd.iter().map(|&(s, t, k)| (t, s, k ^ 1)).collect();
    fwd.sort_unstable();
    rev.sort_unstable();
    assert_eq!(fwd, rev);
    // Train and test are disjoint.
    assert!(d.split.train.iter().all(|i| !d.split.test.contains(i)));
}

#[test]
fn mutag_matches_pyg_statistics() {
    let d = entities::load("MUTAG", &data_root()).expect("MUTAG loads");
    assert_eq!(d.num_nodes(), 23644);
    assert_eq!(d.edges.num_edges(), 148454);
    assert_eq!(d.relations.as_ref().unwrap().len(), 46);
    assert_eq!(d.num_classes, 2);
    assert_eq!((d.split.train.len(), d.split.test.len()), (272, 68));
    assert_eq!(d.class_counts(), vec![211, 129]);
}

#[test]
fn bgs_without_files_names_the_missing_file() {
    let root =
        gnn_datasets::DataRoot::new(tempfile::tempdir().unwrap().path()).with_download(false);
    let err = entities::load("bgs", &root).unwrap_err();
    assert!(matches!(err, DatasetError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("bgs_stripped.nt.gz"), "{err}");
}
