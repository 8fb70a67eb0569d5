//! The data root: where dataset files are looked for, and whether missing ones are downloaded.

use std::path::{Path, PathBuf};

use crate::DatasetError;
use crate::download::{RemoteFile, download};

/// Environment variable naming the data root (the `--root` flag wins over it).
pub const DATA_DIR_ENV: &str = "GNN_DATA_DIR";
/// Environment variable that, when set to `1`, forbids downloads.
pub const OFFLINE_ENV: &str = "GNN_OFFLINE";
/// Environment variable naming a mirror: a base URL serving a copy of a data root's layout
/// (see [`DataRoot::mirror`]).
pub const MIRROR_ENV: &str = "GNN_DATA_MIRROR";

/// The per-user data directory used when neither `--root` nor `$GNN_DATA_DIR` names one:
/// `<cache dir>/gnn` (`~/.cache/gnn` on Linux), or `.gnn-data` where the platform has no
/// cache directory.
pub fn default_dir() -> PathBuf {
    dirs::cache_dir()
        .map(|d| d.join("gnn"))
        .unwrap_or_else(|| PathBuf::from(".gnn-data"))
}

/// Where dataset files live: `<dir>/<dataset family>/<file>` (the layout of `shared/data`,
/// e.g. `<dir>/planetoid/ind.cora.x`), and whether a missing file may be downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRoot {
    /// The root directory.
    pub dir: PathBuf,
    /// Download missing files from their canonical location.
    pub download: bool,
    /// Base URL of a mirror that replaces every canonical location: it serves a data root's
    /// layout, so `<family>/<file>` is appended to it (`<mirror>/planetoid/ind.cora.x`,
    /// `<mirror>/tu/MUTAG.zip`). Any static file server run in a data root is one.
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
    /// `$GNN_DATA_DIR`, else [`default_dir`]. Downloads are on unless `GNN_OFFLINE=1`; they
    /// come from `$GNN_DATA_MIRROR` when it is set.
    pub fn resolve(flag: Option<&Path>) -> Self {
        let dir = flag
            .map(Path::to_path_buf)
            .or_else(|| {
                std::env::var_os(DATA_DIR_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(default_dir);
        let download = std::env::var(OFFLINE_ENV).map(|v| v != "1").unwrap_or(true);
        let mirror = std::env::var(MIRROR_ENV).ok().filter(|v| !v.is_empty());
        DataRoot {
            dir,
            download,
            mirror,
        }
    }

    /// The URL `file` of `family` is downloaded from: `<mirror>/<family>/<file>` when a
    /// mirror is set, else `<canonical_base>/<file>`.
    pub fn url(&self, family: &str, canonical_base: &str, file: &str) -> String {
        match &self.mirror {
            Some(m) => format!("{}/{family}/{file}", m.trim_end_matches('/')),
            None => format!("{}/{file}", canonical_base.trim_end_matches('/')),
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
        let url = self.url(family, canonical_base, file.name);
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
