//! Model directories: a fuzzed `model.json` beside a fixed small weights file, loaded as
//! `gnn eval` loads it (card checks, model construction from the card, strict weights).
#![no_main]
use burn::tensor::Device;
use gnn_train::saved::{CARD_FILE, SavedModel, WEIGHTS_FILE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("gnn-fuzz-card-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(CARD_FILE), data).unwrap();
    if !dir.join(WEIGHTS_FILE).exists() {
        std::fs::write(dir.join(WEIGHTS_FILE), b"not a burnpack").unwrap();
    }
    let _ = SavedModel::load(&dir, &Device::flex());
});
