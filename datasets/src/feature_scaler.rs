//! Standardisation of the continuous node attributes of a graph dataset, fitted on the
//! training graphs only.

use crate::graph_set::{GraphDataset, column_moments};

/// Per-column statistics of the continuous node attributes (the first
/// [`GraphDataset::continuous_node_features`] columns) over every node of the training graphs:
/// features are used as `x_{ij} ← (x_{ij} − μ_j) / σ_j` for those columns `j`; the others
/// (one-hot labels) stay as they are.
///
/// TU attribute files hold raw physical quantities (hundreds, thousands) next to 0/1 label
/// columns; unscaled, those columns dominate a first layer's products and its gradients.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureScaler {
    /// `μ_j`, one per continuous column.
    pub mean: Vec<f32>,
    /// `σ_j` (population standard deviation; 1 where a column is constant).
    pub std: Vec<f32>,
}

impl FeatureScaler {
    /// The statistics of the continuous columns over the nodes of graphs `ids` (ids past the
    /// end are ignored; without nodes every column gets `μ = 0, σ = 1`).
    pub fn fit(dataset: &GraphDataset, ids: &[usize]) -> Self {
        let width = dataset
            .continuous_node_features
            .min(dataset.num_node_features);
        let rows = ids
            .iter()
            .filter_map(|&i| dataset.graphs.get(i))
            .flat_map(|g| (0..g.x.rows()).map(|r| &g.x.row(r)[..width]));
        let (mean, std) = column_moments(rows, width);
        FeatureScaler { mean, std }
    }

    /// Standardises the continuous columns of every graph of `dataset` in place.
    pub fn apply(&self, dataset: &mut GraphDataset) {
        for g in &mut dataset.graphs {
            for r in 0..g.x.rows() {
                for ((x, m), s) in g.x.row_mut(r).iter_mut().zip(&self.mean).zip(&self.std) {
                    *x = (*x - m) / s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Matrix;
    use crate::graph_set::{GraphTarget, SmallGraph};

    fn graph(rows: &[[f32; 2]]) -> SmallGraph {
        SmallGraph {
            num_nodes: rows.len(),
            src: vec![],
            dst: vec![],
            x: Matrix::new(rows.len(), 2, rows.concat()).unwrap(),
            edge_attr: None,
            y: GraphTarget::Class(0),
        }
    }

    #[test]
    fn standardises_the_attribute_columns_with_training_statistics_only() {
        let mut ds = GraphDataset {
            name: "toy".into(),
            graphs: vec![
                graph(&[[100.0, 1.0], [300.0, 0.0]]),
                graph(&[[200.0, 1.0]]),
                graph(&[[5000.0, 0.0]]),
            ],
            num_classes: Some(1),
            num_node_features: 2,
            num_edge_features: 0,
            continuous_node_features: 1,
        };
        let s = FeatureScaler::fit(&ds, &[0, 1]);
        assert_eq!(s.mean, [200.0]);
        let sigma = (20000.0f32 / 3.0).sqrt();
        assert!((s.std[0] - sigma).abs() < 1e-3, "{:?}", s.std);
        s.apply(&mut ds);
        assert!((ds.graphs[0].x.row(0)[0] + 100.0 / sigma).abs() < 1e-5);
        assert_eq!(ds.graphs[1].x.row(0), [0.0, 1.0]);
        // The held-out graph is mapped with the training statistics, not its own.
        assert!((ds.graphs[2].x.row(0)[0] - 4800.0 / sigma).abs() < 1e-2);
        // Label columns are untouched.
        assert_eq!(ds.graphs[0].x.row(1)[1], 0.0);
    }

    #[test]
    fn constant_or_absent_columns_are_left_centred_with_unit_scale() {
        let ds = GraphDataset {
            name: "toy".into(),
            graphs: vec![graph(&[[3.0, 1.0], [3.0, 0.0]])],
            num_classes: Some(1),
            num_node_features: 2,
            num_edge_features: 0,
            continuous_node_features: 2,
        };
        let s = FeatureScaler::fit(&ds, &[0]);
        assert_eq!(s.mean, [3.0, 0.5]);
        assert_eq!(s.std, [1.0, 0.5]);
        let none = FeatureScaler::fit(&ds, &[]);
        assert_eq!((none.mean, none.std), (vec![0.0, 0.0], vec![1.0, 1.0]));
    }
}
