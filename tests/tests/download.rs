//! The download path against a loopback HTTP server serving the shared files: a good download,
//! a corrupted body, a 404, an oversized body. A failed download leaves nothing behind.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use gnn_datasets::{DataRoot, DatasetError, planetoid, qm9, tu};
use gnn_tests::data_root;

/// Serves `files` (URL path → body) on 127.0.0.1 until the test process ends; other paths get
/// 404. Returns the base URL.
fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let files = files.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                // Skip the headers.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let response = match files.get(&path) {
                    Some(body) => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(body);
                        r
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response);
            });
        }
    });
    format!("http://{addr}/data")
}

/// The data root's files `family/name` as the mirror serves them (`/data/<family>/<name>`).
fn mirrored(family: &str, names: &[&str]) -> HashMap<String, Vec<u8>> {
    let src = data_root().dir.join(family);
    names
        .iter()
        .map(|name| {
            let body = std::fs::read(src.join(name))
                .unwrap_or_else(|e| panic!("data file {family}/{name}: {e}"));
            (format!("/data/{family}/{name}"), body)
        })
        .collect()
}

fn cora_files() -> HashMap<String, Vec<u8>> {
    // Loading once puts the files in the test data root (downloading them on a fresh clone).
    planetoid::load("cora", &data_root()).expect("Cora in the test data root");
    let names: Vec<String> = ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"]
        .iter()
        .map(|s| format!("ind.cora.{s}"))
        .collect();
    mirrored(
        "planetoid",
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn downloads_verifies_and_loads() {
    let base = serve(cora_files());
    let root = tempfile::tempdir().unwrap();
    let d = planetoid::load("cora", &DataRoot::new(root.path()).with_mirror(base))
        .expect("download and load");
    assert_eq!(d.num_nodes(), 2708);
    let got = entries(&root.path().join("planetoid"));
    assert_eq!(
        got.len(),
        8,
        "exactly the eight files, no temp files: {got:?}"
    );
    // A second load uses the files on disk: the server is not needed.
    let again = planetoid::load("cora", &DataRoot::new(root.path()).with_download(false)).unwrap();
    assert_eq!(again.edges.num_edges(), d.edges.num_edges());
}

#[test]
fn corrupted_body_is_rejected_and_nothing_is_left() {
    let mut files = cora_files();
    let tx = files.get_mut("/data/planetoid/ind.cora.tx").unwrap();
    tx[1000] ^= 0xff;
    let base = serve(files);
    let root = tempfile::tempdir().unwrap();
    let err = planetoid::load("cora", &DataRoot::new(root.path()).with_mirror(base)).unwrap_err();
    assert!(matches!(err, DatasetError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("ind.cora.tx"), "{err}");
    let left = entries(&root.path().join("planetoid"));
    assert!(
        !left.iter().any(|f| f.contains("tx") || f.starts_with('.')),
        "left behind: {left:?}"
    );
}

#[test]
fn not_found_names_the_missing_file() {
    let mut files = cora_files();
    files.remove("/data/planetoid/ind.cora.graph");
    let base = serve(files);
    let root = tempfile::tempdir().unwrap();
    let err = planetoid::load("cora", &DataRoot::new(root.path()).with_mirror(base)).unwrap_err();
    assert!(matches!(err, DatasetError::Missing { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("ind.cora.graph") && text.contains("404"),
        "{text}"
    );
    let left = entries(&root.path().join("planetoid"));
    assert!(
        !left
            .iter()
            .any(|f| f.contains("graph") || f.starts_with('.')),
        "left behind: {left:?}"
    );
}

#[test]
fn oversized_body_is_rejected() {
    let mut files = cora_files();
    files
        .get_mut("/data/planetoid/ind.cora.y")
        .unwrap()
        .extend_from_slice(&[0u8; 4096]);
    let base = serve(files);
    let root = tempfile::tempdir().unwrap();
    let err = planetoid::load("cora", &DataRoot::new(root.path()).with_mirror(base)).unwrap_err();
    assert!(err.to_string().contains("ind.cora.y"), "{err}");
    assert!(!root.path().join("planetoid/ind.cora.y").exists());
}

#[test]
fn offline_root_names_the_missing_file() {
    let root = tempfile::tempdir().unwrap();
    let err =
        planetoid::load("cora", &DataRoot::new(root.path()).with_download(false)).unwrap_err();
    assert!(matches!(err, DatasetError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("ind.cora.x"), "{err}");
}

#[test]
fn tu_and_qm9_download_through_a_mirror_of_the_data_root_layout() {
    tu::load("tu-mutag", &data_root()).expect("MUTAG in the test data root");
    let hydrogens = gnn_datasets::molecule::Hydrogens::Explicit;
    qm9::load("qm9-sdf", &data_root(), hydrogens).expect("QM9 mini in the test data root");
    let mut files = mirrored("tu", &["MUTAG.zip"]);
    files.extend(mirrored("qm9", &["qm9_mini.sdf", "qm9_mini.sdf.csv"]));
    let base = serve(files);
    let root = tempfile::tempdir().unwrap();
    let fresh = DataRoot::new(root.path()).with_mirror(base);
    let mutag = tu::load("tu-mutag", &fresh).expect("MUTAG from the mirror");
    assert_eq!(mutag.graphs.len(), 188);
    assert!(root.path().join("tu/MUTAG/MUTAG_A.txt").is_file());
    let mols = qm9::load("qm9-sdf", &fresh, hydrogens).expect("QM9 mini from the mirror");
    assert_eq!(mols.graphs.len(), 21);
    assert_eq!(
        entries(&root.path().join("qm9")),
        ["qm9_mini.sdf", "qm9_mini.sdf.csv"]
    );
}
