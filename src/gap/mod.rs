//! Global average pooling kernels behind one trait: `Y[n, c] = mean over (h, w) of X[n, c, h, w]`.
//!
//! GAP has no weights, so there is no prepare step: [`GapKernel::run`] checks lengths once and
//! the kernel's `execute` relies on them.

pub mod naive;
pub mod rayon;
pub mod simd;

use crate::error::Result;
use crate::kernel::Checked;
pub use crate::kernel::{Kernel, KernelInfo};
use crate::problem::GapProblem;

/// The checked arguments of one GAP run.
#[derive(Debug)]
pub struct GapArgs<'a> {
    /// The problem.
    pub problem: &'a GapProblem,
    /// Input, `problem.input_len()` values.
    pub input: &'a [f32],
    /// Output, N×C values.
    pub output: &'a mut [f32],
    /// Private: [`GapArgs`] exist only after [`GapKernel::run`]'s checks.
    pub checked: Checked,
}

/// A global average pooling kernel.
pub trait GapKernel: Kernel {
    /// Computes the output; called by [`run`](Self::run) after its checks.
    fn execute(&self, args: GapArgs<'_>);

    /// Checks lengths, then writes the per-channel means of `input` into `output` (N×C). On
    /// error the output is untouched.
    fn run(&self, problem: &GapProblem, input: &[f32], output: &mut [f32]) -> Result<()> {
        problem.check_buffers(input.len(), output.len())?;
        self.execute(GapArgs { problem, input, output, checked: Checked::new() });
        Ok(())
    }
}
