//! Training curves as an SVG chart (loss and metric per epoch, train and validation), drawn with
//! `plotters`.

use std::path::Path;

use plotters::prelude::*;

use crate::TrainError;
use crate::data::SplitKind;
use crate::fit::EpochRecord;
use crate::output::write_atomic;

/// Draws the loss (left) and metric (right) curves of one run for the train and validation
/// splits, with the best epoch marked, and writes the SVG to `path` atomically.
pub fn write_curves(
    path: &Path,
    title: &str,
    metric_name: &str,
    history: &[EpochRecord],
    best_epoch: usize,
) -> Result<(), TrainError> {
    let svg = render_curves(title, metric_name, history, best_epoch).map_err(|reason| {
        TrainError::Output {
            path: path.to_path_buf(),
            reason,
        }
    })?;
    write_atomic(path, svg.as_bytes())
}

/// Renders the chart of [`write_curves`] to an SVG string.
pub fn render_curves(
    title: &str,
    metric_name: &str,
    history: &[EpochRecord],
    best_epoch: usize,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(title, ("sans-serif", 20))
            .map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(500);
        let series = |split: SplitKind, pick: fn(&crate::fit::Score) -> f64| -> Vec<(f64, f64)> {
            history
                .iter()
                .filter_map(|r| r.scores.get(&split).map(|s| (r.epoch as f64, pick(s))))
                .filter(|(_, v)| v.is_finite())
                .collect()
        };
        let panels = [
            (
                left,
                "loss",
                series(SplitKind::Train, |s| s.loss),
                series(SplitKind::Val, |s| s.loss),
            ),
            (
                right,
                metric_name,
                series(SplitKind::Train, |s| s.metric),
                series(SplitKind::Val, |s| s.metric),
            ),
        ];
        for (area, name, train, val) in panels {
            draw_panel(&area, name, &train, &val, best_epoch).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    name: &str,
    train: &[(f64, f64)],
    val: &[(f64, f64)],
    best_epoch: usize,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let all = train.iter().chain(val);
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..x_max, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(name)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    chart
        .draw_series(LineSeries::new(train.iter().copied(), BLUE.stroke_width(2)))?
        .label(format!("train {name}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(val.iter().copied(), RED.stroke_width(2)))?
        .label(format!("val {name}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
    if best_epoch > 0 {
        let b = best_epoch as f64;
        chart
            .draw_series(LineSeries::new(
                vec![(b, lo - pad), (b, hi + pad)],
                BLACK.mix(0.4),
            ))?
            .label("best epoch")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}
