//! Reading dataset archives without trusting them.
//!
//! - Zip (the TU Dortmund datasets ship as `<NAME>.zip`): only entries under one expected top
//!   folder, no absolute or `..` paths, a bounded number of entries and bytes, written to a
//!   temporary folder that is renamed into place only once everything has been extracted.
//! - Gzipped tar (the knowledge graphs ship as `<name>.tar.gz`): a few named members read into
//!   memory, never unpacked to disk; every header's checksum is verified, and a header's size
//!   claim is checked against the caps before anything is allocated for it.

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
    match std::fs::rename(tmp.path().join(top), &final_dir) {
        Ok(()) => Ok(final_dir),
        // Another process (or test thread) unpacked the same archive first: its folder holds
        // the same files, and ours is dropped with the temporary folder.
        Err(_) if final_dir.is_dir() => Ok(final_dir),
        Err(e) => Err(DatasetError::io(&final_dir, e)),
    }
}

/// The most members a `.tar.gz` may have.
pub const MAX_TAR_MEMBERS: usize = 1024;

/// Reads the regular-file members of the gzipped tar at `path` whose file name (the last path
/// component) is one of `wanted`, in the order of `wanted`. Each may expand to at most
/// `max_member_bytes` and the whole decompressed stream to [`MAX_TOTAL_BYTES`]. A missing or
/// repeated wanted member, a bad header checksum, a truncated stream, a size beyond a cap or
/// more than [`MAX_TAR_MEMBERS`] members is a [`DatasetError::Format`] naming the archive.
pub fn read_tar_gz(
    path: &Path,
    wanted: &[&str],
    max_member_bytes: u64,
) -> Result<Vec<Vec<u8>>, DatasetError> {
    let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    read_tar(
        flate2::read::GzDecoder::new(std::io::BufReader::new(file)).take(MAX_TOTAL_BYTES),
        path,
        wanted,
        max_member_bytes,
    )
}

/// [`read_tar_gz`] on an already decompressed tar stream (`path` names it in errors).
pub fn read_tar(
    mut stream: impl std::io::Read,
    path: &Path,
    wanted: &[&str],
    max_member_bytes: u64,
) -> Result<Vec<Vec<u8>>, DatasetError> {
    let bad = |reason: String| DatasetError::format(path, reason);
    let mut found: Vec<Option<Vec<u8>>> = vec![None; wanted.len()];
    let mut header = [0u8; 512];
    for member in 0.. {
        if member > MAX_TAR_MEMBERS {
            return Err(bad(format!("more than {MAX_TAR_MEMBERS} archive members")));
        }
        read_block(&mut stream, &mut header)
            .map_err(|e| bad(format!("member {member}: header: {e}")))?;
        if header.iter().all(|&b| b == 0) {
            break; // The end-of-archive marker.
        }
        let name = tar_name(&header);
        let computed: u32 = header
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    b' ' as u32
                } else {
                    b as u32
                }
            })
            .sum();
        if tar_octal(&header[148..156]) != Some(computed as u64) {
            return Err(bad(format!(
                "member {member} ('{name}'): header checksum mismatch (not a tar archive, or corrupt)"
            )));
        }
        let size = tar_octal(&header[124..136])
            .ok_or_else(|| bad(format!("member '{name}': unreadable size field")))?;
        let regular = matches!(header[156], 0 | b'0' | b'7');
        let slot = Path::new(&name)
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| wanted.iter().position(|w| *w == f))
            .filter(|_| regular);
        match slot {
            Some(k) => {
                if found[k].is_some() {
                    return Err(bad(format!("member '{}' appears twice", wanted[k])));
                }
                if size > max_member_bytes {
                    return Err(bad(format!(
                        "member '{name}' claims {size} bytes, over the {max_member_bytes}-byte limit"
                    )));
                }
                let mut data = Vec::new();
                let read = (&mut stream)
                    .take(size)
                    .read_to_end(&mut data)
                    .map_err(|e| bad(format!("member '{name}': {e}")))?;
                if read as u64 != size {
                    return Err(bad(format!(
                        "member '{name}' is truncated: {read} of {size} bytes"
                    )));
                }
                found[k] = Some(data);
            }
            None => {
                let copied = std::io::copy(&mut (&mut stream).take(size), &mut std::io::sink())
                    .map_err(|e| bad(format!("member '{name}': {e}")))?;
                if copied != size {
                    return Err(bad(format!(
                        "member '{name}' is truncated: {copied} of {size} bytes"
                    )));
                }
            }
        }
        let padding = (512 - size % 512) % 512;
        std::io::copy(&mut (&mut stream).take(padding), &mut std::io::sink())
            .map_err(|e| bad(format!("member '{name}': {e}")))?;
    }
    found
        .into_iter()
        .zip(wanted)
        .map(|(data, name)| data.ok_or_else(|| bad(format!("has no member '{name}'"))))
        .collect()
}

/// Reads one 512-byte block; a stream that ends inside it is an error.
fn read_block(stream: &mut impl std::io::Read, block: &mut [u8; 512]) -> std::io::Result<()> {
    stream.read_exact(block)
}

/// A member's path: the ustar prefix (if any) and the name, up to their first NUL.
fn tar_name(header: &[u8; 512]) -> String {
    let field = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let name = field(&header[0..100]);
    let prefix = if &header[257..262] == b"ustar" {
        field(&header[345..500])
    } else {
        String::new()
    };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// A numeric header field: octal digits padded with spaces or NULs, or GNU's base-256 form
/// (high bit of the first byte set). `None` if it is neither.
fn tar_octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let digits: &[u8] = {
        let start = field.iter().position(|&b| b != b' ')?;
        let rest = &field[start..];
        let end = rest
            .iter()
            .position(|&b| b == b' ' || b == 0)
            .unwrap_or(rest.len());
        &rest[..end]
    };
    if digits.is_empty() {
        return Some(0);
    }
    digits.iter().try_fold(0u64, |v, &d| {
        (b'0'..=b'7')
            .contains(&d)
            .then(|| v.checked_mul(8)?.checked_add((d - b'0') as u64))
            .flatten()
    })
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
