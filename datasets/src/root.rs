//! The data root: where dataset files are looked for, and whether missing ones are downloaded.

use std::path::{Path, PathBuf};

use crate::DatasetError;
use crate::download::{RemoteFile, download};

/// Environment variable naming the data root (the `--root` flag wins over it).
pub const DATA_DIR_ENV: &str = "GNN_DATA_DIR";
/// Environment variable that, when set to `1`, forbids downloads.
pub const OFFLINE_ENV: &str = "GNN_OFFLINE";

/// Where dataset files live: `<dir>/<dataset family>/<file>` (the layout of `shared/data`,
/// e.g. `<dir>/planetoid/ind.cora.x`), and whether a missing file may be downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRoot {
    /// The root directory.
    pub dir: PathBuf,
    /// Download missing files from their canonical location.
    pub download: bool,
    /// Base URL that replaces each family's canonical base URL (a mirror, or a test server).
    /// The file name is appended to it.
    pub mirror: Option<String>,
}

impl DataRoot {
    /// A root at `dir` that downloads missing files from the canonical locations.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DataRoot {
            dir: dir.into(),
            download: true,
            mirror: None,
        }
    }

    /// The root chosen the usual way: `flag` (the `--root` option) if given, else
    /// `$GNN_DATA_DIR`, else the per-user cache directory (`~/.cache/gnn` on Linux).
    /// Downloads are on unless `GNN_OFFLINE=1`.
    pub fn resolve(flag: Option<&Path>) -> Self {
        let dir = flag
            .map(Path::to_path_buf)
            .or_else(|| {
                std::env::var_os(DATA_DIR_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| dirs::cache_dir().map(|d| d.join("gnn")))
            .unwrap_or_else(|| PathBuf::from(".gnn-data"));
        let download = std::env::var(OFFLINE_ENV).map(|v| v != "1").unwrap_or(true);
        DataRoot {
            dir,
            download,
            mirror: None,
        }
    }

    /// Sets whether missing files are downloaded.
    pub fn with_download(mut self, download: bool) -> Self {
        self.download = download;
        self
    }

    /// Sets a base URL used instead of the canonical one.
    pub fn with_mirror(mut self, base_url: impl Into<String>) -> Self {
        self.mirror = Some(base_url.into());
        self
    }

    /// Returns the path of `file` in `family`, downloading it from `canonical_base` (or the
    /// mirror) first if it is missing. Offline, the error names the missing file.
    pub fn fetch(
        &self,
        family: &str,
        canonical_base: &str,
        file: &RemoteFile,
    ) -> Result<PathBuf, DatasetError> {
        let path = self.dir.join(family).join(file.name);
        if path.is_file() {
            return Ok(path);
        }
        if !self.download {
            return Err(DatasetError::Missing {
                path,
                reason: format!(
                    "downloads are off ({OFFLINE_ENV}=1); point --root or {DATA_DIR_ENV} at a copy"
                ),
            });
        }
        let base = self.mirror.as_deref().unwrap_or(canonical_base);
        let url = format!("{}/{}", base.trim_end_matches('/'), file.name);
        match download(&url, &path, file) {
            Ok(()) => Ok(path),
            // A server that answered with the wrong bytes is worth its own error.
            Err(e @ DatasetError::Checksum { .. }) => Err(e),
            Err(e) => Err(DatasetError::Missing {
                path,
                reason: e.to_string(),
            }),
        }
    }
}
