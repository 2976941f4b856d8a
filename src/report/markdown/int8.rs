//! The int8 section of `report.md`.

use std::fmt::Write;

use super::cells::{pct, times};
use crate::format::format_seconds;
use crate::problem::Problem;
use crate::report::rows::Report;

/// Every int8 layer against the f32 kernel on the same layer and against the int8 peak.
pub(super) fn int8(w: &mut String, r: &Report) {
    if r.int8.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n## Int8: NIN's 1×1 layers on u8 activations and s8 weights\n");
    let isa = r.int8.first().map_or("-", |row| row.isa);
    let _ = writeln!(
        w,
        "The int8 kernel ({isa}) is bit-exact against the integer reference (i32 sums, \
         requantized to u8 with round-half-to-even). GOP/s counts two operations per \
         multiply-accumulate, as GFLOP/s does for f32. \"vs f32\": the int8 kernel and the f32 \
         kernel on the same layer (with ReLU), a sample of each in turn, the median of the \
         per-round ratios of their speeds, 1 thread. \"of int8 peak\": the int8 kernel and its \
         path's peak loop (registers only) timed the same way.\n"
    );
    let _ = writeln!(
        w,
        "| layer | MMAC | int8 kernel | GOP/s | f32 kernel | GFLOP/s | int8 vs f32 | of int8 peak (p90) | int8 time |"
    );
    let _ = writeln!(w, "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |");
    for row in &r.int8 {
        let Some(Problem::QConv1x1(p)) = row.int8.problem else { continue };
        let _ = writeln!(
            w,
            "| `{p}` | {:.1} | {} | {:.1} | {} | {:.1} | {} | {} ({}) | {} |",
            p.macs() as f64 / 1e6,
            row.int8.kernel,
            row.int8.gflops,
            row.f32.kernel,
            row.f32.gflops,
            times(row.int8.paired_speedup),
            pct(Some(row.int8_peak_share)),
            pct(Some(row.int8_peak_share_p90)),
            format_seconds(row.int8.seconds_median),
        );
    }
}
