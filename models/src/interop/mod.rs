//! Saving, loading and exchanging weights.
//!
//! - Native: [`save_weights`] / [`load_weights`] write and read Burn's burnpack format
//!   (atomically; loading is strict and refuses NaN/inf).
//! - PyTorch Geometric: [`export_pyg`] / [`import_pyg`] map every layer and model to PyG's
//!   `state_dict` names and layouts (see [`pyg`]; each layer's mapping lives in its own file,
//!   written with the public helpers [`export_linear`], [`import_param`], …), and [`read_safetensors`] /
//!   [`encode_safetensors`] move those through safetensors files, which PyTorch reads with
//!   `safetensors.torch.load_file` and `load_state_dict(strict=True)`.

mod native;
pub mod pyg;
mod state_dict;

pub use native::{decode_burnpack, encode_burnpack, load_weights, save_weights};
pub use pyg::{
    Import, PYG_MODULES, PygParams, export_bias, export_linear, export_param, export_pyg,
    export_transposed, import_bias, import_linear, import_param, import_pyg, import_transposed,
};
pub use state_dict::{
    HostTensor, InteropError, MAX_WEIGHTS_BYTES, Mismatch, StateDict, decode_safetensors,
    encode_safetensors, read_safetensors, write_atomic,
};
