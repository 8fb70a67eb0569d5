//! Mapped node features (`gnn_datasets::feature_file`): the input is a whole features file —
//! header, counts and values — read as `map` reads one (the same checks, in memory).
#![no_main]
use gnn_datasets::feature_file::from_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = from_bytes(data);
});
