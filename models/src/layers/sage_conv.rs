//! [`SageConv`]: GraphSAGE (Hamilton et al. 2017), with PyG's `SAGEConv` semantics.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::interop::{Import, PygParams, StateDict, export_linear, import_linear};
use crate::message_passing::{Aggregation, aggregate, gather_src};
use crate::{Features, Graph};

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
        let linear = matches!(self.aggr, Aggregation::Mean | Aggregation::Sum);
        let neighbours = match (&self.lin, linear) {
            (None, true) => {
                let h = x.clone().matmul(self.lin_l.weight.val());
                let out = aggregate(gather_src(h, graph), graph, self.aggr);
                match &self.lin_l.bias {
                    Some(b) => out + b.val().unsqueeze_dim(0),
                    None => out,
                }
            }
            (projection, _) => {
                let xs = match projection {
                    Some(lin) => relu(x.clone().linear(lin)),
                    None => x.clone().to_dense(&graph.device()),
                };
                self.lin_l
                    .forward(aggregate(gather_src(xs, graph), graph, self.aggr))
            }
        };
        let out = match &self.lin_r {
            Some(lin) => neighbours + x.linear(lin),
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
    fn normalising_a_zero_row_has_a_finite_gradient() {
        let d = Device::flex().autodiff();
        let x = tensor2(&[0.0, 0.0, 3.0, 4.0], [2, 2], &d).require_grad();
        let out = l2_normalize_rows(x.clone());
        assert_eq!(to_vec(out.clone()), vec![0.0, 0.0, 0.6, 0.8]);
        let g = to_vec(x.grad(&out.sum().backward()).unwrap());
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }
}
