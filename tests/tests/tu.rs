//! The TU loader on the real MUTAG and PROTEINS files (`$GNN_DATA_DIR/tu/`): statistics equal
//! the MANIFEST's and PyG's `TUDataset`.

use gnn_datasets::{GraphTarget, tu};
use gnn_tests::data_root;

#[test]
fn mutag_matches_pyg() {
    let ds = tu::load("tu-mutag", &data_root()).expect("MUTAG under $GNN_DATA_DIR/tu/MUTAG");
    assert_eq!(ds.len(), 188);
    assert_eq!(ds.num_classes, Some(2));
    // 7 node labels one-hot, 4 edge labels one-hot (PyG: x [3371, 7], edge_attr [7442, 4]).
    assert_eq!((ds.num_node_features, ds.num_edge_features), (7, 4));
    let nodes: usize = ds.graphs.iter().map(|g| g.num_nodes).sum();
    let edges: usize = ds.graphs.iter().map(|g| g.src.len()).sum();
    assert_eq!((nodes, edges), (3371, 7442));
    // Labels 1 (125 graphs) and -1 (63) map to classes 1 and 0.
    let ones = ds
        .graphs
        .iter()
        .filter(|g| g.y == GraphTarget::Class(1))
        .count();
    assert_eq!(ones, 125);
    // Every node has exactly one label, every edge one edge label.
    for g in &ds.graphs {
        for row in g.x.data().chunks(7) {
            assert_eq!(row.iter().sum::<f32>(), 1.0);
        }
        let e = g.edge_attr.as_ref().unwrap();
        assert_eq!(e.rows(), g.src.len());
        assert!(
            g.src
                .iter()
                .chain(&g.dst)
                .all(|&v| (v as usize) < g.num_nodes)
        );
    }
    let edge_label_counts: Vec<usize> = (0..4)
        .map(|k| {
            ds.graphs
                .iter()
                .flat_map(|g| g.edge_attr.as_ref().unwrap().data().chunks(4))
                .filter(|row| row[k] == 1.0)
                .count()
        })
        .collect();
    assert_eq!(edge_label_counts, [4708, 2008, 724, 2]);
}

#[test]
fn proteins_matches_pyg() {
    let ds = tu::load("tu-proteins", &data_root()).expect("PROTEINS under $GNN_DATA_DIR/tu");
    assert_eq!(ds.len(), 1113);
    // 1 attribute + 3 one-hot node labels (PyG with use_node_attr=True), no edge features.
    assert_eq!((ds.num_node_features, ds.num_edge_features), (4, 0));
    let nodes: usize = ds.graphs.iter().map(|g| g.num_nodes).sum();
    let edges: usize = ds.graphs.iter().map(|g| g.src.len()).sum();
    assert_eq!((nodes, edges), (43471, 162088));
    let twos = ds
        .graphs
        .iter()
        .filter(|g| g.y == GraphTarget::Class(1))
        .count();
    assert_eq!(twos, 450);
}

/// The TU Dortmund archive itself (`tu/MUTAG.zip`, as downloaded from the TU server) gives the
/// same dataset as the unpacked folder: unpacked on first use into the data root.
#[test]
fn mutag_zip_unpacks_to_the_same_dataset() {
    let from_dir = tu::load("tu-mutag", &data_root()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("tu")).unwrap();
    std::fs::copy(
        data_root().dir.join("tu/MUTAG.zip"),
        tmp.path().join("tu/MUTAG.zip"),
    )
    .expect("MUTAG.zip in the test data root");
    let root = gnn_datasets::DataRoot {
        download: false,
        ..gnn_datasets::DataRoot::new(tmp.path())
    };
    let from_zip = tu::load("tu-mutag", &root).unwrap();
    assert_eq!(from_zip.graphs, from_dir.graphs);
    assert!(tmp.path().join("tu/MUTAG/MUTAG_A.txt").is_file());
}
