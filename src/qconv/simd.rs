//! `qconv-simd`: the int8 tile of the widest path the CPU has (AVX-512 VNNI, AVX-VNNI, AVX2's
//! `vpmaddubsw` triple), over weight panels and pixel tiles packed once per image; its
//! parallel form, `qconv-rayon`, is in `rayon.rs`.

use super::block::{Block, BlockOut, panels, run_block, tiles};
use super::pack::pack_weights;
use super::rayon::{QCONV_RAYON, execute_parallel};
use super::{PreparedQLayer, QConv1x1Kernel, QPath};
use crate::error::{NinError, Result};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::QConv1x1Problem;
use crate::quant::{QLayer, WeightRange};
use crate::tensor::Layout;

/// `qconv-simd`'s declaration.
pub static QCONV_SIMD: KernelDecl = KernelDecl {
    name: "qconv-simd",
    op: Op::QConv1x1,
    threads: Threads::Single,
    roles: &[Role::Default],
    layouts: &Layout::ALL,
    description: "int8 register tile of MR output channels × NR pixels over K in groups of 4: vpdpbusd (AVX-512 or AVX-VNNI) or AVX2's vpmaddubsw, vpmaddwd, vpaddd (7-bit weights), chosen at run time",
};

/// The int8 tile kernel on one [`QPath`], on the calling thread (`qconv-simd`) or over the
/// rayon pool current at the call (`qconv-rayon`, [`QConvSimd::rayon`]). Both compute each
/// output the same way, so their outputs are identical for any thread count.
#[derive(Debug, Clone, Copy)]
pub struct QConvSimd {
    path: QPath,
    decl: &'static KernelDecl,
}

impl QConvSimd {
    /// `qconv-simd` on the widest path this CPU has.
    pub fn new() -> Self {
        QConvSimd { path: QPath::widest(), decl: &QCONV_SIMD }
    }

    /// `qconv-simd` on `path`, or an error when this CPU lacks it.
    pub fn on(path: QPath) -> Result<Self> {
        if !path.available() {
            return Err(NinError::Isa { asked: path.name().into(), reason: "this CPU lacks it".into() });
        }
        Ok(QConvSimd { path, decl: &QCONV_SIMD })
    }

    /// `qconv-rayon` on `path`, or an error when this CPU lacks it.
    pub fn rayon(path: QPath) -> Result<Self> {
        Ok(QConvSimd { decl: &QCONV_RAYON, ..Self::on(path)? })
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
        self.decl
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
        if self.tasks(p) > 1 {
            return execute_parallel(self.path, p, x, prepared, acc, y);
        }
        let c = p.conv();
        let image_len = c.cout * c.pixels_out();
        let whole = Block { tiles: 0..tiles(p, self.path), panels: 0..panels(p, self.path) };
        // LOOP 1: images, each one's pixels packed once for every panel.
        for n in 0..c.n {
            let out = BlockOut {
                y: lines(c.layout, &mut y[n * image_len..][..image_len], c.cout, c.pixels_out()),
                acc: acc
                    .as_deref_mut()
                    .map(|a| lines(c.layout, &mut a[n * image_len..][..image_len], c.cout, c.pixels_out())),
            };
            run_block(self.path, p, x, n, prepared, whole.clone(), out);
        }
    }
}

/// One image's output cut into its lines: its channels (NCHW) or its pixels (NHWC).
fn lines<T>(layout: Layout, image: &mut [T], cout: usize, pixels: usize) -> Vec<&mut [T]> {
    let line = match layout {
        Layout::Nchw => pixels,
        Layout::Nhwc => cout,
    };
    image.chunks_mut(line).collect()
}
