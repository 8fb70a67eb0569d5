//! Knowledge graphs for link prediction — FB15k-237 (Toutanova & Chen 2015) and the small
//! Kinship, Nations and UMLS (Kok & Domingos 2007) — read straight from the `.tar.gz` they are
//! distributed in (`<root>/kg/<Name>.tar.gz`, the ConvE repository's archives).
//!
//! Each archive holds `train.txt`, `valid.txt` and `test.txt`: one triple per line,
//! `head<TAB>relation<TAB>tail`, entities and relations as opaque strings, LF or CRLF line ends
//! (FB15k-237 uses CRLF); empty lines are skipped. Entity and relation ids are assigned in
//! first-seen order over train, then valid, then test, so an entity that only a test triple
//! names still has an id (FB15k-237 has 28 such test triples; [`KnowledgeGraph::unseen`]
//! counts them) and the ranking runs over every entity of the dataset, as the standard
//! protocol (Bordes et al. 2013) and PyG's `FB15k_237` do.
//!
//! A line without exactly three non-empty tab-separated fields, bytes that are not UTF-8, a
//! member missing from the archive or a valid / test triple that is also a training triple (a
//! leak that would inflate every metric) is a [`DatasetError::Format`] naming the archive, the
//! member and the line.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use crate::download::RemoteFile;
use crate::{DataRoot, DatasetError};

/// The dataset names this module loads.
pub const NAMES: [&str; 4] = ["fb15k-237", "kinship", "nations", "umls"];

/// Where the archives are downloaded from: a pinned commit of `TimDettmers/ConvE`.
const CONVE_BASE: &str =
    "https://raw.githubusercontent.com/TimDettmers/ConvE/f3c0eb286025410fa5b4c04696c918264163d0ca";

/// The largest split file read from an archive (256 MiB; FB15k-237's `train.txt` is 21 MB).
pub const MAX_SPLIT_BYTES: u64 = 256 << 20;

/// The split members of every archive, in [`KnowledgeGraph`] order.
pub const SPLIT_FILES: [&str; 3] = ["train.txt", "valid.txt", "test.txt"];

const ARCHIVES: [(&str, RemoteFile); 4] = [
    (
        "fb15k-237",
        RemoteFile {
            name: "FB15k-237.tar.gz",
            size: 3678603,
            sha256: "311df7930f842a02979eaa7a802484a6afe62303c07f915f1e6edbc30cbe05e8",
        },
    ),
    (
        "kinship",
        RemoteFile {
            name: "kinship.tar.gz",
            size: 42703,
            sha256: "a3cb9ca67213eb38133aebc12901195e283d844ebd59f1a6cbf2d4fa12ced4e6",
        },
    ),
    (
        "nations",
        RemoteFile {
            name: "nations.tar.gz",
            size: 8077,
            sha256: "feb3e3e027103089934ea7dfb67d2048d8a43e65d6757a86f2e037acb66f640b",
        },
    ),
    (
        "umls",
        RemoteFile {
            name: "umls.tar.gz",
            size: 35648,
            sha256: "26223aa91f0ec8db2324e0f489b9a4425e04d1d0df72ce5cfd62af4b91aee6fd",
        },
    ),
];

/// One fact `(head, relation, tail)` as ids into [`KnowledgeGraph::entities`] and
/// [`KnowledgeGraph::relations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Triple {
    /// Head entity id.
    pub head: u32,
    /// Relation id.
    pub relation: u32,
    /// Tail entity id.
    pub tail: u32,
}

/// A knowledge graph with its standard train / valid / test split of triples.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeGraph {
    /// Dataset name (`fb15k-237`, ...).
    pub name: String,
    /// Entity names by id (first-seen order over train, valid, test).
    pub entities: Vec<String>,
    /// Relation names by id (first-seen order over train, valid, test).
    pub relations: Vec<String>,
    /// Training triples, in file order.
    pub train: Vec<Triple>,
    /// Validation triples, in file order.
    pub valid: Vec<Triple>,
    /// Test triples, in file order.
    pub test: Vec<Triple>,
}

impl KnowledgeGraph {
    /// The number of entities `N`.
    pub fn num_entities(&self) -> usize {
        self.entities.len()
    }

    /// The number of relations `R` (without inverses).
    pub fn num_relations(&self) -> usize {
        self.relations.len()
    }

    /// The graph an encoder passes messages on, as `(src, dst, edge type)` lists of length
    /// `2 T` for the `T` training triples: each triple `(h, r, t)` is the edge `h → t` of type
    /// `r` followed by its inverse `t → h` of type `r + R`, so there are `2 R` edge types (the
    /// R-GCN convention; PyG's `rgcn_link_pred.py` adds the inverses the same way).
    pub fn message_edges(&self) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        message_edges(&self.train, self.num_relations())
    }

    /// How many of `triples` name an entity that no training triple names (its embedding
    /// is never trained; the triple is still ranked, as the standard protocol does).
    pub fn unseen(&self, triples: &[Triple]) -> usize {
        let mut seen = vec![false; self.num_entities()];
        for t in &self.train {
            seen[t.head as usize] = true;
            seen[t.tail as usize] = true;
        }
        triples
            .iter()
            .filter(|t| !seen[t.head as usize] || !seen[t.tail as usize])
            .count()
    }
}

/// Every known true answer of the queries `(h, r, ?)` and `(?, r, t)` over a set of triples
/// (train, valid and test for the filtered protocol), each list sorted and distinct.
#[derive(Debug, Clone, Default)]
pub struct KnownFacts {
    tails: HashMap<(u32, u32), Vec<u32>>,
    heads: HashMap<(u32, u32), Vec<u32>>,
}

impl KnownFacts {
    /// Indexes every triple of `splits`.
    pub fn new(splits: &[&[Triple]]) -> Self {
        let mut facts = KnownFacts::default();
        for t in splits.iter().flat_map(|s| s.iter()) {
            facts
                .tails
                .entry((t.head, t.relation))
                .or_default()
                .push(t.tail);
            facts
                .heads
                .entry((t.relation, t.tail))
                .or_default()
                .push(t.head);
        }
        for list in facts.tails.values_mut().chain(facts.heads.values_mut()) {
            list.sort_unstable();
            list.dedup();
        }
        facts
    }

    /// The known tails of `(head, relation, ?)`.
    pub fn tails(&self, head: u32, relation: u32) -> &[u32] {
        self.tails.get(&(head, relation)).map_or(&[], Vec::as_slice)
    }

    /// The known heads of `(?, relation, tail)`.
    pub fn heads(&self, relation: u32, tail: u32) -> &[u32] {
        self.heads.get(&(relation, tail)).map_or(&[], Vec::as_slice)
    }

    /// Whether `(head, relation, tail)` is known.
    pub fn contains(&self, head: u32, relation: u32, tail: u32) -> bool {
        self.tails(head, relation).binary_search(&tail).is_ok()
    }
}

/// `count` corrupted copies of each of `triples` for training: each keeps its relation and
/// one side and replaces the other — head or tail with equal probability — by an entity
/// drawn uniformly (seeded by `rng`) among the `num_entities`. With `known`, a draw that
/// forms a known fact is redrawn (up to 64 times, then kept: an entity may complete every
/// corruption of a relation), so no negative is a known edge unless no other exists; without
/// it the draw is raw, as PyG's `rgcn_link_pred.py` samples. Returns `triples.len() · count`
/// triples, those of `triples[k]` at `k · count ..`.
pub fn corrupt(
    triples: &[Triple],
    count: usize,
    num_entities: usize,
    known: Option<&KnownFacts>,
    rng: &mut crate::synthetic::SplitMix64,
) -> Vec<Triple> {
    let mut out = Vec::with_capacity(triples.len() * count);
    for t in triples {
        for _ in 0..count {
            let head_side = rng.next_u64() & 1 == 0;
            let mut c = *t;
            for _ in 0..64 {
                let e = rng.below(num_entities) as u32;
                c = if head_side {
                    Triple { head: e, ..*t }
                } else {
                    Triple { tail: e, ..*t }
                };
                if !known.is_some_and(|k| k.contains(c.head, c.relation, c.tail)) {
                    break;
                }
            }
            out.push(c);
        }
    }
    out
}

/// The message-passing edges of `triples` among `num_relations` relations, as
/// [`KnowledgeGraph::message_edges`] gives them for the training triples: `h → t` of type `r`,
/// then `t → h` of type `r + R`.
pub fn message_edges(
    triples: &[Triple],
    num_relations: usize,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut src = Vec::with_capacity(2 * triples.len());
    let mut dst = Vec::with_capacity(2 * triples.len());
    let mut kind = Vec::with_capacity(2 * triples.len());
    for t in triples {
        let (h, rel, tl) = (t.head as usize, t.relation as usize, t.tail as usize);
        src.extend([h, tl]);
        dst.extend([tl, h]);
        kind.extend([rel, rel + num_relations]);
    }
    (src, dst, kind)
}

/// Loads knowledge graph `name` (one of [`NAMES`], any case) from `<root>/kg/<Name>.tar.gz`,
/// downloading the archive (sha256-checked) from the ConvE repository when it is missing and
/// the root allows it.
pub fn load(name: &str, root: &DataRoot) -> Result<KnowledgeGraph, DatasetError> {
    let key = name.to_ascii_lowercase();
    let Some((_, file)) = ARCHIVES.iter().find(|(n, _)| *n == key) else {
        return Err(DatasetError::Invalid(format!(
            "unknown knowledge graph '{name}' (expected one of {})",
            NAMES.join(", ")
        )));
    };
    let path = root.fetch("kg", CONVE_BASE, file)?;
    load_archive(&key, &path)
}

/// Loads a knowledge graph from a gzipped tar at `path` holding the three split files.
pub fn load_archive(name: &str, path: &Path) -> Result<KnowledgeGraph, DatasetError> {
    let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    parse(
        name,
        flate2::read::GzDecoder::new(std::io::BufReader::new(file)),
        path,
    )
}

/// Parses a decompressed tar stream (`path` names it in errors): the split members are read
/// with [`crate::archive::read_tar`] and then [`from_splits`].
pub fn parse(name: &str, tar: impl Read, path: &Path) -> Result<KnowledgeGraph, DatasetError> {
    let members = crate::archive::read_tar(tar, path, &SPLIT_FILES, MAX_SPLIT_BYTES)?;
    let [train, valid, test] = <[Vec<u8>; 3]>::try_from(members).expect("three splits asked");
    from_splits(name, [&train, &valid, &test], path)
}

/// Builds the graph from the bytes of `train.txt`, `valid.txt` and `test.txt` (`path` names
/// their archive in errors).
pub fn from_splits(
    name: &str,
    splits: [&[u8]; 3],
    path: &Path,
) -> Result<KnowledgeGraph, DatasetError> {
    let mut vocab = Vocab::default();
    let mut parsed: Vec<Vec<Triple>> = Vec::with_capacity(3);
    for (bytes, member) in splits.into_iter().zip(SPLIT_FILES) {
        parsed.push(triples(bytes, member, path, &mut vocab)?);
    }
    let test = parsed.pop().expect("three splits");
    let valid = parsed.pop().expect("three splits");
    let train = parsed.pop().expect("three splits");
    // A valid or test triple that is also a training (or, for test, validation) triple leaks.
    let mut earlier: HashSet<Triple> = train.iter().copied().collect();
    for (triples, member) in [(&valid, SPLIT_FILES[1]), (&test, SPLIT_FILES[2])] {
        if let Some(k) = triples.iter().position(|t| earlier.contains(t)) {
            let t = triples[k];
            return Err(DatasetError::format(
                path,
                format!(
                    "{member} triple {} ({} {} {}) also occurs in an earlier split: evaluation \
                     triples must not be training facts",
                    k + 1,
                    vocab.entities[t.head as usize],
                    vocab.relations[t.relation as usize],
                    vocab.entities[t.tail as usize]
                ),
            ));
        }
        earlier.extend(triples.iter().copied());
    }
    if train.is_empty() {
        return Err(DatasetError::format(
            path,
            format!("{} has no triples", SPLIT_FILES[0]),
        ));
    }
    Ok(KnowledgeGraph {
        name: name.to_string(),
        entities: vocab.entities,
        relations: vocab.relations,
        train,
        valid,
        test,
    })
}

/// Entity and relation names to ids, in first-seen order.
#[derive(Default)]
struct Vocab {
    entities: Vec<String>,
    relations: Vec<String>,
    entity_ids: HashMap<String, u32>,
    relation_ids: HashMap<String, u32>,
}

fn intern(names: &mut Vec<String>, ids: &mut HashMap<String, u32>, name: &str) -> u32 {
    if let Some(&id) = ids.get(name) {
        return id;
    }
    // Bounded by the split-size cap: far below u32::MAX names fit in 3 × 256 MiB.
    let id = names.len() as u32;
    names.push(name.to_string());
    ids.insert(name.to_string(), id);
    id
}

/// The triples of one split file.
fn triples(
    bytes: &[u8],
    member: &str,
    path: &Path,
    vocab: &mut Vocab,
) -> Result<Vec<Triple>, DatasetError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        DatasetError::format(path, format!("{member} line {line}: not UTF-8"))
    })?;
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 3 || fields.iter().any(|f| f.is_empty()) {
            return Err(DatasetError::format(
                path,
                format!(
                    "{member} line {}: expected head<TAB>relation<TAB>tail, found {} field(s)",
                    i + 1,
                    fields.iter().filter(|f| !f.is_empty()).count()
                ),
            ));
        }
        let head = intern(&mut vocab.entities, &mut vocab.entity_ids, fields[0]);
        let relation = intern(&mut vocab.relations, &mut vocab.relation_ids, fields[1]);
        let tail = intern(&mut vocab.entities, &mut vocab.entity_ids, fields[2]);
        out.push(Triple {
            head,
            relation,
            tail,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A gzipped tar with the given members, written by the system-independent `tar` layout
    /// of this test (ustar headers, checksums, padding).
    fn tar_of(members: Members<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in members {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[100..107].copy_from_slice(b"0000644");
            h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
            h[156] = b'0';
            h[257..263].copy_from_slice(b"ustar\0");
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|&b| b as u32).sum();
            h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    /// Archive members: name and content.
    type Members<'a> = &'a [(&'a str, &'a [u8])];

    fn parse_tar(members: Members<'_>) -> Result<KnowledgeGraph, DatasetError> {
        parse("toy", &tar_of(members)[..], Path::new("toy.tar.gz"))
    }

    const TRAIN: &[u8] = b"a\tlikes\tb\r\nb\tlikes\tc\r\n\r\nc\thates\ta\r\n";
    const VALID: &[u8] = b"a\thates\tc\n";
    const TEST: &[u8] = b"d\tlikes\ta\n";

    #[test]
    fn ids_in_first_seen_order_crlf_and_blank_lines() {
        let kg = parse_tar(&[
            ("./valid.txt", VALID),
            ("train.txt", TRAIN),
            ("test.txt", TEST),
        ])
        .unwrap();
        assert_eq!(kg.entities, ["a", "b", "c", "d"]);
        assert_eq!(kg.relations, ["likes", "hates"]);
        let t = |head, relation, tail| Triple {
            head,
            relation,
            tail,
        };
        assert_eq!(kg.train, [t(0, 0, 1), t(1, 0, 2), t(2, 1, 0)]);
        assert_eq!(kg.valid, [t(0, 1, 2)]);
        assert_eq!(kg.test, [t(3, 0, 0)]);
        // d appears only in test: it has an id, and the triple is counted as unseen.
        assert_eq!((kg.unseen(&kg.valid), kg.unseen(&kg.test)), (0, 1));
        let (src, dst, kind) = kg.message_edges();
        assert_eq!(src, [0, 1, 1, 2, 2, 0]);
        assert_eq!(dst, [1, 0, 2, 1, 0, 2]);
        assert_eq!(kind, [0, 2, 0, 2, 1, 3]);
    }

    #[test]
    fn hostile_triples_are_errors_naming_member_and_line() {
        let cases: [(Members<'_>, &str); 7] = [
            (
                &[
                    ("train.txt", b"a\tb\n"),
                    ("valid.txt", VALID),
                    ("test.txt", TEST),
                ],
                "train.txt line 1: expected head<TAB>relation<TAB>tail, found 2",
            ),
            (
                &[
                    ("train.txt", TRAIN),
                    ("valid.txt", b"a\t\tb\n"),
                    ("test.txt", TEST),
                ],
                "valid.txt line 1",
            ),
            (
                &[
                    ("train.txt", TRAIN),
                    ("valid.txt", VALID),
                    ("test.txt", b"a\tb\tc\td\n"),
                ],
                "test.txt line 1: expected head<TAB>relation<TAB>tail, found 4",
            ),
            (
                &[
                    ("train.txt", b"a\tr\tb\n\xff\tr\tb\n"),
                    ("valid.txt", VALID),
                    ("test.txt", TEST),
                ],
                "train.txt line 2: not UTF-8",
            ),
            (
                &[
                    ("train.txt", b"\n\r\n"),
                    ("valid.txt", VALID),
                    ("test.txt", TEST),
                ],
                "train.txt has no triples",
            ),
            (
                &[("train.txt", TRAIN), ("valid.txt", VALID)],
                "has no member 'test.txt'",
            ),
            (
                &[
                    ("train.txt", TRAIN),
                    ("valid.txt", VALID),
                    ("test.txt", b"b\tlikes\tc\n"),
                ],
                "test.txt triple 1 (b likes c) also occurs in an earlier split",
            ),
        ];
        for (members, expected) in cases {
            let err = parse_tar(members).unwrap_err();
            assert!(matches!(err, DatasetError::Format { .. }), "{err}");
            let text = err.to_string();
            assert!(
                text.starts_with("toy.tar.gz: ") && text.contains(expected),
                "{text} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn known_facts_answer_both_directions() {
        let t = |head, relation, tail| Triple {
            head,
            relation,
            tail,
        };
        let train = [t(0, 0, 1), t(0, 0, 2), t(3, 1, 2)];
        let test = [t(0, 0, 2), t(4, 0, 2)];
        let facts = KnownFacts::new(&[&train, &test]);
        assert_eq!(facts.tails(0, 0), [1, 2]);
        assert_eq!(facts.heads(0, 2), [0, 4]);
        assert_eq!(facts.heads(1, 2), [3]);
        assert!(facts.tails(2, 0).is_empty());
        assert!(facts.contains(4, 0, 2) && !facts.contains(2, 0, 4));
    }

    #[test]
    fn corruption_keeps_the_relation_and_one_side_and_avoids_known_facts() {
        let t = |head, relation, tail| Triple {
            head,
            relation,
            tail,
        };
        // Entity 0 relates to 1..=5 by relation 0: most tail corruptions of (0, 0, 1) are known.
        let train: Vec<Triple> = (1..=5).map(|e| t(0, 0, e)).collect();
        let facts = KnownFacts::new(&[&train]);
        let mut rng = crate::synthetic::SplitMix64::new(3);
        let negs = corrupt(&train, 20, 8, Some(&facts), &mut rng);
        assert_eq!(negs.len(), 100);
        for (k, n) in negs.iter().enumerate() {
            let pos = train[k / 20];
            assert_eq!(n.relation, pos.relation);
            assert!(
                n.head == pos.head || n.tail == pos.tail,
                "{n:?} from {pos:?}"
            );
            assert!(
                !facts.contains(n.head, n.relation, n.tail),
                "{n:?} is a known fact"
            );
        }
        // Both sides get corrupted, and the stream is seeded.
        assert!(negs.iter().any(|n| n.head != 0) && negs.iter().any(|n| n.head == 0));
        let again = corrupt(
            &train,
            20,
            8,
            Some(&facts),
            &mut crate::synthetic::SplitMix64::new(3),
        );
        assert_eq!(negs, again);
        // Unfiltered draws do hit known facts here.
        let raw = corrupt(
            &train,
            20,
            8,
            None,
            &mut crate::synthetic::SplitMix64::new(3),
        );
        assert!(
            raw.iter()
                .any(|n| facts.contains(n.head, n.relation, n.tail))
        );
    }

    #[test]
    fn a_size_claim_is_checked_before_anything_is_allocated() {
        // A header claiming 10^9 lines' worth of bytes (8 GiB) in a tiny archive: refused from
        // the header, not by reading.
        let mut tar = tar_of(&[("train.txt", TRAIN)]);
        tar[124..136].copy_from_slice(b"77777777777\0");
        tar[148..156].copy_from_slice(b"        ");
        let sum: u32 = tar[..512].iter().map(|&b| b as u32).sum();
        tar[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let err = parse("toy", &tar[..], Path::new("big.tar")).unwrap_err();
        assert!(err.to_string().contains("over the"), "{err}");
        // A size within the cap but past the end of the stream is a truncation.
        let mut tar = tar_of(&[("train.txt", TRAIN)]);
        tar.truncate(520);
        let err = parse("toy", &tar[..], Path::new("cut.tar")).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn corrupt_headers_and_empty_archives_are_errors() {
        let mut tar = tar_of(&[("train.txt", TRAIN)]);
        tar[0] = b'x';
        let err = parse("toy", &tar[..], Path::new("bad.tar")).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        for bytes in [&b""[..], &[0u8; 100][..]] {
            let err = parse("toy", bytes, Path::new("empty.tar")).unwrap_err();
            assert!(matches!(err, DatasetError::Format { .. }), "{err}");
        }
        let dup = tar_of(&[("train.txt", TRAIN), ("x/train.txt", TRAIN)]);
        let err = parse("toy", &dup[..], Path::new("dup.tar")).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn gzipped_archive_on_disk_loads_and_unknown_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("toy.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(&tar_of(&[
            ("train.txt", TRAIN),
            ("valid.txt", VALID),
            ("test.txt", TEST),
        ]))
        .unwrap();
        gz.finish().unwrap();
        let kg = load_archive("toy", &path).unwrap();
        assert_eq!((kg.num_entities(), kg.num_relations()), (4, 2));
        let root = DataRoot::new(dir.path()).with_download(false);
        let err = load("wn18", &root).unwrap_err();
        assert!(err.to_string().contains("unknown knowledge graph"), "{err}");
        let err = load("umls", &root).unwrap_err();
        assert!(matches!(err, DatasetError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("umls.tar.gz"), "{err}");
    }
}
