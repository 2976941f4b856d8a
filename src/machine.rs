//! The machine's own limits, measured: FMA peak and read bandwidth.
//!
//! Kernels are judged as a fraction of what this machine can do, measured in the same run, so
//! reports from different machines (or a noisy moment) compare fairly.

use std::hint::black_box;
use std::time::Instant;

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use crate::simd::SimdPolicy;
use crate::tensor::seeded_uniform;

/// Independent FMA chains: Zen 3 retires 2 FMAs per cycle with 4 cycles of latency, so 8 chains
/// keep both pipes full; 12 leaves margin for other cores (Intel: 2 × 4 as well) while staying
/// inside the 16 vector registers.
const FMA_CHAINS: usize = 12;

struct FmaLoop {
    iterations: usize,
}

impl WithSimd for FmaLoop {
    type Output = f32;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f32 {
        let mut acc = [simd.splat_f32s(0.0); FMA_CHAINS];
        let a = simd.splat_f32s(black_box(0.999_999));
        let b = simd.splat_f32s(black_box(1e-7));
        for _ in 0..self.iterations {
            for x in acc.iter_mut() {
                *x = simd.mul_add_f32s(*x, a, b);
            }
        }
        let mut total = simd.splat_f32s(0.0);
        for x in acc {
            total = simd.add_f32s(total, x);
        }
        simd.reduce_sum_f32s(total)
    }
}

/// FLOPs of one [`FmaLoop`] pass.
fn fma_loop_flops(iterations: usize, lanes: usize) -> f64 {
    (iterations * FMA_CHAINS * 2 * lanes) as f64
}

/// The FMA peak in GFLOP/s with `threads` threads (each running independent FMA chains at the
/// widest vector pulp finds), the best of `repeats` runs of about 20 ms each.
pub fn fma_peak_gflops(threads: usize, repeats: usize) -> f64 {
    fma_peak_gflops_with(SimdPolicy::auto(), threads, repeats)
}

/// [`fma_peak_gflops`] on the vectors of `policy` (the peak of one ISA path).
pub fn fma_peak_gflops_with(policy: SimdPolicy, threads: usize, repeats: usize) -> f64 {
    let lanes = policy.f32_lanes();
    let iterations = 1 << 20;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let mut best: f64 = 0.0;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        pool.install(|| {
            (0..threads).into_par_iter().for_each(|_| {
                black_box(policy.dispatch(FmaLoop { iterations }));
            })
        });
        let seconds = start.elapsed().as_secs_f64();
        best = best.max(threads as f64 * fma_loop_flops(iterations, lanes) / seconds / 1e9);
    }
    best
}

/// Iterations of one [`fma_burst`]: 12 chains × 16 Ki iterations, about 30 µs at Zen 3's
/// 2 FMAs per cycle, so a timing sample of about 1 ms holds some thirty bursts.
const BURST_ITERATIONS: usize = 1 << 14;

/// One short burst of the FMA-peak loop on the calling thread; returns the FLOPs it did.
/// Timed in turn with a kernel, it gives the peak the machine offers at that moment (see
/// `measure::time_conv_against_peak`).
pub fn fma_burst() -> f64 {
    fma_burst_with(SimdPolicy::auto())
}

/// [`fma_burst`] on the vectors of `policy`: the peak of one ISA path at that moment.
pub fn fma_burst_with(policy: SimdPolicy) -> f64 {
    black_box(policy.dispatch(FmaLoop { iterations: black_box(BURST_ITERATIONS) }));
    fma_loop_flops(BURST_ITERATIONS, policy.f32_lanes())
}

struct SumLoop<'a> {
    data: &'a [f32],
}

impl WithSimd for SumLoop<'_> {
    type Output = f32;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f32 {
        let (vectors, tail) = S::as_simd_f32s(self.data);
        let mut acc = [simd.splat_f32s(0.0); 8];
        let mut chunks = vectors.chunks_exact(8);
        for chunk in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(chunk) {
                *a = simd.add_f32s(*a, v);
            }
        }
        let mut total = simd.splat_f32s(tail.iter().sum());
        for (a, &v) in acc.iter().zip(chunks.remainder()) {
            total = simd.add_f32s(total, simd.add_f32s(*a, v));
        }
        for a in acc {
            total = simd.add_f32s(total, a);
        }
        simd.reduce_sum_f32s(total)
    }
}

/// One read pass over `data` on the calling thread (the loop [`read_bandwidth_gbps`] times),
/// returning the sum. Timed in turn with a GAP kernel over the same input, it gives the read
/// bandwidth of the input's cache level at that moment (see
/// `measure::time_gap_against_bandwidth`).
pub fn read_pass(data: &[f32]) -> f32 {
    SimdPolicy::auto().dispatch(SumLoop { data })
}

/// Single-thread read bandwidth in GB/s (10⁹ bytes/s) over a working set of `bytes`, the best
/// of passes over at least `min_seconds`: 8 vector accumulators, so the loads are the limit.
pub fn read_bandwidth_gbps(bytes: usize, min_seconds: f64) -> f64 {
    read_bandwidth_gbps_threads(bytes, min_seconds, 1)
}

/// [`read_bandwidth_gbps`] with `threads` threads, each reading its own contiguous share of the
/// working set (as a parallel kernel over the same input does): the limit of a multi-threaded
/// kernel, whose share of the single-thread figure could exceed 1.
pub fn read_bandwidth_gbps_threads(bytes: usize, min_seconds: f64, threads: usize) -> f64 {
    let data = seeded_uniform((bytes / 4).max(64), 17);
    let threads = threads.clamp(1, data.len() / 16);
    let policy = SimdPolicy::auto();
    let chunk = data.len().div_ceil(threads);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let pass = |passes: usize| {
        if threads == 1 {
            for _ in 0..passes {
                black_box(policy.dispatch(SumLoop { data: black_box(&data) }));
            }
        } else {
            pool.install(|| {
                data.par_chunks(chunk).for_each(|part| {
                    for _ in 0..passes {
                        black_box(policy.dispatch(SumLoop { data: black_box(part) }));
                    }
                })
            });
        }
    };
    pass(1); // bring it into the cache level (of each thread's core)
    let passes = ((64 << 20) / (data.len() * 4)).clamp(1, 1 << 16);
    let mut best: f64 = 0.0;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < min_seconds || best == 0.0 {
        let t = Instant::now();
        pass(passes);
        best = best.max((passes * data.len() * 4) as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_return_positive_finite_figures() {
        let peak = fma_peak_gflops(1, 1);
        assert!(peak.is_finite() && peak > 0.0, "{peak}");
        let bw = read_bandwidth_gbps(16 << 10, 0.01);
        assert!(bw.is_finite() && bw > 0.0, "{bw}");
        let bw2 = read_bandwidth_gbps_threads(1 << 20, 0.01, 2);
        assert!(bw2.is_finite() && bw2 > 0.0, "{bw2}");
    }
}
