//! `qconv-simd`: the int8 tile of the widest path the CPU has (AVX-512 VNNI, AVX-VNNI, AVX2's
//! `vpmaddubsw` triple), over weight panels and pixel tiles packed once per image; its
//! parallel form, `qconv-rayon`, is in `rayon.rs`.

use super::block::{Block, BlockOut, panels, run_block, tiles};
use super::pack::pack_weights;
use super::rayon::{QCONV_RAYON, execute_parallel};
use super::{PreparedQLayer, QConv1x1Kernel, QPath, QTile, Vectors};
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
    description: "int8 register tile of MR output channels × NR pixels over K in groups of 4: vpdpbusd (AVX-512 or AVX-VNNI) or AVX2's vpmaddubsw, vpmaddwd, vpaddd (7-bit weights), chosen at run time; pixels or output channels in the vectors, by layout and by the lanes the layer fills",
};

/// The int8 tile kernel on one [`QPath`], on the calling thread (`qconv-simd`) or over the
/// rayon pool current at the call (`qconv-rayon`, [`QConvSimd::rayon`]). Both compute each
/// output the same way, so their outputs are identical for any thread count. Each layer gets
/// the tile orientation ([`Vectors`]) that suits it ([`QConvSimd::tile_for`]) unless one is
/// forced ([`QConvSimd::with_vectors`]).
#[derive(Debug, Clone, Copy)]
pub struct QConvSimd {
    path: QPath,
    decl: &'static KernelDecl,
    vectors: Option<Vectors>,
}

impl QConvSimd {
    /// `qconv-simd` on the widest path this CPU has.
    pub fn new() -> Self {
        QConvSimd { path: QPath::widest(), decl: &QCONV_SIMD, vectors: None }
    }

    /// `qconv-simd` on `path`, or an error when this CPU lacks it.
    pub fn on(path: QPath) -> Result<Self> {
        if !path.available() {
            return Err(NinError::Isa { asked: path.name().into(), reason: "this CPU lacks it".into() });
        }
        Ok(QConvSimd { path, decl: &QCONV_SIMD, vectors: None })
    }

    /// `qconv-rayon` on `path`, or an error when this CPU lacks it.
    pub fn rayon(path: QPath) -> Result<Self> {
        Ok(QConvSimd { decl: &QCONV_RAYON, ..Self::on(path)? })
    }

    /// It with every layer on tiles of `vectors`.
    pub fn with_vectors(self, vectors: Vectors) -> Self {
        QConvSimd { vectors: Some(vectors), ..self }
    }

    /// Its path.
    pub fn path(&self) -> QPath {
        self.path
    }

    /// The tile it runs `p` on: the orientation forced, else the one whose tiles `p` fills
    /// better ([`tile_fill`]), channel vectors preferred on NHWC, where a tile's rows are the
    /// output's lines (pixel vectors' tiles are transposed through the stack), and pixel
    /// vectors on NCHW, likewise.
    pub fn tile_for(&self, p: &QConv1x1Problem) -> QTile {
        if let Some(vectors) = self.vectors {
            return QTile::new(self.path, vectors);
        }
        let [pixels, channels] = Vectors::ALL.map(|v| QTile::new(self.path, v));
        let (on_pixels, on_channels) = (tile_fill(p, pixels), tile_fill(p, channels));
        let channels_first = match p.conv().layout {
            Layout::Nhwc => on_channels >= NATIVE_FILL_MARGIN * on_pixels,
            Layout::Nchw => on_channels * NATIVE_FILL_MARGIN > on_pixels,
        };
        if channels_first { channels } else { pixels }
    }
}

/// How much better a tile of the orientation whose rows are not the output's lines must fill
/// its lanes to be chosen.
const NATIVE_FILL_MARGIN: f64 = 0.9;

/// The share of `tile`'s multiply-adds that compute outputs of `p`: output channels over
/// panels of MR, times an image's pixels over tiles of NR (a last one of at most NR/2 runs as
/// a half tile).
pub fn tile_fill(p: &QConv1x1Problem, tile: QTile) -> f64 {
    let (mr, nr) = tile.dims();
    let (cout, pixels) = (p.conv().cout, p.conv().pixels_out());
    let last = match pixels % nr {
        0 => 0,
        rest if rest <= nr / 2 => nr / 2,
        _ => nr,
    };
    let padded = (pixels - pixels % nr + last) * cout.div_ceil(mr) * mr;
    (cout * pixels) as f64 / padded as f64
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
        Some(match self.vectors {
            Some(vectors) => QTile::new(self.path, vectors).name(),
            None => Vectors::ALL.map(|v| QTile::new(self.path, v).name()).join(" or "),
        })
    }
}

impl QConv1x1Kernel for QConvSimd {
    fn weight_range(&self) -> WeightRange {
        self.path.weight_range()
    }

    fn tile_on(&self, p: &QConv1x1Problem) -> Option<String> {
        Some(self.tile_for(p).name())
    }

    fn pack(&self, p: &QConv1x1Problem, layer: &QLayer) -> PreparedQLayer {
        let c = p.conv();
        let tile = self.tile_for(p);
        let weights = pack_weights(&layer.weights, c.cin, c.cout, tile.dims().0);
        PreparedQLayer { tile: Some(tile), ..PreparedQLayer::new(self.name(), p, layer, weights) }
    }

    fn execute(
        &self,
        p: &QConv1x1Problem,
        x: &[u8],
        prepared: &PreparedQLayer,
        mut acc: Option<&mut [i32]>,
        y: &mut [u8],
    ) {
        // The tile the weights were packed for (by this kernel, `run` checked, on a path this
        // CPU has).
        let tile = prepared.tile.expect("packed by qconv-simd");
        if self.tasks(p) > 1 {
            return execute_parallel(tile, p, x, prepared, acc, y);
        }
        let c = p.conv();
        let image_len = c.cout * c.pixels_out();

        // LOOP 1: images, each one's pixels packed once for every panel.
        for n in 0..c.n {
            let out = BlockOut {
                y: lines(c.layout, &mut y[n * image_len..][..image_len], c.cout, c.pixels_out()),
                acc: acc
                    .as_deref_mut()
                    .map(|a| lines(c.layout, &mut a[n * image_len..][..image_len], c.cout, c.pixels_out())),
            };
            let whole = Block { image: n, tiles: 0..tiles(p, tile), panels: 0..panels(p, tile) };
            run_block(tile, p, x, prepared, whole, out);
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
