//! `gap-naive`: a sequential f32 sum per channel, divided by H·W.

use super::{GapArgs, GapKernel, KernelInfo};
use crate::kernel::{Kernel, Op, Threads};
use crate::tensor::Layout;

/// The textbook loops.
#[derive(Debug, Clone, Copy, Default)]
pub struct GapNaive;

impl Kernel for GapNaive {
    fn name(&self) -> &'static str {
        "gap-naive"
    }

    fn isa(&self) -> &str {
        "scalar (compiler's choice)"
    }

    fn info(&self) -> KernelInfo {
        KernelInfo {
            name: self.name(),
            op: Op::Gap,
            layouts: Layout::ALL.to_vec(),
            isa: self.isa().to_string(),
            tile: None,
            threads: Threads::Single,
            description: "sequential sum per channel",
        }
    }
}

impl GapKernel for GapNaive {
    fn execute(&self, args: GapArgs<'_>) {
        let GapArgs { problem: p, input, output, .. } = args;
        let dims = p.input_dims();
        for n in 0..p.n {
            for c in 0..p.c {
                let mut sum = 0.0f32;
                for h in 0..p.h {
                    for w in 0..p.w {
                        sum += input[p.layout.index(dims, n, c, h, w)];
                    }
                }
                output[n * p.c + c] = sum / p.pixels() as f32;
            }
        }
    }
}
