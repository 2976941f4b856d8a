//! `gap-rayon`: `gap-simd` over (image, channel block) tasks on the current rayon pool.

use rayon::prelude::*;

use super::simd::GapBlock;
use super::{GapArgs, GapKernel, KernelInfo};
use crate::simd::SimdPolicy;
use crate::tensor::Layout;

/// Channels per task: 64 channels of a 7×7 map are 12.5 KiB, enough work to amortise a task.
const CHANNELS_PER_TASK: usize = 64;

/// Parallel GAP; each output is computed exactly as `gap-simd` computes it, so the result is
/// bit-identical for any thread count. Runs on the rayon pool current at the call.
#[derive(Debug, Clone)]
pub struct GapRayon {
    policy: SimdPolicy,
    isa: String,
}

impl GapRayon {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy, isa: policy.isa_name() }
    }
}

impl GapKernel for GapRayon {
    fn name(&self) -> &'static str {
        "gap-rayon"
    }

    fn info(&self) -> KernelInfo {
        KernelInfo {
            name: self.name(),
            op: "gap",
            layouts: Layout::ALL.to_vec(),
            isa: self.isa.clone(),
            tile: Some(format!("{CHANNELS_PER_TASK} channels per task")),
            threads: "rayon",
            description: "gap-simd over (image, channel block) tasks with rayon",
        }
    }

    fn execute(&self, args: GapArgs<'_>) {
        let GapArgs { problem, input, output, .. } = args;
        let policy = self.policy;
        output.par_chunks_mut(problem.c).enumerate().for_each(|(n, image_out)| {
            image_out.par_chunks_mut(CHANNELS_PER_TASK).enumerate().for_each(|(block, out)| {
                let c0 = block * CHANNELS_PER_TASK;
                policy.dispatch(GapBlock { problem, input, n, channels: c0..c0 + out.len(), out });
            });
        });
    }
}
