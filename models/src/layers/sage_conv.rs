//! [`SageConv`]: GraphSAGE (Hamilton et al. 2017), with PyG's `SAGEConv` semantics.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::interop::{Import, PygParams, StateDict, export_linear, import_linear};
use crate::kernels;
use crate::message_passing::{Aggregation, aggregate_sources};
use crate::{BipartiteGraph, Features, Graph};

/// Configuration of a [`SageConv`] layer.
#[derive(Config, Debug)]
pub struct SageConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Output features per node `F'`.
    pub d_output: usize,
    /// Aggregation of the neighbours: mean (the paper's and PyG's default), max or sum.
    #[config(default = "Aggregation::Mean")]
    pub aggr: Aggregation,
    /// L2-normalise each output row (after the root term).
    #[config(default = false)]
    pub normalize: bool,
    /// Add the root term `x_i W_r`.
    #[config(default = true)]
    pub root_weight: bool,
    /// Project the neighbours first: `x_j ← relu(x_j W_p + b_p)` (the paper's pooling
    /// aggregator with `aggr = Max`).
    #[config(default = false)]
    pub project: bool,
    /// Learn an additive bias (on `lin_l`).
    #[config(default = true)]
    pub bias: bool,
}

/// GraphSAGE layer:
///
/// `x'_i = W_l · ⊕_{j → i} x̃_j + b + W_r · x_i`, with `x̃_j = relu(W_p x_j + b_p)` when
/// projecting and `x_j` otherwise, `⊕` mean, max or sum; then `x'_i / max(‖x'_i‖₂, 1e-12)`
/// when normalising. A node without neighbours gets `b + W_r x_i`.
///
/// Parameters have PyG's names: `lin_l` (`W_l`, with the bias), `lin_r` (`W_r`, no bias),
/// `lin` (`W_p`, `b_p`). For mean and sum the product `x W_l` is taken before aggregating
/// (the two commute; on sparse input it costs `nnz · F'` instead of `E · F`).
///
/// # Shapes
/// - input `x`: `[N, F]` (dense or sparse); output `[N, F']`
#[derive(Module, Debug)]
pub struct SageConv {
    /// Neighbour weight `W_l` `[F, F']` and the bias.
    pub lin_l: Linear,
    /// Root weight `W_r` `[F, F']`, without bias.
    pub lin_r: Option<Linear>,
    /// Projection `W_p` `[F, F]` with bias.
    pub lin: Option<Linear>,
    #[module(skip)]
    aggr: Aggregation,
    normalize: bool,
}

impl SageConvConfig {
    /// Builds the layer with PyTorch's default `Linear` initialisation.
    pub fn init(&self, device: &Device) -> SageConv {
        let (f, o) = (self.d_input, self.d_output);
        SageConv {
            lin_l: LinearConfig::new(f, o).with_bias(self.bias).init(device),
            lin_r: self
                .root_weight
                .then(|| LinearConfig::new(f, o).with_bias(false).init(device)),
            lin: self.project.then(|| LinearConfig::new(f, f).init(device)),
            aggr: self.aggr,
            normalize: self.normalize,
        }
    }
}

impl SageConv {
    /// Applies the layer.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, F']`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        let x: Features = x.into();
        self.combine(x.clone(), x, graph.num_edges(), &graph.device(), |m| {
            aggregate_sources(m, graph, self.aggr)
        })
    }

    /// The layer on a [`BipartiteGraph`]: neighbours from the source set, the root term from
    /// the target set (PyG's `forward((x_src, x_dst), edge_index)`; with `project` only the
    /// sources are projected, as in PyG).
    ///
    /// `x'_i = W_l · ⊕_{j → i} x̃_src[j] + b + W_r · x_dst[i]`
    ///
    /// # Shapes
    /// - `x_src`: `[N_s, F]`, `x_dst`: `[N_t, F]` (dense or sparse); output `[N_t, F']`
    pub fn forward_bipartite(
        &self,
        x_src: impl Into<Features>,
        x_dst: impl Into<Features>,
        graph: &BipartiteGraph,
    ) -> Tensor<2> {
        let (x_src, x_dst) = (x_src.into(), x_dst.into());
        self.combine(x_src, x_dst, graph.num_edges(), &graph.device(), |m| {
            graph.aggregate_sources(m, self.aggr)
        })
    }

    /// The layer given how messages reach the targets over `edges` edges: `neighbourhood`
    /// maps source rows `[N_s, K]` to their aggregation at the targets `[N_t, K]`.
    ///
    /// A sum or mean commutes with `W_l`, so the product is taken on whichever side costs
    /// less: before aggregating (`N_s·F·F'` multiply-adds, messages `F'` wide) or after
    /// (`N_t·F·F'`, messages `F` wide). On one node set that is before unless `F' > F`; in a
    /// sampled block, whose targets are a small prefix of its sources, usually after. Sparse
    /// inputs are always multiplied first (their product costs only the non-zeros).
    fn combine(
        &self,
        x_src: Features,
        x_dst: Features,
        edges: usize,
        device: &Device,
        neighbourhood: impl Fn(Tensor<2>) -> Tensor<2>,
    ) -> Tensor<2> {
        let linear = matches!(self.aggr, Aggregation::Mean | Aggregation::Sum);
        let [n_src, f] = x_src.dims();
        let [n_dst, _] = x_dst.dims();
        let h = self.lin_l.weight.val().dims()[1];
        let before = (n_src * f * h + edges * h) as f64;
        let after = (n_dst * f * h + edges * f) as f64;
        let dense = matches!(x_src, Features::Dense(_));
        let neighbours = match (&self.lin, linear) {
            (None, true) if !dense || before <= after => {
                let out = neighbourhood(x_src.matmul(self.lin_l.weight.val()));
                kernels::plus_bias(out, self.lin_l.bias.as_ref())
            }
            (projection, _) => {
                let xs = match projection {
                    Some(lin) => relu(x_src.linear(lin)),
                    None => x_src.to_dense(device),
                };
                self.lin_l.forward(neighbourhood(xs))
            }
        };
        let out = match &self.lin_r {
            Some(lin) => neighbours + x_dst.linear(lin),
            None => neighbours,
        };
        if self.normalize {
            l2_normalize_rows(out)
        } else {
            out
        }
    }
}

/// `x_i / max(‖x_i‖₂, 1e-12)` per row, with a finite gradient at a zero row.
pub(crate) fn l2_normalize_rows(x: Tensor<2>) -> Tensor<2> {
    let norm = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .clamp_min(1e-24)
        .sqrt();
    x / norm
}

impl PygParams for SageConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        if let Some(lin) = &self.lin {
            export_linear(lin, &format!("{prefix}lin."), out);
        }
        export_linear(&self.lin_l, &format!("{prefix}lin_l."), out);
        if let Some(lin) = &self.lin_r {
            export_linear(lin, &format!("{prefix}lin_r."), out);
        }
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        if let Some(lin) = &mut self.lin {
            import_linear(lin, &format!("{prefix}lin."), src);
        }
        import_linear(&mut self.lin_l, &format!("{prefix}lin_l."), src);
        if let Some(lin) = &mut self.lin_r {
            import_linear(lin, &format!("{prefix}lin_r."), src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn sparse_and_dense_inputs_agree_for_every_aggregation() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2, 2, 3], &[1, 2, 0, 1, 1], 5, &d).unwrap();
        let mut x = seeded_values(5 * 4, 3);
        x.iter_mut().step_by(3).for_each(|v| *v = 0.0);
        for aggr in [Aggregation::Mean, Aggregation::Max, Aggregation::Sum] {
            let layer = SageConvConfig::new(4, 3)
                .with_aggr(aggr)
                .with_normalize(true)
                .init(&d);
            let dense = to_vec(layer.forward(Features::dense(&x, 5, 4, &d), &g));
            let sparse = to_vec(layer.forward(Features::sparse(&x, 5, 4, &d), &g));
            assert_close(&sparse, &dense, 1e-6, &format!("{aggr:?}"));
            // Normalised rows have unit length; node 4 (no edges) too.
            for row in dense.chunks(3) {
                let n: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
                assert!((n - 1.0).abs() < 1e-5, "{aggr:?}: {n}");
            }
        }
    }

    #[test]
    fn a_bipartite_graph_is_the_one_set_layer_restricted_to_its_targets() {
        // Targets are the first 3 of 6 sources (a sampled mini-batch's layout); the one-set
        // graph on 6 nodes with the same edges gives the same rows 0..3.
        let d = Device::flex();
        let (src, dst) = ([0, 3, 4, 5, 5, 1], [0, 0, 1, 1, 2, 2]);
        let one = Graph::new(&src, &dst, 6, &d).unwrap();
        let two = BipartiteGraph::new(&src, &dst, 6, 3, &d).unwrap();
        let x = seeded_values(6 * 4, 7);
        for (aggr, project) in [
            (Aggregation::Mean, false),
            (Aggregation::Sum, false),
            (Aggregation::Max, true),
        ] {
            let layer = SageConvConfig::new(4, 2)
                .with_aggr(aggr)
                .with_project(project)
                .init(&d);
            let full = to_vec(layer.forward(Features::dense(&x, 6, 4, &d), &one));
            let x_src = Features::sparse(&x, 6, 4, &d);
            let x_dst = Features::dense(&x[..3 * 4], 3, 4, &d);
            let out = to_vec(layer.forward_bipartite(x_src, x_dst, &two));
            assert_close(&out, &full[..3 * 2], 1e-6, &format!("{aggr:?}"));
        }
    }

    #[test]
    fn bipartite_roots_come_from_the_target_set() {
        // x'_i = W_l mean_j x_src[j] + b + W_r x_dst[i], by hand, with targets unrelated to
        // the sources.
        let d = Device::flex();
        let g = BipartiteGraph::new(&[0, 1, 2], &[1, 1, 1], 3, 2, &d).unwrap();
        let layer = SageConvConfig::new(1, 1).init(&d);
        let (wl, b) = (
            to_vec(layer.lin_l.weight.val())[0],
            to_vec(layer.lin_l.bias.as_ref().unwrap().val())[0],
        );
        let wr = to_vec(layer.lin_r.as_ref().unwrap().weight.val())[0];
        let x_src = tensor2(&[1.0, 2.0, 6.0], [3, 1], &d);
        let x_dst = tensor2(&[-5.0, 7.0], [2, 1], &d);
        let out = to_vec(layer.forward_bipartite(x_src, x_dst, &g));
        let expect = [b + wr * -5.0, wl * 3.0 + b + wr * 7.0];
        assert_close(&out, &expect, 1e-6, "roots");
    }

    #[test]
    fn normalising_a_zero_row_has_a_finite_gradient() {
        let d = Device::flex().autodiff();
        let x = tensor2(&[0.0, 0.0, 3.0, 4.0], [2, 2], &d).require_grad();
        let out = l2_normalize_rows(x.clone());
        assert_eq!(to_vec(out.clone()), vec![0.0, 0.0, 0.6, 0.8]);
        let g = to_vec(x.grad(&out.sum().backward()).unwrap());
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }
}
