//! [`GcnConv`]: the graph convolution of Kipf & Welling (2017), with PyG's `GCNConv` semantics.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::interop::{
    Import, PygParams, StateDict, export_bias, export_linear, import_bias, import_linear,
};
use crate::kernels;
use crate::message_passing::{gcn_norm, propagate_weighted};
use crate::{Features, Graph};

/// Configuration of a [`GcnConv`] layer.
#[derive(Config, Debug)]
pub struct GcnConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Output features per node `F'`.
    pub d_output: usize,
    /// Added self-loops weigh 2 (`Â = A + 2I`) on weighted graphs.
    #[config(default = false)]
    pub improved: bool,
    /// Replace existing self-loops by one loop per node before normalising.
    #[config(default = true)]
    pub add_self_loops: bool,
    /// Apply the symmetric normalisation `D^{-1/2} Â D^{-1/2}`; without it the edge weights
    /// (or 1) are used as they are and no loops are added.
    #[config(default = true)]
    pub normalize: bool,
    /// Learn an additive bias.
    #[config(default = true)]
    pub bias: bool,
    /// Compute the normalised graph once per [`Graph`] value and reuse it (full-batch
    /// training). The cached weights are constants: no gradient flows to edge weights.
    #[config(default = false)]
    pub cached: bool,
}

/// Graph convolution (Kipf & Welling 2017):
///
/// `X' = D̂^{-1/2} Â D̂^{-1/2} X W + b`, i.e. `x'_i = Σ_{j ∈ N(i) ∪ {i}} (w_ji / √(d̂_j d̂_i)) x_j W + b`
///
/// where `Â = A + I` (or `A + 2I` when `improved`) and `d̂_i = Σ_j Â_ji` is the weighted
/// in-degree. `W` is `lin.weight`, `b` is `bias` (PyG's parameter names; Burn stores `W` as
/// `[F, F']`, PyG as `[F', F]`).
///
/// # Shapes
/// - input `x`: `[N, F]`, graph with `E` edges, optional edge weights `[E]`
/// - output: `[N, F']`
#[derive(Module, Debug)]
pub struct GcnConv {
    /// The linear map `W`, `[F, F']`, without bias.
    pub lin: Linear,
    /// The bias `b`, `[F']`.
    pub bias: Option<Param<Tensor<1>>>,
    improved: bool,
    add_self_loops: bool,
    normalize: bool,
    cached: bool,
}

impl GcnConvConfig {
    /// Builds the layer: Glorot-uniform `W`, zero `b` (PyG's initialisation).
    pub fn init(&self, device: &Device) -> GcnConv {
        let lin = LinearConfig::new(self.d_input, self.d_output)
            .with_bias(false)
            .with_initializer(Initializer::XavierUniform { gain: 1.0 })
            .init(device);
        let bias = self
            .bias
            .then(|| Initializer::Zeros.init([self.d_output], device));
        GcnConv {
            lin,
            bias,
            improved: self.improved,
            add_self_loops: self.add_self_loops,
            normalize: self.normalize,
            cached: self.cached,
        }
    }
}

/// The memo key of a cached GCN normalisation.
#[derive(Debug, PartialEq)]
struct GcnNormKey {
    improved: bool,
    loops: bool,
}

impl GcnConv {
    /// The graph with the edge weights this layer propagates along: normalised (and cached when
    /// configured), or the graph as given when `normalize` is off.
    pub fn normalized_graph(&self, graph: &Graph) -> Graph {
        if !self.normalize {
            return graph.clone();
        }
        let (improved, loops) = (self.improved, self.add_self_loops);
        if self.cached {
            graph.memoized(GcnNormKey { improved, loops }, |g| {
                gcn_norm(g, improved, loops)
            })
        } else {
            gcn_norm(graph, improved, loops)
        }
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// - `x`: `[N, F]` (a dense tensor or [`Features`]); output: `[N, F']`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        let graph = self.normalized_graph(graph);
        let out = propagate_weighted(x.into().linear(&self.lin), &graph);
        kernels::plus_bias(out, self.bias.as_ref())
    }
}

impl PygParams for GcnConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.lin, &format!("{prefix}lin."), out);
        export_bias(&self.bias, prefix, out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.lin, &format!("{prefix}lin."), src);
        import_bias(&mut self.bias, prefix, src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn cached_and_uncached_agree() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2, 3], &[1, 2, 3, 0], 5, &d).unwrap();
        let layer = GcnConvConfig::new(3, 2).init(&d);
        let cached = GcnConv {
            cached: true,
            ..layer.clone()
        };
        let x = tensor2(&seeded_values(15, 1), [5, 3], &d);
        let a = to_vec(layer.forward(x.clone(), &g));
        let b = to_vec(cached.forward(x.clone(), &g));
        let c = to_vec(cached.forward(x, &g));
        assert_close(&a, &b, 1e-6, "cached");
        assert_close(&b, &c, 0.0, "cache reuse");
    }

    #[test]
    fn isolated_node_gets_its_own_features_only() {
        // Node 2 has no edges: with a self-loop its output is x_2 W / 1 + b.
        let d = Device::flex();
        let g = Graph::new(&[0, 1], &[1, 0], 3, &d).unwrap();
        let layer = GcnConvConfig::new(2, 2).with_bias(false).init(&d);
        let x = tensor2(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2], &d);
        let out = to_vec(layer.forward(x.clone(), &g));
        let lin = to_vec(layer.lin.forward(x));
        assert_close(&out[4..6], &lin[4..6], 1e-6, "isolated node");
    }

    #[test]
    fn shuffling_edges_keeps_and_relabelling_nodes_permutes_the_output() {
        let d = Device::flex();
        let (src, dst) = ([0usize, 1, 2, 3, 3, 4, 1], [1usize, 2, 0, 1, 4, 0, 3]);
        let w = [0.5f32, 1.0, 1.5, 2.0, 0.7, 1.2, 0.9];
        let layer = GcnConvConfig::new(3, 2).with_improved(true).init(&d);
        let x = seeded_values(15, 4);
        let run = |s: &[usize], t: &[usize], w: &[f32], x: &[f32]| {
            let g = Graph::new(s, t, 5, &d)
                .unwrap()
                .with_edge_weights(w)
                .unwrap();
            to_vec(layer.forward(tensor2(x, [5, 3], &d), &g))
        };
        let base = run(&src, &dst, &w, &x);

        let order = [4usize, 0, 6, 2, 5, 1, 3];
        let shuffled = run(
            &order.map(|e| src[e]),
            &order.map(|e| dst[e]),
            &order.map(|e| w[e]),
            &x,
        );
        assert_close(&shuffled, &base, 1e-6, "shuffled edges");

        let perm = [3usize, 0, 4, 1, 2]; // node i becomes perm[i]
        let mut px = vec![0.0; 15];
        for i in 0..5 {
            px[perm[i] * 3..perm[i] * 3 + 3].copy_from_slice(&x[i * 3..i * 3 + 3]);
        }
        let relabelled = run(&src.map(|v| perm[v]), &dst.map(|v| perm[v]), &w, &px);
        for i in 0..5 {
            assert_close(
                &relabelled[perm[i] * 2..perm[i] * 2 + 2],
                &base[i * 2..i * 2 + 2],
                1e-6,
                "relabelled",
            );
        }
    }
}
