//! [`DistMult`]: the bilinear-diagonal link-prediction decoder of Yang et al. (2015), the
//! decoder of the R-GCN paper's knowledge-graph completion (Schlichtkrull et al. 2018), and
//! [`DistMultKge`], the same decoder on free entity embeddings (PyG's
//! `torch_geometric.nn.kge.DistMult`).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Distribution, Int, Tensor};

use crate::interop::{Import, PygParams, StateDict, export_param, import_param};

/// Configuration of a [`DistMult`] decoder.
#[derive(Config, Debug)]
pub struct DistMultConfig {
    /// Relations `R` (without inverses: a decoder scores the relations of the dataset).
    pub num_relations: usize,
    /// Embedding width `D`.
    pub d_hidden: usize,
}

/// DistMult scores a fact `(h, r, t)` as `s = Σ_d e_h[d] · w_r[d] · e_t[d]`: one diagonal
/// matrix `diag(w_r)` per relation. The score is symmetric in `h` and `t`, so ranking heads
/// is ranking tails with the roles swapped.
///
/// # Shapes
/// - relation embeddings `rel_emb`: `[R, D]`, initialised `N(0, 1)`
/// - [`score`](Self::score): `[T, D]`, `[T]`, `[T, D]` → `[T]`
/// - [`score_all`](Self::score_all): `[B, D]`, `[B]`, `[N, D]` → `[B, N]`
#[derive(Module, Debug)]
pub struct DistMult {
    /// Relation embeddings `w_r`, `[R, D]` (PyG: `rel_emb.weight`).
    pub rel_emb: Param<Tensor<2>>,
}

impl DistMultConfig {
    /// Builds the decoder with `N(0, 1)` relation embeddings.
    pub fn init(&self, device: &Device) -> DistMult {
        DistMult {
            rel_emb: Param::from_tensor(Tensor::random(
                [self.num_relations, self.d_hidden],
                Distribution::Normal(0.0, 1.0),
                device,
            )),
        }
    }
}

impl DistMult {
    /// The scores of `T` facts: row `k` of `heads` and `tails` holds the embeddings of fact
    /// `k`'s entities, `relations[k]` its relation id.
    ///
    /// # Shapes
    /// - `heads`, `tails`: `[T, D]`; `relations`: `[T]`; output `[T]`
    pub fn score(
        &self,
        heads: Tensor<2>,
        relations: Tensor<1, Int>,
        tails: Tensor<2>,
    ) -> Tensor<1> {
        let w = self.rel_emb.val().select(0, relations);
        (heads * w * tails).sum_dim(1).squeeze_dim(1)
    }

    /// The scores of every candidate entity as the missing side of `B` queries `(q, r, ?)`:
    /// `S[b, n] = Σ_d q_b[d] · w_{r_b}[d] · e_n[d]`, one matrix product. By symmetry the same
    /// call ranks heads for `(?, r, q)`.
    ///
    /// # Shapes
    /// - `queries`: `[B, D]`; `relations`: `[B]`; `entities`: `[N, D]`; output `[B, N]`
    pub fn score_all(
        &self,
        queries: Tensor<2>,
        relations: Tensor<1, Int>,
        entities: Tensor<2>,
    ) -> Tensor<2> {
        let w = self.rel_emb.val().select(0, relations);
        (queries * w).matmul(entities.transpose())
    }
}

impl PygParams for DistMult {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_param(&self.rel_emb, format!("{prefix}rel_emb.weight"), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_param(&mut self.rel_emb, &format!("{prefix}rel_emb.weight"), src);
    }
}

/// Configuration of a [`DistMultKge`].
#[derive(Config, Debug)]
pub struct DistMultKgeConfig {
    /// Entities `N`.
    pub num_entities: usize,
    /// Relations `R`.
    pub num_relations: usize,
    /// Embedding width `D`.
    pub d_hidden: usize,
}

/// DistMult on its own (no graph encoder): a free embedding `e_n` per entity and the
/// [`DistMult`] decoder, with the parameter names of PyG's `kge.DistMult` (`node_emb.weight`,
/// `rel_emb.weight`). The R-GCN paper's baseline.
///
/// # Shapes
/// - `node_emb`: `[N, D]`, `rel_emb`: `[R, D]`, both initialised `N(0, 1)`
/// - [`score`](Self::score): triples as three `[T]` id vectors → `[T]`
#[derive(Module, Debug)]
pub struct DistMultKge {
    /// Entity embeddings `e_n`, `[N, D]` (PyG: `node_emb.weight`).
    pub node_emb: Param<Tensor<2>>,
    /// The decoder (its `rel_emb`).
    pub decoder: DistMult,
}

impl DistMultKgeConfig {
    /// Builds the model with `N(0, 1)` embeddings.
    pub fn init(&self, device: &Device) -> DistMultKge {
        DistMultKge {
            node_emb: Param::from_tensor(Tensor::random(
                [self.num_entities, self.d_hidden],
                Distribution::Normal(0.0, 1.0),
                device,
            )),
            decoder: DistMultConfig::new(self.num_relations, self.d_hidden).init(device),
        }
    }
}

impl DistMultKge {
    /// The scores of the facts `(heads[k], relations[k], tails[k])`.
    ///
    /// # Shapes
    /// - `heads`, `relations`, `tails`: `[T]`; output `[T]`
    pub fn score(
        &self,
        heads: Tensor<1, Int>,
        relations: Tensor<1, Int>,
        tails: Tensor<1, Int>,
    ) -> Tensor<1> {
        let e = self.node_emb.val();
        self.decoder
            .score(e.clone().select(0, heads), relations, e.select(0, tails))
    }
}

impl PygParams for DistMultKge {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_param(&self.node_emb, format!("{prefix}node_emb.weight"), out);
        self.decoder.export_pyg(prefix, out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_param(&mut self.node_emb, &format!("{prefix}node_emb.weight"), src);
        self.decoder.import_pyg(prefix, src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn scores_are_the_diagonal_bilinear_form_and_score_all_agrees() {
        let d = Device::flex();
        let model = DistMultKgeConfig::new(4, 2, 3).init(&d);
        let e = to_vec(model.node_emb.val());
        let w = to_vec(model.decoder.rel_emb.val());
        let ids = |v: &[i64]| Tensor::<1, Int>::from_data(v, &d);
        let s = to_vec(model.score(ids(&[0, 3, 2]), ids(&[1, 0, 1]), ids(&[2, 3, 0])));
        let by_hand = |h: usize, r: usize, t: usize| -> f32 {
            (0..3)
                .map(|k| e[h * 3 + k] * w[r * 3 + k] * e[t * 3 + k])
                .sum()
        };
        assert_close(
            &s,
            &[by_hand(0, 1, 2), by_hand(3, 0, 3), by_hand(2, 1, 0)],
            1e-6,
            "score",
        );
        // Every tail of (0, 1, ?) and (3, 0, ?) at once, and the symmetry h <-> t.
        let all = to_vec(model.decoder.score_all(
            model.node_emb.val().select(0, ids(&[0, 3])),
            ids(&[1, 0]),
            model.node_emb.val(),
        ));
        let want: Vec<f32> = [(0, 1), (3, 0)]
            .iter()
            .flat_map(|&(q, r)| (0..4).map(move |n| (q, r, n)))
            .map(|(q, r, n)| by_hand(n, r, q))
            .collect();
        assert_close(&all, &want, 1e-6, "score_all");
    }
}
