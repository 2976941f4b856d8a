//! The one screen `report.md` opens with: per layer our fastest kernel, its share of the FMA
//! peak and its ratio to the best peer, each timed in turn; one line per other workload; the
//! two pictures.

use std::fmt::Write;

use super::rows::{Against, PairedRatio, Report, ReportRow};
use crate::measure::Runner;
use crate::problem::Problem;

/// The range of `values` as `a–b×` (or `a×` when they print alike), with `unit`.
fn range(values: impl Iterator<Item = f64>, scale: f64, unit: &str, decimals: usize) -> Option<String> {
    let v: Vec<f64> = values.map(|x| x * scale).collect();
    let (lo, hi) = (v.iter().copied().reduce(f64::min)?, v.iter().copied().reduce(f64::max)?);
    let (lo, hi) = (format!("{lo:.decimals$}"), format!("{hi:.decimals$}"));
    Some(if lo == hi { format!("{lo}{unit}") } else { format!("{lo}–{hi}{unit}") })
}

/// Our fastest kernel on `shape` at `threads` and, of the peers it was timed against in turn,
/// the one it beat by the least: `(ours, peer, ratio)`.
fn against_best_peer(r: &Report, shape: Problem, threads: usize) -> Option<(&ReportRow, Option<&PairedRatio>)> {
    let ours = r
        .conv1x1
        .iter()
        .filter(|x| x.run.problem == Some(shape) && x.run.threads == threads && x.run.kernel.kernel().is_some())
        .max_by(|a, b| a.run.gflops.total_cmp(&b.run.gflops))?;
    let closest = r
        .paired
        .iter()
        .filter(|c| c.problem == shape && c.threads == threads && ours.run.kernel.kernel() == Some(c.kernel))
        .filter(|c| matches!(c.against, Against::Runner(Runner::Peer(_))))
        .min_by(|a, b| a.speedup.total_cmp(&b.speedup));
    Some((ours, closest))
}

/// The int8 section in one line: the int8 kernel against the f32 kernel and its peak, on 1
/// thread, the accuracy check's top-1 agreement and the whole int8 pass against f32.
fn int8_line(r: &Report) -> Option<String> {
    let first = r.int8.first()?;
    let vs_f32 = range(r.int8.iter().filter_map(|x| x.int8.paired_speedup), 1.0, "×", 2)?;
    let peak = range(r.int8.iter().map(|x| x.int8_peak_share), 100.0, "%", 0)?;
    let accuracy = r.int8_accuracy.as_ref().map_or(String::new(), |a| {
        format!("; {} in int8: top-1 as in f32 on {} of {} images", a.model, a.top1_agree, a.images)
    });
    let pass = r
        .int8_pass
        .as_ref()
        .map_or(String::new(), |t| format!(", its whole pass {:.2}× the f32 pass's speed", t.speedup));
    Some(format!(
        "Int8: `{}` ({}) {vs_f32} `{}`'s speed on the same layers and {peak} of its int8 peak, 1 thread{accuracy}{pass}.",
        first.int8.kernel, first.isa, first.f32.kernel
    ))
}

/// The summary section.
pub(super) fn render(r: &Report) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let w = &mut s;
    let met = r.targets.iter().filter(|t| t.met == Some(true)).count();
    let measured = r.targets.iter().filter(|t| t.met.is_some()).count();
    let _ = writeln!(w, "## Summary\n");
    let _ = writeln!(
        w,
        "{}, {} cores, widest ISA {}: FMA peak {:.1} GFLOP/s on 1 thread, {:.1} on {}. {met} of {measured} \
         targets met (table below). Ratios are timed in turn (a sample of each side per round, the median \
         of the per-round ratios); above 1× ours is faster.\n",
        m.cpu_model,
        m.cores,
        m.isa_peaks.last().map_or("-", |p| p.isa),
        m.fma_peak_gflops,
        m.fma_peak_gflops_all_threads,
        m.threads_all
    );
    let all = m.threads_all;
    w.push_str(&layers(r));
    let mut lines = Vec::new();
    let bandwidth = r.bandwidth_shares.iter().map(|b| b.median);
    if let Some(shares) = range(bandwidth, 100.0, "%", 0) {
        lines.push(format!(
            "GAP: `{}` at {shares} of the read bandwidth of its input, timed in turn with a read pass.",
            r.bandwidth_shares[0].kernel
        ));
    }
    let fused: Vec<&ReportRow> =
        r.mlpconv.iter().filter(|x| x.run.threads == 1 && x.speedup_vs_unfused.is_some()).collect();
    if let Some(speedups) = range(fused.iter().filter_map(|x| x.speedup_vs_unfused), 1.0, "×", 2) {
        lines.push(format!(
            "Fused chains: `{}` {speedups} the unfused chain's speed on NIN's micro-networks and heads, 1 thread.",
            fused[0].run.kernel
        ));
    }
    if let Some(line) = int8_line(r) {
        lines.push(line);
    }
    let tract = |nin: bool| {
        let runs = r.whole_network.iter().filter(move |x| x.model.starts_with("nin-") == nin);
        range(runs.filter_map(|x| x.peer.as_ref().map(|p| p.ours_speedup)), 1.0, "×", 2)
    };
    if let Some(nin) = tract(true) {
        let alexnet = tract(false).map_or(String::new(), |a| format!(", AlexNet {a}"));
        lines.push(format!("Whole networks against tract, batch 1 and 32 on 1 and {all} threads: NIN {nin}{alexnet}."));
    }
    lines.push(format!(
        "Verification: {} kernel × problem checks ({}), {} failed.",
        r.verified,
        r.checks(),
        r.failures.len()
    ));
    let _ = writeln!(w);
    for line in lines {
        let _ = writeln!(w, "- {line}");
    }
    let peers = if r.conv1x1.is_empty() {
        String::new()
    } else {
        "<img src=\"peers.svg\" alt=\"our fastest kernel against each peer, per layer\" width=\"49%\"> ".into()
    };
    let _ = writeln!(w, "\n{peers}<img src=\"roofline.svg\" alt=\"roofline\" width=\"49%\">");
    s
}

/// Per 1×1 layer: our fastest kernel at 1 thread, its share of the peak and its ratio to the
/// peer it beat by the least, both timed in turn; empty when the report timed no layer.
fn layers(r: &Report) -> String {
    if r.conv1x1.is_empty() {
        return String::new();
    }
    let all = r.machine.threads_all;
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "| 1×1 layer | fastest of ours, 1 thread | GFLOP/s | of FMA peak, in turn | closest peer | ours vs it | ours vs closest peer, {all} threads |"
    );
    let _ = writeln!(w, "| --- | --- | ---: | ---: | --- | ---: | ---: |");
    let mut shapes: Vec<Problem> = Vec::new();
    for p in r.conv1x1.iter().filter_map(|row| row.run.problem) {
        if !shapes.contains(&p) {
            shapes.push(p);
        }
    }
    let ratio = |c: Option<&PairedRatio>| c.map_or("-".to_string(), |c| format!("{:.2}×", c.speedup));
    for shape in shapes {
        let Some((ours, closest)) = against_best_peer(r, shape, 1) else { continue };
        let share = r.peak_shares.iter().find(|x| x.problem == shape).map(|x| x.median);
        let at_all = if all > 1 { against_best_peer(r, shape, all).and_then(|(_, c)| c) } else { None };
        let at_all = match at_all {
            Some(c) => format!("{:.2}× ({})", c.speedup, c.against),
            None => "-".into(),
        };
        let _ = writeln!(
            w,
            "| `{shape}` | {} | {:.1} | {} | {} | {} | {at_all} |",
            ours.run.kernel,
            ours.run.gflops,
            share.map_or("-".into(), |f| format!("{:.0}%", 100.0 * f)),
            closest.map_or("-".to_string(), |c| c.against.to_string()),
            ratio(closest),
        );
    }
    s
}
