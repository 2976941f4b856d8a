//! The work both int8 tile kernels share: a block of one image's output (pixel tiles ×
//! channel panels) packed and computed by one thread, `qconv-simd` running one block per
//! image, `qconv-rayon` many at once.

use std::ops::Range;

use super::pack::{groups, pack_pixels, pixels_len};
use super::{PreparedQLayer, QPath};
use crate::problem::QConv1x1Problem;
use crate::quant::requantize;
use crate::scratch::{Slot, with_byte_scratch};
use crate::tensor::Layout;
use crate::ukernel::requantize::{RequantizeTile, TileBytes};

/// The largest tile of any path ([`QPath::dims`]): MR channels, NR pixels.
const MAX_MR: usize = 8;
const MAX_NR: usize = 32;

/// Panels of MR output channels on `path`: ⌈Cout / MR⌉.
pub(super) fn panels(p: &QConv1x1Problem, path: QPath) -> usize {
    p.conv().cout.div_ceil(path.dims().0)
}

/// Tiles of NR output pixels per image on `path`: ⌈H·W / NR⌉.
pub(super) fn tiles(p: &QConv1x1Problem, path: QPath) -> usize {
    p.conv().pixels_out().div_ceil(path.dims().1)
}

/// A block of one image's output: pixel tiles × channel panels.
#[derive(Debug, Clone)]
pub(super) struct Block {
    /// Tiles of NR pixels.
    pub tiles: Range<usize>,
    /// Panels of MR output channels.
    pub panels: Range<usize>,
}

/// Where a block's outputs (and accumulators) go: its lines, each contiguous in the output.
/// NCHW: one line per output channel of the block, its pixels in the block; NHWC: one line
/// per pixel of the block, its channels in the block.
pub(super) struct BlockOut<'a> {
    pub y: Vec<&'a mut [u8]>,
    pub acc: Option<Vec<&'a mut [i32]>>,
}

/// Computes `block` of image `n`'s output: packs the block's pixels into this thread's
/// scratch, then runs the tile over them and the block's panels.
pub(super) fn run_block(
    path: QPath,
    p: &QConv1x1Problem,
    x: &[u8],
    n: usize,
    prepared: &PreparedQLayer,
    block: Block,
    out: BlockOut,
) {
    let c = p.conv();
    let (mr, nr) = path.dims();
    let (g_len, pixels_out) = (groups(c.cin), c.pixels_out());
    let BlockOut { mut y, mut acc } = out;
    let (first_channel, first_pixel) = (block.panels.start * mr, block.tiles.start * nr);
    let mut sums = vec![0i32; mr * nr];
    // NHWC's tile of requantized bytes, a row per output channel (every path's tile fits).
    let mut byte_tile = [[0u8; MAX_NR]; MAX_MR];
    assert!(mr <= MAX_MR && nr <= MAX_NR, "a {mr}x{nr} tile");
    let (tile_len, panel_len) = (g_len * nr * 4, g_len * mr * 4);
    // The block's panels of MR channels each (all but a last panel of fewer).
    let whole = block.panels.end.min(c.cout / mr).saturating_sub(block.panels.start);
    with_byte_scratch(Slot::PackBytes, pixels_len(p, nr, block.tiles.len()), |pixels| {
        pack_pixels(p, x, n, nr, block.tiles.clone(), pixels);
        // LOOP 2: tiles of NR pixels (a tile of Cin·NR bytes stays in L1).
        for (t, x_tile) in block.tiles.clone().zip(pixels.chunks_exact(tile_len)) {
            let q0 = t * nr;
            let cols = nr.min(pixels_out - q0);
            let mut panels = block.panels.clone();
            if c.layout == Layout::Nchw && acc.is_none() && cols == nr && whole > 0 {
                // Whole tiles whose rows are contiguous in their lines: every whole panel in
                // one call, requantized in registers, the sums never stored.
                let (co0, co1) = (panels.start * mr, (panels.start + whole) * mr);
                let mut out = TileBytes {
                    lines: &mut y[co0 - first_channel..co1 - first_channel],
                    at: q0 - first_pixel,
                    bias: &prepared.bias[co0..co1],
                    m: &prepared.multipliers[co0..co1],
                };
                let w = &prepared.weights[panels.start * panel_len..][..whole * panel_len];
                // SAFETY: the kernel checked the CPU has the path; `w` holds `whole` panels of
                // g_len·mr·4 bytes, the tile g_len·nr·4; `prepare` checked the weights.
                unsafe { path.run_panels_requantized(g_len, w, x_tile, &mut out) };
                panels.start += whole;
            }
            // LOOP 3: (the other) panels of MR output channels, one tile call each.
            for j in panels {
                let w_panel = &prepared.weights[j * panel_len..][..panel_len];
                let (co0, rows) = (j * mr, mr.min(c.cout - j * mr));
                let (bias, m) = (&prepared.bias[co0..co0 + rows], &prepared.multipliers[co0..co0 + rows]);
                let (line0, at0) = match c.layout {
                    Layout::Nchw => (co0 - first_channel, q0 - first_pixel),
                    Layout::Nhwc => (q0 - first_pixel, co0 - first_channel),
                };
                // SAFETY: the kernel checked the CPU has the path; the panel holds g_len·mr·4
                // bytes, the tile g_len·nr·4, `sums` mr·nr; `prepare` checked the weights
                // against the path's range.
                unsafe {
                    if cols <= nr / 2 {
                        path.run_half_tile(g_len, w_panel, x_tile, &mut sums)
                    } else {
                        path.run_tile(g_len, w_panel, x_tile, &mut sums)
                    }
                };
                if acc.is_none() {
                    // SAFETY (both): the path is available (checked by the kernel), and with it
                    // its requantization.
                    if c.layout == Layout::Nchw {
                        // NCHW: each channel's pixels q0.. are contiguous in its line.
                        let tile = RequantizeTile { sums: &sums, nr, cols, bias, m, at: at0 };
                        unsafe { path.requantize_isa().requantize_rows(&tile, &mut y[line0..line0 + rows]) };
                    } else {
                        // NHWC: requantized a channel row at a time in SIMD into a byte tile,
                        // then each pixel's channels copied to its line.
                        let tile = RequantizeTile { sums: &sums, nr, cols, bias, m, at: 0 };
                        let mut byte_rows = byte_tile.each_mut().map(|row| &mut row[..]);
                        unsafe { path.requantize_isa().requantize_rows(&tile, &mut byte_rows[..rows]) };
                        for (cc, line) in y[line0..line0 + cols].iter_mut().enumerate() {
                            for (out, row) in line[at0..at0 + rows].iter_mut().zip(&byte_tile) {
                                *out = row[cc];
                            }
                        }
                    }
                    continue;
                }
                for r in 0..rows {
                    let (bias, m) = (bias[r], m[r]);
                    for (cc, &s) in sums[r * nr..][..cols].iter().enumerate() {
                        let (line, at) = match c.layout {
                            Layout::Nchw => (line0 + r, at0 + cc),
                            Layout::Nhwc => (line0 + cc, at0 + r),
                        };
                        let sum = s + bias;
                        if let Some(acc) = acc.as_deref_mut() {
                            acc[line][at] = sum;
                        }
                        y[line][at] = requantize(sum, m);
                    }
                }
            }
        }
    });
}
