//! Fused kernels for NIN's micro-network: a chain of 1×1 convolutions with bias and ReLU
//! ("mlpconv"), optionally ending in global average pooling (the classifier head).
//!
//! Frameworks run such a chain layer by layer, writing every intermediate map to memory and
//! reading it back. The fused kernel computes it pixel tile by pixel tile and keeps the
//! intermediate in cache; the unfused kernel is the same chain through the registered
//! single-operation kernels, the baseline it is measured against.
//!
//! As for the single operations, [`MlpconvKernel::prepare`] packs every layer's weights once
//! and [`MlpconvKernel::run`] checks every shape and length once before the kernel's own code
//! runs.

pub mod fused;
pub mod unfused;

use crate::conv1x1::PreparedWeights;
use crate::error::{NinError, Result};
use crate::kernel::Checked;
pub use crate::kernel::{Kernel, KernelInfo};
use crate::problem::MlpconvProblem;

/// Every layer's weights and bias in a kernel's own form, made by [`MlpconvKernel::prepare`].
#[derive(Debug, Clone)]
pub struct PreparedChain {
    kernel: &'static str,
    isa: String,
    problem: MlpconvProblem,
    layers: Vec<PreparedWeights>,
}

impl PreparedChain {
    /// Wraps the per-layer weights `layers` made by `kernel` (running with `isa`) for `problem`.
    pub fn new(kernel: &'static str, isa: String, problem: MlpconvProblem, layers: Vec<PreparedWeights>) -> Self {
        Self { kernel, isa, problem, layers }
    }

    /// The kernel that prepared them.
    pub fn kernel(&self) -> &'static str {
        self.kernel
    }

    /// The prepared weights of each layer, in order.
    pub fn layers(&self) -> &[PreparedWeights] {
        &self.layers
    }

    /// Bytes held (packing may pad).
    pub fn bytes(&self) -> usize {
        self.layers.iter().map(PreparedWeights::bytes).sum()
    }

    /// Weights depend on the channel widths of the chain, not on batch or map size.
    fn fits(&self, kernel: &str, isa: &str, p: &MlpconvProblem) -> bool {
        let q = &self.problem;
        self.kernel == kernel && self.isa == isa && (q.cin, q.widths()) == (p.cin, p.widths())
    }
}

/// The checked arguments of one run: lengths match `problem`, `prepared` fits it.
#[derive(Debug)]
pub struct MlpconvArgs<'a> {
    /// The problem.
    pub problem: &'a MlpconvProblem,
    /// Input, `problem.input_len()` values (N×C×H×W).
    pub input: &'a [f32],
    /// Weights prepared by this kernel for this chain.
    pub prepared: &'a PreparedChain,
    /// Output, `problem.output_len()` values (N×K×H×W, or N×K with GAP).
    pub output: &'a mut [f32],
    /// Private: [`MlpconvArgs`] exist only after [`MlpconvKernel::run`]'s checks.
    pub checked: Checked,
}

/// A kernel for a chain of 1×1 convolutions (with bias and ReLU) and optional GAP.
pub trait MlpconvKernel: Kernel {
    /// Packs every layer's weights (`Kℓ×Cℓ` row-major) and bias; called by
    /// [`prepare`](Self::prepare) after its checks.
    fn pack(&self, problem: &MlpconvProblem, weights: &[&[f32]], biases: &[&[f32]]) -> PreparedChain;

    /// Computes the output; called by [`run`](Self::run) after its checks.
    fn execute(&self, args: MlpconvArgs<'_>);

    /// Checks that there is one weight matrix and one bias per layer, of the layer's sizes,
    /// then packs them.
    fn prepare(&self, problem: &MlpconvProblem, weights: &[&[f32]], biases: &[&[f32]]) -> Result<PreparedChain> {
        problem.check_weights(weights, biases)?;
        Ok(self.pack(problem, weights, biases))
    }

    /// Checks lengths and the prepared weights, then writes the chain's output. On error the
    /// output is untouched.
    fn run(&self, problem: &MlpconvProblem, input: &[f32], prepared: &PreparedChain, output: &mut [f32]) -> Result<()> {
        problem.check_buffers(input.len(), output.len())?;
        if !prepared.fits(self.name(), self.isa(), problem) {
            return Err(NinError::PreparedMismatch {
                prepared_by: prepared.kernel,
                prepared_for: prepared.problem.to_string(),
                kernel: self.name(),
                problem: problem.to_string(),
            });
        }
        self.execute(MlpconvArgs { problem, input, prepared, output, checked: Checked::new() });
        Ok(())
    }
}
