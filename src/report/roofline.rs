//! `roofline.svg`: arithmetic intensity against GFLOP/s, the measured roofs, one point per
//! kernel × problem × thread count.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::rows::Report;
use crate::error::{NinError, Result};

pub(super) const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Draws the roofline of `report` into `path`.
pub(super) fn draw(report: &Report, path: &Path) -> Result<()> {
    let err = |e: String| NinError::File {
        path: path.display().to_string(),
        reason: format!("cannot draw the roofline: {e}"),
    };
    let m = &report.machine;
    let rows: Vec<_> = report.conv1x1.iter().chain(&report.gap).collect();
    let peak = m.fma_peak_gflops_all_threads.max(m.fma_peak_gflops);
    let (mut x_lo, mut x_hi) = (0.1f64, 100.0f64);
    let mut y_lo = 1.0f64;
    for r in &rows {
        x_lo = x_lo.min(r.arithmetic_intensity / 2.0);
        x_hi = x_hi.max(r.arithmetic_intensity * 2.0);
        y_lo = y_lo.min(r.run.gflops / 2.0).max(1e-3);
    }
    let y_hi = peak * 2.0;

    let root = SVGBackend::new(path, (1000 + LEGEND_WIDTH, 650)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    // The legend gets a strip of its own right of the plot, where it covers no point.
    let (plot, strip) = root.split_horizontally(1000);
    let mut entries = Vec::new();
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("Roofline: {} ({}); filled: 1 thread, ring: {} threads", m.id, m.date_utc, m.threads_all),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("arithmetic intensity (FLOP per byte moved)")
        .y_desc("GFLOP/s (median)")
        .draw()
        .map_err(|e| err(e.to_string()))?;

    let xs: Vec<f64> = (0..=100).map(|i| x_lo * (x_hi / x_lo).powf(i as f64 / 100.0)).collect();
    let mut roofs = vec![
        (format!("FMA peak, 1 thread ({:.0})", m.fma_peak_gflops), m.fma_peak_gflops, f64::INFINITY, BLACK),
        (
            format!("FMA peak, {} threads ({:.0})", m.threads_all, m.fma_peak_gflops_all_threads),
            m.fma_peak_gflops_all_threads,
            f64::INFINITY,
            RGBColor(110, 110, 110),
        ),
    ];
    for b in &m.bandwidth {
        roofs.push((
            format!("{} read, {:.0} GB/s", b.level, b.gbps),
            m.fma_peak_gflops,
            b.gbps,
            RGBColor(120, 120, 120),
        ));
    }
    for (label, compute, bandwidth, color) in roofs {
        let line: Vec<(f64, f64)> = xs.iter().map(|&x| (x, compute.min(bandwidth * x))).collect();
        chart.draw_series(LineSeries::new(line, color.stroke_width(1))).map_err(|e| err(e.to_string()))?;
        entries.push((label, Swatch::Line(color)));
    }

    let mut names: Vec<String> = rows.iter().map(|r| r.run.kernel.to_string()).collect();
    names.dedup();
    let mut unique = Vec::new();
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    for (i, name) in unique.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64, usize)> = rows
            .iter()
            .filter(|r| r.run.kernel.name() == name && r.run.gflops > 0.0)
            .map(|r| (r.arithmetic_intensity, r.run.gflops, r.run.threads))
            .collect();
        chart
            .draw_series(points.iter().map(|&(x, y, threads)| {
                if threads > 1 {
                    Circle::new((x, y), 4, color.stroke_width(2))
                } else {
                    Circle::new((x, y), 4, color.filled())
                }
            }))
            .map_err(|e| err(e.to_string()))?;
        entries.push((name.clone(), Swatch::Dot(color)));
    }
    legend(&strip, &entries).map_err(err)?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// The label of bar `i` on a bar chart's y axis, where bar `i` spans `i..i + 1` and its label
/// sits at its middle: `labels[i]` at `y = i + 0.5`, nothing at the other ticks.
pub(super) fn bar_label(labels: &[String], y: f64) -> String {
    let i = (y - 0.5).round();
    if (y - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Width of the strip right of a plot that holds its legend.
pub(super) const LEGEND_WIDTH: u32 = 230;

/// What a legend entry shows left of its label.
pub(super) enum Swatch {
    /// A line (a roof).
    Line(RGBColor),
    /// A filled dot (a kernel's points).
    Dot(RGBColor),
    /// A filled square (a bar).
    Bar(RGBColor),
}

/// Draws `entries` one per line down `area`, a strip beside the plot, so that the legend
/// covers no data.
pub(super) fn legend(
    area: &DrawingArea<SVGBackend, Shift>,
    entries: &[(String, Swatch)],
) -> std::result::Result<(), String> {
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    for (i, (label, swatch)) in entries.iter().enumerate() {
        let y = 60 + 20 * i as i32;
        match *swatch {
            Swatch::Line(c) => area.draw(&PathElement::new(vec![(5, y), (21, y)], c.stroke_width(2))).map_err(e)?,
            Swatch::Dot(c) => area.draw(&Circle::new((13, y), 4, c.filled())).map_err(e)?,
            Swatch::Bar(c) => area.draw(&Rectangle::new([(7, y - 6), (19, y + 6)], c.filled())).map_err(e)?,
        }
        area.draw(&Text::new(label.clone(), (28, y - 7), ("sans-serif", 12))).map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_labels_sit_at_the_middle_of_their_bar_only() {
        let labels = vec!["a".to_string(), "b".to_string()];
        assert_eq!((bar_label(&labels, 0.5), bar_label(&labels, 1.5)), ("a".into(), "b".into()));
        for y in [0.0, 1.0, 2.0, 2.5, -0.5, 0.75] {
            assert_eq!(bar_label(&labels, y), "", "y = {y}");
        }
    }
}
