//! One prepared call ([`Call`]), the row of its timing ([`RunRow`]), and timing calls alone
//! ([`time`]) or in turn ([`time_in_turn`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::data::{CHAIN_SEED, ChainData, conv_bytes, conv_data};
use super::hot_pool::HotPool;
use crate::conv1x1::Conv1x1Kernel;
use crate::error::{NinError, Result};
use crate::gap::GapKernel;
use crate::kernel::{KernelId, Role};
use crate::mlpconv::MlpconvKernel;
use crate::peers::Peer;
use crate::problem::{Conv1x1Problem, GapProblem, MlpconvProblem, Problem, QConv1x1Problem, QGapProblem};
use crate::qconv::QConv1x1Kernel;
use crate::qgap::QGapKernel;
use crate::quant::{QConvData, seeded_activations};
use crate::registry::AnyKernel;
use crate::tensor::{AlignedBuf, seeded_uniform, zeroed};
use crate::timing::{Rounds, Timing, TimingBudget, measure, measure_in_turn};

/// What a timed call runs: one of our kernels, a GEMM library, an inference engine, or a loop
/// that measures a limit of the machine. Serialised (and displayed) as its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// A registered kernel.
    Kernel(KernelId),
    /// A GEMM library.
    Peer(Peer),
    /// An inference engine's operator on the same layer (tract's int8 convolution).
    Engine(&'static str),
    /// A loop that measures the machine (the FMA-peak loop, a read pass, a tile in L1).
    Loop(String),
}

impl Runner {
    /// The name rows and reports show.
    pub fn name(&self) -> &str {
        match self {
            Runner::Kernel(k) => k.name(),
            Runner::Peer(p) => p.name(),
            Runner::Engine(name) => name,
            Runner::Loop(name) => name,
        }
    }

    /// The kernel, when it is one of ours.
    pub fn kernel(&self) -> Option<KernelId> {
        match self {
            Runner::Kernel(k) => Some(*k),
            _ => None,
        }
    }

    /// Whether it is our kernel playing `role`.
    pub fn plays(&self, role: Role) -> bool {
        self.kernel().is_some_and(|k| k.plays(role))
    }
}

impl std::fmt::Display for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Runner {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Serialises a problem as its string (`shape` in the JSON contract).
pub fn problem_string<S: serde::Serializer>(p: &Problem, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(p)
}

/// Serialises a row's problem as its string, and a limit loop's (which has none) as `""`.
fn optional_problem_string<S: serde::Serializer>(
    p: &Option<Problem>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match p {
        Some(p) => serializer.collect_str(p),
        None => serializer.serialize_str(""),
    }
}

/// One timed kernel × problem.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// What ran (`kernel` in JSON: a kernel's, peer's or loop's name).
    pub kernel: Runner,
    /// The problem (`shape` in JSON: its string; empty for a limit loop).
    #[serde(rename = "shape", serialize_with = "optional_problem_string")]
    pub problem: Option<Problem>,
    /// Threads the kernel used (1 for single-threaded kernels, whatever the pool).
    pub threads: usize,
    /// GFLOP/s at the median time (GAP: one add per input value).
    pub gflops: f64,
    /// GFLOP/s of the quietest tenth of samples (90th percentile throughput).
    pub gflops_p90: f64,
    /// Bytes read and written (input, weights, output, each once) per second, in GB/s, at the
    /// median time.
    pub gbps: f64,
    /// Median seconds per call.
    pub seconds_median: f64,
    /// 10th percentile of seconds per call (the quietest tenth).
    pub seconds_p10: f64,
    /// Fastest and slowest sample, seconds per call.
    pub seconds_min: f64,
    /// Slowest sample.
    pub seconds_max: f64,
    /// Fraction of the machine's limit at the median: the FMA peak for conv, the measured read
    /// bandwidth for the working set for GAP. `null` when no limit was given.
    pub peak_fraction: Option<f64>,
    /// One-off weight preparation, seconds (conv only).
    pub prepare_seconds: Option<f64>,
    /// When timed against another kernel (`run --against`): the median, over rounds of one
    /// sample each taken in turn, of the other kernel's time over this one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired_speedup: Option<f64>,
}

/// Runs `f` on a rayon pool of `threads` threads whose workers spin while it runs
/// ([`HotPool`]).
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(HotPool::new(threads)?.install(f))
}

/// The thread counts benchmarks and the report use: 1, and all cores when there are more.
pub fn thread_counts() -> Vec<usize> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    if all > 1 { vec![1, all] } else { vec![1] }
}

impl RunRow {
    /// A row from a timing of `flops` FLOPs moving `bytes` bytes per call; `peak_fraction` and
    /// `prepare_seconds` left empty.
    pub fn from_timing(
        kernel: Runner,
        problem: Option<Problem>,
        threads: usize,
        flops: f64,
        bytes: f64,
        t: &Timing,
    ) -> RunRow {
        RunRow {
            kernel,
            problem,
            threads,
            gflops: flops / t.median() / 1e9,
            gflops_p90: flops / t.p10() / 1e9,
            gbps: bytes / t.median() / 1e9,
            seconds_median: t.median(),
            seconds_p10: t.p10(),
            seconds_min: t.min(),
            seconds_max: t.max(),
            peak_fraction: None,
            prepare_seconds: None,
            paired_speedup: None,
        }
    }
}

/// A conv problem's seeded input, weights and bias ([`conv_data`]), shared by the calls timed
/// in turn on it.
pub type ConvData = Arc<(AlignedBuf, AlignedBuf, AlignedBuf)>;

/// The seeded data of one problem of any operation, shared by the calls timed in turn on it:
/// as when the report verified them, every call reads the same input.
#[derive(Clone)]
pub enum ProblemData {
    /// Input, weights and bias of a conv problem.
    Conv(ConvData),
    /// The input of a GAP problem.
    Gap(Arc<AlignedBuf>),
    /// Input, weights and biases of a chain.
    Chain(Arc<ChainData>),
    /// Input and layer of an int8 convolution.
    QConv(Arc<QConvData>),
    /// The u8 input of an int8 GAP.
    QGap(Arc<Vec<u8>>),
}

impl ProblemData {
    /// The data every timing of `p` uses: [`conv_data`], the GAP input of seed 1, or
    /// [`ChainData`] of [`CHAIN_SEED`].
    pub fn seeded(p: &Problem) -> Self {
        match p {
            Problem::Conv1x1(p) => ProblemData::Conv(Arc::new(conv_data(p))),
            Problem::Gap(p) => ProblemData::Gap(Arc::new(seeded_uniform(p.input_len(), 1))),
            Problem::Mlpconv(p) => ProblemData::Chain(Arc::new(ChainData::seeded(p, CHAIN_SEED))),
            Problem::QConv1x1(p) => ProblemData::QConv(Arc::new(QConvData::seeded(p, 1))),
            Problem::QGap(p) => ProblemData::QGap(Arc::new(seeded_activations(p.gap().input_len(), 1))),
        }
    }
}

/// Which limit of the machine a row's `peak_fraction` is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The FMA peak, GFLOP/s (conv and chains).
    FmaPeak,
    /// The read bandwidth over the input's working set, GB/s (GAP).
    ReadBandwidth,
}

/// One prepared, checked call: a kernel, a peer or a limit loop bound to its data, its output
/// and its thread count, ready to be called in a timed loop. The constructors prepare the
/// weights (timed once, [`Call::prepare_seconds`]) and run the call once, which checks the
/// arguments, so that the timed loop cannot fail.
pub struct Call<'a> {
    /// What runs.
    pub runner: Runner,
    /// The problem (none for a limit loop).
    pub problem: Option<Problem>,
    /// Threads the call uses: the pool it is timed in.
    pub threads: usize,
    /// FLOPs per call (GAP: one add per input value).
    pub flops: f64,
    /// Bytes read and written per call, each once.
    pub bytes: f64,
    /// The limit its rows' `peak_fraction` is a share of, and that limit's value
    /// ([`Call::against`]); `None` leaves `peak_fraction` empty.
    pub limit: (Limit, Option<f64>),
    /// One-off weight preparation, seconds, where the call prepares weights.
    pub prepare_seconds: Option<f64>,
    body: Box<dyn FnMut() + Send + 'a>,
}

impl<'a> Call<'a> {
    /// A call of a loop that measures the machine, called `name`.
    pub fn limit_loop(name: &str, threads: usize, (flops, bytes): (f64, f64), body: impl FnMut() + Send + 'a) -> Self {
        Call::new(Runner::Loop(name.to_string()), None, threads, (flops, bytes), body)
    }

    /// A call of `body`, with no limit value and nothing prepared.
    pub fn new(
        runner: Runner,
        problem: Option<Problem>,
        threads: usize,
        (flops, bytes): (f64, f64),
        body: impl FnMut() + Send + 'a,
    ) -> Self {
        let limit = (Limit::FmaPeak, None);
        Call { runner, problem, threads, flops, bytes, limit, prepare_seconds: None, body: Box::new(body) }
    }

    /// Conv `kernel` on `p` with its seeded data ([`conv_data`]) in a pool of `threads`.
    pub fn conv(kernel: &'a dyn Conv1x1Kernel, p: &'a Conv1x1Problem, threads: usize) -> Result<Self> {
        Call::conv_on(kernel, p, Arc::new(conv_data(p)), threads)
    }

    /// [`Call::conv`] on `data` (input, weights, bias), which the calls timed beside it may
    /// share, so that all of them read the same input.
    pub fn conv_on(
        kernel: &'a dyn Conv1x1Kernel,
        p: &'a Conv1x1Problem,
        data: ConvData,
        threads: usize,
    ) -> Result<Self> {
        let mut y = zeroed(p.output_len());
        let start = Instant::now();
        let prepared = kernel.prepare(p, &data.1, p.bias.then_some(&data.2[..]))?;
        let prepare_seconds = start.elapsed().as_secs_f64();
        let threads = kernel.info().threads.used_in(threads);
        with_threads(threads, || kernel.run(p, &data.0, &prepared, &mut y))??;
        let body = move || drop(kernel.run(p, std::hint::black_box(&data.0), &prepared, std::hint::black_box(&mut y)));
        let call = Call::new(
            Runner::Kernel(kernel.id()),
            Some(Problem::Conv1x1(*p)),
            threads,
            (p.flops() as f64, conv_bytes(p)),
            body,
        );
        Ok(Call { prepare_seconds: Some(prepare_seconds), ..call })
    }

    /// A GEMM library on conv problem `p` (the product, without bias and ReLU) with `threads`,
    /// on `data` as [`Call::conv_on`].
    pub fn peer_on(peer: Peer, p: &'a Conv1x1Problem, data: ConvData, threads: usize) -> Result<Self> {
        if let Some(why) = peer.unsupported_reason(p) {
            return Err(NinError::Shape {
                what: p.to_string(),
                reason: format!("{} cannot run it: {why}", peer.name()),
            });
        }
        let mut y = zeroed(p.output_len());
        let body = move || peer.run(p, std::hint::black_box(&data.0), &data.1, std::hint::black_box(&mut y), threads);
        Ok(Call::new(Runner::Peer(peer), Some(Problem::Conv1x1(*p)), threads, (p.flops() as f64, conv_bytes(p)), body))
    }

    /// GAP `kernel` on `p` with its seeded input in a pool of `threads`; rows are shares of
    /// the read bandwidth.
    pub fn gap(kernel: &'a dyn GapKernel, p: &'a GapProblem, threads: usize) -> Result<Self> {
        Call::gap_on(kernel, p, Arc::new(seeded_uniform(p.input_len(), 1)), threads)
    }

    /// [`Call::gap`] on input `x`, which a read pass timed beside it may share.
    pub fn gap_on(kernel: &'a dyn GapKernel, p: &'a GapProblem, x: Arc<AlignedBuf>, threads: usize) -> Result<Self> {
        let mut y = zeroed(p.output_len());
        let threads = kernel.info().threads.used_in(threads);
        with_threads(threads, || kernel.run(p, &x, &mut y))??;
        let body = move || drop(kernel.run(p, std::hint::black_box(&x), std::hint::black_box(&mut y)));
        let call = Call::new(
            Runner::Kernel(kernel.id()),
            Some(Problem::Gap(*p)),
            threads,
            (p.input_len() as f64, p.bytes() as f64),
            body,
        );
        Ok(Call { limit: (Limit::ReadBandwidth, None), ..call })
    }

    /// Chain `kernel` on `p` with its seeded data ([`ChainData`], [`CHAIN_SEED`]).
    pub fn mlpconv(kernel: &'a dyn MlpconvKernel, p: &'a MlpconvProblem, threads: usize) -> Result<Self> {
        Call::mlpconv_on(kernel, p, Arc::new(ChainData::seeded(p, CHAIN_SEED)), threads)
    }

    /// [`Call::mlpconv`] on `data`, which the calls timed beside it may share.
    pub fn mlpconv_on(
        kernel: &'a dyn MlpconvKernel,
        p: &'a MlpconvProblem,
        data: Arc<ChainData>,
        threads: usize,
    ) -> Result<Self> {
        let mut y = zeroed(p.output_len());
        let start = Instant::now();
        let prepared = kernel.prepare(p, &data.weight_slices(), &data.bias_slices())?;
        let prepare_seconds = start.elapsed().as_secs_f64();
        let threads = kernel.info().threads.used_in(threads);
        // Once in the pool: checks the lengths, and fills the per-thread workspaces.
        with_threads(threads, || kernel.run(p, &data.input, &prepared, &mut y))??;
        let body =
            move || drop(kernel.run(p, std::hint::black_box(&data.input), &prepared, std::hint::black_box(&mut y)));
        let call = Call::new(
            Runner::Kernel(kernel.id()),
            Some(Problem::Mlpconv(*p)),
            threads,
            (p.flops() as f64, p.bytes() as f64),
            body,
        );
        Ok(Call { prepare_seconds: Some(prepare_seconds), ..call })
    }

    /// Int8 `kernel` on `p` with `data` (which the calls timed beside it may share). Its rows
    /// count two operations per multiply-accumulate, as the f32 rows count FLOPs, and have no
    /// peak share yet.
    pub fn qconv_on(
        kernel: &'a dyn QConv1x1Kernel,
        p: &'a QConv1x1Problem,
        data: Arc<QConvData>,
        threads: usize,
    ) -> Result<Self> {
        let mut y = vec![0u8; p.conv().output_len()];
        let start = Instant::now();
        let prepared = kernel.prepare(p, &data.layer)?;
        let prepare_seconds = start.elapsed().as_secs_f64();
        let threads = kernel.info().threads.used_in(threads);
        with_threads(threads, || kernel.run(p, &data.input, &prepared, None, &mut y))??;
        let body = move || {
            drop(kernel.run(p, std::hint::black_box(&data.input), &prepared, None, std::hint::black_box(&mut y)))
        };
        let work = (2.0 * p.macs() as f64, p.bytes() as f64);
        let call = Call::new(Runner::Kernel(kernel.id()), Some(Problem::QConv1x1(*p)), threads, work, body);
        Ok(Call { prepare_seconds: Some(prepare_seconds), ..call })
    }

    /// Int8 GAP `kernel` on `p` with input `x` (which a read pass timed beside it may share).
    /// Its rows count one add per input value, as the f32 GAP rows do.
    pub fn qgap_on(kernel: &'a dyn QGapKernel, p: &'a QGapProblem, x: Arc<Vec<u8>>, threads: usize) -> Result<Self> {
        let mut y = vec![0u8; p.gap().output_len()];
        let threads = kernel.info().threads.used_in(threads);
        with_threads(threads, || kernel.run(p, &x, None, &mut y))??;
        let body = move || drop(kernel.run(p, std::hint::black_box(&x), None, std::hint::black_box(&mut y)));
        let work = (p.gap().input_len() as f64, p.bytes() as f64);
        let call = Call::new(Runner::Kernel(kernel.id()), Some(Problem::QGap(*p)), threads, work, body);
        Ok(Call { limit: (Limit::ReadBandwidth, None), ..call })
    }

    /// Any registered kernel on a problem of its operation, on `data` (the problem's seeded
    /// data, [`ProblemData::seeded`], which the calls timed beside it may share).
    pub fn kernel(kernel: AnyKernel<'a>, p: &'a Problem, data: &ProblemData, threads: usize) -> Result<Self> {
        match (p, kernel, data) {
            (Problem::Conv1x1(p), AnyKernel::Conv1x1(k), ProblemData::Conv(d)) => {
                Call::conv_on(k, p, d.clone(), threads)
            }
            (Problem::Gap(p), AnyKernel::Gap(k), ProblemData::Gap(x)) => Call::gap_on(k, p, x.clone(), threads),
            (Problem::Mlpconv(p), AnyKernel::Mlpconv(k), ProblemData::Chain(d)) => {
                Call::mlpconv_on(k, p, d.clone(), threads)
            }
            (Problem::QConv1x1(p), AnyKernel::QConv1x1(k), ProblemData::QConv(d)) => {
                Call::qconv_on(k, p, d.clone(), threads)
            }
            (Problem::QGap(p), AnyKernel::QGap(k), ProblemData::QGap(x)) => Call::qgap_on(k, p, x.clone(), threads),
            _ => Err(NinError::Shape {
                what: p.to_string(),
                reason: format!(
                    "{} is a {} kernel, but this is a {} problem",
                    kernel.info().name,
                    kernel.info().op,
                    p.op()
                ),
            }),
        }
    }

    /// The same call with `limit`'s value (GFLOP/s or GB/s, for the call's thread count)
    /// filling its rows' `peak_fraction`.
    pub fn against(self, limit: Option<f64>) -> Self {
        Call { limit: (self.limit.0, limit), ..self }
    }

    /// The row of a timing of this call.
    pub fn row(&self, t: &Timing) -> RunRow {
        let mut r = RunRow::from_timing(self.runner.clone(), self.problem, self.threads, self.flops, self.bytes, t);
        r.peak_fraction = self.limit.1.map(|limit| match self.limit.0 {
            Limit::FmaPeak => r.gflops / limit,
            Limit::ReadBandwidth => r.gbps / limit,
        });
        r.prepare_seconds = self.prepare_seconds;
        r
    }

    /// Makes `calls` calls.
    /// `calls` calls, timed.
    fn calls(&mut self, calls: usize) -> Duration {
        crate::timing::time_calls(calls, || (self.body)())
    }
}

/// Times `call` alone in a pool of its threads ([`measure`]) and returns its row.
pub fn time(call: &mut Call, budget: TimingBudget) -> Result<RunRow> {
    let timing = with_threads(call.threads, || measure(budget, || (call.body)()))?;
    Ok(call.row(&timing))
}

/// Calls timed against each other ([`time_in_turn`]).
pub struct InTurn {
    /// Each call's row, in the calls' order (without `paired_speedup`).
    pub rows: Vec<RunRow>,
    /// Each round's seconds per call: per-round ratios come from here.
    pub rounds: Rounds,
}

impl InTurn {
    /// The median over rounds of call `other`'s time over call `i`'s: the speed-up of `i`.
    pub fn speedup(&self, i: usize, other: usize) -> f64 {
        self.rounds.speedup(i, other)
    }

    /// Both rows of a pair, the first with its `paired_speedup` over the second.
    pub fn pair_rows(self) -> [RunRow; 2] {
        let speedup = self.speedup(0, 1);
        let [first, second]: [RunRow; 2] = self.rows.try_into().expect("a pair");
        [RunRow { paired_speedup: Some(speedup), ..first }, second]
    }
}

/// Times `calls` against each other, one sample of each in every round ([`measure_in_turn`]),
/// so that their ratios are not at the mercy of the machine's drift between two separate
/// measurements: two medians measured seconds apart on a shared machine can differ by 20% for
/// one kernel alone. Each call runs in a pool of its own thread count; when they all have the
/// same, the whole measurement enters that pool once, else each sample enters its call's
/// pool ([`HotPool`]: its workers spin only while a sample of its own call runs, so that they
/// never slow a call of another pool). The measuring time is the budget's per pair of calls.
pub fn time_in_turn(calls: &mut [Call], budget: TimingBudget) -> Result<InTurn> {
    let budget = TimingBudget { measure: budget.measure * calls.len().max(2) as u32 / 2, ..budget };
    let mut counts: Vec<usize> = calls.iter().map(|c| c.threads.max(1)).collect();
    counts.sort_unstable();
    counts.dedup();
    let pools = counts.iter().map(|&n| pool(n)).collect::<Result<Vec<_>>>()?;
    let rounds = if let [only] = &pools[..] {
        only.install(|| {
            let mut runners: Vec<Box<dyn FnMut(usize) -> Duration + Send + '_>> = calls
                .iter_mut()
                .map(|c| Box::new(move |n| c.calls(n)) as Box<dyn FnMut(usize) -> Duration + Send>)
                .collect();
            let mut runners: Vec<&mut dyn FnMut(usize) -> Duration> =
                runners.iter_mut().map(|r| r as &mut dyn FnMut(usize) -> Duration).collect();
            measure_in_turn(budget, &mut runners)
        })
    } else {
        let mut runners: Vec<Box<dyn FnMut(usize) -> Duration + '_>> = calls
            .iter_mut()
            .map(|c| {
                let pool = &pools[counts.binary_search(&c.threads.max(1)).expect("a pool per count")];
                Box::new(move |n| pool.install(|| c.calls(n))) as Box<dyn FnMut(usize) -> Duration>
            })
            .collect();
        let mut runners: Vec<&mut dyn FnMut(usize) -> Duration> =
            runners.iter_mut().map(|r| r as &mut dyn FnMut(usize) -> Duration).collect();
        measure_in_turn(budget, &mut runners)
    };
    let rows = calls.iter().enumerate().map(|(i, c)| c.row(&rounds.timing(i))).collect();
    Ok(InTurn { rows, rounds })
}

/// A rayon pool of `threads` threads, spinning while each measurement in it runs.
fn pool(threads: usize) -> Result<HotPool> {
    HotPool::new(threads)
}
