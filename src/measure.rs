//! Timing one kernel on one problem, as `nin-bench run` and the report do it.
//!
//! Inputs come from a seeded generator, weights are prepared once (outside the timing, timed on
//! their own), each kernel runs inside a rayon pool of the requested size, and the result is a
//! row with the figures of the `run --json` contract (docs/architecture.md).

use std::time::Instant;

use pulp::{Simd, WithSimd};
use rayon::prelude::*;
use serde::Serialize;

use crate::conv1x1::Conv1x1Kernel;
use crate::error::{NinError, Result};
use crate::gap::GapKernel;
use crate::mlpconv::{MlpconvKernel, PreparedChain};
use crate::peers::Peer;
use crate::problem::{Conv1x1Problem, GapProblem, MlpconvProblem, Problem};
use crate::registry::AnyKernel;
use crate::tensor::{AlignedBuf, seeded_uniform, zeroed};
use crate::timing::{Timing, TimingBudget, measure, measure_paired, measure_rounds};

/// One timed kernel × problem.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// Kernel name.
    pub kernel: String,
    /// Problem string.
    pub shape: String,
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

/// Runs `f` on a rayon pool of `threads` threads.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| NinError::Shape {
        what: "thread pool".to_string(),
        reason: format!("cannot start {threads} threads: {e}"),
    })?;
    Ok(pool.install(f))
}

/// The thread counts benchmarks and the report use: 1, and all cores when there are more.
pub fn thread_counts() -> Vec<usize> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    if all > 1 { vec![1, all] } else { vec![1] }
}

/// Threads a kernel actually uses in a pool of `threads`.
pub fn effective_threads(kernel_threads: crate::Threads, threads: usize) -> usize {
    kernel_threads.used_in(threads)
}

impl RunRow {
    /// A row from a timing of `flops` FLOPs moving `bytes` bytes per call; `peak_fraction` and
    /// `prepare_seconds` left empty.
    pub fn from_timing(kernel: &str, shape: String, threads: usize, flops: f64, bytes: f64, t: &Timing) -> RunRow {
        RunRow {
            kernel: kernel.to_string(),
            shape,
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

/// Prepares and runs `kernel` on `p` once and checks the output against `expected`: the worst
/// `|error| / bound` on success, else why it failed (an error of the kernel, or the mismatch).
/// What `verify` and the report run before timing anything. The output starts as NaN, so an
/// element the kernel forgets to write cannot pass.
pub fn check_conv(
    kernel: &dyn Conv1x1Kernel,
    p: &Conv1x1Problem,
    (x, w, bias): (&[f32], &[f32], Option<&[f32]>),
    expected: &crate::reference::Reference,
) -> std::result::Result<f64, String> {
    let mut y = zeroed(p.output_len());
    kernel.prepare(p, w, bias).and_then(|prepared| kernel.run(p, x, &prepared, &mut y)).map_err(|e| e.to_string())?;
    expected.check(&y).map_err(|m| m.to_string())?;
    Ok(expected.worst_ratio(&y))
}

/// [`check_conv`] for a GAP kernel.
pub fn check_gap(
    kernel: &dyn GapKernel,
    p: &GapProblem,
    x: &[f32],
    expected: &crate::reference::Reference,
) -> std::result::Result<f64, String> {
    let mut y = vec![f32::NAN; p.output_len()];
    kernel.run(p, x, &mut y).map_err(|e| e.to_string())?;
    expected.check(&y).map_err(|m| m.to_string())?;
    Ok(expected.worst_ratio(&y))
}

/// The seeded input, weights (Cout×Cin) and bias (empty without bias) every conv timing uses,
/// so what the report verifies is what it times.
pub fn conv_data(p: &Conv1x1Problem) -> (AlignedBuf, AlignedBuf, AlignedBuf) {
    (seeded_uniform(p.input_len(), 1), seeded_uniform(p.weights_len(), 2), seeded_uniform(p.bias_len(), 3))
}

/// Bytes a conv kernel must move at least: input, weights, bias, output, once each.
pub fn conv_bytes(p: &Conv1x1Problem) -> f64 {
    4.0 * (p.input_len() + p.weights_len() + p.bias_len() + p.output_len()) as f64
}

/// Times `kernel` on `p` with `threads` threads. `fma_peak_gflops`, if given, is the peak for
/// that thread count and fills `peak_fraction`.
pub fn time_conv(
    kernel: &dyn Conv1x1Kernel,
    p: &Conv1x1Problem,
    threads: usize,
    budget: TimingBudget,
    fma_peak_gflops: Option<f64>,
) -> Result<RunRow> {
    let (x, w, b) = conv_data(p);
    let bias = p.bias.then_some(&b[..]);
    let mut y = zeroed(p.output_len());
    let threads = effective_threads(kernel.info().threads, threads);
    let start = Instant::now();
    let prepared = kernel.prepare(p, &w, bias)?;
    let prepare_seconds = start.elapsed().as_secs_f64();
    kernel.run(p, &x, &prepared, &mut y)?; // checks once; the timed loop cannot fail
    let timing = with_threads(threads, || {
        measure(budget, || {
            let _ = kernel.run(p, std::hint::black_box(&x), &prepared, std::hint::black_box(&mut y));
        })
    })?;
    let mut r = RunRow::from_timing(kernel.name(), p.to_string(), threads, p.flops() as f64, conv_bytes(p), &timing);
    r.peak_fraction = fma_peak_gflops.map(|peak| r.gflops / peak);
    r.prepare_seconds = Some(prepare_seconds);
    Ok(r)
}

/// A kernel's share of the machine's limit, timed in turn with the loop that measures the limit:
/// the FMA peak for a conv kernel ([`time_conv_against_peak`]), the read bandwidth over the
/// same input for a GAP kernel ([`time_gap_against_bandwidth`]).
#[derive(Debug, Clone, Serialize)]
pub struct PeakShare {
    /// Problem.
    pub shape: String,
    /// Kernel.
    pub kernel: String,
    /// Threads (1: the peak loop runs on one thread).
    pub threads: usize,
    /// Median over rounds of the kernel's GFLOP/s (GAP: GB/s) over the limit loop's in the same
    /// round.
    pub median: f64,
    /// The kernel's 90th-percentile speed over the limit loop's, both over the same rounds.
    pub p90: f64,
    /// Conv only: the same two figures for our microkernel on data that stays in L1, timed in
    /// the same rounds (see [`time_conv_against_peak`]): the share of the peak the tile's own
    /// loop reached in those moments, a ceiling for a layer's share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l1_tile: Option<L1TileShare>,
}

/// The share of the FMA peak our microkernel reached on data in L1 ([`PeakShare::l1_tile`]).
#[derive(Debug, Clone, Serialize)]
pub struct L1TileShare {
    /// The register tile, MR×NR (`6x16` with AVX2).
    pub tile: String,
    /// Median over rounds of the tile's GFLOP/s over the peak loop's.
    pub median: f64,
    /// The tile's 90th-percentile speed over the loop's.
    pub p90: f64,
}

impl PeakShare {
    /// The share from a paired timing of a kernel (`tk`) against the limit loop (`tl`), 1
    /// thread, where `ratios` are the per-round times of the loop over the kernel's and `work`
    /// is the kernel's work per call over the loop's (FLOPs or bytes).
    fn from_rounds(shape: String, kernel: &str, work: f64, (tk, tl, ratios): (&Timing, &Timing, Vec<f64>)) -> Self {
        let (median, p90) = share_of_limit(work, Timing { samples: ratios, batch: 1 }.median(), tk, tl);
        PeakShare { shape, kernel: kernel.to_string(), threads: 1, median, p90, l1_tile: None }
    }
}

/// A runner's share of the limit loop's speed, both timed in the same rounds: `work` is the
/// runner's work per call over the loop's, `loop_over_runner` the median over rounds of the
/// loop's time over the runner's, `t` and `t_limit` their timings. Returns the median share
/// and the runner's p90 speed over the loop's p90.
fn share_of_limit(work: f64, loop_over_runner: f64, t: &Timing, t_limit: &Timing) -> (f64, f64) {
    // Per round: (W / t) / (L / t_limit) = (W / L) · (t_limit / t).
    (work * loop_over_runner, work * t_limit.p10() / t.p10())
}

/// Times `kernel` on `p` on 1 thread against the FMA-peak loop ([`crate::machine::fma_burst`])
/// and our microkernel on data in L1 ([`L1TileShare`]), a sample of each of the three in every
/// round, and returns its share of the peak (and the tile's).
///
/// A machine shared with other tenants has slow spells lasting seconds: here `blocked-simd` on
/// 1x256x27x27:256 measured 90.3 GFLOP/s (p90 91.3) in one run and 65.7 (p90 68.6) in the next,
/// against one peak measured at the start. A spell slows the peak loop as much as the kernel,
/// so the ratio within a round says how close the kernel comes to what the core delivers.
///
/// The tile's share says how close any kernel built on it can come: per step of K it issues
/// 12 FMAs, 2 loads, 6 broadcasts and the loop's own instructions where the peak loop issues
/// FMAs alone, and on a core shared with another tenant the two need not slow down alike. Six
/// runs of the tile alone against the loop, a minute here: 75–90% at the median, 76–99% at p90.
pub fn time_conv_against_peak(
    kernel: &dyn Conv1x1Kernel,
    p: &Conv1x1Problem,
    budget: TimingBudget,
) -> Result<PeakShare> {
    let (x, w, b) = conv_data(p);
    let bias = p.bias.then_some(&b[..]);
    let mut y = zeroed(p.output_len());
    let prepared = kernel.prepare(p, &w, bias)?;
    kernel.run(p, &x, &prepared, &mut y)?; // checks once; the timed loop cannot fail
    let mut l1 = L1TileData::new();
    let (mut burst_flops, mut tile_flops) = (0.0, 0.0);
    let rounds = with_threads(1, || {
        let calls = |calls: usize, f: &mut dyn FnMut()| (0..calls).for_each(|_| f());
        measure_rounds(
            // Three runners share the rounds: 1.5 times the time keeps the rounds of a pair.
            TimingBudget { measure: budget.measure * 3 / 2, ..budget },
            [
                &mut |n| {
                    calls(n, &mut || {
                        let _ = kernel.run(p, std::hint::black_box(&x), &prepared, std::hint::black_box(&mut y));
                    })
                },
                &mut |n| calls(n, &mut || burst_flops = crate::machine::fma_burst()),
                &mut |n| calls(n, &mut || tile_flops = l1.run()),
            ],
        )
    })?;
    // Runner i's share of the peak loop (runner 1), FLOPs per call `flops`.
    let share_of = |i: usize, flops: f64| {
        let loop_over_runner = rounds.median_of(|r| r[1] / r[i]);
        share_of_limit(flops / burst_flops, loop_over_runner, &rounds.timing(i), &rounds.timing(1))
    };
    let (median, p90) = share_of(0, p.flops() as f64);
    let (l1_median, l1_p90) = share_of(2, tile_flops);
    Ok(PeakShare {
        shape: p.to_string(),
        kernel: kernel.name().to_string(),
        threads: 1,
        median,
        p90,
        l1_tile: Some(L1TileShare {
            tile: crate::conv1x1::blocked_simd::tile_name(l1.policy),
            median: l1_median,
            p90: l1_p90,
        }),
    })
}

/// Reduction length of the [`L1TileShare`] tile: the A panel (MR × 256, 6 KiB) and the B block
/// (256 × NR, 16 KiB at NR = 16) fit the 32 KiB L1 together.
const L1_TILE_K: usize = 256;

/// Tile calls per call of [`L1TileData::run`]: 16 tiles of 256 steps, about 25 µs at the
/// peak, as long as a burst of the peak loop.
const L1_TILE_CALLS: usize = 16;

/// One A panel and one B block for the microkernel, small enough to stay in L1, and its C tile.
struct L1TileData {
    policy: crate::simd::SimdPolicy,
    a: AlignedBuf,
    b: AlignedBuf,
    c: AlignedBuf,
}

impl L1TileData {
    fn new() -> Self {
        use crate::gemm::microkernel::{MR, NV};
        let policy = crate::simd::SimdPolicy::Auto;
        let nr = NV * policy.f32_lanes();
        let mut a = seeded_uniform(L1_TILE_K * MR, 1);
        // Values of at most 1/K in A keep every sum of K products small.
        a.iter_mut().for_each(|v| *v /= L1_TILE_K as f32);
        L1TileData { policy, a, b: seeded_uniform(L1_TILE_K * nr, 2), c: zeroed(MR * nr) }
    }

    /// [`L1_TILE_CALLS`] tiles, each overwriting C; returns their FLOPs.
    fn run(&mut self) -> f64 {
        let L1TileData { policy, a, b, c } = self;
        policy.dispatch(L1Tiles { a, b: std::hint::black_box(b), c })
    }
}

/// [`L1TileData::run`] inside pulp's dispatch, so the microkernel is compiled with the
/// selected target features.
struct L1Tiles<'a> {
    a: &'a [f32],
    b: &'a [f32],
    c: &'a mut [f32],
}

impl WithSimd for L1Tiles<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        use crate::gemm::microkernel::{BiasAlong, Epilogue, MR, Microkernel, PulpMicrokernel};
        let mk = PulpMicrokernel(simd);
        let nr = mk.nr();
        assert!(self.a.len() >= L1_TILE_K * MR && self.b.len() >= L1_TILE_K * nr && self.c.len() >= MR * nr);
        for _ in 0..L1_TILE_CALLS {
            // SAFETY: `a` holds K·MR values, `b` K rows of nr values nr apart, `c` MR rows of
            // nr values (all checked above); no bias.
            unsafe {
                mk.tile(
                    L1_TILE_K,
                    self.a.as_ptr(),
                    self.b.as_ptr(),
                    nr,
                    self.c.as_mut_ptr(),
                    nr,
                    MR,
                    nr,
                    Epilogue::store(BiasAlong::None, false),
                );
            }
        }
        (L1_TILE_CALLS * 2 * MR * nr * L1_TILE_K) as f64
    }
}

/// Times GAP `kernel` on `p` on 1 thread against a read pass over the same input
/// ([`crate::machine::read_pass`]), a sample of each in turn, and returns its share of that
/// read bandwidth (GB/s as [`time_gap`] counts them, input and output, over the pass's input
/// bytes). The pass reads the kernel's own input, so both find the same data in the same
/// cache level: a 12.5 MiB input shares the L3 with other tenants, and `gap-simd` on
/// 32x512x14x14 measured 51.8% and 77.7% of a bandwidth probed apart, in two runs a minute
/// apart.
pub fn time_gap_against_bandwidth(kernel: &dyn GapKernel, p: &GapProblem, budget: TimingBudget) -> Result<PeakShare> {
    let x = seeded_uniform(p.input_len(), 1);
    let mut y = zeroed(p.output_len());
    kernel.run(p, &x, &mut y)?; // checks once; the timed loop cannot fail
    let (tk, tp, ratios) = with_threads(1, || {
        measure_paired(
            budget,
            || {
                let _ = kernel.run(p, std::hint::black_box(&x), std::hint::black_box(&mut y));
            },
            || {
                std::hint::black_box(crate::machine::read_pass(std::hint::black_box(&x)));
            },
        )
    })?;
    // Per round: (bytes / t_kernel) / (input bytes / t_pass).
    let bytes_ratio = p.bytes() as f64 / (4 * p.input_len()) as f64;
    Ok(PeakShare::from_rounds(p.to_string(), kernel.name(), bytes_ratio, (&tk, &tp, ratios)))
}

/// A rayon kernel's speed-up from the threads, and the machine's own in the same moments
/// ([`time_conv_scaling`]).
#[derive(Debug, Clone, Serialize)]
pub struct ThreadScaling {
    /// Problem.
    pub shape: String,
    /// Kernel.
    pub kernel: String,
    /// Threads, against 1.
    pub threads: usize,
    /// Median over rounds of the kernel's 1-thread time over its `threads` time.
    pub speedup: f64,
    /// The same median for the FMA-peak loop in the same rounds: how much the threads gave a
    /// loop that needs no memory at all. On a machine whose other cores are shared with other
    /// tenants it falls well below `threads`.
    pub fma_loop_speedup: f64,
    /// Median over rounds of the kernel's speed-up over the loop's in the same round: 1 when
    /// the kernel scales as well as the machine lets any code scale.
    pub relative: f64,
}

/// [`crate::machine::fma_burst`]s per thread in one call of the FMA-peak loop timed beside a
/// kernel in [`time_conv_scaling`]: 8 bursts of 30 µs each, so that a call, like a kernel's
/// call, ends in a join whose wait for the slower thread counts.
const SCALING_LOOP_BURSTS_PER_THREAD: usize = 8;

/// Times a rayon `kernel` on `p` with `threads` threads against itself on 1 thread, and the
/// FMA-peak loop on the same two pools, a sample of each of the four in every round: the
/// kernel's speed-up from the threads, and the speed-up the machine gave the loop in the same
/// moments. Each sample enters its thread pool once, not once per call.
///
/// Here the second core is shared with other tenants: rayon-tiled on 1x192x32x32:160 measured
/// 1.02×, 1.29× and 1.84× from 2 threads in three runs of the same binary, and the FMA-peak
/// loop, timed alongside, 0.99–1.94× from one minute to the next, with the kernel's speed-up
/// over the loop's at 0.94–1.24.
pub fn time_conv_scaling(
    kernel: &dyn Conv1x1Kernel,
    p: &Conv1x1Problem,
    threads: usize,
    budget: TimingBudget,
) -> Result<ThreadScaling> {
    let pool = |n: usize| {
        rayon::ThreadPoolBuilder::new().num_threads(n).build().map_err(|e| NinError::Shape {
            what: "thread pool".to_string(),
            reason: format!("cannot start {n} threads: {e}"),
        })
    };
    let threads = threads.max(1);
    let (one, many) = (pool(1)?, pool(threads)?);
    let (x, w, b) = conv_data(p);
    let bias = p.bias.then_some(&b[..]);
    let (mut y1, mut y2) = (zeroed(p.output_len()), zeroed(p.output_len()));
    let prepared = kernel.prepare(p, &w, bias)?;
    kernel.run(p, &x, &prepared, &mut y1)?; // checks once; the timed loop cannot fail
    let run_in = |pool: &rayon::ThreadPool, y: &mut [f32], calls: usize| {
        pool.install(|| {
            for _ in 0..calls {
                let _ = kernel.run(p, std::hint::black_box(&x), &prepared, std::hint::black_box(&mut *y));
            }
        })
    };
    // The loop's call has the same bursts on any pool: its speed-up is its 1-thread time over
    // its `threads` time, as the kernel's.
    let bursts = SCALING_LOOP_BURSTS_PER_THREAD * threads;
    let loop_in = |pool: &rayon::ThreadPool, calls: usize| {
        pool.install(|| {
            for _ in 0..calls {
                (0..bursts).into_par_iter().for_each(|_| {
                    std::hint::black_box(crate::machine::fma_burst());
                });
            }
        })
    };
    let rounds = measure_rounds(
        budget,
        [
            &mut |calls| run_in(&many, &mut y2, calls),
            &mut |calls| run_in(&one, &mut y1, calls),
            &mut |calls| loop_in(&many, calls),
            &mut |calls| loop_in(&one, calls),
        ],
    );
    Ok(ThreadScaling {
        shape: p.to_string(),
        kernel: kernel.name().to_string(),
        threads,
        speedup: rounds.median_of(|[k_many, k_one, _, _]| k_one / k_many),
        fma_loop_speedup: rounds.median_of(|[_, _, l_many, l_one]| l_one / l_many),
        relative: rounds.median_of(|[k_many, k_one, l_many, l_one]| (k_one / k_many) / (l_one / l_many)),
    })
}

/// Times a GAP `kernel` on `p`. `read_gbps`, if given, is the read bandwidth for the input's
/// working set and fills `peak_fraction`.
pub fn time_gap(
    kernel: &dyn GapKernel,
    p: &GapProblem,
    threads: usize,
    budget: TimingBudget,
    read_gbps: Option<f64>,
) -> Result<RunRow> {
    let x = seeded_uniform(p.input_len(), 1);
    let mut y = zeroed(p.output_len());
    let threads = effective_threads(kernel.info().threads, threads);
    kernel.run(p, &x, &mut y)?;
    let timing = with_threads(threads, || {
        measure(budget, || {
            let _ = kernel.run(p, std::hint::black_box(&x), std::hint::black_box(&mut y));
        })
    })?;
    let mut r =
        RunRow::from_timing(kernel.name(), p.to_string(), threads, p.input_len() as f64, p.bytes() as f64, &timing);
    r.peak_fraction = read_gbps.map(|bw| r.gbps / bw);
    Ok(r)
}

/// Seeded input, weights and biases of a chain, one matrix and one bias per layer.
#[derive(Debug, Clone)]
pub struct ChainData {
    /// Input, N×C×H×W.
    pub input: AlignedBuf,
    /// Layer ℓ's Kℓ×Cℓ weights.
    pub weights: Vec<AlignedBuf>,
    /// Layer ℓ's Kℓ biases.
    pub biases: Vec<AlignedBuf>,
}

impl ChainData {
    /// Uniform values in [-1, 1) from seeds `seed`, `seed + 1`, ... (input, then per layer its
    /// weights and bias).
    pub fn seeded(p: &MlpconvProblem, seed: u64) -> Self {
        let layers: Vec<_> = p.layers().map(|l| l.expect("validated chain")).collect();
        let weights = layers.iter().zip(seed + 1..).map(|(l, s)| seeded_uniform(l.weights_len(), 2 * s)).collect();
        let biases = layers.iter().zip(seed + 1..).map(|(l, s)| seeded_uniform(l.cout, 2 * s + 1)).collect();
        Self { input: seeded_uniform(p.input_len(), seed), weights, biases }
    }

    /// The weights as slices, for [`MlpconvKernel::prepare`].
    pub fn weight_slices(&self) -> Vec<&[f32]> {
        self.weights.iter().map(|w| &w[..]).collect()
    }

    /// The biases as slices.
    pub fn bias_slices(&self) -> Vec<&[f32]> {
        self.biases.iter().map(|b| &b[..]).collect()
    }

    /// The f64 reference of the chain on this data.
    pub fn reference(&self, p: &MlpconvProblem) -> crate::reference::Reference {
        crate::reference::mlpconv(p, &self.input, &self.weight_slices(), &self.bias_slices())
    }
}

/// [`check_conv`] for a chain kernel.
pub fn check_mlpconv(
    kernel: &dyn MlpconvKernel,
    p: &MlpconvProblem,
    data: &ChainData,
    expected: &crate::reference::Reference,
) -> std::result::Result<f64, String> {
    let mut y = vec![f32::NAN; p.output_len()];
    kernel
        .prepare(p, &data.weight_slices(), &data.bias_slices())
        .and_then(|prepared| kernel.run(p, &data.input, &prepared, &mut y))
        .map_err(|e| e.to_string())?;
    expected.check(&y).map_err(|m| m.to_string())?;
    Ok(expected.worst_ratio(&y))
}

/// Seed of the data [`time_mlpconv`] times (and the report verifies).
pub const CHAIN_SEED: u64 = 1;

/// Times a chain `kernel` on `p` with `threads` threads; `fma_peak_gflops`, if given, fills
/// `peak_fraction`.
pub fn time_mlpconv(
    kernel: &dyn MlpconvKernel,
    p: &MlpconvProblem,
    threads: usize,
    budget: TimingBudget,
    fma_peak_gflops: Option<f64>,
) -> Result<RunRow> {
    let data = ChainData::seeded(p, CHAIN_SEED);
    let mut y = zeroed(p.output_len());
    let threads = effective_threads(kernel.info().threads, threads);
    let start = Instant::now();
    let prepared = kernel.prepare(p, &data.weight_slices(), &data.bias_slices())?;
    let prepare_seconds = start.elapsed().as_secs_f64();
    let x = &data.input[..];
    let timing = with_threads(threads, || {
        // Once before timing: checks the lengths, and fills the per-thread workspaces.
        kernel.run(p, x, &prepared, &mut y)?;
        Ok::<_, NinError>(measure(budget, || {
            let _ = kernel.run(p, std::hint::black_box(x), &prepared, std::hint::black_box(&mut y));
        }))
    })??;
    let mut r = RunRow::from_timing(kernel.name(), p.to_string(), threads, p.flops() as f64, p.bytes() as f64, &timing);
    r.peak_fraction = fma_peak_gflops.map(|peak| r.gflops / peak);
    r.prepare_seconds = Some(prepare_seconds);
    Ok(r)
}

/// Times two chain kernels on `p` against each other ([`measure_paired`]: samples in turn), so
/// their ratio is not at the mercy of the machine's drift between two separate measurements.
/// Returns both rows and the median, over rounds, of `second`'s time over `first`'s (the
/// speed-up of `first`).
pub fn time_mlpconv_paired(
    [first, second]: [&dyn MlpconvKernel; 2],
    p: &MlpconvProblem,
    threads: usize,
    budget: TimingBudget,
    fma_peak_gflops: Option<f64>,
) -> Result<([RunRow; 2], f64)> {
    let data = ChainData::seeded(p, CHAIN_SEED);
    let (mut y1, mut y2) = (zeroed(p.output_len()), zeroed(p.output_len()));
    let threads =
        effective_threads(first.info().threads, threads).max(effective_threads(second.info().threads, threads));
    let prepare = |k: &dyn MlpconvKernel| -> Result<(PreparedChain, f64)> {
        let start = Instant::now();
        let prepared = k.prepare(p, &data.weight_slices(), &data.bias_slices())?;
        Ok((prepared, start.elapsed().as_secs_f64()))
    };
    let ((w1, prep1), (w2, prep2)) = (prepare(first)?, prepare(second)?);
    let x = &data.input[..];
    let (t1, t2, ratios) = with_threads(threads, || {
        // Once before timing: checks the lengths, and fills the per-thread workspaces.
        first.run(p, x, &w1, &mut y1)?;
        second.run(p, x, &w2, &mut y2)?;
        Ok::<_, NinError>(measure_paired(
            budget,
            || {
                let _ = first.run(p, std::hint::black_box(x), &w1, std::hint::black_box(&mut y1));
            },
            || {
                let _ = second.run(p, std::hint::black_box(x), &w2, std::hint::black_box(&mut y2));
            },
        ))
    })??;
    let row = |k: &dyn MlpconvKernel, t: &Timing, prep: f64| {
        let mut r = RunRow::from_timing(k.name(), p.to_string(), threads, p.flops() as f64, p.bytes() as f64, t);
        r.peak_fraction = fma_peak_gflops.map(|peak| r.gflops / peak);
        r.prepare_seconds = Some(prep);
        r
    };
    let median = Timing { samples: ratios, batch: 1 }.median();
    Ok(([row(first, &t1, prep1), row(second, &t2, prep2)], median))
}

/// Times two kernels of the same operation on `p` against each other, samples in turn
/// ([`measure_paired`]): `run --against`. Returns both rows, the first with its
/// `paired_speedup` over the second. `peak` is the FMA peak (conv, chains) or the read
/// bandwidth (GAP) for the row's `peak_fraction`.
pub fn time_pair(
    first: &AnyKernel,
    second: &AnyKernel,
    p: &Problem,
    threads: usize,
    budget: TimingBudget,
    peak: Option<f64>,
) -> Result<[RunRow; 2]> {
    let threads =
        effective_threads(first.info().threads, threads).max(effective_threads(second.info().threads, threads));
    let shape = p.to_string();
    let (timings, flops, bytes) = match (p, first, second) {
        (Problem::Conv1x1(p), AnyKernel::Conv1x1(a), AnyKernel::Conv1x1(b)) => {
            let runners = [ConvRunner::Kernel(a.as_ref()), ConvRunner::Kernel(b.as_ref())];
            return time_conv_pair_rows(runners, p, threads, budget, peak);
        }
        (Problem::Gap(p), AnyKernel::Gap(a), AnyKernel::Gap(b)) => {
            let x = seeded_uniform(p.input_len(), 1);
            let (mut ya, mut yb) = (zeroed(p.output_len()), zeroed(p.output_len()));
            let t = with_threads(threads, || {
                a.run(p, &x, &mut ya)?;
                b.run(p, &x, &mut yb)?;
                Ok::<_, NinError>(measure_paired(
                    budget,
                    || drop(a.run(p, std::hint::black_box(&x), std::hint::black_box(&mut ya))),
                    || drop(b.run(p, std::hint::black_box(&x), std::hint::black_box(&mut yb))),
                ))
            })??;
            (t, p.input_len() as f64, p.bytes() as f64)
        }
        (Problem::Mlpconv(p), AnyKernel::Mlpconv(a), AnyKernel::Mlpconv(b)) => {
            let ([mut ra, rb], speedup) = time_mlpconv_paired([a.as_ref(), b.as_ref()], p, threads, budget, None)?;
            let fraction = |r: &RunRow| peak.map(|peak| r.gflops / peak);
            ra.peak_fraction = fraction(&ra);
            ra.paired_speedup = Some(speedup);
            let rb = RunRow { peak_fraction: fraction(&rb), ..rb };
            return Ok([ra, rb]);
        }
        _ => {
            return Err(NinError::Shape {
                what: shape,
                reason: format!(
                    "{} and {} must both be kernels of this problem's operation ({})",
                    first.info().name,
                    second.info().name,
                    p.op()
                ),
            });
        }
    };
    let (ta, tb, ratios) = timings;
    let gap = matches!(p, Problem::Gap(_));
    let row = |k: &AnyKernel, t: &Timing| {
        let mut r = RunRow::from_timing(k.info().name, shape.clone(), threads, flops, bytes, t);
        r.peak_fraction = peak.map(|peak| if gap { r.gbps / peak } else { r.gflops / peak });
        r
    };
    let mut first_row = row(first, &ta);
    first_row.paired_speedup = Some(Timing { samples: ratios, batch: 1 }.median());
    Ok([first_row, row(second, &tb)])
}

/// Times two conv runners against each other ([`time_conv_pair`]) and returns their rows, the
/// first with its `paired_speedup` over the second: `run --against` on a conv problem, where
/// the second may be a peer library. `peak` is the FMA peak for `peak_fraction`.
pub fn time_conv_pair_rows(
    runners: [ConvRunner; 2],
    p: &Conv1x1Problem,
    threads: usize,
    budget: TimingBudget,
    peak: Option<f64>,
) -> Result<[RunRow; 2]> {
    let (t1, t2, speedup) = time_conv_pair(runners, p, threads, budget)?;
    let row = |r: &ConvRunner, t: &Timing| {
        let mut row = RunRow::from_timing(r.name(), p.to_string(), threads, p.flops() as f64, conv_bytes(p), t);
        row.peak_fraction = peak.map(|peak| row.gflops / peak);
        row
    };
    let first = RunRow { paired_speedup: Some(speedup), ..row(&runners[0], &t1) };
    Ok([first, row(&runners[1], &t2)])
}

/// What computes a conv problem in a paired timing: one of our kernels, or a peer library.
#[derive(Clone, Copy)]
pub enum ConvRunner<'a> {
    /// A registered kernel (prepared once, outside the timing).
    Kernel(&'a dyn Conv1x1Kernel),
    /// A GEMM library, computing the product without bias and ReLU.
    Peer(Peer),
}

impl ConvRunner<'_> {
    /// The runner's name in reports.
    pub fn name(&self) -> &str {
        match self {
            ConvRunner::Kernel(k) => k.name(),
            ConvRunner::Peer(q) => q.name(),
        }
    }
}

/// Times two conv runners on `p`, both with `threads` threads, against each other, samples in
/// turn ([`measure_paired`]); returns both timings and the median over rounds of `second`'s
/// time over `first`'s (the speed-up of `first`). What the report's comparisons with the peers
/// rest on: two medians measured seconds apart on a shared machine can differ by 20% for one
/// kernel alone.
pub fn time_conv_pair(
    [first, second]: [ConvRunner; 2],
    p: &Conv1x1Problem,
    threads: usize,
    budget: TimingBudget,
) -> Result<(Timing, Timing, f64)> {
    for runner in [first, second] {
        if let ConvRunner::Peer(q) = runner
            && let Some(why) = q.unsupported_reason(p)
        {
            return Err(NinError::Shape { what: p.to_string(), reason: format!("{} cannot run it: {why}", q.name()) });
        }
    }
    let (x, w, b) = conv_data(p);
    let bias = p.bias.then_some(&b[..]);
    let prepare = |r: ConvRunner| match r {
        ConvRunner::Kernel(k) => k.prepare(p, &w, bias).map(Some),
        ConvRunner::Peer(_) => Ok(None),
    };
    let (prepared_first, prepared_second) = (prepare(first)?, prepare(second)?);
    let (mut y1, mut y2) = (zeroed(p.output_len()), zeroed(p.output_len()));
    // One call of `r` on (x, w) into `y`; kernels were checked on this problem by `run` once.
    fn call(
        r: ConvRunner,
        prepared: Option<&crate::conv1x1::PreparedWeights>,
        p: &Conv1x1Problem,
        (x, w): (&[f32], &[f32]),
        y: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        match (r, prepared) {
            (ConvRunner::Kernel(k), Some(prepared)) => k.run(p, x, prepared, y),
            (ConvRunner::Peer(q), _) => {
                q.run(p, x, w, y, threads);
                Ok(())
            }
            (ConvRunner::Kernel(_), None) => unreachable!("kernels are prepared above"),
        }
    }
    let (p1, p2) = (prepared_first.as_ref(), prepared_second.as_ref());
    let (t1, t2, ratios) = with_threads(threads, || {
        call(first, p1, p, (&x, &w), &mut y1, threads)?;
        call(second, p2, p, (&x, &w), &mut y2, threads)?;
        Ok::<_, NinError>(measure_paired(
            budget,
            || drop(call(first, p1, p, (std::hint::black_box(&x), &w), std::hint::black_box(&mut y1), threads)),
            || drop(call(second, p2, p, (std::hint::black_box(&x), &w), std::hint::black_box(&mut y2), threads)),
        ))
    })??;
    Ok((t1, t2, Timing { samples: ratios, batch: 1 }.median()))
}
