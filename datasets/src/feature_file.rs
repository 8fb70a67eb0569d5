//! Node features in a file that is mapped into memory instead of read into it, for graphs
//! whose features are larger than the memory a training process should hold: the operating
//! system pages rows in as the sampler gathers them, and drops them again under pressure.
//!
//! The format is a 32-byte header — the magic `GNNFEAT1`, the row count `N` and the column
//! count `F` as little-endian `u64`, 8 zero bytes — then the `N · F` values as little-endian
//! `f32`, row-major. A file is valid only if its size is exactly `32 + 4 · N · F` and every
//! value is finite; nothing is allocated from the header's counts.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;
use rayon::prelude::*;

use crate::{DatasetError, Matrix};

/// The first bytes of a features file.
pub const MAGIC: [u8; 8] = *b"GNNFEAT1";

/// Bytes before the values (a multiple of 4, so mapped values are aligned).
pub const HEADER_BYTES: usize = 32;

/// The shape `(N, F)` a header gives, checked against the file's size `len` in bytes.
pub fn parse_header(header: &[u8], len: u64) -> Result<(usize, usize), String> {
    let Some(h) = header.get(..HEADER_BYTES) else {
        return Err(format!(
            "{} bytes: shorter than the {HEADER_BYTES}-byte header",
            header.len()
        ));
    };
    if h[..8] != MAGIC {
        return Err("not a features file (no GNNFEAT1 magic)".into());
    }
    let word = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or([0; 8]));
    let (rows, cols) = (word(8), word(16));
    if word(24) != 0 {
        return Err("reserved header bytes are not zero".into());
    }
    let expected = rows
        .checked_mul(cols)
        .and_then(|v| v.checked_mul(4))
        .and_then(|b| b.checked_add(HEADER_BYTES as u64));
    match expected {
        Some(e) if e == len => {}
        Some(e) => {
            return Err(format!(
                "header says {rows} x {cols} values ({e} bytes), the file has {len}"
            ));
        }
        None => return Err(format!("header says {rows} x {cols} values: too many")),
    }
    let fit = |v: u64| usize::try_from(v).map_err(|_| format!("{v} rows or columns"));
    Ok((fit(rows)?, fit(cols)?))
}

/// Writes `m` to `path` in this format, atomically (a temporary file beside it, renamed).
pub fn write(path: &Path, m: &Matrix) -> Result<(), DatasetError> {
    let io = |source: std::io::Error| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".gnn-features-");
    // Temporary files are created private; the features file is data to be read (rw-r--r--).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder.tempfile_in(dir).map_err(io)?;
    let mut out = BufWriter::new(tmp.as_file());
    out.write_all(&MAGIC).map_err(io)?;
    for word in [m.rows() as u64, m.cols() as u64, 0] {
        out.write_all(&word.to_le_bytes()).map_err(io)?;
    }
    for chunk in m.data().chunks(1 << 16) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.write_all(&bytes).map_err(io)?;
    }
    out.flush().map_err(io)?;
    drop(out);
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// The features file at `path`, mapped: a [`Matrix`] whose rows are read from the file as
/// they are used. The file must not change while it is mapped.
pub fn map(path: &Path) -> Result<Matrix, DatasetError> {
    let format = |reason: String| DatasetError::Format {
        path: path.to_path_buf(),
        reason,
    };
    if cfg!(target_endian = "big") {
        return Err(format(
            "features files are mapped on little-endian machines only".into(),
        ));
    }
    let io = |source: std::io::Error| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    // The header is checked before anything is mapped.
    let len = file.metadata().map_err(io)?.len();
    let mut header = Vec::with_capacity(HEADER_BYTES);
    (&mut file)
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut header)
        .map_err(io)?;
    parse_header(&header, len).map_err(format)?;
    // SAFETY: the map is read-only and the file is documented not to change while mapped;
    // every read goes through the length and alignment checked below.
    let map = unsafe { Mmap::map(&file) }.map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (rows, cols) = parse_header(&map, map.len() as u64).map_err(format)?;
    let values = MappedValues {
        map: Arc::new(map),
        count: rows * cols,
    };
    if values.values().len() != rows * cols {
        return Err(format("the mapped values are not 4-byte aligned".into()));
    }
    check_finite(values.values(), cols).map_err(format)?;
    Ok(Matrix::mapped(rows, cols, values))
}

/// `m` from the features file at `path`, mapped: written there first when the file does not
/// exist; an existing file must hold exactly `m`'s values (checked), so a file of another
/// dataset is refused rather than trained on. The in-memory `m` can then be dropped.
pub fn map_or_write(path: &Path, m: &Matrix) -> Result<Matrix, DatasetError> {
    if !path.exists() {
        write(path, m)?;
    }
    let mapped = map(path)?;
    let same = (mapped.rows(), mapped.cols()) == (m.rows(), m.cols())
        && mapped
            .data()
            .par_chunks(1 << 16)
            .zip(m.data().par_chunks(1 << 16))
            .all(|(a, b)| a == b);
    if !same {
        return Err(DatasetError::Format {
            path: path.to_path_buf(),
            reason: format!(
                "holds other features ({} x {}) than the dataset's ({} x {}); remove it or \
                 choose another file",
                mapped.rows(),
                mapped.cols(),
                m.rows(),
                m.cols()
            ),
        });
    }
    Ok(mapped)
}

/// A features file held in memory (`bytes` is the whole file), read into a [`Matrix`].
pub fn from_bytes(bytes: &[u8]) -> Result<Matrix, String> {
    let (rows, cols) = parse_header(bytes, bytes.len() as u64)?;
    let values: Vec<f32> = bytes[HEADER_BYTES..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    check_finite(&values, cols)?;
    Matrix::new(rows, cols, values).map_err(|e| e.to_string())
}

fn check_finite(values: &[f32], cols: usize) -> Result<(), String> {
    match values.par_iter().position_first(|v| !v.is_finite()) {
        Some(i) => Err(format!(
            "row {} column {} holds a NaN or infinite value",
            i / cols.max(1),
            i % cols.max(1)
        )),
        None => Ok(()),
    }
}

/// The values of a mapped features file (shared by the matrices that read them).
#[derive(Clone)]
pub(crate) struct MappedValues {
    map: Arc<Mmap>,
    count: usize,
}

impl MappedValues {
    /// The `N · F` values (empty if the map were misaligned, which [`map`] refuses).
    pub(crate) fn values(&self) -> &[f32] {
        let bytes = self
            .map
            .get(HEADER_BYTES..HEADER_BYTES + 4 * self.count)
            .unwrap_or(&[]);
        bytemuck::try_cast_slice(bytes).unwrap_or(&[])
    }
}

impl std::fmt::Debug for MappedValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MappedValues({} values)", self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> Matrix {
        Matrix::new(3, 2, vec![1.0, -2.5, 0.0, 4.0, 1e-30, 6.0]).unwrap()
    }

    #[test]
    fn written_features_map_back_and_copy_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.f32");
        write(&path, &matrix()).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            (HEADER_BYTES + 6 * 4) as u64
        );
        let mut mapped = map(&path).unwrap();
        assert!(mapped.is_mapped());
        assert_eq!(mapped, matrix());
        assert_eq!(mapped.row(1), &[0.0, 4.0]);
        let shared = mapped.clone();
        // A write copies the values into memory; the file and other readers are unchanged.
        mapped.row_mut(1)[0] = 9.0;
        assert!(!mapped.is_mapped() && shared.is_mapped());
        assert_eq!(shared.row(1), &[0.0, 4.0]);
        assert_eq!(map(&path).unwrap(), matrix());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(from_bytes(&bytes).unwrap(), matrix());
    }

    #[test]
    fn bad_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.f32");
        write(&path, &matrix()).unwrap();
        let good = std::fs::read(&path).unwrap();
        let header = |rows: u64, cols: u64| {
            let mut h = MAGIC.to_vec();
            h.extend(rows.to_le_bytes());
            h.extend(cols.to_le_bytes());
            h.extend([0; 8]);
            h
        };
        let mut nan = good.clone();
        nan[HEADER_BYTES + 12..HEADER_BYTES + 16].copy_from_slice(&f32::NAN.to_le_bytes());
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "shorter than the 32-byte header"),
            ("magic", b"GNNFEAT2".repeat(4), "no GNNFEAT1 magic"),
            (
                "truncated",
                good[..good.len() - 1].to_vec(),
                "the file has 55",
            ),
            ("longer", [&good[..], &[0]].concat(), "the file has 57"),
            // A header claiming 10^18 values over 32 bytes allocates nothing.
            (
                "claim",
                header(1_000_000_000, 1_000_000_000),
                "the file has 32",
            ),
            ("overflow", header(u64::MAX, 3), "too many"),
            (
                "reserved",
                [&header(0, 0)[..24], &[1; 8]].concat(),
                "reserved",
            ),
            ("nan", nan, "row 1 column 1 holds a NaN"),
        ];
        for (what, bytes, expect) in cases {
            let err = from_bytes(&bytes).unwrap_err();
            assert!(err.contains(expect), "{what}: {err}");
            std::fs::write(&path, &bytes).unwrap();
            let err = map(&path).unwrap_err().to_string();
            assert!(
                err.contains(expect) && err.contains("x.f32"),
                "{what}: {err}"
            );
        }
        let missing = map(&dir.path().join("none.f32")).unwrap_err().to_string();
        assert!(missing.contains("none.f32"), "{missing}");
    }

    #[test]
    fn map_or_write_writes_once_and_refuses_other_features() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.f32");
        let first = map_or_write(&path, &matrix()).unwrap();
        assert!(first.is_mapped() && first == matrix());
        let again = map_or_write(&path, &matrix()).unwrap();
        assert_eq!(again, matrix());
        let mut other = matrix();
        other.row_mut(2)[1] = 7.0;
        let err = map_or_write(&path, &other).unwrap_err().to_string();
        assert!(err.contains("holds other features (3 x 2)"), "{err}");
    }
}
