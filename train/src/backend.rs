//! Choosing the backend at run time: every backend is a [`Device`].

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// A Burn backend the models can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Burn's pure-Rust CPU backend (the default: fastest at gather/scatter on CPU).
    Flex,
    /// The ndarray CPU backend (deprecated in Burn 0.22, kept selectable).
    Ndarray,
    /// The wgpu GPU backend (Vulkan, Metal, DX12; needs the `wgpu` cargo feature).
    Wgpu,
    /// The CUDA backend for NVIDIA GPUs (needs the `cuda` cargo feature).
    Cuda,
}

impl Backend {
    /// Every backend, in display order.
    pub const ALL: [Backend; 4] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Cuda,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this build can run it.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex | Backend::Ndarray => true,
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The (non-autodiff) device of this backend.
    pub fn device(self) -> Result<Device, TrainError> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            #[allow(deprecated)] // ndarray stays selectable
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => Err(TrainError::Backend(
                "this build has no wgpu backend: rebuild with `--features wgpu`".into(),
            )),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => Err(TrainError::Backend(
                "this build has no cuda backend: rebuild with `--features cuda`".into(),
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown backend '{s}' (flex, ndarray, wgpu, cuda)"))
    }
}
