//! R-GCN entity-classification datasets (AIFB, MUTAG, BGS, AM; Ristoski et al. 2016) from their
//! real files: a gzipped N-Triples graph and tab-separated label files.
//!
//! The result equals PyG's `Entities`: every distinct subject or object term (IRI, blank node,
//! or literal — same lexical form, datatype and language) is a node; every predicate `p` is
//! relation `2k` (subject → object) and its inverse `2k + 1` (object → subject), predicates
//! numbered by decreasing frequency; duplicate triples count once; edges are sorted by
//! `(source, target, relation)`. There are no node features (R-GCN learns an embedding per
//! node). Labels come from the `trainingSet.tsv` / `testSet.tsv` files; classes are the sorted
//! distinct labels of `completeDataset.tsv` (numeric labels compared as numbers: `1.0` is `1`).

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use oxttl::NTriplesParser;

use crate::DatasetError;
use crate::download::RemoteFile;
use crate::graph::{EdgeList, Matrix, NodeDataset, Relations, Split};
use crate::root::DataRoot;

/// The four datasets.
pub const NAMES: [&str; 4] = ["aifb", "mutag", "bgs", "am"];

/// Largest decompressed graph accepted, so a gzip bomb cannot exhaust memory or time.
pub const MAX_GRAPH_BYTES: u64 = 16 << 30;

/// Largest label file accepted.
pub const MAX_LABEL_FILE_BYTES: u64 = 256 << 20;

struct Spec {
    name: &'static str,
    graph: RemoteFile,
    graph_base: Option<&'static str>,
    labels_base: Option<&'static str>,
    labels: [RemoteFile; 3],
    node_column: &'static str,
    label_column: &'static str,
}

/// The label files live in tkipf/relational-gcn (the R-GCN authors' code), `rgcn/data/<name>`.
const AIFB_LABELS: &str = "https://raw.githubusercontent.com/tkipf/relational-gcn/4bec1341dd46b72bf482f7ed26c2dca4533577f6/rgcn/data/aifb";
const MUTAG_LABELS: &str = "https://raw.githubusercontent.com/tkipf/relational-gcn/4bec1341dd46b72bf482f7ed26c2dca4533577f6/rgcn/data/mutag";

fn spec(name: &str) -> Option<Spec> {
    // A file known by name only (no verified copy to download).
    let unverified = |n: &'static str| RemoteFile {
        name: n,
        size: 0,
        sha256: "",
    };
    Some(match name {
        "aifb" => Spec {
            name: "aifb",
            graph: RemoteFile {
                name: "aifb_stripped.nt.gz",
                size: 568040,
                sha256: "ba4191235456e09d8f12a2415f24273b8d7641ffee6001ca9340f02c04d77fea",
            },
            graph_base: Some(
                "https://raw.githubusercontent.com/pbloem/gated-rgcn/44d9324f9a6821fb12dcea98f669ed0aa6ab401b/data/aifb",
            ),
            labels_base: Some(AIFB_LABELS),
            labels: [
                RemoteFile {
                    name: "completeDataset.tsv",
                    size: 28465,
                    sha256: "8c758d2dda7e720e2a75c4fd3cc876ddd9bb16226b979aae630737260ff5a8a7",
                },
                RemoteFile {
                    name: "trainingSet.tsv",
                    size: 22927,
                    sha256: "4960629668c6548215871321e4b6daaee24191f38f41ccfbc4de62016d18c5a7",
                },
                RemoteFile {
                    name: "testSet.tsv",
                    size: 5921,
                    sha256: "abe4a9e7c393164996d1fe7250d72ec1f1a7b350583f2dff5d880f60ec04b3b6",
                },
            ],
            node_column: "person",
            label_column: "label_affiliation",
        },
        "mutag" => Spec {
            name: "mutag",
            graph: RemoteFile {
                name: "mutag_stripped.nt.gz",
                size: 645053,
                sha256: "871f24a766fd377f0adf995f50aea70fd03e4997c6051b3abff3384c08e56ac7",
            },
            graph_base: Some(
                "https://raw.githubusercontent.com/alexanderdesouza/latent-GCN/9a3b70966ae041f41105315ca4fc55e13af89681/data/mutag",
            ),
            labels_base: Some(MUTAG_LABELS),
            labels: [
                RemoteFile {
                    name: "completeDataset.tsv",
                    size: 16477,
                    sha256: "d81b169a2f3d88b750dd5717062b58f2088fedda1b806e8d5f74373407933e71",
                },
                RemoteFile {
                    name: "trainingSet.tsv",
                    size: 14283,
                    sha256: "d2fe71b68bb25735465128b4aed50d9b165fa5ab92aa2e221fad3d1cd87b7297",
                },
                RemoteFile {
                    name: "testSet.tsv",
                    size: 3581,
                    sha256: "20e69309a037cbf0fb2b52be3eaa6c43888215cbc0b96e8f8bd9e2af55652a3f",
                },
            ],
            node_column: "bond",
            label_column: "label_mutagenic",
        },
        // No verifiable public copy of these files is known: they are read when present.
        "bgs" => Spec {
            name: "bgs",
            graph: unverified("bgs_stripped.nt.gz"),
            graph_base: None,
            labels_base: None,
            labels: [
                unverified("completeDataset.tsv"),
                unverified("trainingSet.tsv"),
                unverified("testSet.tsv"),
            ],
            node_column: "rock",
            label_column: "label_lithogenesis",
        },
        "am" => Spec {
            name: "am",
            graph: unverified("am_stripped.nt.gz"),
            graph_base: None,
            labels_base: None,
            labels: [
                unverified("completeDataset.tsv"),
                unverified("trainingSet.tsv"),
                unverified("testSet.tsv"),
            ],
            node_column: "proxy",
            // Sic: the AM files (and PyG) spell the column this way.
            label_column: "label_cateogory",
        },
        _ => return None,
    })
}

/// Loads entity dataset `name` from `<root>/rgcn_entities/<name>/`, downloading AIFB's and
/// MUTAG's files (sha256-checked) when they are missing and the root allows it. BGS and AM are
/// read when their files are present (their public copies cannot be verified here).
pub fn load(name: &str, root: &DataRoot) -> Result<NodeDataset, DatasetError> {
    let name = name.to_ascii_lowercase();
    let Some(spec) = spec(&name) else {
        return Err(DatasetError::Invalid(format!(
            "unknown entities dataset '{name}' (expected one of {})",
            NAMES.join(", ")
        )));
    };
    let family = format!("rgcn_entities/{name}");
    let fetch = |file: &RemoteFile, base: Option<&str>| -> Result<PathBuf, DatasetError> {
        match base {
            Some(base) => root.fetch(&family, base, file),
            None => {
                let path = root.dir.join(&family).join(file.name);
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(DatasetError::Missing {
                        path,
                        reason: format!(
                            "no verified download source for {}; get https://data.dgl.ai/dataset/{}.tgz and unpack it there",
                            spec.name, spec.name
                        ),
                    })
                }
            }
        }
    };
    let graph = fetch(&spec.graph, spec.graph_base)?;
    let labels: Vec<PathBuf> = spec
        .labels
        .iter()
        .map(|f| fetch(f, spec.labels_base))
        .collect::<Result<_, _>>()?;
    load_files(
        spec.name,
        &graph,
        [&labels[0], &labels[1], &labels[2]],
        spec.node_column,
        spec.label_column,
    )
}

/// An interned node: its N-Triples form is the key (same lexical form, datatype and language
/// means the same term).
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    fn id(&mut self, key: String, path: &Path) -> Result<u32, DatasetError> {
        let next = self.ids.len();
        if next >= u32::MAX as usize {
            return Err(DatasetError::format(path, "more than 2^32 distinct terms"));
        }
        Ok(*self.ids.entry(key).or_insert(next as u32))
    }
}

/// A parsed RDF graph: nodes by N-Triples key, relation IRIs ordered by decreasing frequency,
/// distinct triples `(s, p, o)`.
type RdfGraph = (Interner, Vec<String>, Vec<(u32, u32, u32)>);

/// Parses a gzipped N-Triples file (see [`RdfGraph`]).
fn read_graph(path: &Path) -> Result<RdfGraph, DatasetError> {
    let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let reader = GzDecoder::new(BufReader::new(file)).take(MAX_GRAPH_BYTES + 1);
    let mut nodes = Interner::default();
    let mut predicates = Interner::default();
    let mut triples = Vec::new();
    let mut counted = Counted {
        inner: reader,
        read: 0,
    };
    for triple in NTriplesParser::new().for_reader(&mut counted) {
        let t = triple.map_err(|e| DatasetError::format(path, format!("N-Triples: {e}")))?;
        let s = nodes.id(t.subject.to_string(), path)?;
        let o = nodes.id(t.object.to_string(), path)?;
        let p = predicates.id(t.predicate.as_str().to_string(), path)?;
        triples.push((s, p, o));
    }
    if counted.read > MAX_GRAPH_BYTES {
        return Err(DatasetError::format(
            path,
            format!("decompresses to more than {MAX_GRAPH_BYTES} bytes"),
        ));
    }
    triples.sort_unstable();
    triples.dedup();
    // Relations by decreasing frequency, ties by IRI.
    let mut freq = vec![0usize; predicates.ids.len()];
    for &(_, p, _) in &triples {
        freq[p as usize] += 1;
    }
    let mut by_id: Vec<(String, u32)> = predicates.ids.into_iter().collect();
    by_id.sort_by_key(|(_, id)| *id);
    let mut order: Vec<u32> = (0..by_id.len() as u32).collect();
    order.sort_by(|&a, &b| {
        freq[b as usize]
            .cmp(&freq[a as usize])
            .then_with(|| by_id[a as usize].0.cmp(&by_id[b as usize].0))
    });
    let mut rank = vec![0u32; order.len()];
    for (r, &p) in order.iter().enumerate() {
        rank[p as usize] = r as u32;
    }
    let names: Vec<String> = order.iter().map(|&p| by_id[p as usize].0.clone()).collect();
    let triples = triples
        .into_iter()
        .map(|(s, p, o)| (s, rank[p as usize], o))
        .collect();
    Ok((nodes, names, triples))
}

/// A reader that counts the bytes it passed on.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A label file: the rows' `(node IRI, label)` for the named columns.
fn read_labels(
    path: &Path,
    node_column: &str,
    label_column: &str,
) -> Result<Vec<(String, String)>, DatasetError> {
    let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let mut text = String::new();
    file.take(MAX_LABEL_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| DatasetError::format(path, format!("not UTF-8 text ({e})")))?;
    if text.len() as u64 > MAX_LABEL_FILE_BYTES {
        return Err(DatasetError::format(
            path,
            format!("larger than {MAX_LABEL_FILE_BYTES} bytes"),
        ));
    }
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| DatasetError::format(path, format!("no '{name}' column in the header")))
    };
    let (nc, lc) = (col(node_column)?, col(label_column)?);
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let (Some(node), Some(label)) = (fields.get(nc), fields.get(lc)) else {
            return Err(DatasetError::format(
                path,
                format!("line {}: too few columns", i + 2),
            ));
        };
        rows.push((node.trim().to_string(), normalize_label(label.trim())));
    }
    Ok(rows)
}

/// `1.0` and `1` are the same label (the files write numeric labels both ways).
fn normalize_label(label: &str) -> String {
    match label.parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        _ => label.to_string(),
    }
}

/// Loads from explicit files: the gzipped N-Triples graph and the complete / training / test
/// label files with the given node and label columns.
pub fn load_files(
    name: &str,
    graph_path: &Path,
    label_paths: [&Path; 3],
    node_column: &str,
    label_column: &str,
) -> Result<NodeDataset, DatasetError> {
    let (nodes, predicates, triples) = read_graph(graph_path)?;
    let n = nodes.ids.len();
    let mut edges: Vec<(usize, usize, usize)> = Vec::with_capacity(2 * triples.len());
    for &(s, p, o) in &triples {
        edges.push((s as usize, o as usize, 2 * p as usize));
        edges.push((o as usize, s as usize, 2 * p as usize + 1));
    }
    edges.sort_unstable();
    let names: Vec<String> = predicates
        .iter()
        .flat_map(|p| [p.clone(), format!("rev:{p}")])
        .collect();

    let [complete, train, test] = label_paths.map(|p| read_labels(p, node_column, label_column));
    let (complete, train, test) = (complete?, train?, test?);
    let mut classes: Vec<String> = complete.iter().map(|(_, l)| l.clone()).collect();
    classes.sort();
    classes.dedup();
    let mut labels: Vec<Option<usize>> = vec![None; n];
    let mut split = Split::default();
    for (rows, path, ids) in [
        (&train, label_paths[1], &mut split.train),
        (&test, label_paths[2], &mut split.test),
    ] {
        for (node, label) in rows {
            let Some(&id) = nodes.ids.get(&format!("<{node}>")) else {
                return Err(DatasetError::format(
                    path,
                    format!("node {node} is not in the graph"),
                ));
            };
            let Ok(class) = classes.binary_search(label) else {
                return Err(DatasetError::format(
                    path,
                    format!("label {label} is not in completeDataset.tsv"),
                ));
            };
            // A node named twice (in both splits, or twice in one) would take the last label
            // and be trained on while tested.
            if labels[id as usize].is_some() {
                return Err(DatasetError::format(
                    path,
                    format!("node {node} appears twice in the training and test sets"),
                ));
            }
            labels[id as usize] = Some(class);
            ids.push(id as usize);
        }
    }
    let (src, dst): (Vec<usize>, Vec<usize>) = edges.iter().map(|&(s, d, _)| (s, d)).unzip();
    let dataset = NodeDataset {
        name: name.to_string(),
        edges: EdgeList::new(n, src, dst)?,
        features: Matrix::zeros(n, 0),
        labels,
        num_classes: classes.len(),
        split,
        relations: Some(Relations {
            edge_type: edges.iter().map(|&(_, _, r)| r).collect(),
            names,
        }),
    };
    dataset.validate()?;
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_labels_compare_as_numbers() {
        assert_eq!(normalize_label("1.0"), "1");
        assert_eq!(normalize_label("0"), "0");
        assert_eq!(normalize_label("http://x/y"), "http://x/y");
    }

    #[test]
    fn parses_terms_inverse_relations_and_dedupes() {
        let dir = tempfile::tempdir().unwrap();
        let nt = "<http://a> <http://p> <http://b> .\n\
                  <http://a> <http://p> <http://b> .\n\
                  <http://b> <http://q> \"lit\\\"x\"^^<http://www.w3.org/2001/XMLSchema#string> .\n\
                  _:n1 <http://p> \"hi\"@en .\n";
        let gz = dir.path().join("g.nt.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        std::io::Write::write_all(&mut enc, nt.as_bytes()).unwrap();
        enc.finish().unwrap();
        let tsv = |name: &str, rows: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("person\tid\tlabel_x\r\n{rows}")).unwrap();
            p
        };
        let complete = tsv("c.tsv", "http://a\t0\t1\r\nhttp://b\t1\t0\r\n");
        let train = tsv("t.tsv", "http://a\t0.0\t1.0\n");
        let test = tsv("s.tsv", "http://b\t1.0\t0.0\n");
        let d = load_files("toy", &gz, [&complete, &train, &test], "person", "label_x").unwrap();
        // Terms: a, b, "lit\"x", _:n1, "hi"@en.
        assert_eq!(d.num_nodes(), 5);
        // 3 distinct triples, each with its inverse.
        assert_eq!(d.edges.num_edges(), 6);
        let r = d.relations.as_ref().unwrap();
        // p is the most frequent predicate: relations 0 (p) and 1 (rev p), 2 and 3 for q.
        assert_eq!(r.names[0], "http://p");
        assert_eq!(r.names[1], "rev:http://p");
        assert_eq!(
            (d.split.train.len(), d.split.test.len(), d.num_classes),
            (1, 1, 2)
        );
        assert_eq!(d.labels[d.split.train[0]], Some(1));
    }

    /// A gzipped N-Triples graph of one edge `a -p-> b` in `dir`.
    fn one_edge_graph(dir: &Path) -> PathBuf {
        let gz = dir.join("g.nt.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        std::io::Write::write_all(&mut enc, b"<http://a> <http://p> <http://b> .\n").unwrap();
        enc.finish().unwrap();
        gz
    }

    #[test]
    fn a_node_missing_from_the_graph_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let gz = one_edge_graph(dir.path());
        let p = dir.path().join("t.tsv");
        std::fs::write(&p, "person\tlabel_x\nhttp://zzz\t1\n").unwrap();
        let err = load_files("toy", &gz, [&p, &p, &p], "person", "label_x").unwrap_err();
        assert!(
            err.to_string().contains("t.tsv") && err.to_string().contains("http://zzz"),
            "{err}"
        );
    }

    #[test]
    fn a_node_in_both_splits_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let gz = one_edge_graph(dir.path());
        let tsv = |name: &str, rows: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("person\tlabel_x\n{rows}")).unwrap();
            p
        };
        let complete = tsv("c.tsv", "http://a\t0\nhttp://b\t1\n");
        let train = tsv("train.tsv", "http://a\t0\n");
        // The same node in the test set, with another label.
        let test = tsv("test.tsv", "http://a\t1\n");
        let err = load_files("toy", &gz, [&complete, &train, &test], "person", "label_x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test.tsv") && err.contains("http://a"),
            "{err}"
        );
    }
}
