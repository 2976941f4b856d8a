//! `naive`: the direct loops in f32, the baseline every speed-up is quoted against.

use super::{Conv1x1Kernel, ConvArgs, PreparedWeights};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::Conv1x1Problem;
use crate::tensor::{Layout, aligned_copy};
use crate::ukernel::gemm::relu;

/// `naive`'s declaration.
pub static NAIVE: KernelDecl = KernelDecl {
    name: "naive",
    op: Op::Conv1x1,
    threads: Threads::Single,
    roles: &[Role::Baseline],
    layouts: &Layout::ALL,
    description: "the direct loops in f32: the baseline every conv speed-up is counted from",
};

/// The textbook loop nest: for every output, a sequential f32 dot product over Cin.
#[derive(Debug, Clone, Copy, Default)]
pub struct Naive;

impl Kernel for Naive {
    fn decl(&self) -> &'static KernelDecl {
        &NAIVE
    }

    fn isa(&self) -> &'static str {
        "scalar (compiler's choice)"
    }
}

impl Conv1x1Kernel for Naive {
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights {
        let bias = aligned_copy(bias.unwrap_or_default());
        PreparedWeights::new(self.name(), self.isa().to_string(), *problem, aligned_copy(weights), bias)
    }

    fn execute(&self, args: ConvArgs<'_>) {
        let ConvArgs { problem: p, input, prepared, output, .. } = args;
        let (in_dims, out_dims) = (p.input_dims(), p.output_dims());
        let (weights, bias) = (prepared.weights(), prepared.bias());
        for n in 0..p.n {
            for co in 0..p.cout {
                let w_row = &weights[co * p.cin..(co + 1) * p.cin];
                for oh in 0..p.hout() {
                    for ow in 0..p.wout() {
                        let (ih, iw) = (oh * p.stride, ow * p.stride);
                        let mut sum = 0.0f32;
                        for (ci, &w) in w_row.iter().enumerate() {
                            sum += w * input[p.layout.index(in_dims, n, ci, ih, iw)];
                        }
                        if p.bias {
                            sum += bias[co];
                        }
                        if p.relu {
                            sum = relu(sum);
                        }
                        output[p.layout.index(out_dims, n, co, oh, ow)] = sum;
                    }
                }
            }
        }
    }
}
