//! 1×1 convolution kernels behind one trait.
//!
//! A kernel first [`prepare`](Conv1x1Kernel::prepare)s the weights and bias into its own form,
//! once per layer (what an inference engine does at load time), then
//! [`run`](Conv1x1Kernel::run)s any number of inputs against them. `run` never repacks weights,
//! so benchmarks time `run` and state the preparation cost on its own.
//!
//! Both entry points check every shape and length once, here, and return a typed error
//! without touching the output; the kernels' own code (`pack`, `execute`) may then rely on them.

pub mod blocked_simd;
pub mod blocked_wide;
pub(crate) mod direct;
pub mod im2col_gemm;
pub mod naive;

use crate::error::{NinError, Result};
use crate::kernel::Checked;
pub use crate::kernel::{Kernel, KernelInfo};
use crate::problem::Conv1x1Problem;
use crate::tensor::AlignedBuf;

/// Weights and bias in a kernel's own form, made by [`Conv1x1Kernel::prepare`].
#[derive(Debug, Clone)]
pub struct PreparedWeights {
    kernel: &'static str,
    isa: String,
    problem: Conv1x1Problem,
    weights: AlignedBuf,
    bias: AlignedBuf,
}

impl PreparedWeights {
    /// Wraps packed `weights` and `bias` made by `kernel` (running with `isa`) for `problem`.
    pub fn new(
        kernel: &'static str,
        isa: String,
        problem: Conv1x1Problem,
        weights: AlignedBuf,
        bias: AlignedBuf,
    ) -> Self {
        Self { kernel, isa, problem, weights, bias }
    }

    /// The kernel that prepared them.
    pub fn kernel(&self) -> &'static str {
        self.kernel
    }

    /// The packed weights.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The bias, padded as the kernel needs (zeros when the problem has none).
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Bytes held (packing may pad).
    pub fn bytes(&self) -> usize {
        4 * (self.weights.len() + self.bias.len())
    }

    /// Weights depend on Cin, Cout, bias and layout, not on batch, map size, stride or ReLU.
    fn fits(&self, kernel: &str, isa: &str, p: &Conv1x1Problem) -> bool {
        let q = &self.problem;
        self.kernel == kernel
            && self.isa == isa
            && (q.cin, q.cout, q.bias, q.layout) == (p.cin, p.cout, p.bias, p.layout)
    }
}

/// The checked arguments of one run: lengths match `problem`, `prepared` fits it.
#[derive(Debug)]
pub struct ConvArgs<'a> {
    /// The problem.
    pub problem: &'a Conv1x1Problem,
    /// Input, `problem.input_len()` values.
    pub input: &'a [f32],
    /// Weights prepared by this kernel for this problem's Cin, Cout, bias and layout.
    pub prepared: &'a PreparedWeights,
    /// Output, `problem.output_len()` values.
    pub output: &'a mut [f32],
    /// Private: [`ConvArgs`] exist only after [`Conv1x1Kernel::run`]'s checks.
    pub checked: Checked,
}

/// A 1×1 convolution kernel. See the module docs for the prepare/run split.
pub trait Conv1x1Kernel: Kernel {
    /// Why this kernel cannot run `problem`, if it cannot. The default runs everything.
    fn unsupported_reason(&self, _problem: &Conv1x1Problem) -> Option<String> {
        None
    }

    /// Packs weights (Cout×Cin row-major) and bias; called by [`prepare`](Self::prepare) after
    /// its checks.
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights;

    /// Computes the output; called by [`run`](Self::run) after its checks.
    fn execute(&self, args: ConvArgs<'_>);

    /// Checks that this kernel supports `problem` and that `weights` (Cout×Cin) and `bias`
    /// (Cout, present exactly when the problem has bias) fit it, then packs them.
    fn prepare(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> Result<PreparedWeights> {
        self.check_supported(problem)?;
        problem.check_weights(weights.len(), bias.map(<[f32]>::len))?;
        Ok(self.pack(problem, weights, bias))
    }

    /// Checks lengths and the prepared weights, then writes the convolution of `input` into
    /// `output`. On error the output is untouched.
    fn run(
        &self,
        problem: &Conv1x1Problem,
        input: &[f32],
        prepared: &PreparedWeights,
        output: &mut [f32],
    ) -> Result<()> {
        self.check_supported(problem)?;
        problem.check_buffers(input.len(), output.len())?;
        if !prepared.fits(self.name(), self.isa(), problem) {
            return Err(NinError::PreparedMismatch {
                prepared_by: prepared.kernel,
                prepared_for: prepared.problem.to_string(),
                kernel: self.name(),
                problem: problem.to_string(),
            });
        }
        self.execute(ConvArgs { problem, input, prepared, output, checked: Checked::new() });
        Ok(())
    }

    /// [`NinError::Unsupported`] when [`unsupported_reason`](Self::unsupported_reason) says so.
    fn check_supported(&self, problem: &Conv1x1Problem) -> Result<()> {
        match self.unsupported_reason(problem) {
            Some(reason) => Err(NinError::Unsupported { kernel: self.name(), problem: problem.to_string(), reason }),
            None => Ok(()),
        }
    }
}
