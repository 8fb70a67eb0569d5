//! What the `gnn` commands do, as library functions: the program parses flags and prints,
//! these do the work.
//!
//! - [`train`](mod@train): `gnn train` ([`TrainRequest`] → [`plan`] → [`TrainPlan::run`]).
//! - [`eval`], [`predict`] and their graph-level twins: `gnn eval`, `gnn predict`.
//! - [`export_safetensors`], [`import_pyg`]: `gnn export`, `gnn import`.
//! - [`export_graph_dataset`], [`export_node_dataset`]: `gnn export-data`.
//! - [`trace`](fn@trace): `gnn trace`.
//! - [`listing`]: `gnn models`.

mod evaluate;
mod export_data;
mod models;
mod predict_links;
mod trace;
pub mod train;
mod weights;

use std::path::Path;

pub use evaluate::{
    EvalReport, Predicted, Prediction, Predictions, eval, eval_graph, eval_links, link_task,
    predict, predict_graph,
};
pub use export_data::{export_graph_dataset, export_node_dataset};
pub use models::{SharedOption, listing, listing_json, shared_options};
pub use predict_links::{RankedTail, predict_links, ranked_tails_csv};
pub use trace::{Traced, trace, trace_analysis};
pub use train::{FitOverrides, TrainOutcome, TrainOutputs, TrainPlan, TrainRequest, plan, train};
pub use weights::{CONFIG_METADATA, export_safetensors, import_pyg};

use crate::TrainError;

/// The directory an output goes into must exist.
pub fn check_output_dir(path: &Path) -> Result<(), TrainError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir
        && !dir.is_dir()
    {
        return Err(TrainError::Output {
            path: path.to_path_buf(),
            reason: format!("directory {} does not exist", dir.display()),
        });
    }
    Ok(())
}
