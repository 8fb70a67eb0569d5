//! Link query files (`gnn predict --queries`) against a small vocabulary of names and of ids.
#![no_main]
use std::path::Path;

use gnn_datasets::link_queries::{Vocabulary, parse_queries};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.tsv");
    let entities = ["a".to_string(), "b".to_string()];
    let relations = ["r".to_string()];
    let names = Vocabulary::Names {
        entities: &entities,
        relations: &relations,
    };
    let _ = parse_queries(data, path, names);
    let _ = parse_queries(data, path, Vocabulary::Ids { num_nodes: 3 });
});
