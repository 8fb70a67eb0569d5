//! The symmetric normalisation of GCN (Kipf & Welling 2017).

use burn::tensor::Tensor;

use super::degree::weighted_in_degree;
use super::segment::gather_rows;
use super::self_loops::add_self_loops;
use crate::Graph;

/// Returns the graph with GCN's normalised edge weights `D^{-1/2} Â D^{-1/2}` (PyG's `gcn_norm`).
///
/// 1. `w_e` = the graph's edge weight, or 1.
/// 2. If `add_loops`: the existing `(i, i)` edges are replaced by one loop per node (see
///    [`add_self_loops`]) weighing 1, or 2 when `improved` (`Â = A + 2I`) — on a weighted graph;
///    on an unweighted graph all loops weigh 1, as in PyG.
/// 3. `deg[i] = Σ_{e : dst[e] = i} w_e`, `d_i = deg[i]^{-1/2}` (0 where `deg[i] = 0`).
/// 4. `w_e ← d_{src[e]} · w_e · d_{dst[e]}`.
///
/// The result always has edge weights; gradients flow back to the input weights.
///
/// # Shapes
/// - output: `E' = E - loops + N` edges with `add_loops`, else `E`
pub fn gcn_norm(graph: &Graph, improved: bool, add_loops: bool) -> Graph {
    let g = if add_loops {
        add_self_loops(graph, if improved { 2.0 } else { 1.0 })
    } else {
        graph.clone()
    };
    let device = g.device();
    let w = g
        .edge_weight()
        .cloned()
        .unwrap_or_else(|| Tensor::ones([g.num_edges()], &device));
    let deg = weighted_in_degree(&g);
    // deg^{-1/2} with 0 where deg = 0; zero degrees are replaced by 1 before the power so that
    // no inf (and no NaN gradient) appears anywhere.
    let zero = deg.clone().equal_elem(0.0);
    let inv_sqrt = deg
        .mask_fill(zero.clone(), 1.0)
        .powf_scalar(-0.5)
        .mask_fill(zero, 0.0);
    let norm = gather_rows(inv_sqrt.clone(), g.src()) * w * gather_rows(inv_sqrt, g.dst());
    g.with_edge_weight(norm)
        .expect("normalised weights have one value per edge")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use burn::tensor::Device;

    #[test]
    fn matches_dense_formula() {
        // Path 0 - 1 - 2 (both directions) plus a loop at 2 that gets replaced.
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 1, 2, 2], &[1, 0, 2, 1, 2], 3, &d).unwrap();
        let n = gcn_norm(&g, false, true);
        // Â = A + I: degrees 2, 3, 2.
        let deg = [2.0f32, 3.0, 2.0];
        let want: Vec<f32> = n
            .host_src()
            .iter()
            .zip(n.host_dst())
            .map(|(&s, &t)| 1.0 / (deg[s as usize] * deg[t as usize]).sqrt())
            .collect();
        assert_close(
            &to_vec(n.edge_weight().unwrap().clone()),
            &want,
            1e-6,
            "gcn_norm",
        );
    }

    #[test]
    fn isolated_nodes_get_zero_not_inf() {
        let d = Device::flex();
        let g = Graph::new(&[0], &[1], 3, &d).unwrap();
        let n = gcn_norm(&g, false, false);
        let w = to_vec(n.edge_weight().unwrap().clone());
        assert!(w.iter().all(|v| v.is_finite()), "{w:?}");
    }
}
