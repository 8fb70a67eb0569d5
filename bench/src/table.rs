//! Aggregating measurements into rows and printing them as a markdown table with ratios.

use serde::Serialize;

use crate::worker::Measurement;

/// One configuration's summary over all its processes.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub model: String,
    pub dataset: String,
    pub implementation: String,
    pub backend: String,
    /// Median training step over every timed step of every process, ms.
    pub train_ms_median: f64,
    /// 10th and 90th percentile of the training step, ms.
    pub train_ms_p10: f64,
    pub train_ms_p90: f64,
    /// Median inference pass, ms.
    pub infer_ms_median: f64,
    /// Largest peak RSS over the processes, MiB.
    pub peak_rss_mb: f64,
    /// This row's training step / PyG's on the same model and dataset.
    pub train_ratio_vs_pyg: Option<f64>,
    pub infer_ratio_vs_pyg: Option<f64>,
    pub rss_ratio_vs_pyg: Option<f64>,
}

impl Row {
    /// `gnn-rs <backend>` or `PyG 2.8.1 (torch CPU)` (`torch CUDA` on a GPU).
    pub fn label(&self) -> String {
        if self.implementation == "pyg" {
            let device = self.backend.trim_start_matches("torch-").to_uppercase();
            format!("PyG 2.8.1 (torch {device})")
        } else {
            format!("gnn-rs {}", self.backend)
        }
    }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = p * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Groups measurements by (model, dataset, implementation, backend), in first-seen order.
pub fn aggregate(all: &[Measurement]) -> Vec<Row> {
    let mut keys: Vec<(String, String, String, String)> = Vec::new();
    for m in all {
        let k = (
            m.model.clone(),
            m.dataset.clone(),
            m.implementation.clone(),
            m.backend.clone(),
        );
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut rows: Vec<Row> = keys
        .into_iter()
        .map(|(model, dataset, implementation, backend)| {
            let ms: Vec<&Measurement> = all
                .iter()
                .filter(|m| {
                    m.model == model
                        && m.dataset == dataset
                        && m.implementation == implementation
                        && m.backend == backend
                })
                .collect();
            let train: Vec<f64> = ms.iter().flat_map(|m| m.train_ms.iter().copied()).collect();
            let infer: Vec<f64> = ms.iter().flat_map(|m| m.infer_ms.iter().copied()).collect();
            Row {
                train_ms_median: percentile(&train, 0.5),
                train_ms_p10: percentile(&train, 0.1),
                train_ms_p90: percentile(&train, 0.9),
                infer_ms_median: percentile(&infer, 0.5),
                peak_rss_mb: ms.iter().map(|m| m.peak_rss_mb).fold(0.0, f64::max),
                model,
                dataset,
                implementation,
                backend,
                train_ratio_vs_pyg: None,
                infer_ratio_vs_pyg: None,
                rss_ratio_vs_pyg: None,
            }
        })
        .collect();
    let pyg: Vec<Row> = rows
        .iter()
        .filter(|r| r.implementation == "pyg")
        .cloned()
        .collect();
    for r in &mut rows {
        if let Some(p) = pyg
            .iter()
            .find(|p| p.model == r.model && p.dataset == r.dataset)
        {
            r.train_ratio_vs_pyg = Some(r.train_ms_median / p.train_ms_median);
            r.infer_ratio_vs_pyg = Some(r.infer_ms_median / p.infer_ms_median);
            r.rss_ratio_vs_pyg = Some(r.peak_rss_mb / p.peak_rss_mb);
        }
    }
    rows
}

/// The rows as a markdown table.
pub fn markdown(rows: &[Row], threads: usize) -> String {
    let ratio = |r: Option<f64>| r.map_or("–".to_string(), |v| format!("{v:.2}"));
    let mut s = format!(
        "Threads: {threads}. Times are medians; train step = forward + backward + Adam step \
         (graph-level models: one epoch over the training graphs in mini-batches; inference: every graph).\n\n\
         | model | dataset | implementation | train step ms (p10–p90) | inference ms | peak RSS MiB | train / PyG | inference / PyG | RSS / PyG |\n\
         |---|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let imp = r.label();
        s.push_str(&format!(
            "| {} | {} | {} | {:.2} ({:.2}–{:.2}) | {:.2} | {:.0} | {} | {} | {} |\n",
            r.model,
            r.dataset,
            imp,
            r.train_ms_median,
            r.train_ms_p10,
            r.train_ms_p90,
            r.infer_ms_median,
            r.peak_rss_mb,
            ratio(r.train_ratio_vs_pyg),
            ratio(r.infer_ratio_vs_pyg),
            ratio(r.rss_ratio_vs_pyg)
        ));
    }
    s
}
