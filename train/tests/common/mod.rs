//! Where the `gnn` program's tests find their data.

use std::path::PathBuf;
use std::sync::OnceLock;

use gnn_datasets::molecule::Hydrogens;
use gnn_datasets::{DataRoot, entities, planetoid, qm9, tu};

/// The data directory of these tests: `$GNN_DATA_DIR`, else `../shared/data` beside the
/// workspace when it exists (both read as they are, never downloaded into), else the library's
/// per-user data directory ([`gnn_datasets::root::default_dir`]). There, on a fresh clone,
/// the datasets these tests use (Cora, TU MUTAG, both QM9 subsets, AIFB) are first downloaded
/// through the library's verified path (canonical locations, or `$GNN_DATA_MIRROR`), so that
/// runs with `--offline` find them.
pub fn data_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let named = std::env::var_os("GNN_DATA_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
        if let Some(dir) = named.or_else(|| Some(shared).filter(|d| d.is_dir())) {
            assert!(
                dir.is_dir(),
                "test data directory {} is missing",
                dir.display()
            );
            return dir;
        }
        let root = DataRoot::resolve(None);
        eprintln!(
            "test data: no GNN_DATA_DIR and no ../shared/data; fetching into {}",
            root.dir.display()
        );
        let fetched = planetoid::load("cora", &root)
            .map(drop)
            .and_then(|()| tu::load("tu-mutag", &root).map(drop))
            .and_then(|()| qm9::load("qm9", &root, Hydrogens::Implicit).map(drop))
            .and_then(|()| qm9::load("qm9-sdf", &root, Hydrogens::Explicit).map(drop))
            .and_then(|()| entities::load("aifb", &root).map(drop));
        if let Err(e) = fetched {
            panic!("test data could not be fetched: {e}");
        }
        root.dir
    })
    .clone()
}
