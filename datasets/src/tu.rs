//! The TU Dortmund graph-classification format (`tu/<NAME>/<NAME>_*.txt`), as PyG's
//! `TUDataset` reads it.
//!
//! - `_A.txt`: one edge `a, b` per line (1-based node ids over all graphs; spaces optional)
//! - `_graph_indicator.txt`: the graph (1-based) of node `i` on line `i`
//! - `_graph_labels.txt`: the label of graph `g` on line `g` (any integers; mapped to
//!   `0..C` in sorted order, PyG's `unique(return_inverse)`)
//! - optional `_node_labels.txt` → one-hot (`label − min`), `_node_attributes.txt`
//!   (comma-separated floats) → node features `[attributes, one-hot labels]`; without either,
//!   one constant feature
//! - optional `_edge_labels.txt` → one-hot, `_edge_attributes.txt` → edge features
//!
//! Self-loops are dropped and duplicate edges merged, as PyG does. An edge between graphs, an
//! id out of range, or a line count that disagrees is an error naming the file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::graph_set::{GraphDataset, GraphTarget, SmallGraph};
use crate::{DataRoot, DatasetError, Matrix};

/// The largest TU text file read (1 GiB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The widest one-hot encoding accepted (a label range larger than this is an error).
pub const MAX_ONE_HOT: i64 = 4096;

/// Where the TU Dortmund datasets are downloaded from: `<base>/<NAME>.zip`.
pub const TU_BASE_URL: &str = "https://www.chrsmrrs.com/graphkerneldatasets";
/// Where the archives of [`KNOWN_ZIPS`] are downloaded from: a pinned commit of
/// `bknyaz/graph_nn`, which keeps the original TU Dortmund zips (the bytes whose sha256 is
/// listed; the TU server does not promise byte-stable archives).
const KNOWN_ZIPS_BASE: &str = "https://raw.githubusercontent.com/bknyaz/graph_nn/72eaa1c6bd70a90fde772ad4a21049ccd6bc97a2/data";
/// The largest archive downloaded for a TU dataset whose hash is not listed (256 MiB).
pub const MAX_ZIP_BYTES: u64 = 256 << 20;

/// Archives whose sha256 is known (checked on download): `(NAME.zip, sha256, size)`.
const KNOWN_ZIPS: [(&str, &str, u64); 2] = [
    (
        "MUTAG.zip",
        "20f52db82d6d85d5f67d2fa42c3fb705d05934be44329314ab17b05d0c012f7e",
        24422,
    ),
    (
        "PROTEINS.zip",
        "fe9d19741637486ea1fd285bf669fce0b117e10b03cdd379f6a5e6197fc830ae",
        457780,
    ),
];

/// The TU server's spelling of a dataset: as given when it has capitals (`Mutagenicity`),
/// else upper case (`mutag` → `MUTAG`).
fn server_name(name: &str) -> String {
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        name.to_string()
    } else {
        name.to_ascii_uppercase()
    }
}

/// The folder of `tu-<name>`: `<root>/tu/<NAME>/`, matched case-insensitively; when absent,
/// unpacked from `<root>/tu/<NAME>.zip`, which is first downloaded when the root allows
/// downloads: MUTAG and PROTEINS from a pinned GitHub copy, sha256-checked; the others from
/// [`TU_BASE_URL`], size-capped at [`MAX_ZIP_BYTES`].
fn folder(name: &str, root: &DataRoot) -> Result<(PathBuf, String), DatasetError> {
    let base = root.dir.join("tu");
    let find = || -> Option<(PathBuf, String)> {
        std::fs::read_dir(&base).ok()?.flatten().find_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            (n.eq_ignore_ascii_case(name) && e.path().is_dir()).then(|| (e.path(), n))
        })
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    let upper = server_name(name);
    let zip_name = format!("{upper}.zip");
    let zip = base.join(&zip_name);
    if !zip.is_file() {
        let known = KNOWN_ZIPS.iter().find(|k| k.0 == zip_name);
        let base_url = if known.is_some() {
            KNOWN_ZIPS_BASE
        } else {
            TU_BASE_URL
        };
        let url = root.url("tu", base_url, &zip_name);
        if !root.download {
            return Err(DatasetError::Missing {
                path: base.join(&upper).join(format!("{upper}_A.txt")),
                reason: format!(
                    "offline; get {url} into {} (it is unpacked on first use)",
                    base.display()
                ),
            });
        }
        let file = known.map_or(
            crate::download::RemoteFile {
                name: "",
                sha256: "",
                size: MAX_ZIP_BYTES,
            },
            |k| crate::download::RemoteFile {
                name: k.0,
                sha256: k.1,
                size: k.2,
            },
        );
        crate::download::download(&url, &zip, &file)?;
    }
    let dir = crate::archive::unpack_zip(&zip, &base, &upper)?;
    Ok((dir, upper))
}

fn read(path: &Path) -> Result<Option<String>, DatasetError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DatasetError::io(path, e)),
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return Err(DatasetError::format(
                path,
                format!("{} bytes is over the {MAX_FILE_BYTES}-byte limit", m.len()),
            ));
        }
        Ok(_) => {}
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| DatasetError::io(path, e))
}

/// Non-empty lines, trimmed (CRLF tolerated), with their 1-based line numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
}

fn ints(text: &str, path: &Path) -> Result<Vec<i64>, DatasetError> {
    lines(text)
        .map(|(n, l)| {
            l.parse::<i64>().map_err(|_| {
                DatasetError::format(path, format!("line {n}: '{l}' is not an integer"))
            })
        })
        .collect()
}

fn floats(text: &str, path: &Path) -> Result<(usize, Vec<f32>), DatasetError> {
    let mut width = None;
    let mut out = Vec::new();
    for (n, l) in lines(text) {
        let row: Vec<f32> = l
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| {
                        DatasetError::format(
                            path,
                            format!("line {n}: '{}' is not a finite number", v.trim()),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        match width {
            None => width = Some(row.len()),
            Some(w) if w != row.len() => {
                return Err(DatasetError::format(
                    path,
                    format!("line {n} has {} values, earlier lines {w}", row.len()),
                ));
            }
            _ => {}
        }
        out.extend(row);
    }
    Ok((width.unwrap_or(0), out))
}

/// One-hot rows of `labels − min`.
fn one_hot(labels: &[i64], path: &Path) -> Result<(usize, Vec<f32>), DatasetError> {
    let (Some(&lo), Some(&hi)) = (labels.iter().min(), labels.iter().max()) else {
        return Ok((0, vec![]));
    };
    if hi - lo >= MAX_ONE_HOT {
        return Err(DatasetError::format(
            path,
            format!("labels span {lo}..={hi}, more than {MAX_ONE_HOT} one-hot columns"),
        ));
    }
    let w = (hi - lo + 1) as usize;
    let mut out = vec![0.0f32; labels.len() * w];
    for (i, &l) in labels.iter().enumerate() {
        out[i * w + (l - lo) as usize] = 1.0;
    }
    Ok((w, out))
}

fn check_len(path: &Path, what: &str, got: usize, want: usize) -> Result<(), DatasetError> {
    if got == want {
        Ok(())
    } else {
        Err(DatasetError::format(
            path,
            format!("{got} lines, expected {want} (one per {what})"),
        ))
    }
}

/// Row-wise concatenation of two `[n, a]` and `[n, b]` blocks.
fn hcat(n: usize, (a, x): (usize, Vec<f32>), (b, y): (usize, Vec<f32>)) -> (usize, Vec<f32>) {
    let mut out = Vec::with_capacity(n * (a + b));
    for i in 0..n {
        out.extend_from_slice(&x[i * a..(i + 1) * a]);
        out.extend_from_slice(&y[i * b..(i + 1) * b]);
    }
    (a + b, out)
}

/// Loads `tu-<name>` (or `<name>`) from `<root>/tu/<NAME>/`.
pub fn load(name: &str, root: &DataRoot) -> Result<GraphDataset, DatasetError> {
    let short = name
        .strip_prefix("tu-")
        .or_else(|| name.strip_prefix("TU-"))
        .unwrap_or(name);
    // The name becomes a path and a URL: letters, digits, '_' and '-' only.
    if short.is_empty()
        || !short
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DatasetError::Invalid(format!(
            "'{name}': a TU dataset name has only letters, digits, '_' and '-'"
        )));
    }
    let (dir, stem) = folder(short, root)?;
    let file = |suffix: &str| dir.join(format!("{stem}_{suffix}.txt"));
    let required = |suffix: &str| -> Result<(PathBuf, String), DatasetError> {
        let p = file(suffix);
        match read(&p)? {
            Some(t) => Ok((p, t)),
            None => Err(DatasetError::Missing {
                path: p,
                reason: "a TU dataset needs _A, _graph_indicator and _graph_labels".into(),
            }),
        }
    };

    // Nodes and their graphs.
    let (gi_path, gi) = required("graph_indicator")?;
    let indicator = ints(&gi, &gi_path)?;
    let n = indicator.len();
    let (gl_path, gl) = required("graph_labels")?;
    let raw_labels = ints(&gl, &gl_path)?;
    let num_graphs = raw_labels.len();
    // Every graph has a node: the indicator's node count bounds the graph count before
    // anything is allocated per graph.
    if num_graphs > n {
        return Err(DatasetError::format(
            &gl_path,
            format!(
                "{num_graphs} graphs, but {} has only {n} nodes",
                gi_path.display()
            ),
        ));
    }
    if let Some(i) = indicator
        .iter()
        .position(|&g| g < 1 || g as u64 > num_graphs as u64)
    {
        return Err(DatasetError::format(
            &gi_path,
            format!(
                "node {}: graph {} outside 1..={num_graphs}",
                i + 1,
                indicator[i]
            ),
        ));
    }
    let graph_of: Vec<usize> = indicator.iter().map(|&g| g as usize - 1).collect();
    let mut local = vec![0u32; n];
    let mut sizes = vec![0usize; num_graphs];
    for (i, &g) in graph_of.iter().enumerate() {
        local[i] = sizes[g] as u32;
        sizes[g] += 1;
    }
    if let Some(g) = sizes.iter().position(|&s| s == 0) {
        return Err(DatasetError::format(
            &gi_path,
            format!(
                "no node of graph {} ({} lists {num_graphs} graphs)",
                g + 1,
                gl_path.display()
            ),
        ));
    }

    // Node features.
    let attrs = match read(&file("node_attributes"))? {
        Some(t) => {
            let p = file("node_attributes");
            let (w, v) = floats(&t, &p)?;
            check_len(&p, "node", v.len() / w.max(1), n)?;
            Some((w, v))
        }
        None => None,
    };
    let labels = match read(&file("node_labels"))? {
        Some(t) => {
            let p = file("node_labels");
            let l = ints(&t, &p)?;
            check_len(&p, "node", l.len(), n)?;
            Some(one_hot(&l, &p)?)
        }
        None => None,
    };
    let continuous_node_features = attrs.as_ref().map_or(0, |a| a.0);
    let (f, x) = match (attrs, labels) {
        (Some(a), Some(l)) => hcat(n, a, l),
        (Some(a), None) => a,
        (None, Some(l)) => l,
        (None, None) => (1, vec![1.0; n]),
    };

    // Edges and their features.
    let (a_path, a_text) = required("A")?;
    let mut edges = Vec::new();
    for (line, l) in lines(&a_text) {
        let mut parts = l.split(',').map(str::trim);
        let (Some(s), Some(d), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(DatasetError::format(
                &a_path,
                format!("line {line}: expected 'a, b', got '{l}'"),
            ));
        };
        let id = |v: &str| -> Result<usize, DatasetError> {
            match v.parse::<u64>() {
                Ok(k) if k >= 1 && k <= n as u64 => Ok(k as usize - 1),
                _ => Err(DatasetError::format(
                    &a_path,
                    format!("line {line}: node '{v}' outside 1..={n}"),
                )),
            }
        };
        let (s, d) = (id(s)?, id(d)?);
        if graph_of[s] != graph_of[d] {
            return Err(DatasetError::format(
                &a_path,
                format!(
                    "line {line}: edge {} -> {} joins graphs {} and {}",
                    s + 1,
                    d + 1,
                    graph_of[s] + 1,
                    graph_of[d] + 1
                ),
            ));
        }
        edges.push((s, d, line));
    }
    let e = edges.len();
    let edge_attrs = match read(&file("edge_attributes"))? {
        Some(t) => {
            let p = file("edge_attributes");
            let (w, v) = floats(&t, &p)?;
            check_len(&p, "edge of _A", v.len() / w.max(1), e)?;
            Some((w, v))
        }
        None => None,
    };
    let edge_labels = match read(&file("edge_labels"))? {
        Some(t) => {
            let p = file("edge_labels");
            let l = ints(&t, &p)?;
            check_len(&p, "edge of _A", l.len(), e)?;
            Some(one_hot(&l, &p)?)
        }
        None => None,
    };
    let edge_features = match (edge_attrs, edge_labels) {
        (Some(a), Some(l)) => Some(hcat(e, a, l)),
        (a, l) => a.or(l),
    };
    let d = edge_features.as_ref().map_or(0, |(w, _)| *w);

    // Graph labels → classes in sorted order.
    let distinct: BTreeSet<i64> = raw_labels.iter().copied().collect();
    let distinct: Vec<i64> = distinct.into_iter().collect();
    let class = |l: i64| distinct.binary_search(&l).expect("label is in the set");

    // Split into graphs: drop self-loops, merge duplicates (first features kept).
    let mut per_graph: Vec<Vec<(u32, u32, usize)>> = vec![vec![]; num_graphs];
    for (k, &(s, t, _)) in edges.iter().enumerate() {
        if s != t {
            per_graph[graph_of[s]].push((local[s], local[t], k));
        }
    }
    let mut graphs = Vec::with_capacity(num_graphs);
    let mut node_start = vec![0usize; num_graphs];
    {
        let mut seen = vec![false; num_graphs];
        for (i, &g) in graph_of.iter().enumerate() {
            if !seen[g] {
                seen[g] = true;
                node_start[g] = i;
            }
        }
    }
    // Node rows of each graph, in node order.
    let mut rows: Vec<Vec<usize>> = vec![vec![]; num_graphs];
    for (i, &g) in graph_of.iter().enumerate() {
        rows[g].push(i);
    }
    for g in 0..num_graphs {
        let mut list = std::mem::take(&mut per_graph[g]);
        list.sort_by_key(|&(s, t, k)| (s, t, k));
        list.dedup_by_key(|&mut (s, t, _)| (s, t));
        let xg: Vec<f32> = rows[g]
            .iter()
            .flat_map(|&i| x[i * f..(i + 1) * f].iter().copied())
            .collect();
        let edge_attr = edge_features.as_ref().map(|(w, v)| {
            let data: Vec<f32> = list
                .iter()
                .flat_map(|&(_, _, k)| v[k * w..(k + 1) * w].iter().copied())
                .collect();
            Matrix::new(list.len(), *w, data).expect("sizes agree by construction")
        });
        graphs.push(SmallGraph {
            num_nodes: sizes[g],
            src: list.iter().map(|e| e.0).collect(),
            dst: list.iter().map(|e| e.1).collect(),
            x: Matrix::new(sizes[g], f, xg).expect("sizes agree by construction"),
            edge_attr,
            y: GraphTarget::Class(class(raw_labels[g])),
        });
    }
    let dataset = GraphDataset {
        name: format!("tu-{}", short.to_ascii_lowercase()),
        graphs,
        num_classes: Some(distinct.len()),
        num_node_features: f,
        num_edge_features: d,
        continuous_node_features,
    };
    dataset.validate()?;
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (suffix, text) in files {
            std::fs::write(dir.join(format!("TOY_{suffix}.txt")), text).unwrap();
        }
    }

    #[test]
    fn reads_a_toy_dataset_with_every_optional_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tu/TOY");
        write(
            &dir,
            &[
                // Graph 1: nodes 1-3; graph 2: nodes 4-5. A duplicate and a self-loop.
                ("A", "1, 2\n2, 1\n2,3\n3, 2\n4, 5\n5, 4\n4, 5\n3, 3\n"),
                ("graph_indicator", "1\n1\n1\n2\n2\n"),
                ("graph_labels", "1\r\n-1\r\n"),
                ("node_labels", "0\n2\n1\n0\n0\n"),
                (
                    "node_attributes",
                    "  0.5, 1.0\n1.5, 2.0\n2.5,3.0\n3.5, 4.0\n4.5, 5.0\n",
                ),
                ("edge_labels", "1\n1\n0\n0\n1\n1\n0\n0\n"),
            ],
        );
        let ds = load("tu-toy", &DataRoot::new(tmp.path())).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.num_classes, Some(2));
        assert_eq!((ds.num_node_features, ds.num_edge_features), (5, 2));
        assert_eq!(ds.continuous_node_features, 2);
        let g = &ds.graphs[0];
        assert_eq!(g.y, GraphTarget::Class(1)); // label 1 sorts after -1
        assert_eq!(g.num_nodes, 3);
        assert_eq!(
            (g.src.clone(), g.dst.clone()),
            (vec![0, 1, 1, 2], vec![1, 0, 2, 1])
        );
        assert_eq!(&g.x.data()[5..10], &[1.5, 2.0, 0.0, 0.0, 1.0]);
        assert_eq!(
            g.edge_attr.as_ref().unwrap().data(),
            &[0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0]
        );
        let h = &ds.graphs[1];
        assert_eq!((h.src.clone(), h.dst.clone()), (vec![0, 1], vec![1, 0]));
        assert_eq!(h.y, GraphTarget::Class(0));
    }

    #[test]
    fn graph_labels_beyond_the_indicator_name_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = DataRoot::new(tmp.path());
        let dir = tmp.path().join("tu/TOY");
        let labels = "0\n".repeat(1000);
        let files = [
            ("A", "1, 2\n"),
            ("graph_indicator", "1\n1\n2\n"),
            ("graph_labels", labels.as_str()),
        ];
        write(&dir, &files);
        let e = load("tu-toy", &root).unwrap_err().to_string();
        assert!(
            e.contains("TOY_graph_labels.txt") && e.contains("1000 graphs"),
            "{e}"
        );
        // Graph 2 of 3 has no node.
        let files = [
            ("graph_indicator", "1\n1\n3\n"),
            ("graph_labels", "0\n1\n0\n"),
        ];
        write(&dir, &files);
        let e = load("tu-toy", &root).unwrap_err().to_string();
        assert!(
            e.contains("TOY_graph_indicator.txt") && e.contains("no node of graph 2"),
            "{e}"
        );
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        let root = DataRoot::new(tmp.path());
        let dir = tmp.path().join("tu/TOY");
        let base = [("graph_indicator", "1\n1\n2\n"), ("graph_labels", "0\n1\n")];
        for (a, want) in [
            ("1, 2\n2, 3\n", "line 2: edge 2 -> 3 joins graphs 1 and 2"),
            ("1, 9\n", "line 1: node '9' outside 1..=3"),
            ("1 2\n", "line 1: expected 'a, b'"),
            ("1, x\n", "node 'x'"),
        ] {
            write(&dir, &base);
            write(&dir, &[("A", a)]);
            let e = load("tu-toy", &root).unwrap_err().to_string();
            assert!(e.contains("TOY_A.txt") && e.contains(want), "{e}");
        }
        write(&dir, &[("A", "1, 2\n"), ("graph_indicator", "1\n1\n3\n")]);
        let e = load("tu-toy", &root).unwrap_err().to_string();
        assert!(e.contains("graph 3 outside 1..=2"), "{e}");
        write(
            &dir,
            &[("graph_indicator", "1\n1\n2\n"), ("node_labels", "0\n1\n")],
        );
        let e = load("tu-toy", &root).unwrap_err().to_string();
        assert!(
            e.contains("TOY_node_labels.txt: 2 lines, expected 3"),
            "{e}"
        );
        std::fs::remove_file(dir.join("TOY_node_labels.txt")).unwrap();
        write(&dir, &[("node_attributes", "1.0\nnan\n2\n")]);
        let e = load("tu-toy", &root).unwrap_err().to_string();
        assert!(e.contains("line 2: 'nan' is not a finite number"), "{e}");
        let offline = DataRoot {
            download: false,
            ..root.clone()
        };
        for bad in ["tu-../../x", "tu-a/b", "tu-", "tu-x.zip"] {
            let e = load(bad, &offline).unwrap_err().to_string();
            assert!(e.contains("letters, digits"), "{bad}: {e}");
        }
        let e = load("tu-nothere", &offline).unwrap_err().to_string();
        assert!(
            e.contains("NOTHERE_A.txt")
                && e.contains("chrsmrrs.com/graphkerneldatasets/NOTHERE.zip"),
            "{e}"
        );
    }

    #[test]
    fn a_zip_beside_the_folder_is_unpacked_on_first_use() {
        let tmp = tempfile::tempdir().unwrap();
        let tu = tmp.path().join("tu");
        std::fs::create_dir_all(&tu).unwrap();
        {
            use std::io::Write;
            let mut w = zip::ZipWriter::new(std::fs::File::create(tu.join("TOY.zip")).unwrap());
            let opts = zip::write::SimpleFileOptions::default();
            for (f, text) in [
                ("A", "1, 2\n2, 1\n3, 3\n"),
                ("graph_indicator", "1\n1\n2\n"),
                ("graph_labels", "0\n1\n"),
            ] {
                w.start_file(format!("TOY/TOY_{f}.txt"), opts).unwrap();
                w.write_all(text.as_bytes()).unwrap();
            }
            w.finish().unwrap();
        }
        let root = DataRoot {
            download: false,
            ..DataRoot::new(tmp.path())
        };
        let ds = load("tu-toy", &root).unwrap();
        assert_eq!(ds.len(), 2);
        assert!(tu.join("TOY/TOY_A.txt").is_file());
        // Second use: the folder is read, the zip not needed.
        std::fs::remove_file(tu.join("TOY.zip")).unwrap();
        assert_eq!(load("tu-toy", &root).unwrap().len(), 2);
    }
}
