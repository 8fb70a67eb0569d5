//! TU text files through the loader: the input is split on NUL bytes into `_A`,
//! `_graph_indicator`, `_graph_labels`, `_node_labels`, `_edge_labels`, `_node_attributes`
//! (files past the input's parts are absent).
#![no_main]
use gnn_datasets::DataRoot;
use libfuzzer_sys::fuzz_target;

const PARTS: [&str; 6] = [
    "A",
    "graph_indicator",
    "graph_labels",
    "node_labels",
    "edge_labels",
    "node_attributes",
];

fuzz_target!(|data: &[u8]| {
    let base = std::env::temp_dir().join(format!("gnn-fuzz-tu-{}", std::process::id()));
    let dir = base.join("tu/FZ");
    std::fs::create_dir_all(&dir).unwrap();
    let parts: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    for (k, name) in PARTS.iter().enumerate() {
        let path = dir.join(format!("FZ_{name}.txt"));
        match parts.get(k) {
            Some(p) => std::fs::write(&path, p).unwrap(),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let root = DataRoot {
        dir: base,
        download: false,
        mirror: None,
    };
    let _ = gnn_datasets::tu::load("tu-fz", &root);
});
