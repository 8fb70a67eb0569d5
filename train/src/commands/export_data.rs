//! What `gnn export-data` does: a dataset as the models see it, for other libraries.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use gnn_datasets::{FeatureScaler, GraphDataset, GraphSplit, GraphTarget, NodeDataset};
use gnn_models::interop::{HostTensor, StateDict, encode_safetensors};

use crate::{TrainError, output};

/// Writes a graph dataset as the graphs are fed to the models, for other libraries to read
/// (`bench/pyg_qm9.py`): one safetensors file of disjoint-union arrays, all `F32` (integers are
/// exact: every count is checked to be below 2^24):
///
/// - `x [N, F]`, `edge_index [2, E]` (graph-local node ids), `edge_attr [E, D]` (absent
///   without edge features), `y [G, T]` (regression targets in their units, or the class)
/// - `node_ptr [G + 1]`, `edge_ptr [G + 1]`: graph `g` owns nodes `node_ptr[g]..node_ptr[g+1]`
///   and edges `edge_ptr[g]..edge_ptr[g+1]`
/// - `train_idx`, `val_idx`, `test_idx`: the graphs of `split`
///
/// With `standardize`, the continuous node attributes are standardised with the statistics of
/// the training graphs of `split`, as training does ([`FeatureScaler`]).
///
/// Metadata: `gnn.dataset` (name), `gnn.split` (how the split was made), `gnn.features`
/// (`as stored`, or the standardisation applied).
pub fn export_graph_dataset(
    dataset: &GraphDataset,
    split: &GraphSplit,
    split_note: &str,
    standardize: bool,
    out: &Path,
) -> Result<(), TrainError> {
    let (dataset, features) = if standardize && dataset.continuous_node_features > 0 {
        let mut scaled = dataset.clone();
        FeatureScaler::fit(&scaled, &split.train).apply(&mut scaled);
        let note = format!(
            "first {} columns standardised with the training graphs' mean and std",
            dataset.continuous_node_features
        );
        (Cow::Owned(scaled), note)
    } else {
        (Cow::Borrowed(dataset), "as stored".to_string())
    };
    const EXACT: usize = 1 << 24;
    let nodes: usize = dataset.graphs.iter().map(|g| g.num_nodes).sum();
    let edges: usize = dataset.graphs.iter().map(|g| g.src.len()).sum();
    if nodes >= EXACT || edges >= EXACT {
        return Err(TrainError::Output {
            path: out.to_path_buf(),
            reason: format!("{nodes} nodes / {edges} edges: too many to store exactly as F32"),
        });
    }
    let f = dataset.num_node_features;
    let d = dataset.num_edge_features;
    let t = match dataset.graphs.first().map(|g| &g.y) {
        Some(GraphTarget::Values(v)) => v.len(),
        _ => 1,
    };
    let (mut x, mut src, mut dst, mut attr, mut y) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut node_ptr, mut edge_ptr) = (vec![0f32], vec![0f32]);
    for g in &dataset.graphs {
        x.extend_from_slice(g.x.data());
        src.extend(g.src.iter().map(|&v| v as f32));
        dst.extend(g.dst.iter().map(|&v| v as f32));
        if let Some(e) = &g.edge_attr {
            attr.extend_from_slice(e.data());
        }
        match &g.y {
            GraphTarget::Values(v) if v.len() == t => y.extend_from_slice(v),
            GraphTarget::Values(_) => {
                return Err(TrainError::Config(format!(
                    "{}: graphs have different numbers of targets",
                    dataset.name
                )));
            }
            GraphTarget::Class(k) => y.push(*k as f32),
        }
        node_ptr.push(node_ptr[node_ptr.len() - 1] + g.num_nodes as f32);
        edge_ptr.push(edge_ptr[edge_ptr.len() - 1] + g.src.len() as f32);
    }
    let g = dataset.len();
    let tensor = |shape: Vec<usize>, values: Vec<f32>| HostTensor { shape, values };
    let ids = |v: &[usize]| tensor(vec![v.len()], v.iter().map(|&i| i as f32).collect());
    let mut dict = StateDict::new();
    dict.insert("x".into(), tensor(vec![nodes, f], x));
    src.extend(dst);
    dict.insert("edge_index".into(), tensor(vec![2, edges], src));
    if d > 0 {
        dict.insert("edge_attr".into(), tensor(vec![edges, d], attr));
    }
    dict.insert("y".into(), tensor(vec![g, t], y));
    dict.insert("node_ptr".into(), tensor(vec![g + 1], node_ptr));
    dict.insert("edge_ptr".into(), tensor(vec![g + 1], edge_ptr));
    dict.insert("train_idx".into(), ids(&split.train));
    dict.insert("val_idx".into(), ids(&split.val));
    dict.insert("test_idx".into(), ids(&split.test));
    let meta = HashMap::from([
        ("gnn.dataset".to_string(), dataset.name.clone()),
        ("gnn.split".to_string(), split_note.to_string()),
        ("gnn.features".to_string(), features),
    ]);
    let bytes = encode_safetensors(&dict, meta).map_err(|reason| TrainError::Output {
        path: out.to_path_buf(),
        reason,
    })?;
    output::write_atomic(out, &bytes)
}

/// Writes a node dataset as given (prepare it first: [`prepare`](crate::experiment::prepare)),
/// for other libraries to read (`bench/pyg_bench.py`, `bench/pyg_accuracy.py`): one
/// safetensors file, all `F32` (indices are exact: counts are checked to be below 2^24):
///
/// - `x [N, F]` (absent for a featureless dataset), `edge_index [2, E]`, `edge_type [E]` (with
///   relation types), `y [N]` (unlabelled nodes: 0)
/// - `train_idx`, `val_idx`, `test_idx`: the nodes of the dataset's split
///
/// Metadata: `gnn.dataset`, `num_nodes`, `num_relations`.
pub fn export_node_dataset(dataset: &NodeDataset, out: &Path) -> Result<(), TrainError> {
    const EXACT: usize = 1 << 24;
    let n = dataset.num_nodes();
    if n >= EXACT || dataset.edges.num_edges() >= EXACT {
        return Err(TrainError::Output {
            path: out.to_path_buf(),
            reason: format!(
                "{n} nodes / {} edges: too many to store exactly as F32",
                dataset.edges.num_edges()
            ),
        });
    }
    let tensor = |shape: Vec<usize>, values: Vec<f32>| HostTensor { shape, values };
    let ids = |v: &[usize]| tensor(vec![v.len()], v.iter().map(|&i| i as f32).collect());
    let mut dict = StateDict::new();
    if dataset.num_features() > 0 {
        let x = dataset.features.data().to_vec();
        dict.insert("x".into(), tensor(vec![n, dataset.num_features()], x));
    }
    let mut edge_index: Vec<f32> = dataset.edges.src().iter().map(|&v| v as f32).collect();
    edge_index.extend(dataset.edges.dst().iter().map(|&v| v as f32));
    let e = dataset.edges.num_edges();
    dict.insert("edge_index".into(), tensor(vec![2, e], edge_index));
    if let Some(r) = &dataset.relations {
        let types = r.edge_type.iter().map(|&v| v as f32).collect();
        dict.insert("edge_type".into(), tensor(vec![r.edge_type.len()], types));
    }
    let y = dataset
        .labels
        .iter()
        .map(|l| l.unwrap_or(0) as f32)
        .collect();
    dict.insert("y".into(), tensor(vec![n], y));
    dict.insert("train_idx".into(), ids(&dataset.split.train));
    dict.insert("val_idx".into(), ids(&dataset.split.val));
    dict.insert("test_idx".into(), ids(&dataset.split.test));
    let relations = dataset.relations.as_ref().map_or(0, |r| r.len());
    let meta = HashMap::from([
        ("gnn.dataset".to_string(), dataset.name.clone()),
        ("num_nodes".to_string(), n.to_string()),
        ("num_relations".to_string(), relations.to_string()),
    ]);
    let bytes = encode_safetensors(&dict, meta).map_err(|reason| TrainError::Output {
        path: out.to_path_buf(),
        reason,
    })?;
    output::write_atomic(out, &bytes)
}
