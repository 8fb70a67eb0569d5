//! The error type of the training library and the `gnn` program.

/// Why training, evaluation or output failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Loading the dataset failed.
    #[error(transparent)]
    Dataset(#[from] gnn_datasets::DatasetError),
    /// The graph could not be put on the device.
    #[error(transparent)]
    Graph(#[from] gnn_models::GraphError),
    /// A setting is out of range or a combination is not supported.
    #[error("{0}")]
    Config(String),
    /// The chosen backend is not available in this build or on this machine.
    #[error("{0}")]
    Backend(String),
    /// A model directory or weights file could not be read, written or used.
    #[error("{}: {reason}", path.display())]
    Model {
        /// The directory or file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Writing an output file failed.
    #[error("{path}: {reason}")]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
}
