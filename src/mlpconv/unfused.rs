//! `mlpconv-unfused`: the chain as frameworks run it, one registered kernel per operation,
//! every intermediate map written out in full and read back by the next layer.

use super::{MlpconvArgs, MlpconvKernel, PreparedChain};
use crate::conv1x1::Conv1x1Kernel;
use crate::conv1x1::blocked_simd::BlockedSimd;
use crate::gap::GapKernel;
use crate::gap::rayon::GapRayon;
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::MlpconvProblem;
use crate::scratch::{Slot, with_scratch};
use crate::simd::SimdPolicy;
use crate::tensor::Layout;

/// `mlpconv-unfused`'s declaration.
pub static MLPCONV_UNFUSED: KernelDecl = KernelDecl {
    name: "mlpconv-unfused",
    op: Op::Mlpconv,
    threads: Threads::Rayon,
    roles: &[Role::Unfused],
    layouts: &[Layout::Nchw],
    description: "a chain as frameworks run it: `rayon-tiled` per layer, then `gap-rayon`, every intermediate written in full (the baseline)",
};

/// Each layer through `rayon-tiled`, then `gap-rayon` for a head: the baseline of the fused
/// kernel. Intermediates live in per-thread workspaces reused across calls (as an inference
/// engine's activation arena), so the comparison times memory traffic, not the allocator.
#[derive(Debug, Clone)]
pub struct MlpconvUnfused {
    conv: BlockedSimd,
    gap: GapRayon,
}

impl MlpconvUnfused {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { conv: BlockedSimd::rayon(policy), gap: GapRayon::new(policy) }
    }
}

impl Kernel for MlpconvUnfused {
    fn decl(&self) -> &'static KernelDecl {
        &MLPCONV_UNFUSED
    }

    fn isa(&self) -> &'static str {
        self.conv.isa()
    }

    fn tile(&self) -> Option<String> {
        self.conv.tile()
    }
}

impl MlpconvKernel for MlpconvUnfused {
    fn pack(&self, problem: &MlpconvProblem, weights: &[&[f32]], biases: &[&[f32]]) -> PreparedChain {
        let layers = problem
            .layers()
            .zip(weights.iter().zip(biases))
            .map(|(layer, (w, b))| self.conv.pack(&layer.expect("validated chain"), w, Some(b)))
            .collect();
        PreparedChain::new(self.name(), self.isa().to_string(), *problem, layers)
    }

    fn execute(&self, args: MlpconvArgs<'_>) {
        let MlpconvArgs { problem: p, input, prepared, output, .. } = args;
        let depth = p.widths().len();
        let widest = p.widths().iter().max().copied().unwrap_or(0);
        let activation_len = p.n * widest * p.pixels();
        // Two workspaces, ping-pong: `.0` holds the last layer's output, `.1` receives the next.
        with_scratch(Slot::ChainA, activation_len, |a| {
            with_scratch(Slot::ChainB, activation_len, |b| {
                let mut buffers = (a, b);
                for (i, prepared) in prepared.layers().iter().enumerate() {
                    let layer = p.layer(i);
                    let src: &[f32] = if i == 0 { input } else { &buffers.0[..layer.input_len()] };
                    if i + 1 == depth && !p.gap {
                        self.conv.run(&layer, src, prepared, output).expect("lengths checked by run");
                        return;
                    }
                    let dst = &mut buffers.1[..layer.output_len()];
                    self.conv.run(&layer, src, prepared, dst).expect("lengths checked by run");
                    std::mem::swap(&mut buffers.0, &mut buffers.1);
                }
                if let Some(gap) = p.gap_problem() {
                    self.gap.run(&gap, &buffers.0[..gap.input_len()], output).expect("lengths checked by run");
                }
            })
        });
    }
}
