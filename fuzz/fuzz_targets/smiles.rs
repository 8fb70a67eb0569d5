//! SMILES strings: parse, then featurise in both hydrogen modes.
#![no_main]
use gnn_datasets::GraphTarget;
use gnn_datasets::molecule::Hydrogens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = gnn_datasets::smiles::parse(text) {
        for h in [Hydrogens::Implicit, Hydrogens::Explicit] {
            let _ = m.to_graph(h, false, GraphTarget::Values(vec![]));
        }
    }
});
