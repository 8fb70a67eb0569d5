//! Training GNNs on any Burn backend chosen at run time, and the `gnn` program.
//!
//! - [`Backend`]: `flex`, `ndarray` or `wgpu`, each a [`Device`](burn::tensor::Device).
//! - [`data`]: what the loop consumes ([`TrainData`](data::TrainData) batches), with
//!   [`NodeClassification`](data::NodeClassification) for full-batch node tasks and
//!   [`graph_data`] for mini-batches of graphs.
//! - [`fit`](fit::fit): the one training loop (Adam, best-validation selection, early stopping).
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

pub mod attention;
pub mod backend;
pub mod commands;
pub mod data;
pub mod datasets;
mod error;
pub mod experiment;
pub mod fit;
pub mod graph_data;
pub mod model;
pub mod output;
pub mod plot;
pub mod saved;
pub mod stats;

pub use backend::Backend;
pub use error::TrainError;
