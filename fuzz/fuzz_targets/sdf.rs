//! SD files: parse every record, then featurise with distances.
#![no_main]
use std::path::Path;

use gnn_datasets::GraphTarget;
use gnn_datasets::molecule::Hydrogens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mols) = gnn_datasets::sdf::parse(text, Path::new("fuzz.sdf")) {
        for (_, m) in mols {
            for h in [Hydrogens::Implicit, Hydrogens::Explicit] {
                let _ = m.to_graph(h, true, GraphTarget::Values(vec![]));
            }
        }
    }
});
