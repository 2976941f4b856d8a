//! `peers.svg`: per 1×1 layer, our fastest kernel on 1 thread against each GEMM library, as
//! bars of GFLOP/s (medians) beside the FMA peak.

use std::path::Path;

use plotters::prelude::*;

use super::roofline::{COLORS, LEGEND_WIDTH, Swatch, bar_label, legend};
use super::rows::Report;
use crate::error::{NinError, Result};
use crate::measure::Runner;
use crate::problem::Problem;

/// Draws the bars of `report.conv1x1` at 1 thread into `path` (nothing when it has no layer).
pub(super) fn draw(report: &Report, path: &Path) -> Result<()> {
    let mut shapes: Vec<Problem> = Vec::new();
    for p in report.conv1x1.iter().filter(|r| r.run.threads == 1).filter_map(|r| r.run.problem) {
        if !shapes.contains(&p) {
            shapes.push(p);
        }
    }
    if shapes.is_empty() {
        return Ok(());
    }
    let err = |e: String| NinError::File { path: path.display().to_string(), reason: format!("cannot draw: {e}") };
    let mut peers: Vec<&Runner> = Vec::new();
    for r in report.conv1x1.iter().filter(|r| matches!(r.run.kernel, Runner::Peer(_))) {
        if !peers.contains(&&r.run.kernel) {
            peers.push(&r.run.kernel);
        }
    }
    // Per layer: our fastest, then each peer (None where it did not run).
    let bars: Vec<Vec<Option<f64>>> = shapes
        .iter()
        .map(|&shape| {
            let at = |runner: Option<&Runner>| {
                report
                    .conv1x1
                    .iter()
                    .filter(|r| r.run.problem == Some(shape) && r.run.threads == 1)
                    .filter(|r| runner.map_or(r.run.kernel.kernel().is_some(), |q| &r.run.kernel == q))
                    .map(|r| r.run.gflops)
                    .reduce(f64::max)
            };
            std::iter::once(at(None)).chain(peers.iter().map(|&q| at(Some(q)))).collect()
        })
        .collect();
    let peak = report.machine.fma_peak_gflops;
    let x_hi = bars.iter().flatten().flatten().copied().fold(peak, f64::max) * 1.08;
    let per_bar = 1.0 / (bars[0].len() as f64 + 1.0);

    // The first layer at the top: bar i of the chart is layer len - 1 - i.
    let top_down: Vec<String> = shapes.iter().rev().map(|s| s.to_string()).collect();
    let height = 110 + 18 * bars.iter().map(Vec::len).sum::<usize>() as u32 + 8 * shapes.len() as u32;
    let root = SVGBackend::new(path, (900 + LEGEND_WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (plot, strip) = root.split_horizontally(900);
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("Our fastest kernel against the GEMM libraries, 1 thread: {}", report.machine.id),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(190)
        .build_cartesian_2d(0f64..x_hi, 0f64..shapes.len() as f64)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(shapes.len() * 2 + 1)
        .y_label_formatter(&|y| bar_label(&top_down, *y))
        .x_desc("GFLOP/s, each its own median (the summary's ratios are timed in turn)")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let names: Vec<String> =
        std::iter::once("fastest of ours".to_string()).chain(peers.iter().map(|q| q.to_string())).collect();
    let mut entries = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let color = COLORS[j % COLORS.len()];
        let rects = bars.iter().enumerate().filter_map(|(i, layer)| {
            let gflops = layer[j]?;
            // The first layer at the top; within a layer, ours on top.
            let top = (shapes.len() - i) as f64 - per_bar * (j as f64 + 0.5);
            Some(Rectangle::new([(0.0, top - per_bar), (gflops, top)], color.filled()))
        });
        chart.draw_series(rects).map_err(|e| err(e.to_string()))?;
        entries.push((name.clone(), Swatch::Bar(color)));
    }
    let line = vec![(peak, 0.0), (peak, shapes.len() as f64)];
    chart.draw_series(LineSeries::new(line, BLACK.stroke_width(1))).map_err(|e| err(e.to_string()))?;
    entries.push((format!("FMA peak, 1 thread ({peak:.0})"), Swatch::Line(BLACK)));
    legend(&strip, &entries).map_err(err)?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
