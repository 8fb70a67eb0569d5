//! The message trace on disk: an edge table and a node table (Apache Parquet, or CSV on
//! request) and a JSON header, written atomically.
//!
//! - `OUT` (edges): one row per (step, kept edge): `step, position, edge, source, target,
//!   relation, norm, weight, share, won, attention_0 … attention_{H−1}`;
//! - `OUT` with `.nodes` before the extension (nodes): one row per (step, node): `step, node,
//!   in_degree, aggregate_norm, update_change, update_gate`;
//! - `OUT` with the extension `.json` (header): what was traced (the model card, dataset,
//!   backend), each step's operation and sampling, and the columns' definitions. The Parquet
//!   files carry the same JSON under the key `gnn.trace` of their metadata.
//!
//! Node and edge ids are the dataset's, in input order; a missing value (an edge's input id
//! for a self-loop a layer added, a column a step does not have) is null in Parquet and empty
//! in CSV.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float32Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use gnn_models::trace::{Step, Trace};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

use crate::TrainError;
use crate::output::write_atomic;

/// The file format of the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// Apache Parquet, snappy-compressed (pandas, polars, DuckDB, Arrow read it).
    Parquet,
    /// Comma-separated values with a header line.
    Csv,
}

/// The three files of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFiles {
    /// The edge table (the path given).
    pub edges: PathBuf,
    /// The node table.
    pub nodes: PathBuf,
    /// The JSON header.
    pub header: PathBuf,
}

impl TraceFiles {
    /// The files for `out`: `trace.parquet` → `trace.parquet`, `trace.nodes.parquet`,
    /// `trace.json`.
    pub fn for_output(out: &Path) -> TraceFiles {
        let stem = out.file_stem().unwrap_or_default().to_string_lossy();
        let ext = out.extension().map(|e| e.to_string_lossy().into_owned());
        let sibling = |name: String| out.with_file_name(name);
        TraceFiles {
            edges: out.to_path_buf(),
            nodes: sibling(match &ext {
                Some(e) => format!("{stem}.nodes.{e}"),
                None => format!("{stem}.nodes"),
            }),
            header: sibling(format!("{stem}.json")),
        }
    }
}

/// What each column holds, for the header.
const COLUMNS: &[(&str, &str)] = &[
    (
        "step",
        "aggregation number in the forward pass, 0-based, in call order",
    ),
    (
        "position",
        "the edge's position in the step's graph (a layer's graph may add self-loops)",
    ),
    (
        "edge",
        "the input edge it is, null for an edge a layer added (self-loop)",
    ),
    ("source", "the node the message came from (dataset id)"),
    ("target", "the node the message went to (dataset id)"),
    (
        "relation",
        "the edge's relation type, null where the step's graph is untyped",
    ),
    (
        "norm",
        "L2 norm of the message: c_e·m_e for weighted sums (GCN, GAT), m_e for aggregations",
    ),
    (
        "weight",
        "the coefficient c_e the aggregation gave the message (edge weight, mean attention over heads, 1 for sum, 1/deg for mean); null for max, min and user aggregations",
    ),
    (
        "share",
        "the message's part of its target's aggregate: <c_e m_e, out_i>/|out_i|^2 for sums (adds up to 1 per target), the fraction of channels won for max/min",
    ),
    (
        "won",
        "max/min: whether the message won at least one channel (first edge in input order on ties)",
    ),
    (
        "influence",
        "with --influence NODE: dy/dmu_e, the derivative of NODE's predicted output with respect to a scale mu_e = 1 on the message (edge-mask saliency); null otherwise",
    ),
    (
        "attention_h",
        "attention coefficient of head h, where the step follows an attention softmax",
    ),
    (
        "in_degree",
        "node table: messages kept into the node in this step",
    ),
    (
        "aggregate_norm",
        "node table: L2 norm of the node's aggregate out_i",
    ),
    (
        "update_change",
        "node table: |h'_i - h_i| of the update after the step (GRU), null otherwise",
    ),
    (
        "update_gate",
        "node table: the GRU's mean update gate z_i, null otherwise",
    ),
];

/// The header: `context` (model card, dataset, backend) with the trace's steps and sampling
/// and the columns' definitions.
pub fn header(trace: &Trace, context: Value) -> Value {
    let steps: Vec<Value> = trace
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "step": i,
                "op": s.op,
                "aggregation": s.aggregation,
                "targets": s.num_nodes,
                "edges": s.num_edges,
                "kept_edges": s.len(),
                "kept_fraction": s.kept_fraction,
                "heads": s.heads,
                "relations": s.relation.is_some(),
                "update": s.update_change.is_some(),
            })
        })
        .collect();
    let sampled = trace.steps.iter().any(|s| s.kept_fraction < 1.0);
    json!({
        "format": "gnn-trace/1",
        "context": context,
        "nodes": trace.num_nodes,
        "edges": trace.num_edges,
        "budget_bytes": trace.budget_bytes,
        "sampling": if sampled {
            "over the budget: steps with kept_fraction < 1 keep all messages of a seeded random subset of their targets"
        } else {
            "none: every message of every step is recorded"
        },
        "steps": steps,
        "columns": COLUMNS.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    })
}

/// Writes the trace's three files (each atomically) and returns their paths.
pub fn write_trace(
    trace: &Trace,
    header: &Value,
    out: &Path,
    format: TraceFormat,
) -> Result<TraceFiles, TrainError> {
    let files = TraceFiles::for_output(out);
    let head = serde_json::to_string_pretty(header).map_err(|e| TrainError::Output {
        path: files.header.clone(),
        reason: e.to_string(),
    })?;
    let heads = trace.steps.iter().map(|s| s.heads).max().unwrap_or(0);
    let edge_batches = trace
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| edge_batch(i, s, heads));
    let node_batches = trace
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| node_batch(i, s));
    match format {
        TraceFormat::Parquet => {
            write_atomic(
                &files.edges,
                &parquet(&files.edges, edge_schema(heads), edge_batches, &head)?,
            )?;
            write_atomic(
                &files.nodes,
                &parquet(&files.nodes, node_schema(), node_batches, &head)?,
            )?;
        }
        TraceFormat::Csv => {
            write_atomic(&files.edges, csv(edge_batches).as_bytes())?;
            write_atomic(&files.nodes, csv(node_batches).as_bytes())?;
        }
    }
    write_atomic(&files.header, head.as_bytes())?;
    Ok(files)
}

fn edge_schema(heads: usize) -> Arc<Schema> {
    let mut fields = vec![
        Field::new("step", DataType::UInt32, false),
        Field::new("position", DataType::UInt32, false),
        Field::new("edge", DataType::UInt32, true),
        Field::new("source", DataType::UInt32, false),
        Field::new("target", DataType::UInt32, false),
        Field::new("relation", DataType::UInt32, true),
        Field::new("norm", DataType::Float32, false),
        Field::new("weight", DataType::Float32, true),
        Field::new("share", DataType::Float32, true),
        Field::new("won", DataType::Boolean, true),
        Field::new("influence", DataType::Float32, true),
    ];
    fields
        .extend((0..heads).map(|h| Field::new(format!("attention_{h}"), DataType::Float32, true)));
    Arc::new(Schema::new(fields))
}

fn node_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("step", DataType::UInt32, false),
        Field::new("node", DataType::UInt32, false),
        Field::new("in_degree", DataType::UInt32, false),
        Field::new("aggregate_norm", DataType::Float32, false),
        Field::new("update_change", DataType::Float32, true),
        Field::new("update_gate", DataType::Float32, true),
    ]))
}

/// A nullable `f32` column of `len` rows.
fn floats(v: Option<&[f32]>, len: usize) -> ArrayRef {
    Arc::new(match v {
        Some(v) => Float32Array::from(v.to_vec()),
        None => Float32Array::from(vec![None; len]),
    })
}

fn edge_batch(i: usize, s: &Step, heads: usize) -> RecordBatch {
    let n = s.len();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(vec![i as u32; n])),
        Arc::new(UInt32Array::from(s.position.clone())),
        Arc::new(UInt32Array::from(s.edge.clone())),
        Arc::new(UInt32Array::from(s.src.clone())),
        Arc::new(UInt32Array::from(s.dst.clone())),
        Arc::new(match &s.relation {
            Some(r) => UInt32Array::from(r.clone()),
            None => UInt32Array::from(vec![None; n]),
        }),
        floats(Some(&s.norm), n),
        floats(s.weight.as_deref(), n),
        floats(s.share.as_deref(), n),
        Arc::new(match &s.won {
            Some(w) => BooleanArray::from(w.clone()),
            None => BooleanArray::from(vec![None; n]),
        }),
        floats(s.influence.as_deref(), n),
    ];
    for h in 0..heads {
        let column: Option<Vec<f32>> = s
            .attention
            .as_ref()
            .filter(|_| h < s.heads)
            .map(|a| (0..n).map(|k| a[k * s.heads + h]).collect());
        columns.push(floats(column.as_deref(), n));
    }
    RecordBatch::try_new(edge_schema(heads), columns).expect("columns match the edge schema")
}

fn node_batch(i: usize, s: &Step) -> RecordBatch {
    let n = s.num_nodes;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(vec![i as u32; n])),
        Arc::new(UInt32Array::from((0..n as u32).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(s.in_degree.clone())),
        floats(Some(&s.aggregate_norm), n),
        floats(s.update_change.as_deref(), n),
        floats(s.update_gate.as_deref(), n),
    ];
    RecordBatch::try_new(node_schema(), columns).expect("columns match the node schema")
}

/// The batches as one Parquet file in memory, the header under `gnn.trace`.
fn parquet(
    path: &Path,
    schema: Arc<Schema>,
    batches: impl Iterator<Item = RecordBatch>,
    header: &str,
) -> Result<Vec<u8>, TrainError> {
    let fail = |e: parquet::errors::ParquetError| TrainError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "gnn.trace".to_string(),
            header.to_string(),
        )]))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, Some(props)).map_err(fail)?;
    for batch in batches {
        writer.write(&batch).map_err(fail)?;
    }
    writer.close().map_err(fail)?;
    Ok(bytes)
}

/// The batches as CSV text, nulls empty.
fn csv(batches: impl Iterator<Item = RecordBatch>) -> String {
    let mut out = String::new();
    for (b, batch) in batches.enumerate() {
        if b == 0 {
            let names: Vec<&str> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            out.push_str(&names.join(","));
            out.push('\n');
        }
        for row in 0..batch.num_rows() {
            for (c, column) in batch.columns().iter().enumerate() {
                if c > 0 {
                    out.push(',');
                }
                if column.is_valid(row) {
                    cell(&mut out, column, row);
                }
            }
            out.push('\n');
        }
    }
    out
}

fn cell(out: &mut String, column: &ArrayRef, row: usize) {
    let any = column.as_any();
    if let Some(a) = any.downcast_ref::<UInt32Array>() {
        let _ = write!(out, "{}", a.value(row));
    } else if let Some(a) = any.downcast_ref::<Float32Array>() {
        let _ = write!(out, "{}", a.value(row));
    } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
        out.push_str(if a.value(row) { "true" } else { "false" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Tensor, TensorData};
    use gnn_models::Graph;
    use gnn_models::layers::GcnConvConfig;
    use gnn_models::trace::{TraceOptions, record};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn gcn_trace() -> Trace {
        let d = Device::flex();
        let g = Graph::new(&[0, 1, 1, 2], &[1, 0, 2, 1], 3, &d).unwrap();
        let conv = GcnConvConfig::new(2, 3).init(&d);
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.5, -1.0, 2.0, 0.0, 1.0], [3, 2]),
            &d,
        );
        record(&g, TraceOptions::default(), || conv.forward(x, &g)).1
    }

    #[test]
    fn parquet_tables_hold_every_row_and_the_header() {
        let trace = gcn_trace();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.parquet");
        let head = header(&trace, json!({"model": "gcn"}));
        let files = write_trace(&trace, &head, &out, TraceFormat::Parquet).unwrap();
        assert_eq!(files.nodes, dir.path().join("t.nodes.parquet"));
        let file = std::fs::File::open(&files.edges).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let meta = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap()
            .clone();
        assert!(meta.iter().any(
            |kv| kv.key == "gnn.trace" && kv.value.as_deref().unwrap().contains("gnn-trace/1")
        ));
        let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 7, "4 edges and 3 self-loops");
        let edge = batches[0].column_by_name("edge").unwrap();
        assert_eq!((edge.null_count(), edge.len()), (3, 7));
        let weight = batches[0]
            .column_by_name("weight")
            .unwrap()
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap();
        assert_eq!(weight.value(0), trace.steps[0].weight.as_ref().unwrap()[0]);
        let head: Value = serde_json::from_slice(&std::fs::read(&files.header).unwrap()).unwrap();
        assert_eq!(head["steps"][0]["op"], "propagate_weighted");
    }

    #[test]
    fn csv_has_a_header_and_empty_nulls() {
        let trace = gcn_trace();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.csv");
        let files =
            write_trace(&trace, &header(&trace, Value::Null), &out, TraceFormat::Csv).unwrap();
        let text = std::fs::read_to_string(&files.edges).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "step,position,edge,source,target,relation,norm,weight,share,won,influence"
        );
        assert_eq!(lines.len(), 8);
        assert!(lines[1].starts_with("0,0,0,0,1,,"), "{}", lines[1]);
        assert!(
            lines[5].starts_with("0,4,,0,0,,"),
            "a self-loop has no input id: {}",
            lines[5]
        );
        let nodes = std::fs::read_to_string(&files.nodes).unwrap();
        assert_eq!(nodes.lines().count(), 4);
    }
}
