//! `qgap-naive`: the loops, in i32.

use super::QGapKernel;
use crate::kernel::{Kernel, KernelDecl, Op, Threads};
use crate::problem::QGapProblem;
use crate::quant::{index, requantize};
use crate::tensor::Layout;

/// `qgap-naive`'s declaration.
pub static QGAP_NAIVE: KernelDecl = KernelDecl {
    name: "qgap-naive",
    op: Op::QGap,
    threads: Threads::Single,
    roles: &[],
    layouts: &Layout::ALL,
    description: "the int8 GAP loops: an i32 sum of each channel's u8 values, requantized to u8",
};

/// One i32 sum per channel, value by value.
#[derive(Debug, Clone, Copy, Default)]
pub struct QGapNaive;

impl Kernel for QGapNaive {
    fn decl(&self) -> &'static KernelDecl {
        &QGAP_NAIVE
    }

    fn isa(&self) -> &'static str {
        "scalar (compiler's choice)"
    }
}

impl QGapKernel for QGapNaive {
    fn execute(&self, p: &QGapProblem, x: &[u8], m: f32, sums: &mut [i32], y: &mut [u8]) {
        let g = p.gap();
        let pixels = g.h * g.w;
        for (nc, (s, out)) in sums.iter_mut().zip(y.iter_mut()).enumerate() {
            let (n, c) = (nc / g.c, nc % g.c);
            *s = (0..pixels).map(|q| x[index(g.layout, g.c, pixels, n, c, q)] as i32).sum();
            *out = requantize(*s, m);
        }
    }
}
