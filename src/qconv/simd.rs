//! `qconv-simd`: the int8 tile of the widest path the CPU has (AVX-512 VNNI, AVX-VNNI, AVX2's
//! `vpmaddubsw` triple), over weight panels and pixel tiles packed once per image.

use super::pack::{groups, pack_pixels, pack_weights, pixels_len};
use super::{PreparedQLayer, QConv1x1Kernel, QPath};
use crate::error::{NinError, Result};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::QConv1x1Problem;
use crate::quant::{QLayer, WeightRange, requantize};
use crate::tensor::Layout;
use crate::ukernel::int8::RequantizeTile;

/// `qconv-simd`'s declaration.
pub static QCONV_SIMD: KernelDecl = KernelDecl {
    name: "qconv-simd",
    op: Op::QConv1x1,
    threads: Threads::Single,
    roles: &[Role::Default],
    layouts: &Layout::ALL,
    description: "int8 register tile of MR output channels × NR pixels over K in groups of 4: vpdpbusd (AVX-512 or AVX-VNNI) or AVX2's vpmaddubsw, vpmaddwd, vpaddd (7-bit weights), chosen at run time",
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
        let (mr, _) = self.path.dims();
        PreparedQLayer::new(self.name(), p, layer, pack_weights(&layer.weights, c.cin, c.cout, mr))
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
        let mut pixels = vec![0u8; pixels_len(p, nr)];
        let mut sums = vec![0i32; mr * nr];
        // Where output (channel co, pixel q) of image n goes, and how far apart the pixels of
        // one channel are.
        let (channel_stride, pixel_stride) = match c.layout {
            Layout::Nchw => (pixels_out, 1),
            Layout::Nhwc => (1, c.cout),
        };
        // LOOP 1: images, each one's pixels packed once.
        for n in 0..c.n {
            pack_pixels(p, x, n, nr, &mut pixels);
            let image = n * c.cout * pixels_out;
            // LOOP 2: tiles of NR pixels (a tile of Cin·NR bytes stays in L1).
            for (t, x_tile) in pixels.chunks_exact(g_len * nr * 4).enumerate() {
                let q0 = t * nr;
                let cols = nr.min(pixels_out - q0);
                // LOOP 3: panels of MR output channels, one tile call each.
                for (j, w_panel) in prepared.weights.chunks_exact(g_len * mr * 4).enumerate() {
                    // SAFETY: `new`/`on` checked the CPU has the path; the panel holds
                    // g_len·mr·4 bytes, the tile g_len·nr·4, `sums` mr·nr; `prepare` checked
                    // the weights against the path's range.
                    unsafe {
                        if cols <= nr / 2 {
                            self.path.run_half_tile(g_len, w_panel, x_tile, &mut sums)
                        } else {
                            self.path.run_tile(g_len, w_panel, x_tile, &mut sums)
                        }
                    };
                    let (co0, rows) = (j * mr, mr.min(c.cout - j * mr));
                    let first = image + co0 * channel_stride + q0 * pixel_stride;
                    let (bias, m) = (&prepared.bias[co0..co0 + rows], &prepared.multipliers[co0..co0 + rows]);
                    if pixel_stride == 1 && acc.is_none() {
                        // NCHW: each channel's pixels q0.. are contiguous, rows `pixels_out`
                        // apart.
                        let out = &mut y[first..first + (rows - 1) * channel_stride + cols];
                        let tile = RequantizeTile { sums: &sums, nr, cols, bias, m, row_stride: channel_stride };
                        // SAFETY: the path is available (`new`/`on`), and with it its
                        // requantization.
                        unsafe { self.path.requantize_isa().requantize_rows(&tile, out) };
                        continue;
                    }
                    for r in 0..rows {
                        let (bias, m) = (bias[r], m[r]);
                        let first = first + r * channel_stride;
                        let row = &sums[r * nr..][..cols];
                        for (cc, &s) in row.iter().enumerate() {
                            let (sum, at) = (s + bias, first + cc * pixel_stride);
                            if let Some(acc) = acc.as_deref_mut() {
                                acc[at] = sum;
                            }
                            y[at] = requantize(sum, m);
                        }
                    }
                }
            }
        }
    }
}
