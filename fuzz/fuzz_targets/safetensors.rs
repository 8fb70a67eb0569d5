//! PyG weights as safetensors: decode, then import strictly into a small GCN.
#![no_main]
use std::path::Path;

use burn::tensor::Device;
use gnn_models::interop::{decode_safetensors, import_pyg};
use gnn_models::models::GcnConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((dict, _meta)) = decode_safetensors(data, Path::new("fuzz.safetensors")) {
        let mut model = GcnConfig::new(4, 3).with_d_hidden(2).init(&Device::flex());
        let _ = import_pyg(&mut model, dict);
    }
});
