//! `gap-simd`: global average pooling on pulp, several independent accumulators.

use super::{GapArgs, GapKernel, KernelInfo};
use crate::kernel::{Kernel, Op, Threads};
use crate::problem::GapProblem;
use crate::simd::SimdPolicy;
use crate::tensor::Layout;
use crate::ukernel::gap::{ACCUMULATORS, GapBlock};

/// Global average pooling with explicit SIMD, runtime-dispatched.
///
/// - NCHW: each channel's H·W values are contiguous: vector accumulators over the row, its
///   tail masked, one horizontal sum, times 1/(H·W). Rows of up to 8 vectors (NIN's 6×6 to
///   8×8 maps) are summed eight channels at a time with AVX2, and their eight horizontal sums
///   done together; the batch is one run of N·C rows.
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

impl Kernel for GapSimd {
    fn name(&self) -> &'static str {
        "gap-simd"
    }

    fn isa(&self) -> &str {
        &self.isa
    }

    fn info(&self) -> KernelInfo {
        KernelInfo {
            name: self.name(),
            op: Op::Gap,
            layouts: Layout::ALL.to_vec(),
            isa: self.isa().to_string(),
            tile: Some(format!("{ACCUMULATORS} accumulators x {} lanes", self.policy.f32_lanes())),
            threads: Threads::Single,
            description: "pulp, vector accumulators per row (NCHW; rows of ≤ 8 vectors a channel per lane at a time, their horizontal sums done together with AVX2 and AVX-512) or channel vectors accumulated pixel by pixel (NHWC)",
        }
    }
}

impl GapKernel for GapSimd {
    fn execute(&self, args: GapArgs<'_>) {
        let GapArgs { problem, input, output, .. } = args;
        match problem.layout {
            // N images of C channels are, for the means, one image of N·C channels: one
            // dispatch for the whole batch (a batch of 32 small 10-channel images spent more
            // on per-image dispatch than on its sums), and rows grouped across images.
            Layout::Nchw => {
                let (n, c, h, w) = (problem.n, problem.c, problem.h, problem.w);
                let flat =
                    GapProblem::new(1, n * c, h, w, Layout::Nchw).expect("same element count as a valid problem");
                self.policy.dispatch(GapBlock { problem: &flat, input, n: 0, channels: 0..n * c, out: output });
            }
            Layout::Nhwc => {
                for (n, out) in output.chunks_exact_mut(problem.c).enumerate() {
                    self.policy.dispatch(GapBlock { problem, input, n, channels: 0..problem.c, out });
                }
            }
        }
    }
}
