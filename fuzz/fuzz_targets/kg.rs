//! Knowledge-graph archives through the loader: the input as a decompressed tar stream and as
//! a gzip stream (the `.tar.gz` the loader reads from disk).
#![no_main]
use std::path::Path;

use gnn_datasets::kg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.tar.gz");
    let _ = kg::parse("fuzz", data, path);
    let _ = kg::parse("fuzz", flate2::read::GzDecoder::new(data), path);
});
