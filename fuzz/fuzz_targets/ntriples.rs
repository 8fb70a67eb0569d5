//! R-GCN entity graphs: the input is the (uncompressed) N-Triples graph, gzipped here and read
//! through the loader with small fixed label files naming <http://e/1> and <http://e/2>.
#![no_main]
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("gnn-fuzz-nt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(data).unwrap();
    let graph = dir.join("graph.nt.gz");
    std::fs::write(&graph, gz.finish().unwrap()).unwrap();
    let labels = "id\tperson\tlabel\n1\thttp://e/1\ta\n2\thttp://e/2\tb\n";
    let (all, train, test) = (dir.join("all.tsv"), dir.join("train.tsv"), dir.join("test.tsv"));
    std::fs::write(&all, labels).unwrap();
    std::fs::write(&train, "person\tid\tlabel\nhttp://e/1\t1\ta\n").unwrap();
    std::fs::write(&test, "person\tid\tlabel\nhttp://e/2\t2\tb\n").unwrap();
    let _ = gnn_datasets::entities::load_files(
        "fuzz",
        &graph,
        [&all, &train, &test],
        "person",
        "label",
    );
});
