//! SVG charts of a bench run, drawn with `plotters`: grouped bars (one group per model ×
//! dataset, one bar per implementation, log-scale time) and log-log scaling lines.

use plotters::prelude::*;

use crate::table::Row;

/// Colours of the implementations, in order of first appearance.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Grouped bars of the median training step (ms, log scale): a group per model × dataset, a
/// bar per implementation (each backend of ours, and PyG), with a legend.
pub fn bars(rows: &[Row], title: &str) -> Result<String, String> {
    let mut groups: Vec<String> = vec![];
    let mut impls: Vec<String> = vec![];
    for r in rows {
        let g = format!("{} / {}", r.model, r.dataset);
        if !groups.contains(&g) {
            groups.push(g);
        }
        if !impls.contains(&r.label()) {
            impls.push(r.label());
        }
    }
    let values: Vec<f64> = rows.iter().map(|r| r.train_ms_median).collect();
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(1e-3)
        / 2.0;
    let hi = values.iter().copied().fold(0.0, f64::max).max(lo * 4.0) * 2.0;
    let mut svg = String::new();
    {
        let width = (160 * groups.len().max(2)) as u32 + 120;
        let root = SVGBackend::with_string(&mut svg, (width, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..groups.len() as f64, (lo..hi).log_scale())
            .map_err(err)?;
        let names = groups.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(groups.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 1e-6 {
                    names.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("training step, ms (log scale)")
            .draw()
            .map_err(err)?;
        let bar = 0.8 / impls.len().max(1) as f64;
        for (k, imp) in impls.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let rects: Vec<Rectangle<(f64, f64)>> = rows
                .iter()
                .filter(|r| &r.label() == imp)
                .filter_map(|r| {
                    let g = groups
                        .iter()
                        .position(|g| *g == format!("{} / {}", r.model, r.dataset))?;
                    let x0 = g as f64 + 0.1 + k as f64 * bar;
                    Some(Rectangle::new(
                        [(x0, lo), (x0 + bar * 0.9, r.train_ms_median)],
                        colour.filled(),
                    ))
                })
                .collect();
            chart
                .draw_series(rects)
                .map_err(err)?
                .label(imp.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// One measured series of a scaling run: `(edges, value)` points.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points, edges ascending.
    pub points: Vec<(f64, f64)>,
}

/// Two log-log panels against the number of edges: epoch time (left) and peak RSS (right).
pub fn scaling(time: &[Series], memory: &[Series], title: &str) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, ("sans-serif", 18)).map_err(err)?;
        let (left, right) = root.split_horizontally(500);
        for (area, series, name) in [
            (left, time, "training epoch, ms"),
            (right, memory, "peak RSS, MiB"),
        ] {
            let all = series.iter().flat_map(|s| s.points.iter());
            let (x_lo, x_hi, y_lo, y_hi) = all.fold(
                (f64::INFINITY, 0.0f64, f64::INFINITY, 0.0f64),
                |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
            );
            if !x_lo.is_finite() {
                continue;
            }
            let mut chart = ChartBuilder::on(&area)
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(
                    (x_lo / 1.5..x_hi * 1.5).log_scale(),
                    (y_lo.max(1e-3) / 1.5..y_hi * 1.5).log_scale(),
                )
                .map_err(err)?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_desc("edges (log scale)")
                .y_desc(format!("{name} (log scale)"))
                .x_label_formatter(&|x| format!("{x:.0e}"))
                .draw()
                .map_err(err)?;
            for (k, s) in series.iter().enumerate() {
                let colour = PALETTE[k % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().copied(),
                        colour.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(s.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                    .map_err(err)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Least-squares slope of `ln y` against `ln x` (the exponent `b` of `y ≈ a·x^b`); `None`
/// with fewer than two distinct positive points.
pub fn log_log_slope(points: &[(f64, f64)]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.0 > 0.0 && p.1 > 0.0)
        .map(|p| (p.0.ln(), p.1.ln()))
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_power_law() {
        let pts: Vec<(f64, f64)> = [1e4, 1e5, 1e6].iter().map(|&x| (x, 3.0 * x)).collect();
        assert!((log_log_slope(&pts).unwrap() - 1.0).abs() < 1e-9);
        let pts: Vec<(f64, f64)> = [1e2, 1e3].iter().map(|&x: &f64| (x, x.sqrt())).collect();
        assert!((log_log_slope(&pts).unwrap() - 0.5).abs() < 1e-9);
        assert!(log_log_slope(&[(1.0, 1.0)]).is_none());
    }

    #[test]
    fn charts_render() {
        let row = |imp: &str, ms: f64| Row {
            model: "gcn".into(),
            dataset: "cora".into(),
            implementation: imp.into(),
            backend: "flex".into(),
            train_ms_median: ms,
            train_ms_p10: ms,
            train_ms_p90: ms,
            infer_ms_median: ms,
            peak_rss_mb: 10.0,
            train_ratio_vs_pyg: None,
            infer_ratio_vs_pyg: None,
            rss_ratio_vs_pyg: None,
        };
        let svg = bars(&[row("gnn-rs", 4.0), row("pyg", 55.0)], "t").unwrap();
        assert!(svg.contains("<svg") && svg.contains("gnn-rs flex") && svg.contains("gcn / cora"));
        let s = Series {
            label: "flex".into(),
            points: vec![(1e4, 1.0), (1e5, 9.0)],
        };
        let svg = scaling(&[s], &[], "scaling").unwrap();
        assert!(svg.contains("<svg") && svg.contains("flex"));
    }
}
