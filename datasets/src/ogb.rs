//! Open Graph Benchmark node-property datasets, `ogbn-arxiv` and `ogbn-products`, read from
//! the layout the OGB server distributes: `<root>/ogb/<name>.zip` as downloaded (`arxiv.zip`,
//! `products.zip`, whose top folder is `arxiv/` or `products/`), or the folder it unpacks to,
//! `<root>/ogb/<name>/`. Members are read straight from the zip, never unpacked:
//!
//! - `raw/num-node-list.csv.gz`, `raw/num-edge-list.csv.gz`: one line, `N` and `E`
//! - `raw/edge.csv.gz`: `E` lines `src,dst`
//! - `raw/node-feat.csv.gz`: `N` lines of `F` comma-separated numbers
//! - `raw/node-label.csv.gz`: `N` lines, a class (`nan`: unlabelled)
//! - `split/<scheme>/{train,valid,test}.csv.gz`: node ids, one per line (`time` for arxiv,
//!   `sales_ranking` for products)
//!
//! As OGB's own loader: products' edges are stored once and get their inverse added
//! (`add_inverse_edge` in OGB's `master.csv`); arxiv's citations stay directed.
//!
//! Hostile input: every count in a header is checked against a hard limit before anything is
//! allocated from it, every file is decompressed through a byte cap and parsed line by line,
//! and a file with more or fewer lines than its header says, an id out of range or a ragged
//! feature row is an error naming the member and the line.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::download::RemoteFile;
use crate::graph::{EdgeList, Matrix, NodeDataset, Split};
use crate::{DataRoot, DatasetError};

/// One OGB node dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OgbSpec {
    /// `ogbn-arxiv`.
    pub name: &'static str,
    /// The zip's top folder, `arxiv`.
    pub folder: &'static str,
    /// The zip as OGB serves it, `arxiv.zip`.
    pub zip: &'static str,
    /// The split scheme under `split/`.
    pub scheme: &'static str,
    /// Add each edge's inverse (OGB's `add_inverse_edge`).
    pub add_inverse: bool,
    /// The most bytes the zip may have (OGB publishes no hash).
    pub max_zip_bytes: u64,
}

/// The OGB node datasets this reader knows.
pub const DATASETS: &[OgbSpec] = &[
    OgbSpec {
        name: "ogbn-arxiv",
        folder: "arxiv",
        zip: "arxiv.zip",
        scheme: "time",
        add_inverse: false,
        max_zip_bytes: 256 << 20,
    },
    OgbSpec {
        name: "ogbn-products",
        folder: "products",
        zip: "products.zip",
        scheme: "sales_ranking",
        add_inverse: true,
        max_zip_bytes: 3 << 30,
    },
];

/// Where OGB serves its node datasets.
pub const OGB_BASE_URL: &str = "http://snap.stanford.edu/ogb/data/nodeproppred";

/// The most nodes a dataset may declare (2^28; ogbn-products has 2.4 · 10^6).
pub const MAX_NODES: usize = 1 << 28;
/// The most edges (2^31; ogbn-products has 6.2 · 10^7).
pub const MAX_EDGES: usize = 1 << 31;
/// The most features per node.
pub const MAX_FEATURES: usize = 1 << 12;
/// The most feature values in all (2^31 `f32`: 8 GiB).
pub const MAX_FEATURE_VALUES: usize = 1 << 31;
/// The most bytes one member may decompress to (16 GiB: products' features are ~2.5 GB of
/// text).
pub const MAX_MEMBER_BYTES: u64 = 16 << 30;
/// The most classes.
pub const MAX_CLASSES: usize = 1 << 16;
/// The most entries reserved ahead of reading them.
const RESERVE: usize = 1 << 20;

/// Where the members of a dataset are read from.
pub trait OgbSource {
    /// A reader of the (gzip-compressed) member at `path`, relative to the top folder.
    fn open(&mut self, path: &str) -> Result<Box<dyn Read + '_>, DatasetError>;
    /// The name errors give the member.
    fn describe(&self, path: &str) -> PathBuf;
}

/// The unpacked folder, `<root>/ogb/arxiv/`.
pub struct FolderSource(pub PathBuf);

impl OgbSource for FolderSource {
    fn open(&mut self, path: &str) -> Result<Box<dyn Read + '_>, DatasetError> {
        let full = self.0.join(path);
        let file = std::fs::File::open(&full).map_err(|e| DatasetError::io(&full, e))?;
        Ok(Box::new(file))
    }

    fn describe(&self, path: &str) -> PathBuf {
        self.0.join(path)
    }
}

/// The zip as downloaded, `<root>/ogb/arxiv.zip` with members under `arxiv/`.
pub struct ZipSource {
    path: PathBuf,
    top: String,
    archive: zip::ZipArchive<std::fs::File>,
}

impl ZipSource {
    /// Opens the zip at `path` whose members lie under `top/`.
    pub fn open(path: &Path, top: &str) -> Result<Self, DatasetError> {
        let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
        let archive = zip::ZipArchive::new(file)
            .map_err(|e| DatasetError::format(path, format!("not a readable zip archive: {e}")))?;
        Ok(ZipSource {
            path: path.to_path_buf(),
            top: top.to_string(),
            archive,
        })
    }
}

impl OgbSource for ZipSource {
    fn open(&mut self, path: &str) -> Result<Box<dyn Read + '_>, DatasetError> {
        let name = format!("{}/{path}", self.top);
        let (member, zip) = (self.describe(path), self.path.clone());
        match self.archive.by_name(&name) {
            Ok(entry) => Ok(Box::new(entry)),
            Err(zip::result::ZipError::FileNotFound) => Err(DatasetError::Missing {
                path: member,
                reason: "no such member in the archive".into(),
            }),
            Err(e) => Err(DatasetError::format(zip, format!("{name}: {e}"))),
        }
    }

    fn describe(&self, path: &str) -> PathBuf {
        self.path.join(&self.top).join(path)
    }
}

/// Members held in memory (tests and the fuzz target), gzip-compressed as in the archive.
#[derive(Debug, Clone, Default)]
pub struct MemorySource(pub BTreeMap<String, Vec<u8>>);

impl OgbSource for MemorySource {
    fn open(&mut self, path: &str) -> Result<Box<dyn Read + '_>, DatasetError> {
        match self.0.get(path) {
            Some(bytes) => Ok(Box::new(&bytes[..])),
            None => Err(DatasetError::Missing {
                path: self.describe(path),
                reason: "no such member".into(),
            }),
        }
    }

    fn describe(&self, path: &str) -> PathBuf {
        PathBuf::from("<memory>").join(path)
    }
}

/// Loads `name` (`ogbn-arxiv`, `ogbn-products`) from `<root>/ogb/`: the folder if it is
/// there, else the zip, downloaded first (size-capped) when missing and downloads are on.
pub fn load(name: &str, root: &DataRoot) -> Result<NodeDataset, DatasetError> {
    let spec = DATASETS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| DatasetError::Invalid(format!("unknown OGB dataset {name}")))?;
    let base = root.dir.join("ogb");
    let folder = base.join(spec.folder);
    if folder.is_dir() {
        return read(spec, &mut FolderSource(folder));
    }
    let zip = root.fetch(
        "ogb",
        OGB_BASE_URL,
        &RemoteFile {
            name: spec.zip,
            sha256: "",
            size: spec.max_zip_bytes,
        },
    )?;
    read(spec, &mut ZipSource::open(&zip, spec.folder)?)
}

/// Reads a dataset of `spec` from `source`.
pub fn read(spec: &OgbSpec, source: &mut dyn OgbSource) -> Result<NodeDataset, DatasetError> {
    let n = single_count(source, "raw/num-node-list.csv.gz", MAX_NODES)?;
    let e = single_count(source, "raw/num-edge-list.csv.gz", MAX_EDGES)?;
    let edge_path = "raw/edge.csv.gz";
    // Reserved up to a bound only: a header's count is a claim until the lines are read.
    let (mut src, mut dst) = (
        Vec::with_capacity(e.min(RESERVE)),
        Vec::with_capacity(e.min(RESERVE)),
    );
    let count = lines(source, edge_path, |no, line, err| {
        let (a, b) = line
            .split_once(',')
            .ok_or_else(|| err(no, "expected src,dst".into()))?;
        let id = |t: &str| parse_id(t, n).map_err(|why| err(no, why));
        if src.len() == e {
            return Err(err(no, format!("more than the {e} edges of num-edge-list")));
        }
        src.push(id(a)?);
        dst.push(id(b)?);
        Ok(())
    })?;
    if count != e {
        return Err(format_error(
            source,
            edge_path,
            format!("{count} edges, num-edge-list says {e}"),
        ));
    }
    if spec.add_inverse {
        let (s, d) = (src.clone(), dst.clone());
        src.extend(d);
        dst.extend(s);
    }

    let feat_path = "raw/node-feat.csv.gz";
    let mut width = None;
    let mut x: Vec<f32> = Vec::new();
    let rows = lines(source, feat_path, |no, line, err| {
        let before = x.len();
        for t in line.split(',') {
            let v: f32 = t
                .trim()
                .parse()
                .map_err(|_| err(no, format!("{t:?} is not a number")))?;
            if !v.is_finite() {
                return Err(err(no, format!("{t:?} is not finite")));
            }
            x.push(v);
            if x.len() - before > MAX_FEATURES {
                return Err(err(no, format!("more than {MAX_FEATURES} features")));
            }
        }
        let w = x.len() - before;
        match width {
            None if n.checked_mul(w).is_none_or(|v| v > MAX_FEATURE_VALUES) => Err(err(
                no,
                format!("{n} rows of {w} features is over {MAX_FEATURE_VALUES}"),
            )),
            None => {
                width = Some(w);
                Ok(())
            }
            Some(f) if f != w => Err(err(no, format!("{w} features, the first row has {f}"))),
            Some(_) if x.len() > n * w => Err(err(no, format!("more than the {n} nodes"))),
            Some(_) => Ok(()),
        }
    })?;
    if rows != n {
        return Err(format_error(
            source,
            feat_path,
            format!("{rows} rows, num-node-list says {n}"),
        ));
    }
    let features = Matrix::new(n, width.unwrap_or(0), x)?;

    let label_path = "raw/node-label.csv.gz";
    let mut labels: Vec<Option<usize>> = Vec::with_capacity(n.min(RESERVE));
    lines(source, label_path, |no, line, err| {
        if labels.len() == n {
            return Err(err(no, format!("more than the {n} nodes")));
        }
        let label = match line {
            "nan" | "NaN" => None,
            t => Some(
                t.parse::<f64>()
                    .ok()
                    .filter(|v| v.fract() == 0.0 && (0.0..MAX_CLASSES as f64).contains(v))
                    .ok_or_else(|| err(no, format!("{t:?} is not a class below {MAX_CLASSES}")))?
                    as usize,
            ),
        };
        labels.push(label);
        Ok(())
    })?;
    if labels.len() != n {
        return Err(format_error(
            source,
            label_path,
            format!("{} labels, num-node-list says {n}", labels.len()),
        ));
    }
    let num_classes = labels.iter().flatten().max().map_or(0, |&c| c + 1);

    let mut split_of = |part: &str| -> Result<Vec<usize>, DatasetError> {
        let path = format!("split/{}/{part}.csv.gz", spec.scheme);
        let mut ids = Vec::new();
        lines(source, &path, |no, line, err| {
            if ids.len() == n {
                return Err(err(no, format!("more than the {n} nodes")));
            }
            ids.push(parse_id(line, n).map_err(|why| err(no, why))?);
            Ok(())
        })?;
        Ok(ids)
    };
    let split = Split {
        train: split_of("train")?,
        val: split_of("valid")?,
        test: split_of("test")?,
    };
    let dataset = NodeDataset {
        name: spec.name.to_string(),
        edges: EdgeList::new(n, src, dst)?,
        features,
        labels,
        num_classes,
        split,
        relations: None,
    };
    dataset.validate()?;
    Ok(dataset)
}

fn parse_id(text: &str, n: usize) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(v) if v < n => Ok(v),
        Ok(v) => Err(format!("node {v} outside 0..{n}")),
        Err(_) => Err(format!("{text:?} is not a node id")),
    }
}

fn format_error(source: &dyn OgbSource, path: &str, reason: String) -> DatasetError {
    DatasetError::format(source.describe(path), reason)
}

/// The one count in a `num-*-list` member, at most `max`.
fn single_count(source: &mut dyn OgbSource, path: &str, max: usize) -> Result<usize, DatasetError> {
    let mut count = None;
    lines(source, path, |no, line, err| {
        if count.is_some() {
            return Err(err(no, "one graph expected, found several counts".into()));
        }
        match line.parse::<usize>() {
            Ok(v) if v <= max => count = Some(v),
            _ => return Err(err(no, format!("{line:?} is not a count up to {max}"))),
        }
        Ok(())
    })?;
    count.ok_or_else(|| format_error(source, path, "empty".into()))
}

type LineError<'a> = &'a dyn Fn(usize, String) -> DatasetError;

/// Calls `each(line_number, line, err)` on the non-empty lines of the gzip member `path`
/// (CRLF tolerated), decompressed through [`MAX_MEMBER_BYTES`]; returns how many there were.
fn lines(
    source: &mut dyn OgbSource,
    path: &str,
    mut each: impl FnMut(usize, &str, LineError<'_>) -> Result<(), DatasetError>,
) -> Result<usize, DatasetError> {
    let name = source.describe(path);
    let err = |no: usize, why: String| DatasetError::format(&name, format!("line {no}: {why}"));
    let reader = source.open(path)?;
    let mut text = BufReader::new(GzDecoder::new(reader).take(MAX_MEMBER_BYTES + 1));
    let mut buf = Vec::new();
    let (mut no, mut count, mut read) = (0usize, 0usize, 0u64);
    loop {
        buf.clear();
        let got = text
            .read_until(b'\n', &mut buf)
            .map_err(|e| DatasetError::format(&name, format!("not a readable gzip member: {e}")))?;
        if got == 0 {
            break;
        }
        read += got as u64;
        if read > MAX_MEMBER_BYTES {
            return Err(DatasetError::format(
                &name,
                format!("decompresses to over {MAX_MEMBER_BYTES} bytes"),
            ));
        }
        no += 1;
        let line = std::str::from_utf8(&buf).map_err(|_| err(no, "not UTF-8".into()))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        each(no, line, &err)?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    pub(crate) fn gz(text: &str) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap()
    }

    /// A 4-node dataset in OGB's layout: a path 0→1→2→3, two features, classes 0..3.
    fn toy(scheme: &str) -> BTreeMap<String, String> {
        [
            ("raw/num-node-list.csv.gz", "4\n"),
            ("raw/num-edge-list.csv.gz", "3\n"),
            ("raw/edge.csv.gz", "0,1\n1,2\r\n2,3\n"),
            ("raw/node-feat.csv.gz", "0.5,1\n-1,2e-1\n3,4\n0,0\n"),
            ("raw/node-label.csv.gz", "0\n2\n1\nnan\n"),
            ("train", "0\n1\n"),
            ("valid", "2\n"),
            ("test", ""),
        ]
        .into_iter()
        .map(|(k, v)| {
            let key = match k {
                "train" | "valid" | "test" => format!("split/{scheme}/{k}.csv.gz"),
                k => k.to_string(),
            };
            (key, v.to_string())
        })
        .collect()
    }

    fn source(members: &BTreeMap<String, String>) -> MemorySource {
        MemorySource(members.iter().map(|(k, v)| (k.clone(), gz(v))).collect())
    }

    #[test]
    fn a_dataset_in_the_ogb_layout() {
        let arxiv = &DATASETS[0];
        let ds = read(arxiv, &mut source(&toy("time"))).unwrap();
        assert_eq!(ds.num_nodes(), 4);
        assert_eq!(ds.edges.src(), &[0, 1, 2]);
        assert_eq!(ds.edges.dst(), &[1, 2, 3]);
        assert_eq!(
            ds.features.data(),
            &[0.5, 1.0, -1.0, 0.2, 3.0, 4.0, 0.0, 0.0]
        );
        assert_eq!(ds.labels, vec![Some(0), Some(2), Some(1), None]);
        assert_eq!(ds.num_classes, 3);
        assert_eq!(
            (ds.split.train.clone(), ds.split.val.clone()),
            (vec![0, 1], vec![2])
        );
        // Products: the same files under its scheme, inverse edges added.
        let products = &DATASETS[1];
        let ds = read(products, &mut source(&toy("sales_ranking"))).unwrap();
        assert_eq!(ds.edges.num_edges(), 6);
        assert!(ds.edges.is_undirected());
    }

    #[test]
    fn the_zip_as_ogb_serves_it_and_the_folder_it_unpacks_to() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("ogb");
        std::fs::create_dir_all(&base).unwrap();
        let members = toy("time");
        {
            let mut w = zip::ZipWriter::new(std::fs::File::create(base.join("arxiv.zip")).unwrap());
            let opts = zip::write::SimpleFileOptions::default();
            for (k, v) in &members {
                w.start_file(format!("arxiv/{k}"), opts).unwrap();
                w.write_all(&gz(v)).unwrap();
            }
            w.finish().unwrap();
        }
        let root = DataRoot::new(dir.path()).with_download(false);
        let from_zip = load("ogbn-arxiv", &root).unwrap();
        assert_eq!(from_zip.num_nodes(), 4);
        for (k, v) in &members {
            let path = base.join("arxiv").join(k);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, gz(v)).unwrap();
        }
        assert_eq!(load("ogbn-arxiv", &root).unwrap(), from_zip);
        // Offline and absent: the error names the zip.
        let err = load("ogbn-products", &root).unwrap_err().to_string();
        assert!(
            err.contains("products.zip") && err.contains("missing"),
            "{err}"
        );
    }

    #[test]
    fn hostile_members_are_errors_naming_the_member_and_line() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "raw/num-node-list.csv.gz",
                "99999999999999\n",
                "not a count",
            ),
            ("raw/num-node-list.csv.gz", "4\n4\n", "several counts"),
            ("raw/num-node-list.csv.gz", "", "empty"),
            ("raw/num-edge-list.csv.gz", "1000000000000\n", "not a count"),
            (
                "raw/edge.csv.gz",
                "0,1\n1,2\n",
                "2 edges, num-edge-list says 3",
            ),
            (
                "raw/edge.csv.gz",
                "0,1\n1,2\n2,3\n3,0\n",
                "line 4: more than the 3 edges",
            ),
            (
                "raw/edge.csv.gz",
                "0,1\n1,9\n2,3\n",
                "line 2: node 9 outside 0..4",
            ),
            (
                "raw/edge.csv.gz",
                "0,1\n1\n2,3\n",
                "line 2: expected src,dst",
            ),
            (
                "raw/node-feat.csv.gz",
                "1,2\n1\n1,2\n1,2\n",
                "line 2: 1 features, the first row has 2",
            ),
            (
                "raw/node-feat.csv.gz",
                "1,2\n1,x\n1,2\n1,2\n",
                "is not a number",
            ),
            (
                "raw/node-feat.csv.gz",
                "1,2\n1,inf\n1,2\n1,2\n",
                "not finite",
            ),
            (
                "raw/node-feat.csv.gz",
                "1,2\n1,2\n1,2\n",
                "3 rows, num-node-list says 4",
            ),
            (
                "raw/node-feat.csv.gz",
                "1\n1\n1\n1\n1\n",
                "line 5: more than the 4 nodes",
            ),
            ("raw/node-label.csv.gz", "0\n1\n-1\n2\n", "line 3"),
            ("raw/node-label.csv.gz", "0\n1\n", "2 labels"),
            ("split/time/valid.csv.gz", "4\n", "node 4 outside 0..4"),
        ];
        for &(member, text, expected) in cases {
            let mut members = toy("time");
            members.insert(member.to_string(), text.to_string());
            let err = read(&DATASETS[0], &mut source(&members))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(member) && err.contains(expected),
                "{member}: {err}"
            );
        }
        // A missing member, a member that is not gzip, bytes that are not UTF-8.
        let mut members = source(&toy("time"));
        members.0.remove("raw/node-label.csv.gz");
        let err = read(&DATASETS[0], &mut members).unwrap_err().to_string();
        assert!(
            err.contains("node-label.csv.gz") && err.contains("missing"),
            "{err}"
        );
        let mut members = source(&toy("time"));
        members
            .0
            .insert("raw/edge.csv.gz".into(), b"0,1\n".to_vec());
        let err = read(&DATASETS[0], &mut members).unwrap_err().to_string();
        assert!(err.contains("not a readable gzip member"), "{err}");
        let mut members = source(&toy("time"));
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(b"0,1\n\xff\xfe\n").unwrap();
        members
            .0
            .insert("raw/edge.csv.gz".into(), enc.finish().unwrap());
        let err = read(&DATASETS[0], &mut members).unwrap_err().to_string();
        assert!(err.contains("line 2: not UTF-8"), "{err}");
        // Headers claiming 10^9 edges or 2^28 nodes with a few lines behind them: an error
        // once the lines are counted, after reserving at most RESERVE entries.
        let mut members = toy("time");
        members.insert("raw/num-edge-list.csv.gz".into(), "1000000000\n".into());
        let err = read(&DATASETS[0], &mut source(&members))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3 edges, num-edge-list says 1000000000"),
            "{err}"
        );
        let mut members = toy("time");
        members.insert("raw/num-node-list.csv.gz".into(), format!("{MAX_NODES}\n"));
        let err = read(&DATASETS[0], &mut source(&members))
            .unwrap_err()
            .to_string();
        assert!(err.contains("4 rows, num-node-list says"), "{err}");
    }
}
