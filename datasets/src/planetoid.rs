//! Planetoid citation graphs (Cora, CiteSeer, PubMed) from their raw `ind.<name>.*` files.
//!
//! The files are Python-2 pickles (see [`crate::pickle`]) plus a text `test.index`. The result
//! equals PyG's `Planetoid(split="public")`:
//! - node order: `allx`/`ally` row `i` is node `i`; `tx`/`ty` row `j` is node `test.index[j]`
//!   (the file's unsorted order);
//! - CiteSeer's test-id range has 15 ids without a `tx` row: those nodes get zero features and
//!   no label, as in PyG's padding;
//! - edges: every `key → neighbour` of the `graph` dict, self-loops removed, sorted and
//!   deduplicated;
//! - split: train = the `len(y)` first nodes, val = the next 500, test = the `test.index` ids.

use std::path::Path;

use crate::DatasetError;
use crate::download::RemoteFile;
use crate::graph::{EdgeList, Matrix, NodeDataset, Split};
use crate::pickle::{self, Csr};
use crate::root::DataRoot;
use crate::transforms::coalesce;

/// Where PyG and the Planetoid authors publish the raw files.
pub const CANONICAL_BASE: &str = "https://raw.githubusercontent.com/kimiyoung/planetoid/af6abf468a772cc055bec88c52e4d6f51b7c37e3/data";

/// The three Planetoid datasets.
pub const NAMES: [&str; 3] = ["cora", "citeseer", "pubmed"];

const SUFFIXES: [&str; 8] = ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"];

macro_rules! files {
    ($($name:literal, $size:literal, $sha:literal;)*) => {
        &[$(RemoteFile { name: $name, size: $size, sha256: $sha }),*]
    };
}

/// Known sizes and hashes of every raw file (from `shared/data/MANIFEST.md`).
pub const FILES: &[RemoteFile] = files![
    "ind.cora.x", 22119, "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab";
    "ind.cora.y", 4054, "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1";
    "ind.cora.tx", 148025, "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a";
    "ind.cora.ty", 28135, "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad";
    "ind.cora.allx", 257305, "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543";
    "ind.cora.ally", 47959, "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71";
    "ind.cora.graph", 59847, "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d";
    "ind.cora.test.index", 5000, "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875";
    "ind.citeseer.x", 31087, "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6";
    "ind.citeseer.y", 3014, "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924";
    "ind.citeseer.tx", 260321, "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21";
    "ind.citeseer.ty", 24135, "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce";
    "ind.citeseer.allx", 595021, "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668";
    "ind.citeseer.ally", 55623, "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95";
    "ind.citeseer.graph", 61987, "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7";
    "ind.citeseer.test.index", 5000, "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4";
    "ind.pubmed.x", 23172, "fbe9cb5c47200d1b7769a26e579be3b7130b556831f9d850e77c4c74f2599b33";
    "ind.pubmed.y", 854, "e6c807633307a07ed659249006536a147c7999c797f11a2560752990181b41b3";
    "ind.pubmed.tx", 405505, "4eb5f5d0f30f26497eb0ac6ac9719d09c67e284f1ed0385c93f3ef27a671da3d";
    "ind.pubmed.ty", 12135, "ee2e0d4819d9fbcc403689c3bf2e49face401b605932f093bc58ab6461130fdd";
    "ind.pubmed.allx", 7578385, "508e538e2abdccdd54c4d3e9f49d638b4af7107d85845f66ddea5a5152658b7e";
    "ind.pubmed.ally", 224739, "0c37bbe3b5014ec365e9d393cf4791925e5ed94fb194305d74f064a8d7b50f0e";
    "ind.pubmed.graph", 471808, "5b89f0036ca22909471f1e6558eb42fa06e0c730a577bde5b058b40638f81dc9";
    "ind.pubmed.test.index", 6000, "b101d421688bbaecbd82e8a18f1e282378d6830f3a37666f28ebc47f844341b5";
];

/// Size and hash of one raw file, e.g. `remote_file("cora", "x")`.
pub fn remote_file(name: &str, suffix: &str) -> Option<&'static RemoteFile> {
    let full = format!("ind.{name}.{suffix}");
    FILES.iter().find(|f| f.name == full)
}

/// Loads Planetoid dataset `name` (`cora`, `citeseer` or `pubmed`, any case) from
/// `<root>/planetoid/`, downloading missing files when the root allows it.
pub fn load(name: &str, root: &DataRoot) -> Result<NodeDataset, DatasetError> {
    let name = name.to_ascii_lowercase();
    if !NAMES.contains(&name.as_str()) {
        return Err(DatasetError::Invalid(format!(
            "unknown Planetoid dataset '{name}' (expected one of {})",
            NAMES.join(", ")
        )));
    }
    let mut paths = Vec::with_capacity(SUFFIXES.len());
    for suffix in SUFFIXES {
        let file = remote_file(&name, suffix).ok_or_else(|| {
            DatasetError::Invalid(format!("no known hash for ind.{name}.{suffix}"))
        })?;
        paths.push(root.fetch("planetoid", CANONICAL_BASE, file)?);
    }
    load_files(&name, |suffix| {
        let i = SUFFIXES
            .iter()
            .position(|s| *s == suffix)
            .expect("known suffix");
        paths[i].clone()
    })
}

/// Loads from a directory that holds the eight `ind.<name>.*` files, without downloading.
pub fn load_dir(name: &str, dir: &Path) -> Result<NodeDataset, DatasetError> {
    let name = name.to_ascii_lowercase();
    load_files(&name, |suffix| dir.join(format!("ind.{name}.{suffix}")))
}

fn read(path: &Path) -> Result<Vec<u8>, DatasetError> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DatasetError::Missing {
                path: path.to_path_buf(),
                reason: "not found".into(),
            }
        } else {
            DatasetError::io(path, e)
        }
    })
}

fn read_csr(path: &Path) -> Result<Csr, DatasetError> {
    let bytes = read(path)?;
    let value = pickle::unpickle(&bytes).map_err(|e| DatasetError::format(path, e.to_string()))?;
    pickle::csr_matrix(&value).map_err(|e| DatasetError::format(path, e.reason))
}

/// One-hot label rows → class per row (`None` for an all-zero row).
fn read_labels(path: &Path) -> Result<(Vec<Option<usize>>, usize), DatasetError> {
    let bytes = read(path)?;
    let value = pickle::unpickle(&bytes).map_err(|e| DatasetError::format(path, e.to_string()))?;
    let (rows, cols, data) =
        pickle::int_matrix(&value).map_err(|e| DatasetError::format(path, e.reason))?;
    let mut labels = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &data[r * cols..(r + 1) * cols];
        let mut hot = row.iter().enumerate().filter(|(_, v)| **v != 0);
        match (hot.next(), hot.next()) {
            (None, _) => labels.push(None),
            (Some((c, 1)), None) => labels.push(Some(c)),
            _ => {
                return Err(DatasetError::format(
                    path,
                    format!("label row {r} is not one-hot"),
                ));
            }
        }
    }
    Ok((labels, cols))
}

fn read_graph(path: &Path) -> Result<Vec<(i64, Vec<i64>)>, DatasetError> {
    let bytes = read(path)?;
    let value = pickle::unpickle(&bytes).map_err(|e| DatasetError::format(path, e.to_string()))?;
    pickle::adjacency(&value).map_err(|e| DatasetError::format(path, e.reason))
}

fn read_test_index(path: &Path) -> Result<Vec<usize>, DatasetError> {
    let bytes = read(path)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| DatasetError::format(path, "not UTF-8 text"))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.trim().parse::<usize>().map_err(|_| {
                DatasetError::format(
                    path,
                    format!("line {}: '{}' is not a node id", i + 1, l.trim()),
                )
            })
        })
        .collect()
}

fn load_files(
    name: &str,
    path_of: impl Fn(&str) -> std::path::PathBuf,
) -> Result<NodeDataset, DatasetError> {
    let allx_path = path_of("allx");
    let tx_path = path_of("tx");
    let allx = read_csr(&allx_path)?;
    let tx = read_csr(&tx_path)?;
    let x = read_csr(&path_of("x"))?;
    let (ally, num_classes) = read_labels(&path_of("ally"))?;
    let (ty, ty_classes) = read_labels(&path_of("ty"))?;
    let (y, _) = read_labels(&path_of("y"))?;
    let test_path = path_of("test.index");
    let test_index = read_test_index(&test_path)?;
    let graph_path = path_of("graph");
    let graph = read_graph(&graph_path)?;

    let mismatch = |path: &Path, what: String| Err(DatasetError::format(path, what));
    if tx.cols != allx.cols || x.cols != allx.cols {
        return mismatch(
            &tx_path,
            format!("{} feature columns, allx has {}", tx.cols, allx.cols),
        );
    }
    if ty_classes != num_classes {
        return mismatch(
            &path_of("ty"),
            format!("{ty_classes} classes, ally has {num_classes}"),
        );
    }
    if ally.len() != allx.rows || ty.len() != tx.rows || y.len() != x.rows {
        return mismatch(&allx_path, "feature and label row counts differ".into());
    }
    if test_index.len() != tx.rows {
        return mismatch(
            &test_path,
            format!("{} test ids for {} tx rows", test_index.len(), tx.rows),
        );
    }
    let (Some(&lo), Some(&hi)) = (test_index.iter().min(), test_index.iter().max()) else {
        return mismatch(&test_path, "no test ids".into());
    };
    if lo != allx.rows {
        return mismatch(
            &test_path,
            format!(
                "test ids start at {lo}, expected {} (after allx)",
                allx.rows
            ),
        );
    }
    // CiteSeer: the test-id range can be wider than tx; the gaps are padded nodes. The other
    // files bound the padding: no node beyond the adjacency's nodes and the feature rows.
    let known = graph.len().max(allx.rows + tx.rows);
    if hi >= known {
        return mismatch(
            &test_path,
            format!(
                "test id {hi} is beyond the {known} nodes of the adjacency and the feature rows"
            ),
        );
    }
    let num_nodes = hi + 1;
    let mut seen = vec![false; num_nodes];
    for &t in &test_index {
        if std::mem::replace(&mut seen[t], true) {
            return mismatch(&test_path, format!("test id {t} appears twice"));
        }
    }

    let cols = allx.cols;
    let mut features = Matrix::zeros(num_nodes, cols);
    let mut labels: Vec<Option<usize>> = vec![None; num_nodes];
    let mut put_row = |csr: &Csr, r: usize, node: usize| {
        let row = features.row_mut(node);
        for k in csr.indptr[r]..csr.indptr[r + 1] {
            row[csr.indices[k]] = csr.data[k];
        }
    };
    for r in 0..allx.rows {
        put_row(&allx, r, r);
        labels[r] = ally[r];
    }
    for (j, &node) in test_index.iter().enumerate() {
        put_row(&tx, j, node);
        labels[node] = ty[j];
    }

    let mut src = Vec::new();
    let mut dst = Vec::new();
    for (key, neighbours) in &graph {
        for &n in neighbours {
            let (Ok(k), Ok(n)) = (usize::try_from(*key), usize::try_from(n)) else {
                return mismatch(
                    &graph_path,
                    format!("negative node id in the adjacency of {key}"),
                );
            };
            if k >= num_nodes || n >= num_nodes {
                return mismatch(
                    &graph_path,
                    format!("edge {k} -> {n} is outside 0..{num_nodes}"),
                );
            }
            if k != n {
                src.push(k);
                dst.push(n);
            }
        }
    }
    let edges = coalesce(&EdgeList::new(num_nodes, src, dst)?);

    let train: Vec<usize> = (0..y.len()).collect();
    let val: Vec<usize> = (y.len()..(y.len() + 500).min(allx.rows)).collect();
    let mut test = test_index;
    test.sort_unstable();
    let dataset = NodeDataset {
        name: name.to_string(),
        edges,
        features,
        labels,
        num_classes,
        split: Split { train, val, test },
        relations: None,
    };
    dataset.validate()?;
    Ok(dataset)
}
