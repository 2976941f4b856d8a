//! `blocked-simd` and `rayon-tiled`: the direct channel-blocked kernel on pulp, dispatched at
//! run time (AVX-512 or AVX2+FMA where the CPU has it, pulp's scalar fallback elsewhere), on
//! the calling thread or over independent output regions on the current rayon pool. One type,
//! declared twice.

use rayon::prelude::*;

use super::direct::{self, DirectOp, OutPtr};
use super::{Conv1x1Kernel, ConvArgs, PreparedWeights};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::Conv1x1Problem;
use crate::scratch::{Slot, with_scratch};
use crate::simd::SimdPolicy;
use crate::tensor::Layout;
use crate::ukernel::gemm::{tile_dims, tile_name};

/// `blocked-simd`: the direct kernel on one thread.
pub static BLOCKED_SIMD: KernelDecl = KernelDecl {
    name: "blocked-simd",
    op: Op::Conv1x1,
    threads: Threads::Single,
    roles: &[Role::Direct],
    layouts: &Layout::ALL,
    description: "direct channel-blocked kernel, no im2col: the ISA's register tile over output channels × pixels (pixel rows on small maps), Cin in K blocks, bias + ReLU in the epilogue; pulp, ISA chosen at run time",
};

/// `rayon-tiled`: the direct kernel over independent output regions on the rayon pool.
pub static RAYON_TILED: KernelDecl = KernelDecl {
    name: "rayon-tiled",
    op: Op::Conv1x1,
    threads: Threads::Rayon,
    roles: &[Role::Scaling, Role::Default],
    layouts: &Layout::ALL,
    description: "`blocked-simd` over independent output regions with rayon; bit-identical for any thread count",
};

/// Direct 1×1 convolution: an MR×NR register tile of output channels × pixels (NCHW) or
/// pixels × output channels (NHWC), FMA over the whole Cin, bias and ReLU in the epilogue.
///
/// The parallel form ([`BlockedSimd::rayon`]) runs over (image, output-channel block, pixel
/// block) regions. It never splits the Cin reduction, and the regions do not depend on the
/// thread count, so its output is bit-identical to the one-thread form for any number of
/// threads. It runs on the rayon pool current at the call: choose the thread count with
/// `rayon::ThreadPoolBuilder::new().num_threads(t).build()?.install(|| kernel.run(...))`.
#[derive(Debug, Clone)]
pub struct BlockedSimd {
    policy: SimdPolicy,
    decl: &'static KernelDecl,
}

impl BlockedSimd {
    /// `blocked-simd`, with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy, decl: &BLOCKED_SIMD }
    }

    /// `rayon-tiled`, with the instruction set `policy` selects.
    pub fn rayon(policy: SimdPolicy) -> Self {
        Self { policy, decl: &RAYON_TILED }
    }
}

impl Kernel for BlockedSimd {
    fn decl(&self) -> &'static KernelDecl {
        self.decl
    }

    fn isa(&self) -> &'static str {
        self.policy.isa_name()
    }

    fn tile(&self) -> Option<String> {
        Some(tile_name(self.policy))
    }
}

impl Conv1x1Kernel for BlockedSimd {
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights {
        direct::pack_for(self.policy, problem, weights, bias, (self.name(), self.isa()))
    }

    fn execute(&self, args: ConvArgs<'_>) {
        let tile = tile_dims(self.policy);
        let regions = direct::regions(args.problem, tile);
        let scratch_len = direct::region_scratch_len(args.problem, tile);
        let out = OutPtr(args.output.as_mut_ptr());
        let (problem, input, prepared, policy) = (args.problem, args.input, args.prepared, self.policy);
        // Scratch is taken before the dispatch: closures inside it would be compiled without
        // the selected target features.
        //
        // One region (a layer too small to split, see `direct::MIN_REGION_FLOPS`) or one thread:
        // run on the calling thread, without a parallel loop. Handing a single region to rayon
        // on 2 threads cost about a microsecond per call: 1x192x8x8:10, 3 µs per call, ran at
        // 0.79× its 1-thread speed on 2 threads (timed in turn).
        if !self.decl.threads.is_parallel() || regions.len() == 1 || rayon::current_num_threads() == 1 {
            with_scratch(Slot::PackA, scratch_len, |scratch| {
                policy.dispatch(DirectOp { problem, input, prepared, out, regions: &regions, scratch })
            });
            return;
        }
        regions.par_iter().for_each(|region| {
            with_scratch(Slot::PackA, scratch_len, |scratch| {
                let regions = std::slice::from_ref(region);
                policy.dispatch(DirectOp { problem, input, prepared, out, regions, scratch })
            });
        });
    }
}
