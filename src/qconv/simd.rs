//! `qconv-simd`: the int8 tile of the widest path the CPU has (AVX-512 VNNI, AVX-VNNI, AVX2's
//! `vpmaddubsw` triple), over packed pixel tiles and weight panels.

use super::pack::{groups, pack_pixels, pack_weights};
use super::{PreparedQLayer, QConv1x1Kernel, QPath};
use crate::error::{NinError, Result};
use crate::kernel::{Kernel, KernelDecl, Op, Threads};
use crate::problem::QConv1x1Problem;
use crate::quant::{QLayer, WeightRange, index, requantize};
use crate::tensor::Layout;

/// `qconv-simd`'s declaration.
pub static QCONV_SIMD: KernelDecl = KernelDecl {
    name: "qconv-simd",
    op: Op::QConv1x1,
    threads: Threads::Single,
    roles: &[],
    layouts: &Layout::ALL,
    description: "int8 register tile of MR pixels × NR channels over K in groups of 4: vpdpbusd (AVX-512 or AVX-VNNI) or AVX2's vpmaddubsw, vpmaddwd, vpaddd (7-bit weights), chosen at run time",
};

/// The int8 tile kernel on one [`QPath`].
#[derive(Debug, Clone, Copy)]
pub struct QConvSimd {
    path: QPath,
}

impl QConvSimd {
    /// On the widest path this CPU has.
    pub fn new() -> Self {
        QConvSimd { path: QPath::widest() }
    }

    /// On `path`, or an error when this CPU lacks it.
    pub fn on(path: QPath) -> Result<Self> {
        if !path.available() {
            return Err(NinError::Isa { asked: path.name().into(), reason: "this CPU lacks it".into() });
        }
        Ok(QConvSimd { path })
    }

    /// Its path.
    pub fn path(&self) -> QPath {
        self.path
    }
}

impl Default for QConvSimd {
    fn default() -> Self {
        Self::new()
    }
}

impl Kernel for QConvSimd {
    fn decl(&self) -> &'static KernelDecl {
        &QCONV_SIMD
    }

    fn isa(&self) -> &'static str {
        self.path.name()
    }

    fn tile(&self) -> Option<String> {
        let (mr, nr) = self.path.dims();
        Some(format!("{mr}x{nr}"))
    }
}

impl QConv1x1Kernel for QConvSimd {
    fn weight_range(&self) -> WeightRange {
        self.path.weight_range()
    }

    fn pack(&self, p: &QConv1x1Problem, layer: &QLayer) -> PreparedQLayer {
        let c = p.conv();
        let (_, nr) = self.path.dims();
        PreparedQLayer {
            kernel: self.name(),
            problem: *p,
            weights: pack_weights(&layer.weights, c.cin, c.cout, nr),
            bias: layer.bias.clone(),
            multipliers: layer.multipliers.clone(),
        }
    }

    fn execute(
        &self,
        p: &QConv1x1Problem,
        x: &[u8],
        prepared: &PreparedQLayer,
        mut acc: Option<&mut [i32]>,
        y: &mut [u8],
    ) {
        let c = p.conv();
        let (mr, nr) = self.path.dims();
        let (g_len, pixels_out) = (groups(c.cin), c.pixels_out());
        let mut a = vec![0u8; g_len * mr * 4];
        let mut sums = vec![0i32; mr * nr];
        // LOOP 1: images; LOOP 2: tiles of MR output pixels (packed once for every panel).
        for n in 0..c.n {
            for q0 in (0..pixels_out).step_by(mr) {
                pack_pixels(p, x, n, q0, mr, &mut a);
                let rows = mr.min(pixels_out - q0);
                // LOOP 3: panels of NR output channels, one tile call each.
                for (j, panel) in prepared.weights.chunks_exact(g_len * nr * 4).enumerate() {
                    // SAFETY: `new`/`on` checked the CPU has the path; `a` holds g_len·mr·4
                    // bytes, the panel g_len·nr·4, `sums` mr·nr; `prepare` checked the weights
                    // against the path's range.
                    unsafe { self.path.run_tile(g_len, &a, panel, &mut sums) };
                    let co0 = j * nr;
                    for r in 0..rows {
                        for cc in 0..nr.min(c.cout - co0) {
                            let co = co0 + cc;
                            let sum = sums[r * nr + cc] + prepared.bias[co];
                            let at = index(c.layout, c.cout, pixels_out, n, co, q0 + r);
                            if let Some(acc) = acc.as_deref_mut() {
                                acc[at] = sum;
                            }
                            y[at] = requantize(sum, prepared.multipliers[co]);
                        }
                    }
                }
            }
        }
    }
}
