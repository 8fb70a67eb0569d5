//! [`SampledNodes`]: node classification in mini-batches of neighbour-sampled subgraphs
//! (GraphSAGE; PyG's `NeighborLoader`), for graphs whose full-batch activations do not fit.
//!
//! Each batch is the sampled computation graph of a batch of seed nodes
//! ([`NeighborSampler`]), seeds first: any registered node model runs on it unchanged and its
//! first rows are scored. Batches are made ahead — sampling and the features gathered from
//! host memory, then the batch's graph, blocks and features built on the device — in two
//! background threads feeding bounded queues, so making batches overlaps the model's step; an
//! epoch never holds more than about [`PREFETCH`] batches besides the one training.

use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use burn::tensor::{Device, Tensor, TensorData};
use gnn_datasets::graph_set::Rng;
use gnn_datasets::neighbor_sampler::Block;
use gnn_datasets::transforms::row_scales;
use gnn_datasets::{Csr, Fanout, Matrix, NeighborSampler, NodeDataset, Sample};
use gnn_models::kernels::prefetch_row;
use gnn_models::registry::DynModel;
use gnn_models::{BipartiteGraph, Features, Graph, sparse_enough};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::data::{
    Batch, Batches, Objective, Outputs, SPARSE_MAX_DENSITY, Scored, SplitKind, TrainData,
    batch_outputs,
};

/// Batches made ahead of the one training.
pub const PREFETCH: usize = 4;

/// Seed nodes per mini-batch when none is given (PyG's examples: 1024).
pub const SAMPLED_BATCH_SIZE: usize = 1024;

/// Fan-outs when none are given: 15 neighbours, then 10 (a two-layer model).
pub const DEFAULT_FANOUT: &str = "15,10";

/// How a node task is sampled (`--sampler neighbor --fanout 15,10 --batch-size 1024`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborSampling {
    /// Fan-out of each layer from the seeds outwards; as many as the model has
    /// message-passing layers (fewer leave the outer layers without neighbours).
    pub fanouts: Vec<Fanout>,
    /// Draw neighbours with replacement.
    #[serde(default)]
    pub replace: bool,
    /// Fan-outs of evaluation; every neighbour when `None`, which for a model of
    /// `fanouts.len()` layers gives each seed exactly its full-graph output (up to degree
    /// normalisations of the outermost nodes, which see only their sampled edges).
    #[serde(default)]
    pub eval_fanouts: Option<Vec<Fanout>>,
}

/// Mini-batch node classification on sampled subgraphs: training batches of `batch_size`
/// shuffled training nodes, evaluation batches over every labelled split; seeded per run.
#[derive(Clone)]
pub struct SampledNodes {
    host: Arc<Host>,
    /// Where batches are sampled and gathered ([`batch_pool`]).
    pool: Arc<rayon::ThreadPool>,
    device: Device,
    seed: u64,
}

impl std::fmt::Debug for SampledNodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampledNodes")
            .field("nodes", &self.host.csr.num_nodes())
            .field("edges", &self.host.csr.num_edges())
            .field("batch_size", &self.host.batch_size)
            .field("seed", &self.seed)
            .finish()
    }
}

/// What the sampling thread reads: the graph, the features and the labels in host memory.
struct Host {
    csr: Csr,
    /// `[N, F]`, shared with the dataset (or mapped from a file), as loaded.
    features: Matrix,
    /// With row normalisation, each row's factor ([`row_scales`]), applied as rows are
    /// gathered.
    scales: Option<Vec<f32>>,
    /// Whether batches hold their features sparse: decided once for the whole matrix, as
    /// full-batch training decides ([`node_features`](crate::data::node_features)), rather
    /// than by a count over every batch.
    sparse: bool,
    /// Class of each node (0 where unlabelled: never scored).
    labels: Vec<usize>,
    /// Relation of each edge, and the number of relations.
    relations: Option<(Vec<usize>, usize)>,
    splits: Vec<(SplitKind, Vec<u32>)>,
    num_classes: usize,
    train: NeighborSampler,
    eval: NeighborSampler,
    /// Evaluation sees every neighbour (no `eval_fanouts`): layer-wise inference when the
    /// model has a layer-by-layer form.
    eval_all: bool,
    batch_size: usize,
}

/// One batch to make: its seeds, the split of each run of them, and the sampling seed.
struct Job {
    seeds: Vec<u32>,
    parts: Vec<(SplitKind, Range<usize>)>,
    seed: u64,
    eval: bool,
}

/// A batch made in host memory.
struct Made {
    sample: Sample,
    x: Vec<f32>,
    parts: Vec<(SplitKind, Range<usize>)>,
}

impl SampledNodes {
    /// The dataset's graph, features (row-normalised when `normalize`, as
    /// [`node_data`](crate::experiment::node_data) does) and labels copied into host
    /// structures for sampling; batches of `batch_size` seeds. Errors if the dataset has no
    /// features (a sampled subgraph cannot index per-node embeddings).
    pub fn new(
        dataset: &NodeDataset,
        sampling: &NeighborSampling,
        batch_size: usize,
        normalize: bool,
        device: &Device,
    ) -> Result<Self, TrainError> {
        dataset.validate()?;
        if dataset.num_features() == 0 {
            return Err(TrainError::Config(format!(
                "--sampler neighbor needs node features; {} has none",
                dataset.name
            )));
        }
        if batch_size == 0 {
            return Err(TrainError::Config("--batch-size must be at least 1".into()));
        }
        let csr = Csr::from_edges(
            dataset.num_nodes(),
            dataset.edges.src(),
            dataset.edges.dst(),
        )?;
        let all = vec![Fanout::All; sampling.fanouts.len()];
        let eval_fanouts = sampling.eval_fanouts.clone().unwrap_or(all);
        let ids = |v: &[usize]| v.iter().map(|&i| i as u32).collect::<Vec<u32>>();
        let split = &dataset.split;
        let host = Host {
            csr,
            scales: normalize.then(|| row_scales(&dataset.features)),
            sparse: sparse_enough(
                dataset.features.data(),
                dataset.num_nodes(),
                dataset.num_features(),
                SPARSE_MAX_DENSITY,
            ),
            features: dataset.features.clone(),
            labels: dataset.labels.iter().map(|l| l.unwrap_or(0)).collect(),
            relations: dataset
                .relations
                .as_ref()
                .map(|r| (r.edge_type.clone(), r.len())),
            splits: [
                (SplitKind::Train, ids(&split.train)),
                (SplitKind::Val, ids(&split.val)),
                (SplitKind::Test, ids(&split.test)),
            ]
            .into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .collect(),
            num_classes: dataset.num_classes,
            train: NeighborSampler::new(sampling.fanouts.clone(), sampling.replace)?,
            eval: NeighborSampler::new(eval_fanouts, false)?,
            eval_all: sampling.eval_fanouts.is_none(),
            batch_size,
        };
        Ok(SampledNodes {
            host: Arc::new(host),
            pool: batch_pool()?,
            device: device.clone(),
            seed: 0,
        })
    }

    /// The same data sampled with `seed` (shuffles and draws of every epoch follow from it).
    pub fn with_seed(&self, seed: u64) -> Self {
        SampledNodes {
            seed,
            ..self.clone()
        }
    }

    /// Bytes of the host adjacency ([`Csr::bytes`]).
    pub fn adjacency_bytes(&self) -> usize {
        self.host.csr.bytes()
    }

    /// Makes `jobs` in order: in background threads, about [`PREFETCH`] ahead in all, or, when
    /// the process has one thread (`--threads 1`), on the caller's thread as each is asked for —
    /// a one-thread run then uses one core, as PyG's loader without workers does.
    fn stream(&self, jobs: Vec<Job>) -> Result<Batches<'static>, TrainError> {
        if self.pool.current_num_threads() == 1 {
            let (host, device) = (self.host.clone(), self.device.clone());
            let made = jobs
                .into_iter()
                .map(move |job| host.make(job).and_then(|made| made.batch(&host, &device)));
            return Ok(Box::new(made));
        }
        // Two stages, each in its thread: sampling and gathering on the host, then the
        // batch's tensors on the device. A stage stops when its receiver is gone (the loop
        // stopped early).
        let (made_tx, made_rx) = sync_channel(PREFETCH / 2);
        let (tx, rx) = sync_channel(PREFETCH / 2);
        let left = jobs.len();
        let (host, pool) = (self.host.clone(), self.pool.clone());
        spawn("gnn-sampler", move || {
            for job in jobs {
                if made_tx.send(pool.install(|| host.make(job))).is_err() {
                    return;
                }
            }
        })?;
        let (host, device) = (self.host.clone(), self.device.clone());
        spawn("gnn-batcher", move || {
            for made in made_rx {
                if tx.send(made.and_then(|m| m.batch(&host, &device))).is_err() {
                    return;
                }
            }
        })?;
        Ok(Box::new(Prefetched { rx, left }))
    }
}

/// Starts a named background thread, at a lower scheduling priority ([`lower_priority`]).
fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), TrainError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            lower_priority();
            work()
        })
        .map(|_| ())
        .map_err(|e| TrainError::Data(format!("cannot start the {name} thread: {e}")))
}

/// The thread pool batches are made on: as many threads as the pool the data was built in,
/// each at a lower scheduling priority, so that making batches fills the cores the model's
/// step leaves idle rather than stalling its parallel kernels (a kernel split over every core
/// waits for its slowest part). Samples do not depend on the thread count.
fn batch_pool() -> Result<Arc<rayon::ThreadPool>, TrainError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("gnn-batch-{i}"))
        .start_handler(|_| lower_priority())
        .build()
        .map(Arc::new)
        .map_err(|e| TrainError::Data(format!("cannot start the batch threads: {e}")))
}

/// Lowers the calling thread's scheduling priority (Linux: threads have their own nice value).
fn lower_priority() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: setpriority with `who = 0` changes only the calling thread's nice value.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// A seed for batch `index` of epoch `epoch` (0: evaluation) of the run seeded `seed`.
fn batch_seed(seed: u64, epoch: usize, index: usize) -> u64 {
    let mut rng = Rng::new(seed ^ (epoch as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    rng.next_u64() ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Host {
    fn make(&self, job: Job) -> Result<Made, TrainError> {
        let sampler = if job.eval { &self.eval } else { &self.train };
        let sample = sampler.sample(&self.csr, &job.seeds, job.seed)?;
        let x = gather(&self.features, &sample.nodes, self.scales.as_deref());
        Ok(Made {
            sample,
            x,
            parts: job.parts,
        })
    }

    /// The scored rows of a batch whose first rows are `seeds`: each part's rows with their
    /// nodes' classes.
    fn scored(
        &self,
        seeds: &[u32],
        parts: Vec<(SplitKind, Range<usize>)>,
        device: &Device,
    ) -> Result<Vec<Scored>, TrainError> {
        parts
            .into_iter()
            .map(|(split, rows)| {
                let labels: Vec<usize> = seeds[rows.clone()]
                    .iter()
                    .map(|&v| self.labels[v as usize])
                    .collect();
                let rows: Vec<usize> = rows.collect();
                Scored::classes(split, Some(&rows), &labels, device)
            })
            .collect()
    }
}

/// Rows `nodes` of `m`, row-major `[nodes.len(), m.cols()]`, copied in parallel (each
/// multiplied by its factor in `scales`, when given). The rows are read in random order, so
/// each is prefetched [`GATHER_AHEAD`] rows before it is copied; the output is written once
/// (no zeroing first).
fn gather(m: &Matrix, nodes: &[u32], scales: Option<&[f32]>) -> Vec<f32> {
    let f = m.cols();
    let len = nodes.len() * f;
    let mut x = Vec::with_capacity(len);
    // Rows per parallel task: about 16 K values.
    if let Some(rows) = (1usize << 14).checked_div(f) {
        let rows = rows.max(1);
        x.spare_capacity_mut()[..len]
            .par_chunks_mut(rows * f)
            .zip(nodes.par_chunks(rows))
            .for_each(|(out, nodes)| {
                for (i, (row, &v)) in out.chunks_mut(f).zip(nodes).enumerate() {
                    if let Some(&ahead) = nodes.get(i + GATHER_AHEAD) {
                        prefetch_row(m.data(), ahead as usize, f);
                    }
                    let source = m.row(v as usize);
                    let pairs = row.iter_mut().zip(source);
                    match scales.and_then(|s| s.get(v as usize)) {
                        // One pass: copied and scaled.
                        Some(&s) => pairs.for_each(|(x, &y)| _ = x.write(y * s)),
                        None => pairs.for_each(|(x, &y)| _ = x.write(y)),
                    }
                }
            });
        // SAFETY: the chunks cover `x[..len]` — `nodes.len()` rows of `f` values, each row
        // zipped with its node — and every value of every row was written above.
        unsafe { x.set_len(len) };
    }
    x
}

/// Rows ahead of the one being copied whose prefetch is asked for.
const GATHER_AHEAD: usize = 4;

impl Made {
    fn batch(self, host: &Host, device: &Device) -> Result<Batch, TrainError> {
        let s = &self.sample;
        let mut graph = Graph::new(&widen(&s.src), &widen(&s.dst), s.num_nodes(), device)?;
        if let Some((types, count)) = &host.relations {
            let t: Vec<usize> = s.edge_ids.iter().map(|&e| types[e as usize]).collect();
            graph = graph.with_edge_types(&t, *count)?;
        }
        let blocks = (1..=s.layers())
            .map(|l| block_graph(s.block(l), device))
            .collect::<Result<Vec<_>, _>>()?;
        let x = Features::owned(
            self.x,
            s.num_nodes(),
            host.features.cols(),
            host.sparse,
            device,
        );
        let scored = host.scored(&s.nodes[..s.num_seeds()], self.parts, device)?;
        Ok(Batch {
            x,
            graph,
            blocks: Some(blocks),
            scored,
        })
    }
}

/// Local ids as the graph types take them.
fn widen(v: &[u32]) -> Vec<usize> {
    v.iter().map(|&i| i as usize).collect()
}

/// A sample's block on `device`.
fn block_graph(b: Block<'_>, device: &Device) -> Result<BipartiteGraph, TrainError> {
    let (src, dst) = (widen(b.src), widen(b.dst));
    Ok(BipartiteGraph::new(
        &src, &dst, b.num_src, b.num_dst, device,
    )?)
}

/// The batches of one pass, received from the sampling thread in order.
struct Prefetched {
    rx: Receiver<Result<Batch, TrainError>>,
    left: usize,
}

impl Iterator for Prefetched {
    type Item = Result<Batch, TrainError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(match self.rx.recv() {
            Ok(batch) => batch,
            Err(_) => {
                self.left = 0;
                Err(TrainError::Data(
                    "the sampling thread stopped before the last batch".into(),
                ))
            }
        })
    }
}

impl TrainData for SampledNodes {
    fn objective(&self) -> Objective {
        Objective::Classification {
            num_classes: self.host.num_classes,
        }
    }

    fn train_batches(&self, epoch: usize) -> Result<Batches<'_>, TrainError> {
        let mut ids = self
            .host
            .splits
            .iter()
            .find(|(k, _)| *k == SplitKind::Train)
            .map(|(_, ids)| ids.clone())
            .unwrap_or_default();
        Rng::new(self.seed ^ (epoch as u64).wrapping_mul(0x9FB2_1C65_1E98_DF25)).shuffle(&mut ids);
        let jobs = ids
            .chunks(self.host.batch_size)
            .enumerate()
            .map(|(i, seeds)| Job {
                seeds: seeds.to_vec(),
                parts: vec![(SplitKind::Train, 0..seeds.len())],
                seed: batch_seed(self.seed, epoch, i),
                eval: false,
            })
            .collect();
        self.stream(jobs)
    }

    fn eval_batches(&self) -> Result<Batches<'_>, TrainError> {
        self.stream(self.eval_jobs())
    }

    fn eval_outputs<'a>(&'a self, model: &'a dyn DynModel) -> Result<Outputs<'a>, TrainError> {
        match self.host.eval_all && model.block_layers() > 0 {
            true => self.layer_wise(model),
            false => batch_outputs(self, model),
        }
    }
}

impl SampledNodes {
    /// Every split's nodes in order, cut into batches; a batch's parts are its runs of one
    /// split.
    fn eval_jobs(&self) -> Vec<Job> {
        let tagged: Vec<(SplitKind, u32)> = self
            .host
            .splits
            .iter()
            .flat_map(|(k, ids)| ids.iter().map(move |&v| (*k, v)))
            .collect();
        tagged
            .chunks(self.host.batch_size)
            .enumerate()
            .map(|(i, chunk)| {
                let mut parts: Vec<(SplitKind, Range<usize>)> = Vec::new();
                for (row, &(k, _)) in chunk.iter().enumerate() {
                    match parts.last_mut() {
                        Some((last, rows)) if *last == k => rows.end = row + 1,
                        _ => parts.push((k, row..row + 1)),
                    }
                }
                Job {
                    seeds: chunk.iter().map(|&(_, v)| v).collect(),
                    parts,
                    seed: batch_seed(self.seed, 0, i),
                    eval: true,
                }
            })
            .collect()
    }

    /// Layer-wise inference (PyG's `inference` over a subgraph loader): layer `l`'s output
    /// for every node, in batches of targets with all their in-neighbours, from layer
    /// `l − 1`'s output for every node, kept in host memory; then the model's output for the
    /// labelled nodes from their rows of every layer. Each node gets exactly its full-graph
    /// output, at `O(L · (N + E))` work — where evaluating sampled batches with every
    /// neighbour recomputes the inner layers of each node once per batch that reaches it.
    fn layer_wise<'a>(&'a self, model: &'a dyn DynModel) -> Result<Outputs<'a>, TrainError> {
        let host = &self.host;
        let device = &self.device;
        let n = host.csr.num_nodes();
        let one_hop = NeighborSampler::new(vec![Fanout::All], false)?;
        let ids: Vec<u32> = (0..n as u32).collect();
        let mut layers: Vec<Matrix> = Vec::with_capacity(model.block_layers());
        for l in 0..model.block_layers() {
            let (input, scales) = match layers.last() {
                Some(previous) => (previous, None),
                None => (&host.features, host.scales.as_deref()),
            };
            let (mut out, mut width) = (Vec::new(), 0);
            for targets in ids.chunks(host.batch_size) {
                let s = one_hop.sample(&host.csr, targets, 0)?;
                let b = s.block(1);
                let block = block_graph(b, device)?;
                let x = gather(input, &s.nodes, scales);
                let sparse = l == 0 && host.sparse;
                let x = Features::owned(x, b.num_src, input.cols(), sparse, device);
                let y = model.forward_layer(l, x, &block)?;
                width = y.dims()[1];
                out.extend(host_rows(y)?);
            }
            layers.push(Matrix::new(n, width, out)?);
        }
        Ok(Box::new(self.eval_jobs().into_iter().map(move |job| {
            let rows = |m: &Matrix| {
                let rows = gather(m, &job.seeds, None);
                let data = TensorData::new(rows, [job.seeds.len(), m.cols()]);
                Tensor::from_data(data, device)
            };
            let outs = layers.iter().map(rows).collect();
            let out = model.combine_layers(outs)?;
            Ok((out, host.scored(&job.seeds, job.parts, device)?))
        })))
    }
}

/// A device matrix's values, row-major.
fn host_rows(y: Tensor<2>) -> Result<Vec<f32>, TrainError> {
    y.into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| TrainError::Data(format!("layer output: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::NodeClassification;
    use crate::datasets::node_info;
    use crate::fit::{FitConfig, evaluate, fit_dyn};
    use gnn_datasets::synthetic::{RandomGraphSpec, random_graph};
    use gnn_models::registry::{DynModel, Registry};

    fn dataset() -> NodeDataset {
        random_graph(&RandomGraphSpec::parse("sbm-1200-8-16").unwrap()).unwrap()
    }

    fn sampling(fanouts: &str) -> NeighborSampling {
        NeighborSampling {
            fanouts: Fanout::parse_list(fanouts).unwrap(),
            replace: false,
            eval_fanouts: None,
        }
    }

    /// PyG's two-layer GraphSAGE on `device`, seeded.
    fn sage(ds: &NodeDataset, device: &Device) -> Box<dyn DynModel> {
        model("sage", &[], ds, device)
    }

    /// The registered model `name` with `options` on `device`, seeded.
    fn model(
        name: &str,
        options: &[(&str, &str)],
        ds: &NodeDataset,
        device: &Device,
    ) -> Box<dyn DynModel> {
        let registry = Registry::builtin();
        let entry = registry.get(name).unwrap();
        let mut o = entry.protocol(&ds.name).0;
        for (k, v) in options {
            o[*k] = serde_json::from_str(v).unwrap_or_else(|_| (*v).into());
        }
        let config = entry.config(&o, &node_info(ds)).unwrap();
        device.seed(3);
        entry.init(&config, device).unwrap()
    }

    #[test]
    fn gathered_rows_are_the_rows_scaled() {
        // Enough rows for several parallel chunks (16 K values each), the last one partial.
        let (rows, f) = (3000, 7);
        let values: Vec<f32> = (0..rows * f).map(|i| i as f32 * 0.5 - 3.0).collect();
        let m = Matrix::new(rows, f, values).unwrap();
        let scales: Vec<f32> = (0..rows).map(|i| 1.0 / (1 + i % 5) as f32).collect();
        let mut rng = Rng::new(2);
        let nodes: Vec<u32> = (0..5000)
            .map(|_| (rng.next_u64() % rows as u64) as u32)
            .collect();
        for scales in [None, Some(&scales[..])] {
            let x = gather(&m, &nodes, scales);
            let expected: Vec<f32> = nodes
                .iter()
                .flat_map(|&v| {
                    let s = scales.map_or(1.0, |s| s[v as usize]);
                    m.row(v as usize).iter().map(move |&y| y * s)
                })
                .collect();
            assert_eq!(x, expected);
        }
        assert!(gather(&m, &[], None).is_empty());
        let empty = Matrix::new(4, 0, vec![]).unwrap();
        assert!(gather(&empty, &[1, 2], None).is_empty());
    }

    #[test]
    fn batches_cover_the_splits_and_repeat_per_seed() {
        let ds = dataset();
        let d = Device::flex();
        let data = SampledNodes::new(&ds, &sampling("5,5"), 100, false, &d)
            .unwrap()
            .with_seed(4);
        let batches: Vec<Batch> = data.train_batches(1).unwrap().map(Result::unwrap).collect();
        assert_eq!(batches.len(), 2); // 120 training nodes
        let scored: usize = batches.iter().map(|b| b.scored[0].targets().len()).sum();
        assert_eq!(scored, ds.split.train.len());
        let again: Vec<Batch> = data.train_batches(1).unwrap().map(Result::unwrap).collect();
        for (a, b) in batches.iter().zip(&again) {
            assert_eq!(a.graph.host_src(), b.graph.host_src());
            assert_eq!(a.graph.host_dst(), b.graph.host_dst());
        }
        let other: Vec<Batch> = data.train_batches(2).unwrap().map(Result::unwrap).collect();
        assert_ne!(batches[0].graph.host_src(), other[0].graph.host_src());
        // Evaluation: every labelled node once, by split.
        let mut counts = std::collections::BTreeMap::new();
        for b in data.eval_batches().unwrap() {
            for s in b.unwrap().scored {
                *counts.entry(s.split()).or_insert(0) += s.targets().len();
            }
        }
        assert_eq!(counts[&SplitKind::Train], 120);
        assert_eq!(counts[&SplitKind::Val], 120);
        assert_eq!(counts[&SplitKind::Test], 960);
    }

    #[test]
    fn one_thread_makes_the_batches_background_threads_make() {
        // One thread: batches made on the caller's thread as asked for; two: made ahead in
        // background threads. The same batches either way.
        let ds = dataset();
        let d = Device::flex();
        let batches = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let data = SampledNodes::new(&ds, &sampling("5,5"), 100, false, &d)
                    .unwrap()
                    .with_seed(4);
                assert_eq!(data.pool.current_num_threads(), threads);
                let batches: Vec<Batch> =
                    data.train_batches(1).unwrap().map(Result::unwrap).collect();
                batches
                    .into_iter()
                    .map(|b| {
                        let x = b.x.to_dense(&d).into_data().try_to_vec::<f32>().unwrap();
                        (b.graph.host_src().to_vec(), b.graph.host_dst().to_vec(), x)
                    })
                    .collect::<Vec<_>>()
            })
        };
        let inline = batches(1);
        assert_eq!(inline.len(), 2);
        assert_eq!(inline, batches(2));
    }

    #[test]
    fn full_neighbourhood_evaluation_equals_the_full_batch() {
        // Layer-wise inference (the default: every neighbour, a model with a layer-by-layer
        // form) gives each node its full-graph output, at any depth; so do sampled batches
        // with every neighbour (`-1,-1`) for a model of as many layers as fan-outs.
        let ds = dataset();
        let d = Device::flex();
        let full = NodeClassification::new(&ds, &d).unwrap();
        let layer_wise = SampledNodes::new(&ds, &sampling("5,5"), 256, false, &d).unwrap();
        let all = NeighborSampling {
            eval_fanouts: Some(Fanout::parse_list("-1,-1").unwrap()),
            ..sampling("5,5")
        };
        let batched = SampledNodes::new(&ds, &all, 256, false, &d).unwrap();
        let models = [
            ("sage", &[][..]),
            ("sage", &[("jk", "cat"), ("layers", "3")][..]),
            ("gat", &[][..]),
        ];
        for (name, options) in models {
            let model = model(name, options, &ds, &d).valid();
            assert!(model.block_layers() > 0, "{name}");
            // Every node's logits, layer-wise against full-batch.
            let batch = full.eval_batches().unwrap().next().unwrap().unwrap();
            let whole = batch.forward(model.as_ref(), false).unwrap().0;
            let [_, c] = whole.dims();
            let whole = whole.into_data().try_to_vec::<f32>().unwrap();
            let outputs = layer_wise.eval_outputs(model.as_ref()).unwrap();
            for (output, job) in outputs.zip(layer_wise.eval_jobs()) {
                let out = output.unwrap().0.into_data().try_to_vec::<f32>().unwrap();
                for (k, &v) in job.seeds.iter().enumerate() {
                    let (a, b) = (&out[k * c..][..c], &whole[v as usize * c..][..c]);
                    for (x, y) in a.iter().zip(b) {
                        assert!((x - y).abs() < 1e-5, "{name} {options:?}: {x} vs {y}");
                    }
                }
            }
            // Scores, layer-wise and (two layers) batched, against full-batch.
            let a = evaluate(model.as_ref(), &full).unwrap();
            let two_layers = model.block_layers() == 2;
            for data in [Some(&layer_wise), two_layers.then_some(&batched)]
                .into_iter()
                .flatten()
            {
                let b = evaluate(model.as_ref(), data).unwrap();
                for split in [SplitKind::Train, SplitKind::Val, SplitKind::Test] {
                    let (a, b) = (&a[&split], &b[&split]);
                    assert_eq!(a.count, b.count);
                    assert!((a.loss - b.loss).abs() < 1e-6, "{name} {split:?}");
                    assert!((a.metric - b.metric).abs() < 1e-9, "{name} {split:?}");
                }
            }
        }
    }

    #[test]
    fn sampled_training_learns_the_block_model_as_full_batch_does() {
        let ds = random_graph(&RandomGraphSpec::parse("sbm-4000-10-64").unwrap()).unwrap();
        let d = Device::flex();
        let cfg = FitConfig {
            epochs: 60,
            ..FitConfig::default()
        };
        let test = |data: &dyn TrainData| {
            let trained = fit_dyn(sage(&ds, &d.clone().autodiff()), data, &cfg, |_| {}).unwrap();
            trained.best[&SplitKind::Test].metric
        };
        let sampled = SampledNodes::new(&ds, &sampling("10,10"), 128, false, &d)
            .unwrap()
            .with_seed(1);
        let (sampled, full) = (
            test(&sampled),
            test(&NodeClassification::new(&ds, &d).unwrap()),
        );
        assert!(sampled > 0.45, "test accuracy {sampled} (chance 0.125)");
        assert!(
            sampled > full - 0.05,
            "sampled {sampled}, full-batch {full}"
        );
    }

    #[test]
    fn sampling_reads_and_writes_as_in_a_model_card() {
        let s = NeighborSampling {
            eval_fanouts: Some(vec![Fanout::Sample(5)]),
            ..sampling("15,-1")
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"fanouts":[15,-1],"replace":false,"eval_fanouts":[5]}"#
        );
        assert_eq!(serde_json::from_str::<NeighborSampling>(&json).unwrap(), s);
        assert!(serde_json::from_str::<NeighborSampling>(r#"{"fanouts":[-2]}"#).is_err());
    }

    #[test]
    fn a_featureless_graph_cannot_be_sampled() {
        let mut ds = dataset();
        ds.features = gnn_datasets::Matrix::new(ds.num_nodes(), 0, vec![]).unwrap();
        let err = SampledNodes::new(&ds, &sampling("5"), 10, false, &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("needs node features"), "{err}");
    }
}
