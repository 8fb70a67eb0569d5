//! The message-passing primitives every layer is composed of.
//!
//! A layer computes messages on edges from the rows of their endpoints ([`gather_src`],
//! [`gather_dst`]), reduces them at the target nodes ([`aggregate`] over the segment reductions
//! [`segment_sum`], [`segment_mean`], [`segment_max`], [`segment_min`], or a
//! [`segment_softmax`] for attention), and updates the node state. Graph-structure helpers
//! ([`add_self_loops`], [`remove_self_loops`], [`in_degree`], [`gcn_norm`]) prepare the graph.
//!
//! Every reduction is permutation-invariant, differentiable with repeated indices, and gives 0
//! for a node that receives nothing. Aggregations are open: anything implementing
//! [`Aggregator`] can be passed where an [`Aggregation`] is, and a layer can be written as a
//! message, an aggregation and an update ([`MessagePassing`], [`propagate`]).

pub(crate) mod aggregate;
mod degree;
mod gather;
mod gcn_norm;
mod pool;
mod propagate;
mod segment;
mod self_loops;

pub use aggregate::{
    Aggregation, Aggregator, SoftmaxAggregation, aggregate, aggregate_sources,
    attention_coefficients, propagate_heads, propagate_weighted, softmax_at_targets,
};
pub use degree::{in_degree, out_degree, weighted_in_degree};
pub use gather::{gather_dst, gather_src};
pub use gcn_norm::gcn_norm;
pub use pool::{global_add_pool, global_max_pool, global_mean_pool};
pub use propagate::{EdgeInputs, MessagePassing, propagate};
pub use segment::{
    gather_rows, segment_count, segment_max, segment_mean, segment_min, segment_softmax,
    segment_sum,
};
pub use self_loops::{add_self_loops, remove_self_loops};
