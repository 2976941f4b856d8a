//! A kernel's share of a limit of the machine, and its speed-up from the threads, each timed
//! in turn with the loop that measures the limit ([`crate::machine::fma_burst`],
//! [`crate::machine::read_pass`]).

use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use super::call::{Call, problem_string, time_in_turn};
use crate::conv1x1::Conv1x1Kernel;
use crate::error::Result;
use crate::gap::GapKernel;
use crate::kernel::KernelId;
use crate::problem::Problem;
use crate::problem::{Conv1x1Problem, GapProblem, QConv1x1Problem, QGapProblem};
use crate::qconv::{QConv1x1Kernel, QPath};
use crate::qgap::QGapKernel;
use crate::quant::QConvData;
use crate::tensor::{AlignedBuf, seeded_uniform};
use crate::timing::{Timing, TimingBudget};
use crate::ukernel::l1_tile::L1TileData;

/// A kernel's share of the machine's limit, timed in turn with the loop that measures the limit:
/// the FMA peak for a conv kernel ([`time_conv_against_peak`]), the read bandwidth over the
/// same input for a GAP kernel ([`time_gap_against_bandwidth`]).
#[derive(Debug, Clone, Serialize)]
pub struct PeakShare {
    /// The problem (`shape` in JSON).
    #[serde(rename = "shape", serialize_with = "problem_string")]
    pub problem: Problem,
    /// The kernel.
    pub kernel: KernelId,
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
/// Why in turn: a machine shared with other tenants has slow spells lasting seconds, which
/// move a kernel's speed by a quarter between runs against a peak measured once. A spell
/// slows the peak loop as much as the kernel, so the ratio within a round says how close the
/// kernel comes to what the core delivers.
///
/// The tile's share says how close any kernel built on it can come: per step of K it issues
/// MR·NR/lanes FMAs, NR/lanes loads, MR broadcasts and the loop's own instructions, where the
/// peak loop issues FMAs alone.
pub fn time_conv_against_peak(
    kernel: &dyn Conv1x1Kernel,
    p: &Conv1x1Problem,
    budget: TimingBudget,
) -> Result<PeakShare> {
    // The kernels' tile on the path the kernels run (`--isa`), against the widest path's peak.
    let mut l1 = L1TileData::new(crate::simd::SimdPolicy::from_env());
    let tile = l1.name();
    let tile_flops = l1.run().expect("the kernels' tile is compiled for every ISA");
    let burst_flops = crate::machine::fma_burst();
    let mut calls = [
        Call::conv(kernel, p, 1)?,
        Call::limit_loop("FMA-peak loop", 1, (burst_flops, 0.0), || {
            std::hint::black_box(crate::machine::fma_burst());
        }),
        Call::limit_loop("microkernel in L1", 1, (tile_flops, 0.0), move || {
            std::hint::black_box(l1.run());
        }),
    ];
    let timed = time_in_turn(&mut calls, budget)?;
    // Call i's share of the peak loop (call 1).
    let share_of = |i: usize| {
        let (t, t_limit) = (timed.rounds.timing(i), timed.rounds.timing(1));
        share_of_limit(calls[i].flops / burst_flops, timed.speedup(i, 1), &t, &t_limit)
    };
    let ((median, p90), (l1_median, l1_p90)) = (share_of(0), share_of(2));
    let l1_tile = Some(L1TileShare { tile, median: l1_median, p90: l1_p90 });
    Ok(PeakShare { problem: Problem::Conv1x1(*p), kernel: kernel.id(), threads: 1, median, p90, l1_tile })
}

/// Times int8 `kernel` on `p` on 1 thread against the int8 peak loop of the int8 path the
/// environment's ISA policy selects (`QPath::peak_loop`), a sample of each in every round,
/// and returns its share of that peak: operations (two per multiply-accumulate) per second
/// over the loop's.
pub fn time_qconv_against_int8_peak(
    kernel: &dyn QConv1x1Kernel,
    p: &QConv1x1Problem,
    budget: TimingBudget,
) -> Result<PeakShare> {
    let path = QPath::for_policy(crate::simd::SimdPolicy::from_env());
    let loop_ops = 2.0 * path.peak_loop_macs() as f64;
    let mut calls = [
        Call::qconv_on(kernel, p, Arc::new(QConvData::seeded(p, 1)), 1)?,
        Call::limit_loop("int8 peak loop", 1, (loop_ops, 0.0), move || {
            // SAFETY: `for_policy` picks a path this CPU runs.
            std::hint::black_box(unsafe { path.peak_loop() });
        }),
    ];
    let timed = time_in_turn(&mut calls, budget)?;
    let (t, t_limit) = (timed.rounds.timing(0), timed.rounds.timing(1));
    let (median, p90) = share_of_limit(calls[0].flops / loop_ops, timed.speedup(0, 1), &t, &t_limit);
    Ok(PeakShare { problem: Problem::QConv1x1(*p), kernel: kernel.id(), threads: 1, median, p90, l1_tile: None })
}

/// One register tile's share of its ISA's FMA peak on data in L1 (`nin-bench tiles`).
#[derive(Debug, Clone, Serialize)]
pub struct TileShare {
    /// The tile, `MRxNR` (`6x16`).
    pub tile: String,
    /// Rows (MR).
    pub rows: usize,
    /// Columns (NR).
    pub columns: usize,
    /// Vector registers its loop keeps live (accumulators, a row of B, a broadcast).
    pub registers: usize,
    /// Steps of K per tile call (A and B fit in L1 together).
    pub k: usize,
    /// Whether it is the tile the kernels use.
    pub kernels_tile: bool,
    /// Median over rounds of the tile's GFLOP/s over the peak loop's.
    pub median: f64,
    /// The tile's 90th-percentile speed over the loop's.
    pub p90: f64,
    /// The tile's median GFLOP/s.
    pub gflops: f64,
}

/// Times every candidate register tile of `policy`'s ISA
/// (`ukernel::l1_tile::candidates`) on data in L1, on 1 thread, in turn with the FMA
/// peak loop of the same ISA, and returns each tile's share of that peak: the measurement the
/// kernels' tile is chosen by. Every tile is the same microkernel code, so the shares differ
/// only by what the tile's shape asks of the core: loads and broadcasts per FMA, and
/// accumulators against the FMA latency.
pub fn time_tiles_against_peak(policy: crate::simd::SimdPolicy, budget: TimingBudget) -> Result<Vec<TileShare>> {
    use crate::ukernel::l1_tile::candidates;
    let kernels = crate::ukernel::gemm::kernel_tile(policy.f32_lanes());
    let burst_flops = crate::machine::fma_burst_with(policy);
    let mut calls = vec![Call::limit_loop("FMA-peak loop", 1, (burst_flops, 0.0), move || {
        std::hint::black_box(crate::machine::fma_burst_with(policy));
    })];
    let mut tiles = Vec::new();
    for shape in candidates(policy) {
        let mut data = L1TileData::for_shape(policy, shape);
        let Some(flops) = data.run() else { continue };
        let name = data.name();
        tiles.push((name.clone(), shape, shape.columns(policy.f32_lanes()), data.k));
        calls.push(Call::limit_loop(&name, 1, (flops, 0.0), move || {
            std::hint::black_box(data.run());
        }));
    }
    let timed = time_in_turn(&mut calls, budget)?;
    let t_peak = timed.rounds.timing(0);
    Ok(tiles
        .into_iter()
        .enumerate()
        .map(|(i, (tile, shape, columns, k))| {
            let t = timed.rounds.timing(i + 1);
            let (median, p90) = share_of_limit(calls[i + 1].flops / burst_flops, timed.speedup(i + 1, 0), &t, &t_peak);
            TileShare {
                tile,
                rows: shape.rows,
                columns,
                registers: shape.registers(),
                k,
                kernels_tile: shape == kernels,
                median,
                p90,
                gflops: timed.rows[i + 1].gflops,
            }
        })
        .collect())
}

/// Times GAP `kernel` on `p` on 1 thread against a read pass over the same input
/// ([`crate::machine::read_pass`]), a sample of each in turn, and returns its share of that
/// read bandwidth (GB/s as a GAP row counts them, input and output, over the pass's input
/// bytes). The pass reads the kernel's own input, so both find the same data in the same
/// cache level: a 12.5 MiB input shares the L3 with other tenants, and `gap-simd` on
/// 32x512x14x14 measured 51.8% and 77.7% of a bandwidth probed apart, a minute apart.
pub fn time_gap_against_bandwidth(kernel: &dyn GapKernel, p: &GapProblem, budget: TimingBudget) -> Result<PeakShare> {
    let x = Arc::new(seeded_uniform(p.input_len(), 1));
    let pass_input = Arc::clone(&x);
    let call = Call::gap_on(kernel, p, x, 1)?;
    share_of_read_pass(call, pass_input, p.bytes(), (Problem::Gap(*p), kernel.id()), budget)
}

/// [`time_gap_against_bandwidth`] for an int8 GAP kernel. Its u8 input is not an f32 buffer,
/// so the read pass reads a buffer of the same number of bytes beside it (not the kernel's
/// own input).
pub fn time_qgap_against_bandwidth(
    kernel: &dyn QGapKernel,
    p: &QGapProblem,
    budget: TimingBudget,
) -> Result<PeakShare> {
    let input_len = p.gap().input_len();
    let call = Call::qgap_on(kernel, p, Arc::new(crate::quant::seeded_activations(input_len, 1)), 1)?;
    let pass_input = Arc::new(seeded_uniform(input_len.div_ceil(4), 1));
    share_of_read_pass(call, pass_input, p.bytes(), (Problem::QGap(*p), kernel.id()), budget)
}

/// `call` (a GAP kernel moving `bytes`) timed in turn with a read pass over `pass_input`: its
/// share of the read bandwidth, per round (bytes / t_kernel) / (pass bytes / t_pass).
fn share_of_read_pass(
    call: Call,
    pass_input: Arc<AlignedBuf>,
    bytes: u64,
    (problem, kernel): (Problem, KernelId),
    budget: TimingBudget,
) -> Result<PeakShare> {
    let input_bytes = (4 * pass_input.len()) as f64;
    let mut calls = [
        call,
        Call::limit_loop("read pass", 1, (0.0, input_bytes), move || {
            std::hint::black_box(crate::machine::read_pass(std::hint::black_box(&pass_input)));
        }),
    ];
    let timed = time_in_turn(&mut calls, budget)?;
    let (t, t_pass) = (timed.rounds.timing(0), timed.rounds.timing(1));
    let (median, p90) = share_of_limit(bytes as f64 / input_bytes, timed.speedup(0, 1), &t, &t_pass);
    Ok(PeakShare { problem, kernel, threads: 1, median, p90, l1_tile: None })
}

/// A rayon kernel's speed-up from the threads, and the machine's own in the same moments
/// ([`time_conv_scaling`]).
#[derive(Debug, Clone, Serialize)]
pub struct ThreadScaling {
    /// The problem (`shape` in JSON).
    #[serde(rename = "shape", serialize_with = "problem_string")]
    pub problem: Problem,
    /// The kernel.
    pub kernel: KernelId,
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
/// Why the loop: on a machine whose other cores are shared with other tenants, a kernel's
/// speed-up from the threads varies from run to run as much as the machine's does; the loop's,
/// in the same rounds, says which of the two a low figure is.
pub fn time_conv_scaling(
    kernel: &dyn Conv1x1Kernel,
    p: &Conv1x1Problem,
    threads: usize,
    budget: TimingBudget,
) -> Result<ThreadScaling> {
    let threads = threads.max(1);
    // The loop's call has the same bursts on any pool: its speed-up is its 1-thread time over
    // its `threads` time, as the kernel's.
    let bursts = SCALING_LOOP_BURSTS_PER_THREAD * threads;
    let flops = bursts as f64 * crate::machine::fma_burst();
    let fma_loop = |pool_threads: usize| {
        Call::limit_loop("FMA-peak loop", pool_threads, (flops, 0.0), move || {
            (0..bursts).into_par_iter().for_each(|_| {
                std::hint::black_box(crate::machine::fma_burst());
            })
        })
    };
    // Both kernel calls read the same input.
    let data = Arc::new(super::data::conv_data(p));
    let (many, one) = (Call::conv_on(kernel, p, data.clone(), threads)?, Call::conv_on(kernel, p, data, 1)?);
    let mut calls = [many, one, fma_loop(threads), fma_loop(1)];
    let rounds = time_in_turn(&mut calls, budget)?.rounds;
    Ok(ThreadScaling {
        problem: Problem::Conv1x1(*p),
        kernel: kernel.id(),
        threads,
        speedup: rounds.speedup(0, 1),
        fma_loop_speedup: rounds.speedup(2, 3),
        relative: rounds.median_of(|r| (r[1] / r[0]) / (r[3] / r[2])),
    })
}
