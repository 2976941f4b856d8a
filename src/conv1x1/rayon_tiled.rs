//! `rayon-tiled`: `blocked-simd` over independent output regions on the current rayon pool.

use rayon::prelude::*;

use super::direct::{self, DirectOp, OutPtr};
use super::{Conv1x1Kernel, ConvArgs, KernelInfo, PreparedWeights};
use crate::kernel::{Kernel, Op, Threads};
use crate::problem::Conv1x1Problem;
use crate::scratch::{Slot, with_scratch};
use crate::simd::SimdPolicy;
use crate::tensor::Layout;
use crate::ukernel::gemm::{tile_dims, tile_name};

/// The direct kernel, parallel over (image, output-channel block, pixel block) regions. Never
/// splits the Cin reduction, and the regions do not depend on the thread count, so the output
/// is bit-identical to `blocked-simd` for any number of threads.
///
/// It runs on the rayon pool current at the call: choose the thread count with
/// `rayon::ThreadPoolBuilder::new().num_threads(t).build()?.install(|| kernel.run(...))`.
#[derive(Debug, Clone)]
pub struct RayonTiled {
    policy: SimdPolicy,
    isa: String,
}

impl RayonTiled {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy, isa: policy.isa_name() }
    }
}

impl Kernel for RayonTiled {
    fn name(&self) -> &'static str {
        "rayon-tiled"
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
            threads: Threads::Rayon,
            description: "`blocked-simd` over independent output regions with rayon; bit-identical for any thread count",
        }
    }
}

impl Conv1x1Kernel for RayonTiled {
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights {
        direct::pack_for(self.policy, problem, weights, bias, (self.name(), &self.isa))
    }

    fn execute(&self, args: ConvArgs<'_>) {
        let tile = tile_dims(self.policy);
        let regions = direct::regions(args.problem, tile);
        let scratch_len = direct::region_scratch_len(args.problem, tile);
        let out = OutPtr(args.output.as_mut_ptr());
        let (problem, input, prepared, policy) = (args.problem, args.input, args.prepared, self.policy);
        // One region (a layer too small to split, see `direct::MIN_REGION_FLOPS`) or one thread:
        // run on the calling thread, as blocked-simd does, without a parallel loop. Handing a
        // single region to rayon on 2 threads cost about a microsecond per call: 1x192x8x8:10,
        // 3 µs per call, measured 0.79× its 1-thread speed on 2 threads (timed in turn).
        if regions.len() == 1 || rayon::current_num_threads() == 1 {
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
