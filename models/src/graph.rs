//! [`Graph`]: the device-side graph value that flows into every layer.

use std::any::Any;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, OnceLock};

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::kernels::Adjacency;

/// Why a [`Graph`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Source and target lists (or an edge tensor) have different lengths.
    #[error("edge {what} has length {got}, expected {expected} (one per edge)")]
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The number of edges.
        expected: usize,
    },
    /// An edge refers to a node `>= num_nodes`.
    #[error("edge {edge} ({src} -> {dst}) refers to a node outside 0..{num_nodes}")]
    IndexOutOfRange {
        /// Position of the edge.
        edge: usize,
        /// Its source.
        src: i64,
        /// Its target.
        dst: i64,
        /// The number of nodes.
        num_nodes: usize,
    },
    /// An edge of a [`BipartiteGraph`](crate::BipartiteGraph) refers to a node outside its
    /// side's node set.
    #[error("edge {edge}: {side} {index} outside 0..{count}")]
    SideOutOfRange {
        /// Position of the edge.
        edge: usize,
        /// `source` or `target`.
        side: &'static str,
        /// The node it names.
        index: usize,
        /// The number of nodes on that side.
        count: usize,
    },
    /// More nodes or edges than the 32-bit index space holds.
    #[error("graph too large: {0}")]
    TooLarge(String),
    /// A batch vector entry names a graph outside `0..num_graphs`.
    #[error("node {node} is in graph {graph}, outside 0..{num_graphs}")]
    BatchOutOfRange {
        /// The node.
        node: usize,
        /// Its graph id.
        graph: usize,
        /// Number of graphs.
        num_graphs: usize,
    },
    /// A value that must be finite is not.
    #[error("{0} holds a NaN or infinite value")]
    NotFinite(&'static str),
    /// An edge type is `>= num_relations`.
    #[error("edge {edge} has relation {relation}, outside 0..{num_relations}")]
    RelationOutOfRange {
        /// Position of the edge.
        edge: usize,
        /// Its relation.
        relation: usize,
        /// The number of relations.
        num_relations: usize,
    },
    /// A layer needs a part of the graph (edge types, edge features) that it does not have.
    #[error("{layer} needs a graph with {part}, and this graph has none")]
    Missing {
        /// The layer or model.
        layer: &'static str,
        /// What it needs: `edge types`, `edge features`.
        part: &'static str,
    },
    /// A layer or model lacks a form the caller asked for.
    #[error("{layer} has no {what}")]
    Unsupported {
        /// The layer or model.
        layer: &'static str,
        /// What it lacks: `bipartite form`, `form layer by layer`.
        what: &'static str,
    },
    /// Features with another number of rows than a bipartite graph has sources or targets.
    #[error("{layer}: {got} {what} given, and the graph has {expected}")]
    Rows {
        /// The layer or model.
        layer: &'static str,
        /// `source rows` or `target rows`.
        what: &'static str,
        /// What the graph has.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// A graph's relations, edge features or node features are wider than a layer takes.
    #[error("{layer} takes {expected} {what}, and the graph has {got}")]
    Width {
        /// The layer or model.
        layer: &'static str,
        /// `relations`, `edge features`, `node features`.
        what: &'static str,
        /// What the layer takes (at most this many relations; exactly this many features).
        expected: usize,
        /// What the graph has.
        got: usize,
    },
}

/// A key under which a [`Graph`] remembers a graph derived from it ([`Graph::memoized`]): any
/// value type whose equal values stand for the same derivation — a unit struct naming the
/// transform, or a struct of the settings it depends on (`GcnNormKey { improved, loops }`).
/// Keys of different types never collide, so layers written outside this crate can cache
/// their own derived graphs beside the library's.
pub trait MemoKey: Any + PartialEq + Debug + Send + Sync {}

impl<T: Any + PartialEq + Debug + Send + Sync> MemoKey for T {}

/// What a [`Graph`] remembers of itself (derived graphs, normalisations), by typed key.
type Memo = Arc<Mutex<Vec<(Box<dyn Any + Send + Sync>, Box<dyn Any + Send>)>>>;

/// The relation of every edge (R-GCN's edge types).
#[derive(Clone, Debug)]
pub struct EdgeTypes {
    tensor: Tensor<1, Int>,
    host: Arc<[u32]>,
    num_relations: usize,
}

/// A directed graph on a device: `E` edges `src[e] → dst[e]` over `N` nodes, with optional
/// per-edge weights and relation types. Messages flow from source `j` to target `i` and are aggregated at `i`
/// (PyG's `edge_index[0]` = source, `edge_index[1]` = target).
///
/// A `Graph` is immutable and cheap to clone (tensor handles and `Arc`s). It keeps a host copy
/// of the indices so that structural transforms (self-loops, validation) need no device
/// read-back, and a memo used by layers' cached normalisation.
///
/// Structural transforms (self-loops) keep the weights but drop edge types.
///
/// # Shapes
/// - `src`, `dst`: `[E]` (`Int`)
/// - `edge_weight`: `[E]` (optional)
/// - `edge_type`: `[E]` (`Int`, optional), each in `0..num_relations`
/// - `edge_attr`: `[E, D]` (optional edge features)
/// - `batch`: `[N]` (`Int`, optional), graph id of each node in a mini-batch of graphs
#[derive(Clone, Debug)]
pub struct Graph {
    num_nodes: usize,
    src: Tensor<1, Int>,
    dst: Tensor<1, Int>,
    edge_weight: Option<Tensor<1>>,
    edge_type: Option<EdgeTypes>,
    edge_attr: Option<Tensor<2>>,
    batch: Option<BatchVector>,
    host_src: Arc<[u32]>,
    host_dst: Arc<[u32]>,
    /// The node each edge's message comes from, where the sources index a table of messages
    /// rather than nodes (R-GCN's node-table path); `None`: the sources.
    message_src: Option<Arc<[u32]>>,
    adjacency: Arc<OnceLock<Arc<Adjacency>>>,
    memo: Memo,
}

/// Checks what every edge list needs: one target per source, and node and edge counts that
/// fit the 32-bit indices (`nodes`: the larger node set).
pub(crate) fn check_edge_lists(
    src: &[usize],
    dst: &[usize],
    nodes: usize,
) -> Result<(), GraphError> {
    if src.len() != dst.len() {
        return Err(GraphError::LengthMismatch {
            what: "targets",
            got: dst.len(),
            expected: src.len(),
        });
    }
    if nodes > u32::MAX as usize || src.len() > i32::MAX as usize {
        return Err(GraphError::TooLarge(format!(
            "{nodes} nodes, {} edges",
            src.len()
        )));
    }
    Ok(())
}

/// Which graph of a mini-batch each node belongs to (a disjoint union of graphs).
#[derive(Clone, Debug)]
pub struct BatchVector {
    /// Graph id of each node `[N]`, in `0..num_graphs`.
    pub tensor: Tensor<1, Int>,
    /// Number of graphs `B`.
    pub num_graphs: usize,
}

impl Graph {
    /// Builds a graph from host edge lists, checking that both have the same length and that
    /// every index is `< num_nodes`.
    pub fn new(
        src: &[usize],
        dst: &[usize],
        num_nodes: usize,
        device: &Device,
    ) -> Result<Self, GraphError> {
        check_edge_lists(src, dst, num_nodes)?;
        if let Some(e) = src
            .iter()
            .zip(dst)
            .position(|(&s, &d)| s >= num_nodes || d >= num_nodes)
        {
            return Err(GraphError::IndexOutOfRange {
                edge: e,
                src: src[e] as i64,
                dst: dst[e] as i64,
                num_nodes,
            });
        }
        Ok(Self::from_checked(src, dst, num_nodes, device))
    }

    /// A graph on `num_nodes` targets from host lists already checked to fit (sources may
    /// index another node set: [`BipartiteGraph`](crate::BipartiteGraph)).
    pub(crate) fn from_checked(
        src: &[usize],
        dst: &[usize],
        num_nodes: usize,
        device: &Device,
    ) -> Self {
        let host_src: Arc<[u32]> = src.iter().map(|&v| v as u32).collect();
        let host_dst: Arc<[u32]> = dst.iter().map(|&v| v as u32).collect();
        Self::from_host(num_nodes, host_src, host_dst, None, device)
    }

    /// Builds a graph from `i64` index lists (PyG's `edge_index` rows), rejecting negative or
    /// out-of-range indices.
    pub fn from_i64(
        src: &[i64],
        dst: &[i64],
        num_nodes: usize,
        device: &Device,
    ) -> Result<Self, GraphError> {
        if src.len() != dst.len() {
            return Err(GraphError::LengthMismatch {
                what: "targets",
                got: dst.len(),
                expected: src.len(),
            });
        }
        let ok = |v: i64| v >= 0 && (v as u64) < num_nodes as u64;
        if let Some(e) = src.iter().zip(dst).position(|(&s, &d)| !ok(s) || !ok(d)) {
            return Err(GraphError::IndexOutOfRange {
                edge: e,
                src: src[e],
                dst: dst[e],
                num_nodes,
            });
        }
        let s: Vec<usize> = src.iter().map(|&v| v as usize).collect();
        let d: Vec<usize> = dst.iter().map(|&v| v as usize).collect();
        Self::new(&s, &d, num_nodes, device)
    }

    /// Internal constructor from already validated host indices.
    pub(crate) fn from_host(
        num_nodes: usize,
        host_src: Arc<[u32]>,
        host_dst: Arc<[u32]>,
        edge_weight: Option<Tensor<1>>,
        device: &Device,
    ) -> Self {
        let to_tensor = |v: &[u32]| {
            let data: Vec<i64> = v.iter().map(|&x| x as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(data, [v.len()]), device)
        };
        Graph {
            num_nodes,
            src: to_tensor(&host_src),
            dst: to_tensor(&host_dst),
            edge_weight,
            edge_type: None,
            edge_attr: None,
            batch: None,
            host_src,
            host_dst,
            message_src: None,
            adjacency: Arc::default(),
            memo: Arc::default(),
        }
    }

    /// The same graph with per-edge weights `[E]` (a tensor, so gradients can flow into it).
    pub fn with_edge_weight(mut self, weight: Tensor<1>) -> Result<Self, GraphError> {
        let [len] = weight.dims();
        if len != self.num_edges() {
            return Err(GraphError::LengthMismatch {
                what: "weights",
                got: len,
                expected: self.num_edges(),
            });
        }
        self.edge_weight = Some(weight);
        self.memo = Arc::default();
        Ok(self)
    }

    /// The same graph with per-edge weights from a host slice; they must be finite.
    pub fn with_edge_weights(self, weight: &[f32]) -> Result<Self, GraphError> {
        if weight.iter().any(|w| !w.is_finite()) {
            return Err(GraphError::NotFinite("edge weights"));
        }
        let device = self.src.device();
        let t = Tensor::<1>::from_data(TensorData::new(weight.to_vec(), [weight.len()]), &device);
        self.with_edge_weight(t)
    }

    /// The same graph with a relation type per edge, each `< num_relations`.
    pub fn with_edge_types(
        mut self,
        types: &[usize],
        num_relations: usize,
    ) -> Result<Self, GraphError> {
        if types.len() != self.num_edges() {
            return Err(GraphError::LengthMismatch {
                what: "types",
                got: types.len(),
                expected: self.num_edges(),
            });
        }
        if let Some(e) = types.iter().position(|&t| t >= num_relations) {
            return Err(GraphError::RelationOutOfRange {
                edge: e,
                relation: types[e],
                num_relations,
            });
        }
        let host: Arc<[u32]> = types.iter().map(|&t| t as u32).collect();
        let data: Vec<i64> = types.iter().map(|&t| t as i64).collect();
        let tensor =
            Tensor::<1, Int>::from_data(TensorData::new(data, [types.len()]), &self.device());
        self.edge_type = Some(EdgeTypes {
            tensor,
            host,
            num_relations,
        });
        self.memo = Arc::default();
        Ok(self)
    }

    /// Relation of each edge `[E]`, if the graph is typed.
    pub fn edge_type(&self) -> Option<&Tensor<1, Int>> {
        self.edge_type.as_ref().map(|t| &t.tensor)
    }

    /// Relation of each edge on the host, if the graph is typed.
    pub fn host_edge_type(&self) -> Option<&[u32]> {
        self.edge_type.as_ref().map(|t| &t.host[..])
    }

    /// Number of relations (1 for an untyped graph).
    pub fn num_relations(&self) -> usize {
        self.edge_type.as_ref().map_or(1, |t| t.num_relations)
    }

    /// The same graph with edge features `[E, D]` (a tensor, so gradients can flow into it).
    pub fn with_edge_attr(mut self, edge_attr: Tensor<2>) -> Result<Self, GraphError> {
        let [e, _] = edge_attr.dims();
        if e != self.num_edges() {
            return Err(GraphError::LengthMismatch {
                what: "edge features",
                got: e,
                expected: self.num_edges(),
            });
        }
        self.edge_attr = Some(edge_attr);
        self.memo = Arc::default();
        Ok(self)
    }

    /// Edge features `[E, D]`, if any.
    pub fn edge_attr(&self) -> Option<&Tensor<2>> {
        self.edge_attr.as_ref()
    }

    /// The same graph as a mini-batch: `batch[i]` is node `i`'s graph, each `< num_graphs`.
    pub fn with_batch(mut self, batch: &[usize], num_graphs: usize) -> Result<Self, GraphError> {
        if batch.len() != self.num_nodes {
            return Err(GraphError::LengthMismatch {
                what: "batch entries",
                got: batch.len(),
                expected: self.num_nodes,
            });
        }
        if let Some(i) = batch.iter().position(|&b| b >= num_graphs) {
            return Err(GraphError::BatchOutOfRange {
                node: i,
                graph: batch[i],
                num_graphs,
            });
        }
        let data: Vec<i64> = batch.iter().map(|&b| b as i64).collect();
        let tensor =
            Tensor::<1, Int>::from_data(TensorData::new(data, [batch.len()]), &self.device());
        self.batch = Some(BatchVector { tensor, num_graphs });
        Ok(self)
    }

    /// The batch vector, if the graph is a mini-batch of graphs.
    pub fn batch(&self) -> Option<&BatchVector> {
        self.batch.as_ref()
    }

    /// The typed graph with a self-loop `(i, i)` for every node appended as one more relation,
    /// `R` (so `R + 1` relations): how the R-GCN authors' code models the self-connection.
    /// Edge weights are dropped. An untyped graph is an error.
    pub fn with_self_loop_relation(&self) -> Result<Graph, GraphError> {
        let types = self.require_edge_types("R-GCN's self-loop relation")?;
        let r = self.num_relations();
        let n = self.num_nodes as u32;
        let src: Vec<u32> = self.host_src().iter().copied().chain(0..n).collect();
        let dst: Vec<u32> = self.host_dst().iter().copied().chain(0..n).collect();
        let types: Vec<usize> = types
            .iter()
            .map(|&t| t as usize)
            .chain(std::iter::repeat_n(r, self.num_nodes))
            .collect();
        self.with_edges(src, dst, None)
            .with_edge_types(&types, r + 1)
    }

    /// The relation of every edge on the host, or the error that `layer` needs them.
    pub fn require_edge_types(&self, layer: &'static str) -> Result<&[u32], GraphError> {
        self.host_edge_type().ok_or(GraphError::Missing {
            layer,
            part: "edge types",
        })
    }

    /// The edge features `[E, D]` with `D = width`, or the error naming what `layer` lacks.
    pub fn require_edge_attr(
        &self,
        layer: &'static str,
        width: usize,
    ) -> Result<&Tensor<2>, GraphError> {
        let attr = self.edge_attr().ok_or(GraphError::Missing {
            layer,
            part: "edge features",
        })?;
        let [_, got] = attr.dims();
        if got != width {
            return Err(GraphError::Width {
                layer,
                what: "edge features",
                expected: width,
                got,
            });
        }
        Ok(attr)
    }

    /// The same graph without edge weights.
    pub fn without_edge_weight(mut self) -> Self {
        self.edge_weight = None;
        self.memo = Arc::default();
        self
    }

    /// Number of nodes `N`.
    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// Number of edges `E`.
    pub fn num_edges(&self) -> usize {
        self.host_src.len()
    }

    /// Source node of each edge, `[E]`.
    pub fn src(&self) -> &Tensor<1, Int> {
        &self.src
    }

    /// Target node of each edge, `[E]`.
    pub fn dst(&self) -> &Tensor<1, Int> {
        &self.dst
    }

    /// Per-edge weights `[E]`, if any.
    pub fn edge_weight(&self) -> Option<&Tensor<1>> {
        self.edge_weight.as_ref()
    }

    /// Source indices on the host.
    pub fn host_src(&self) -> &[u32] {
        &self.host_src
    }

    /// Target indices on the host.
    pub fn host_dst(&self) -> &[u32] {
        &self.host_dst
    }

    /// The node each edge's message comes from: the source, except where a layer re-sourced
    /// the edges at rows of a message table (R-GCN's node-table path), for the
    /// [`trace`](crate::trace).
    pub fn message_sources(&self) -> &[u32] {
        self.message_src.as_deref().unwrap_or(&self.host_src)
    }

    /// The same edges re-sourced at rows of a message table, remembering the node each
    /// message comes from (`nodes`: `[E]`).
    pub(crate) fn with_message_sources(mut self, nodes: Arc<[u32]>) -> Self {
        self.message_src = Some(nodes);
        self
    }

    /// The edges grouped by target (and by source on first use) for the fused kernels: built
    /// the first time it is asked for, then shared by every graph with these edges (clones,
    /// reweighted copies, copies on other devices).
    pub fn adjacency(&self) -> Arc<Adjacency> {
        self.adjacency
            .get_or_init(|| {
                let (src, dst) = (self.host_src.clone(), self.host_dst.clone());
                Arc::new(Adjacency::new(src, dst, self.num_nodes))
            })
            .clone()
    }

    /// The device the index tensors live on.
    pub fn device(&self) -> Device {
        self.src.device()
    }

    /// The same graph on another device.
    pub fn to_device(&self, device: &Device) -> Self {
        Graph {
            num_nodes: self.num_nodes,
            src: self.src.clone().to_device(device),
            dst: self.dst.clone().to_device(device),
            edge_weight: self.edge_weight.clone().map(|w| w.to_device(device)),
            edge_type: self.edge_type.clone().map(|t| EdgeTypes {
                tensor: t.tensor.to_device(device),
                ..t
            }),
            edge_attr: self.edge_attr.clone().map(|a| a.to_device(device)),
            batch: self.batch.clone().map(|b| BatchVector {
                tensor: b.tensor.to_device(device),
                ..b
            }),
            host_src: self.host_src.clone(),
            host_dst: self.host_dst.clone(),
            message_src: self.message_src.clone(),
            adjacency: self.adjacency.clone(),
            memo: Arc::default(),
        }
    }

    /// The same graph with new edge weights, keeping its edge types and memo key space (for
    /// layers that derive per-edge normalisations, e.g. R-GCN's per-relation mean).
    pub(crate) fn reweighted(&self, edge_weight: Tensor<1>) -> Self {
        let mut g = self.clone();
        g.edge_weight = Some(edge_weight);
        g.memo = Arc::default();
        g
    }

    /// Returns the graph derived from this one under `key`, computing it with `make` the first
    /// time. Used for cached normalisation (`GcnConv { cached: true }`): the derived graph is
    /// stored with its edge weights detached from autodiff, so it is a constant.
    pub fn memoized<K: MemoKey>(&self, key: K, make: impl FnOnce(&Graph) -> Graph) -> Graph {
        match self.try_memoized(key, |g| Ok::<_, std::convert::Infallible>(make(g))) {
            Ok(g) => g,
            Err(never) => match never {},
        }
    }

    /// [`memoized`](Self::memoized) for a derivation that can fail: an error is returned and
    /// nothing is remembered.
    pub fn try_memoized<K: MemoKey, E>(
        &self,
        key: K,
        make: impl FnOnce(&Graph) -> Result<Graph, E>,
    ) -> Result<Graph, E> {
        self.try_memoized_value(key, |g| {
            let mut derived = make(g)?;
            derived.edge_weight = derived.edge_weight.map(|w| w.detach());
            Ok(derived)
        })
    }

    /// Any value derived from this graph (a degree vector, propagated features), computed by
    /// `make` the first time it is asked for under `key`. Values that hold tensors should be
    /// detached by `make`: they are reused across training steps as constants.
    pub fn memoized_value<K: MemoKey, V: Clone + Send + 'static>(
        &self,
        key: K,
        make: impl FnOnce(&Graph) -> V,
    ) -> V {
        match self.try_memoized_value(key, |g| Ok::<_, std::convert::Infallible>(make(g))) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// [`memoized_value`](Self::memoized_value) for a derivation that can fail (nothing is
    /// remembered then). An entry matches when its key equals `key` and its value is a `V`.
    pub fn try_memoized_value<K: MemoKey, V: Clone + Send + 'static, E>(
        &self,
        key: K,
        make: impl FnOnce(&Graph) -> Result<V, E>,
    ) -> Result<V, E> {
        if let Ok(memo) = self.memo.lock()
            && let Some(v) = memo.iter().find_map(|(k, v)| {
                (k.downcast_ref::<K>() == Some(&key))
                    .then(|| v.downcast_ref::<V>())
                    .flatten()
            })
        {
            return Ok(v.clone());
        }
        let v = make(self)?;
        if let Ok(mut memo) = self.memo.lock() {
            memo.push((Box::new(key), Box::new(v.clone())));
        }
        Ok(v)
    }

    /// A graph with the same nodes and new host edges and weights (for structural transforms).
    pub(crate) fn with_edges(
        &self,
        src: Vec<u32>,
        dst: Vec<u32>,
        edge_weight: Option<Tensor<1>>,
    ) -> Self {
        Self::from_host(
            self.num_nodes,
            src.into(),
            dst.into(),
            edge_weight,
            &self.device(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_validates() {
        let d = Device::flex();
        assert!(matches!(
            Graph::new(&[0, 1], &[1], 2, &d),
            Err(GraphError::LengthMismatch { .. })
        ));
        assert!(matches!(
            Graph::new(&[0, 2], &[1, 0], 2, &d),
            Err(GraphError::IndexOutOfRange { edge: 1, .. })
        ));
        assert!(matches!(
            Graph::from_i64(&[0, -1], &[1, 0], 2, &d),
            Err(GraphError::IndexOutOfRange { edge: 1, .. })
        ));
        let g = Graph::new(&[0, 1], &[1, 0], 2, &d).unwrap();
        assert_eq!((g.num_nodes(), g.num_edges()), (2, 2));
        assert!(g.clone().with_edge_weights(&[1.0]).is_err());
        assert!(g.clone().with_edge_weights(&[1.0, f32::NAN]).is_err());
        assert!(
            g.with_edge_weights(&[1.0, 2.0])
                .unwrap()
                .edge_weight()
                .is_some()
        );
    }

    #[test]
    fn memo_keys_are_typed() {
        #[derive(Debug, PartialEq)]
        struct Reversed;
        #[derive(Debug, PartialEq)]
        struct Scaled(u32);
        let d = Device::flex();
        let g = Graph::new(&[0, 1], &[1, 2], 3, &d).unwrap();
        let mut calls = 0;
        let mut reversed = || {
            g.memoized(Reversed, |g| {
                calls += 1;
                g.with_edges(g.host_dst().to_vec(), g.host_src().to_vec(), None)
            })
        };
        assert_eq!(reversed().host_src(), &[1, 2]);
        assert_eq!(reversed().host_src(), &[1, 2]);
        assert_eq!(calls, 1, "computed once per key");
        // Another key type, and another value of a key type, are other entries.
        let a = g.memoized(Scaled(2), |g| {
            g.clone().with_edge_weights(&[2.0, 2.0]).unwrap()
        });
        let b = g.memoized(Scaled(3), |g| {
            g.clone().with_edge_weights(&[3.0, 3.0]).unwrap()
        });
        let w = |g: &Graph| crate::testing::to_vec(g.edge_weight().unwrap().clone());
        assert_eq!((w(&a), w(&b)), (vec![2.0, 2.0], vec![3.0, 3.0]));
        // A failed derivation is an error and is not remembered.
        let e: Result<Graph, &str> = g.try_memoized(Scaled(4), |_| Err("no"));
        assert!(e.is_err());
        assert!(
            g.try_memoized(Scaled(4), |g| Ok::<_, &str>(g.clone()))
                .is_ok()
        );
    }

    #[test]
    fn missing_parts_are_errors() {
        let d = Device::flex();
        let g = Graph::new(&[0], &[1], 2, &d).unwrap();
        assert!(matches!(
            g.with_self_loop_relation(),
            Err(GraphError::Missing {
                part: "edge types",
                ..
            })
        ));
        let e = g.require_edge_attr("NNConv", 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "NNConv needs a graph with edge features, and this graph has none"
        );
        let g = g.with_edge_attr(Tensor::zeros([1, 2], &d)).unwrap();
        assert!(matches!(
            g.require_edge_attr("NNConv", 3),
            Err(GraphError::Width {
                expected: 3,
                got: 2,
                ..
            })
        ));
    }

    #[test]
    fn empty_graph_is_fine() {
        let g = Graph::new(&[], &[], 0, &Device::flex()).unwrap();
        assert_eq!((g.num_nodes(), g.num_edges()), (0, 0));
    }
}
