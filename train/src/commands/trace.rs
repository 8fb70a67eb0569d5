//! What `gnn trace` does: a saved model's inference on its dataset with the message trace on.

use std::time::{Duration, Instant};

use gnn_datasets::NodeDataset;
use gnn_models::trace::{Trace, TraceOptions, record, record_influence};

use super::evaluate::node_data;
use crate::experiment::prepare;
use crate::saved::SavedModel;
use crate::{Backend, TrainError};

/// A traced inference and what it cost.
#[derive(Debug)]
pub struct Traced {
    /// The trace of the whole inference.
    pub trace: Trace,
    /// Wall time of the plain inference (the forward pass alone, after one untimed pass).
    pub plain: Duration,
    /// Wall time of the same forward pass with recording on (and, for influence, its backward
    /// pass on the autodiff device).
    pub traced: Duration,
}

/// Runs the saved model on `dataset` once to warm up, once plainly and once recorded, and
/// returns the trace — with `influence`, recorded by
/// [`record_influence`](gnn_models::trace::record_influence) for that node, on the backend's
/// autodiff device.
/// Node ids in `nodes` (the ones the caller will [`Trace::focus`] on) outside the dataset are
/// an error.
pub fn trace(
    saved: &SavedModel,
    dataset: &NodeDataset,
    backend: Backend,
    options: TraceOptions,
    nodes: Option<&[u32]>,
    influence: Option<u32>,
) -> Result<Traced, TrainError> {
    let n = dataset.num_nodes();
    let outside = nodes.into_iter().flatten().chain(&influence);
    if let Some(bad) = outside.into_iter().find(|&&v| v as usize >= n) {
        return Err(TrainError::Config(format!(
            "node {bad} is outside 0..{n} ({})",
            dataset.name
        )));
    }
    let data = node_data(saved, dataset, backend)?;
    let forward = || saved.model.forward(data.features().clone(), data.graph());
    // A first pass builds what the graph caches (CSR form, normalisations), so the two timed
    // passes below compare like with like.
    let _ = forward()?.into_data();
    let start = Instant::now();
    // Reading the output back waits for the device, so the time is the whole pass.
    let _ = forward()?.into_data();
    let plain = start.elapsed();
    let start = Instant::now();
    let (out, trace) = match influence {
        None => record(data.graph(), options, forward),
        Some(node) => {
            // The same model frozen on the autodiff device: gradients reach the masks only.
            let device = backend.device()?.autodiff();
            let model = saved.model.model().to_device(&device).frozen();
            let normalize = saved.card.preprocessing.normalize_features;
            let data = prepare(dataset, normalize, &device)?;
            let (out, trace) = record_influence(data.graph(), options, node as usize, || {
                model.forward(data.features().clone(), data.graph())
            })?;
            (Ok(out), trace)
        }
    };
    let _ = out?.into_data();
    let traced = start.elapsed();
    Ok(Traced {
        trace,
        plain,
        traced,
    })
}

/// The analysis `gnn trace --analyze` prints: a line per step with its
/// [`LayerHealth`](gnn_models::trace::LayerHealth), then for each of `nodes` the `k` chains of
/// messages that carried the most to it ([`history`](gnn_models::trace::history), beam 4096).
pub fn trace_analysis(trace: &Trace, nodes: &[u32], k: usize, influence: Option<u32>) -> String {
    use std::fmt::Write as _;
    let mut s = String::from(
        "step  operation                           edges   message norm p25 / p50 / p75 / max   never won   attention entropy ÷ uniform   update ‖h'−h‖ / gate\n",
    );
    for h in gnn_models::trace::layer_health(trace) {
        let [_, q1, q2, q3, max] = h.norm_quantiles;
        let won = h
            .never_won
            .map_or("-".to_string(), |f| format!("{:.1}%", 100.0 * f));
        let entropy = match h.attention_entropy.is_empty() {
            true => "-".to_string(),
            false => h
                .attention_entropy
                .iter()
                .map(|e| format!("{e:.2}"))
                .collect::<Vec<_>>()
                .join(" "),
        };
        let update = match (h.update_change, h.update_gate) {
            (Some(c), Some(g)) => format!("{c:.3} / {g:.3}"),
            (Some(c), None) => format!("{c:.3}"),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            s,
            "{:<5} {:<35} {:>6}   {q1:>8.3} {q2:>8.3} {q3:>8.3} {max:>8.3}   {won:>9}   {entropy:<29} {update}",
            h.step, h.op, h.edges
        );
    }
    match crate::bottlenecks::betweenness(trace) {
        None => {
            let _ = writeln!(
                s,
                "bottlenecks: {} nodes, over the {} betweenness handles here; trace with --nodes",
                trace.num_nodes,
                crate::bottlenecks::MAX_NODES
            );
        }
        Some(all) => {
            let found = crate::bottlenecks::bottlenecks(&all, k);
            let _ = writeln!(
                s,
                "bottlenecks: {} nodes whose betweenness in the flow backbone (messages with at least a uniform share) is at least twice the structural one",
                found.len()
            );
            for b in found {
                let _ = writeln!(
                    s,
                    "  node {:>6}: flow {:.5}, structural {:.5}",
                    b.node, b.flow, b.structural
                );
            }
        }
    }
    if let Some(node) = influence {
        influence_report(&mut s, trace, node, k);
    }
    for &node in nodes {
        let paths = gnn_models::trace::history(trace, node, k, 4096);
        let _ = writeln!(
            s,
            "node {node}: the {} chains of messages that carried the most to it (weight = product of shares)",
            paths.len()
        );
        for p in paths {
            let mut chain = p.nodes[0].to_string();
            for (m, next) in p.nodes[1..].iter().enumerate() {
                match p.relations[m] {
                    Some(r) => write!(chain, " →[r{r}] {next}"),
                    None => write!(chain, " → {next}"),
                }
                .expect("writing to a String");
            }
            let _ = writeln!(s, "  {:>8.4}  {chain}", p.weight);
        }
    }
    s
}

/// Per step, how the influence of the messages on `node`'s prediction compares with the flow of
/// shares they carry to it ([`message_flow`](gnn_models::trace::message_flow)): Pearson's r over
/// the messages where either is non-zero, and the `k` most influential messages.
fn influence_report(s: &mut String, trace: &Trace, node: u32, k: usize) {
    use std::fmt::Write as _;
    let flow = gnn_models::trace::message_flow(trace, node);
    let _ = writeln!(
        s,
        "influence on node {node}'s predicted output (∂y/∂ message scale) against the share flow to it:"
    );
    for (i, (step, flow)) in trace.steps.iter().zip(&flow).enumerate() {
        let Some(inf) = &step.influence else {
            continue;
        };
        let pairs: Vec<(f64, f64)> = (0..step.len())
            .map(|m| (inf[m] as f64, flow[m]))
            .filter(|&(a, b)| a != 0.0 || b != 0.0)
            .collect();
        let r = pearson(&pairs).map_or("-".to_string(), |r| format!("{r:.3}"));
        let _ = writeln!(s, "  step {i}: r = {r} over {} messages", pairs.len());
        let mut top: Vec<usize> = (0..step.len()).filter(|&m| inf[m] != 0.0).collect();
        top.sort_by(|&a, &b| inf[b].abs().total_cmp(&inf[a].abs()).then(a.cmp(&b)));
        for &m in top.iter().take(k) {
            let _ = writeln!(
                s,
                "    {} → {}: influence {:+.4}, share flow {:+.4}",
                step.src[m], step.dst[m], inf[m], flow[m]
            );
        }
    }
}

/// Pearson's correlation of the pairs, `None` for fewer than two or a constant side.
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return None;
    }
    let (ma, mb) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for &(a, b) in pairs {
        cov += (a - ma) * (b - mb);
        va += (a - ma) * (a - ma);
        vb += (b - mb) * (b - mb);
    }
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

#[cfg(test)]
mod tests {
    use super::pearson;

    #[test]
    fn pearson_of_lines_and_constants() {
        let up = [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)];
        assert!((pearson(&up).unwrap() - 1.0).abs() < 1e-12);
        let down = [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)];
        assert!((pearson(&down).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[(1.0, 1.0), (2.0, 1.0)]), None);
        assert_eq!(pearson(&[(1.0, 1.0)]), None);
    }
}
