//! The QM9 loaders on the real files (`$GNN_DATA_DIR/qm9/`): the SMILES subset and the SDF
//! sample, their statistics, and agreement between the two sources on the molecules both hold.

use std::collections::HashMap;

use gnn_datasets::molecule::{ATOM_FEATURES, Hydrogens};
use gnn_datasets::{GraphTarget, qm9, sdf, smiles};
use gnn_tests::data_root;

#[test]
fn smiles_subset_loads_every_molecule() {
    let ds = qm9::load("qm9", &data_root(), Hydrogens::Implicit).expect("qm9_small.csv");
    // 14862 rows, 147 of them repeats of an earlier mol_id (MANIFEST §4b).
    assert_eq!(ds.len(), 14715);
    assert_eq!((ds.num_node_features, ds.num_edge_features), (11, 4));
    assert_eq!(ds.num_classes, None);
    // First row: gdb_133, CCCCC, mu = 0.0603 D.
    let first = &ds.graphs[0];
    assert_eq!(first.num_nodes, 5);
    assert_eq!(first.src.len(), 8);
    let GraphTarget::Values(v) = &first.y else {
        panic!("regression target")
    };
    assert_eq!(v.len(), 19);
    assert_eq!(v[0], 0.0603);
    // QM9 molecules have at most 9 heavy atoms, all of C, N, O, F; every heavy atom has a
    // valid hybridisation and its hydrogens.
    let mut atoms = 0usize;
    let mut hydrogens = 0f32;
    for g in &ds.graphs {
        assert!((1..=9).contains(&g.num_nodes), "{} nodes", g.num_nodes);
        for r in 0..g.num_nodes {
            let row = g.x.row(r);
            assert_eq!(
                row[1..5].iter().sum::<f32>(),
                1.0,
                "C/N/O/F one-hot: {row:?}"
            );
            assert_eq!(
                row[7..10].iter().sum::<f32>(),
                1.0,
                "hybridisation: {row:?}"
            );
            hydrogens += row[10];
            atoms += 1;
        }
        let e = g.edge_attr.as_ref().unwrap();
        assert_eq!(e.rows(), g.src.len());
    }
    // Mean over QM9: about 18 atoms per molecule, 9 of them heavy.
    let per_mol = (atoms as f32 + hydrogens) / ds.len() as f32;
    assert!(
        (17.0..19.5).contains(&per_mol),
        "{per_mol} atoms per molecule"
    );
}

#[test]
fn sdf_sample_loads_with_distances() {
    let ds = qm9::load("qm9-sdf", &data_root(), Hydrogens::Explicit).expect("qm9_mini.sdf");
    assert_eq!(ds.len(), 21);
    assert_eq!(ds.num_edge_features, 5);
    // 38 C, 93 H, 7 N, 11 O atoms (MANIFEST §4b).
    let mut counts = [0usize; 5];
    for g in &ds.graphs {
        for r in 0..g.num_nodes {
            let k = g.x.row(r)[..5].iter().position(|&v| v == 1.0).unwrap();
            counts[k] += 1;
        }
        // Bond lengths are between 0.9 and 1.6 Å.
        let e = g.edge_attr.as_ref().unwrap();
        for r in 0..e.rows() {
            assert!((0.9..1.6).contains(&e.row(r)[4]), "{:?}", e.row(r));
        }
    }
    assert_eq!(counts, [93, 38, 7, 11, 0]);
    // Methane: one carbon with four hydrogens.
    let ch4 = &ds.graphs[0];
    assert_eq!(ch4.num_nodes, 5);
    assert_eq!(ch4.x.row(0)[10], 4.0);
}

/// Node features as a sorted multiset (the two files number atoms differently).
fn sorted_rows(g: &gnn_datasets::SmallGraph) -> Vec<Vec<u32>> {
    let mut rows: Vec<Vec<u32>> = (0..g.num_nodes)
        .map(|r| g.x.row(r).iter().map(|v| *v as u32).collect())
        .collect();
    rows.sort();
    rows
}

#[test]
fn smiles_and_sdf_agree_on_shared_molecules() {
    // Loading both first puts their files in the test data root (downloaded on a fresh clone).
    qm9::load("qm9", &data_root(), Hydrogens::Implicit).expect("qm9_small.csv");
    qm9::load("qm9-sdf", &data_root(), Hydrogens::Explicit).expect("qm9_mini.sdf");
    let dir = data_root().dir.join("qm9");
    let csv = std::fs::read_to_string(dir.join("qm9_small.csv")).unwrap();
    let smiles_of: HashMap<&str, &str> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[1], c[2])
        })
        .collect();
    let path = dir.join("qm9_mini.sdf");
    let mols = sdf::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    let mut shared = 0;
    for (id, mol) in &mols {
        let Some(s) = smiles_of.get(id.as_str()) else {
            continue;
        };
        shared += 1;
        let t = GraphTarget::Values(vec![]);
        let a = smiles::parse(s)
            .unwrap()
            .to_graph(Hydrogens::Implicit, false, t.clone())
            .unwrap();
        let b = mol.to_graph(Hydrogens::Implicit, false, t).unwrap();
        assert_eq!(sorted_rows(&a), sorted_rows(&b), "{id} {s}");
        assert_eq!(a.src.len(), b.src.len(), "{id}");
        assert_eq!(a.x.cols(), ATOM_FEATURES);
    }
    // gdb_7 (CC) and gdb_14 (CCO) are in both files.
    assert_eq!(shared, 2);
}
