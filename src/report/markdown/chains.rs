//! The GAP and fused-chain sections of `report.md`.

use std::fmt::Write;

use super::cells::{bytes, pct, problems, thread_counts, times};
use crate::format::format_seconds;
use crate::kernel::Role;
use crate::problem::Problem;
use crate::report::rows::{Report, playing};

/// Every GAP kernel against the read bandwidth of its input.
pub(super) fn gap(w: &mut String, r: &Report) {
    let _ = writeln!(w, "\n## Global average pooling\n");
    let _ = writeln!(
        w,
        "GB/s counts the input read once and the output written once; \"of read bw\" is against the \
         read bandwidth measured now over a working set of the input's size on as many threads as the \
         row, each reading its own share (the level the input fits in is named). \"in turn\": the kernel \
         and a read pass over its own input, a sample of each in turn; the median of the per-round \
         ratios of their GB/s.\n"
    );
    let _ = writeln!(
        w,
        "| problem | input | read bw (level) | kernel | threads | GB/s | p90 | of read bw | in turn | time per call | × gap-naive |"
    );
    let _ = writeln!(w, "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in &r.gap {
        let q = &row.run;
        let Some(problem) = q.problem else { continue };
        let input_bytes = match problem {
            Problem::Gap(p) => 4 * p.input_len(),
            _ => 0,
        };
        let _ = writeln!(
            w,
            "| `{}` | {} | {:.0} GB/s ({}) | {} | {} | {:.1} | {:.1} | {} | {} | {} | {} |",
            problem,
            bytes(input_bytes),
            row.read_gbps.unwrap_or(f64::NAN),
            row.bandwidth_level.unwrap_or("-"),
            q.kernel,
            q.threads,
            q.gbps,
            q.gbps * q.seconds_median / q.seconds_p10,
            pct(q.peak_fraction),
            pct(r
                .bandwidth_shares
                .iter()
                .find(|s| Some(s.problem) == q.problem && Some(s.kernel) == q.kernel.kernel() && s.threads == q.threads)
                .map(|s| s.median)),
            format_seconds(q.seconds_median),
            times(row.speedup_vs_naive)
        );
    }
}

/// The fused chains against the unfused ones.
pub(super) fn fused(w: &mut String, r: &Report) {
    let m = &r.machine;
    let _ = writeln!(w, "\n## Fused chains: NIN's micro-network and its conv + GAP head\n");
    let _ = writeln!(
        w,
        "Every layer of a chain has bias and ReLU; `,gap` ends it in global average pooling. \
         `mlpconv-unfused` runs the chain as frameworks do (`rayon-tiled` per layer, then `gap-rayon`), \
         writing each intermediate map in full; `mlpconv-fused` computes it pixel tile by pixel tile \
         with the intermediate in cache. GFLOP/s counts the multiply-accumulates of every layer. \
         The two are timed against each other, a sample of one then a sample of the other; \
         \"fused vs unfused\" is the median over those rounds of the unfused time over the fused \
         one, so the machine's drift between seconds cancels out.\n"
    );
    let _ = writeln!(
        w,
        "| problem | threads | unfused GFLOP/s | p90 | fused GFLOP/s | p90 | of peak | fused time | fused vs unfused |"
    );
    let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for shape in problems(&r.mlpconv) {
        for threads in thread_counts(m.threads_all) {
            let (Some(f), Some(u)) =
                (playing(&r.mlpconv, shape, threads, Role::Fused), playing(&r.mlpconv, shape, threads, Role::Unfused))
            else {
                continue;
            };
            let _ = writeln!(
                w,
                "| `{shape}` | {threads} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} |",
                u.run.gflops,
                u.run.gflops_p90,
                f.run.gflops,
                f.run.gflops_p90,
                pct(f.run.peak_fraction),
                format_seconds(f.run.seconds_median),
                times(Some(f.speedup_vs_unfused.unwrap_or(u.run.seconds_median / f.run.seconds_median)))
            );
        }
    }
}
