//! Training GNNs on any Burn backend chosen at run time, and the `gnn` program.
//!
//! - [`Backend`]: `flex`, `ndarray` or `wgpu`, each a [`Device`](burn::tensor::Device).
//! - [`data`]: what the loop consumes ([`TrainData`](data::TrainData) batches), with
//!   [`NodeClassification`](data::NodeClassification) for full-batch node tasks and
//!   [`graph_data`] for mini-batches of graphs.
//! - [`sampled_data`]: node tasks in mini-batches of neighbour-sampled subgraphs (GraphSAGE;
//!   PyG's `NeighborLoader`), made ahead in a background thread.
//! - [`fit`](fit::fit): the one training loop (Adam, best-validation selection, early stopping).
//! - `learner` (cargo feature `learner`): Burn's `Learner` — metrics, TUI dashboard,
//!   checkpoints, early stopping — for node and graph tasks.
//! - [`link_data`]: link prediction in the same loop — edge splits or knowledge graphs,
//!   per-epoch negatives, filtered ranking in bounded batches.
//! - [`link_metrics`]: ROC-AUC, average precision, filtered ranks, MRR and Hits@k of link
//!   prediction.
//! - [`datasets`]: the dataset registry (every dataset by name) and what each offers a model.
//! - [`experiment`]: repeated seeded runs of any registered model
//!   ([`gnn_models::registry`]) on any dataset of its task, as `gnn train` does them.
//! - [`model`] and [`saved`]: any model with its architecture; model directories (card +
//!   weights) that `gnn eval`, `predict`, `export` and `import` use, for Rust programs too.
//! - [`commands`]: what each `gnn` command does; the program only parses flags and prints.
//!
//! A training script in a few lines (see `examples/gcn_cora.rs`):
//!
//! ```no_run
//! use gnn_datasets::{planetoid, DataRoot};
//! use gnn_models::models::GcnConfig;
//! use gnn_train::{Backend, data::NodeClassification, experiment::train_one, fit::FitConfig};
//!
//! let cora = planetoid::load("cora", &DataRoot::resolve(None))?;
//! let device = Backend::Flex.device()?;
//! let data = NodeClassification::new(&cora, &device)?;
//! let config = GcnConfig::new(cora.num_features(), cora.num_classes);
//! let run = train_one(&device, 0, &data, &FitConfig::default(), |d| config.init(d), |_| {})?;
//! println!("test accuracy {:.3}", run.metric(gnn_train::data::SplitKind::Test));
//! # Ok::<(), gnn_train::TrainError>(())
//! ```
//!
//! The same loop on a generated graph, which needs no files:
//!
//! ```
//! use gnn_datasets::synthetic::{RandomGraphSpec, random_graph};
//! use gnn_models::models::GcnConfig;
//! use gnn_train::{Backend, data::NodeClassification, data::SplitKind, experiment::train_one};
//! use gnn_train::fit::FitConfig;
//!
//! let graph = random_graph(&RandomGraphSpec::parse("er-200-4-16").expect("a name"))?;
//! let device = Backend::Flex.device()?;
//! let data = NodeClassification::new(&graph, &device)?;
//! let config = GcnConfig::new(graph.num_features(), graph.num_classes);
//! let fit = FitConfig { epochs: 5, ..FitConfig::default() };
//! let run = train_one(&device, 0, &data, &fit, |d| config.init(d), |_| {})?;
//! assert_eq!(run.history.len(), 5);
//! assert!((0.0..=1.0).contains(&run.metric(SplitKind::Test)));
//! # Ok::<(), gnn_train::TrainError>(())
//! ```

#![warn(missing_docs)]

pub mod allocator;
pub mod attention;
pub mod backend;
pub mod bottlenecks;
pub mod checkpoint;
pub mod commands;
pub mod data;
pub mod datasets;
mod error;
pub mod experiment;
pub mod fit;
pub mod graph_data;
#[cfg(feature = "learner")]
pub mod learner;
pub mod link_data;
pub mod link_metrics;
pub mod model;
pub mod output;
pub mod plot;
pub mod progress;
pub mod sampled_data;
pub mod saved;
pub mod stats;
pub mod threads;
pub mod trace_draw;
pub mod trace_file;

pub use backend::Backend;
pub use error::TrainError;
