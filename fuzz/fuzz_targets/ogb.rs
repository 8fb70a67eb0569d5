//! OGB node datasets (`gnn_datasets::ogb`): the input is cut at `|` into the members of a
//! dataset in the order below, each gzip-compressed as in the archive (the last one kept raw
//! when the input starts with `!`, so the gzip layer is fuzzed too).
#![no_main]
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use gnn_datasets::ogb::{DATASETS, MemorySource, read};
use libfuzzer_sys::fuzz_target;

const MEMBERS: [&str; 8] = [
    "raw/num-node-list.csv.gz",
    "raw/num-edge-list.csv.gz",
    "raw/edge.csv.gz",
    "raw/node-feat.csv.gz",
    "raw/node-label.csv.gz",
    "split/time/train.csv.gz",
    "split/time/valid.csv.gz",
    "split/time/test.csv.gz",
];

fuzz_target!(|data: &[u8]| {
    let (raw_last, data) = match data.split_first() {
        Some((b'!', rest)) => (true, rest),
        _ => (false, data),
    };
    let parts: Vec<&[u8]> = data.split(|&b| b == b'|').collect();
    let mut source = MemorySource::default();
    for (i, (name, part)) in MEMBERS.iter().zip(&parts).enumerate() {
        let bytes = if raw_last && i + 1 == parts.len().min(MEMBERS.len()) {
            part.to_vec()
        } else {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(part).unwrap();
            enc.finish().unwrap()
        };
        source.0.insert(name.to_string(), bytes);
    }
    let _ = read(&DATASETS[0], &mut source);
});
