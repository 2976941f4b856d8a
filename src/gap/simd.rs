//! `gap-simd`: global average pooling on pulp, several independent accumulators.

use std::ops::Range;

use pulp::{Simd, WithSimd};

use super::{GapArgs, GapKernel, KernelInfo};
use crate::gemm::microkernel::{load, store};
use crate::problem::GapProblem;
use crate::simd::SimdPolicy;
use crate::tensor::Layout;

/// Independent vector accumulators: the FP add latency (3 cycles on Zen 3) times its throughput
/// (2 per cycle) needs 6 to saturate the adders; 4 already makes the loads the limit at one
/// cache line per cycle.
pub(crate) const ACCUMULATORS: usize = 4;

/// Global average pooling with explicit SIMD, runtime-dispatched.
///
/// - NCHW: each channel's H·W values are contiguous: 4 vector accumulators over the row, a
///   masked load for its tail, one horizontal sum, times 1/(H·W).
/// - NHWC: channels are contiguous: 4 vectors of channels accumulate pixel after pixel, so
///   there is no horizontal sum at all.
#[derive(Debug, Clone)]
pub struct GapSimd {
    policy: SimdPolicy,
    isa: String,
}

impl GapSimd {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy, isa: policy.isa_name() }
    }
}

/// Means of channels `channels` of image `n` into `out` (`channels.len()` values), inside
/// pulp's dispatch. Shared by `gap-simd` and `gap-rayon`.
pub(crate) struct GapBlock<'a> {
    pub problem: &'a GapProblem,
    pub input: &'a [f32],
    pub n: usize,
    pub channels: Range<usize>,
    pub out: &'a mut [f32],
}

impl WithSimd for GapBlock<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let GapBlock { problem: p, input, n, channels, out } = self;
        let (hw, c_total) = (p.pixels(), p.c);
        let image = &input[n * c_total * hw..][..c_total * hw];
        let inv = 1.0 / hw as f32;
        let zero = simd.splat_f32s(0.0);
        let lanes = S::F32_LANES;
        match p.layout {
            Layout::Nchw => {
                for (c, y) in channels.zip(out.iter_mut()) {
                    let row = &image[c * hw..][..hw];
                    let (vectors, tail) = S::as_simd_f32s(row);
                    let mut acc = [zero; ACCUMULATORS];
                    let mut chunks = vectors.chunks_exact(ACCUMULATORS);
                    for chunk in &mut chunks {
                        for (a, &v) in acc.iter_mut().zip(chunk) {
                            *a = simd.add_f32s(*a, v);
                        }
                    }
                    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
                        *a = simd.add_f32s(*a, v);
                    }
                    if !tail.is_empty() {
                        acc[ACCUMULATORS - 1] = simd.add_f32s(acc[ACCUMULATORS - 1], simd.partial_load_f32s(tail));
                    }
                    let sum = simd.add_f32s(simd.add_f32s(acc[0], acc[1]), simd.add_f32s(acc[2], acc[3]));
                    *y = simd.reduce_sum_f32s(sum) * inv;
                }
            }
            Layout::Nhwc => {
                let block = ACCUMULATORS * lanes;
                let inv_v = simd.splat_f32s(inv);
                for (c0, out_block) in channels.clone().step_by(block).zip(out.chunks_mut(block)) {
                    let width = out_block.len();
                    let mut acc = [zero; ACCUMULATORS];
                    for pixel in image.chunks_exact(c_total) {
                        let x = &pixel[c0..c0 + width];
                        for (a, xv) in acc.iter_mut().zip(x.chunks(lanes)) {
                            *a = simd.add_f32s(*a, load(simd, xv));
                        }
                    }
                    for (a, yv) in acc.iter().zip(out_block.chunks_mut(lanes)) {
                        store(simd, yv, simd.mul_f32s(*a, inv_v));
                    }
                }
            }
        }
    }
}

impl GapKernel for GapSimd {
    fn name(&self) -> &'static str {
        "gap-simd"
    }

    fn info(&self) -> KernelInfo {
        KernelInfo {
            name: self.name(),
            op: "gap",
            layouts: Layout::ALL.to_vec(),
            isa: self.isa.clone(),
            tile: Some(format!("{ACCUMULATORS} accumulators x {} lanes", self.policy.f32_lanes())),
            threads: "1",
            description: "explicit SIMD sums with 4 accumulators (pulp, runtime ISA)",
        }
    }

    fn execute(&self, args: GapArgs<'_>) {
        let GapArgs { problem, input, output, .. } = args;
        for (n, out) in output.chunks_exact_mut(problem.c).enumerate() {
            self.policy.dispatch(GapBlock { problem, input, n, channels: 0..problem.c, out });
        }
    }
}
