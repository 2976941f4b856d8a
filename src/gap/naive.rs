//! `gap-naive`: a sequential f32 sum per channel, divided by H·W.

use super::{GapArgs, GapKernel};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::tensor::Layout;

/// `gap-naive`'s declaration.
pub static GAP_NAIVE: KernelDecl = KernelDecl {
    name: "gap-naive",
    op: Op::Gap,
    threads: Threads::Single,
    roles: &[Role::Baseline],
    layouts: &Layout::ALL,
    description: "a sequential sum per channel",
};

/// The textbook loops.
#[derive(Debug, Clone, Copy, Default)]
pub struct GapNaive;

impl Kernel for GapNaive {
    fn decl(&self) -> &'static KernelDecl {
        &GAP_NAIVE
    }

    fn isa(&self) -> &'static str {
        "scalar (compiler's choice)"
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
