//! `blocked-simd`: the direct channel-blocked kernel on pulp, dispatched at run time
//! (AVX2+FMA where the CPU has it, pulp's scalar fallback elsewhere).

use super::direct::{self, DirectOp, OutPtr};
use super::{Conv1x1Kernel, ConvArgs, KernelInfo, PreparedWeights};
use crate::ukernel::gemm::{tile_dims, tile_name};

use crate::kernel::{Kernel, Op, Threads};
use crate::problem::Conv1x1Problem;
use crate::scratch::{Slot, with_scratch};
use crate::simd::SimdPolicy;
use crate::tensor::Layout;

/// Direct 1×1 convolution: an MR×NR register tile of output channels × pixels (NCHW) or
/// pixels × output channels (NHWC), FMA over the whole Cin, bias and ReLU in the epilogue.
#[derive(Debug, Clone)]
pub struct BlockedSimd {
    policy: SimdPolicy,
    isa: String,
}

impl BlockedSimd {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy, isa: policy.isa_name() }
    }
}

impl Kernel for BlockedSimd {
    fn name(&self) -> &'static str {
        "blocked-simd"
    }

    fn isa(&self) -> &str {
        &self.isa
    }

    fn info(&self) -> KernelInfo {
        KernelInfo {
            name: self.name(),
            op: Op::Conv1x1,
            layouts: Layout::ALL.to_vec(),
            isa: self.isa.clone(),
            tile: Some(tile_name(self.policy)),
            threads: Threads::Single,
            description: "direct channel-blocked kernel, no im2col: the ISA's register tile (6×16 with AVX2) of output channels × pixels (NCHW) or pixels × channels (NHWC, and NCHW maps that fill 6-pixel rows a fifth better, such as 6×6, whose batches take regions across images; in pixel rows each block of pixels is packed once for all its blocks of channels), Cin in equal blocks of at most 512 (256 in pixel rows), tiles copied into a panel when their rows are far apart or their block would overflow half the L1 (from an input of 2 MiB or more, the next tile's rows prefetched during each tile's panel calls), bias + ReLU in the epilogue; pulp, ISA chosen at run time",
        }
    }
}

impl Conv1x1Kernel for BlockedSimd {
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights {
        direct::pack_for(self.policy, problem, weights, bias, (self.name(), &self.isa))
    }

    fn execute(&self, args: ConvArgs<'_>) {
        let tile = tile_dims(self.policy);
        let regions = direct::regions(args.problem, tile);
        // Scratch is taken before the dispatch: closures inside it would be compiled without
        // the selected target features.
        with_scratch(Slot::PackA, direct::region_scratch_len(args.problem, tile), |scratch| {
            self.policy.dispatch(DirectOp {
                problem: args.problem,
                input: args.input,
                prepared: args.prepared,
                out: OutPtr(args.output.as_mut_ptr()),
                regions: &regions,
                scratch,
            })
        });
    }
}
