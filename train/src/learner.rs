//! Burn's [`Learner`](burn::train::Learner) for the GNN tasks (cargo feature `learner`): a
//! Burn user trains any [`GraphModel`] with `burn-train` — its metrics, TUI dashboard,
//! checkpoints and early stopping — on the same batches the project's own loop uses.
//!
//! - [`Classifier`] (node or graph classification) and [`Regressor`] (graph regression) wrap a
//!   model and implement Burn's `TrainStep` (cross-entropy / L1 over the batch's training
//!   rows, as [`fit`](crate::fit::fit) computes them) and `InferenceStep` (the validation
//!   rows).
//! - [`node_loaders`] and [`graph_loaders`] give the training and validation data loaders:
//!   one full-graph batch per epoch for node tasks; shuffled mini-batches of whole graphs
//!   (Burn's `DataLoader` shuffles the graph ids, [`GraphBatches::batch`] collates them) for
//!   graph tasks.
//!
//! `examples/burn_learner.rs` trains GCN on Cora this way. The project's loop stays: its
//! selection rules and timing are what the paper protocols and the benchmarks need.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::{Module, ModuleDisplay};
use burn::tensor::{Device, Tensor};
use burn::train::{ClassificationOutput, InferenceStep, RegressionOutput, TrainOutput, TrainStep};
use gnn_models::GraphModel;

use crate::TrainError;
use crate::data::{Batch, Batches, SplitKind, Targets, TrainData};
use crate::graph_data::GraphBatches;

/// The output rows a batch scores as `split`, with their targets (the loaders' batches score
/// each split at most once).
///
/// # Panics
/// If the batch does not score `split` exactly once, or scores rows past the output: batches
/// built by [`node_loaders`] / [`graph_loaders`] are checked when they are made, so this is a
/// bug.
fn split_rows(out: Tensor<2>, batch: &Batch, split: SplitKind) -> (Tensor<2>, Targets) {
    let mut scored = batch.scored.iter().filter(|s| s.split() == split);
    let (Some(s), None) = (scored.next(), scored.next()) else {
        panic!("a learner batch must score its {} rows once", split.name());
    };
    s.check(out.dims())
        .unwrap_or_else(|e| panic!("a learner batch does not fit the model: {e}"));
    (s.select(out), s.targets().clone())
}

/// The model's output on a batch; features on the model's device (the autodiff one when
/// training, so that dropout on the input is active), as [`fit`](crate::fit::fit) runs it.
fn forward<M: GraphModel>(model: &M, batch: &Batch, train: bool) -> Tensor<2> {
    let x = if train {
        batch.x.clone().autodiff()
    } else {
        batch.x.clone()
    };
    model
        .forward(x, &batch.graph)
        .unwrap_or_else(|e| panic!("a learner batch does not fit the model: {e}"))
}

/// The mean loss of the rows `batch` scores as `split`, as the project's loop trains on it.
///
/// # Panics
/// As [`split_rows`]; and for a ranking split, which only evaluation scores.
fn mean_loss<M: GraphModel>(
    model: &M,
    out: Tensor<2>,
    batch: &Batch,
    split: SplitKind,
) -> Tensor<1> {
    let s = batch
        .scored
        .iter()
        .find(|s| s.split() == split)
        .unwrap_or_else(|| panic!("a learner batch must score its {} rows", split.name()));
    let count = s.targets().len().max(1) as f64;
    crate::fit::loss_sum(model, out, s)
        .unwrap_or_else(|e| panic!("a learner batch does not fit the model: {e}"))
        .div_scalar(count)
}

/// A [`GraphModel`] trained by Burn's `Learner` for classification (node or graph): logits
/// `[N, C]` or `[B, C]`, cross-entropy over the batch's training rows; validation scores the
/// validation rows, so Burn's `AccuracyMetric` and `LossMetric` apply.
#[derive(Module, Debug)]
pub struct Classifier<M: GraphModel> {
    /// The model.
    pub model: M,
}

impl<M: GraphModel> Classifier<M> {
    fn output(&self, batch: &Batch, split: SplitKind, train: bool) -> ClassificationOutput {
        let out = forward(&self.model, batch, train);
        let loss = mean_loss(&self.model, out.clone(), batch, split);
        let (output, targets) = split_rows(out, batch, split);
        let Targets::Classes(targets) = targets else {
            panic!("a classifier batch holds regression targets");
        };
        ClassificationOutput {
            loss,
            output,
            targets,
        }
    }
}

impl<M: GraphModel + ModuleDisplay> TrainStep for Classifier<M> {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> TrainOutput<ClassificationOutput> {
        let item = self.output(&batch, SplitKind::Train, true);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<M: GraphModel + ModuleDisplay> InferenceStep for Classifier<M> {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> ClassificationOutput {
        self.output(&batch, SplitKind::Val, false)
    }
}

/// A [`GraphModel`] trained by Burn's `Learner` for regression: predictions `[B, T]` against
/// the batch's (normalised) targets, mean absolute error over the training rows as the loss.
#[derive(Module, Debug)]
pub struct Regressor<M: GraphModel> {
    /// The model.
    pub model: M,
}

impl<M: GraphModel> Regressor<M> {
    fn output(&self, batch: &Batch, split: SplitKind, train: bool) -> RegressionOutput {
        let out = forward(&self.model, batch, train);
        let loss = mean_loss(&self.model, out.clone(), batch, split);
        let (output, targets) = split_rows(out, batch, split);
        let Targets::Values(targets) = targets else {
            panic!("a regressor batch holds classes");
        };
        RegressionOutput {
            loss,
            output,
            targets,
        }
    }
}

impl<M: GraphModel + ModuleDisplay> TrainStep for Regressor<M> {
    type Input = Batch;
    type Output = RegressionOutput;

    fn step(&self, batch: Batch) -> TrainOutput<RegressionOutput> {
        let item = self.output(&batch, SplitKind::Train, true);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<M: GraphModel + ModuleDisplay> InferenceStep for Regressor<M> {
    type Input = Batch;
    type Output = RegressionOutput;

    fn step(&self, batch: Batch) -> RegressionOutput {
        self.output(&batch, SplitKind::Val, false)
    }
}

/// Turns item ids into [`Batch`]es that already live on the data's device (the batcher's
/// device argument is not needed: the steps move features to the model's device).
struct IdBatcher(Arc<MakeBatch>);

/// Builds the batch of some item ids.
type MakeBatch = dyn Fn(&[usize]) -> Batch + Send + Sync;

impl Batcher<usize, Batch> for IdBatcher {
    fn batch(&self, ids: Vec<usize>, _device: &Device) -> Batch {
        (self.0)(&ids)
    }
}

/// The training and validation data loaders of a learner.
pub type Loaders = (Arc<dyn DataLoader<Batch>>, Arc<dyn DataLoader<Batch>>);

/// Loaders for a full-batch node task: each epoch is one batch, the whole graph, scoring the
/// training nodes (training) or every split (validation, of which the steps use the
/// validation nodes). Errors if the data has no validation split.
pub fn node_loaders(data: &dyn TrainData) -> Result<Loaders, TrainError> {
    let single = |batches: Batches<'_>| -> Result<Batch, TrainError> {
        let mut batches: Vec<Batch> = batches.collect::<Result<_, _>>()?;
        match batches.len() {
            1 => Ok(batches.remove(0)),
            n => Err(TrainError::Data(format!(
                "a node task gives one full-graph batch, this one {n}"
            ))),
        }
    };
    let train = single(data.train_batches(0)?)?;
    let eval = single(data.eval_batches()?)?;
    if !eval.scored.iter().any(|s| s.split() == SplitKind::Val) {
        return Err(TrainError::Data(
            "the learner validates on a validation split; this data has none".into(),
        ));
    }
    let loader = |batch: Batch| {
        DataLoaderBuilder::new(IdBatcher(Arc::new(move |_| batch.clone())))
            .build(InMemDataset::new(vec![0usize]))
    };
    Ok((loader(train), loader(eval)))
}

/// Loaders for a graph task: the training graphs in shuffled mini-batches of `batch_size`
/// (reshuffled every epoch from `seed`), the validation graphs in order.
pub fn graph_loaders(
    data: Arc<GraphBatches>,
    batch_size: usize,
    seed: u64,
) -> Result<Loaders, TrainError> {
    let split = data.split().clone();
    if split.val.is_empty() || split.train.is_empty() {
        return Err(TrainError::Data(
            "the learner needs training and validation graphs".into(),
        ));
    }
    let batcher = |kind: SplitKind| {
        let data = data.clone();
        IdBatcher(Arc::new(move |ids: &[usize]| {
            data.batch(ids, kind)
                .unwrap_or_else(|e| panic!("graph ids of the split: {e}"))
        }))
    };
    // Every id is checked once here, so that the batcher cannot fail later.
    data.batch(&split.train, SplitKind::Train)?;
    data.batch(&split.val, SplitKind::Val)?;
    let train = DataLoaderBuilder::new(batcher(SplitKind::Train))
        .batch_size(batch_size.max(1))
        .shuffle(seed)
        .build(InMemDataset::new(split.train));
    let valid = DataLoaderBuilder::new(batcher(SplitKind::Val))
        .batch_size(batch_size.max(1))
        .build(InMemDataset::new(split.val));
    Ok((train, valid))
}

#[cfg(test)]
mod tests {
    use burn::optim::AdamConfig;
    use burn::optim::lr_scheduler::constant::ConstantLr;
    use burn::train::metric::{AccuracyMetric, LossMetric};
    use burn::train::{Learner, SupervisedTraining};
    use gnn_datasets::synthetic::{RandomGraphSpec, random_graph};
    use gnn_models::models::GcnConfig;

    use super::*;
    use crate::data::NodeClassification;

    #[test]
    fn the_learner_trains_a_gcn_on_the_loops_batches() {
        let graph = random_graph(&RandomGraphSpec::parse("er-200-4-16").unwrap()).unwrap();
        let device = Device::flex();
        let data = NodeClassification::new(&graph, &device).unwrap();
        let (train, valid) = node_loaders(&data).unwrap();
        let ad = device.clone().autodiff();
        ad.seed(0);
        let model = Classifier {
            model: GcnConfig::new(graph.num_features(), graph.num_classes).init(&ad),
        };
        let before = crate::fit::evaluate(&model.model.valid(), &data).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let result = SupervisedTraining::new(dir.path(), train, valid)
            .metrics((AccuracyMetric::new(), LossMetric::new()))
            .num_epochs(30)
            .with_application_logger(None)
            .launch(Learner::new(
                model,
                AdamConfig::new().init(),
                ConstantLr::new(0.01),
            ));
        let after = crate::fit::evaluate(&result.model.model, &data).unwrap();
        let train_loss = |s: &crate::fit::Scores| s[&SplitKind::Train].loss;
        assert!(
            train_loss(&after) < 0.8 * train_loss(&before),
            "training loss {} -> {}",
            train_loss(&before),
            train_loss(&after)
        );
    }

    #[test]
    fn loaders_need_a_validation_split() {
        let mut graph = random_graph(&RandomGraphSpec::parse("er-50-4-8").unwrap()).unwrap();
        graph.split.val.clear();
        let data = NodeClassification::new(&graph, &Device::flex()).unwrap();
        let err = node_loaders(&data).err().expect("no validation split");
        assert!(err.to_string().contains("validation"), "{err}");
    }
}
