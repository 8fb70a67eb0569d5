//! [`RgcnConv`]: relational graph convolution (Schlichtkrull et al. 2018), with PyG's
//! `RGCNConv` semantics.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::interop::{
    HostTensor, Import, PygParams, StateDict, export_bias, export_param, import_bias, import_param,
};
use crate::kernels;
use crate::message_passing::{Aggregation, aggregate, propagate_weighted};
use crate::{Features, Graph, GraphError};

/// The layer's name in errors.
const LAYER: &str = "R-GCN";

/// Configuration of an [`RgcnConv`] layer.
#[derive(Config, Debug)]
pub struct RgcnConvConfig {
    /// Input features per node `F` (the number of nodes `N` for featureless input).
    pub d_input: usize,
    /// Output features per node `F'`.
    pub d_output: usize,
    /// Number of relations `R`.
    pub num_relations: usize,
    /// Basis decomposition: `W_r = Σ_b comp[r, b] · V_b` with this many bases.
    #[config(default = "None")]
    pub num_bases: Option<usize>,
    /// Block-diagonal decomposition: `W_r` made of this many `F/B × F'/B` blocks.
    #[config(default = "None")]
    pub num_blocks: Option<usize>,
    /// Aggregation within each relation: `Mean` (the paper's `1/|N_r(i)|`) or `Sum`.
    #[config(default = "Aggregation::Mean")]
    pub aggr: Aggregation,
    /// What the mean divides by (`aggr = Mean` only): the in-degree per relation (PyG, the
    /// paper) or over all relations (DGL's entity-classification example).
    #[config(default = "RgcnNorm::Relation")]
    pub norm: RgcnNorm,
    /// Add the self-connection `x_i W_0`.
    #[config(default = true)]
    pub root_weight: bool,
    /// Learn an additive bias.
    #[config(default = true)]
    pub bias: bool,
}

/// The normalisation constant `c_{i,r}` of a mean-aggregating [`RgcnConv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RgcnNorm {
    /// `c_{i,r} = 1/|N_r(i)|`: each relation's messages are averaged separately (PyG's
    /// `RGCNConv`, the paper's choice).
    #[default]
    Relation,
    /// `c_{i,r} = 1/|N(i)|`: all of node `i`'s incoming messages share one divisor, its
    /// in-degree over every relation (DGL's `RelGraphConv` entity-classification setting).
    Node,
}

impl std::str::FromStr for RgcnNorm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "relation" => Ok(Self::Relation),
            "node" => Ok(Self::Node),
            _ => Err(format!(
                "unknown R-GCN normalisation {s:?} (relation, node)"
            )),
        }
    }
}

/// Relational graph convolution (R-GCN):
///
/// `x'_i = x_i W_0 + b + Σ_r Σ_{j ∈ N_r(i)} c_{i,r} x_j W_r`, with `c_{i,r} = 1/|N_r(i)|` (mean;
/// `1/|N(i)|` with [`RgcnNorm::Node`]) or 1 (sum), and `W_r` stored plainly (`weight [R, F, F']`), as a combination of bases
/// (`weight [B, F, F']`, `comp [R, B]`), or block-diagonal (`weight [R·B, F/B, F'/B]`, PyG's
/// `[R, B, F/B, F'/B]` flattened in its first two axes). `W_0` is `root [F, F']`. All are used
/// as `x @ W` (PyG's layout for R-GCN).
///
/// With [`Features::Identity`] input (no node features) row `j` of `W_r` is node `j`'s
/// embedding for relation `r`, as PyG does for `x = None`.
///
/// The messages are computed as `H = X [W_1 … W_R]` (`[N, R·F']`, memory `O(N·R·F')`), then one
/// gather of `H[src_e, type_e]` per edge and one segment sum at the targets — unless the graph
/// has fewer edges than `N·R / 2` (a knowledge graph: hundreds of relations) or the weights
/// are block-diagonal (composing them in full costs `R·F·F'`): then each relation's edges are
/// multiplied by their own weight instead (`x_{src} W_r`, block by block for the
/// block-diagonal form; memory `O(E·F')`).
///
/// # Shapes
/// - input `x`: `[N, F]`; graph with edge types; output: `[N, F']`
#[derive(Module, Debug)]
pub struct RgcnConv {
    /// Relation weights (layout above).
    pub weight: Param<Tensor<3>>,
    /// Basis coefficients `[R, B]` (basis decomposition only).
    pub comp: Option<Param<Tensor<2>>>,
    /// Self-connection `W_0`, `[F, F']`.
    pub root: Option<Param<Tensor<2>>>,
    /// Bias `[F']`.
    pub bias: Option<Param<Tensor<1>>>,
    d_input: usize,
    d_output: usize,
    num_relations: usize,
    num_blocks: usize,
    #[module(skip)]
    norm: Option<RgcnNorm>,
}

/// Why an [`RgcnConvConfig`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RgcnConfigError {
    /// Both decompositions were asked for.
    #[error("num_bases and num_blocks cannot both be set")]
    BasesAndBlocks,
    /// Blocks must divide both widths.
    #[error("num_blocks {blocks} must divide the input ({input}) and output ({output}) widths")]
    BlocksDoNotDivide {
        /// Blocks.
        blocks: usize,
        /// Input width.
        input: usize,
        /// Output width.
        output: usize,
    },
    /// Zero relations, bases or blocks.
    #[error("num_relations, num_bases and num_blocks must be at least 1")]
    Zero,
    /// Aggregation other than mean or sum.
    #[error("R-GCN aggregates with mean or sum, not {0:?}")]
    Aggregation(Aggregation),
}

impl RgcnConvConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), RgcnConfigError> {
        if self.num_bases.is_some() && self.num_blocks.is_some() {
            return Err(RgcnConfigError::BasesAndBlocks);
        }
        if self.num_relations == 0 || self.num_bases == Some(0) || self.num_blocks == Some(0) {
            return Err(RgcnConfigError::Zero);
        }
        if let Some(b) = self.num_blocks
            && (!self.d_input.is_multiple_of(b) || !self.d_output.is_multiple_of(b))
        {
            return Err(RgcnConfigError::BlocksDoNotDivide {
                blocks: b,
                input: self.d_input,
                output: self.d_output,
            });
        }
        if !matches!(self.aggr, Aggregation::Mean | Aggregation::Sum) {
            return Err(RgcnConfigError::Aggregation(self.aggr));
        }
        Ok(())
    }

    /// Builds the layer: Glorot-uniform `weight`, `comp`, `root`; zero bias (PyG's
    /// initialisation). Settings [`validate`](Self::validate) rejects are an error.
    pub fn init(&self, device: &Device) -> Result<RgcnConv, RgcnConfigError> {
        self.validate()?;
        let (f, o, r) = (self.d_input, self.d_output, self.num_relations);
        let glorot = |shape: [usize; 3]| {
            Initializer::XavierUniform { gain: 1.0 }.init_with(
                shape,
                Some(shape[1]),
                Some(shape[2]),
                device,
            )
        };
        let (weight, comp, blocks) = match (self.num_bases, self.num_blocks) {
            (Some(b), _) => (
                glorot([b, f, o]),
                Some(Initializer::XavierUniform { gain: 1.0 }.init_with(
                    [r, b],
                    Some(r),
                    Some(b),
                    device,
                )),
                0,
            ),
            (None, Some(b)) => (glorot([r * b, f / b, o / b]), None, b),
            (None, None) => (glorot([r, f, o]), None, 0),
        };
        Ok(RgcnConv {
            weight,
            comp,
            root: self.root_weight.then(|| {
                Initializer::XavierUniform { gain: 1.0 }.init_with([f, o], Some(f), Some(o), device)
            }),
            bias: self.bias.then(|| Initializer::Zeros.init([o], device)),
            d_input: f,
            d_output: o,
            num_relations: r,
            num_blocks: blocks,
            norm: (self.aggr == Aggregation::Mean).then_some(self.norm),
        })
    }
}

impl RgcnConv {
    /// Blocks of the block-diagonal decomposition (0 without it).
    pub fn num_blocks(&self) -> usize {
        self.num_blocks
    }

    /// Every relation's full weight `W_r`, `[R, F, F']` (composed from bases or blocks).
    pub fn relation_weights(&self) -> Tensor<3> {
        let (f, o, r) = (self.d_input, self.d_output, self.num_relations);
        let w = self.weight.val();
        if let Some(comp) = &self.comp {
            let [b, _, _] = w.dims();
            return comp.val().matmul(w.reshape([b, f * o])).reshape([r, f, o]);
        }
        if self.num_blocks > 0 {
            let nb = self.num_blocks;
            let (fb, ob) = (f / nb, o / nb);
            let blocks = w.reshape([r, nb, fb, ob]);
            let device = blocks.device();
            // Row band b: zeros left of block b, the block, zeros right of it.
            let bands: Vec<Tensor<3>> = (0..nb)
                .map(|b| {
                    let block = blocks
                        .clone()
                        .slice([0..r, b..b + 1, 0..fb, 0..ob])
                        .reshape([r, fb, ob]);
                    let mut parts = Vec::with_capacity(3);
                    if b > 0 {
                        parts.push(Tensor::zeros([r, fb, b * ob], &device));
                    }
                    parts.push(block);
                    if b + 1 < nb {
                        parts.push(Tensor::zeros([r, fb, (nb - b - 1) * ob], &device));
                    }
                    Tensor::cat(parts, 2)
                })
                .collect();
            return Tensor::cat(bands, 1);
        }
        w
    }

    /// The graph with R-GCN's per-edge normalisation `c_{i,r}` as edge weights (`1/|N_r(i)|`
    /// or `1/|N(i)|` for mean, none for sum), computed once per graph.
    fn normalized(&self, graph: &Graph) -> Result<Graph, GraphError> {
        /// The memo key of the mean's normalisation.
        #[derive(Debug, PartialEq)]
        struct RgcnMean(RgcnNorm);
        let Some(norm) = self.norm else {
            return Ok(graph.clone());
        };
        graph.try_memoized(RgcnMean(norm), |g| {
            let types = g.require_edge_types(LAYER)?;
            // Group edges by (target, relation), or by target alone.
            let group = |t: u32| if norm == RgcnNorm::Node { 0 } else { t };
            let mut count = std::collections::HashMap::<(u32, u32), u32>::new();
            for (&d, &t) in g.host_dst().iter().zip(types) {
                *count.entry((d, group(t))).or_default() += 1;
            }
            let w: Vec<f32> = g
                .host_dst()
                .iter()
                .zip(types)
                .map(|(&d, &t)| 1.0 / count[&(d, group(t))] as f32)
                .collect();
            let len = w.len();
            Ok(g.reweighted(Tensor::from_data(TensorData::new(w, [len]), &g.device())))
        })
    }

    /// Applies the layer. A graph without edge types, or with more relations than the layer,
    /// is an error.
    ///
    /// # Shapes
    /// - `x`: `[N, F]` (dense, sparse, or [`Features::Identity`] with `F = N`); output `[N, F']`
    pub fn forward(&self, x: impl Into<Features>, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        let x: Features = x.into();
        let (f, o, r) = (self.d_input, self.d_output, self.num_relations);
        let [n, _] = x.dims();
        graph.edge_type().ok_or(GraphError::Missing {
            layer: LAYER,
            part: "edge types",
        })?;
        if graph.num_relations() > r {
            return Err(GraphError::Width {
                layer: LAYER,
                what: "relations",
                expected: r,
                got: graph.num_relations(),
            });
        }
        let graph = self.normalized(graph)?;
        let few_edges = graph.num_edges() * 2 < n * r;
        let by_relation = graph.num_edges() > 0 && (few_edges || self.num_blocks > 0);
        if !matches!(x, Features::Identity { .. }) && by_relation {
            return self.forward_by_relation(x, &graph);
        }
        let w = self.relation_weights();
        // Row (node j, relation r) of H = x_j W_r.
        let identity = matches!(x, Features::Identity { .. });
        let table = match &x {
            // H[r, j] = W_r[j]: rows of the weight itself, indexed r·N + j.
            Features::Identity { .. } => w.reshape([r * n, o]),
            _ => {
                let w_cat = w.permute([1, 0, 2]).reshape([f, r * o]);
                x.clone().matmul(w_cat).reshape([n * r, o])
            }
        };
        // Each edge re-sourced at its message's row of H, weighted by c_{i,r}: out = Σ c · H[row].
        let rows = message_rows(&graph, n, r, identity)?;
        let rows = match graph.edge_weight() {
            Some(c) => rows.reweighted(c.clone()),
            None => rows,
        };
        let out = propagate_weighted(table, &rows);
        Ok(self.add_root_and_bias(out, x))
    }

    /// `out + x W_0 + b` (the terms the layer has).
    fn add_root_and_bias(&self, mut out: Tensor<2>, x: Features) -> Tensor<2> {
        if let Some(root) = &self.root {
            out = out + x.matmul(root.val());
        }
        kernels::plus_bias(out, self.bias.as_ref())
    }

    /// The messages computed relation by relation (see the type's documentation), for graphs
    /// with many relations and few edges per node and relation: the edges of each relation in
    /// chunks of `C` slots ([`ByRelation`]), one gather of the chunks' source rows, one batched
    /// product with each chunk's relation weight (block by block for the block-diagonal
    /// form), one gather of the edges' slots back in input order. Every step is one tensor
    /// operation, so the backward pass is too, whatever the number of relations.
    fn forward_by_relation(&self, x: Features, graph: &Graph) -> Result<Tensor<2>, GraphError> {
        /// The memo key of the grouping.
        #[derive(Debug, PartialEq)]
        struct RgcnByRelation;
        let groups = graph.try_memoized_value(RgcnByRelation, ByRelation::of)?;
        let (f, o) = (self.d_input, self.d_output);
        let (k, c) = (groups.chunks, groups.chunk_size);
        let rows = x
            .clone()
            .to_dense(&graph.device())
            .select(0, groups.rows.clone());
        let nb = self.num_blocks;
        let slots = match (f.checked_div(nb), o.checked_div(nb)) {
            (Some(fb), Some(ob)) if self.comp.is_none() => {
                // [K, C, B, F/B] → [K·B, C, F/B] @ [K·B, F/B, F'/B] → [K·C, F'].
                let parts = rows
                    .reshape([k, c, nb, fb])
                    .swap_dims(1, 2)
                    .reshape([k * nb, c, fb]);
                let r = self.num_relations;
                let w = self
                    .weight
                    .val()
                    .reshape([r, nb * fb * ob])
                    .select(0, groups.chunk_relation.clone())
                    .reshape([k * nb, fb, ob]);
                parts
                    .matmul(w)
                    .reshape([k, nb, c, ob])
                    .swap_dims(1, 2)
                    .reshape([k * c, o])
            }
            _ => {
                let r = self.num_relations;
                let w = self
                    .relation_weights()
                    .reshape([r, f * o])
                    .select(0, groups.chunk_relation.clone())
                    .reshape([k, f, o]);
                rows.reshape([k, c, f]).matmul(w).reshape([k * c, o])
            }
        };
        let mut messages = slots.select(0, groups.slot.clone());
        if let Some(w) = graph.edge_weight() {
            messages = messages * w.clone().unsqueeze_dim(1);
        }
        let out = aggregate(messages, graph, Aggregation::Sum);
        Ok(self.add_root_and_bias(out, x))
    }
}

/// A graph's edges laid out by relation for [`RgcnConv`]'s relation-by-relation path: each
/// relation's edges (in input order) fill chunks of `C` slots, the last chunk of a relation
/// padded (with node 0, whose padded messages are never read).
#[derive(Debug, Clone)]
struct ByRelation {
    /// Number of chunks `K`.
    chunks: usize,
    /// Slots per chunk `C`: the mean edges per relation present, rounded up to a power of
    /// two in `8..=512`, so that padding costs at most about as much as the edges.
    chunk_size: usize,
    /// The source node of every slot, `[K·C]`.
    rows: Tensor<1, Int>,
    /// The relation of every chunk, `[K]`.
    chunk_relation: Tensor<1, Int>,
    /// The slot of every edge, input order, `[E]`.
    slot: Tensor<1, Int>,
}

impl ByRelation {
    fn of(graph: &Graph) -> Result<Self, GraphError> {
        let types = graph.require_edge_types(LAYER)?;
        let mut order: Vec<u32> = (0..types.len() as u32).collect();
        // Stable: input order within a relation.
        order.sort_by_key(|&e| types[e as usize]);
        let groups: Vec<&[u32]> = order
            .chunk_by(|&a, &b| types[a as usize] == types[b as usize])
            .collect();
        let mean = order.len().div_ceil(groups.len().max(1));
        let c = mean.next_power_of_two().clamp(8, 512);
        let src = graph.host_src();
        let (mut rows, mut chunk_relation) = (Vec::new(), Vec::new());
        let mut slot = vec![0i64; types.len()];
        for group in &groups {
            let r = i64::from(types[group[0] as usize]);
            for chunk in group.chunks(c) {
                for &e in chunk {
                    slot[e as usize] = rows.len() as i64;
                    rows.push(i64::from(src[e as usize]));
                }
                rows.resize(rows.len() + c - chunk.len(), 0);
                chunk_relation.push(r);
            }
        }
        let device = graph.device();
        let ids = |v: Vec<i64>| {
            let len = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &device)
        };
        Ok(ByRelation {
            chunks: chunk_relation.len(),
            chunk_size: c,
            rows: ids(rows),
            chunk_relation: ids(chunk_relation),
            slot: ids(slot),
        })
    }
}

impl RgcnConv {
    /// PyG's shape of `weight`: block weights are `[R, B, F/B, F'/B]` there.
    fn pyg_weight_shape(&self) -> Vec<usize> {
        let dims = self.weight.val().dims();
        match self.num_blocks() {
            0 => dims.to_vec(),
            b => vec![dims[0] / b, b, dims[1], dims[2]],
        }
    }
}

/// `graph`'s edges with each source replaced by the row of the message table `H` that carries
/// its message — `r·N + j` when `H` is the weight itself (featureless input), `j·R + r`
/// otherwise — remembered by the graph; the targets stay.
fn message_rows(graph: &Graph, n: usize, r: usize, identity: bool) -> Result<Graph, GraphError> {
    /// The memo key of the re-sourced edges.
    #[derive(Debug, PartialEq)]
    struct MessageRows {
        identity: bool,
        relations: usize,
    }
    let key = MessageRows {
        identity,
        relations: r,
    };
    graph.try_memoized_value(key, |g| {
        let types = g.require_edge_types(LAYER)?;
        if n * r > u32::MAX as usize {
            return Err(GraphError::TooLarge(format!("{n} nodes × {r} relations")));
        }
        let row = |(&j, &t): (&u32, &u32)| match identity {
            true => t as usize * n + j as usize,
            false => j as usize * r + t as usize,
        };
        let src: Vec<usize> = g.host_src().iter().zip(types).map(row).collect();
        let dst: Vec<usize> = g.host_dst().iter().map(|&i| i as usize).collect();
        let types: Vec<usize> = types.iter().map(|&t| t as usize).collect();
        Graph::from_checked(&src, &dst, n, &g.device())
            .with_message_sources(g.host_src().into())
            .with_edge_types(&types, g.num_relations())
    })
}

impl PygParams for RgcnConv {
    fn export_pyg(&self, prefix: &str, out: &mut StateDict) {
        let mut w = HostTensor::from_tensor(self.weight.val());
        w.shape = self.pyg_weight_shape();
        out.insert(format!("{prefix}weight"), w);
        if let Some(c) = &self.comp {
            export_param(c, format!("{prefix}comp"), out);
        }
        if let Some(r) = &self.root {
            export_param(r, format!("{prefix}root"), out);
        }
        export_bias(&self.bias, prefix, out);
    }

    fn import_pyg(&mut self, prefix: &str, src: &mut Import) {
        let device = self.weight.val().device();
        let ours = self.weight.val().dims();
        let pyg = self.pyg_weight_shape();
        if let Some(w) = src.take(&format!("{prefix}weight"), &pyg, ours, &device) {
            self.weight = Param::from_tensor(w);
        }
        if let Some(c) = &mut self.comp {
            import_param(c, &format!("{prefix}comp"), src);
        }
        if let Some(r) = &mut self.root {
            import_param(r, &format!("{prefix}root"), src);
        }
        import_bias(&mut self.bias, prefix, src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    /// Brute force: `x_i W_0 + Σ_r mean_{j ∈ N_r(i)} x_j W_r`, without bias — on 4 nodes
    /// (`2E = 14 ≥ N·R = 12`: the node-table path, but for the block-diagonal weights) and on
    /// 5 (`14 < 15`: relation by relation).
    #[test]
    fn matches_per_relation_reference_for_every_decomposition() {
        for n in [4, 5] {
            matches_reference_on(n);
        }
    }

    fn matches_reference_on(n: usize) {
        let d = Device::flex();
        let (src, dst, ty) = (
            [0usize, 1, 2, 2, 3, 0, 1],
            [1usize, 2, 0, 1, 1, 1, 3],
            [0usize, 1, 0, 2, 2, 2, 1],
        );
        let g = Graph::new(&src, &dst, n, &d)
            .unwrap()
            .with_edge_types(&ty, 3)
            .unwrap();
        let x = seeded_values(n * 4, 9);
        for config in [
            RgcnConvConfig::new(4, 2, 3),
            RgcnConvConfig::new(4, 2, 3).with_num_bases(Some(2)),
            RgcnConvConfig::new(4, 2, 3).with_num_blocks(Some(2)),
            RgcnConvConfig::new(4, 2, 3).with_aggr(Aggregation::Sum),
            RgcnConvConfig::new(4, 2, 3).with_norm(RgcnNorm::Node),
        ] {
            let layer = config.clone().with_bias(false).init(&d).unwrap();
            let out = to_vec(layer.forward(tensor2(&x, [n, 4], &d), &g).unwrap());
            let w = to_vec(layer.relation_weights());
            let root = to_vec(layer.root.as_ref().unwrap().val());
            let mut want = vec![0.0f32; 2 * n];
            for i in 0..n {
                for c in 0..2 {
                    let mut v: f32 = (0..4).map(|k| x[i * 4 + k] * root[k * 2 + c]).sum();
                    for rel in 0..3 {
                        let nbrs: Vec<usize> = (0..7)
                            .filter(|&e| dst[e] == i && ty[e] == rel)
                            .map(|e| src[e])
                            .collect();
                        let in_degree = (0..7).filter(|&e| dst[e] == i).count();
                        let scale = match (config.aggr, config.norm) {
                            (Aggregation::Mean, RgcnNorm::Relation) if !nbrs.is_empty() => {
                                1.0 / nbrs.len() as f32
                            }
                            (Aggregation::Mean, RgcnNorm::Node) if in_degree > 0 => {
                                1.0 / in_degree as f32
                            }
                            _ => 1.0,
                        };
                        for j in nbrs {
                            v += scale
                                * (0..4)
                                    .map(|k| x[j * 4 + k] * w[rel * 8 + k * 2 + c])
                                    .sum::<f32>();
                        }
                    }
                    want[i * 2 + c] = v;
                }
            }
            assert_close(&out, &want, 1e-5, &format!("{n} nodes, {config:?}"));
        }
    }

    /// A relation whose edges fill several chunks of the relation-by-relation path (30 edges
    /// of relation 0, chunks of 16), against `x_i W_0 + Σ_e x_src W_type` summed on the host.
    #[test]
    fn relations_spanning_several_chunks_match_the_sum() {
        let d = Device::flex();
        let n = 30;
        let edges: Vec<(usize, usize, usize)> = (0..40)
            .map(|e| {
                (
                    (e * 7) % n,
                    (e * 11 + 3) % n,
                    if e < 30 { 0 } else { 1 + e % 2 },
                )
            })
            .collect();
        let src: Vec<usize> = edges.iter().map(|e| e.0).collect();
        let dst: Vec<usize> = edges.iter().map(|e| e.1).collect();
        let ty: Vec<usize> = edges.iter().map(|e| e.2).collect();
        let g = Graph::new(&src, &dst, n, &d)
            .unwrap()
            .with_edge_types(&ty, 3)
            .unwrap();
        let x = seeded_values(n * 4, 3);
        for config in [
            RgcnConvConfig::new(4, 2, 3).with_num_blocks(Some(2)),
            RgcnConvConfig::new(4, 2, 3).with_num_bases(Some(2)),
        ] {
            let layer = config
                .with_aggr(Aggregation::Sum)
                .with_bias(false)
                .init(&d)
                .unwrap();
            let out = to_vec(layer.forward(tensor2(&x, [n, 4], &d), &g).unwrap());
            let w = to_vec(layer.relation_weights());
            let root = to_vec(layer.root.as_ref().unwrap().val());
            let mut want = vec![0.0f32; 2 * n];
            for i in 0..n {
                for c in 0..2 {
                    want[i * 2 + c] = (0..4).map(|k| x[i * 4 + k] * root[k * 2 + c]).sum();
                }
            }
            for &(j, i, r) in &edges {
                for c in 0..2 {
                    want[i * 2 + c] += (0..4)
                        .map(|k| x[j * 4 + k] * w[r * 8 + k * 2 + c])
                        .sum::<f32>();
                }
            }
            assert_close(&out, &want, 1e-5, "chunked relations");
        }
    }

    #[test]
    fn featureless_input_equals_identity_features() {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 2], &[1, 2, 0], 3, &d)
            .unwrap()
            .with_edge_types(&[0, 1, 1], 2)
            .unwrap();
        let layer = RgcnConvConfig::new(3, 2, 2)
            .with_num_bases(Some(2))
            .init(&d)
            .unwrap();
        let a = to_vec(
            layer
                .forward(Features::Identity { num_nodes: 3 }, &g)
                .unwrap(),
        );
        let b = to_vec(layer.forward(Tensor::<2>::eye(3, &d), &g).unwrap());
        assert_close(&a, &b, 1e-6, "identity");
    }

    #[test]
    fn block_diagonal_weights_are_block_diagonal() {
        let d = Device::flex();
        let layer = RgcnConvConfig::new(4, 6, 2)
            .with_num_blocks(Some(2))
            .init(&d)
            .unwrap();
        let w = to_vec(layer.relation_weights());
        // Relation 0, rows 0..2 x columns 3..6 and rows 2..4 x columns 0..3 are zero.
        for (row, cols) in [(0usize, 3..6), (1, 3..6), (2, 0..3), (3, 0..3)] {
            for c in cols {
                assert_eq!(w[row * 6 + c], 0.0);
            }
        }
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(
            RgcnConvConfig::new(4, 2, 3)
                .with_num_bases(Some(2))
                .with_num_blocks(Some(2))
                .validate()
                .is_err()
        );
        assert!(
            RgcnConvConfig::new(5, 2, 3)
                .with_num_blocks(Some(2))
                .validate()
                .is_err()
        );
        assert!(RgcnConvConfig::new(4, 2, 0).validate().is_err());
        assert!(
            RgcnConvConfig::new(4, 2, 3)
                .with_aggr(Aggregation::Max)
                .validate()
                .is_err()
        );
        assert!(RgcnConvConfig::new(4, 2, 0).init(&Device::flex()).is_err());
    }

    #[test]
    fn graphs_it_cannot_read_are_errors() {
        let d = Device::flex();
        let layer = RgcnConvConfig::new(2, 2, 2).init(&d).unwrap();
        let x = tensor2(&[1.0, 2.0, 3.0, 4.0], [2, 2], &d);
        let untyped = Graph::new(&[0], &[1], 2, &d).unwrap();
        let e = layer.forward(x.clone(), &untyped).unwrap_err();
        assert_eq!(
            e.to_string(),
            "R-GCN needs a graph with edge types, and this graph has none"
        );
        let wide = untyped.with_edge_types(&[2], 3).unwrap();
        assert!(matches!(
            layer.forward(x, &wide),
            Err(GraphError::Width {
                expected: 2,
                got: 3,
                ..
            })
        ));
    }
}
