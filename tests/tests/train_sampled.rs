//! Mini-batch training on neighbour-sampled subgraphs, end to end by registry name as `gnn
//! train --sampler neighbor` runs it; bipartite blocks against the whole subgraph.

use burn::tensor::{Device, Tensor, TensorData};
use gnn_datasets::synthetic::{RandomGraphSpec, random_graph};
use gnn_datasets::{Csr, Fanout, NeighborSampler, NodeDataset, Sample};
use gnn_models::layers::SageConvConfig;
use gnn_models::registry::Registry;
use gnn_models::{BipartiteGraph, Features, Graph};
use gnn_tests::{neighbor_sampling, run_generated};
use gnn_train::Backend;
use gnn_train::datasets::{AnyDataset, node_info};
use gnn_train::experiment::{ExperimentSpec, run_experiment};

#[test]
fn sampled_sage_learns_a_block_model_by_registry_name() {
    let r = run_generated(
        "sage",
        "sbm-4000-10-64",
        Some(neighbor_sampling("10,10")),
        20,
    );
    // 400 training seeds in batches of 256: two steps an epoch; chance is 1/8.
    assert_eq!(r.history.len(), 20);
    assert!(r.test_metric > 0.4, "test accuracy {}", r.test_metric);
    assert!(r.history[19].step_loss < r.history[0].step_loss);
    // Another model on the same batches: GCN runs on the sampled subgraphs unchanged.
    let gcn = run_generated("gcn", "sbm-4000-10-64", Some(neighbor_sampling("10,10")), 3);
    assert!(gcn.test_metric > 0.125, "{}", gcn.test_metric);
}

#[test]
fn a_sampled_link_or_graph_task_is_refused() {
    let registry = Registry::builtin();
    let mut spec = ExperimentSpec::new(&registry, "gae", "er-200-4", Backend::Flex).unwrap();
    spec.sampler = Some(neighbor_sampling("5"));
    let ds = AnyDataset::Node(random_graph(&RandomGraphSpec::parse("er-200-4").unwrap()).unwrap());
    let err = run_experiment(&registry, &spec, &ds, |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("--sampler neighbor"), "{err}");
}

/// A generated dataset, the sample of `seeds` with `fanouts`, the sampled subgraph as one
/// graph and as its blocks (first layer first).
fn sampled(
    dataset: &str,
    fanouts: &str,
    seeds: impl Iterator<Item = u32>,
    seed: u64,
    d: &Device,
) -> (NodeDataset, Sample, Graph, Vec<BipartiteGraph>) {
    let ds = random_graph(&RandomGraphSpec::parse(dataset).unwrap()).unwrap();
    let csr = Csr::from_edges(ds.num_nodes(), ds.edges.src(), ds.edges.dst()).unwrap();
    let sampler = NeighborSampler::new(Fanout::parse_list(fanouts).unwrap(), false).unwrap();
    let s = sampler
        .sample(&csr, &seeds.collect::<Vec<u32>>(), seed)
        .unwrap();
    let wide = |v: &[u32]| v.iter().map(|&i| i as usize).collect::<Vec<usize>>();
    let g = Graph::new(&wide(&s.src), &wide(&s.dst), s.num_nodes(), d).unwrap();
    let blocks = (1..=s.layers())
        .map(|l| {
            let b = s.block(l);
            BipartiteGraph::new(&wide(b.src), &wide(b.dst), b.num_src, b.num_dst, d).unwrap()
        })
        .collect();
    (ds, s, g, blocks)
}

#[test]
fn sage_on_the_blocks_equals_sage_on_the_whole_subgraph() {
    let d = Device::flex();
    let (ds, s, g, blocks) = sampled("er-2000-12-16", "6,4", (0..50).map(|i| i * 37), 5, &d);
    d.seed(1);
    let (l1, l2) = (
        SageConvConfig::new(16, 8).init(&d),
        SageConvConfig::new(8, 4).init(&d),
    );
    let rows: Vec<f32> = s
        .nodes
        .iter()
        .flat_map(|&v| ds.features.row(v as usize).to_vec())
        .collect();
    let x = Tensor::<2>::from_data(TensorData::new(rows, [s.num_nodes(), 16]), &d);
    // Square: both layers on the whole subgraph, the seeds' rows kept.
    let square = l2
        .forward(l1.forward(x.clone(), &g), &g)
        .slice([0..50, 0..4]);
    // Blocks: layer l on block l, targets a prefix of the sources.
    let (b1, b2) = (&blocks[0], &blocks[1]);
    let h = l1.forward_bipartite(
        x.clone().slice([0..b1.num_src_nodes(), 0..16]),
        x.slice([0..b1.num_dst_nodes(), 0..16]),
        b1,
    );
    let out = l2.forward_bipartite(h.clone(), h.slice([0..b2.num_dst_nodes(), 0..8]), b2);
    assert_eq!(out.dims(), [50, 4]);
    let (a, b) = (
        square.into_data().try_to_vec::<f32>().unwrap(),
        out.into_data().try_to_vec::<f32>().unwrap(),
    );
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
}

#[test]
fn registered_models_on_blocks_equal_their_forward_on_the_subgraph() {
    // The sampled training forward (blocks) against the full-subgraph forward: SAGE with the
    // last layer alone and with jumping knowledge over both layers, GAT (attention over each
    // block with its targets' self-loops); dense and sparse inputs.
    let d = Device::flex();
    let (ds, s, g, blocks) = sampled("er-1500-10-12", "5,3", (0..40).map(|i| i * 29), 2, &d);
    // Every third feature zeroed, so the sparse form has a prefix to cut.
    let rows: Vec<f32> = s
        .nodes
        .iter()
        .flat_map(|&v| ds.features.row(v as usize).to_vec())
        .enumerate()
        .map(|(i, x)| if i % 3 == 0 { 0.0 } else { x })
        .collect();
    let registry = Registry::builtin();
    let variants = [
        ("sage", Some("last")),
        ("sage", Some("cat")),
        ("sage", Some("max")),
        ("gat", None),
    ];
    for (name, jk) in variants {
        let entry = registry.get(name).unwrap();
        let mut options = entry.protocol("").0;
        if let Some(jk) = jk {
            options["jk"] = jk.into();
        }
        options["hidden"] = 8.into();
        let config = entry.config(&options, &node_info(&ds)).unwrap();
        d.seed(4);
        let model = entry.init(&config, &d).unwrap().valid();
        for x in [
            Features::dense(&rows, s.num_nodes(), 12, &d),
            Features::sparse(&rows, s.num_nodes(), 12, &d),
        ] {
            let square = model.forward(x.clone(), &g).unwrap();
            let [_, c] = square.dims();
            let square = square.slice([0..40, 0..c]);
            let blocked = model.forward_blocks(x, &blocks).unwrap().unwrap();
            assert_eq!(blocked.dims(), [40, c]);
            let (a, b) = (
                square.into_data().try_to_vec::<f32>().unwrap(),
                blocked.into_data().try_to_vec::<f32>().unwrap(),
            );
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5, "{name} {jk:?}: {x} vs {y}");
            }
        }
    }
    // A model without a bipartite form declines, and the loop falls back to the subgraph.
    let gcn = registry.get("gcn").unwrap();
    let config = gcn.config(&gcn.protocol("").0, &node_info(&ds)).unwrap();
    let model = gcn.init(&config, &d).unwrap();
    let x = Features::dense(&rows, s.num_nodes(), 12, &d);
    assert!(model.forward_blocks(x, &blocks).is_none());
}
