//! What the report will run: its options, its filter, and the count of its measurements.

use std::path::PathBuf;

/// Options of one report run.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Short timing (about 0.1 s per measurement) for smoke runs.
    pub quick: bool,
    /// Only problems or kernels whose string contains this.
    pub filter: Option<String>,
    /// Output folder; the report goes to `<out>/<machine-id>/`.
    pub out: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
    /// Memory the report may allocate; checked on every problem before the probe starts.
    pub budget: crate::budget::MemoryBudget,
}

pub(super) fn matches(filter: &Option<String>, problem: &str, name: &str) -> bool {
    filter.as_ref().is_none_or(|f| problem.contains(f.as_str()) || name.contains(f.as_str()))
}

/// Progress message while `name` is timed on `shape`.
pub(super) fn timing_message(shape: &str, name: &str, threads: usize) -> String {
    format!("{shape}: {name} ({threads} thread{})", if threads > 1 { "s" } else { "" })
}

/// Thread counts a kernel or peer is timed at: 1, and all cores too when it is parallel.
pub(super) fn thread_counts_for(parallel: bool) -> Vec<usize> {
    if parallel { crate::measure::thread_counts() } else { vec![1] }
}

/// Measurements the report will make: every matching runner (name, parallel) on every problem,
/// at each of its thread counts.
pub(super) fn planned<P: std::fmt::Display>(
    problems: &[P],
    runners: &[(&str, bool)],
    filter: &Option<String>,
) -> usize {
    problems
        .iter()
        .map(|p| {
            let shape = p.to_string();
            runners
                .iter()
                .filter(|(name, _)| matches(filter, &shape, name))
                .map(|&(_, parallel)| thread_counts_for(parallel).len())
                .sum::<usize>()
        })
        .sum()
}

/// The whole-network passes the report times: every model (matching the filter, or all when
/// the filter is `forward`) at batch 1 and 32, on 1 and all threads.
pub(super) fn forward_plan(filter: &Option<String>) -> Vec<(crate::model::Model, usize, usize)> {
    let mut plan = Vec::new();
    for model in crate::model::zoo::models() {
        if !matches(filter, model.name, "forward") {
            continue;
        }
        for batch in [1, 32] {
            for threads in crate::measure::thread_counts() {
                plan.push((model.clone(), batch, threads));
            }
        }
    }
    plan
}
