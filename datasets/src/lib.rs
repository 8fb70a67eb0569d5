//! Loaders for standard graph benchmarks in their real on-disk formats.
//!
//! Plain Rust data, no tensor library: a [`NodeDataset`] holds an [`EdgeList`], a dense feature
//! [`Matrix`], labels and a [`Split`]. Files are found under a [`DataRoot`] (`--root`,
//! `$GNN_DATA_DIR`, or the per-user cache) and downloaded from their canonical location when
//! missing, sha256-checked and written atomically.
//!
//! ```no_run
//! use gnn_datasets::{planetoid, DataRoot};
//! let cora = planetoid::load("cora", &DataRoot::resolve(None))?;
//! assert_eq!(cora.num_nodes(), 2708);
//! # Ok::<(), gnn_datasets::DatasetError>(())
//! ```
//!
//! Generated graphs need no files (`gnn train --dataset er-200-4-16` uses the same generator):
//!
//! ```
//! use gnn_datasets::synthetic::{RandomGraphSpec, random_graph};
//! let spec = RandomGraphSpec::parse("er-200-4-16").expect("a random-graph name");
//! let g = random_graph(&spec)?;
//! assert_eq!((g.num_nodes(), g.num_features(), g.num_classes), (200, 16, 8));
//! assert!(g.edges.is_undirected());
//! # Ok::<(), gnn_datasets::DatasetError>(())
//! ```

#![warn(missing_docs)]

pub mod archive;
pub mod csr;
pub mod download;
pub mod entities;
mod error;
pub mod feature_file;
pub mod feature_scaler;
pub mod graph;
pub mod graph_set;
pub mod hetero;
pub mod kg;
pub mod link_queries;
pub mod link_split;
pub mod molecule;
pub mod neighbor_sampler;
pub mod ogb;
pub mod pickle;
pub mod planetoid;
pub mod qm9;
pub mod root;
pub mod sdf;
pub mod smiles;
pub mod synthetic;
pub mod transforms;
pub mod tu;

pub use csr::Csr;
pub use error::DatasetError;
pub use feature_scaler::FeatureScaler;
pub use graph::{EdgeList, Matrix, NodeDataset, Relations, Split};
pub use graph_set::{GraphDataset, GraphSplit, GraphTarget, SmallGraph, TargetScaler};
pub use neighbor_sampler::{Fanout, NeighborSampler, Sample};
pub use root::DataRoot;
