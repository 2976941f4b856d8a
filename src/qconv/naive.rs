//! `qconv-naive`: the loops, in i32.

use super::{PreparedQLayer, QConv1x1Kernel};
use crate::kernel::{Kernel, KernelDecl, Op, Threads};
use crate::problem::QConv1x1Problem;
use crate::quant::{QLayer, WeightRange, index, requantize};
use crate::tensor::Layout;

/// `qconv-naive`'s declaration.
pub static QCONV_NAIVE: KernelDecl = KernelDecl {
    name: "qconv-naive",
    op: Op::QConv1x1,
    threads: Threads::Single,
    roles: &[],
    layouts: &Layout::ALL,
    description: "the int8 loops: an i32 sum of u8·s8 products per output, requantized to u8",
};

/// The textbook loops on u8 and s8, summing in i32.
#[derive(Debug, Clone, Copy, Default)]
pub struct QConvNaive;

impl Kernel for QConvNaive {
    fn decl(&self) -> &'static KernelDecl {
        &QCONV_NAIVE
    }

    fn isa(&self) -> &'static str {
        "scalar (compiler's choice)"
    }
}

impl QConv1x1Kernel for QConvNaive {
    fn weight_range(&self) -> WeightRange {
        WeightRange::Full
    }

    fn pack(&self, p: &QConv1x1Problem, layer: &QLayer) -> PreparedQLayer {
        PreparedQLayer::new(self.name(), p, layer, layer.weights.clone())
    }

    fn execute(
        &self,
        p: &QConv1x1Problem,
        x: &[u8],
        prepared: &PreparedQLayer,
        mut acc: Option<&mut [i32]>,
        y: &mut [u8],
    ) {
        let c = p.conv();
        let (pixels_in, pixels_out) = (c.pixels_in(), c.pixels_out());
        for n in 0..c.n {
            for co in 0..c.cout {
                let w_row = &prepared.weights[co * c.cin..][..c.cin];
                for q in 0..pixels_out {
                    let pixel = c.input_pixel(q);
                    let mut sum = prepared.bias[co];
                    for (ci, &w) in w_row.iter().enumerate() {
                        sum += w as i32 * x[index(c.layout, c.cin, pixels_in, n, ci, pixel)] as i32;
                    }
                    let at = index(c.layout, c.cout, pixels_out, n, co, q);
                    if let Some(acc) = acc.as_deref_mut() {
                        acc[at] = sum;
                    }
                    y[at] = requantize(sum, prepared.multipliers[co]);
                }
            }
        }
    }
}
