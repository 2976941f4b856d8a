//! Packing for the int8 tiles (`crate::ukernel::int8`): K in groups of 4, zero-padded.

use std::ops::Range;

use crate::problem::QConv1x1Problem;
use crate::tensor::Layout;
use crate::ukernel::interleave::interleave4;

/// Groups of 4 input channels: ⌈Cin / 4⌉.
pub(super) fn groups(cin: usize) -> usize {
    cin.div_ceil(4)
}

/// Weights (Cout×Cin) into panels of `mr` output channels: panel `j`, group `g`, channel `r`,
/// byte `t` at `((j·G + g)·mr + r)·4 + t` = `w[j·mr + r][4g + t]`, zero past Cout and Cin.
pub(super) fn pack_weights(weights: &[i8], cin: usize, cout: usize, mr: usize) -> Vec<i8> {
    let g_len = groups(cin);
    let mut out = vec![0i8; cout.div_ceil(mr) * g_len * mr * 4];
    for (co, row) in weights.chunks_exact(cin).enumerate().take(cout) {
        let (j, r) = (co / mr, co % mr);
        for (ci, &w) in row.iter().enumerate() {
            out[((j * g_len + ci / 4) * mr + r) * 4 + ci % 4] = w;
        }
    }
    out
}

/// Bytes [`pack_pixels`] writes for `tiles` tiles of `nr` pixels.
pub(super) fn pixels_len(p: &QConv1x1Problem, nr: usize, tiles: usize) -> usize {
    tiles * groups(p.conv().cin) * nr * 4
}

/// The activations of image `n` at the output pixels of `tiles` (tiles of `nr` pixels): tile
/// `tiles.start + t`, group `g`, pixel `c`, byte `u` at `((t·G + g)·nr + c)·4 + u` =
/// `x[n][4g + u][input pixel of (tiles.start + t)·nr + c]`, zero past Cin and past the last
/// pixel. Packed once for every panel of output channels.
pub(super) fn pack_pixels(p: &QConv1x1Problem, x: &[u8], n: usize, nr: usize, tiles: Range<usize>, out: &mut [u8]) {
    let c = p.conv();
    let (g_len, pixels_in, pixels_out) = (groups(c.cin), c.pixels_in(), c.pixels_out());
    let out = &mut out[..pixels_len(p, nr, tiles.len())];
    let first = tiles.start * nr;
    let pixels = first..(tiles.end * nr).min(pixels_out);
    let at = |q: usize, ci: usize| {
        let q = q - first;
        (((q / nr) * g_len + ci / 4) * nr + q % nr) * 4 + ci % 4
    };
    match c.layout {
        // A channel's row of pixels, contiguous: four rows at a time, interleaved with SIMD
        // into each tile's group (packing was 40% of the time of 1x160x32x32:96 byte by byte).
        Layout::Nchw if c.stride == 1 => {
            let image = &x[n * c.cin * pixels_in..][..c.cin * pixels_in];
            let zeros = vec![0u8; nr];
            for (t, tile) in out.chunks_exact_mut(g_len * nr * 4).enumerate() {
                let q0 = first + t * nr;
                let cols = nr.min(pixels_out - q0);
                for (g, dst) in tile.chunks_exact_mut(nr * 4).enumerate() {
                    let row = |k: usize| match 4 * g + k {
                        ci if ci < c.cin => &image[ci * pixels_in + q0..][..cols],
                        _ => &zeros[..cols],
                    };
                    let (body, tail) = dst.split_at_mut(cols * 4);
                    interleave4([row(0), row(1), row(2), row(3)], body);
                    tail.fill(0);
                }
            }
        }
        Layout::Nchw => {
            out.fill(0);
            for ci in 0..c.cin {
                let row = &x[(n * c.cin + ci) * pixels_in..][..pixels_in];
                for q in pixels.clone() {
                    out[at(q, ci)] = row[c.input_pixel(q)];
                }
            }
        }
        // A pixel's channels, contiguous: each whole group of 4 is one 4-byte copy, the groups
        // of a pixel nr·4 bytes apart in its tile (a copy of a length known only at run time
        // was a call to memmove each, a third of 1x96x54x54:96,nhwc's time).
        Layout::Nhwc => {
            if !c.cin.is_multiple_of(4) || pixels.len() != tiles.len() * nr {
                out.fill(0);
            }
            for q in pixels {
                let px = &x[(n * pixels_in + c.input_pixel(q)) * c.cin..][..c.cin];
                let first = at(q, 0);
                let (whole, rest) = px.split_at(c.cin / 4 * 4);
                for (g, four) in whole.chunks_exact(4).enumerate() {
                    let dst = first + g * nr * 4;
                    out[dst..dst + 4].copy_from_slice(four);
                }
                if !rest.is_empty() {
                    let dst = at(q, whole.len());
                    out[dst..dst + rest.len()].copy_from_slice(rest);
                }
            }
        }
    }
}

/// How [`pack_pixel_rows`] lays out a block's pixels for the tiles of channel vectors, which
/// read each pixel's groups from a row of bytes (`crate::ukernel::int8_tile::TilePixels`).
pub(super) enum PixelRows {
    /// NHWC with Cin a multiple of 4: each pixel's channels in place, its groups 4 bytes
    /// apart; nothing packed.
    InPlace,
    /// NHWC with a last group of fewer than 4 channels: each pixel's channels copied and
    /// zero-padded to whole groups (a group read in place would run into the next pixel, or
    /// past the input's end).
    Padded,
    /// NCHW: group `g` of the block's pixel `q` at `(g·P + q)·4`, P the block's pixels, so
    /// that four channel rows interleave 16 pixels a step.
    Interleaved,
}

impl PixelRows {
    /// The layout for `p`.
    pub(super) fn of(p: &QConv1x1Problem) -> PixelRows {
        match p.conv().layout {
            Layout::Nhwc if p.conv().cin.is_multiple_of(4) => PixelRows::InPlace,
            Layout::Nhwc => PixelRows::Padded,
            Layout::Nchw => PixelRows::Interleaved,
        }
    }

    /// Bytes it packs for `pixels` pixels.
    pub(super) fn len(&self, p: &QConv1x1Problem, pixels: usize) -> usize {
        match self {
            PixelRows::InPlace => 0,
            PixelRows::Padded | PixelRows::Interleaved => pixels * groups(p.conv().cin) * 4,
        }
    }

    /// The distance between a row's groups, for a block of `pixels` pixels.
    pub(super) fn stride(&self, pixels: usize) -> usize {
        match self {
            PixelRows::InPlace | PixelRows::Padded => 4,
            PixelRows::Interleaved => 4 * pixels,
        }
    }
}

/// Packs image `n`'s output pixels `pixels` into `out` as `layout` says (nothing in place);
/// then the row of the block's `i`-th pixel is `row(i)`.
pub(super) fn pack_pixel_rows(
    p: &QConv1x1Problem,
    layout: &PixelRows,
    x: &[u8],
    n: usize,
    pixels: Range<usize>,
    out: &mut [u8],
) {
    let c = p.conv();
    let (g_len, pixels_in, len) = (groups(c.cin), c.pixels_in(), pixels.len());
    let out = &mut out[..layout.len(p, len)];
    match layout {
        PixelRows::InPlace => {}
        PixelRows::Padded => {
            for (q, dst) in pixels.zip(out.chunks_exact_mut(g_len * 4)) {
                let px = &x[(n * pixels_in + c.input_pixel(q)) * c.cin..][..c.cin];
                dst[..c.cin].copy_from_slice(px);
                dst[c.cin..].fill(0);
            }
        }
        PixelRows::Interleaved if len > 0 => {
            let image = &x[n * c.cin * pixels_in..][..c.cin * pixels_in];
            let zeros = vec![0u8; len];
            // A strided map's four channel rows gathered first, each group's in turn.
            let mut gathered = vec![0u8; if c.stride == 1 { 0 } else { 4 * len }];
            for (g, dst) in out.chunks_exact_mut(len * 4).enumerate() {
                if c.stride != 1 {
                    for (k, row) in gathered.chunks_exact_mut(len).enumerate().filter(|(k, _)| 4 * g + k < c.cin) {
                        let channel = &image[(4 * g + k) * pixels_in..][..pixels_in];
                        for (v, q) in row.iter_mut().zip(pixels.clone()) {
                            *v = channel[c.input_pixel(q)];
                        }
                    }
                }
                let row = |k: usize| match 4 * g + k {
                    ci if ci >= c.cin => &zeros[..],
                    ci if c.stride == 1 => &image[ci * pixels_in + pixels.start..][..len],
                    _ => &gathered[k * len..][..len],
                };
                interleave4([row(0), row(1), row(2), row(3)], dst);
            }
        }
        PixelRows::Interleaved => {}
    }
}

/// The row of bytes a tile of channel vectors reads for the output pixel `q` of image `n`,
/// `first` being the block's first pixel, after [`pack_pixel_rows`] into `packed`.
#[inline]
pub(super) fn pixel_row<'a>(
    p: &QConv1x1Problem,
    layout: &PixelRows,
    x: &'a [u8],
    packed: &'a [u8],
    n: usize,
    first: usize,
    q: usize,
) -> &'a [u8] {
    let c = p.conv();
    match layout {
        PixelRows::InPlace => &x[(n * c.pixels_in() + c.input_pixel(q)) * c.cin..][..c.cin],
        PixelRows::Padded => &packed[(q - first) * groups(c.cin) * 4..][..groups(c.cin) * 4],
        PixelRows::Interleaved => &packed[(q - first) * 4..],
    }
}
