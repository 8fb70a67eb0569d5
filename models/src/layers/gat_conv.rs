//! [`GatConv`]: graph attention (Veličković et al. 2018), with PyG's `GATConv` semantics.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::interop::{
    Import, PygParams, StateDict, export_bias, export_linear, export_param, import_bias,
    import_linear, import_param,
};
use crate::kernels;
use crate::message_passing::{add_self_loops, attention_coefficients, propagate_heads};
use crate::{BipartiteGraph, Features, Graph, GraphError};

/// Configuration of a [`GatConv`] layer.
#[derive(Config, Debug)]
pub struct GatConvConfig {
    /// Input features per node `F`.
    pub d_input: usize,
    /// Output features per head `C`.
    pub d_output: usize,
    /// Attention heads `H`.
    #[config(default = 1)]
    pub heads: usize,
    /// Concatenate the heads (`[N, H·C]`) or average them (`[N, C]`).
    #[config(default = true)]
    pub concat: bool,
    /// Slope of the LeakyReLU on attention logits.
    #[config(default = 0.2)]
    pub negative_slope: f64,
    /// Dropout on the attention coefficients (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Replace existing self-loops by one loop per node.
    #[config(default = true)]
    pub add_self_loops: bool,
    /// Learn an additive bias.
    #[config(default = true)]
    pub bias: bool,
}

/// The attention a layer computed: one coefficient per edge and head, with the edge list it
/// belongs to (the input graph with self-loops replaced, when the layer adds them).
#[derive(Debug, Clone)]
pub struct Attention {
    /// The edges the coefficients belong to.
    pub graph: Graph,
    /// `α_ji` per edge and head; over each target's incoming edges they sum to 1.
    ///
    /// # Shapes
    /// `[E', H]`
    pub alpha: Tensor<2>,
}

/// Graph attention layer (GAT):
///
/// `h = x W` viewed `[N, H, C]`; for every edge `j → i` and head `k`
/// `e_jik = LeakyReLU(⟨h_jk, a_src,k⟩ + ⟨h_ik, a_dst,k⟩)`,
/// `α_jik = softmax_j(e_jik)` over the incoming edges of `i` (self-loop included),
/// `x'_ik = Σ_j α_jik h_jk`; heads concatenated (or averaged), then `+ b`.
///
/// Parameters use PyG's names: `lin.weight` (stored `[F, H·C]`), `att_src`, `att_dst`
/// (`[1, H, C]`), `bias` (`[H·C]`, or `[C]` when averaging).
///
/// # Shapes
/// - input `x`: `[N, F]`; output: `[N, H·C]` (concat) or `[N, C]`
#[derive(Module, Debug)]
pub struct GatConv {
    /// The shared linear map `W`, `[F, H·C]`, without bias.
    pub lin: Linear,
    /// Source attention vector `a_src`, `[1, H, C]`.
    pub att_src: Param<Tensor<3>>,
    /// Target attention vector `a_dst`, `[1, H, C]`.
    pub att_dst: Param<Tensor<3>>,
    /// The bias `b`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Dropout on the attention coefficients.
    pub attention_dropout: Dropout,
    heads: usize,
    channels: usize,
    concat: bool,
    negative_slope: f64,
    add_self_loops: bool,
}

impl GatConvConfig {
    /// Builds the layer: Glorot-uniform `W`, `a_src`, `a_dst`; zero `b` (PyG's initialisation).
    pub fn init(&self, device: &Device) -> GatConv {
        let (h, c) = (self.heads, self.d_output);
        let lin = LinearConfig::new(self.d_input, h * c)
            .with_bias(false)
            .with_initializer(Initializer::XavierUniform { gain: 1.0 })
            .init(device);
        // PyG's glorot on a [1, H, C] tensor uses fan_in = H, fan_out = C.
        let att = || {
            Initializer::XavierUniform { gain: 1.0 }.init_with([1, h, c], Some(h), Some(c), device)
        };
        let bias_len = if self.concat { h * c } else { c };
        GatConv {
            lin,
            att_src: att(),
            att_dst: att(),
            bias: self
                .bias
                .then(|| Initializer::Zeros.init([bias_len], device)),
            attention_dropout: DropoutConfig::new(self.dropout).init(),
            heads: h,
            channels: c,
            concat: self.concat,
            negative_slope: self.negative_slope,
            add_self_loops: self.add_self_loops,
        }
    }
}

impl GatConv {
    /// Applies the layer.
    ///
    /// # Shapes
    /// - `x`: `[N, F]`; output: `[N, H·C]` or `[N, C]`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Tensor<2> {
        self.forward_with_attention(x, graph).0
    }

    /// Applies the layer and also returns the attention coefficients it used.
    pub fn forward_with_attention(
        &self,
        x: impl Into<Features>,
        graph: &Graph,
    ) -> (Tensor<2>, Attention) {
        let h = self.project(x.into());
        self.attend_from(h.clone(), h, graph)
    }

    /// The layer on a [`BipartiteGraph`] (PyG's `forward((x_src, x_dst), edge_index)`): keys
    /// and messages from the source set, queries from the target set, one self-loop per
    /// target `i → i` when the layer adds them — which needs the targets to be the first
    /// sources (`N_t ≤ N_s`, as in a sampled block; PyG loops `min(N_s, N_t)` nodes).
    ///
    /// # Shapes
    /// - `x_src`: `[N_s, F]`, `x_dst`: `[N_t, F]` (dense or sparse); output `[N_t, H·C]` or
    ///   `[N_t, C]`; the attention is over the block's edges (targets indexed `0..N_t`)
    pub fn forward_bipartite(
        &self,
        x_src: impl Into<Features>,
        x_dst: impl Into<Features>,
        graph: &BipartiteGraph,
    ) -> Result<(Tensor<2>, Attention), GraphError> {
        let (x_src, x_dst): (Features, Features) = (x_src.into(), x_dst.into());
        graph.check_rows("GatConv", x_src.dims()[0], x_dst.dims()[0])?;
        if self.add_self_loops && graph.num_dst_nodes() > graph.num_src_nodes() {
            return Err(GraphError::Width {
                layer: "GatConv",
                what: "targets (self-loops need them to be the first sources)",
                expected: graph.num_src_nodes(),
                got: graph.num_dst_nodes(),
            });
        }
        let (h_src, h_dst) = (self.project(x_src), self.project(x_dst));
        Ok(self.attend_from(h_src, h_dst, graph.target_graph()))
    }

    /// `h = x W` viewed `[N, H, C]`.
    fn project(&self, x: Features) -> Tensor<3> {
        let [n, _] = x.dims();
        x.linear(&self.lin).reshape([n, self.heads, self.channels])
    }

    /// Attention of targets `h_dst` `[N_t, H, C]` over the messages of sources `h_src`
    /// `[N_s, H, C]` along `graph`'s edges (`N_t` nodes; sources index `h_src`).
    fn attend_from(
        &self,
        h_src: Tensor<3>,
        h_dst: Tensor<3>,
        graph: &Graph,
    ) -> (Tensor<2>, Attention) {
        let (n_s, n_t, hh) = (h_src.dims()[0], h_dst.dims()[0], self.heads);
        let a_src = (h_src.clone() * self.att_src.val())
            .sum_dim(2)
            .reshape([n_s, hh]);
        let a_dst = (h_dst * self.att_dst.val()).sum_dim(2).reshape([n_t, hh]);
        let graph = attention_graph(graph, self.add_self_loops);
        let alpha = attention_coefficients(a_src, a_dst, &graph, self.negative_slope);
        let out = attend(h_src, &self.attention_dropout, alpha.clone(), &graph);
        (self.finish(out), Attention { graph, alpha })
    }

    /// Heads concatenated or averaged, then the bias.
    fn finish(&self, out: Tensor<3>) -> Tensor<2> {
        finish_heads(out, self.concat, self.bias.as_ref())
    }
}

/// The graph attention runs on: unweighted, with one self-loop per node when asked (memoized
/// on the graph, so full-batch training builds it once).
pub(crate) fn attention_graph(graph: &Graph, loops: bool) -> Graph {
    /// The memo key of the unweighted graph with one self-loop per node.
    #[derive(Debug, PartialEq)]
    struct AttentionSelfLoops;
    if loops {
        graph.memoized(AttentionSelfLoops, |g| {
            add_self_loops(&g.clone().without_edge_weight(), 1.0)
        })
    } else if graph.edge_weight().is_some() {
        graph.clone().without_edge_weight()
    } else {
        graph.clone()
    }
}

/// `x'_ik = Σ_{j→i} dropout(α_jik) h_jk`.
///
/// # Shapes
/// - `h`: `[N, H, C]` (the messages' source rows), `alpha`: `[E, H]`; output `[N, H, C]`
pub(crate) fn attend(
    h: Tensor<3>,
    dropout: &Dropout,
    alpha: Tensor<2>,
    graph: &Graph,
) -> Tensor<3> {
    propagate_heads(h, kernels::dropout(dropout, alpha), graph)
}

/// `[N, H, C]` → `[N, H·C]` (concat) or the mean over heads `[N, C]`, then `+ b`.
pub(crate) fn finish_heads(
    out: Tensor<3>,
    concat: bool,
    bias: Option<&Param<Tensor<1>>>,
) -> Tensor<2> {
    let [n, h, c] = out.dims();
    let out = if concat {
        out.reshape([n, h * c])
    } else {
        out.mean_dim(1).reshape([n, c])
    };
    kernels::plus_bias(out, bias)
}

impl PygParams for GatConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        export_linear(&self.lin, &format!("{prefix}lin."), out);
        export_param(&self.att_src, format!("{prefix}att_src"), out);
        export_param(&self.att_dst, format!("{prefix}att_dst"), out);
        export_bias(&self.bias, prefix, out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        import_linear(&mut self.lin, &format!("{prefix}lin."), src);
        import_param(&mut self.att_src, &format!("{prefix}att_src"), src);
        import_param(&mut self.att_dst, &format!("{prefix}att_dst"), src);
        import_bias(&mut self.bias, prefix, src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn attention_sums_to_one_per_target_and_isolated_nodes_get_bias_only_messages() {
        let d = Device::flex();
        // Node 3 has no edges: with its self-loop it attends only to itself.
        let g = Graph::new(&[0, 1, 2, 2], &[1, 2, 0, 1], 4, &d).unwrap();
        let layer = GatConvConfig::new(3, 2).with_heads(2).init(&d);
        let (out, att) =
            layer.forward_with_attention(tensor2(&seeded_values(12, 1), [4, 3], &d), &g);
        assert!(to_vec(out).iter().all(|v| v.is_finite()));
        let alpha = to_vec(att.alpha);
        let mut sums = vec![0.0f32; 8];
        for (e, &t) in att.graph.host_dst().iter().enumerate() {
            for h in 0..2 {
                sums[t as usize * 2 + h] += alpha[e * 2 + h];
            }
        }
        assert_close(&sums, &[1.0; 8], 1e-6, "attention sums");
    }

    #[test]
    fn bipartite_inputs_that_do_not_fit_are_errors() {
        let d = Device::flex();
        let layer = GatConvConfig::new(2, 3).init(&d);
        let x = |n: usize| tensor2(&seeded_values(2 * n, n as u64), [n, 2], &d);
        // Three targets over two sources: self-loops cannot join them.
        let g = BipartiteGraph::new(&[0, 1], &[2, 0], 2, 3, &d).unwrap();
        let err = layer.forward_bipartite(x(2), x(3), &g).unwrap_err();
        assert!(err.to_string().contains("self-loops"), "{err}");
        let g = BipartiteGraph::new(&[0, 2], &[1, 0], 3, 2, &d).unwrap();
        let err = layer.forward_bipartite(x(4), x(2), &g).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GatConv: 4 source rows given, and the graph has 3"
        );
        let err = layer.forward_bipartite(x(3), x(1), &g).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GatConv: 1 target rows given, and the graph has 2"
        );
        let (out, attention) = layer.forward_bipartite(x(3), x(2), &g).unwrap();
        assert_eq!(out.dims(), [2, 3]);
        // Two edges and one loop per target.
        assert_eq!(attention.alpha.dims(), [4, 1]);
    }

    #[test]
    fn shuffling_edges_keeps_and_relabelling_nodes_permutes_the_output() {
        let d = Device::flex();
        let (src, dst) = ([0usize, 1, 2, 3, 3, 4, 1], [1usize, 2, 0, 1, 4, 0, 3]);
        let layer = GatConvConfig::new(3, 2).with_heads(3).init(&d);
        let x = seeded_values(15, 4);
        let run = |s: &[usize], t: &[usize], x: &[f32]| {
            let g = Graph::new(s, t, 5, &d).unwrap();
            to_vec(layer.forward(tensor2(x, [5, 3], &d), &g))
        };
        let base = run(&src, &dst, &x);
        let order = [4usize, 0, 6, 2, 5, 1, 3];
        let shuffled = run(&order.map(|e| src[e]), &order.map(|e| dst[e]), &x);
        assert_close(&shuffled, &base, 1e-6, "shuffled edges");

        let perm = [3usize, 0, 4, 1, 2]; // node i becomes perm[i]
        let mut px = vec![0.0; 15];
        for i in 0..5 {
            px[perm[i] * 3..perm[i] * 3 + 3].copy_from_slice(&x[i * 3..i * 3 + 3]);
        }
        let relabelled = run(&src.map(|v| perm[v]), &dst.map(|v| perm[v]), &px);
        for i in 0..5 {
            assert_close(
                &relabelled[perm[i] * 6..perm[i] * 6 + 6],
                &base[i * 6..i * 6 + 6],
                1e-6,
                "relabelled",
            );
        }
    }
}
