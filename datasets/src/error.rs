//! The one error type of the loaders: every variant names the file (or URL) and the cause.

use std::path::PathBuf;

/// Why a dataset could not be loaded, downloaded or validated.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A required file is absent and could not be downloaded.
    #[error("{path}: file is missing ({reason})")]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
        /// Why it could not be fetched (offline, no known URL, ...).
        reason: String,
    },
    /// The file exists but its content is not what the format allows.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the byte offset or line where known.
        reason: String,
    },
    /// A downloaded body did not have the known sha256; nothing was kept.
    #[error(
        "{url}: checksum mismatch (expected sha256 {expected}, got {actual}); the download was discarded"
    )]
    Checksum {
        /// Where it came from.
        url: String,
        /// The known hash.
        expected: String,
        /// The hash of what arrived.
        actual: String,
    },
    /// The download itself failed (HTTP status, connection, size limit).
    #[error("{url}: download failed: {reason}")]
    Download {
        /// Where it came from.
        url: String,
        /// The cause.
        reason: String,
    },
    /// The dataset name or an argument is not one this loader knows.
    #[error("{0}")]
    Invalid(String),
}

impl DatasetError {
    /// A [`DatasetError::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DatasetError::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A [`DatasetError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DatasetError::Io {
            path: path.into(),
            source,
        }
    }
}
