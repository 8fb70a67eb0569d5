//! Native weights (burnpack): decode strictly into a small GCN.
#![no_main]
use std::path::Path;

use burn::tensor::Device;
use gnn_models::interop::decode_burnpack;
use gnn_models::models::GcnConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut model = GcnConfig::new(4, 3).with_d_hidden(2).init(&Device::flex());
    let _ = decode_burnpack(&mut model, data.to_vec(), Path::new("fuzz.bpk"));
});
