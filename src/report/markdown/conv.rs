//! The 1×1 convolution sections of `report.md`.

use std::fmt::Write;

use super::cells::{pct, problems, thread_counts, times};
use crate::format::format_seconds;
use crate::kernel::{KernelId, Role};
use crate::measure::Runner;
use crate::peers::Peer;
use crate::report::rows::{Against, Report, ReportRow, best_ours, row_of};

/// Per thread count: our fastest kernel against each peer, timed in turn.
pub(super) fn headline(w: &mut String, r: &Report) {
    let m = &r.machine;
    let shapes = problems(&r.conv1x1);
    for threads in thread_counts(m.threads_all) {
        let _ = writeln!(w, "\n## Headline: 1×1 convolution, {threads} thread{}\n", if threads > 1 { "s" } else { "" });
        let _ = writeln!(
            w,
            "\"ours vs\" is timed in turn: one sample of our fastest kernel, then one of the peer, and so on; \
             the median of the per-round ratios (a shared machine's drift between two separate medians \
             cancels out). The GFLOP/s columns are the separate medians, and \"of peak probed apart\" is that \
             median over the FMA peak probed before and after the timings. The summary and target 2 read \
             \"of FMA peak, in turn\" instead (timed with the peak loop in the same rounds, next tables), which \
             is lower when the machine was busier during the layer's samples than during the probe.\n"
        );
        let _ = writeln!(
            w,
            "| problem | fastest of ours | GFLOP/s | p90 | of peak probed apart | gemm-crate | matrixmultiply | ours vs gemm-crate | ours vs matrixmultiply |"
        );
        let _ = writeln!(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for &shape in &shapes {
            let Some(ours) = best_ours(&r.conv1x1, shape, threads) else { continue };
            let Some(ours_id) = ours.run.kernel.kernel() else { continue };
            let gemm = row_of(&r.conv1x1, shape, threads, &Runner::Peer(Peer::GemmCrate));
            let mm = row_of(&r.conv1x1, shape, threads, &Runner::Peer(Peer::Matrixmultiply));
            let ratio = |peer: Option<&ReportRow>| {
                peer.map(|q| {
                    let against = Against::Runner(q.run.kernel.clone());
                    r.paired
                        .iter()
                        .find(|c| c.is(&shape, threads, ours_id, &against))
                        .map_or(q.run.seconds_median / ours.run.seconds_median, |c| c.speedup)
                })
            };
            let _ = writeln!(
                w,
                "| `{shape}` | {} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
                ours.run.kernel,
                ours.run.gflops,
                ours.run.gflops_p90,
                pct(ours.run.peak_fraction),
                gemm.map_or("-".into(), |g| format!("{:.1}", g.run.gflops)),
                mm.map_or("-".into(), |g| format!("{:.1}", g.run.gflops)),
                times(ratio(gemm)),
                times(ratio(mm))
            );
        }
    }
}

/// The GEMM kernel against the direct one, 1 thread, timed in turn.
pub(super) fn gemm_vs_direct(w: &mut String, r: &Report) {
    let lowered: Vec<_> = r
        .paired
        .iter()
        .filter(|c| {
            c.kernel.plays(Role::Gemm)
                && matches!(&c.against, Against::Runner(Runner::Kernel(k)) if k.plays(Role::Direct))
        })
        .collect();
    if let Some(first) = lowered.first() {
        let _ = writeln!(w, "\n## im2col + GEMM against the direct kernel, 1 thread, timed in turn\n");
        let _ = writeln!(w, "| problem | {} vs {} |", first.kernel, first.against);
        let _ = writeln!(w, "| --- | ---: |");
        for c in lowered {
            let _ = writeln!(w, "| `{}` | {} |", c.problem, times(Some(c.speedup)));
        }
    }
}

/// Our fastest kernel's share of the FMA peak and the scaling kernel's speed-up from the threads.
pub(super) fn peak_and_scaling(w: &mut String, r: &Report) {
    let m = &r.machine;
    let shapes = problems(&r.conv1x1);
    if !r.peak_shares.is_empty() || !r.scaling.is_empty() {
        let scaled = r.scaling.first().map_or("the parallel kernel", |c| c.kernel.name());
        let _ = writeln!(w, "\n## Share of the FMA peak and {scaled}'s scaling, timed in turn\n");
        let _ = writeln!(
            w,
            "\"of peak, in turn\": our fastest kernel at 1 thread and the FMA-peak loop, a sample of each in \
             turn; the median of the per-round ratios of their GFLOP/s, and the kernel's p90 over the loop's \
             p90. \"microkernel in L1\": in the same rounds, the {} register tile every direct and GEMM \
             kernel is built on, on an A panel and a B block that stay in L1: the share of the peak its \
             own loop reached, the most a layer built on it could. \"scaling\": `{scaled}` on {} threads against itself on 1, and in the same rounds the \
             FMA-peak loop on the same two pools (no memory traffic: the speed-up the machine offered any \
             code in those moments); each the median over rounds, and \"÷ loop\" the median of the \
             kernel's speed-up over the loop's per round.\n",
            r.peak_shares.iter().find_map(|s| s.l1_tile.as_ref()).map_or("MR×NR", |t| t.tile.as_str()),
            m.threads_all
        );
        let _ = writeln!(
            w,
            "| problem | fastest of ours, 1 thread | of peak, in turn | p90 | microkernel in L1, same rounds | p90 | {scaled} scaling | FMA loop scaling | ÷ loop |"
        );
        let _ = writeln!(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for shape in &shapes {
            let share = r.peak_shares.iter().find(|s| &s.problem == shape);
            let scale = r.scaling.iter().find(|c| &c.problem == shape);
            if share.is_none() && scale.is_none() {
                continue;
            }
            let _ = writeln!(
                w,
                "| `{shape}` | {} | {} | {} | {} | {} | {} | {} | {} |",
                share.map_or("-", |s| s.kernel.name()),
                pct(share.map(|s| s.median)),
                pct(share.map(|s| s.p90)),
                pct(share.and_then(|s| s.l1_tile.as_ref()).map(|t| t.median)),
                pct(share.and_then(|s| s.l1_tile.as_ref()).map(|t| t.p90)),
                times(scale.map(|c| c.speedup)),
                times(scale.map(|c| c.fma_loop_speedup)),
                scale.map_or("-".to_string(), |c| format!("{:.2}", c.relative)),
            );
        }
    }
}

/// Every kernel and peer on every layer.
pub(super) fn every_row(w: &mut String, r: &Report) {
    let shapes = problems(&r.conv1x1);
    let _ = writeln!(w, "\n## 1×1 convolution, every kernel and peer\n");
    let _ = writeln!(
        w,
        "GFLOP/s counts 2·N·Cout·Cin·Hout·Wout per call; \"of peak\" is against the FMA peak for that \
         thread count; peers compute the GEMM alone (no bias, no ReLU).\n"
    );
    for shape in &shapes {
        let _ = writeln!(w, "### `{shape}`\n");
        let _ = writeln!(w, "| kernel | threads | GFLOP/s | p90 | min–max | of peak | time | × naive | × gemm-crate |");
        let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for row in r.conv1x1.iter().filter(|x| x.run.problem == Some(*shape)) {
            let q = &row.run;
            let flops = q.gflops * q.seconds_median;
            let label = if q.kernel.kernel().is_none() { format!("*{}*", q.kernel) } else { q.kernel.to_string() };
            let _ = writeln!(
                w,
                "| {label} | {} | {:.1} | {:.1} | {:.1}–{:.1} | {} | {} | {} | {} |",
                q.threads,
                q.gflops,
                q.gflops_p90,
                flops / q.seconds_max,
                flops / q.seconds_min,
                pct(q.peak_fraction),
                format_seconds(q.seconds_median),
                times(row.speedup_vs_naive),
                times(row.speedup_vs_gemm_crate)
            );
        }
        let _ = writeln!(w);
    }
}

/// Weight preparation per kernel and layer.
pub(super) fn preparation(w: &mut String, r: &Report) {
    let shapes = problems(&r.conv1x1);
    let _ = writeln!(w, "## Weight preparation (once per layer, not in the times above)\n");
    let names: Vec<&str> = kernels_of(r).iter().map(|k| k.name()).collect();
    let _ = writeln!(w, "| problem | {} |", names.join(" | "));
    let _ = writeln!(w, "| --- |{}", " ---: |".repeat(kernels_of(r).len()));
    for shape in &shapes {
        let cells: Vec<String> = kernels_of(r)
            .iter()
            .map(|k| {
                r.preparation
                    .iter()
                    .find(|p| &p.problem == shape && p.kernel == *k)
                    .map_or("-".into(), |p| format_seconds(p.seconds))
            })
            .collect();
        let _ = writeln!(w, "| `{shape}` | {} |", cells.join(" | "));
    }
}

/// The kernels that prepared weights, in the order of their first preparation.
fn kernels_of(r: &Report) -> Vec<KernelId> {
    let mut out: Vec<KernelId> = Vec::new();
    for p in &r.preparation {
        if !out.contains(&p.kernel) {
            out.push(p.kernel);
        }
    }
    out
}
