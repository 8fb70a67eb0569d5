//! The trace of layers whose answer is known by hand.

use burn::tensor::{Device, Tensor};

use super::*;
use crate::layers::{GatConvConfig, GatedGraphConvConfig, GcnConvConfig, RgcnConvConfig};
use crate::message_passing::{Aggregation, aggregate, aggregate_sources};
use crate::testing::*;
use crate::{Features, Graph};

/// Both directions of every edge.
fn undirected(pairs: &[(usize, usize)], n: usize, d: &Device) -> Graph {
    let (mut src, mut dst) = (Vec::new(), Vec::new());
    for &(a, b) in pairs {
        src.extend([a, b]);
        dst.extend([b, a]);
    }
    Graph::new(&src, &dst, n, d).unwrap()
}

/// Each target's shares add up to 1 (its aggregate is non-zero in these tests).
fn assert_shares_add_up(step: &Step) {
    let share = step.share.as_ref().unwrap();
    let mut total = vec![0.0f64; step.num_nodes];
    for (k, &i) in step.dst.iter().enumerate() {
        total[i as usize] += share[k] as f64;
    }
    for (i, t) in total.iter().enumerate() {
        if step.in_degree[i] > 0 {
            assert!((t - 1.0).abs() < 1e-4, "node {i}: shares add up to {t}");
        }
    }
}

#[test]
fn gcn_weights_are_the_normalised_edge_weights_on_a_path_and_a_star() {
    for d in cpu_devices() {
        let path = (undirected(&[(0, 1), (1, 2), (2, 3)], 4, &d), 4);
        let star = (undirected(&[(0, 1), (0, 2), (0, 3), (0, 4)], 5, &d), 5);
        for (g, n) in [path, star] {
            let conv = GcnConvConfig::new(3, 2).init(&d);
            let x = tensor2(&seeded_values(n * 3, 5), [n, 3], &d);
            let (out, trace) = record(&g, TraceOptions::default(), || conv.forward(x, &g));
            assert_eq!(out.dims(), [n, 2]);
            assert_eq!(trace.steps.len(), 1);
            let step = &trace.steps[0];
            assert_eq!(
                (step.op, step.len()),
                ("propagate_weighted", g.num_edges() + n)
            );
            // d̂ = in-degree + 1 (the self-loop); w = 1/√(d̂_i d̂_j).
            let mut deg = vec![1.0f32; n];
            g.host_dst().iter().for_each(|&i| deg[i as usize] += 1.0);
            let weight = step.weight.as_ref().unwrap();
            for (k, w) in weight.iter().enumerate() {
                let (j, i) = (step.src[k] as usize, step.dst[k] as usize);
                let want = 1.0 / (deg[i] * deg[j]).sqrt();
                assert!((w - want).abs() < 1e-6, "{j} → {i}: {w} vs {want}");
                // Input edges keep their ids; the layer's self-loops have none.
                let input = step.edge[k].map(|e| e as usize);
                match j == i {
                    true => assert_eq!(input, None),
                    false => assert_eq!(input, Some(step.position[k] as usize)),
                }
            }
            assert_shares_add_up(step);
            assert_eq!(step.in_degree.iter().sum::<u32>() as usize, step.len());
        }
    }
}

#[test]
fn mean_weights_are_one_over_the_degree_and_max_marks_the_winners() {
    let d = Device::flex();
    // Node 0 receives from 1, 2, 3; node 1 from 0; nodes 2 and 3 nothing.
    let g = Graph::new(&[1, 2, 3, 0], &[0, 0, 0, 1], 4, &d).unwrap();
    let x = [1.0, 4.0, 2.0, 0.0, 3.0, 4.0, 5.0, 1.0];
    let rows = tensor2(&x, [4, 2], &d);
    let (_, mean) = record(&g, TraceOptions::default(), || {
        aggregate_sources(rows.clone(), &g, Aggregation::Mean)
    });
    let step = &mean.steps[0];
    assert_eq!((step.op, step.aggregation), ("aggregate_sources", "mean"));
    assert_eq!(
        step.weight.as_deref().unwrap(),
        [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0]
    );
    assert_shares_add_up(step);
    // Max of per-edge messages: at node 0, channel 0 is won by edge 2 (5); channel 1 ties at 4
    // between edges 0 and 2, and the first edge wins.
    let messages = tensor2(&[2.0, 4.0, 3.0, 0.0, 5.0, 4.0, 1.0, 4.0], [4, 2], &d);
    let (out, max) = record(&g, TraceOptions::default(), || {
        aggregate(messages, &g, Aggregation::Max)
    });
    assert_eq!(to_vec(out)[..2], [5.0, 4.0]);
    let step = &max.steps[0];
    assert_eq!(step.won.as_deref().unwrap(), [true, false, true, true]);
    assert_eq!(step.share.as_deref().unwrap(), [0.5, 0.0, 0.5, 1.0]);
    assert!(step.weight.is_none());
}

#[test]
fn gat_trace_holds_the_attention_the_layer_returns() {
    let d = Device::flex();
    let g = undirected(&[(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)], 4, &d);
    let conv = GatConvConfig::new(3, 2).with_heads(2).init(&d);
    let x = tensor2(&seeded_values(12, 3), [4, 3], &d);
    let ((_, att), trace) = record(&g, TraceOptions::default(), || {
        conv.forward_with_attention(x, &g)
    });
    let step = &trace.steps[0];
    assert_eq!((step.op, step.heads), ("propagate_heads", 2));
    assert_eq!(step.src, att.graph.host_src());
    assert_eq!(step.dst, att.graph.host_dst());
    let alpha = to_vec(att.alpha);
    assert_eq!(step.attention.as_deref().unwrap(), alpha);
    // The weight is the mean over heads; the shares add up to 1.
    for k in 0..step.len() {
        let mean = (alpha[2 * k] + alpha[2 * k + 1]) / 2.0;
        assert!((step.weight.as_ref().unwrap()[k] - mean).abs() < 1e-6);
    }
    assert_shares_add_up(step);
}

#[test]
fn relational_steps_name_relations_and_source_nodes() {
    let d = Device::flex();
    let g = Graph::new(&[0, 1, 2, 2], &[1, 2, 0, 1], 3, &d)
        .unwrap()
        .with_edge_types(&[0, 1, 1, 0], 2)
        .unwrap();
    let layer = RgcnConvConfig::new(3, 2, 2).init(&d).unwrap();
    // Featureless input: the node-table path re-sources edges at rows of the weight.
    let (_, trace) = record(&g, TraceOptions::default(), || {
        layer
            .forward(Features::Identity { num_nodes: 3 }, &g)
            .unwrap()
    });
    let step = &trace.steps[0];
    assert_eq!(step.src, [0, 1, 2, 2]);
    assert_eq!(step.relation.as_deref().unwrap(), [0, 1, 1, 0]);
    assert_eq!(step.edge, [Some(0), Some(1), Some(2), Some(3)]);
}

#[test]
fn gru_updates_report_gate_and_change() {
    let d = Device::flex();
    let g = undirected(&[(0, 1), (1, 2)], 3, &d);
    let layer = GatedGraphConvConfig::new(2, 4, 2).init(&d);
    let x = tensor2(&seeded_values(6, 9), [3, 2], &d);
    let (_, trace) = record(&g, TraceOptions::default(), || {
        layer.forward(x, &g).unwrap()
    });
    assert_eq!(trace.steps.len(), 2, "one aggregation per GRU step");
    for step in &trace.steps {
        let gate = step.update_gate.as_deref().unwrap();
        assert!(gate.iter().all(|z| (0.0..=1.0).contains(z)) && gate.len() == 3);
        assert!(
            step.update_change
                .as_deref()
                .unwrap()
                .iter()
                .all(|c| *c > 0.0)
        );
    }
}

#[test]
fn sparse_features_are_not_messages_and_off_records_nothing() {
    let d = Device::flex();
    let g = undirected(&[(0, 1), (1, 2)], 3, &d);
    let conv = GcnConvConfig::new(3, 2).init(&d);
    let data = [1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0];
    let x = Features::sparse(&data, 3, 3, &d);
    let (_, trace) = record(&g, TraceOptions::default(), || conv.forward(x.clone(), &g));
    assert_eq!(trace.steps.len(), 1, "X W is not a message-passing step");
    assert!(!recording());
    // A forward outside a recording leaves no trace behind for the next one.
    let _ = conv.forward(x.clone(), &g);
    let (_, again) = record(&g, TraceOptions::default(), || conv.forward(x, &g));
    assert_eq!(again, trace);
}

#[test]
fn over_the_budget_whole_neighbourhoods_are_kept() {
    let d = Device::flex();
    let n = 200;
    let src: Vec<usize> = (0..2000).map(|e| (e * 7919) % n).collect();
    let dst: Vec<usize> = (0..2000).map(|e| (e * 104729 + 3) % n).collect();
    let g = Graph::new(&src, &dst, n, &d).unwrap();
    let x = tensor2(&seeded_values(n * 4, 2), [n, 4], &d);
    let options = TraceOptions {
        budget_bytes: 16 * n + 32 * 500,
        seed: 7,
    };
    let (_, trace) = record(&g, options, || aggregate_sources(x, &g, Aggregation::Sum));
    let step = &trace.steps[0];
    assert!(
        step.kept_fraction < 0.3 && !step.is_empty(),
        "{}",
        step.kept_fraction
    );
    assert!(
        (300..=700).contains(&step.len()),
        "about the budget: {}",
        step.len()
    );
    let mut full = vec![0u32; n];
    dst.iter().for_each(|&i| full[i] += 1);
    for (i, (&kept, &all)) in step.in_degree.iter().zip(&full).enumerate() {
        assert!(kept == 0 || kept == all, "node {i} split");
    }
}

#[test]
fn focus_and_history_follow_messages_back() {
    let d = Device::flex();
    let g = undirected(&[(0, 1), (1, 2), (2, 3), (3, 4)], 5, &d);
    let conv = GcnConvConfig::new(2, 2).init(&d);
    let x = Tensor::<2>::ones([5, 2], &d);
    let (_, trace) = record(&g, TraceOptions::default(), || {
        let h = conv.forward(x, &g);
        conv.forward(h.slice([0..5, 0..2]), &g)
    });
    let focused = trace.focus(&[0]);
    // Two hops back from node 0: the last step's messages into 0 (from 0 and 1), then into 0
    // and 1 (from 0, 1, 2).
    assert_eq!(focused.steps[1].len(), 2);
    assert_eq!(focused.steps[0].len(), 5);
    let paths = history(&focused, 0, 10, 100);
    assert_eq!(paths.len(), 5, "0→0→0, 1→0→0, 0→1→0, 1→1→0, 2→1→0");
    assert!(paths.iter().all(|p| p.nodes.len() == 3 && p.nodes[2] == 0));
    assert_eq!(
        history(&trace, 0, 10, 100),
        paths,
        "focus keeps every chain into 0"
    );
}

#[test]
fn influence_of_a_linear_layer_is_its_message_on_the_predicted_output() {
    // One GCN layer is linear in its messages: y = out[i, c*] = Σ_{e→i} w_e (x W)[src_e, c*] + b,
    // so ∂y/∂μ_e = w_e (x W)[src_e, c*] for the edges into i and 0 for every other edge.
    let d = Device::flex().autodiff();
    let g = undirected(&[(0, 1), (1, 2), (2, 3), (1, 3)], 4, &d);
    let conv = GcnConvConfig::new(3, 2).init(&d);
    let x = tensor2(&seeded_values(12, 4), [4, 3], &d);
    let node = 1;
    let (out, trace) = record_influence(&g, TraceOptions::default(), node, || {
        Ok::<_, std::convert::Infallible>(conv.forward(x.clone(), &g))
    })
    .unwrap();
    let row = to_vec(out.slice([node..node + 1, 0..2]));
    let best = if row[1] > row[0] { 1 } else { 0 };
    let xw = to_vec(x.clone().matmul(conv.lin.weight.val()));
    let step = &trace.steps[0];
    let (influence, weight) = (
        step.influence.as_ref().unwrap(),
        step.weight.as_ref().unwrap(),
    );
    for k in 0..step.len() {
        let want = match step.dst[k] as usize == node {
            true => weight[k] * xw[step.src[k] as usize * 2 + best],
            false => 0.0,
        };
        assert!(
            (influence[k] - want).abs() < 1e-5,
            "edge {k}: {} vs {want}",
            influence[k]
        );
    }
    // Plain recording has no influence, and off an autodiff device neither.
    let plain = record(&g, TraceOptions::default(), || conv.forward(x.clone(), &g)).1;
    assert!(plain.steps[0].influence.is_none());
}
