//! The cells and lookups every section of `report.md` uses.

use std::collections::BTreeSet;

use crate::problem::Problem;
use crate::report::rows::ReportRow;

/// A share as a whole percentage, `-` when absent.
pub(super) fn pct(f: Option<f64>) -> String {
    f.map_or("-".into(), |f| format!("{:.0}%", 100.0 * f))
}

/// A ratio as `1.23×`, `-` when absent.
pub(super) fn times(f: Option<f64>) -> String {
    f.map_or("-".into(), |f| format!("{f:.2}×"))
}

/// A size in KiB or MiB.
pub(super) fn bytes(b: usize) -> String {
    match b {
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}

/// Problems in the order they were run.
pub(super) fn problems(rows: &[ReportRow]) -> Vec<Problem> {
    let mut seen = BTreeSet::new();
    rows.iter().filter_map(|r| r.run.problem).filter(|p| seen.insert(p.to_string())).collect()
}

/// 1 and all threads, once each.
pub(super) fn thread_counts(all: usize) -> BTreeSet<usize> {
    [1, all].into_iter().collect()
}
