//! [`Appnp`]: approximate personalised propagation of neural predictions (Klicpera et al.
//! 2019), with PyG's `APPNP` semantics.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};

use super::sg_conv::gcn_normalized;
use crate::Graph;
use crate::interop::{Import, PygParams, StateDict};
use crate::kernels;
use crate::message_passing::propagate_weighted;

/// Configuration of an [`Appnp`] propagation.
#[derive(Config, Debug)]
pub struct AppnpConfig {
    /// Power-iteration steps `K`.
    pub k: usize,
    /// Teleport probability `α`.
    pub alpha: f64,
    /// Add one self-loop per node before normalising (`Â = A + I`).
    #[config(default = true)]
    pub add_self_loops: bool,
    /// Normalise the adjacency as GCN does; without it the edge weights (or 1) are used as
    /// they are.
    #[config(default = true)]
    pub normalize: bool,
    /// Normalise once per [`Graph`] value (full-batch training).
    #[config(default = false)]
    pub cached: bool,
    /// Dropout probability on the normalised edge weights, a fresh mask per step (training
    /// only; Klicpera et al.'s adjacency dropout). PyG's `APPNP(dropout=p)` differs: each step
    /// drops from the previous step's already dropped and rescaled weights, so the dropout
    /// compounds over the `K` steps (at `p = 0.5`, `K = 10` about one edge in a thousand
    /// survives, scaled by `2^10`).
    #[config(default = 0.0)]
    pub edge_dropout: f64,
}

/// APPNP propagation (no parameters): `h⁰ = x`, `h^{k+1} = (1 − α) Â h^k + α x`, output
/// `h^K`, with GCN's `Â = D̂^{-1/2} (A + I) D̂^{-1/2}` (its weights under dropout in training
/// when `edge_dropout > 0`).
///
/// # Shapes
/// - input `x`: `[N, F]`; output `[N, F]`
#[derive(Module, Debug)]
pub struct Appnp {
    k: usize,
    alpha: f64,
    add_self_loops: bool,
    normalize: bool,
    cached: bool,
    /// Dropout on the edge weights.
    pub edge_dropout: Dropout,
}

impl AppnpConfig {
    /// Builds the propagation (`device` is unused: it has no parameters).
    pub fn init(&self, _device: &Device) -> Appnp {
        Appnp {
            k: self.k,
            alpha: self.alpha,
            add_self_loops: self.add_self_loops,
            normalize: self.normalize,
            cached: self.cached,
            edge_dropout: DropoutConfig::new(self.edge_dropout).init(),
        }
    }
}

impl Appnp {
    /// Applies the propagation.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, F]`
    pub fn forward(&self, x: Tensor<2>, graph: &Graph) -> Tensor<2> {
        let graph = if self.normalize {
            gcn_normalized(graph, self.add_self_loops, self.cached)
        } else {
            graph.clone()
        };
        let teleport = x.clone().mul_scalar(self.alpha);
        // The graph lives on the plain device, as data; in training its weights join the
        // features on the autodiff device, where dropout acts.
        let training = self.edge_dropout.prob > 0.0 && x.device().is_autodiff();
        (0..self.k).fold(x, |h, _| {
            let step = match graph.edge_weight().filter(|_| training) {
                Some(w) => {
                    let w = kernels::dropout(&self.edge_dropout, w.clone().autodiff());
                    propagate_weighted(h, &graph.reweighted(w))
                }
                None => propagate_weighted(h, &graph),
            };
            step.mul_scalar(1.0 - self.alpha) + teleport.clone()
        })
    }
}

/// No parameters: nothing to exchange.
impl PygParams for Appnp {
    fn export_pyg(&self, _prefix: &str, _out: &mut StateDict) {}

    fn import_pyg(&mut self, _prefix: &str, _src: &mut Import) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn alpha_one_is_the_identity_and_zero_steps_too() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1], &[1, 2], 3, &d).unwrap();
        let x = tensor2(&seeded_values(6, 2), [3, 2], &d);
        let id = AppnpConfig::new(4, 1.0).init(&d).forward(x.clone(), &g);
        assert_close(&to_vec(id), &to_vec(x.clone()), 1e-6, "alpha 1");
        let none = AppnpConfig::new(0, 0.1).init(&d).forward(x.clone(), &g);
        assert_close(&to_vec(none), &to_vec(x), 0.0, "K 0");
    }

    #[test]
    fn edge_dropout_acts_in_training_only() {
        let inference = Device::flex();
        let g = Graph::new(&[0, 1, 2, 3, 0], &[1, 2, 3, 0, 2], 4, &inference).unwrap();
        let values = seeded_values(8, 3);
        let plain = AppnpConfig::new(3, 0.1).init(&inference);
        let dropped = AppnpConfig::new(3, 0.1)
            .with_edge_dropout(0.5)
            .init(&inference);
        let x = tensor2(&values, [4, 2], &inference);
        let reference = to_vec(plain.forward(x.clone(), &g));
        assert_close(&to_vec(dropped.forward(x, &g)), &reference, 0.0, "eval");

        // As in training: the graph on the plain device, the features on the autodiff one.
        let x = tensor2(&values, [4, 2], &inference).autodiff();
        let out = to_vec(dropped.forward(x, &g));
        let moved = out
            .iter()
            .zip(&reference)
            .any(|(a, b)| (a - b).abs() > 1e-4);
        assert!(
            moved,
            "a 0.5 edge dropout over 3 steps left every output as it was"
        );
    }
}
