//! Transforms on host-side graphs: symmetrise and deduplicate edges, drop self-loops,
//! row-normalise features.

use crate::graph::{EdgeList, Matrix};

/// Makes the graph undirected: adds the reverse `(b, a)` of every edge `(a, b)`, then removes
/// duplicates. The result is sorted by `(src, dst)` (PyG's `to_undirected` + `coalesce`).
/// Self-loops are kept once; use [`remove_self_loops`] to drop them.
pub fn to_undirected(edges: &EdgeList) -> EdgeList {
    let mut pairs: Vec<(usize, usize)> = edges.iter().flat_map(|(s, d)| [(s, d), (d, s)]).collect();
    pairs.sort_unstable();
    pairs.dedup();
    from_pairs(edges.num_nodes(), pairs)
}

/// Removes every `(i, i)` edge, keeping the order of the others.
pub fn remove_self_loops(edges: &EdgeList) -> EdgeList {
    from_pairs(
        edges.num_nodes(),
        edges.iter().filter(|(s, d)| s != d).collect(),
    )
}

/// Sorts the edges by `(src, dst)` and removes duplicates.
pub fn coalesce(edges: &EdgeList) -> EdgeList {
    let mut pairs: Vec<(usize, usize)> = edges.iter().collect();
    pairs.sort_unstable();
    pairs.dedup();
    from_pairs(edges.num_nodes(), pairs)
}

fn from_pairs(num_nodes: usize, pairs: Vec<(usize, usize)>) -> EdgeList {
    let (src, dst) = pairs.into_iter().unzip();
    // Indices come from an already validated edge list.
    EdgeList::new(num_nodes, src, dst).expect("transform keeps indices in range")
}

/// Divides each row by its sum, `x_i ← x_i / Σ_j x_ij`; rows that sum to 0 stay 0
/// (PyG's `NormalizeFeatures`).
pub fn row_normalize(features: &mut Matrix) {
    for i in 0..features.rows() {
        let row = features.row_mut(i);
        let inv = row_scale(row);
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

/// The factor [`row_normalize`] multiplies each row by (`1 / Σ_j x_ij`, or 1 for a row summing
/// to 0), computed in parallel: for rows gathered elsewhere, normalised as they are copied
/// (the same values, bit for bit).
pub fn row_scales(features: &Matrix) -> Vec<f32> {
    use rayon::prelude::*;
    (0..features.rows())
        .into_par_iter()
        .map(|i| row_scale(features.row(i)))
        .collect()
}

fn row_scale(row: &[f32]) -> f32 {
    let s: f32 = row.iter().sum();
    if s != 0.0 { 1.0 / s } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_scales_normalise_as_row_normalize_does() {
        let x = Matrix::new(3, 3, vec![1.0, 3.0, 7.0, 0.0, 0.0, 0.0, 0.1, 0.7, 0.3]).unwrap();
        let mut normalized = x.clone();
        row_normalize(&mut normalized);
        let scales = row_scales(&x);
        for (i, s) in scales.iter().enumerate() {
            let scaled: Vec<f32> = x.row(i).iter().map(|v| v * s).collect();
            assert_eq!(scaled, normalized.row(i));
        }
    }

    fn edges(n: usize, e: &[(usize, usize)]) -> EdgeList {
        EdgeList::new(
            n,
            e.iter().map(|p| p.0).collect(),
            e.iter().map(|p| p.1).collect(),
        )
        .unwrap()
    }

    #[test]
    fn undirected_symmetrises_and_dedupes() {
        let g = to_undirected(&edges(4, &[(0, 1), (1, 0), (0, 1), (2, 3), (2, 2)]));
        let got: Vec<_> = g.iter().collect();
        assert_eq!(got, vec![(0, 1), (1, 0), (2, 2), (2, 3), (3, 2)]);
        assert!(g.is_undirected());
        assert_eq!(remove_self_loops(&g).num_edges(), 4);
    }

    #[test]
    fn row_normalize_keeps_zero_rows() {
        let mut m = Matrix::new(2, 3, vec![1.0, 1.0, 2.0, 0.0, 0.0, 0.0]).unwrap();
        row_normalize(&mut m);
        assert_eq!(m.data(), &[0.25, 0.25, 0.5, 0.0, 0.0, 0.0]);
    }
}
