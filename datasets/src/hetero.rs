//! Heterogeneous graphs: several node types (each with its own feature width, or none) and
//! edge sets keyed by `(source type, relation, target type)`, converted to the relation-typed
//! form that R-GCN runs on.
//!
//! The conversion stacks the node types into one id space (type `t` occupies
//! `offsets[t]..offsets[t + 1]`, so results map back to typed ids), makes every edge set one
//! relation (and its reverse another, when asked), and lays the features out in per-type column
//! blocks: a node of type `t` has its features in columns `columns[t]..columns[t + 1]` and zeros
//! elsewhere, and a featureless type gets one-hot identity columns. A single linear map on these
//! features is then a per-node-type input projection — each type meets its own rows of the
//! weight — and the matrix is sparse, so it costs `O(nnz)` on the device.

use crate::DatasetError;
use crate::graph::{EdgeList, Matrix, Relations};

/// One node type.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeType {
    /// Its name.
    pub name: String,
    /// Number of nodes of this type.
    pub num_nodes: usize,
    /// Features `[num_nodes, F_t]`, or `None` (featureless: a learned embedding per node).
    pub features: Option<Matrix>,
}

/// The edges of one `(source type, relation, target type)` triple, in the types' local ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeSet {
    /// Source node type.
    pub src_type: String,
    /// Relation name.
    pub relation: String,
    /// Target node type.
    pub dst_type: String,
    /// Local source ids.
    pub src: Vec<usize>,
    /// Local target ids.
    pub dst: Vec<usize>,
}

/// A validated heterogeneous graph.
#[derive(Debug, Clone, PartialEq)]
pub struct HeteroGraph {
    node_types: Vec<NodeType>,
    edge_sets: Vec<EdgeSet>,
}

/// The relation-typed form of a [`HeteroGraph`].
#[derive(Debug, Clone, PartialEq)]
pub struct Relational {
    /// All edges in global ids.
    pub edges: EdgeList,
    /// Relation of each edge and relation names (`src:relation:dst`, `rev:` for reverses).
    pub relations: Relations,
    /// Node type `t` has global ids `offsets[t]..offsets[t + 1]`.
    pub offsets: Vec<usize>,
    /// Features in per-type column blocks, `[N, Σ_t F_t]`.
    pub features: Matrix,
    /// Node type `t` has columns `columns[t]..columns[t + 1]`.
    pub columns: Vec<usize>,
    /// Node type names, in offset order.
    pub type_names: Vec<String>,
}

impl Relational {
    /// The global id of local node `local` of type `t`.
    pub fn global(&self, t: usize, local: usize) -> usize {
        self.offsets[t] + local
    }

    /// The `(type, local id)` of global node `g`.
    pub fn local(&self, g: usize) -> (usize, usize) {
        let t = self.offsets.partition_point(|&o| o <= g) - 1;
        (t, g - self.offsets[t])
    }

    /// Index of the node type called `name`.
    pub fn type_index(&self, name: &str) -> Option<usize> {
        self.type_names.iter().position(|n| n == name)
    }
}

impl HeteroGraph {
    /// Checks names (unique types, edge sets naming known types), feature rows, and every
    /// local id against its type's node count.
    pub fn new(node_types: Vec<NodeType>, edge_sets: Vec<EdgeSet>) -> Result<Self, DatasetError> {
        let bad = |m: String| Err(DatasetError::Invalid(format!("heterogeneous graph: {m}")));
        for (i, t) in node_types.iter().enumerate() {
            if node_types[..i].iter().any(|u| u.name == t.name) {
                return bad(format!("node type '{}' appears twice", t.name));
            }
            if let Some(f) = &t.features
                && f.rows() != t.num_nodes
            {
                return bad(format!(
                    "node type '{}' has {} nodes but {} feature rows",
                    t.name,
                    t.num_nodes,
                    f.rows()
                ));
            }
        }
        let count = |name: &str| {
            node_types
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.num_nodes)
        };
        for e in &edge_sets {
            let (Some(ns), Some(nd)) = (count(&e.src_type), count(&e.dst_type)) else {
                return bad(format!(
                    "edge set ({}, {}, {}) names an unknown node type",
                    e.src_type, e.relation, e.dst_type
                ));
            };
            if e.src.len() != e.dst.len() {
                return bad(format!(
                    "edge set {}: {} sources, {} targets",
                    e.relation,
                    e.src.len(),
                    e.dst.len()
                ));
            }
            if let Some(k) = (0..e.src.len()).find(|&k| e.src[k] >= ns || e.dst[k] >= nd) {
                return bad(format!(
                    "edge set {}: edge {k} ({} -> {}) is out of range",
                    e.relation, e.src[k], e.dst[k]
                ));
            }
        }
        Ok(HeteroGraph {
            node_types,
            edge_sets,
        })
    }

    /// The node types.
    pub fn node_types(&self) -> &[NodeType] {
        &self.node_types
    }

    /// The edge sets.
    pub fn edge_sets(&self) -> &[EdgeSet] {
        &self.edge_sets
    }

    /// Converts to one relation-typed graph. With `add_reverse`, each edge set `r` also gives
    /// relation `rev:r` from its targets back to its sources (R-GCN's inverse relations), so
    /// messages flow both ways.
    pub fn to_relational(&self, add_reverse: bool) -> Relational {
        let mut offsets = vec![0];
        let mut columns = vec![0];
        for t in &self.node_types {
            offsets.push(offsets.last().copied().unwrap_or(0) + t.num_nodes);
            let width = t.features.as_ref().map_or(t.num_nodes, Matrix::cols);
            columns.push(columns.last().copied().unwrap_or(0) + width);
        }
        let n = *offsets.last().unwrap_or(&0);
        let width = *columns.last().unwrap_or(&0);
        let index = |name: &str| {
            self.node_types
                .iter()
                .position(|t| t.name == name)
                .unwrap_or(0)
        };

        let mut data = vec![0.0f32; n * width];
        for (t, ty) in self.node_types.iter().enumerate() {
            for local in 0..ty.num_nodes {
                let row = (offsets[t] + local) * width;
                match &ty.features {
                    Some(f) => {
                        data[row + columns[t]..row + columns[t + 1]].copy_from_slice(f.row(local))
                    }
                    None => data[row + columns[t] + local] = 1.0,
                }
            }
        }

        let (mut src, mut dst, mut types, mut names) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for e in &self.edge_sets {
            let (ts, td) = (index(&e.src_type), index(&e.dst_type));
            let name = format!("{}:{}:{}", e.src_type, e.relation, e.dst_type);
            let r = names.len();
            names.push(name.clone());
            for k in 0..e.src.len() {
                src.push(offsets[ts] + e.src[k]);
                dst.push(offsets[td] + e.dst[k]);
                types.push(r);
            }
            if add_reverse {
                names.push(format!("rev:{name}"));
                for k in 0..e.src.len() {
                    src.push(offsets[td] + e.dst[k]);
                    dst.push(offsets[ts] + e.src[k]);
                    types.push(r + 1);
                }
            }
        }
        Relational {
            // Ids were checked against each type's count in `new`.
            edges: EdgeList::new(n, src, dst).expect("validated local ids"),
            relations: Relations {
                edge_type: types,
                names,
            },
            offsets,
            features: Matrix::new(n, width, data).expect("n x width values"),
            columns,
            type_names: self.node_types.iter().map(|t| t.name.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> HeteroGraph {
        HeteroGraph::new(
            vec![
                NodeType {
                    name: "author".into(),
                    num_nodes: 2,
                    features: Some(Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap()),
                },
                NodeType {
                    name: "paper".into(),
                    num_nodes: 3,
                    features: None,
                },
            ],
            vec![EdgeSet {
                src_type: "author".into(),
                relation: "writes".into(),
                dst_type: "paper".into(),
                src: vec![0, 1, 1],
                dst: vec![0, 1, 2],
            }],
        )
        .unwrap()
    }

    #[test]
    fn conversion_offsets_relations_and_block_features() {
        let r = graph().to_relational(true);
        assert_eq!(r.offsets, vec![0, 2, 5]);
        assert_eq!(r.columns, vec![0, 3, 6]);
        assert_eq!(
            r.relations.names,
            vec!["author:writes:paper", "rev:author:writes:paper"]
        );
        assert_eq!(
            r.edges.iter().collect::<Vec<_>>(),
            vec![(0, 2), (1, 3), (1, 4), (2, 0), (3, 1), (4, 1)]
        );
        assert_eq!(r.features.row(1), &[4.0, 5.0, 6.0, 0.0, 0.0, 0.0]);
        assert_eq!(r.features.row(3), &[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert_eq!(r.local(3), (1, 1));
        assert_eq!(r.global(1, 2), 4);
    }

    #[test]
    fn bad_graphs_are_rejected() {
        let mut types = graph().node_types().to_vec();
        let sets = graph().edge_sets().to_vec();
        let mut bad = sets.clone();
        bad[0].dst[0] = 3;
        assert!(HeteroGraph::new(types.clone(), bad).is_err());
        let mut bad = sets.clone();
        bad[0].dst_type = "venue".into();
        assert!(HeteroGraph::new(types.clone(), bad).is_err());
        types.push(types[0].clone());
        assert!(HeteroGraph::new(types, sets).is_err());
    }
}
