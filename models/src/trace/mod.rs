//! The message audit trail: what every message-passing step of a forward pass sent along
//! each edge, recorded by the primitives themselves, so every layer — built-in or written by a
//! user on the primitives — is traced without code of its own.
//!
//! [`record`] runs a closure (a model's forward pass) with recording on. Each aggregation the
//! pass makes — [`propagate_weighted`], [`propagate_heads`], [`aggregate`],
//! [`aggregate_sources`] (and so every layer composed of them) — becomes one [`Step`], in call
//! order. Attention coefficients ([`softmax_at_targets`], [`attention_coefficients`]) are
//! attached to the aggregation over the same edges that follows them. A GRU update
//! ([`GruCell`](crate::layers::GruCell)) attaches its mean update gate and the change of the
//! node state to the step before it; a user's update can do the same with [`note_update`].
//!
//! Per edge `e = j → i` of a step, with the aggregate `out_i = ⊕_{e → i} c_e · m_e`:
//! - `norm`: `‖c_e · m_e‖` for the weighted sums (the message as PyG's `message()` returns
//!   it: `w_e · x_j` for GCN, `α_e · x_j` for GAT); `‖m_e‖` for an aggregation (sum, mean,
//!   max, min of messages);
//! - `weight`: the coefficient `c_e` the aggregation gave the message — the edge weight
//!   (GCN's `1/√(d̂_i d̂_j)`), the mean over heads of the attention, `1` for a sum, `1/deg(i)`
//!   for a mean; absent for max, min and user aggregations;
//! - `share`: the message's part of its target's aggregate, `⟨c_e m_e, out_i⟩ / ‖out_i‖²` for
//!   sums and means (the shares of a node's messages add up to 1 whenever `out_i ≠ 0`; 0 for
//!   every message when `out_i = 0`), and for a max or min the fraction of channels the message
//!   won (the first edge in input order attaining it, as the fused kernel's backward), which adds
//!   up to 1 as well; absent for user aggregations;
//! - `won` (max, min): whether the message won at least one channel;
//! - `attention[h]`: the attention coefficient per head, where the step follows one;
//! - `relation`: the edge's relation type, where the graph is typed.
//!
//! With [`record_influence`], also `influence`: the derivative of one node's predicted output
//! with respect to a scale on the message (an edge-mask saliency), beside its share.
//!
//! Per target node: `in_degree`, `aggregate_norm = ‖out_i‖`, and where an update reported it,
//! `update_change = ‖h'_i − h_i‖` and `update_gate` (the GRU's mean update gate `z`).
//!
//! Nodes and edges are those of the graph given to [`record`] — the dataset's ids in input
//! order: each traced edge names its source (the node its message came from), its target and
//! the input edge it is (`None` for edges a layer added, such as self-loops).
//!
//! Recording costs one thread-local check per primitive call when off. When on, it reads each
//! step's tensors back to the host, and keeps at most [`TraceOptions::budget_bytes`]: once a
//! step would exceed it, the step keeps the incoming edges of a seeded random subset of its
//! target nodes ([`Step::kept_fraction`]), so the nodes kept have all their messages.
//!
//! [`propagate_weighted`]: crate::message_passing::propagate_weighted
//! [`propagate_heads`]: crate::message_passing::propagate_heads
//! [`aggregate`]: crate::message_passing::aggregate
//! [`aggregate_sources`]: crate::message_passing::aggregate_sources
//! [`softmax_at_targets`]: crate::message_passing::softmax_at_targets
//! [`attention_coefficients`]: crate::message_passing::attention_coefficients

mod analysis;
mod recorder;
mod stats;
mod step;

pub use analysis::{LayerHealth, Path, history, layer_health, message_flow};
pub use recorder::{
    TraceOptions, note_update, note_update_gate, record, record_influence, recording,
};
pub(crate) use recorder::{edge_mask, note_aggregation, note_attention, note_weighted_sum};
pub(crate) use stats::Messages;
pub use step::{Step, Trace};

#[cfg(test)]
mod tests;
