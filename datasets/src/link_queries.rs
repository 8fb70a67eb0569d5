//! Link queries a user asks a trained link model: `(head, relation, ?)` lines of a text file,
//! for `gnn predict` to complete with the top-scoring tails.
//!
//! One query per line, fields separated by tabs (or, without a tab, by spaces): the head and,
//! for a knowledge graph, the relation — both by the names of the dataset's files
//! (`/m/027rn<TAB>/location/country/form_of_government`); for a graph of numbered nodes, the
//! node id alone. Empty lines and lines starting with `#` are skipped; a line ending in CRLF
//! is read without its CR.

use std::collections::HashMap;
use std::path::Path;

use crate::DatasetError;

/// The most queries one file may hold.
pub const MAX_QUERIES: usize = 1 << 20;
/// The largest query file read (64 MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads and parses the query file at `path` ([`parse_queries`]); a file over
/// [`MAX_FILE_BYTES`] is refused before it is read.
pub fn read_queries(
    path: &Path,
    vocabulary: Vocabulary<'_>,
) -> Result<Vec<LinkQuery>, DatasetError> {
    let io = |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(DatasetError::Format {
            path: path.to_path_buf(),
            reason: format!("{len} bytes is over the {MAX_FILE_BYTES}-byte limit"),
        });
    }
    let text = std::fs::read(path).map_err(io)?;
    parse_queries(&text, path, vocabulary)
}

/// One query `(head, relation, ?)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkQuery {
    /// The head node or entity id.
    pub head: u32,
    /// The relation id (knowledge graphs), `None` for untyped pairs.
    pub relation: Option<u32>,
}

/// What the ids of a query file refer to.
#[derive(Debug, Clone, Copy)]
pub enum Vocabulary<'a> {
    /// Entities and relations by name, ids in the order given (a knowledge graph's).
    Names {
        /// Entity names, id order.
        entities: &'a [String],
        /// Relation names, id order.
        relations: &'a [String],
    },
    /// Nodes `0..num_nodes` by decimal id, no relation.
    Ids {
        /// The number of nodes.
        num_nodes: usize,
    },
}

/// Parses query file `text` (read from `path`, named in errors with the line) against
/// `vocabulary`. Errors: non-UTF-8 text, a missing or extra field, an unknown name or an id out
/// of range, more than [`MAX_QUERIES`] queries, or none.
pub fn parse_queries<'a>(
    text: &[u8],
    path: &Path,
    vocabulary: Vocabulary<'a>,
) -> Result<Vec<LinkQuery>, DatasetError> {
    let bad = |line: usize, reason: String| DatasetError::Format {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    };
    let index = |names: &'a [String]| -> HashMap<&'a str, u32> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as u32))
            .collect()
    };
    let lookup = match vocabulary {
        Vocabulary::Names {
            entities,
            relations,
        } => Some((index(entities), index(relations))),
        Vocabulary::Ids { .. } => None,
    };
    let mut out = Vec::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line =
            std::str::from_utf8(raw).map_err(|e| bad(number, format!("not UTF-8 text ({e})")))?;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if out.len() == MAX_QUERIES {
            return Err(bad(number, format!("more than {MAX_QUERIES} queries")));
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let query = match (&lookup, vocabulary) {
            (Some((entities, relations)), _) => {
                let [head, relation] = fields[..] else {
                    return Err(bad(
                        number,
                        format!("expected head<TAB>relation, got {} fields", fields.len()),
                    ));
                };
                let find = |map: &HashMap<&str, u32>, what: &str, name: &str| {
                    map.get(name)
                        .copied()
                        .ok_or_else(|| bad(number, format!("unknown {what} '{name}'")))
                };
                LinkQuery {
                    head: find(entities, "entity", head)?,
                    relation: Some(find(relations, "relation", relation)?),
                }
            }
            (None, Vocabulary::Ids { num_nodes }) => {
                let [node] = fields[..] else {
                    return Err(bad(
                        number,
                        format!("expected one node id, got {} fields", fields.len()),
                    ));
                };
                let head = node
                    .parse::<u32>()
                    .ok()
                    .filter(|&h| (h as usize) < num_nodes)
                    .ok_or_else(|| {
                        bad(
                            number,
                            format!("'{node}' is not a node id below {num_nodes}"),
                        )
                    })?;
                LinkQuery {
                    head,
                    relation: None,
                }
            }
            (None, Vocabulary::Names { .. }) => unreachable!("names always have a lookup"),
        };
        out.push(query);
    }
    if out.is_empty() {
        return Err(DatasetError::Format {
            path: path.to_path_buf(),
            reason: "no queries".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_and_ids_are_read_and_hostile_files_are_errors() {
        let (e, r) = (names(&["a", "b c", "d"]), names(&["likes", "is"]));
        let kg = Vocabulary::Names {
            entities: &e,
            relations: &r,
        };
        let p = Path::new("q.tsv");
        let q = parse_queries(b"# a comment\nd\tis\r\n\nb c\tlikes\n", p, kg).unwrap();
        assert_eq!(
            q,
            [
                LinkQuery {
                    head: 2,
                    relation: Some(1)
                },
                LinkQuery {
                    head: 1,
                    relation: Some(0)
                }
            ]
        );
        let ids = Vocabulary::Ids { num_nodes: 5 };
        assert_eq!(parse_queries(b"4\n 0 \n", p, ids).unwrap()[1].head, 0);
        let cases: [(&[u8], Vocabulary<'_>, &str); 8] = [
            (
                b"a\n",
                kg,
                "q.tsv: line 1: expected head<TAB>relation, got 1 fields",
            ),
            (b"a\tlikes\textra\n", kg, "got 3 fields"),
            (b"a\tlikes\nz\tis\n", kg, "line 2: unknown entity 'z'"),
            (b"a\thates\n", kg, "unknown relation 'hates'"),
            (b"a\t\xff\n", kg, "line 1: not UTF-8"),
            (b"5\n", ids, "'5' is not a node id below 5"),
            (b"-1\n", ids, "'-1' is not a node id"),
            (b"\n# nothing\n", ids, "q.tsv: no queries"),
        ];
        for (text, vocabulary, want) in cases {
            let got = parse_queries(text, p, vocabulary).unwrap_err().to_string();
            assert!(got.contains(want), "{got:?} lacks {want:?}");
        }
        // A file of more than MAX_QUERIES lines stops at the bound.
        let many = "0\n".repeat(MAX_QUERIES + 1);
        let e = parse_queries(many.as_bytes(), p, ids)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("line {}: more than", MAX_QUERIES + 1)),
            "{e}"
        );
    }
}
