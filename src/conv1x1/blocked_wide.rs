//! `blocked-wide`: the direct channel-blocked algorithm on `wide::f32x8`, compile-time SIMD.
//!
//! What `wide` compiles to depends on the build's target features, not on the CPU it runs on:
//! with `-C target-cpu=native` (or `-C target-feature=+avx2,+fma`) on this project's machines an
//! f32x8 is one ymm register and `mul_add` one FMA; in a default x86-64 build it is two SSE
//! halves and `mul_add` a separate multiply and add. [`BlockedWide::compiled_isa`] says which,
//! and the registry shows it, so reports never confuse the two.

use super::direct::{self, OutPtr, TileRows};
use super::{Conv1x1Kernel, ConvArgs, PreparedWeights};
use crate::kernel::{Kernel, KernelDecl, Op, Threads};
use crate::problem::Conv1x1Problem;
use crate::scratch::{Slot, with_scratch};
use crate::tensor::Layout;
use crate::ukernel::wide::{MR, NR, TILE, WideMicrokernel};

/// `blocked-wide`'s declaration.
pub static BLOCKED_WIDE: KernelDecl = KernelDecl {
    name: "blocked-wide",
    op: Op::Conv1x1,
    threads: Threads::Single,
    roles: &[],
    layouts: &Layout::ALL,
    description: "the same on `wide::f32x8`: the ISA is fixed at compile time, and `list` says which",
};

/// The direct kernel with the `wide` crate's 8-lane vectors.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockedWide;

impl BlockedWide {
    /// The instruction set this build compiled `f32x8` for.
    pub fn compiled_isa() -> &'static str {
        if cfg!(all(target_feature = "avx", target_feature = "fma")) {
            "avx+fma (compile-time, fused mul_add)"
        } else if cfg!(target_feature = "avx") {
            "avx (compile-time, mul_add unfused)"
        } else if cfg!(target_feature = "sse2") {
            "sse2 (compile-time: two 128-bit halves, mul_add unfused)"
        } else {
            "portable (compile-time, no x86 SIMD)"
        }
    }
}

impl Kernel for BlockedWide {
    fn decl(&self) -> &'static KernelDecl {
        &BLOCKED_WIDE
    }

    fn isa(&self) -> &'static str {
        Self::compiled_isa()
    }

    fn tile(&self) -> Option<String> {
        Some(format!("{MR}x{NR}"))
    }
}

impl Conv1x1Kernel for BlockedWide {
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights {
        let (w, b) = direct::pack_weights(problem, weights, bias, TILE, TileRows::best_fill(problem, TILE));
        PreparedWeights::new(self.name(), self.isa().to_string(), *problem, w, b)
    }

    fn execute(&self, args: ConvArgs<'_>) {
        let out = OutPtr(args.output.as_mut_ptr());
        let (weights, bias) = (args.prepared.weights(), args.prepared.bias());
        let run = direct::DirectArgs { p: args.problem, input: args.input, weights, bias, out };
        with_scratch(Slot::PackA, direct::region_scratch_len(args.problem, TILE), |scratch| {
            let mut scratch = direct::RegionScratch::new(scratch);
            for region in direct::regions(args.problem, TILE) {
                // SAFETY: `out` is the checked output of the problem; regions are disjoint and
                // written one after another; the weights were packed with NR = 16.
                unsafe { direct::run_region(WideMicrokernel, run, &region, &mut scratch) };
            }
        });
    }
}
