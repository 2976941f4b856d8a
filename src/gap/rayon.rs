//! `gap-rayon`: `gap-simd` over (image, channel block) tasks on the current rayon pool.

use rayon::prelude::*;

use super::{GapArgs, GapKernel};
use crate::kernel::{Kernel, KernelDecl, Op, Threads};
use crate::simd::SimdPolicy;
use crate::tensor::Layout;
use crate::ukernel::gap::GapBlock;

/// Channels per task: 64 channels of a 7×7 map are 12.5 KiB, enough work to amortise a task.
const CHANNELS_PER_TASK: usize = 64;

/// Fewest input values a task sums: 16 Ki values (64 KiB, about a microsecond at L2 speed),
/// well above what handing a task to another thread costs. Without it `32x10x8x8` (2,560 values
/// an image, so 32 tasks of 0.2 µs) measured 3.0–3.1 µs per call on 2 threads against 1.7 µs
/// on one (report at e6c6bf4 and `nin-bench run` here).
const MIN_TASK_VALUES: usize = 16 * 1024;

/// `gap-rayon`'s declaration.
pub static GAP_RAYON: KernelDecl = KernelDecl {
    name: "gap-rayon",
    op: Op::Gap,
    threads: Threads::Rayon,
    roles: &[],
    layouts: &Layout::ALL,
    description: "`gap-simd` over (image, channel block) tasks",
};

/// Parallel GAP; each output is computed exactly as `gap-simd` computes it, so the result is
/// bit-identical for any thread count. Runs on the rayon pool current at the call.
#[derive(Debug, Clone)]
pub struct GapRayon {
    policy: SimdPolicy,
}

impl GapRayon {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy }
    }
}

impl Kernel for GapRayon {
    fn decl(&self) -> &'static KernelDecl {
        &GAP_RAYON
    }

    fn isa(&self) -> &'static str {
        self.policy.isa_name()
    }

    fn tile(&self) -> Option<String> {
        Some(format!("{CHANNELS_PER_TASK} channels per task"))
    }
}

impl GapKernel for GapRayon {
    fn execute(&self, args: GapArgs<'_>) {
        let GapArgs { problem, input, output, .. } = args;
        let policy = self.policy;
        // Tasks of at least MIN_TASK_VALUES inputs: whole images grouped when they are small,
        // channel blocks grouped when a block is small, so a tiny problem stays on one thread.
        let image_values = problem.c * problem.pixels();
        let block_values = CHANNELS_PER_TASK * problem.pixels();
        let images_per_task = MIN_TASK_VALUES.div_ceil(image_values).max(1);
        let blocks_per_task = MIN_TASK_VALUES.div_ceil(block_values).max(1);
        output.par_chunks_mut(problem.c).enumerate().with_min_len(images_per_task).for_each(|(n, image_out)| {
            image_out.par_chunks_mut(CHANNELS_PER_TASK).enumerate().with_min_len(blocks_per_task).for_each(
                |(block, out)| {
                    let c0 = block * CHANNELS_PER_TASK;
                    policy.dispatch(GapBlock { problem, input, n, channels: c0..c0 + out.len(), out });
                },
            );
        });
    }
}
