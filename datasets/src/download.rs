//! Fetching dataset files: HTTP GET, size cap, sha256 check, temp file then rename.
//!
//! A file is either fully present with the known hash or not there at all: the body is streamed
//! into a temporary file beside the destination while it is hashed, and only renamed into place
//! once the hash matches. A wrong hash, an HTTP error, a body over the size cap or a broken
//! connection leave nothing behind.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::DatasetError;

/// A file that can be fetched: where from, its sha256 and its exact size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name under the dataset's folder (also the last URL segment).
    pub name: &'static str,
    /// Lower-case hex sha256 of the file; empty when it is not known (then only the size cap
    /// applies — used for TU datasets other than the ones whose archives are listed).
    pub sha256: &'static str,
    /// Size in bytes (an upper bound when the hash is unknown); a larger body is cut off and
    /// rejected.
    pub size: u64,
}

/// Downloads `url` to `dest`, checking the size and sha256 of `file`.
///
/// Shows a progress bar on stderr when it is a terminal. On any failure `dest` is untouched and
/// no temporary file remains.
pub fn download(url: &str, dest: &Path, file: &RemoteFile) -> Result<(), DatasetError> {
    let fail = |reason: String| DatasetError::Download {
        url: url.to_string(),
        reason,
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(600)))
        .timeout_connect(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let total = response.body().content_length().unwrap_or(file.size);
    if total > file.size {
        return Err(fail(format!(
            "server announces {total} bytes, the file has {} bytes",
            file.size
        )));
    }

    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(format!("downloading {}", file.name));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };

    let mut builder = tempfile::Builder::new();
    builder.prefix(".download-");
    // Temporary files are created private; a dataset file is meant to be read (rw-r--r--).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| DatasetError::io(dir, e))?;
    let mut hasher = Sha256::new();
    // Read at most one byte more than the file may have, to detect an oversized body.
    let mut reader = response
        .body_mut()
        .with_config()
        .limit(file.size + 1)
        .reader()
        .take(file.size + 1);
    let mut buf = vec![0u8; 64 * 1024];
    let mut received: u64 = 0;
    loop {
        let n = reader.read(&mut buf).map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        received += n as u64;
        if received > file.size {
            return Err(fail(format!(
                "body is larger than the expected {} bytes",
                file.size
            )));
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| DatasetError::io(tmp.path(), e))?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let actual = hex(&hasher.finalize());
    if !file.sha256.is_empty() && actual != file.sha256 {
        return Err(DatasetError::Checksum {
            url: url.to_string(),
            expected: file.sha256.to_string(),
            actual,
        });
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| DatasetError::io(tmp.path(), e))?;
    tmp.persist(dest)
        .map_err(|e| DatasetError::io(dest, e.error))?;
    Ok(())
}

/// Lower-case hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
