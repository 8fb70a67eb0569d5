//! The error type of the training library and the `gnn` program.

/// Why training, evaluation or output failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Loading the dataset failed.
    #[error(transparent)]
    Dataset(#[from] gnn_datasets::DatasetError),
    /// The graph could not be built, or a model cannot read it.
    #[error(transparent)]
    Graph(#[from] gnn_models::GraphError),
    /// A model could not be chosen, configured or built (an unknown model or option, a value
    /// out of range, a dataset the model cannot use).
    #[error(transparent)]
    Spec(#[from] gnn_models::registry::SpecError),
    /// A setting is out of range or a combination is not supported.
    #[error("{0}")]
    Config(String),
    /// Batches that do not fit the model's output (rows or classes out of range, targets of
    /// another width, a training batch without training rows).
    #[error("training data: {0}")]
    Data(String),
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
    #[error("{}: {reason}", path.display())]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
}
