//! [`Appnp`]: approximate personalised propagation of neural predictions (Klicpera et al.
//! 2019), with PyG's `APPNP` semantics.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::sg_conv::gcn_normalized;
use crate::Graph;
use crate::interop::{Import, PygParams, StateDict};
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
}

/// APPNP propagation (no parameters): `h⁰ = x`, `h^{k+1} = (1 − α) Â h^k + α x`, output
/// `h^K`, with GCN's `Â = D̂^{-1/2} (A + I) D̂^{-1/2}`.
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
        (0..self.k).fold(x, |h, _| {
            propagate_weighted(h, &graph).mul_scalar(1.0 - self.alpha) + teleport.clone()
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
}
