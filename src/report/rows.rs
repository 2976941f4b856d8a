//! The report's data: its rows and comparisons, as written to `report.json`.

use serde::Serialize;

use super::probe::MachineInfo;
use crate::kernel::{KernelId, Role};
use crate::measure::{PeakShare, RunRow, Runner, ThreadScaling, problem_string};
use crate::problem::Problem;

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
    /// The row of `run` with its intensity, its `kind` from what ran; the speed-ups and GAP
    /// fields left empty.
    pub(super) fn new(run: RunRow, arithmetic_intensity: f64) -> Self {
        ReportRow {
            kind: match run.kernel {
                Runner::Kernel(_) => "kernel",
                Runner::Peer(_) | Runner::Engine(_) => "peer",
                Runner::Loop(_) => "loop",
            },
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
    /// ([`Against::OneThread`]). The targets rest on these ratios.
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
    /// On every layer of the int8 suite (`benches/suites/int8.txt`), the int8 kernel against
    /// the f32 kernel on the same layer and against the int8 peak loop, each timed in turn on
    /// 1 thread.
    pub int8: Vec<Int8Row>,
    /// NIN-CIFAR10 with its 1×1 layers and GAP in int8 against its f32 pass, on the same
    /// seeded weights and a batch of seeded images: class-score differences and top-1
    /// agreement. None when `--filter` excludes it.
    pub int8_accuracy: Option<crate::forward::quantized::Int8Accuracy>,
    /// One image through NIN-CIFAR10 in f32 and with its 1×1 layers and GAP in int8, timed in
    /// turn on 1 thread, each pass's time split by kind of step. None when `--filter` excludes
    /// it.
    pub int8_pass: Option<crate::forward::quantized::Int8PassTiming>,
    /// Kernel × problem pairs that disagreed with the reference (and were not timed).
    pub failures: Vec<String>,
    /// Number of kernel × problem pairs verified.
    pub verified: usize,
    /// How many of them were int8 kernels checked bit for bit against the integer reference
    /// (the others: within the error bound of the f64 reference).
    pub verified_int8: usize,
    /// Accounting of the models (as `nin-bench models --json`).
    pub models: Vec<crate::model::ModelStats>,
    /// NIN against fully-connected heads (as `nin-bench heads --json`); empty when `--filter`
    /// excludes them.
    pub heads: Vec<crate::model::heads::HeadStats>,
    /// The performance targets and whether this run met them.
    pub targets: Vec<Target>,
    /// Whole-network forward passes (`nin-bench forward`): each model at batch 1 and 32 on 1 and
    /// all threads, beside tract where the build has it (`--features tract`); verified stage
    /// by stage once per model (batch 1, 1 thread). Empty when `--filter` excludes them.
    pub whole_network: Vec<crate::forward::measure::ForwardResult>,
    /// NIN-ImageNet's pass against AlexNet's, one image on 1 thread, timed in turn (when the
    /// filter keeps both models).
    pub nin_vs_alexnet: Option<crate::forward::measure::ModelsInTurn>,
    /// Rows that ran above [`super::ABOVE_PEAK_LIMIT`] of the peak they are measured against: the
    /// probe must be wrong (a peer using a wider ISA than the probe, say), so their shares are
    /// left out (`peak_fraction` null) and `report.md` says so in its first lines.
    pub probe_warnings: Vec<String>,
}

impl Report {
    /// What the verified pairs were checked against, with how many of each.
    pub fn checks(&self) -> String {
        let float = self.verified - self.verified_int8;
        let mut kinds = Vec::new();
        if float > 0 {
            kinds.push(format!("{float} within the dot-product error bound of the f64 reference"));
        }
        if self.verified_int8 > 0 {
            kinds.push(format!("{} int8 bit for bit against the integer reference", self.verified_int8));
        }
        kinds.join(", ")
    }
}

/// One int8 layer: [`Report::int8`].
#[derive(Debug, Clone, Serialize)]
pub struct Int8Row {
    /// The int8 kernel's row (GOP/s: two operations per multiply-accumulate), timed in turn
    /// with the f32 kernel; `paired_speedup` is its speed-up over it.
    pub int8: RunRow,
    /// The f32 kernel on the same layer (with ReLU), timed in the same rounds.
    pub f32: RunRow,
    /// The int8 kernel's instruction-set path.
    pub isa: &'static str,
    /// The register tile it ran this layer on, where it chooses one per layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile: Option<String>,
    /// Median over rounds of the int8 kernel's share of the int8 peak loop, timed in turn.
    pub int8_peak_share: f64,
    /// The same share of the quietest tenth of rounds.
    pub int8_peak_share_p90: f64,
    /// The int8 scaling kernel (`qconv-rayon`) on all threads, timed in turn with the int8
    /// kernel on 1; `paired_speedup` is its speed-up over it. Absent on one core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<RunRow>,
    /// tract's int8 convolution on the same layer (feature `tract`), timed in turn with the
    /// int8 kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tract: Option<TractInt8>,
}

/// tract's `QLinearConv` on an int8 layer, timed in turn with our int8 kernel, and how far its
/// output is from the integer reference (it rounds on its own, so a step of 1 may differ).
#[derive(Debug, Clone, Serialize)]
pub struct TractInt8 {
    /// Our int8 kernel's row; `paired_speedup` is its speed-up over tract.
    pub ours: RunRow,
    /// tract's row.
    pub tract: RunRow,
    /// Outputs of tract's that differ from the reference's.
    pub differing_outputs: usize,
    /// Every output.
    pub outputs: usize,
    /// The largest difference, in steps of the output's scale.
    pub max_diff: u8,
}

/// What a kernel was timed against in a [`PairedRatio`]. Serialised as a name: the runner's,
/// or `<kernel> on 1 thread`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Against {
    /// Another kernel, a peer, or (the control) the same kernel, at the same thread count.
    Runner(Runner),
    /// The same kernel on one thread: its speed-up from the threads.
    OneThread(KernelId),
}

impl std::fmt::Display for Against {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Against::Runner(r) => write!(f, "{r}"),
            Against::OneThread(k) => write!(f, "{k} on 1 thread"),
        }
    }
}

impl Serialize for Against {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One comparison timed in turn: `kernel` against `against` on a problem with `threads` threads.
#[derive(Debug, Clone, Serialize)]
pub struct PairedRatio {
    /// The problem (`shape` in JSON).
    #[serde(rename = "shape", serialize_with = "problem_string")]
    pub problem: Problem,
    /// Threads both ran with.
    pub threads: usize,
    /// Our kernel.
    pub kernel: KernelId,
    /// The kernel or peer it was timed against.
    pub against: Against,
    /// Median over rounds of `against`'s time over `kernel`'s: above 1, `kernel` is faster.
    pub speedup: f64,
}

impl PairedRatio {
    /// Whether this is the control: a kernel timed against itself (prepared twice, each with
    /// its own output). Its speed-up would be 1 on a quiet machine; how far it strays is the
    /// noise of this run's ratios.
    pub fn is_control(&self) -> bool {
        self.against == Against::Runner(Runner::Kernel(self.kernel))
    }

    /// Whether it compares `kernel` with `against` on `problem` at `threads`.
    pub fn is(&self, problem: &Problem, threads: usize, kernel: KernelId, against: &Against) -> bool {
        (&self.problem, self.threads, self.kernel, &self.against) == (problem, threads, kernel, against)
    }
}

/// Time a kernel spends preparing the weights of one layer, once.
#[derive(Debug, Clone, Serialize)]
pub struct Preparation {
    /// Kernel.
    pub kernel: KernelId,
    /// The problem (`shape` in JSON).
    #[serde(rename = "shape", serialize_with = "problem_string")]
    pub problem: Problem,
    /// Median seconds.
    pub seconds: f64,
}

/// One target and how this run did.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// Short number and name, e.g. `1. ahead of the GEMM libraries`.
    pub target: String,
    /// What was measured, in words and figures.
    pub measured: String,
    /// Met in this run (`None`: not measurable in this run, e.g. filtered out or not built).
    pub met: Option<bool>,
    /// Every check this run missed, one figure each, in the order checked.
    pub missed: Vec<String>,
    /// The miss furthest from its bar (the one `measured` names), if any.
    pub worst: Option<String>,
}

/// The rows on `p` at `threads`.
pub fn rows_on(rows: &[ReportRow], p: Problem, threads: usize) -> impl Iterator<Item = &ReportRow> {
    rows.iter().filter(move |r| r.run.problem == Some(p) && r.run.threads == threads)
}

/// Our fastest kernel's row on `p` at `threads`.
pub fn best_ours(rows: &[ReportRow], p: Problem, threads: usize) -> Option<&ReportRow> {
    rows_on(rows, p, threads)
        .filter(|r| r.run.kernel.kernel().is_some())
        .max_by(|a, b| a.run.gflops.total_cmp(&b.run.gflops))
}

/// The row of `runner` on `p` at `threads`.
pub fn row_of<'a>(rows: &'a [ReportRow], p: Problem, threads: usize, runner: &Runner) -> Option<&'a ReportRow> {
    rows_on(rows, p, threads).find(|r| &r.run.kernel == runner)
}

/// The row of the kernel playing `role` on `p` at `threads`.
pub fn playing(rows: &[ReportRow], p: Problem, threads: usize, role: Role) -> Option<&ReportRow> {
    rows_on(rows, p, threads).find(|r| r.run.kernel.plays(role))
}
