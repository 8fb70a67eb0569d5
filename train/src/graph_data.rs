//! Graph-level tasks for the training loop: mini-batches of many small graphs, each batch one
//! disjoint union with a batch vector.

use burn::tensor::{Device, Tensor, TensorData};
use gnn_datasets::graph_set::{Rng, collate};
use gnn_datasets::{FeatureScaler, GraphDataset, GraphSplit, GraphTarget, TargetScaler};
use gnn_models::{Features, Graph};

use crate::TrainError;
use crate::data::{Batch, Batches, Objective, Scored, SplitKind, TrainData, batches};

/// Graphs per evaluation batch.
pub const EVAL_BATCH: usize = 512;

/// Graph classification (or regression) over the graphs of one split: shuffled, seeded
/// training mini-batches and evaluation batches covering every split once.
///
/// A dataset without edge features gets one constant edge feature, so that edge-conditioned
/// models apply unchanged. Regression targets are normalised with the mean and standard
/// deviation of the training graphs ([`TargetScaler`]); metrics come back in the target's units.
/// With `standardize`, continuous node attributes are standardised with the training graphs'
/// statistics ([`FeatureScaler`]).
#[derive(Debug, Clone)]
pub struct GraphBatches {
    dataset: GraphDataset,
    split: GraphSplit,
    batch_size: usize,
    seed: u64,
    device: Device,
    /// Regression: the training targets' statistics (the batches hold normalised targets).
    scaler: Option<TargetScaler>,
    /// The training graphs' statistics of the continuous node attributes, when standardised.
    features: Option<FeatureScaler>,
    /// The evaluation batches, built once (they do not change between epochs).
    eval: Vec<Batch>,
}

impl GraphBatches {
    /// Batches of `split` of `dataset` on `device`; training order shuffled per epoch from
    /// `seed`; continuous node attributes standardised when `standardize` is set.
    pub fn new(
        dataset: &GraphDataset,
        split: GraphSplit,
        batch_size: usize,
        seed: u64,
        standardize: bool,
        device: &Device,
    ) -> Result<Self, TrainError> {
        dataset.validate()?;
        if batch_size == 0 {
            return Err(TrainError::Config("--batch-size must be at least 1".into()));
        }
        if split.train.is_empty() {
            return Err(TrainError::Config(format!(
                "{}: the split has no training graphs",
                dataset.name
            )));
        }
        if let Some(&i) = split
            .train
            .iter()
            .chain(&split.val)
            .chain(&split.test)
            .find(|&&i| i >= dataset.len())
        {
            return Err(TrainError::Config(format!(
                "{}: split names graph {i}, but there are {}",
                dataset.name,
                dataset.len()
            )));
        }
        let mut dataset = dataset.clone();
        let scaler = match dataset.num_classes {
            Some(_) => None,
            None => {
                let s = TargetScaler::fit(&dataset, &split.train)?;
                s.normalize(&mut dataset);
                Some(s)
            }
        };
        let features = (standardize && dataset.continuous_node_features > 0).then(|| {
            let s = FeatureScaler::fit(&dataset, &split.train);
            s.apply(&mut dataset);
            s
        });
        let mut data = GraphBatches {
            dataset,
            scaler,
            features,
            split,
            batch_size,
            seed,
            device: device.clone(),
            eval: vec![],
        };
        data.eval = [
            (SplitKind::Train, &data.split.train),
            (SplitKind::Val, &data.split.val),
            (SplitKind::Test, &data.split.test),
        ]
        .into_iter()
        .flat_map(|(kind, ids)| ids.chunks(EVAL_BATCH).map(move |c| (kind, c)))
        .map(|(kind, c)| data.batch(c, kind))
        .collect::<Result<_, _>>()?;
        Ok(data)
    }

    /// Regression: the statistics the targets were normalised with.
    pub fn scaler(&self) -> Option<&TargetScaler> {
        self.scaler.as_ref()
    }

    /// The statistics the continuous node attributes were standardised with, if they were.
    pub fn feature_scaler(&self) -> Option<&FeatureScaler> {
        self.features.as_ref()
    }

    /// The split.
    pub fn split(&self) -> &GraphSplit {
        &self.split
    }

    /// Edge feature width the models see (at least 1).
    pub fn edge_dim(&self) -> usize {
        edge_dim(&self.dataset)
    }

    /// One batch of graphs `ids`, scored as `split`.
    pub fn batch(&self, ids: &[usize], split: SplitKind) -> Result<Batch, TrainError> {
        let graphs: Vec<_> = ids.iter().map(|&i| &self.dataset.graphs[i]).collect();
        let c = collate(&graphs);
        let d = &self.device;
        let e = c.src.len();
        let (dim, edge_attr) = if self.dataset.num_edge_features == 0 {
            (1, vec![1.0f32; e])
        } else {
            (self.dataset.num_edge_features, c.edge_attr)
        };
        let graph = Graph::new(&c.src, &c.dst, c.num_nodes, d)?
            .with_edge_attr(Tensor::from_data(TensorData::new(edge_attr, [e, dim]), d))?
            .with_batch(&c.batch, c.num_graphs)?;
        let f = self.dataset.num_node_features;
        let x = Tensor::<2>::from_data(TensorData::new(c.x, [c.num_nodes, f]), d);
        let scored = match self.dataset.num_classes {
            Some(_) => {
                let y: Vec<usize> =
                    c.y.iter()
                        .map(|t| match t {
                            GraphTarget::Class(k) => *k,
                            GraphTarget::Values(_) => 0,
                        })
                        .collect();
                Scored::classes(split, None, &y, d)?
            }
            None => {
                let width = match c.y.first() {
                    Some(GraphTarget::Values(v)) => v.len(),
                    _ => 1,
                };
                let y: Vec<f32> =
                    c.y.iter()
                        .flat_map(|t| match t {
                            GraphTarget::Values(v) => v.clone(),
                            GraphTarget::Class(k) => vec![*k as f32],
                        })
                        .collect();
                Scored::values(split, None, &y, width, d)?
            }
        };
        Ok(Batch {
            x: Features::Dense(x),
            graph,
            blocks: None,
            scored: vec![scored],
        })
    }
}

impl TrainData for GraphBatches {
    fn objective(&self) -> Objective {
        match self.dataset.num_classes {
            Some(num_classes) => Objective::Classification { num_classes },
            None => Objective::Regression {
                scale: match self.scaler.as_ref().map(|s| &s.std[..]) {
                    Some([sigma]) => f64::from(*sigma),
                    _ => 1.0,
                },
            },
        }
    }

    fn train_batches(&self, epoch: usize) -> Result<Batches<'_>, TrainError> {
        let mut ids = self.split.train.clone();
        Rng::new(self.seed ^ (epoch as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)).shuffle(&mut ids);
        let made = ids
            .chunks(self.batch_size)
            .map(|c| self.batch(c, SplitKind::Train))
            .collect::<Result<_, _>>()?;
        Ok(batches(made))
    }

    fn eval_batches(&self) -> Result<Batches<'_>, TrainError> {
        Ok(batches(self.eval.clone()))
    }
}

/// The edge feature width models see on `dataset`: its edge features, or one constant feature
/// when it has none (so that edge-conditioned models apply unchanged).
pub fn edge_dim(dataset: &GraphDataset) -> usize {
    dataset.num_edge_features.max(1)
}
