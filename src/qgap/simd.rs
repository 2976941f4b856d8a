//! `qgap-simd`: NCHW rows summed with `vpsadbw`, NHWC pixels widened and added a block of
//! channels at a time, on the widest [`QGapPath`] the CPU has; then one vectorised
//! requantization of the N×C sums.

use super::{QGapKernel, QGapPath};
use crate::error::{NinError, Result};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::QGapProblem;
use crate::tensor::Layout;
use crate::ukernel::requantize::RequantizeTile;

/// `qgap-simd`'s declaration.
pub static QGAP_SIMD: KernelDecl = KernelDecl {
    name: "qgap-simd",
    op: Op::QGap,
    threads: Threads::Single,
    roles: &[Role::Default],
    layouts: &Layout::ALL,
    description: "int8 GAP: vpsadbw row sums (NCHW) or widened per-channel adds (NHWC), AVX-512BW or AVX2, chosen at run time",
};

/// The int8 GAP kernel on one [`QGapPath`].
#[derive(Debug, Clone, Copy)]
pub struct QGapSimd {
    path: QGapPath,
}

impl QGapSimd {
    /// On the widest path this CPU has.
    pub fn new() -> Self {
        QGapSimd { path: QGapPath::widest() }
    }

    /// On `path`, or an error when this CPU lacks it.
    pub fn on(path: QGapPath) -> Result<Self> {
        if !path.available() {
            return Err(NinError::Isa { asked: path.name().into(), reason: "this CPU lacks it".into() });
        }
        Ok(QGapSimd { path })
    }

    /// Its path.
    pub fn path(&self) -> QGapPath {
        self.path
    }
}

impl Default for QGapSimd {
    fn default() -> Self {
        Self::new()
    }
}

impl Kernel for QGapSimd {
    fn decl(&self) -> &'static KernelDecl {
        &QGAP_SIMD
    }

    fn isa(&self) -> &'static str {
        self.path.name()
    }
}

impl QGapKernel for QGapSimd {
    fn execute(&self, p: &QGapProblem, x: &[u8], m: f32, sums: &mut [i32], y: &mut [u8]) {
        let g = p.gap();
        let image_len = g.c * g.h * g.w;
        for (image, image_sums) in x.chunks_exact(image_len).zip(sums.chunks_exact_mut(g.c)) {
            match g.layout {
                // SAFETY: `new`/`on` checked the CPU has the path; the image holds C rows.
                Layout::Nchw => unsafe { self.path.row_sums(image, image_sums) },
                // SAFETY: as above; the image holds H·W pixels of C channels.
                Layout::Nhwc => unsafe { self.path.pixel_sums(image, image_sums) },
            }
        }
        let tile = RequantizeTile { sums, nr: sums.len(), cols: sums.len(), bias: &[0], m: &[m], at: 0 };
        // SAFETY: the requantization needs a subset of this path's features
        // (`QGapPath::requantize_isa`), which `new`/`on` checked.
        unsafe { self.path.requantize_isa().requantize_rows(&tile, &mut [y]) };
    }
}
