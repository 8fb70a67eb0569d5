//! Burn's native weights format (burnpack), with the same strictness as the PyG import.

use std::path::Path;

use burn::store::{ApplyError, BurnpackStore, ModuleSnapshot, ModuleStore};
use burn::tensor::Bytes;

use super::state_dict::{InteropError, Mismatch, read_bounded, write_atomic};

/// The module's weights as burnpack bytes.
pub fn encode_burnpack<M: ModuleSnapshot>(module: &M) -> Result<Vec<u8>, String> {
    let mut store = BurnpackStore::from_bytes(None);
    store.collect_from(module).map_err(|e| e.to_string())?;
    let bytes = store.get_bytes().map_err(|e| e.to_string())?;
    Ok(bytes.to_vec())
}

/// Writes the module's weights to `path` (burnpack) atomically.
pub fn save_weights<M: ModuleSnapshot>(module: &M, path: &Path) -> Result<(), InteropError> {
    let bytes = encode_burnpack(module).map_err(|reason| InteropError::Format {
        path: path.to_path_buf(),
        format: "burnpack",
        reason,
    })?;
    write_atomic(path, &bytes)
}

/// Loads burnpack `bytes` into `module` strictly: every tensor present with its shape and
/// finite, none left over; otherwise the module is left unchanged and the error lists them.
pub fn decode_burnpack<M: ModuleSnapshot + Clone>(
    module: &mut M,
    bytes: Vec<u8>,
    path: &Path,
) -> Result<(), InteropError> {
    let format = |reason: String| InteropError::Format {
        path: path.to_path_buf(),
        format: "burnpack",
        reason,
    };
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)))
        .allow_partial(true)
        .validate(false);
    // Non-finite values are refused before anything is applied.
    for (name, t) in store.get_all_tensors().map_err(|e| format(e.to_string()))? {
        let data = burn::store::bridge::to_data(t).map_err(|e| format(format!("{name}: {e}")))?;
        let values = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| format(format!("{name}: {e:?}")))?;
        let count = values.iter().filter(|v| !v.is_finite()).count();
        if count > 0 {
            return Err(InteropError::NonFinite {
                name: name.clone(),
                count,
            }
            .in_file(path));
        }
    }
    let mut loaded = module.clone();
    let result = store
        .apply_to(&mut loaded)
        .map_err(|e| format(e.to_string()))?;
    let mut mismatch = Mismatch {
        missing: result
            .missing
            .iter()
            .map(|(name, _)| (name.clone(), vec![]))
            .collect(),
        unexpected: result.unused.iter().map(|n| (n.clone(), vec![])).collect(),
        wrong_shape: vec![],
    };
    for e in &result.errors {
        match e {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => mismatch
                .wrong_shape
                .push((path.clone(), expected.to_vec(), found.to_vec())),
            other => return Err(format(format!("{other:?}"))),
        }
    }
    if !mismatch.is_empty() {
        return Err(InteropError::Mismatch(mismatch).in_file(path));
    }
    *module = loaded;
    Ok(())
}

/// Loads weights written by [`save_weights`] into `module` (see [`decode_burnpack`]).
pub fn load_weights<M: ModuleSnapshot + Clone>(
    module: &mut M,
    path: &Path,
) -> Result<(), InteropError> {
    decode_burnpack(module, read_bounded(path)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::export_pyg;
    use crate::models::{GatConfig, GcnConfig};
    use burn::tensor::Device;

    #[test]
    fn burnpack_round_trip_and_errors() {
        let d = Device::flex();
        let a = GcnConfig::new(5, 3).with_d_hidden(4).init(&d);
        let bytes = encode_burnpack(&a).unwrap();
        let mut b = GcnConfig::new(5, 3).with_d_hidden(4).init(&d);
        decode_burnpack(&mut b, bytes.clone(), Path::new("m.bpk")).unwrap();
        assert_eq!(export_pyg(&b), export_pyg(&a));

        // Another width: every mis-shaped tensor is named, and nothing is loaded.
        let mut c = GcnConfig::new(5, 3).with_d_hidden(8).init(&d);
        let before = export_pyg(&c);
        let e = decode_burnpack(&mut c, bytes.clone(), Path::new("m.bpk")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("m.bpk: ") && msg.contains("conv1.lin.weight"),
            "{msg}"
        );
        assert_eq!(export_pyg(&c), before);

        // Another architecture.
        let mut g = GatConfig::new(5, 3).init(&d);
        let e = decode_burnpack(&mut g, bytes.clone(), Path::new("m.bpk")).unwrap_err();
        assert!(e.to_string().contains("att_src"), "{e}");

        // Truncated files.
        for cut in [0, 3, 10, bytes.len() / 2, bytes.len() - 1] {
            let mut m = GcnConfig::new(5, 3).with_d_hidden(4).init(&d);
            assert!(
                decode_burnpack(&mut m, bytes[..cut].to_vec(), Path::new("t.bpk")).is_err(),
                "cut at {cut}"
            );
        }
    }
}
