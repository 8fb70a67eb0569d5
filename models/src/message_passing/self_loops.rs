//! Adding and removing self-loops `(i, i)`.
//!
//! The edge structure is rewritten on the host (the graph keeps a host copy of its indices);
//! edge weights are carried over with device `select`s, so gradients still reach them.

use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::Graph;

fn index_tensor(ids: &[u32], graph: &Graph) -> Tensor<1, Int> {
    let data: Vec<i64> = ids.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(data, [ids.len()]), &graph.device())
}

/// Removes every `(i, i)` edge, keeping the others in order (with their weights).
pub fn remove_self_loops(graph: &Graph) -> Graph {
    let keep: Vec<u32> = (0..graph.num_edges() as u32)
        .filter(|&e| graph.host_src()[e as usize] != graph.host_dst()[e as usize])
        .collect();
    if keep.len() == graph.num_edges() {
        return graph.clone();
    }
    let src = keep.iter().map(|&e| graph.host_src()[e as usize]).collect();
    let dst = keep.iter().map(|&e| graph.host_dst()[e as usize]).collect();
    let weight = graph
        .edge_weight()
        .map(|w| w.clone().select(0, index_tensor(&keep, graph)));
    graph.with_edges(src, dst, weight)
}

/// Replaces the self-loops of the graph by exactly one loop per node (PyG's
/// `add_remaining_self_loops`).
///
/// The non-loop edges are kept in order, then loops `(0,0), …, (N-1,N-1)` are appended. On a
/// weighted graph a node's loop keeps the weight of the loop it had (the last one, if several),
/// and new loops weigh `fill`; on an unweighted graph the result stays unweighted (every loop
/// weighs 1, whatever `fill` is — PyG's behaviour).
///
/// # Shapes
/// - output: `E' = (E - loops) + N` edges
pub fn add_self_loops(graph: &Graph, fill: f32) -> Graph {
    let n = graph.num_nodes();
    let (hs, hd) = (graph.host_src(), graph.host_dst());
    let mut keep = Vec::with_capacity(graph.num_edges());
    let mut loop_edge: Vec<Option<u32>> = vec![None; n];
    for e in 0..graph.num_edges() {
        if hs[e] == hd[e] {
            loop_edge[hs[e] as usize] = Some(e as u32);
        } else {
            keep.push(e as u32);
        }
    }
    let mut src: Vec<u32> = keep.iter().map(|&e| hs[e as usize]).collect();
    let mut dst: Vec<u32> = keep.iter().map(|&e| hd[e as usize]).collect();
    src.extend(0..n as u32);
    dst.extend(0..n as u32);

    let weight = graph.edge_weight().map(|w| {
        let device = w.device();
        let kept = if keep.len() == graph.num_edges() {
            w.clone()
        } else {
            w.clone().select(0, index_tensor(&keep, graph))
        };
        let mut loops = Tensor::<1>::full([n], fill, &device);
        if loop_edge.iter().any(Option::is_some) {
            let from: Vec<u32> = loop_edge.iter().map(|e| e.unwrap_or(0)).collect();
            let has: Vec<bool> = loop_edge.iter().map(Option::is_some).collect();
            let mask = Tensor::<1, Bool>::from_data(TensorData::new(has, [n]), &device);
            loops = loops.mask_where(mask, w.clone().select(0, index_tensor(&from, graph)));
        }
        Tensor::cat(vec![kept, loops], 0)
    });
    graph.with_edges(src, dst, weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use burn::tensor::Device;

    #[test]
    fn loops_are_replaced_keeping_their_weight() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2, 1], &[1, 1, 0, 2], 3, &d)
            .unwrap()
            .with_edge_weights(&[0.5, 7.0, 1.5, 2.5])
            .unwrap();
        let l = add_self_loops(&g, 2.0);
        assert_eq!(l.host_src(), &[0, 2, 1, 0, 1, 2]);
        assert_eq!(l.host_dst(), &[1, 0, 2, 0, 1, 2]);
        assert_eq!(
            to_vec(l.edge_weight().unwrap().clone()),
            vec![0.5, 1.5, 2.5, 2.0, 7.0, 2.0]
        );
        let r = remove_self_loops(&g);
        assert_eq!(r.host_src(), &[0, 2, 1]);
        assert_eq!(
            to_vec(r.edge_weight().unwrap().clone()),
            vec![0.5, 1.5, 2.5]
        );
    }

    #[test]
    fn unweighted_graph_stays_unweighted() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1], &[1, 1], 2, &d).unwrap();
        let l = add_self_loops(&g, 2.0);
        assert!(l.edge_weight().is_none());
        assert_eq!(l.num_edges(), 3);
    }

    #[test]
    fn gradient_reaches_kept_and_loop_weights() {
        let d = Device::flex().autodiff();
        let w = tensor1(&[0.5, 7.0, 1.5], &d).require_grad();
        let g = Graph::new(&[0, 1, 2], &[1, 1, 0], 3, &d)
            .unwrap()
            .with_edge_weight(w.clone())
            .unwrap();
        let l = add_self_loops(&g, 1.0);
        let grads = (l.edge_weight().unwrap().clone() * tensor1(&[1.0, 2.0, 3.0, 4.0, 5.0], &d))
            .sum()
            .backward();
        // Edge 0 -> slot 0, edge 2 -> slot 1, loop edge 1 -> node 1's loop (slot 3).
        assert_eq!(to_vec(w.grad(&grads).unwrap()), vec![1.0, 4.0, 2.0]);
    }
}
