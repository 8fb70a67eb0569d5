//! Unpacking dataset zip archives (the TU Dortmund datasets ship as `<NAME>.zip`) without
//! trusting them: only entries under one expected top folder, no absolute or `..` paths, a
//! bounded number of entries and bytes, written to a temporary folder that is renamed into
//! place only once everything has been extracted.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::DatasetError;

/// The most entries an archive may have.
pub const MAX_ENTRIES: usize = 256;
/// The most bytes one entry may expand to (1 GiB).
pub const MAX_ENTRY_BYTES: u64 = 1 << 30;
/// The most bytes all entries together may expand to (4 GiB).
pub const MAX_TOTAL_BYTES: u64 = 4 << 30;

/// Extracts the files under `top/` of the zip at `zip` into `<dest>/<top>/` (other entries,
/// such as `__MACOSX/`, are skipped) and returns that folder. On any error nothing is left
/// under `dest`.
pub fn unpack_zip(zip: &Path, dest: &Path, top: &str) -> Result<PathBuf, DatasetError> {
    let bad = |reason: String| DatasetError::format(zip, reason);
    let file = std::fs::File::open(zip).map_err(|e| DatasetError::io(zip, e))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not a readable zip archive: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(bad(format!(
            "{} entries, more than the {MAX_ENTRIES} allowed",
            archive.len()
        )));
    }
    std::fs::create_dir_all(dest).map_err(|e| DatasetError::io(dest, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(dest)
        .map_err(|e| DatasetError::io(dest, e))?;
    let mut total = 0u64;
    let mut extracted = 0usize;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| bad(format!("entry {i}: {e}")))?;
        let raw_name = entry
            .name()
            .map_err(|e| bad(format!("entry {i}: {e}")))?
            .to_string();
        let Some(name) = entry.enclosed_name() else {
            return Err(bad(format!(
                "entry '{raw_name}' escapes the archive's folder"
            )));
        };
        let Ok(rest) = name.strip_prefix(top) else {
            continue;
        };
        if entry.is_dir() || rest.as_os_str().is_empty() {
            continue;
        }
        if rest.components().count() != 1 {
            return Err(bad(format!("entry '{raw_name}' is nested below {top}/")));
        }
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(bad(format!(
                "entry '{raw_name}' expands to {} bytes, over {MAX_ENTRY_BYTES}",
                entry.size()
            )));
        }
        let out = tmp.path().join(top).join(rest);
        std::fs::create_dir_all(tmp.path().join(top))
            .map_err(|e| DatasetError::io(tmp.path(), e))?;
        // The declared size may lie: copy at most one byte past the cap, then check.
        let mut file = std::fs::File::create(&out).map_err(|e| DatasetError::io(&out, e))?;
        let written = std::io::copy(&mut (&mut entry).take(MAX_ENTRY_BYTES + 1), &mut file)
            .map_err(|e| bad(format!("entry '{raw_name}': {e}")))?;
        if written > MAX_ENTRY_BYTES {
            return Err(bad(format!(
                "entry '{raw_name}' expands past {MAX_ENTRY_BYTES} bytes"
            )));
        }
        total += written;
        if total > MAX_TOTAL_BYTES {
            return Err(bad(format!("expands past {MAX_TOTAL_BYTES} bytes in all")));
        }
        extracted += 1;
    }
    if extracted == 0 {
        return Err(bad(format!("has no files under {top}/")));
    }
    let final_dir = dest.join(top);
    std::fs::rename(tmp.path().join(top), &final_dir)
        .map_err(|e| DatasetError::io(&final_dir, e))?;
    Ok(final_dir)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn unpacks_only_the_expected_folder() {
        let t = tempfile::tempdir().unwrap();
        let z = t.path().join("X.zip");
        zip_of(
            &z,
            &[
                ("X/X_A.txt", b"1, 2\n"),
                ("__MACOSX/X/._X_A.txt", b"junk"),
                ("X/README.txt", b"hi"),
            ],
        );
        let out = unpack_zip(&z, &t.path().join("tu"), "X").unwrap();
        assert_eq!(std::fs::read(out.join("X_A.txt")).unwrap(), b"1, 2\n");
        assert!(!t.path().join("tu/__MACOSX").exists());
    }

    #[test]
    fn hostile_archives_leave_nothing_behind() {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("tu");
        for (entries, want) in [
            (vec![("X/../../evil.txt", &b"x"[..])], "escapes"),
            (vec![("X/a/b.txt", &b"x"[..])], "nested"),
            (vec![("Y/Y_A.txt", &b"x"[..])], "no files"),
        ] {
            let z = t.path().join("bad.zip");
            zip_of(&z, &entries);
            let e = unpack_zip(&z, &dest, "X").unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("bad.zip"), "{e}");
            assert!(!t.path().join("evil.txt").exists());
            assert!(!dest.join("X").exists());
            assert_eq!(
                std::fs::read_dir(&dest).unwrap().count(),
                0,
                "temp left behind"
            );
        }
        let z = t.path().join("not.zip");
        std::fs::write(&z, b"PK\x03\x04 truncated").unwrap();
        assert!(unpack_zip(&z, &dest, "X").is_err());
    }
}
