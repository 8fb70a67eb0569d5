//! Datasets of many small graphs (graph classification and regression): the container,
//! seeded splits (stratified k-fold, train/val/test), and disjoint-union batching.

use crate::{DatasetError, Matrix};

/// What a graph is labelled with.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphTarget {
    /// A class in `0..num_classes`.
    Class(usize),
    /// Regression targets.
    Values(Vec<f32>),
}

/// One small graph: edges (directed; undirected ones listed both ways), node features, optional
/// edge features, its target.
#[derive(Debug, Clone, PartialEq)]
pub struct SmallGraph {
    /// Number of nodes.
    pub num_nodes: usize,
    /// Source of each edge, local ids.
    pub src: Vec<u32>,
    /// Target of each edge, local ids.
    pub dst: Vec<u32>,
    /// Node features `[num_nodes, F]`.
    pub x: Matrix,
    /// Edge features `[E, D]`, if the dataset has them.
    pub edge_attr: Option<Matrix>,
    /// The label.
    pub y: GraphTarget,
}

/// A graph-level dataset.
#[derive(Debug, Clone)]
pub struct GraphDataset {
    /// Name, e.g. `tu-mutag`.
    pub name: String,
    /// The graphs.
    pub graphs: Vec<SmallGraph>,
    /// Classes (classification) — `None` for regression.
    pub num_classes: Option<usize>,
    /// Node feature width `F`.
    pub num_node_features: usize,
    /// Edge feature width `D` (0 without edge features).
    pub num_edge_features: usize,
    /// The first this many node feature columns are raw continuous attributes (TU
    /// `_node_attributes.txt`), which training standardises ([`FeatureScaler`](crate::FeatureScaler));
    /// the other columns are one-hot or designed features, used as they are.
    pub continuous_node_features: usize,
}

impl GraphDataset {
    /// Number of graphs.
    pub fn len(&self) -> usize {
        self.graphs.len()
    }

    /// True without graphs.
    pub fn is_empty(&self) -> bool {
        self.graphs.is_empty()
    }

    /// Outputs a model needs: the classes, or the number of regression targets.
    pub fn num_outputs(&self) -> usize {
        match (self.num_classes, self.graphs.first().map(|g| &g.y)) {
            (Some(c), _) => c,
            (None, Some(GraphTarget::Values(v))) => v.len().max(1),
            _ => 1,
        }
    }

    /// The class of every graph (classification datasets).
    pub fn classes(&self) -> Option<Vec<usize>> {
        self.graphs
            .iter()
            .map(|g| match g.y {
                GraphTarget::Class(c) => Some(c),
                GraphTarget::Values(_) => None,
            })
            .collect()
    }
}

impl GraphDataset {
    /// Checks what training relies on, graph by graph: at least one graph; no more continuous
    /// feature columns than feature columns; every graph with at least one node (zero edges is
    /// allowed: the nodes are then updated from themselves alone), feature rows equal to its
    /// node count and widths equal to the dataset's, edge endpoints below its node count, one
    /// edge-feature row per edge, every feature finite, classes below `num_classes`,
    /// regression targets finite and of one width.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let bad = |g: usize, m: String| {
            Err(DatasetError::Invalid(format!(
                "dataset {}: graph {g}: {m}",
                self.name
            )))
        };
        if self.graphs.is_empty() {
            return Err(DatasetError::Invalid(format!(
                "dataset {}: no graphs",
                self.name
            )));
        }
        if self.continuous_node_features > self.num_node_features {
            return Err(DatasetError::Invalid(format!(
                "dataset {}: {} continuous node features, but {} in all",
                self.name, self.continuous_node_features, self.num_node_features
            )));
        }
        let width = match &self.graphs[0].y {
            GraphTarget::Values(v) => v.len(),
            GraphTarget::Class(_) => 0,
        };
        for (g, graph) in self.graphs.iter().enumerate() {
            let n = graph.num_nodes;
            if n == 0 {
                return bad(g, "no nodes".into());
            }
            if (graph.x.rows(), graph.x.cols()) != (n, self.num_node_features) {
                return bad(
                    g,
                    format!(
                        "features are {}x{}, expected {n}x{}",
                        graph.x.rows(),
                        graph.x.cols(),
                        self.num_node_features
                    ),
                );
            }
            if graph.src.len() != graph.dst.len() {
                return bad(g, "sources and targets differ in number".into());
            }
            if let Some(v) = graph
                .src
                .iter()
                .chain(&graph.dst)
                .find(|&&v| v as usize >= n)
            {
                return bad(g, format!("edge endpoint {v} is not one of its {n} nodes"));
            }
            match &graph.edge_attr {
                Some(e) if (e.rows(), e.cols()) != (graph.src.len(), self.num_edge_features) => {
                    return bad(
                        g,
                        format!(
                            "edge features are {}x{}, expected {}x{}",
                            e.rows(),
                            e.cols(),
                            graph.src.len(),
                            self.num_edge_features
                        ),
                    );
                }
                None if self.num_edge_features > 0 => {
                    return bad(g, "has no edge features".into());
                }
                _ => {}
            }
            let finite = graph.x.data().iter().all(|v| v.is_finite())
                && graph
                    .edge_attr
                    .as_ref()
                    .is_none_or(|e| e.data().iter().all(|v| v.is_finite()));
            if !finite {
                return bad(g, "a feature is not finite".into());
            }
            match (&graph.y, self.num_classes) {
                (GraphTarget::Class(c), Some(k)) if *c >= k => {
                    return bad(g, format!("class {c} is outside 0..{k}"));
                }
                (GraphTarget::Class(_), None) => {
                    return bad(g, "a class label in a regression dataset".into());
                }
                (GraphTarget::Values(_), Some(_)) => {
                    return bad(g, "regression targets in a classification dataset".into());
                }
                (GraphTarget::Values(v), None)
                    if v.len() != width || v.iter().any(|x| !x.is_finite()) =>
                {
                    return bad(
                        g,
                        format!("targets must be {width} finite values, got {v:?}"),
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Keeps only regression target `k` of every graph (e.g. QM9's dipole moment, `k = 0`).
    pub fn select_target(&mut self, k: usize) -> Result<(), DatasetError> {
        if self.num_classes.is_some() {
            return Err(DatasetError::Invalid(format!(
                "{} is a classification dataset; it has no targets to pick from",
                self.name
            )));
        }
        for g in &mut self.graphs {
            if let GraphTarget::Values(v) = &mut g.y {
                let Some(&value) = v.get(k) else {
                    return Err(DatasetError::Invalid(format!(
                        "{}: target {k} does not exist (the graphs have {} targets)",
                        self.name,
                        v.len()
                    )));
                };
                *v = vec![value];
            }
        }
        Ok(())
    }
}

/// Per-column mean and population standard deviation of `rows` (each at least `width` long;
/// only the first `width` columns count), in f64; a constant column gets `σ = 1` and no rows
/// give `μ = 0, σ = 1`.
pub(crate) fn column_moments<'a>(
    rows: impl Iterator<Item = &'a [f32]> + Clone,
    width: usize,
) -> (Vec<f32>, Vec<f32>) {
    let n = rows.clone().count() as f64;
    let mut mean = vec![0f64; width];
    for row in rows.clone() {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += f64::from(x) / n;
        }
    }
    let mut var = vec![0f64; width];
    for row in rows {
        for ((v, &x), m) in var.iter_mut().zip(row).zip(&mean) {
            *v += (f64::from(x) - m).powi(2) / n;
        }
    }
    (
        mean.iter().map(|&m| m as f32).collect(),
        var.iter()
            .map(|&v| if v > 0.0 { v.sqrt() as f32 } else { 1.0 })
            .collect(),
    )
}

/// Per-target mean `μ_t` and standard deviation `σ_t` of regression targets (computed on the
/// training graphs): targets are trained as `(y − μ) / σ` and predictions mapped back with
/// `ŷ σ + μ`, so losses and errors are reported in the target's own units.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetScaler {
    /// `μ_t`.
    pub mean: Vec<f32>,
    /// `σ_t` (population standard deviation; 1 where a target is constant).
    pub std: Vec<f32>,
}

impl TargetScaler {
    /// The statistics of the graphs `ids` of a regression `dataset`.
    pub fn fit(dataset: &GraphDataset, ids: &[usize]) -> Result<Self, DatasetError> {
        let values: Vec<&Vec<f32>> = ids
            .iter()
            .filter_map(|&i| match &dataset.graphs.get(i)?.y {
                GraphTarget::Values(v) => Some(v),
                GraphTarget::Class(_) => None,
            })
            .collect();
        let Some(width) = values.first().map(|v| v.len()) else {
            return Err(DatasetError::Invalid(format!(
                "{}: no regression targets to normalise",
                dataset.name
            )));
        };
        if values.iter().any(|v| v.len() != width) {
            return Err(DatasetError::Invalid(format!(
                "{}: graphs have different numbers of targets",
                dataset.name
            )));
        }
        let (mean, std) = column_moments(values.iter().map(|v| v.as_slice()), width);
        Ok(TargetScaler { mean, std })
    }

    /// `(y − μ) / σ` for every graph of `dataset`.
    pub fn normalize(&self, dataset: &mut GraphDataset) {
        for g in &mut dataset.graphs {
            if let GraphTarget::Values(v) = &mut g.y {
                for ((x, m), s) in v.iter_mut().zip(&self.mean).zip(&self.std) {
                    *x = (*x - m) / s;
                }
            }
        }
    }

    /// `ŷ σ + μ` in place for row-major predictions `[B, T]`.
    pub fn denormalize(&self, values: &mut [f32]) {
        let t = self.mean.len().max(1);
        for (i, x) in values.iter_mut().enumerate() {
            let k = i % t;
            if let (Some(m), Some(s)) = (self.mean.get(k), self.std.get(k)) {
                *x = *x * s + m;
            }
        }
    }
}

/// The seeded generator of shuffles: [`SplitMix64`](crate::synthetic::SplitMix64).
pub type Rng = crate::synthetic::SplitMix64;

/// Index sets of one split of a graph dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSplit {
    /// Training graphs.
    pub train: Vec<usize>,
    /// Validation graphs (may be empty).
    pub val: Vec<usize>,
    /// Test graphs.
    pub test: Vec<usize>,
}

/// Stratified `k`-fold cross-validation: each class's graphs are shuffled (seeded) and dealt
/// round-robin into `k` folds, so every fold has the class proportions of the whole. Fold `i`
/// is the test set of split `i`; the fold after it (mod `k`) is its validation set, the rest
/// its training set.
pub fn stratified_folds(
    classes: &[usize],
    k: usize,
    seed: u64,
) -> Result<Vec<GraphSplit>, DatasetError> {
    if k < 3 || k > classes.len() {
        return Err(DatasetError::Invalid(format!(
            "k-fold needs 3 ≤ k ≤ number of graphs ({}), got {k}",
            classes.len()
        )));
    }
    let num_classes = classes.iter().copied().max().map_or(0, |m| m + 1);
    let mut rng = Rng::new(seed);
    let mut fold_of = vec![0usize; classes.len()];
    let mut next = 0usize;
    for c in 0..num_classes {
        let mut members: Vec<usize> = (0..classes.len()).filter(|&i| classes[i] == c).collect();
        rng.shuffle(&mut members);
        for i in members {
            fold_of[i] = next % k;
            next += 1;
        }
    }
    Ok((0..k)
        .map(|f| {
            let v = (f + 1) % k;
            let pick = |want: &dyn Fn(usize) -> bool| -> Vec<usize> {
                (0..classes.len()).filter(|&i| want(fold_of[i])).collect()
            };
            GraphSplit {
                train: pick(&|x| x != f && x != v),
                val: pick(&|x| x == v),
                test: pick(&|x| x == f),
            }
        })
        .collect())
}

/// A seeded random split into train/val/test of fractions `train` and `val` (the rest is test).
pub fn random_split(n: usize, train: f64, val: f64, seed: u64) -> GraphSplit {
    let mut ids: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut ids);
    let a = ((n as f64) * train).round() as usize;
    let b = (a + ((n as f64) * val).round() as usize).min(n);
    GraphSplit {
        train: ids[..a.min(n)].to_vec(),
        val: ids[a.min(n)..b].to_vec(),
        test: ids[b..].to_vec(),
    }
}

/// Graphs joined into one disjoint union: node ids offset, a batch vector, features stacked.
#[derive(Debug, Clone, PartialEq)]
pub struct Collated {
    /// Total nodes.
    pub num_nodes: usize,
    /// Sources, global ids.
    pub src: Vec<usize>,
    /// Targets, global ids.
    pub dst: Vec<usize>,
    /// Graph of each node, `0..num_graphs`.
    pub batch: Vec<usize>,
    /// Number of graphs.
    pub num_graphs: usize,
    /// Node features, `[num_nodes, F]` row-major.
    pub x: Vec<f32>,
    /// Edge features, `[E, D]` row-major (empty without).
    pub edge_attr: Vec<f32>,
    /// Targets of the graphs, in order.
    pub y: Vec<GraphTarget>,
}

/// Joins `graphs` (PyG's `Batch.from_data_list`).
pub fn collate(graphs: &[&SmallGraph]) -> Collated {
    let mut c = Collated {
        num_nodes: 0,
        src: vec![],
        dst: vec![],
        batch: vec![],
        num_graphs: graphs.len(),
        x: vec![],
        edge_attr: vec![],
        y: vec![],
    };
    for (b, g) in graphs.iter().enumerate() {
        let off = c.num_nodes;
        c.src.extend(g.src.iter().map(|&s| s as usize + off));
        c.dst.extend(g.dst.iter().map(|&d| d as usize + off));
        c.batch.extend(std::iter::repeat_n(b, g.num_nodes));
        c.x.extend_from_slice(g.x.data());
        if let Some(e) = &g.edge_attr {
            c.edge_attr.extend_from_slice(e.data());
        }
        c.y.push(g.y.clone());
        c.num_nodes += g.num_nodes;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(u32, u32)], class: usize) -> SmallGraph {
        SmallGraph {
            num_nodes: n,
            src: edges.iter().map(|e| e.0).collect(),
            dst: edges.iter().map(|e| e.1).collect(),
            x: Matrix::new(n, 1, (0..n).map(|i| i as f32).collect()).unwrap(),
            edge_attr: Some(Matrix::new(edges.len(), 1, vec![1.0; edges.len()]).unwrap()),
            y: GraphTarget::Class(class),
        }
    }

    #[test]
    fn collate_offsets_ids_and_builds_the_batch_vector() {
        let a = graph(2, &[(0, 1), (1, 0)], 0);
        let b = graph(3, &[(2, 0)], 1);
        let c = collate(&[&a, &b]);
        assert_eq!(c.num_nodes, 5);
        assert_eq!(c.src, [0, 1, 4]);
        assert_eq!(c.dst, [1, 0, 2]);
        assert_eq!(c.batch, [0, 0, 1, 1, 1]);
        assert_eq!(c.x, [0.0, 1.0, 0.0, 1.0, 2.0]);
        assert_eq!(c.edge_attr.len(), 3);
        assert_eq!(c.y, [GraphTarget::Class(0), GraphTarget::Class(1)]);
    }

    #[test]
    fn stratified_folds_partition_and_keep_proportions() {
        let classes: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect();
        let folds = stratified_folds(&classes, 10, 7).unwrap();
        let mut seen = vec![0; 100];
        for f in &folds {
            for &i in &f.test {
                seen[i] += 1;
            }
            assert_eq!(f.test.len(), 10);
            let ones = f.test.iter().filter(|&&i| classes[i] == 1).count();
            assert!((2..=3).contains(&ones), "fold has {ones} of class 1");
            assert_eq!(f.train.len() + f.val.len() + f.test.len(), 100);
            assert!(f.val.iter().all(|i| !f.test.contains(i)));
        }
        assert!(seen.iter().all(|&s| s == 1), "every graph is tested once");
        assert_eq!(folds, stratified_folds(&classes, 10, 7).unwrap(), "seeded");
        assert_ne!(folds, stratified_folds(&classes, 10, 8).unwrap());
        assert!(stratified_folds(&classes, 1, 0).is_err());
    }

    #[test]
    fn random_split_partitions() {
        let s = random_split(101, 0.8, 0.1, 3);
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (81, 10, 10));
        let mut all: Vec<usize> = [s.train, s.val, s.test].concat();
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>());
    }

    #[test]
    fn target_selection_and_scaling_round_trip() {
        let g = |v: Vec<f32>| SmallGraph {
            num_nodes: 1,
            src: vec![],
            dst: vec![],
            x: Matrix::zeros(1, 1),
            edge_attr: None,
            y: GraphTarget::Values(v),
        };
        let mut ds = GraphDataset {
            name: "t".into(),
            graphs: vec![g(vec![1.0, 5.0]), g(vec![3.0, 5.0]), g(vec![100.0, 5.0])],
            num_classes: None,
            num_node_features: 1,
            num_edge_features: 0,
            continuous_node_features: 0,
        };
        let s = TargetScaler::fit(&ds, &[0, 1]).unwrap();
        assert_eq!(s.mean, [2.0, 5.0]);
        assert_eq!(s.std, [1.0, 1.0]);
        assert!(ds.clone().select_target(2).is_err());
        ds.select_target(0).unwrap();
        let s = TargetScaler::fit(&ds, &[0, 1]).unwrap();
        s.normalize(&mut ds);
        assert_eq!(ds.graphs[2].y, GraphTarget::Values(vec![98.0]));
        let mut p = [98.0f32, -1.0];
        s.denormalize(&mut p);
        assert_eq!(p, [100.0, 1.0]);
        assert!(TargetScaler::fit(&ds, &[]).is_err());
    }

    #[test]
    fn validation_names_the_graph_and_the_cause() {
        let good = || GraphDataset {
            name: "v".into(),
            graphs: vec![graph(3, &[(0, 1), (1, 2)], 0), graph(2, &[], 1)],
            num_classes: Some(2),
            num_node_features: 1,
            num_edge_features: 1,
            continuous_node_features: 0,
        };
        good().validate().unwrap();
        type Breaker = Box<dyn Fn(&mut GraphDataset)>;
        let cases: Vec<(Breaker, &str)> = vec![
            (Box::new(|d| d.graphs.clear()), "no graphs"),
            (Box::new(|d| d.graphs[1].num_nodes = 0), "no nodes"),
            (Box::new(|d| d.graphs[0].dst[1] = 7), "endpoint 7"),
            (
                Box::new(|d| d.graphs[0].y = GraphTarget::Class(2)),
                "class 2",
            ),
            (
                Box::new(|d| d.graphs[0].x.row_mut(1)[0] = f32::NAN),
                "not finite",
            ),
            (Box::new(|d| d.num_node_features = 2), "features are"),
            (Box::new(|d| d.num_edge_features = 2), "edge features are"),
            (
                Box::new(|d| d.graphs[1].edge_attr = None),
                "no edge features",
            ),
            (
                Box::new(|d| d.graphs[1].y = GraphTarget::Values(vec![1.0])),
                "regression targets",
            ),
        ];
        for (break_it, want) in cases {
            let mut d = good();
            break_it(&mut d);
            let e = d.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }
}
