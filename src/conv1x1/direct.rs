//! The direct channel-blocked algorithm shared by `blocked-simd`, `blocked-wide` and
//! `rayon-tiled`: no im2col and no GEMM call, the convolution's own loops around the
//! microkernel, with the weights packed once by `prepare`.
//!
//! The output of one image is cut into [`Region`]s (a block of output channels × a block of
//! output pixels). The regions depend only on the problem, never on the thread count, and every
//! output value is one full-Cin microkernel reduction in a fixed order, so the result is
//! bit-identical whether regions run on 1 thread or many.
//!
//! - NCHW: `Y_n[Cout × P] = W[Cout × Cin] · X_n[Cin × P]`. Tiles are MR output channels × NR
//!   pixels; W is packed into MR-row panels; X is read in place at stride 1 (rows HW apart),
//!   or gathered into an NR-wide panel for strided or partial pixel tiles.
//! - NHWC: `Y_n[P × Cout] = X_n[P × Cin] · Wᵀ[Cin × Cout]`. Tiles are MR pixels × NR output
//!   channels; Wᵀ is packed into NR-column panels; MR pixels of X are packed per tile.
//! - NCHW on small maps ([`TileRows::best_fill`]): the NHWC tiling, `Y_nᵀ = X_nᵀ · Wᵀ`, with
//!   the MR pixels of a tile gathered from Cin rows of X and the tile stored transposed. A 6×6
//!   map is 36 pixels: 6 tiles of MR = 6 pixels exactly, where 16-pixel tiles would compute
//!   48 columns for 36 (75% of the FMAs useful).
//!
//! Cin is cut into K blocks (of at most 512 with channel rows, [`channel_rows_k_block`]; of
//! the GEMM's KC = 256 with pixel rows), outside the loop over the region's panels, so the
//! block of the operand every panel reuses stays near L1: a 1024-channel pixel tile is
//! 64 KiB, twice the L1. Later blocks continue the sums in C (see [`Epilogue::accumulate`]),
//! so the blocking changes no bit of the result.
//!
//! Every output value is the same reduction in either orientation (`acc = 0`, one FMA per input
//! channel in ascending order, then bias and ReLU), so the orientation never changes a bit of
//! the result.

use std::ops::Range;

use pulp::{Simd, WithSimd};

use super::PreparedWeights;
use crate::gemm::KC;
use crate::gemm::pack::{MatRef, pack_a, pack_b, panels};
use crate::problem::Conv1x1Problem;
use crate::simd::SimdPolicy;
use crate::tensor::{AlignedBuf, Layout, zeroed};
use crate::ukernel::gemm::{BiasAlong, Epilogue, Microkernel, Tile, TileArgs, prefetch, with_kernel_tile};

/// Output-channel panels per region: NCHW panels are MR = 6 channels (192 per region), NHWC
/// panels are NR channels (64 per region at NR = 16). A region's weights (192·Cin floats,
/// 144 KiB at Cin = 192) stay in L2 while its pixels stream past them, and each pixel tile of
/// the input is reused by all its panels, which matters most on small maps: 1.23–1.29× on
/// 1x1024x6x6:1000 against 48-channel regions (docs/tuning.md).
pub(crate) const NCHW_PANELS_PER_REGION: usize = 32;
const NHWC_PANELS_PER_REGION: usize = 4;
/// NR-channel panels per region of an NCHW problem in pixel rows (256 channels at NR = 16):
/// the region's pixels are packed once and then reused by every panel, so the more panels
/// the less packing per FMA, while 4 regions still split a 1000-channel layer for the threads.
const NCHW_PIXEL_ROWS_PANELS_PER_REGION: usize = 16;
/// Largest K block with channel rows: Cin is cut into the fewest blocks of at most this many
/// channels, of equal length ([`channel_rows_k_block`]), as the `gemm` crate chooses its KC.
/// Fewer blocks mean fewer passes over the output: 1.06× on 1x512x56x56:512 against blocks of
/// 256 (docs/tuning.md).
pub(crate) const CHANNEL_ROWS_KC_MAX: usize = 512;

/// The K block of a channel-rows problem with `cin` input channels (see
/// [`CHANNEL_ROWS_KC_MAX`]): 384 → one block of 384, 1024 → two of 512, 600 → two of 300.
pub(crate) fn channel_rows_k_block(cin: usize) -> usize {
    cin.div_ceil(cin.div_ceil(CHANNEL_ROWS_KC_MAX))
}

/// Whether a full pixel tile of `panels` channel panels is copied into a contiguous panel
/// before they read it, rather than read in place from rows `hw_in` pixels apart, with K
/// blocks of `k_block` channels (see [`PACK_ROWS_MIN_PIXELS`] and [`IN_PLACE_MAX_BYTES`]).
fn copies_channel_tile(hw_in: usize, k_block: usize, panels: usize) -> bool {
    let lines_per_row = if hw_in.is_multiple_of(16) { 1 } else { 2 };
    panels >= PACK_MIN_PANELS && (hw_in >= PACK_ROWS_MIN_PIXELS || k_block * lines_per_row * 64 > IN_PLACE_MAX_BYTES)
}

/// Pixel tiles per region (64 pixels at NR = 16 for NCHW; 96 pixels for NHWC).
const NCHW_PIXEL_TILES_PER_REGION: usize = 4;
const NHWC_PIXEL_TILES_PER_REGION: usize = 16;
/// With channel rows, a full pixel tile is read in place from X's rows unless the region has
/// at least [`PACK_MIN_PANELS`] panels and either the rows are at least this many pixels
/// (1 KiB) apart or the tile's K block would take more than [`IN_PLACE_MAX_BYTES`] of cache
/// lines; then it is copied into a contiguous panel first ([`copies_channel_tile`]). Rows a
/// KiB or more apart put the tile's 16-value pieces on as many pages as there are rows, and on
/// power-of-two maps into a few L1 sets, so re-reading them for every panel costs more than one
/// copy: 1.17× on 1x192x32x32:160, while below the thresholds copying lost (docs/tuning.md).
const PACK_ROWS_MIN_PIXELS: usize = 256;
/// The most cache lines, in bytes, a tile's K block may span and still be read in place (half
/// the L1): 16 pixels of a row span two lines unless rows are whole lines apart. A 13×13
/// block of 384 channels spans 48 KiB in place and copying it measured 1.09–1.10×; 12×12 with
/// 96 channels spans 12 KiB and copying it lost (docs/tuning.md).
const IN_PLACE_MAX_BYTES: usize = 16 << 10;
/// See [`PACK_ROWS_MIN_PIXELS`].
pub(crate) const PACK_MIN_PANELS: usize = 8;
/// Smallest input image, in bytes, whose copied pixel tiles are prefetched: during each
/// tile's panel calls, the rows of the next tile are prefetched, a few per call. A tile's
/// copy reads Cin rows each a row of the map apart, too many streams for the hardware
/// prefetchers, and from an input this large they come from memory: prefetching measured
/// 1.06–1.07× on 1x512x56x56:512 (6.3 MB) and nothing or a loss on inputs that stay in the
/// caches (docs/tuning.md).
const PREFETCH_MIN_INPUT_BYTES: usize = 2 << 20;
/// Regions an NCHW problem is cut into at least, where it is large enough (see
/// [`MIN_REGION_FLOPS`]): with one 64-pixel block (an 8×8 map) and 192 channels, one region
/// would leave the second core idle (`rayon-tiled` measured 0.61× on 1x192x8x8:192 before
/// channels were split).
const MIN_REGIONS: usize = 4;
/// Fewest FLOPs a region is split down to: about 15 µs of work, well above a task's cost
/// (splitting 1x192x8x8:10, 0.25 MFLOP, measured 0.88× on 2 threads).
const MIN_REGION_FLOPS: u64 = 1_000_000;

/// What the MR rows of a register tile hold: output channels (and the NR columns pixels), or
/// pixels (and the columns output channels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TileRows {
    /// MR output channels × NR pixels: W in MR-row panels, pixels read along X's rows (NCHW).
    Channels,
    /// MR pixels × NR output channels: Wᵀ in NR-column panels, MR pixels packed per tile.
    Pixels,
}

impl TileRows {
    /// The layout's own orientation: channels along rows for NCHW (as `mlpconv-fused`'s
    /// layers are tiled), pixels for NHWC.
    pub(crate) fn of_layout(layout: Layout) -> Self {
        match layout {
            Layout::Nchw => TileRows::Channels,
            Layout::Nhwc => TileRows::Pixels,
        }
    }

    /// The orientation of the direct kernels and `im2col-gemm` on `p` with register tile `t`:
    /// the layout's, except that NCHW takes pixel rows where they fill the tiles at least
    /// [`PIXEL_ROWS_MIN_GAIN`] better (a 6×6 map fills 6-pixel rows exactly, 16-pixel columns
    /// to 75%), which pays for storing the output transposed.
    pub(crate) fn best_fill(p: &Conv1x1Problem, t: Tile) -> Self {
        let fill = |len: usize, width: usize| len as f64 / (panels(len, width) * width) as f64;
        let (px, Tile { mr, nr }) = (p.pixels_out(), t);
        match p.layout {
            Layout::Nchw
                if fill(px, mr) * fill(p.cout, nr) >= PIXEL_ROWS_MIN_GAIN * fill(p.cout, mr) * fill(px, nr) =>
            {
                TileRows::Pixels
            }
            layout => TileRows::of_layout(layout),
        }
    }
}

/// How much better pixel rows must fill the tiles of an NCHW problem to be chosen: 20%, as the
/// transposed store of each tile (MR·NR scalar stores) costs a few percent on short reductions
/// (1x192x28x28:32, filled 12% better by pixel rows, measured 0.74× with them).
const PIXEL_ROWS_MIN_GAIN: f64 = 1.20;

/// Packs weights (Cout×Cin row-major) and bias for register tile `t` whose rows are `rows`.
/// Returns (packed weights, bias padded to whole panels with zeros).
pub(crate) fn pack_weights(
    p: &Conv1x1Problem,
    weights: &[f32],
    bias: Option<&[f32]>,
    Tile { mr, nr }: Tile,
    rows: TileRows,
) -> (AlignedBuf, AlignedBuf) {
    let w = MatRef::new(weights, p.cout, p.cin, p.cin, 1);
    let (packed, padded_cout) = match rows {
        TileRows::Channels => {
            let mut packed = zeroed(panels(p.cout, mr) * p.cin * mr);
            pack_a(&w, 0..p.cout, 0..p.cin, mr, &mut packed);
            (packed, panels(p.cout, mr) * mr)
        }
        TileRows::Pixels => {
            let mut packed = zeroed(panels(p.cout, nr) * p.cin * nr);
            pack_b(&w.t(), 0..p.cin, 0..p.cout, nr, &mut packed);
            (packed, panels(p.cout, nr) * nr)
        }
    };
    let mut padded_bias = zeroed(padded_cout);
    if let Some(b) = bias {
        padded_bias[..b.len()].copy_from_slice(b);
    }
    (packed, padded_bias)
}

/// A block of the output of image `n`: channel panels × output pixels. Where the problem's
/// regions go across images ([`pixel_rows_across_images`]), `n` is 0 and `pixels` index the
/// whole batch, image after image (pixel `g` is pixel `g mod HW` of image `g div HW`).
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub n: usize,
    pub panels: Range<usize>,
    pub pixels: Range<usize>,
}

/// Whether an NCHW problem tiled by pixel rows cuts its regions across the images of the batch:
/// where each image's pixels fill whole MR-pixel tiles, a region's tiles may come from several
/// images, and each block of the weights a panel streams serves all of them (batch 8 of a 6×6
/// map: 16 tiles a region, against the 6 of one image): 1.04–1.08× on 8x1024x6x6:1024
/// (docs/tuning.md).
pub(crate) fn pixel_rows_across_images(p: &Conv1x1Problem, rows: TileRows, mr: usize) -> bool {
    rows == TileRows::Pixels && p.layout == Layout::Nchw && p.n > 1 && p.pixels_out().is_multiple_of(mr)
}

/// The regions of the whole output, in the order a single thread walks them: per image, per
/// channel block, per pixel block (so one block of weights is reused across the whole map).
pub(crate) fn regions(p: &Conv1x1Problem, t: Tile) -> Vec<Region> {
    let rows = TileRows::best_fill(p, t);
    let Tile { mr, nr } = t;
    let (panel_width, mut panels_per, pixels_per) = match rows {
        TileRows::Channels => (mr, NCHW_PANELS_PER_REGION, NCHW_PIXEL_TILES_PER_REGION * nr),
        TileRows::Pixels if p.layout == Layout::Nchw => {
            (nr, NCHW_PIXEL_ROWS_PANELS_PER_REGION, NHWC_PIXEL_TILES_PER_REGION * mr)
        }
        TileRows::Pixels => (nr, NHWC_PANELS_PER_REGION, NHWC_PIXEL_TILES_PER_REGION * mr),
    };
    if p.layout == Layout::Nchw {
        // Small maps give few pixel blocks: split the channels instead, into enough regions
        // for the threads, but not into pieces too small to be worth a task.
        let pixel_blocks = match pixel_rows_across_images(p, rows, mr) {
            true => (p.n * p.pixels_out()).div_ceil(pixels_per),
            false => p.n * p.pixels_out().div_ceil(pixels_per),
        };
        let worth = usize::try_from(p.flops() / MIN_REGION_FLOPS).unwrap_or(usize::MAX);
        let splits = MIN_REGIONS.div_ceil(pixel_blocks).min(worth).max(1);
        panels_per = panels_per.min(panels(p.cout, panel_width).div_ceil(splits));
    }
    let total_panels = panels(p.cout, panel_width);
    let (images, pixels) = match pixel_rows_across_images(p, rows, mr) {
        true => (1, p.n * p.pixels_out()),
        false => (p.n, p.pixels_out()),
    };
    let block = |i: usize, step: usize, len: usize| i * step..((i + 1) * step).min(len);
    let (channel_blocks, pixel_blocks) = (total_panels.div_ceil(panels_per), pixels.div_ceil(pixels_per));
    let mut out = Vec::with_capacity(images * channel_blocks * pixel_blocks);
    for n in 0..images {
        for i in 0..channel_blocks * pixel_blocks {
            // Channel rows: per block of channels, the whole map, so one block of weights is
            // reused across it. Pixel rows: per block of pixels, every block of channels, so
            // the pixels, packed once, serve them all ([`RegionScratch`]).
            let (c, x) = match rows {
                TileRows::Channels => (i / pixel_blocks, i % pixel_blocks),
                TileRows::Pixels => (i % channel_blocks, i / channel_blocks),
            };
            out.push(Region { n, panels: block(c, panels_per, total_panels), pixels: block(x, pixels_per, pixels) });
        }
    }
    out
}

/// Length of the scratch [`run_region`] needs: with channel rows, one packed pixel tile of the
/// input; with pixel rows, a region's pixels packed into MR-pixel tiles, and the sums of one
/// panel's tiles (stored transposed into NCHW).
pub(crate) fn region_scratch_len(p: &Conv1x1Problem, Tile { mr, nr }: Tile) -> usize {
    let tiles = NHWC_PIXEL_TILES_PER_REGION;
    p.cin * nr.max(mr) + tiles * p.cin * mr + tiles * mr * nr
}

/// The scratch [`run_region`] works in (at least [`region_scratch_len`] values), and which
/// pixels it holds packed: with pixel rows, consecutive regions over the same pixels (the
/// blocks of channels of one block of pixels, see [`regions`]) pack them once. Made afresh for
/// each call of a kernel, as the input changes between calls.
pub(crate) struct RegionScratch<'a> {
    buf: &'a mut [f32],
    /// `(n, pixels)` of the region whose pixel-row tiles `buf` starts with.
    packed: Option<(usize, Range<usize>)>,
}

impl<'a> RegionScratch<'a> {
    /// `buf` holds nothing packed yet.
    pub(crate) fn new(buf: &'a mut [f32]) -> Self {
        RegionScratch { buf, packed: None }
    }

    /// The buffer and whether it already holds `region`'s pixel tiles; from here on it is
    /// taken to hold them (the caller packs them if not).
    fn for_pixel_tiles(&mut self, region: &Region) -> (&mut [f32], bool) {
        let key = (region.n, region.pixels.clone());
        let ready = self.packed.as_ref() == Some(&key);
        self.packed = Some(key);
        (self.buf, ready)
    }

    /// The buffer, for anything other than pixel tiles: whatever it held is gone.
    fn other(&mut self) -> &mut [f32] {
        self.packed = None;
        self.buf
    }
}

pub(crate) use crate::tensor::OutPtr;

/// Computes one region of the output.
///
/// `scratch` holds at least [`region_scratch_len`] values. `#[inline(always)]` and free of
/// closures, so that inside pulp's dispatch it is compiled with the selected target features.
///
/// # Safety
/// `out` points to `p.output_len()` writable values that no one else reads or writes inside
/// this region while the call runs; `input`, `weights` and `bias` are as `p` and
/// [`pack_weights`] (with `mk.nr()` and [`TileRows::best_fill`]) made them.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn run_region<K: Microkernel>(
    mk: K,
    p: &Conv1x1Problem,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: OutPtr,
    region: &Region,
    scratch: &mut RegionScratch,
) {
    let Tile { mr, nr } = mk.dims();
    let (cin, cout, hw_in, pixels_out) = (p.cin, p.cout, p.pixels_in(), p.pixels_out());
    if pixel_rows_across_images(p, TileRows::best_fill(p, mk.dims()), mr) {
        // SAFETY: as this function's (the same region of the same output).
        unsafe { run_region_across_images(mk, p, input, weights, bias, out, region, scratch) };
        return;
    }
    let x_n = &input[region.n * cin * hw_in..][..cin * hw_in];
    // SAFETY: image n's output starts inside the buffer (n < N).
    let y_n = unsafe { out.0.add(region.n * cout * pixels_out) };
    match TileRows::best_fill(p, mk.dims()) {
        TileRows::Channels => {
            let b_tile = &mut scratch.other()[..cin * nr];
            let k_block = channel_rows_k_block(cin);
            let copies = copies_channel_tile(hw_in, k_block, region.panels.len());
            // Rows of the next pixel tile to prefetch per panel call, where its copy would
            // otherwise wait on memory: the tile's Cin rows spread over this tile's calls.
            let prefetch_rows = (p.stride == 1 && copies && cin * hw_in * size_of::<f32>() >= PREFETCH_MIN_INPUT_BYTES)
                .then(|| cin.div_ceil(cin.div_ceil(k_block) * region.panels.len()));
            for pt in region.pixels.clone().step_by(nr) {
                let cols = nr.min(region.pixels.end - pt);
                let in_place = p.stride == 1 && cols == nr;
                // The next full tile of the map (the next region's first, past this one's end).
                let next = pt + nr;
                let prefetch_rows = prefetch_rows.filter(|_| next + nr <= hw_in);
                let (b, ldb) = if in_place && !copies {
                    (&x_n[pt..(cin - 1) * hw_in + pt + nr], hw_in)
                } else if in_place {
                    // A contiguous copy of the tile's rows. (`pack_b` computes the same copy;
                    // calling it here changed how LLVM inlined blocked-wide's region loop, +23%
                    // instructions on its gate cases, whose tiles never take this branch.)
                    if nr == 16 {
                        // A fixed-size copy: two vector moves per row, not a `memcpy` call.
                        for (k, row) in b_tile.chunks_exact_mut(16).enumerate() {
                            let src: &[f32; 16] = x_n[k * hw_in + pt..][..16].try_into().expect("16 values");
                            let dst: &mut [f32; 16] = row.try_into().expect("16 values");
                            *dst = *src;
                        }
                    } else {
                        for (k, row) in b_tile.chunks_exact_mut(nr).enumerate() {
                            row.copy_from_slice(&x_n[k * hw_in + pt..][..nr]);
                        }
                    }
                    (&b_tile[..], nr)
                } else {
                    for (k, row) in b_tile.chunks_exact_mut(nr).enumerate() {
                        let x_row = &x_n[k * hw_in..][..hw_in];
                        for (j, v) in row.iter_mut().enumerate() {
                            *v = if j < cols { x_row[p.input_pixel(pt + j)] } else { 0.0 };
                        }
                    }
                    (&b_tile[..], nr)
                };
                // K blocks outside the panels: this block of the pixel tile stays near L1
                // while every panel of the region streams its weights past it.
                let mut calls = 0;
                for k0 in (0..cin).step_by(k_block) {
                    let kc = k_block.min(cin - k0);
                    let last = k0 + kc == cin;
                    for panel in region.panels.clone() {
                        if let Some(per_call) = prefetch_rows {
                            for k in (calls * per_call..(calls + 1) * per_call).take_while(|&k| k < cin) {
                                // The tile's 16 values of row k may straddle two cache lines.
                                let row = &x_n[k * hw_in + next..][..nr];
                                prefetch(row.as_ptr());
                                prefetch(row[nr - 1..].as_ptr());
                            }
                            calls += 1;
                        }
                        let co = panel * mr;
                        let a = &weights[panel * cin * mr + k0 * mr..][..kc * mr];
                        let b_block = &b[k0 * ldb..(k0 + kc - 1) * ldb + nr];
                        let tile_bias = match p.bias && last {
                            true => BiasAlong::Rows(bias[co..][..mr].as_ptr()),
                            false => BiasAlong::None,
                        };
                        let epilogue = Epilogue { accumulate: k0 > 0, bias: tile_bias, relu: p.relu && last };
                        // SAFETY: `a` holds kc·mr values; `b_block` holds kc rows of nr values
                        // ldb apart (both sliced above); rows co..co+rows of Y_n, columns
                        // pt..pt+cols, lie inside this region of the output (caller).
                        unsafe {
                            mk.tile(TileArgs {
                                kc,
                                a: a.as_ptr(),
                                b: b_block.as_ptr(),
                                ldb,
                                c: y_n.add(co * pixels_out + pt),
                                ldc: pixels_out,
                                rows: mr.min(cout - co),
                                cols,
                                epilogue,
                            });
                        }
                    }
                }
            }
        }
        TileRows::Pixels => {
            let tiles = region.pixels.len().div_ceil(mr);
            let (buf, packed) = scratch.for_pixel_tiles(region);
            let (a_tiles, sums) = buf.split_at_mut(tiles * cin * mr);
            if !packed {
                pack_pixel_tiles(p, x_n, region.pixels.clone(), mr, a_tiles);
            }
            for panel in region.panels.clone() {
                let co = panel * nr;
                // NHWC tiles go straight to Y_n (tile t at pixel start + t·mr, rows `cout`
                // apart); NCHW tiles to `sums`, stored transposed below.
                let (c, tile_stride, ldc) = match p.layout {
                    // SAFETY: the region's first pixel, channel co, of Y_n (caller).
                    Layout::Nhwc => (unsafe { y_n.add(region.pixels.start * cout + co) }, mr * cout, cout),
                    Layout::Nchw => (sums.as_mut_ptr(), mr * nr, nr),
                };
                // SAFETY: NHWC: the region's pixels × the panel's channels of Y_n lie inside this
                // region (caller); NCHW: `sums` holds `tiles` blocks of mr×nr (scratch length).
                unsafe {
                    pixel_rows_panel(mk, p, a_tiles, region.pixels.clone(), weights, bias, panel, c, tile_stride, ldc);
                }
                if p.layout == Layout::Nchw {
                    // Y_n[co + j][pixels] = the tiles' column j: one run of the region's
                    // pixels per output channel.
                    for j in 0..nr.min(cout - co) {
                        // SAFETY: channel co + j < cout and the region's pixels of Y_n lie
                        // inside this region (caller); no other reference to them exists.
                        let y_row = unsafe {
                            core::slice::from_raw_parts_mut(
                                y_n.add((co + j) * pixels_out + region.pixels.start),
                                region.pixels.len(),
                            )
                        };
                        for (y_tile, tile) in y_row.chunks_mut(mr).zip(sums.chunks_exact(mr * nr)) {
                            for (r, y) in y_tile.iter_mut().enumerate() {
                                *y = tile[r * nr + j];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// [`run_region`] for a region across images ([`pixel_rows_across_images`]): every tile is mr
/// pixels of one image (HW is a multiple of mr), packed from that image's rows, computed as
/// the per-image pixel-row tiles are, and stored transposed into that image's output rows.
///
/// # Safety
/// As [`run_region`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn run_region_across_images<K: Microkernel>(
    mk: K,
    p: &Conv1x1Problem,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: OutPtr,
    region: &Region,
    scratch: &mut RegionScratch,
) {
    let Tile { mr, nr } = mk.dims();
    let (cin, cout, hw_in, pixels_out) = (p.cin, p.cout, p.pixels_in(), p.pixels_out());
    let tiles = region.pixels.len().div_ceil(mr);
    // Tile t: image n, first pixel q of that image.
    let origin = |t: usize| {
        let g = region.pixels.start + t * mr;
        (g / pixels_out, g % pixels_out)
    };
    let (buf, packed) = scratch.for_pixel_tiles(region);
    let (a_tiles, sums) = buf.split_at_mut(tiles * cin * mr);
    if !packed {
        for (t, a_tile) in a_tiles.chunks_exact_mut(cin * mr).take(tiles).enumerate() {
            let (n, q) = origin(t);
            pack_pixel_tiles(p, &input[n * cin * hw_in..][..cin * hw_in], q..q + mr, mr, a_tile);
        }
    }
    for panel in region.panels.clone() {
        let co = panel * nr;
        // SAFETY: `sums` holds `tiles` blocks of mr×nr (scratch length); weights and bias as
        // the caller guarantees.
        unsafe {
            pixel_rows_panel(
                mk,
                p,
                a_tiles,
                0..region.pixels.len(),
                weights,
                bias,
                panel,
                sums.as_mut_ptr(),
                mr * nr,
                nr,
            );
        }
        for j in 0..nr.min(cout - co) {
            for (t, tile) in sums.chunks_exact(mr * nr).take(tiles).enumerate() {
                let (n, q) = origin(t);
                // SAFETY: image n < N, channel co + j < cout, pixels q..q+mr ≤ HW: inside this
                // region of the output (caller); no other reference to them exists.
                let y = unsafe { core::slice::from_raw_parts_mut(out.0.add((n * cout + co + j) * pixels_out + q), mr) };
                for (r, v) in y.iter_mut().enumerate() {
                    *v = tile[r * nr + j];
                }
            }
        }
    }
}

/// Packs `pixels` of image `x_n` (at most [`NHWC_PIXEL_TILES_PER_REGION`]·mr of them) into
/// mr-pixel tiles for pixel rows: tile t holds `a[k·mr + r]` = pixel `start + t·mr + r`,
/// channel k, zero past the last pixel.
#[inline(always)]
pub(crate) fn pack_pixel_tiles(p: &Conv1x1Problem, x_n: &[f32], pixels: Range<usize>, mr: usize, a_tiles: &mut [f32]) {
    let (cin, hw_in) = (p.cin, p.pixels_in());
    for (t, a_tile) in a_tiles.chunks_exact_mut(cin * mr).take(pixels.len().div_ceil(mr)).enumerate() {
        let pt = pixels.start + t * mr;
        let rows = mr.min(pixels.end - pt);
        match p.layout {
            // A pixel's channels are contiguous in NHWC.
            Layout::Nhwc => {
                for r in 0..mr {
                    if r < rows {
                        let x_px = &x_n[p.input_pixel(pt + r) * cin..][..cin];
                        for (k, &v) in x_px.iter().enumerate() {
                            a_tile[k * mr + r] = v;
                        }
                    } else {
                        a_tile.iter_mut().skip(r).step_by(mr).for_each(|v| *v = 0.0);
                    }
                }
            }
            // In NCHW, mr adjacent values of each channel's row.
            Layout::Nchw => {
                for (k, a_k) in a_tile.chunks_exact_mut(mr).enumerate() {
                    let x_row = &x_n[k * hw_in..][..hw_in];
                    if p.stride == 1 && rows == mr {
                        a_k.copy_from_slice(&x_row[pt..pt + mr]);
                    } else {
                        for (r, v) in a_k.iter_mut().enumerate() {
                            *v = if r < rows { x_row[p.input_pixel(pt + r)] } else { 0.0 };
                        }
                    }
                }
            }
        }
    }
}

/// One NR-channel panel of Wᵀ against every pixel tile [`pack_pixel_tiles`] packed for
/// `pixels`: tile t's mr×NR block, with bias and ReLU, goes to `c + t·tile_stride`, rows `ldc`
/// apart. The panel's K blocks (KC×NR, 16 KiB) are the outer loop, so each stays in L1 while
/// all the tiles pass, and the weights stream once.
///
/// # Safety
/// For every tile t, `c + t·tile_stride` is writable (and readable) for its `rows` rows of
/// `min(nr, cout − panel·nr)` values `ldc` apart, and no one else touches them meanwhile;
/// `weights` and `bias` are packed for pixel rows with `mk.nr()`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn pixel_rows_panel<K: Microkernel>(
    mk: K,
    p: &Conv1x1Problem,
    a_tiles: &[f32],
    pixels: Range<usize>,
    weights: &[f32],
    bias: &[f32],
    panel: usize,
    c: *mut f32,
    tile_stride: usize,
    ldc: usize,
) {
    let (Tile { mr, nr }, cin) = (mk.dims(), p.cin);
    let co = panel * nr;
    let cols = nr.min(p.cout - co);
    for k0 in (0..cin).step_by(KC) {
        let kc = KC.min(cin - k0);
        let last = k0 + kc == cin;
        let b = &weights[panel * cin * nr + k0 * nr..][..kc * nr];
        let tile_bias = match p.bias && last {
            true => BiasAlong::Cols(bias[co..][..nr].as_ptr()),
            false => BiasAlong::None,
        };
        let epilogue = Epilogue { accumulate: k0 > 0, bias: tile_bias, relu: p.relu && last };
        for t in 0..pixels.len().div_ceil(mr) {
            let rows = mr.min(pixels.end - pixels.start - t * mr);
            let a = &a_tiles[t * cin * mr + k0 * mr..][..kc * mr];
            let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.wrapping_add(t * tile_stride));
            // SAFETY: `a` holds kc·mr values, `b` kc rows of nr; C as the caller guarantees.
            unsafe { mk.tile(TileArgs { kc, a, b, ldb: nr, c, ldc, rows, cols, epilogue }) };
        }
    }
}

/// Runs `regions` of one problem inside pulp's dispatch, so the microkernel is compiled with
/// the selected target features.
pub(crate) struct DirectOp<'a> {
    pub problem: &'a Conv1x1Problem,
    pub input: &'a [f32],
    pub prepared: &'a PreparedWeights,
    pub out: OutPtr,
    pub regions: &'a [Region],
    /// At least `region_scratch_len` values.
    pub scratch: &'a mut [f32],
}

impl WithSimd for DirectOp<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        with_kernel_tile!(simd, S, mk => self.run(mk))
    }
}

impl DirectOp<'_> {
    /// The regions, on the microkernel `mk`.
    #[inline(always)]
    fn run<K: Microkernel>(self, mk: K) {
        let mut scratch = RegionScratch::new(self.scratch);
        for region in self.regions {
            // SAFETY: `out` is the output of `problem` (checked by `run`), the regions are
            // disjoint and each is written by this call only; the weights were packed by
            // `pack_weights` with this ISA's NR (checked by `run` via the ISA name).
            unsafe {
                run_region(
                    mk,
                    self.problem,
                    self.input,
                    self.prepared.weights(),
                    self.prepared.bias(),
                    self.out,
                    region,
                    &mut scratch,
                )
            };
        }
    }
}

/// Weights and bias packed for the pulp direct kernels (`blocked-simd`, `rayon-tiled`) with
/// the tile width `policy` gives, in the orientation that fills the tiles best; `(kernel, isa)`
/// name who prepared them.
pub(crate) fn pack_for(
    policy: SimdPolicy,
    problem: &Conv1x1Problem,
    weights: &[f32],
    bias: Option<&[f32]>,
    (kernel, isa): (&'static str, &str),
) -> PreparedWeights {
    let t = crate::ukernel::gemm::tile_dims(policy);
    let (w, b) = pack_weights(problem, weights, bias, t, TileRows::best_fill(problem, t));
    PreparedWeights::new(kernel, isa.to_string(), *problem, w, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AVX2's tile, 6x16, which the orientations and regions below were chosen with.
    const T: Tile = Tile { mr: 6, nr: 16 };

    fn rows_of(s: &str) -> TileRows {
        TileRows::best_fill(&s.parse().unwrap(), T)
    }

    #[test]
    fn nchw_takes_pixel_rows_only_where_they_fill_the_tiles_a_fifth_better() {
        // 36 pixels: 6 rows of 6 exactly, against 3 columns of 16 filled to 75%.
        assert_eq!(rows_of("1x1024x6x6:1000,relu"), TileRows::Pixels);
        assert_eq!(rows_of("8x1024x6x6:1024,relu"), TileRows::Pixels);
        // 64 pixels fill 16-wide columns exactly.
        assert_eq!(rows_of("1x192x8x8:192,relu"), TileRows::Channels);
        // 32 channels fill 6-row panels to 89%, and pixel rows gain only 12%.
        assert_eq!(rows_of("1x192x28x28:32,relu"), TileRows::Channels);
        // 10 channels would fill 16-wide columns to 62%.
        assert_eq!(rows_of("1x192x6x6:10,relu"), TileRows::Channels);
        // NHWC always tiles pixels × channels.
        assert_eq!(rows_of("1x192x8x8:192,nhwc"), TileRows::Pixels);
    }

    #[test]
    fn channel_rows_cut_cin_into_the_fewest_equal_k_blocks_of_at_most_512() {
        for (cin, block) in
            [(1, 1), (192, 192), (384, 384), (512, 512), (513, 257), (600, 300), (1024, 512), (2048, 512)]
        {
            assert_eq!(channel_rows_k_block(cin), block, "Cin {cin}");
        }
    }

    #[test]
    fn channel_tiles_are_copied_when_rows_are_far_apart_or_the_k_block_overflows_half_the_l1() {
        // Rows ≥ 256 pixels apart (32×32, 16×16), with enough panels to pay for the copy.
        assert!(copies_channel_tile(1024, 160, 27) && copies_channel_tile(256, 192, 32));
        assert!(!copies_channel_tile(1024, 160, 7), "too few panels");
        // 13×13 rows straddle lines: 384 channels span 48 KiB in place; 96 only 12 KiB.
        assert!(copies_channel_tile(169, 384, 32));
        assert!(!copies_channel_tile(144, 96, 16));
        // 8×8 rows are whole lines apart: 192 channels span 12 KiB.
        assert!(!copies_channel_tile(64, 192, 32));
    }

    #[test]
    fn pixel_row_regions_of_one_block_of_pixels_follow_each_other_so_they_pack_it_once() {
        // Channel rows go per block of channels; pixel rows per block of pixels, so each block
        // of pixels is one run of regions (one per block of channels) and packed once.
        for (s, rows) in [
            ("8x1024x6x6:1000", TileRows::Pixels),
            ("3x40x6x6:300", TileRows::Pixels),
            ("1x96x27x27:256,nhwc", TileRows::Pixels),
            ("2x384x13x13:384", TileRows::Channels),
        ] {
            let p: Conv1x1Problem = s.parse().unwrap();
            assert_eq!(TileRows::best_fill(&p, T), rows, "{s}");
            let all = regions(&p, T);
            let key = |r: &Region| match rows {
                TileRows::Pixels => (r.n, r.pixels.start),
                TileRows::Channels => (r.n, r.panels.start),
            };
            let runs = all.windows(2).filter(|w| key(&w[0]) != key(&w[1])).count() + 1;
            let distinct = all.iter().map(key).collect::<std::collections::BTreeSet<_>>().len();
            assert!(distinct > 1 && runs == distinct, "{s}: {runs} runs of {distinct} blocks");
        }
    }

    #[test]
    fn regions_cover_every_output_once_in_both_orientations() {
        let across = ["2x300x6x6:64", "8x1024x6x6:1000", "3x7x12x12:30,s2"];
        for s in
            ["1x1024x6x6:1000", "2x300x6x6:40", "1x192x32x32:160", "3x20x9x11:70,nhwc", "1x192x8x8:10", "2x9x7x7:64"]
                .into_iter()
                .chain(across)
        {
            let p: Conv1x1Problem = s.parse().unwrap();
            let rows = TileRows::best_fill(&p, T);
            assert_eq!(pixel_rows_across_images(&p, rows, T.mr), across.contains(&s), "{s}");
            let width = if rows == TileRows::Pixels { T.nr } else { T.mr };
            let mut seen = vec![0u8; p.n * panels(p.cout, width) * p.pixels_out()];
            for r in regions(&p, T) {
                for panel in r.panels.clone() {
                    for q in r.pixels.clone() {
                        // Across images, pixel q of the batch is pixel q mod HW of image q div HW.
                        let (n, q) = (r.n + q / p.pixels_out(), q % p.pixels_out());
                        seen[(n * panels(p.cout, width) + panel) * p.pixels_out() + q] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "{s}: some (panel, pixel) covered {:?} times", seen.iter().max());
        }
    }
}
