//! [`StateDict`]: named host tensors, as in a PyTorch `state_dict`, and their safetensors files.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

/// The largest weights file read (4 GiB): larger ones are refused before reading.
pub const MAX_WEIGHTS_BYTES: u64 = 4 << 30;

/// One host tensor: row-major `f32` values and their shape.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub values: Vec<f32>,
}

impl HostTensor {
    /// A tensor's values on the host.
    pub fn from_tensor<const D: usize>(t: Tensor<D>) -> Self {
        let shape = t.dims().to_vec();
        let values = t
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("a float tensor converts to f32");
        HostTensor { shape, values }
    }

    /// The transpose of a matrix (`[a, b]` → `[b, a]`), stored row-major.
    ///
    /// # Panics
    /// If the tensor is not 2-D.
    pub fn transposed(&self) -> Self {
        let [a, b] = self.shape[..] else {
            panic!("transposed() needs a matrix, got shape {:?}", self.shape);
        };
        let mut values = vec![0.0; a * b];
        for i in 0..a {
            for j in 0..b {
                values[j * a + i] = self.values[i * b + j];
            }
        }
        HostTensor {
            shape: vec![b, a],
            values,
        }
    }

    /// The tensor on `device`, reshaped to `shape` (same number of values).
    pub fn to_tensor<const D: usize>(&self, shape: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(self.values.clone(), shape), device)
    }
}

impl fmt::Display for HostTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shape)
    }
}

/// Named tensors in a fixed (sorted) order: PyTorch's `state_dict`, on the host.
pub type StateDict = BTreeMap<String, HostTensor>;

/// Why weights could not be read, written or matched to a model.
#[derive(Debug, thiserror::Error)]
pub enum InteropError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a well-formed weights file.
    #[error("{}: not a valid {format} file: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// `safetensors` or `burnpack`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A tensor has a data type other than `F32`/`F64`/`F16`/`BF16`.
    #[error("tensor '{name}' has data type {dtype}; expected a float type")]
    DType {
        /// Tensor name.
        name: String,
        /// Its data type.
        dtype: String,
    },
    /// A tensor holds NaN or infinite values.
    #[error("tensor '{name}' holds {count} NaN or infinite value(s)")]
    NonFinite {
        /// Tensor name.
        name: String,
        /// How many.
        count: usize,
    },
    /// The names or shapes do not fit the model.
    #[error("the weights do not fit the model: {0}")]
    Mismatch(Mismatch),
    /// An error about a file, with the file named.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: Box<InteropError>,
    },
}

impl InteropError {
    /// The same error, naming `path`.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            e @ (Self::Io { .. } | Self::Format { .. } | Self::InFile { .. }) => e,
            e => Self::InFile {
                path: path.to_path_buf(),
                source: Box::new(e),
            },
        }
    }
}

/// Every difference between the tensors a model has and those a file gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mismatch {
    /// Tensors the model needs that the file lacks: `(name, expected shape)`.
    pub missing: Vec<(String, Vec<usize>)>,
    /// Tensors in the file the model has no place for: `(name, shape)`.
    pub unexpected: Vec<(String, Vec<usize>)>,
    /// Tensors of the wrong shape: `(name, expected, found)`.
    pub wrong_shape: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl Mismatch {
    /// No difference at all.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.wrong_shape.is_empty()
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            let keys: Vec<String> = self
                .missing
                .iter()
                .map(|(k, s)| format!("{k} {s:?}"))
                .collect();
            parts.push(format!("missing {}", keys.join(", ")));
        }
        if !self.unexpected.is_empty() {
            let keys: Vec<String> = self
                .unexpected
                .iter()
                .map(|(k, s)| format!("{k} {s:?}"))
                .collect();
            parts.push(format!("unexpected {}", keys.join(", ")));
        }
        if !self.wrong_shape.is_empty() {
            let keys: Vec<String> = self
                .wrong_shape
                .iter()
                .map(|(k, want, got)| format!("{k} is {got:?}, expected {want:?}"))
                .collect();
            parts.push(format!("wrong shape: {}", keys.join(", ")));
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// Reads a whole file, refusing one over [`MAX_WEIGHTS_BYTES`].
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, InteropError> {
    let io = |source| InteropError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_WEIGHTS_BYTES {
        return Err(InteropError::Format {
            path: path.to_path_buf(),
            format: "weights",
            reason: format!("{len} bytes is over the {MAX_WEIGHTS_BYTES}-byte limit"),
        });
    }
    std::fs::read(path).map_err(io)
}

/// Decodes safetensors bytes: every float tensor as `f32`, and the metadata. Non-float
/// tensors are refused, non-finite values too.
pub fn decode_safetensors(
    bytes: &[u8],
    path: &Path,
) -> Result<(StateDict, HashMap<String, String>), InteropError> {
    let format = |reason: String| InteropError::Format {
        path: path.to_path_buf(),
        format: "safetensors",
        reason,
    };
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| format(e.to_string()))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| format(e.to_string()))?;
    let mut dict = StateDict::new();
    for (name, view) in st.iter() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
                .collect(),
            other => {
                return Err(InteropError::DType {
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                }
                .in_file(path));
            }
        };
        let count = values.iter().filter(|v| !v.is_finite()).count();
        if count > 0 {
            return Err(InteropError::NonFinite {
                name: name.to_string(),
                count,
            }
            .in_file(path));
        }
        dict.insert(
            name.to_string(),
            HostTensor {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    let metadata = meta.metadata().clone().unwrap_or_default();
    Ok((dict, metadata))
}

/// Reads a safetensors file (see [`decode_safetensors`]).
pub fn read_safetensors(path: &Path) -> Result<(StateDict, HashMap<String, String>), InteropError> {
    decode_safetensors(&read_bounded(path)?, path)
}

/// Encodes tensors (as `F32`) and string metadata as safetensors bytes.
pub fn encode_safetensors(
    dict: &StateDict,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>, String> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = dict
        .iter()
        .map(|(k, t)| {
            let b = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (k.clone(), b, t.shape.clone())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(k, b, s)| {
            safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    let metadata = (!metadata.is_empty()).then_some(metadata);
    safetensors::serialize(views, metadata).map_err(|e| e.to_string())
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so that a
/// reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), InteropError> {
    let io = |source| InteropError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "weights".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// IEEE half → single precision.
fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_keeps_names_shapes_values_metadata() {
        let mut d = StateDict::new();
        d.insert(
            "conv1.lin.weight".into(),
            HostTensor {
                shape: vec![2, 3],
                values: vec![1.0, -2.0, 3.5, 0.0, 1e-8, 7.0],
            },
        );
        d.insert(
            "conv1.bias".into(),
            HostTensor {
                shape: vec![2],
                values: vec![0.25, -0.5],
            },
        );
        let meta = HashMap::from([("model".to_string(), "gcn".to_string())]);
        let bytes = encode_safetensors(&d, meta.clone()).unwrap();
        let (back, m) = decode_safetensors(&bytes, Path::new("x")).unwrap();
        assert_eq!(back, d);
        assert_eq!(m, meta);
    }

    #[test]
    fn truncated_and_non_finite_files_are_errors() {
        let mut d = StateDict::new();
        d.insert(
            "w".into(),
            HostTensor {
                shape: vec![2],
                values: vec![1.0, f32::NAN],
            },
        );
        let bytes = encode_safetensors(&d, HashMap::new()).unwrap();
        let e = decode_safetensors(&bytes, Path::new("w.safetensors")).unwrap_err();
        assert!(e.to_string().contains("w.safetensors") && e.to_string().contains("NaN"));
        for cut in [0, 4, 8, bytes.len() - 1] {
            let e = decode_safetensors(&bytes[..cut], Path::new("t.safetensors")).unwrap_err();
            assert!(matches!(e, InteropError::Format { .. }), "{e}");
        }
    }

    #[test]
    fn half_precision_converts() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
        assert!(half_to_f32(0x7c00).is_infinite());
    }
}
