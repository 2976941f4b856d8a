//! `nin-bench report`: the main job. Probes the machine, verifies every kernel (and peer) on the
//! standard suites (1×1 convolution, GAP, fused chains), times what passed at 1 thread and all
//! threads, times whole forward passes of the models beside tract (where built with it), and
//! writes `report.md`, `report.json`, `peers.svg`, `roofline.svg` and `network_time.svg` under
//! `<out>/<machine-id>/`.

mod markdown;
mod network_time;
mod peers_chart;
pub mod probe;
mod roofline;
mod sanity;
mod summary;
pub mod targets;
mod timings;

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::error::{NinError, Result};
use crate::measure::{PeakShare, RunRow, ThreadScaling};
use crate::peers::Peer;
use crate::problem::Problem;
use crate::registry::{self, Registry, Role};
use crate::suite;
use crate::timing::TimingBudget;
use probe::MachineInfo;
pub use sanity::ABOVE_PEAK_LIMIT;
use timings::Context;

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

/// One row of the report: a kernel or peer timed on one problem at one thread count.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    /// `kernel` (ours) or `peer` (a GEMM library).
    pub kind: &'static str,
    /// The timing figures (`gflops`, `peak_fraction`, ...).
    #[serde(flatten)]
    pub run: RunRow,
    /// FLOPs per byte moved (input, weights, output once each).
    pub arithmetic_intensity: f64,
    /// Median speed-up over `naive` (1 thread) on the same problem.
    pub speedup_vs_naive: Option<f64>,
    /// Median speed-up over the `gemm` crate at the same thread count.
    pub speedup_vs_gemm_crate: Option<f64>,
    /// For the fused chain: the median over paired rounds of the unfused chain's time over the
    /// fused one's (both timed in turn, see [`crate::measure::time_in_turn`]).
    pub speedup_vs_unfused: Option<f64>,
    /// For GAP: the cache level the input fits in.
    pub bandwidth_level: Option<&'static str>,
    /// For GAP: read bandwidth measured over a working set of the input's size, on as many
    /// threads as the row, GB/s, the higher of a probe before and one after the problem's
    /// timings; `peak_fraction` is against it.
    pub read_gbps: Option<f64>,
}

impl ReportRow {
    /// A row of `kind` with its intensity; the speed-ups and GAP fields left empty.
    fn new(kind: &'static str, run: RunRow, arithmetic_intensity: f64) -> Self {
        ReportRow {
            kind,
            run,
            arithmetic_intensity,
            speedup_vs_naive: None,
            speedup_vs_gemm_crate: None,
            speedup_vs_unfused: None,
            bandwidth_level: None,
            read_gbps: None,
        }
    }
}

/// The whole report, as written to `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Machine, build and measured limits.
    pub machine: MachineInfo,
    /// FMA peak, 1 thread, GFLOP/s (also inside `machine`; here for scripts).
    pub fma_peak_gflops: f64,
    /// `quick` or `full`.
    pub mode: &'static str,
    /// 1×1 convolution rows.
    pub conv1x1: Vec<ReportRow>,
    /// GAP rows.
    pub gap: Vec<ReportRow>,
    /// Chain rows: the fused kernel and the unfused chain on NIN's micro-networks and heads.
    pub mlpconv: Vec<ReportRow>,
    /// One-off weight preparation per kernel and problem.
    pub preparation: Vec<Preparation>,
    /// Comparisons timed in turn (see [`crate::measure::time_in_turn`]): on every conv problem
    /// and thread count, the fastest of our kernels against each peer; `im2col-gemm` against
    /// `blocked-simd` at 1 thread; `rayon-tiled` on all threads against itself on 1
    /// ([`SCALING_AGAINST`]). The targets rest on these ratios.
    pub paired: Vec<PairedRatio>,
    /// On every conv problem, the fastest of our kernels at 1 thread timed in turn with the
    /// FMA-peak loop: its share of the peak the core delivered in the same moments.
    pub peak_shares: Vec<PeakShare>,
    /// On every conv problem with more than one thread, `rayon-tiled`'s speed-up from the
    /// threads and the FMA-peak loop's in the same rounds (the first is also in `paired`).
    pub scaling: Vec<ThreadScaling>,
    /// On every GAP problem, `gap-simd` at 1 thread timed in turn with a read pass over the same
    /// input: its share of the read bandwidth of the input's cache level in the same moments.
    pub bandwidth_shares: Vec<PeakShare>,
    /// Kernel × problem pairs that disagreed with the reference (and were not timed).
    pub failures: Vec<String>,
    /// Number of kernel × problem pairs verified.
    pub verified: usize,
    /// Accounting of the models (as `nin-bench models --json`).
    pub models: Vec<crate::model::ModelStats>,
    /// NIN against fully-connected heads (as `nin-bench heads --json`); empty when `--filter`
    /// excludes them.
    pub heads: Vec<crate::model::heads::HeadStats>,
    /// The performance targets and whether this run met them.
    pub targets: Vec<targets::Target>,
    /// Whole-network forward passes (`nin-bench forward`): each model at batch 1 and 32 on 1 and
    /// all threads, beside tract where the build has it (`--features tract`); verified stage
    /// by stage once per model (batch 1, 1 thread). Empty when `--filter` excludes them.
    pub whole_network: Vec<crate::forward::measure::ForwardResult>,
    /// NIN-ImageNet's pass against AlexNet's, one image on 1 thread, timed in turn (when the
    /// filter keeps both models).
    pub nin_vs_alexnet: Option<crate::forward::measure::ModelsInTurn>,
    /// Rows that ran above [`ABOVE_PEAK_LIMIT`] of the peak they are measured against: the
    /// probe must be wrong (a peer using a wider ISA than the probe, say), so their shares are
    /// left out (`peak_fraction` null) and `report.md` says so in its first lines.
    pub probe_warnings: Vec<String>,
}

/// One comparison timed in turn: `kernel` against `against` on `shape` with `threads` threads.
#[derive(Debug, Clone, Serialize)]
pub struct PairedRatio {
    /// Problem.
    pub shape: String,
    /// Threads both ran with.
    pub threads: usize,
    /// Our kernel.
    pub kernel: String,
    /// The kernel or peer it was timed against.
    pub against: String,
    /// Median over rounds of `against`'s time over `kernel`'s: above 1, `kernel` is faster.
    pub speedup: f64,
}

impl PairedRatio {
    /// Whether this is the control: a kernel timed against itself (prepared twice, each with
    /// its own output). Its speed-up would be 1 on a quiet machine; how far it strays is the
    /// noise of this run's ratios.
    pub fn is_control(&self) -> bool {
        self.kernel == self.against
    }
}

/// Time a kernel spends preparing the weights of one layer, once.
#[derive(Debug, Clone, Serialize)]
pub struct Preparation {
    /// Kernel.
    pub kernel: String,
    /// Problem.
    pub shape: String,
    /// Median seconds.
    pub seconds: f64,
}

fn matches(filter: &Option<String>, problem: &str, name: &str) -> bool {
    filter.as_ref().is_none_or(|f| problem.contains(f.as_str()) || name.contains(f.as_str()))
}

/// Progress message while `name` is timed on `shape`.
fn timing_message(shape: &str, name: &str, threads: usize) -> String {
    format!("{shape}: {name} ({threads} thread{})", if threads > 1 { "s" } else { "" })
}

/// Thread counts a kernel or peer is timed at: 1, and all cores too when it is parallel.
fn thread_counts_for(parallel: bool) -> Vec<usize> {
    if parallel { crate::measure::thread_counts() } else { vec![1] }
}

/// Measurements the report will make: every matching runner (name, parallel) on every problem,
/// at each of its thread counts.
fn planned<P: std::fmt::Display>(problems: &[P], runners: &[(&str, bool)], filter: &Option<String>) -> usize {
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
fn forward_plan(filter: &Option<String>) -> Vec<(crate::model::Model, usize, usize)> {
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

/// Runs the report on the kernels of `registry` and writes its files; returns the folder
/// written.
pub fn run_report(opts: &ReportOptions, registry: &Registry) -> Result<PathBuf> {
    let threads_all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let budget = if opts.quick { TimingBudget::QUICK } else { TimingBudget::STANDARD };
    let conv_problems = suite::conv1x1_suite();
    let gap_problems = suite::gap_suite();
    let (conv_kernels, gap_kernels, chain_kernels) = (registry.conv1x1(), registry.gap(), registry.mlpconv());
    let chain_problems = suite::mlpconv_suite();

    // Count the measurements for the progress bar.
    let conv_runners: Vec<(&str, bool)> = conv_kernels
        .iter()
        .map(|k| (k.name(), k.info().threads.is_parallel()))
        .chain(Peer::ALL.iter().map(|q| (q.name(), true)))
        .collect();
    let gap_runners: Vec<(&str, bool)> =
        gap_kernels.iter().map(|k| (k.name(), k.info().threads.is_parallel())).collect();
    let forward_total = forward_plan(&opts.filter).len();
    let conv_total = planned(&conv_problems, &conv_runners, &opts.filter);
    let gap_total = planned(&gap_problems, &gap_runners, &opts.filter);
    let chain_runners: Vec<(&str, bool)> =
        chain_kernels.iter().map(|k| (k.name(), k.info().threads.is_parallel())).collect();
    let chain_total = planned(&chain_problems, &chain_runners, &opts.filter);
    if conv_total + gap_total + chain_total + forward_total == 0 && !matches(&opts.filter, "heads", "heads") {
        return Err(NinError::Empty {
            what: format!("--filter {}", crate::error::shorten(opts.filter.as_deref().unwrap_or_default())),
            reason: "matches no problem, kernel or peer of the standard suites, no model, nor \"heads\" or \"forward\""
                .into(),
        });
    }
    for (model, batch, _) in forward_plan(&opts.filter) {
        opts.budget.check(
            format_args!("{} at batch {batch}", model.name),
            crate::forward::needed_bytes(&model, batch as u64, true, true)?,
        )?;
    }
    let suites = conv_problems
        .iter()
        .map(|p| Problem::Conv1x1(*p))
        .chain(gap_problems.iter().map(|p| Problem::Gap(*p)))
        .chain(chain_problems.iter().map(|p| Problem::Mlpconv(*p)));
    let names: Vec<&str> = conv_runners.iter().chain(&gap_runners).chain(&chain_runners).map(|r| r.0).collect();
    for p in suites.filter(|p| names.iter().any(|name| matches(&opts.filter, &p.to_string(), name))) {
        // Each runner is verified, then timed in pairs.
        opts.budget.check(p, crate::budget::verify_bytes(&p).max(crate::budget::timing_bytes(&p, 2)))?;
    }

    let bar = if opts.progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}").expect("valid template"));
    bar.set_message("probing the machine (FMA peak, bandwidth)");
    let machine = probe::probe(opts.quick, threads_all);

    bar.set_length((conv_total + gap_total + chain_total + forward_total) as u64);
    bar.set_position(0);

    let mut report = Report {
        fma_peak_gflops: machine.fma_peak_gflops,
        mode: if opts.quick { "quick" } else { "full" },
        conv1x1: Vec::new(),
        gap: Vec::new(),
        mlpconv: Vec::new(),
        preparation: Vec::new(),
        paired: Vec::new(),
        peak_shares: Vec::new(),
        scaling: Vec::new(),
        bandwidth_shares: Vec::new(),
        failures: Vec::new(),
        verified: 0,
        models: crate::model::zoo::models().iter().map(|m| m.stats()).collect::<Result<_>>()?,
        heads: Vec::new(),
        targets: Vec::new(),
        whole_network: Vec::new(),
        nin_vs_alexnet: None,
        probe_warnings: Vec::new(),
        machine,
    };

    // Without a terminal (CI logs, pipes) the bar is hidden: say what is done, a line per problem.
    let log = |what: &str| {
        if !opts.progress {
            eprintln!("[{}/{}] {what}", bar.position(), bar.length().unwrap_or(0));
        }
    };
    log("machine probed");
    let ctx = Context { budget, opts, bar: &bar, threads_all };
    let logged = |before: u64, p: &dyn std::fmt::Display| {
        if bar.position() > before {
            log(&p.to_string());
        }
    };
    for p in &conv_problems {
        let before = bar.position();
        timings::conv_problem(&ctx, p, conv_kernels, &mut report)?;
        logged(before, p);
    }
    for p in &gap_problems {
        let before = bar.position();
        timings::gap_problem(&ctx, p, gap_kernels, &mut report)?;
        logged(before, p);
    }
    for p in &chain_problems {
        let before = bar.position();
        timings::chain_problem(&ctx, p, chain_kernels, &mut report)?;
        logged(before, p);
    }
    if matches(&opts.filter, "heads", "heads") {
        log("heads: NIN (1x1 + GAP) against fully-connected, batch 1 and 32");
        bar.set_message("heads: NIN (1x1 + GAP) against fully-connected, batch 1 and 32");
        report.heads = crate::model::heads::standard_heads().iter().map(|h| h.stats(budget)).collect::<Result<_>>()?;
    }
    timings::forward_passes(&ctx, &mut report, &log)?;
    bar.set_message("probing the FMA peak again");
    sanity::reprobe_peaks(&mut report, opts.quick);
    report.probe_warnings = [
        sanity::flag_rows_above_peak(&mut report.conv1x1, "FMA peak"),
        sanity::flag_rows_above_peak(&mut report.mlpconv, "FMA peak"),
        sanity::flag_rows_above_peak(&mut report.gap, "read bandwidth"),
    ]
    .concat();
    report.targets = targets::evaluate(&report);
    bar.finish_and_clear();
    write_report(&report, &opts.out)
}

/// The GAP kernel the report times against a read pass ([`Report::bandwidth_shares`]): the one
/// the GAP target names.
pub const BANDWIDTH_SHARE_KERNEL: &str = registry::role(Role::BandwidthShare);

/// The `against` of a [`PairedRatio`] that times `rayon-tiled` on all threads against itself
/// on 1 thread: its speed-up from the threads, both timed in turn.
pub const SCALING_AGAINST: &str = "rayon-tiled on 1 thread";

fn write_report(report: &Report, out: &Path) -> Result<PathBuf> {
    let dir = out.join(&report.machine.id);
    let io = |e: std::io::Error| NinError::File {
        path: dir.display().to_string(),
        reason: format!("cannot write the report: {e}"),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let json = serde_json::to_string_pretty(report).expect("plain data serialises");
    let write =
        |name: &str, text: String| crate::files::write_output(&dir.join(name), |w| w.write_all(text.as_bytes()));
    write("report.json", json + "\n")?;
    write("report.md", markdown::render(report))?;
    roofline::draw(report, &dir.join("roofline.svg"))?;
    peers_chart::draw(report, &dir.join("peers.svg"))?;
    network_time::draw(report, &dir.join("network_time.svg"))?;
    Ok(dir)
}
