//! Fused message-passing kernels over a CSR form of the graph.
//!
//! The message-passing primitives ([`propagate_weighted`](crate::message_passing::propagate_weighted),
//! [`propagate_heads`](crate::message_passing::propagate_heads),
//! [`aggregate`](crate::message_passing::aggregate) and
//! [`aggregate_sources`](crate::message_passing::aggregate_sources) with a sum or mean,
//! [`softmax_at_targets`](crate::message_passing::softmax_at_targets),
//! [`attention_coefficients`](crate::message_passing::attention_coefficients)) are
//! compositions of Burn's gather and scatter on every backend. On the CPU backends (flex, ndarray, with or
//! without autodiff) they run instead as one fused pass over the graph's edges grouped by
//! target ([`Adjacency`], built once per graph): each output row is a serial sum over its
//! edges in edge order, rows run in parallel. No `[E, F]` message tensor is made for a
//! weighted sum of source rows, the backward pass is a fused sum over the edges grouped by
//! source, and results are bitwise the same for every thread count and run. With the `wgpu`
//! or `cuda` feature the CubeCL backends run the same computations as GPU kernels, one thread
//! per output value and no atomics, bitwise the same on every run. Other backends keep the
//! portable path, which is also the reference the kernels are tested against.
//!
//! [`dropout`] applies a Burn `Dropout` layer with a counter-based mask (parallel, recomputed in
//! the backward pass instead of stored).
//!
//! The kernels are a Burn backend extension ([`GraphKernels`], `#[backend_extension]`) with a
//! hand-written backward pass for the autodiff backend, built from each backend's
//! [`KernelDevice`] computations.

mod backend;
mod csr;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube;
mod device;
mod host;
mod ops;

pub use backend::{GraphKernels, Group, RowSum};
pub use csr::{Adjacency, Csr};
pub use device::{HostFloat, KernelDevice};
pub use host::{Read, prefetch_row};
pub use ops::{add_bias, dropout, elu, fused_on, matmul, softplus};
pub(crate) use ops::{attention, max_at_targets, plus_bias, softmax_at_targets, sum_at_targets};
