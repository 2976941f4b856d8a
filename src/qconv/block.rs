//! The work both int8 tile kernels share: a block of one image's output (pixel tiles ×
//! channel panels) packed and computed by one thread, `qconv-simd` running one block per
//! image, `qconv-rayon` many at once.

use std::ops::Range;

use super::pack::{PixelRows, groups, pack_pixel_rows, pack_pixels, pixel_row, pixels_len};
use super::{PreparedQLayer, QTile, Vectors};
use crate::problem::QConv1x1Problem;
use crate::quant::requantize;
use crate::scratch::{Slot, with_byte_scratch};
use crate::tensor::Layout;
use crate::ukernel::int8_tile::{MAX_PIXEL_ROWS, TileOut, TilePixels};
use crate::ukernel::interleave::transpose_rows;
use crate::ukernel::requantize::{RequantizeTile, TileBytes};

/// The most channels and pixels of any tile ([`QTile::dims`]), in either orientation.
const MAX_MR: usize = 32;
const MAX_NR: usize = 32;

/// Panels of MR output channels of `tile`: ⌈Cout / MR⌉.
pub(super) fn panels(p: &QConv1x1Problem, tile: QTile) -> usize {
    p.conv().cout.div_ceil(tile.dims().0)
}

/// Tiles of NR output pixels per image of `tile`: ⌈H·W / NR⌉.
pub(super) fn tiles(p: &QConv1x1Problem, tile: QTile) -> usize {
    p.conv().pixels_out().div_ceil(tile.dims().1)
}

/// A block of one image's output: pixel tiles × channel panels.
#[derive(Debug, Clone)]
pub(super) struct Block {
    /// The image.
    pub image: usize,
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

/// The output pixels of `tiles` (tiles of NR pixels of `tile`), up to the map's end.
fn tile_pixels(p: &QConv1x1Problem, tile: QTile, tiles: &Range<usize>) -> Range<usize> {
    let nr = tile.dims().1;
    tiles.start * nr..(tiles.end * nr).min(p.conv().pixels_out())
}

/// Bytes [`pack_block`] writes for the pixels of `tiles`: none where the tile reads the
/// input in place.
pub(super) fn packed_len(tile: QTile, p: &QConv1x1Problem, tiles: &Range<usize>) -> usize {
    match tile.vectors {
        Vectors::Pixels => pixels_len(p, tile.dims().1, tiles.len()),
        Vectors::Channels => PixelRows::of(p).len(p, tile_pixels(p, tile, tiles).len()),
    }
}

/// Packs the pixels of `tiles` of image `image` as `tile` reads them, into `out`
/// ([`packed_len`] bytes at least).
pub(super) fn pack_block(
    tile: QTile,
    p: &QConv1x1Problem,
    x: &[u8],
    image: usize,
    tiles: Range<usize>,
    out: &mut [u8],
) {
    match tile.vectors {
        Vectors::Pixels => pack_pixels(p, x, image, tile.dims().1, tiles, out),
        Vectors::Channels => pack_pixel_rows(p, &PixelRows::of(p), x, image, tile_pixels(p, tile, &tiles), out),
    }
}

/// Packs `block`'s pixels into this thread's scratch and computes its output with `tile`.
pub(super) fn run_block(
    tile: QTile,
    p: &QConv1x1Problem,
    x: &[u8],
    prepared: &PreparedQLayer,
    block: Block,
    out: BlockOut,
) {
    with_byte_scratch(Slot::PackBytes, packed_len(tile, p, &block.tiles), |packed| {
        pack_block(tile, p, x, block.image, block.tiles.clone(), packed);
        compute_block(tile, p, x, prepared, block, out, packed)
    })
}

/// Computes `block`'s output with `tile`, over the block's pixel tiles and channel panels,
/// its pixels read from `packed` as [`pack_block`] left them (or in place).
pub(super) fn compute_block(
    tile: QTile,
    p: &QConv1x1Problem,
    x: &[u8],
    prepared: &PreparedQLayer,
    block: Block,
    out: BlockOut,
    packed: &[u8],
) {
    match tile.vectors {
        Vectors::Pixels => compute_block_of_pixel_vectors(tile, p, prepared, block, out, packed),
        Vectors::Channels => compute_block_of_channel_vectors(tile, p, x, prepared, block, out, packed),
    }
}

/// [`compute_block`] with pixel vectors: the tile over each of the block's packed tiles of
/// pixels and the block's panels.
fn compute_block_of_pixel_vectors(
    tile: QTile,
    p: &QConv1x1Problem,
    prepared: &PreparedQLayer,
    block: Block,
    out: BlockOut,
    pixels: &[u8],
) {
    let c = p.conv();
    let (mr, nr) = tile.dims();
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
            // SAFETY: the kernel checked the CPU has the path; `prepare` checked the weights.
            unsafe { tile.run(g_len, w, TilePixels::Packed(x_tile), TileOut::Bytes(&mut out), false) };
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
            let half = cols <= nr / 2;
            // SAFETY: the kernel checked the CPU has the path; `prepare` checked the weights
            // against the path's range.
            unsafe { tile.run(g_len, w_panel, TilePixels::Packed(x_tile), TileOut::Sums(&mut sums), half) };
            if acc.is_none() {
                // SAFETY (both): the path is available (checked by the kernel), and with it
                // its requantization.
                if c.layout == Layout::Nchw {
                    // NCHW: each channel's pixels q0.. are contiguous in its line.
                    let sums = RequantizeTile { sums: &sums, nr, cols, bias, m, at: at0 };
                    unsafe { tile.path.requantize_isa().requantize_rows(&sums, &mut y[line0..line0 + rows]) };
                } else {
                    // NHWC: requantized a channel row at a time in SIMD into a byte tile,
                    // then each pixel's channels copied to its line.
                    let sums = RequantizeTile { sums: &sums, nr, cols, bias, m, at: 0 };
                    let mut byte_rows = byte_tile.each_mut().map(|row| &mut row[..]);
                    unsafe { tile.path.requantize_isa().requantize_rows(&sums, &mut byte_rows[..rows]) };
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
}

/// [`compute_block`] with channel vectors: the tile over each tile of the block's pixel rows
/// (packed, or in place for NHWC) and the block's panels. NHWC's whole tiles write bytes
/// straight to their pixels' lines; NCHW's go through a tile of bytes on the stack, copied a
/// channel at a time.
fn compute_block_of_channel_vectors(
    tile: QTile,
    p: &QConv1x1Problem,
    x: &[u8],
    prepared: &PreparedQLayer,
    block: Block,
    out: BlockOut,
    packed: &[u8],
) {
    let c = p.conv();
    let (mr, nr) = tile.dims();
    assert!(mr <= MAX_MR && nr <= MAX_PIXEL_ROWS, "a {mr}x{nr} tile");
    let (g_len, pixels_out) = (groups(c.cin), c.pixels_out());
    let BlockOut { mut y, mut acc } = out;
    let (first_channel, first_pixel) = (block.panels.start * mr, block.tiles.start * nr);
    let pixels = tile_pixels(p, tile, &block.tiles);
    let panel_len = g_len * mr * 4;
    // The block's panels of MR channels each (all but a last panel of fewer).
    let whole = block.panels.end.min(c.cout / mr).saturating_sub(block.panels.start);
    let layout = PixelRows::of(p);
    let stride = layout.stride(pixels.len());
    // A line's byte for output channel `co` (of the layer) and pixel `q` of the image.
    let at = |co: usize, q: usize| match c.layout {
        Layout::Nchw => (co - first_channel, q - first_pixel),
        Layout::Nhwc => (q - first_pixel, co - first_channel),
    };
    // A tile's bytes, a row of channels per pixel.
    let mut byte_tile = [[0u8; MAX_MR]; MAX_PIXEL_ROWS];
    let mut sums = [0i32; MAX_MR * MAX_PIXEL_ROWS];
    let n = block.image;
    // LOOP 2: tiles of NR pixels, a row each (rows past the map's end read its first).
    for t in block.tiles.clone() {
        let q0 = t * nr;
        let cols = nr.min(pixels_out - q0);
        let (half, mut panels) = (cols <= nr / 2, block.panels.clone());
        let tile_rows = if half { nr / 2 } else { nr };
        // The tile's rows, past the map's end its first pixel's.
        let mut rows: [&[u8]; MAX_PIXEL_ROWS] = [&[]; MAX_PIXEL_ROWS];
        for (i, row) in rows.iter_mut().enumerate().take(tile_rows) {
            *row = pixel_row(p, &layout, x, packed, n, first_pixel, q0 + if i < cols { i } else { 0 });
        }
        let x_tile = TilePixels::Rows { rows: &rows[..tile_rows], stride };
        if c.layout == Layout::Nhwc && acc.is_none() && cols == tile_rows && whole > 0 {
            // Every whole panel in one call, each pixel's bytes straight to its line.
            let (co0, co1) = (panels.start * mr, (panels.start + whole) * mr);
            let (line0, at0) = at(co0, q0);
            let mut out = TileBytes {
                lines: &mut y[line0..line0 + cols],
                at: at0,
                bias: &prepared.bias[co0..co1],
                m: &prepared.multipliers[co0..co1],
            };
            let w = &prepared.weights[panels.start * panel_len..][..whole * panel_len];
            // SAFETY: the kernel checked the CPU has the path; `prepare` checked the weights.
            unsafe { tile.run(g_len, w, x_tile, TileOut::Bytes(&mut out), half) };
            panels.start += whole;
        }
        // LOOP 3: (the other) panels of MR output channels, one tile call each.
        for j in panels {
            let w_panel = &prepared.weights[j * panel_len..][..panel_len];
            let (co0, channels) = (j * mr, mr.min(c.cout - j * mr));
            if acc.is_none() && channels == mr {
                // A whole panel's bytes, a row per pixel, then copied to the lines.
                let mut lines = byte_tile.each_mut().map(|row| &mut row[..]);
                let mut out = TileBytes {
                    lines: &mut lines[..tile_rows],
                    at: 0,
                    bias: &prepared.bias[co0..co0 + mr],
                    m: &prepared.multipliers[co0..co0 + mr],
                };
                // SAFETY: as above.
                unsafe { tile.run(g_len, w_panel, x_tile, TileOut::Bytes(&mut out), half) };
                match c.layout {
                    Layout::Nhwc => {
                        for (cc, bytes) in byte_tile.iter().enumerate().take(cols) {
                            let (line, at) = at(co0, q0 + cc);
                            y[line][at..at + mr].copy_from_slice(&bytes[..mr]);
                        }
                    }
                    Layout::Nchw => {
                        let (line0, at0) = at(co0, q0);
                        transpose_rows(&byte_tile[..cols], mr, &mut y[line0..line0 + mr], at0);
                    }
                }
                continue;
            }
            // SAFETY: as above.
            unsafe { tile.run(g_len, w_panel, x_tile, TileOut::Sums(&mut sums), half) };
            for cc in 0..cols {
                for r in 0..channels {
                    let (line, at) = at(co0 + r, q0 + cc);
                    let sum = sums[cc * mr + r] + prepared.bias[co0 + r];
                    if let Some(acc) = acc.as_deref_mut() {
                        acc[line][at] = sum;
                    }
                    y[line][at] = requantize(sum, prepared.multipliers[co0 + r]);
                }
            }
        }
    }
}
