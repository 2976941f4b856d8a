//! Int8 global average pooling kernels: u8 in, one i32 sum per (image, channel), requantized
//! to u8 with [`gap_multiplier`] (the mean, in the input's scale). Every kernel agrees with
//! [`crate::quant::reference::qgap`] bit for bit, on the sums and on the outputs.

pub mod naive;
pub mod simd;

pub use crate::ukernel::qgap::QGapPath;

use crate::error::Result;
use crate::kernel::Kernel;
use crate::problem::QGapProblem;
use crate::quant::gap_multiplier;

/// An int8 GAP kernel.
pub trait QGapKernel: Kernel {
    /// Writes the N×C sums of `x` into `sums` (N×C values), then requantizes them with `m`
    /// into `y`; called by [`run`](Self::run) after its checks.
    fn execute(&self, p: &QGapProblem, x: &[u8], m: f32, sums: &mut [i32], y: &mut [u8]);

    /// Checks the lengths, then writes the requantized channel means of `x` into `y` (N×C
    /// values), and their i32 sums into `sums` when given.
    fn run(&self, p: &QGapProblem, x: &[u8], sums: Option<&mut [i32]>, y: &mut [u8]) -> Result<()> {
        let g = p.gap();
        g.check_buffers(x.len(), y.len())?;
        let mut own = Vec::new();
        let sums = match sums {
            Some(sums) => {
                g.check_buffers(x.len(), sums.len())?;
                sums
            }
            None => {
                own.resize(y.len(), 0);
                &mut own[..]
            }
        };
        self.execute(p, x, gap_multiplier(p), sums, y);
        Ok(())
    }
}
