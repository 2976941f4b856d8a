//! `gap-simd`: global average pooling on pulp, several independent accumulators.

use super::{GapArgs, GapKernel};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::GapProblem;
use crate::simd::SimdPolicy;
use crate::tensor::Layout;
use crate::ukernel::gap::{ACCUMULATORS, GapBlock};

/// `gap-simd`'s declaration.
pub static GAP_SIMD: KernelDecl = KernelDecl {
    name: "gap-simd",
    op: Op::Gap,
    threads: Threads::Single,
    roles: &[Role::BandwidthShare, Role::Default],
    layouts: &Layout::ALL,
    description: "pulp: vector accumulators per row, short rows a channel per lane (NCHW), or channel vectors summed pixel by pixel (NHWC)",
};

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
}

impl GapSimd {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy }
    }
}

impl Kernel for GapSimd {
    fn decl(&self) -> &'static KernelDecl {
        &GAP_SIMD
    }

    fn isa(&self) -> &'static str {
        self.policy.isa_name()
    }

    fn tile(&self) -> Option<String> {
        Some(format!("{ACCUMULATORS} accumulators x {} lanes", self.policy.f32_lanes()))
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
