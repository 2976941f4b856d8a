//! Keeping the shares of the peak honest: the peaks probed again after the timings, and rows
//! above the peak they are measured against flagged as a wrong probe.

use super::rows::{Report, ReportRow};

/// Largest share of its peak a row may show before the probe is taken to be wrong: timing
/// noise can lift a row a little above a peak probed at another moment, not by more.
pub const ABOVE_PEAK_LIMIT: f64 = 1.05;

/// Takes out the share of every row above [`ABOVE_PEAK_LIMIT`] of its peak (`limit` names the
/// peak) and returns one line for each.
pub(super) fn flag_rows_above_peak(rows: &mut [ReportRow], limit: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    for row in rows {
        if let Some(f) = row.run.peak_fraction.filter(|f| *f > ABOVE_PEAK_LIMIT) {
            let threads =
                if row.run.threads == 1 { "1 thread".to_string() } else { format!("{} threads", row.run.threads) };
            warnings.push(format!(
                "{} on {}, {threads}: {:.0}% of the {limit}",
                row.run.kernel,
                row.run.problem.map_or(String::new(), |p| p.to_string()),
                100.0 * f
            ));
            row.run.peak_fraction = None;
        }
    }
    warnings
}

/// Measures the FMA peaks again after the timings and keeps the higher of the two probes,
/// refreshing every row's `peak_fraction`. On a shared machine a neighbour busy during the first
/// probe makes it low (one run here measured 102.8 GFLOP/s on 2 threads, its 1-thread figure,
/// against about 200 in other runs), and every fraction of that peak would then be inflated.
pub(super) fn reprobe_peaks(report: &mut Report, quick: bool) {
    let repeats = if quick { 5 } else { 25 };
    let m = &mut report.machine;
    m.fma_peak_gflops = m.fma_peak_gflops.max(crate::machine::fma_peak_gflops(1, repeats));
    m.fma_peak_gflops_all_threads =
        m.fma_peak_gflops_all_threads.max(crate::machine::fma_peak_gflops(m.threads_all, repeats));
    report.fma_peak_gflops = m.fma_peak_gflops;
    for row in report.conv1x1.iter_mut().chain(report.mlpconv.iter_mut()) {
        row.run.peak_fraction = Some(row.run.gflops / report.machine.fma_peak_for(row.run.threads));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{RunRow, Runner};
    use crate::peers::Peer;

    fn row(kernel: Runner, threads: usize, peak_fraction: Option<f64>) -> ReportRow {
        let run = RunRow {
            kernel,
            problem: Some("1x192x8x8:10,relu".parse().unwrap()),
            threads,
            gflops: 100.0,
            gflops_p90: 110.0,
            gbps: 1.0,
            seconds_median: 1e-6,
            seconds_p10: 1e-6,
            seconds_min: 1e-6,
            seconds_max: 1e-6,
            peak_fraction,
            prepare_seconds: None,
            paired_speedup: None,
        };
        ReportRow::new(run, 1.0)
    }

    #[test]
    fn rows_above_105_percent_of_their_peak_lose_their_share_and_are_named() {
        let mut rows = vec![
            row(Runner::Loop("a kernel".into()), 1, Some(0.84)),
            row(Runner::Peer(Peer::Matrixmultiply), 1, Some(1.6)),
            row(Runner::Loop("x".into()), 2, Some(1.05)),
        ];
        let warnings = flag_rows_above_peak(&mut rows, "FMA peak");
        assert_eq!(warnings, ["matrixmultiply on 1x192x8x8:10,relu, 1 thread: 160% of the FMA peak"]);
        let shares: Vec<Option<f64>> = rows.iter().map(|r| r.run.peak_fraction).collect();
        assert_eq!(shares, [Some(0.84), None, Some(1.05)]);
    }
}
