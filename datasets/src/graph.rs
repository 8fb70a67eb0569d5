//! Host-side graph data: an edge list, a dense feature matrix, labels and a split.
//!
//! Plain Rust values with no tensor library behind them, so users and tests can load and inspect
//! a dataset without a device; `gnn-train` turns them into device tensors.

use crate::DatasetError;
use std::sync::Arc;

/// A directed edge list over `num_nodes` nodes: edge `e` carries messages `src[e] → dst[e]`.
///
/// Invariant (checked by [`EdgeList::new`]): `src.len() == dst.len()` and every index is
/// `< num_nodes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeList {
    num_nodes: usize,
    src: Vec<usize>,
    dst: Vec<usize>,
}

impl EdgeList {
    /// Builds an edge list, checking lengths and index ranges.
    pub fn new(num_nodes: usize, src: Vec<usize>, dst: Vec<usize>) -> Result<Self, DatasetError> {
        if src.len() != dst.len() {
            return Err(DatasetError::Invalid(format!(
                "edge list: {} sources but {} targets",
                src.len(),
                dst.len()
            )));
        }
        if let Some(e) = src
            .iter()
            .zip(&dst)
            .position(|(&s, &d)| s >= num_nodes || d >= num_nodes)
        {
            return Err(DatasetError::Invalid(format!(
                "edge list: edge {e} ({} -> {}) points outside 0..{num_nodes}",
                src[e], dst[e]
            )));
        }
        Ok(EdgeList {
            num_nodes,
            src,
            dst,
        })
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// Number of directed edges.
    pub fn num_edges(&self) -> usize {
        self.src.len()
    }

    /// Source node of each edge.
    pub fn src(&self) -> &[usize] {
        &self.src
    }

    /// Target node of each edge.
    pub fn dst(&self) -> &[usize] {
        &self.dst
    }

    /// Iterates over `(src, dst)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.src.iter().copied().zip(self.dst.iter().copied())
    }

    /// Number of `(i, i)` edges.
    pub fn num_self_loops(&self) -> usize {
        self.iter().filter(|(s, d)| s == d).count()
    }

    /// True when every edge `(a, b)` has its reverse `(b, a)`.
    pub fn is_undirected(&self) -> bool {
        let mut fwd: Vec<(usize, usize)> = self.iter().collect();
        let mut rev: Vec<(usize, usize)> = self.iter().map(|(s, d)| (d, s)).collect();
        fwd.sort_unstable();
        rev.sort_unstable();
        fwd == rev
    }
}

/// A dense row-major `rows × cols` matrix of `f32` (node features).
///
/// Its values live in memory, shared between clones (a clone is cheap; the first write to a
/// shared matrix copies it), or in a file mapped into memory ([`feature_file`]), which the
/// operating system pages in as rows are read — for features larger than the memory the
/// process should hold. Writing to a mapped matrix copies it into memory first.
///
/// [`feature_file`]: crate::feature_file
#[derive(Debug, Clone)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    /// The values in memory (empty while `mapped` holds them).
    data: Arc<Vec<f32>>,
    /// The values in a mapped file.
    mapped: Option<crate::feature_file::MappedValues>,
}

impl PartialEq for Matrix {
    fn eq(&self, other: &Self) -> bool {
        (self.rows, self.cols) == (other.rows, other.cols) && self.data() == other.data()
    }
}

impl Matrix {
    /// Wraps row-major `data`; its length must be `rows × cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self, DatasetError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(DatasetError::Invalid(format!(
                "matrix: {} values cannot be {rows} x {cols}",
                data.len()
            )));
        }
        Ok(Matrix {
            rows,
            cols,
            data: Arc::new(data),
            mapped: None,
        })
    }

    /// A matrix over values mapped from a file (their count is `rows × cols`).
    pub(crate) fn mapped(
        rows: usize,
        cols: usize,
        values: crate::feature_file::MappedValues,
    ) -> Self {
        Matrix {
            rows,
            cols,
            data: Arc::default(),
            mapped: Some(values),
        }
    }

    /// An all-zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: Arc::new(vec![0.0; rows * cols]),
            mapped: None,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major values.
    pub fn data(&self) -> &[f32] {
        match &self.mapped {
            Some(m) => m.values(),
            None => &self.data,
        }
    }

    /// Whether the values are read from a mapped file.
    pub fn is_mapped(&self) -> bool {
        self.mapped.is_some()
    }

    /// The values for writing: this matrix's own copy in memory.
    fn data_mut(&mut self) -> &mut Vec<f32> {
        if let Some(m) = self.mapped.take() {
            self.data = Arc::new(m.values().to_vec());
        }
        Arc::make_mut(&mut self.data)
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data()[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutable (a shared or mapped matrix is copied first).
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        let cols = self.cols;
        &mut self.data_mut()[i * cols..(i + 1) * cols]
    }

    /// Number of non-zero values.
    pub fn nnz(&self) -> usize {
        self.data().iter().filter(|&&v| v != 0.0).count()
    }

    /// Consumes the matrix, returning `(rows, cols, data)`.
    pub fn into_parts(mut self) -> (usize, usize, Vec<f32>) {
        let data = std::mem::take(self.data_mut());
        (self.rows, self.cols, data)
    }
}

/// Node ids of the training, validation and test sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Training nodes.
    pub train: Vec<usize>,
    /// Validation nodes.
    pub val: Vec<usize>,
    /// Test nodes.
    pub test: Vec<usize>,
}

impl Split {
    /// A boolean mask of length `n` that is true at `ids`.
    pub fn mask(ids: &[usize], n: usize) -> Vec<bool> {
        let mut m = vec![false; n];
        for &i in ids {
            if i < n {
                m[i] = true;
            }
        }
        m
    }
}

/// The relation of every edge of a multi-relational graph, and the relation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relations {
    /// Relation of each edge, in `0..names.len()`.
    pub edge_type: Vec<usize>,
    /// Name of each relation (e.g. an RDF predicate IRI, `rev:` + IRI for its inverse).
    pub names: Vec<String>,
}

impl Relations {
    /// Number of relations.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there is no relation.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A node-classification dataset: one graph, features and labels per node, and a split.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDataset {
    /// Dataset name (e.g. `cora`).
    pub name: String,
    /// The directed edges.
    pub edges: EdgeList,
    /// Node features, `num_nodes × num_features`; 0 columns for a featureless graph (models
    /// then learn one embedding per node).
    pub features: Matrix,
    /// Class of each node; `None` for nodes without a label (CiteSeer's padded test slots).
    pub labels: Vec<Option<usize>>,
    /// Number of classes.
    pub num_classes: usize,
    /// Node ids of each split; every id in it has a label.
    pub split: Split,
    /// Edge relation types, for multi-relational graphs.
    pub relations: Option<Relations>,
}

impl NodeDataset {
    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.edges.num_nodes()
    }

    /// Number of input features per node.
    pub fn num_features(&self) -> usize {
        self.features.cols()
    }

    /// Checks the invariants that the rest of the library relies on: feature rows and labels
    /// match the node count, labels are below `num_classes`, features are finite, and each split
    /// only names labelled nodes, with a non-empty training set.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let n = self.num_nodes();
        let bad = |m: String| Err(DatasetError::Invalid(format!("dataset {}: {m}", self.name)));
        if self.features.rows() != n {
            return bad(format!(
                "{} feature rows for {n} nodes",
                self.features.rows()
            ));
        }
        if self.labels.len() != n {
            return bad(format!("{} labels for {n} nodes", self.labels.len()));
        }
        if let Some(i) = self
            .labels
            .iter()
            .position(|l| l.is_some_and(|c| c >= self.num_classes))
        {
            return bad(format!(
                "label of node {i} is outside 0..{}",
                self.num_classes
            ));
        }
        if let Some(i) = self.features.data().iter().position(|v| !v.is_finite()) {
            return bad(format!(
                "feature {} of node {} is not finite",
                i % self.features.cols().max(1),
                i / self.features.cols().max(1)
            ));
        }
        for (name, ids) in [
            ("train", &self.split.train),
            ("val", &self.split.val),
            ("test", &self.split.test),
        ] {
            if let Some(&i) = ids.iter().find(|&&i| i >= n || self.labels[i].is_none()) {
                return bad(format!(
                    "{name} split names node {i}, which is unlabelled or out of range"
                ));
            }
        }
        if self.split.train.is_empty() {
            return bad("the training split is empty".into());
        }
        if let Some(r) = &self.relations {
            if r.edge_type.len() != self.edges.num_edges() {
                return bad(format!(
                    "{} edge types for {} edges",
                    r.edge_type.len(),
                    self.edges.num_edges()
                ));
            }
            if let Some(e) = r.edge_type.iter().position(|&t| t >= r.names.len()) {
                return bad(format!(
                    "edge {e} has relation {} of {}",
                    r.edge_type[e],
                    r.names.len()
                ));
            }
        }
        Ok(())
    }

    /// Nodes per class over all labelled nodes.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.num_classes];
        for l in self.labels.iter().flatten() {
            c[*l] += 1;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_list_rejects_bad_input() {
        assert!(EdgeList::new(3, vec![0, 1], vec![1]).is_err());
        assert!(EdgeList::new(3, vec![0, 3], vec![1, 2]).is_err());
        assert!(EdgeList::new(3, vec![0, 2], vec![1, 2]).is_ok());
    }

    #[test]
    fn matrix_checks_its_size() {
        assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err());
        assert!(Matrix::new(usize::MAX, 2, vec![]).is_err());
        assert_eq!(Matrix::new(2, 3, vec![0.0; 6]).unwrap().row(1).len(), 3);
    }
}
