//! A typed heterogeneous graph trained end to end with R-GCN: authors (8 features) and papers
//! (16 features), three relations (writes, cites, coauthors) plus their reverses, classifying
//! papers by topic.
//!
//! `cargo run --release --example hetero_rgcn`

use gnn_datasets::synthetic;
use gnn_models::models::RgcnConfig;
use gnn_train::data::{NodeClassification, SplitKind};
use gnn_train::experiment::train_one;
use gnn_train::fit::FitConfig;
use gnn_train::{Backend, TrainError};

fn main() -> Result<(), TrainError> {
    // Two node types with different feature widths, three (source, relation, target) edge sets.
    let (graph, topics) = synthetic::author_paper(60, 240, 7);
    for t in graph.node_types() {
        let width = t.features.as_ref().map_or(0, |f| f.cols());
        println!(
            "node type {:6}: {} nodes, {} features",
            t.name, t.num_nodes, width
        );
    }
    for e in graph.edge_sets() {
        println!(
            "edges ({}, {}, {}): {}",
            e.src_type,
            e.relation,
            e.dst_type,
            e.src.len()
        );
    }

    // One relation-typed graph: type offsets keep the typed ids, each edge set (and its
    // reverse) is a relation, features sit in per-type column blocks.
    let relational = graph.to_relational(true);
    let paper = relational.type_index("paper").expect("paper type");
    println!(
        "relational: {} nodes, {} edges, {} relations; papers are ids {}..{}",
        relational.edges.num_nodes(),
        relational.edges.num_edges(),
        relational.relations.len(),
        relational.offsets[paper],
        relational.offsets[paper + 1]
    );
    assert_eq!(
        topics.len(),
        relational.offsets[paper + 1] - relational.offsets[paper]
    );

    // The same as a node-classification dataset on the papers (50/25/25 split).
    let dataset = synthetic::author_paper_dataset(60, 240, 7);
    let device = Backend::Flex.device()?;
    let data = NodeClassification::new(&dataset, &device)?;

    // The input projection on block features is a per-node-type projection to 16 features.
    let model = RgcnConfig::new(
        dataset.num_features(),
        dataset.num_classes,
        relational.relations.len(),
    )
    .with_input_projection(Some(16));
    let fit = FitConfig {
        epochs: 100,
        weight_decay: 5e-4,
        ..FitConfig::default()
    };
    // An impossible decomposition is a typed error here, before training starts.
    model
        .layers()
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let init = |d: &_| model.init(d).expect("checked by layers()");
    let run = train_one(&device, 0, &data, &fit, init, |_| {})?;
    println!(
        "paper topic: val accuracy {:.3}, test accuracy {:.3} (best epoch {})",
        run.metric(SplitKind::Val),
        run.metric(SplitKind::Test),
        run.best_epoch
    );
    Ok(())
}
