//! `network_time.svg`: where each model's forward pass spends its time, one stacked bar per
//! model × batch × threads, a segment per kind of work (1×1 conv, spatial conv, pooling, FC,
//! GAP, other), as shares of the pass.

use std::path::Path;

use plotters::prelude::*;

use super::roofline::{COLORS, bar_label};
use super::rows::Report;
use crate::error::{NinError, Result};
use crate::forward::Category;

/// Draws the stacked bars of `report.whole_network` into `path` (nothing when it is empty).
pub(super) fn draw(report: &Report, path: &Path) -> Result<()> {
    let runs = &report.whole_network;
    if runs.is_empty() {
        return Ok(());
    }
    let err = |e: String| NinError::File { path: path.display().to_string(), reason: format!("cannot draw: {e}") };
    let labels: Vec<String> = runs.iter().map(|r| format!("{} b{} {}t", r.model, r.batch, r.threads)).collect();
    let height = 120 + 34 * runs.len() as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Where a forward pass spends its time: {} ({})", report.machine.id, report.machine.date_utc),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(170)
        .build_cartesian_2d(0f64..100f64, 0f64..runs.len() as f64)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(runs.len() * 2 + 1)
        .y_label_formatter(&|y| bar_label(&labels, *y))
        .x_desc("share of the pass's time (%)")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (c, category) in Category::ALL.iter().enumerate() {
        let color = COLORS[c % COLORS.len()];
        let mut bars = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            let before: f64 =
                r.timing.categories.iter().take_while(|t| t.category != *category).map(|t| t.share).sum::<f64>();
            if let Some(t) = r.timing.categories.iter().find(|t| t.category == *category) {
                let y = i as f64;
                bars.push(Rectangle::new(
                    [(100.0 * before, y + 0.15), (100.0 * (before + t.share), y + 0.85)],
                    color.filled(),
                ));
            }
        }
        chart
            .draw_series(bars)
            .map_err(|e| err(e.to_string()))?
            .label(category.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
