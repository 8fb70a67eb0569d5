//! Pictures of a message trace (`gnn trace --draw`), drawn with `plotters`: a node's
//! receptive field unrolled over the steps with edges drawn by flow, the per-step health
//! chart, and a self-contained HTML page holding both for each node asked about.

use std::collections::HashMap;
use std::fmt::Write as _;

use gnn_models::trace::{LayerHealth, Trace};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// A node's receptive field unrolled over the steps: column 0 is the node, column `c` the
/// senders of step `L − c` whose messages reach it, each with its flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Per column, the nodes kept and their flow (`Σ` over chains through them of the product
    /// of shares), heaviest first.
    pub columns: Vec<Vec<(u32, f64)>>,
    /// Messages drawn: `(column of the sender, sender, receiver, flow carried)`.
    pub edges: Vec<(usize, u32, u32, f64)>,
    /// Per column, how many nodes carried flow before the `per_column` heaviest were kept.
    pub totals: Vec<usize>,
}

/// The flow into `node`, walking back from the last step: a message `j → v` of step `s`
/// carries `flow(v) · share` to `j`; each column keeps its `per_column` heaviest senders (by
/// `|flow|`), and only their messages flow on. Steps without shares give each message 1.
pub fn field(trace: &Trace, node: u32, per_column: usize) -> Field {
    let mut columns = vec![vec![(node, 1.0)]];
    let (mut edges, mut totals) = (Vec::new(), vec![1]);
    for step in trace.steps.iter().rev() {
        let receivers: HashMap<u32, f64> = columns.last().unwrap().iter().copied().collect();
        let mut flow: HashMap<u32, f64> = HashMap::new();
        let mut carried = Vec::new();
        for k in 0..step.len() {
            if let Some(&f) = receivers.get(&step.dst[k]) {
                let share = step.share.as_ref().map_or(1.0, |s| s[k] as f64);
                *flow.entry(step.src[k]).or_default() += f * share;
                carried.push((step.src[k], step.dst[k], f * share));
            }
        }
        let mut senders: Vec<(u32, f64)> = flow.into_iter().collect();
        senders.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        totals.push(senders.len());
        senders.truncate(per_column);
        let kept: HashMap<u32, ()> = senders.iter().map(|&(v, _)| (v, ())).collect();
        let c = columns.len();
        edges.extend(
            carried
                .into_iter()
                .filter(|(j, _, _)| kept.contains_key(j))
                .map(|(j, i, f)| (c, j, i, f)),
        );
        columns.push(senders);
    }
    Field {
        columns,
        edges,
        totals,
    }
}

fn fail<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The field as an SVG: columns left (first step's senders) to right (the node), each node a
/// dot labelled with its id, each message a line as wide as the flow it carries.
pub fn render_field(field: &Field, title: &str) -> Result<String, String> {
    let cols = field.columns.len();
    let rows = field.columns.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let (w, h) = (220 * cols as u32 + 80, 34 * rows as u32 + 110);
    let x = |c: usize| (w as i32 - 110) - c as i32 * 220;
    let y = |r: usize, n: usize| 70 + (r as i32) * 34 + ((rows - n) as i32 * 17);
    let mut at: HashMap<(usize, u32), (i32, i32)> = HashMap::new();
    for (c, column) in field.columns.iter().enumerate() {
        for (r, &(v, _)) in column.iter().enumerate() {
            at.insert((c, v), (x(c), y(r, column.len())));
        }
    }
    let max_flow = field.edges.iter().map(|e| e.3.abs()).fold(1e-12, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let font = ("sans-serif", 13).into_font();
        root.draw(&Text::new(
            title.to_string(),
            (12, 12),
            ("sans-serif", 17).into_font(),
        ))
        .map_err(fail)?;
        for (c, total) in field.totals.iter().enumerate().skip(1) {
            let label = match total.saturating_sub(field.columns[c].len()) {
                0 => format!("step {} senders", cols - 1 - c),
                more => format!("step {} senders (+{more} lighter)", cols - 1 - c),
            };
            root.draw(&Text::new(label, (x(c) - 60, 42), font.clone()))
                .map_err(fail)?;
        }
        for &(c, j, i, f) in &field.edges {
            let (Some(&from), Some(&to)) = (at.get(&(c, j)), at.get(&(c - 1, i))) else {
                continue;
            };
            let width = (1.0 + 9.0 * f.abs() / max_flow).round() as u32;
            let color = if f >= 0.0 { BLUE } else { RED };
            root.draw(&PathElement::new(
                vec![from, to],
                color.mix(0.55).stroke_width(width),
            ))
            .map_err(fail)?;
        }
        for ((_, v), &(px, py)) in &at {
            root.draw(&Circle::new((px, py), 5, BLACK.filled()))
                .map_err(fail)?;
            root.draw(&Text::new(v.to_string(), (px + 8, py - 14), font.clone()))
                .map_err(fail)?;
        }
        root.present().map_err(fail)?;
    }
    Ok(svg)
}

/// The per-step health chart: message-norm quartiles (left) and, per step, the attention
/// entropy over uniform and the share of max/min messages that never won (right).
pub fn render_health(health: &[LayerHealth], title: &str) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let root = root.titled(title, ("sans-serif", 18)).map_err(fail)?;
        let (left, right) = root.split_horizontally(500);
        let top = health
            .iter()
            .map(|h| h.norm_quantiles[3] as f64)
            .fold(1e-6, f64::max);
        let mut chart = step_axes(&left, health.len(), top * 1.1, "message norm")?;
        for (q, name, color) in [
            (1, "p25", BLUE.mix(0.5)),
            (2, "median", BLUE.mix(1.0)),
            (3, "p75", BLUE.mix(0.5)),
        ] {
            let points: Vec<(f64, f64)> = health
                .iter()
                .map(|h| (h.step as f64, h.norm_quantiles[q] as f64))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)).point_size(4))
                .map_err(fail)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        draw_legend(&mut chart)?;
        let mut chart = step_axes(&right, health.len(), 1.05, "fraction")?;
        let entropy: Vec<(f64, f64)> = health
            .iter()
            .filter(|h| !h.attention_entropy.is_empty())
            .map(|h| {
                let e = &h.attention_entropy;
                (h.step as f64, e.iter().sum::<f64>() / e.len() as f64)
            })
            .collect();
        let never: Vec<(f64, f64)> = health
            .iter()
            .filter_map(|h| h.never_won.map(|f| (h.step as f64, f)))
            .collect();
        let any = !(entropy.is_empty() && never.is_empty());
        if !any {
            let note = "no attention and no max/min aggregation in these steps";
            right
                .draw(&Text::new(note, (90, 180), ("sans-serif", 14).into_font()))
                .map_err(fail)?;
        }
        for (points, name, color) in [
            (
                entropy,
                "attention entropy ÷ uniform (mean over heads)",
                GREEN,
            ),
            (never, "max/min messages that never won", RED),
        ] {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 6, color.filled())),
                )
                .map_err(fail)?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
        }
        if any {
            draw_legend(&mut chart)?;
        }
        root.present().map_err(fail)?;
    }
    Ok(svg)
}

/// Axes with the steps `0..steps` across and `0..top` up, the mesh drawn.
fn step_axes<'a, DB: DrawingBackend + 'a>(
    area: &'a DrawingArea<DB, plotters::coord::Shift>,
    steps: usize,
    top: f64,
    name: &str,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(-0.5..steps.max(1) as f64 - 0.5, 0.0..top)
        .map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(name)
        .x_labels(steps.clamp(2, 12))
        .x_label_formatter(&step_label)
        .draw()
        .map_err(fail)?;
    Ok(chart)
}

/// The chart's legend, top right on a light box.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(fail)
}

/// A step number at whole ticks, nothing between them.
fn step_label(x: &f64) -> String {
    match (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
        true => format!("{}", x.round() as i64),
        false => String::new(),
    }
}

/// One HTML page, no network needed: the health chart, and a list of nodes whose receptive
/// field is shown when picked.
pub fn render_page(title: &str, health_svg: &str, fields: &[(u32, String)]) -> String {
    let mut page = String::new();
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
    let _ = write!(
        page,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>body{{font-family:sans-serif;margin:1em}} .field{{display:none}} .field.on{{display:block}}</style>\n\
         </head><body>\n<h1>{t}</h1>\n<h2>Steps</h2>\n{health_svg}\n<h2>Receptive field</h2>\n",
        t = esc(title)
    );
    page.push_str("<label>node <select id=\"pick\" onchange=\"show(this.value)\">");
    for (node, _) in fields {
        let _ = write!(page, "<option value=\"{node}\">{node}</option>");
    }
    page.push_str("</select></label>\n");
    for (k, (node, svg)) in fields.iter().enumerate() {
        let on = if k == 0 { " on" } else { "" };
        let _ = write!(
            page,
            "<div class=\"field{on}\" id=\"field-{node}\">\n{svg}\n</div>\n"
        );
    }
    page.push_str(
        "<script>function show(v){for(const d of document.querySelectorAll('.field'))\
         d.classList.toggle('on',d.id==='field-'+v);}</script>\n</body></html>\n",
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use gnn_models::trace::Step;

    /// Two steps on 0 → 1 → 2 (and 3 → 2), each message with share 0.5.
    fn chain() -> Trace {
        let step = Step {
            num_nodes: 4,
            num_edges: 3,
            position: vec![0, 1, 2],
            edge: vec![Some(0), Some(1), Some(2)],
            src: vec![0, 1, 3],
            dst: vec![1, 2, 2],
            norm: vec![1.0; 3],
            share: Some(vec![0.5; 3]),
            in_degree: vec![0, 1, 2, 0],
            aggregate_norm: vec![0.0, 1.0, 1.0, 0.0],
            ..Step::default()
        };
        Trace {
            steps: vec![step.clone(), step],
            num_nodes: 4,
            num_edges: 3,
            budget_bytes: 0,
        }
    }

    #[test]
    fn field_carries_flow_back_column_by_column() {
        let f = field(&chain(), 2, 10);
        assert_eq!(f.columns[0], [(2, 1.0)]);
        assert_eq!(f.columns[1], [(1, 0.5), (3, 0.5)]);
        assert_eq!(f.columns[2], [(0, 0.25)], "3 receives nothing");
        let kept = field(&chain(), 2, 1);
        assert_eq!((kept.columns[1].len(), kept.totals[1]), (1, 2));
    }

    #[test]
    fn pictures_render_and_the_page_holds_them() {
        let t = chain();
        let svg = render_field(&field(&t, 2, 10), "node 2").unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<circle").count(), 4, "nodes 2; 1, 3; 0");
        let health = render_health(&gnn_models::trace::layer_health(&t), "health").unwrap();
        let page = render_page("trace <x>", &health, &[(2, svg)]);
        assert!(page.contains("trace &lt;x>") && page.contains("id=\"field-2\""));
        assert!(
            !page.contains("src=") && !page.contains("<link"),
            "self-contained"
        );
    }
}
