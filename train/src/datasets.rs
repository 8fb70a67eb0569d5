//! The dataset registry: every dataset `gnn` and `gnn-bench` load by name, in one list of
//! families, and what each offers a model ([`data_info`]).

use gnn_datasets::kg::{self, KnowledgeGraph};
use gnn_datasets::molecule::Hydrogens;
use gnn_datasets::synthetic::{RandomGraphSpec, random_graph};
use gnn_datasets::{DataRoot, GraphDataset, NodeDataset, entities, planetoid, qm9, tu};
use gnn_models::registry::{DataInfo, Task};

use crate::TrainError;
use crate::graph_data::edge_dim;

/// A node-level dataset (one graph), a graph-level one (many graphs) or a knowledge graph.
#[derive(Debug, Clone)]
pub enum AnyDataset {
    /// One graph whose nodes are classified (or whose edges a link model predicts).
    Node(NodeDataset),
    /// Many graphs, each classified or regressed.
    Graph(GraphDataset),
    /// Facts `(head, relation, tail)` to complete (link prediction).
    Knowledge(KnowledgeGraph),
}

impl AnyDataset {
    /// The dataset's name.
    pub fn name(&self) -> &str {
        match self {
            AnyDataset::Node(d) => &d.name,
            AnyDataset::Graph(d) => &d.name,
            AnyDataset::Knowledge(g) => &g.name,
        }
    }

    /// Node-level, graph-level or link-level.
    pub fn task(&self) -> Task {
        match self {
            AnyDataset::Node(_) => Task::Node,
            AnyDataset::Graph(_) => Task::Graph,
            AnyDataset::Knowledge(_) => Task::Link,
        }
    }

    /// What the dataset offers a model of `task`: its own task's [`data_info`], or for a link
    /// model on a node dataset, its edges to split ([`link_info`]).
    pub fn info_for(&self, task: Task) -> DataInfo {
        match (self, task) {
            (AnyDataset::Node(d), Task::Link) => link_info(d),
            _ => data_info(self),
        }
    }
}

/// Choices a dataset family may take (QM9's target and hydrogens); ignored by the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Regression target, PyG's QM9 order (0: dipole moment).
    pub target: usize,
    /// Hydrogens as nodes, or folded into their heavy atom's count.
    pub hydrogens: Hydrogens,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            target: 0,
            hydrogens: Hydrogens::Implicit,
        }
    }
}

/// A family of datasets loaded by name.
pub struct DatasetFamily {
    /// How its names are written, for listings and errors (`cora, citeseer, pubmed`).
    pub names: &'static str,
    /// What the family is.
    pub about: &'static str,
    /// Whether `name` (lower case) is one of the family's.
    pub matches: fn(&str) -> bool,
    /// Loads dataset `name` (lower case).
    pub load: fn(&str, &DataRoot, &LoadOptions) -> Result<AnyDataset, TrainError>,
}

/// Every dataset family, in the order they are tried.
pub const FAMILIES: &[DatasetFamily] = &[
    DatasetFamily {
        names: "cora, citeseer, pubmed",
        about: "Planetoid citation graphs, public split (node classification)",
        matches: |n| planetoid::NAMES.contains(&n),
        load: |n, root, _| Ok(AnyDataset::Node(planetoid::load(n, root)?)),
    },
    DatasetFamily {
        names: "aifb, mutag, bgs, am",
        about: "R-GCN entity classification on RDF graphs (multi-relational, featureless)",
        matches: |n| entities::NAMES.contains(&n),
        load: |n, root, _| Ok(AnyDataset::Node(entities::load(n, root)?)),
    },
    DatasetFamily {
        names: "tu-<name>",
        about: "TU Dortmund graph classification (tu-mutag, tu-proteins, ...)",
        matches: |n| n.starts_with("tu-"),
        load: |n, root, _| Ok(AnyDataset::Graph(tu::load(n, root)?)),
    },
    DatasetFamily {
        names: "qm9, qm9-sdf",
        about: "QM9 molecular property regression (--target, --explicit-h)",
        matches: |n| qm9::NAMES.contains(&n),
        load: |n, root, opts| {
            let mut ds = qm9::load(n, root, opts.hydrogens)?;
            ds.select_target(opts.target)?;
            Ok(AnyDataset::Graph(ds))
        },
    },
    DatasetFamily {
        names: "fb15k-237, kinship, nations, umls",
        about: "knowledge graphs, filtered link prediction (rgcn-distmult)",
        matches: |n| kg::NAMES.contains(&n),
        load: |n, root, _| Ok(AnyDataset::Knowledge(kg::load(n, root)?)),
    },
    DatasetFamily {
        names: "ogbn-arxiv, ogbn-products",
        about: "Open Graph Benchmark node classification, from OGB's zip under <root>/ogb/",
        matches: |n| gnn_datasets::ogb::DATASETS.iter().any(|d| d.name == n),
        load: |n, root, _| Ok(AnyDataset::Node(gnn_datasets::ogb::load(n, root)?)),
    },
    DatasetFamily {
        names: "er-<nodes>-<degree>[-<features>], ba-..., sbm-...",
        about: "synthetic Erdős–Rényi, preferential-attachment or stochastic-block-model graphs \
                with learnable labels",
        matches: |n| RandomGraphSpec::parse(n).is_some(),
        load: |n, _, _| {
            let spec = RandomGraphSpec::parse(n)
                .ok_or_else(|| TrainError::Config(format!("bad synthetic graph name '{n}'")))?;
            Ok(AnyDataset::Node(random_graph(&spec)?))
        },
    },
];

/// Loads dataset `name` from the family it belongs to; an unknown name is an error listing
/// the families.
pub fn load(name: &str, root: &DataRoot, options: &LoadOptions) -> Result<AnyDataset, TrainError> {
    let lower = name.to_ascii_lowercase();
    match FAMILIES.iter().find(|f| (f.matches)(&lower)) {
        Some(family) => (family.load)(&lower, root, options),
        None => {
            let names: Vec<&str> = FAMILIES.iter().map(|f| f.names).collect();
            Err(TrainError::Config(format!(
                "unknown dataset '{name}' ({})",
                names.join(", ")
            )))
        }
    }
}

/// What a node dataset offers a model: its features (or, featureless, one input per node),
/// classes and relation types.
pub fn node_info(ds: &NodeDataset) -> DataInfo {
    let featureless = ds.num_features() == 0;
    DataInfo {
        name: ds.name.clone(),
        task: Task::Node,
        num_features: if featureless {
            ds.num_nodes()
        } else {
            ds.num_features()
        },
        featureless,
        num_outputs: ds.num_classes,
        num_relations: ds.relations.as_ref().map_or(0, |r| r.len()),
        edge_dim: 0,
    }
}

/// What a graph dataset offers a model: node features, classes or targets, and the edge
/// features the batches carry (at least one).
pub fn graph_info(ds: &GraphDataset) -> DataInfo {
    DataInfo {
        name: ds.name.clone(),
        task: Task::Graph,
        num_features: ds.num_node_features,
        featureless: ds.num_node_features == 0,
        num_outputs: ds.num_outputs(),
        num_relations: 0,
        edge_dim: edge_dim(ds),
    }
}

/// What a node dataset offers a link model: its features (or one input per node), and no
/// outputs of its own (the model chooses its embedding width); the edges are split untyped.
pub fn link_info(ds: &NodeDataset) -> DataInfo {
    DataInfo {
        task: Task::Link,
        num_outputs: 0,
        num_relations: 0,
        ..node_info(ds)
    }
}

/// What a knowledge graph offers a link model: one input per entity (featureless), and its
/// `R` relations with their inverses, `2R` edge types.
pub fn kg_info(g: &KnowledgeGraph) -> DataInfo {
    DataInfo {
        name: g.name.clone(),
        task: Task::Link,
        num_features: g.num_entities(),
        featureless: true,
        num_outputs: 0,
        num_relations: 2 * g.num_relations(),
        edge_dim: 0,
    }
}

/// [`node_info`], [`graph_info`] or [`kg_info`].
pub fn data_info(dataset: &AnyDataset) -> DataInfo {
    match dataset {
        AnyDataset::Node(d) => node_info(d),
        AnyDataset::Graph(d) => graph_info(d),
        AnyDataset::Knowledge(g) => kg_info(g),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_find_their_family_and_unknown_names_list_them() {
        let find = |n: &str| FAMILIES.iter().position(|f| (f.matches)(n));
        assert_eq!(find("cora"), Some(0));
        assert_eq!(find("aifb"), Some(1));
        assert_eq!(find("tu-proteins"), Some(2));
        assert_eq!(find("qm9-sdf"), Some(3));
        assert_eq!(find("fb15k-237"), Some(4));
        assert_eq!(find("ogbn-arxiv"), Some(5));
        assert_eq!(find("er-1000-10"), Some(6));
        assert_eq!(find("sbm-1e6-10-128"), Some(6));
        assert_eq!(find("imdb"), None);
        let root = DataRoot::new("/nonexistent").with_download(false);
        let e = load("imdb", &root, &LoadOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown dataset 'imdb' (cora, citeseer")
        );
        let ds = load("er-200-4", &root, &LoadOptions::default()).unwrap();
        let info = data_info(&ds);
        assert_eq!((info.task, info.num_outputs > 1), (Task::Node, true));
    }
}
