//! Link prediction's side of the model contract: the links a model scores ([`Links`]), which
//! end of a query is missing ([`Missing`]), the inner-product decoder every model gets by
//! default, and the auto-encoders' reconstruction loss.
//!
//! A link model is a [`GraphModel`](crate::GraphModel) whose output `z = forward(x, graph)`,
//! `[N, D]`, embeds the nodes; its decoder
//! ([`score_links`](crate::GraphModel::score_links),
//! [`score_candidates`](crate::GraphModel::score_candidates)) turns pairs of rows of `z` (and a
//! relation, for knowledge graphs) into logits: `p(u —r→ v) = σ(s(z_u, r, z_v))`.

use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Links `(src_k, rel_k, dst_k)` to score, as id tensors on a device; untyped pairs carry no
/// relations.
///
/// # Shapes
/// - `src`, `dst`, `rel`: `[P]`
#[derive(Debug, Clone)]
pub struct Links {
    /// Source (head) node ids `[P]`.
    pub src: Tensor<1, Int>,
    /// Target (tail) node ids `[P]`.
    pub dst: Tensor<1, Int>,
    /// Relation ids `[P]` (knowledge graphs), or `None` for untyped pairs.
    pub rel: Option<Tensor<1, Int>>,
}

impl Links {
    /// Links from host ids: `(src_k, dst_k)`, typed by `rel_k` when `rel` is given (`rel` as
    /// long as `src`).
    pub fn from_ids(src: &[u32], dst: &[u32], rel: Option<&[u32]>, device: &Device) -> Self {
        let ids = |v: &[u32]| {
            let data: Vec<i64> = v.iter().map(|&i| i64::from(i)).collect();
            Tensor::from_data(TensorData::new(data, [v.len()]), device)
        };
        Links {
            src: ids(src),
            dst: ids(dst),
            rel: rel.map(ids),
        }
    }

    /// Number of links `P`.
    pub fn len(&self) -> usize {
        self.src.dims()[0]
    }

    /// True without links.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same links on `device`.
    pub fn to_device(&self, device: &Device) -> Self {
        Links {
            src: self.src.clone().to_device(device),
            dst: self.dst.clone().to_device(device),
            rel: self.rel.clone().map(|r| r.to_device(device)),
        }
    }
}

/// Which end of a query `(h, r, t)` is ranked against every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Missing {
    /// `(h, r, ?)`: the anchors are heads.
    Tail,
    /// `(?, r, t)`: the anchors are tails.
    Head,
}

/// The inner-product decoder's logits for node pairs: `z_u · z_v` (the edge probability is
/// `σ` of it; the graph auto-encoders' decoder).
///
/// # Shapes
/// - `z`: `[N, D]`; `src`, `dst`: `[P]`; output `[P]`
pub fn inner_product(z: Tensor<2>, src: Tensor<1, Int>, dst: Tensor<1, Int>) -> Tensor<1> {
    (z.clone().select(0, src) * z.select(0, dst))
        .sum_dim(1)
        .squeeze_dim(1)
}

/// The inner-product logits of every node against `B` anchors: `S[b, n] = z_{a_b} · z_n`, one
/// matrix product (symmetric, so the same for a missing head or tail).
///
/// # Shapes
/// - `z`: `[N, D]`; `anchors`: `[B]`; output `[B, N]`
pub fn inner_product_all(z: Tensor<2>, anchors: Tensor<1, Int>) -> Tensor<2> {
    z.clone().select(0, anchors).matmul(z.transpose())
}

/// The reconstruction loss of link prediction: binary cross-entropy of the positive links'
/// logits against 1 and the negative links' against 0, each side averaged on its own as PyG's
/// `GAE.recon_loss` does: `−mean log σ(pos) − mean log(1 − σ(neg))`, with `log σ` computed
/// stably (PyG adds 1e-15 inside the log instead). With as many negatives as positives it is
/// twice `F.binary_cross_entropy_with_logits` over both.
///
/// # Shapes
/// - `pos`: `[P]`, `neg`: `[Q]`; output `[1]`
pub fn recon_loss(pos: Tensor<1>, neg: Tensor<1>) -> Tensor<1> {
    let pos_term = log_sigmoid(pos).mean().neg();
    let neg_term = log_sigmoid(neg.neg()).mean().neg();
    pos_term + neg_term
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn decoder_and_loss_by_hand() {
        let d = Device::flex();
        let z = tensor2(&[1.0, 0.0, 0.5, 2.0, -1.0, 1.0], [3, 2], &d);
        let pairs = Links::from_ids(&[0, 1, 2], &[1, 2, 0], None, &d);
        assert_eq!(pairs.len(), 3);
        let logits = to_vec(inner_product(z.clone(), pairs.src, pairs.dst));
        assert_close(&logits, &[0.5, 1.5, -1.0], 1e-6, "z_u . z_v");
        let all = to_vec(inner_product_all(
            z,
            Tensor::from_data(TensorData::new(vec![2i64], [1]), &d),
        ));
        assert_close(&all, &[-1.0, 1.5, 2.0], 1e-6, "z_2 . z_n");
        // −log σ(2) − log(1 − σ(−1)) = softplus(−2) + softplus(−1).
        let loss = to_vec(recon_loss(
            Tensor::from_data([2.0f32], &d),
            Tensor::from_data([-1.0f32], &d),
        ));
        let sp = |x: f32| (1.0 + x.exp()).ln();
        assert_close(&loss, &[sp(-2.0) + sp(-1.0)], 1e-6, "bce");
        // Saturated logits stay finite.
        let big = to_vec(recon_loss(
            Tensor::from_data([-200.0f32], &d),
            Tensor::from_data([200.0f32], &d),
        ));
        assert!((big[0] - 400.0).abs() < 1e-3, "{big:?}");
    }
}
