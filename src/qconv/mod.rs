//! Int8 1×1 convolution kernels: u8 activations, s8 weights, i32 sums, requantized to u8.
//! Every kernel agrees with [`crate::quant::reference`] bit for bit, on the accumulators and on
//! the outputs. They are in the [`crate::registry::Registry`] like the f32 kernels, so `verify`,
//! `run`, the report, the benches and the gate see them; `tests/int8_kernels.rs` checks them.

mod block;
mod naive;
mod pack;
mod rayon;
mod simd;
#[cfg(feature = "tract")]
pub mod tract_peer;

pub use naive::QConvNaive;
pub use simd::{QConvSimd, tile_fill};

pub use crate::ukernel::int8::{QPath, dpbusd};
pub use crate::ukernel::int8_tile::{QTile, Vectors};

use crate::error::{NinError, Result};
use crate::kernel::Kernel;
use crate::problem::QConv1x1Problem;
use crate::quant::{QLayer, WeightRange};

/// A quantized layer in a kernel's own form, made by [`QConv1x1Kernel::prepare`].
#[derive(Debug, Clone)]
pub struct PreparedQLayer {
    kernel: &'static str,
    problem: QConv1x1Problem,
    /// Weights, packed as the kernel reads them.
    pub(crate) weights: Vec<i8>,
    /// Cout values.
    pub(crate) bias: Vec<i32>,
    /// Cout values.
    pub(crate) multipliers: Vec<f32>,
    /// The register tile the weights are packed for, if the kernel has one.
    pub(crate) tile: Option<QTile>,
}

impl PreparedQLayer {
    /// `layer`'s bias and multipliers with `weights` as `kernel` packed them for `problem`.
    pub(crate) fn new(kernel: &'static str, problem: &QConv1x1Problem, layer: &QLayer, weights: Vec<i8>) -> Self {
        PreparedQLayer {
            kernel,
            problem: *problem,
            weights,
            bias: layer.bias.clone(),
            multipliers: layer.multipliers.clone(),
            tile: None,
        }
    }
}

/// An int8 1×1 convolution kernel.
pub trait QConv1x1Kernel: Kernel {
    /// The weights it computes exactly; [`prepare`](Self::prepare) refuses others.
    fn weight_range(&self) -> WeightRange;

    /// Packs a checked layer.
    fn pack(&self, p: &QConv1x1Problem, layer: &QLayer) -> PreparedQLayer;

    /// The register tile it runs `p` on, where it chooses one per layer (`8x32 (pixel
    /// vectors)`); `None` otherwise.
    fn tile_on(&self, _p: &QConv1x1Problem) -> Option<String> {
        None
    }

    /// Computes the output, and the accumulators when asked; called after the checks.
    fn execute(&self, p: &QConv1x1Problem, x: &[u8], prepared: &PreparedQLayer, acc: Option<&mut [i32]>, y: &mut [u8]);

    /// Checks `layer` against `p` and [`weight_range`](Self::weight_range), then packs it.
    fn prepare(&self, p: &QConv1x1Problem, layer: &QLayer) -> Result<PreparedQLayer> {
        layer.check(p, self.weight_range()).map_err(|e| NinError::Unsupported {
            kernel: self.name(),
            problem: p.to_string(),
            reason: e.to_string(),
        })?;
        Ok(self.pack(p, layer))
    }

    /// Writes the requantized output of `x` into `y` (and the i32 accumulators, bias
    /// included, into `acc` when given), after checking every length and that `prepared` was
    /// made by this kernel for `p`'s weights.
    fn run(
        &self,
        p: &QConv1x1Problem,
        x: &[u8],
        prepared: &PreparedQLayer,
        acc: Option<&mut [i32]>,
        y: &mut [u8],
    ) -> Result<()> {
        let c = p.conv();
        c.check_buffers(x.len(), y.len())?;
        if let Some(acc) = &acc {
            c.check_buffers(x.len(), acc.len())?;
        }
        let q = prepared.problem.conv();
        if prepared.kernel != self.name() || (q.cin, q.cout, q.bias) != (c.cin, c.cout, c.bias) {
            return Err(NinError::PreparedMismatch {
                prepared_by: prepared.kernel,
                prepared_for: prepared.problem.to_string(),
                kernel: self.name(),
                problem: p.to_string(),
            });
        }
        self.execute(p, x, prepared, acc, y);
        Ok(())
    }
}
