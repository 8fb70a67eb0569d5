//! The QM9 CSV (targets and SMILES), through the loader, from a file in a scratch data root.
#![no_main]
use gnn_datasets::DataRoot;
use gnn_datasets::molecule::Hydrogens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = gnn_fuzz_scratch();
    std::fs::write(dir.join("qm9/qm9_small.csv"), data).unwrap();
    let root = DataRoot {
        dir: dir.clone(),
        download: false,
        mirror: None,
    };
    if let Ok(mut ds) = gnn_datasets::qm9::load("qm9", &root, Hydrogens::Implicit) {
        let _ = ds.select_target(0);
    }
});

fn gnn_fuzz_scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gnn-fuzz-qm9-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("qm9")).unwrap();
    dir
}
