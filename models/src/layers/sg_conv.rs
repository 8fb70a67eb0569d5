//! [`SgConv`]: simplified graph convolution (Wu et al. 2019), with PyG's `SGConv` semantics,
//! and [`propagate_gcn`], the `K`-hop GCN propagation it shares with [`Appnp`](super::Appnp).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::interop::{Import, PygParams, StateDict, export_linear, import_linear};
use crate::message_passing::{gcn_norm, propagate_weighted};
use crate::{Features, Graph};

/// The memo key of the GCN-normalised graph of a propagation layer.
#[derive(Debug, PartialEq)]
struct NormalizedKey {
    loops: bool,
}

/// The graph with GCN's normalised weights `D̂^{-1/2} Â D̂^{-1/2}` (`Â = A + I` with
/// `add_self_loops`), remembered on `graph` when `cached` (weights then constant).
pub(crate) fn gcn_normalized(graph: &Graph, add_self_loops: bool, cached: bool) -> Graph {
    if cached {
        let key = NormalizedKey {
            loops: add_self_loops,
        };
        graph.memoized(key, |g| gcn_norm(g, false, add_self_loops))
    } else {
        gcn_norm(graph, false, add_self_loops)
    }
}

/// `Â^K x`: `K` weighted propagations along `graph`'s edge weights.
///
/// # Shapes
/// - `x`: `[N, F]`; output `[N, F]`
pub fn propagate_gcn(x: Tensor<2>, graph: &Graph, k: usize) -> Tensor<2> {
    (0..k).fold(x, |h, _| propagate_weighted(h, graph))
}

/// Configuration of an [`SgConv`] layer.
#[derive(Config, Debug)]
pub struct SgConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Output features per node `F'`.
    pub d_output: usize,
    /// Propagation hops `K`.
    #[config(default = 1)]
    pub k: usize,
    /// Add one self-loop per node before normalising (`Â = A + I`).
    #[config(default = true)]
    pub add_self_loops: bool,
    /// Learn an additive bias.
    #[config(default = true)]
    pub bias: bool,
    /// Compute `Â^K x` once, on the first call with a [`Graph`] value, and reuse it (PyG's
    /// `cached`: transductive full-batch training with fixed input features).
    #[config(default = false)]
    pub cached: bool,
}

/// Simplified graph convolution: `out = (Â^K x) W + b`, `Â = D̂^{-1/2} (A + I) D̂^{-1/2}`
/// (GCN's normalisation, input self-loops replaced).
///
/// Parameters have PyG's names: `lin.weight`, `lin.bias`.
///
/// # Shapes
/// - input `x`: `[N, F]` (dense or sparse); output `[N, F']`
#[derive(Module, Debug)]
pub struct SgConv {
    /// The linear map `W` `[F, F']` and bias.
    pub lin: Linear,
    k: usize,
    add_self_loops: bool,
    cached: bool,
}

/// The memo key of SGC's cached propagated features.
#[derive(Debug, PartialEq)]
struct PropagatedKey {
    k: usize,
    loops: bool,
}

impl SgConvConfig {
    /// Builds the layer with PyTorch's default `Linear` initialisation.
    pub fn init(&self, device: &Device) -> SgConv {
        SgConv {
            lin: LinearConfig::new(self.d_input, self.d_output)
                .with_bias(self.bias)
                .init(device),
            k: self.k,
            add_self_loops: self.add_self_loops,
            cached: self.cached,
        }
    }
}

impl SgConv {
    /// `Â^K x`, from the cache when the layer is `cached`.
    pub fn propagated(&self, x: Features, graph: &Graph) -> Tensor<2> {
        let (k, loops) = (self.k, self.add_self_loops);
        let compute = |g: &Graph, x: Features| {
            let normalized = gcn_normalized(g, loops, self.cached);
            propagate_gcn(x.to_dense(&g.device()), &normalized, k)
        };
        if self.cached {
            graph.memoized_value(PropagatedKey { k, loops }, |g| compute(g, x).detach())
        } else {
            compute(graph, x)
        }
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output `[N, F']`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        self.lin.forward(self.propagated(x.into(), graph))
    }
}

impl PygParams for SgConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.lin, &format!("{prefix}lin."), out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.lin, &format!("{prefix}lin."), src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn cached_and_uncached_agree_and_the_cache_is_reused() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2, 3], &[1, 2, 3, 0], 5, &d).unwrap();
        let layer = SgConvConfig::new(3, 2).with_k(2).init(&d);
        let cached = SgConv {
            cached: true,
            ..layer.clone()
        };
        let x = tensor2(&seeded_values(15, 1), [5, 3], &d);
        let a = to_vec(layer.forward(x.clone(), &g));
        let b = to_vec(cached.forward(x.clone(), &g));
        assert_close(&a, &b, 1e-6, "cached");
        // A second call reuses the features computed first, as PyG's cache does.
        let c = to_vec(cached.forward(x.mul_scalar(2.0), &g));
        assert_close(&b, &c, 0.0, "cache reuse");
    }
}
