//! Planetoid's Python pickles: the bounded unpickler, then every conversion the loader uses.
#![no_main]
use gnn_datasets::pickle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = pickle::unpickle(data) {
        let _ = pickle::csr_matrix(&v);
        let _ = pickle::int_matrix(&v);
        let _ = pickle::adjacency(&v);
    }
});
