//! Where the direct kernels' work goes: the orientation of the tiles, the K blocks, the
//! regions of the output, the weights' packing and the scratch a region needs.

use std::ops::Range;

use crate::gemm::pack::{MatRef, pack_a, pack_b, panels};
use crate::problem::Conv1x1Problem;
use crate::tensor::{AlignedBuf, Layout, zeroed};
use crate::ukernel::gemm::Tile;

/// Output-channel panels per region: NCHW panels are MR = 6 channels (192 per region), NHWC
/// panels are NR channels (64 per region at NR = 16). A region's weights (192·Cin floats,
/// 144 KiB at Cin = 192) stay in L2 while its pixels stream past them, and each pixel tile of
/// the input is reused by all its panels, which matters most on small maps: 1.23–1.29× on
/// 1x1024x6x6:1000 against 48-channel regions (docs/tuning.md).
pub(crate) const NCHW_PANELS_PER_REGION: usize = 32;
pub(super) const NHWC_PANELS_PER_REGION: usize = 4;
/// NR-channel panels per region of an NCHW problem in pixel rows (256 channels at NR = 16):
/// the region's pixels are packed once and then reused by every panel, so the more panels
/// the less packing per FMA, while 4 regions still split a 1000-channel layer for the threads.
pub(super) const NCHW_PIXEL_ROWS_PANELS_PER_REGION: usize = 16;
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
pub(super) fn copies_channel_tile(hw_in: usize, k_block: usize, panels: usize) -> bool {
    let lines_per_row = if hw_in.is_multiple_of(16) { 1 } else { 2 };
    panels >= PACK_MIN_PANELS && (hw_in >= PACK_ROWS_MIN_PIXELS || k_block * lines_per_row * 64 > IN_PLACE_MAX_BYTES)
}

/// Pixel tiles per region (64 pixels at NR = 16 for NCHW; 96 pixels for NHWC).
pub(super) const NCHW_PIXEL_TILES_PER_REGION: usize = 4;
pub(super) const NHWC_PIXEL_TILES_PER_REGION: usize = 16;
/// With channel rows, a full pixel tile is read in place from X's rows unless the region has
/// at least [`PACK_MIN_PANELS`] panels and either the rows are at least this many pixels
/// (1 KiB) apart or the tile's K block would take more than [`IN_PLACE_MAX_BYTES`] of cache
/// lines; then it is copied into a contiguous panel first ([`copies_channel_tile`]). Rows a
/// KiB or more apart put the tile's 16-value pieces on as many pages as there are rows, and on
/// power-of-two maps into a few L1 sets, so re-reading them for every panel costs more than one
/// copy: 1.17× on 1x192x32x32:160, while below the thresholds copying lost (docs/tuning.md).
pub(super) const PACK_ROWS_MIN_PIXELS: usize = 256;
/// The most cache lines, in bytes, a tile's K block may span and still be read in place (half
/// the L1): 16 pixels of a row span two lines unless rows are whole lines apart. A 13×13
/// block of 384 channels spans 48 KiB in place and copying it measured 1.09–1.10×; 12×12 with
/// 96 channels spans 12 KiB and copying it lost (docs/tuning.md).
pub(super) const IN_PLACE_MAX_BYTES: usize = 16 << 10;
/// See [`PACK_ROWS_MIN_PIXELS`].
pub(crate) const PACK_MIN_PANELS: usize = 8;
/// Smallest input image, in bytes, whose copied pixel tiles are prefetched: during each
/// tile's panel calls, the rows of the next tile are prefetched, a few per call. A tile's
/// copy reads Cin rows each a row of the map apart, too many streams for the hardware
/// prefetchers, and from an input this large they come from memory: prefetching measured
/// 1.06–1.07× on 1x512x56x56:512 (6.3 MB) and nothing or a loss on inputs that stay in the
/// caches (docs/tuning.md).
pub(super) const PREFETCH_MIN_INPUT_BYTES: usize = 2 << 20;
/// Regions an NCHW problem is cut into at least, where it is large enough (see
/// [`MIN_REGION_FLOPS`]): with one 64-pixel block (an 8×8 map) and 192 channels, one region
/// would leave the second core idle (`rayon-tiled` measured 0.61× on 1x192x8x8:192 before
/// channels were split).
pub(super) const MIN_REGIONS: usize = 4;
/// Fewest FLOPs a region is split down to: about 15 µs of work, well above a task's cost
/// (splitting 1x192x8x8:10, 0.25 MFLOP, measured 0.88× on 2 threads).
pub(super) const MIN_REGION_FLOPS: u64 = 1_000_000;

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
pub(super) const PIXEL_ROWS_MIN_GAIN: f64 = 1.20;

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
    pub(super) fn for_pixel_tiles(&mut self, region: &Region) -> (&mut [f32], bool) {
        let key = (region.n, region.pixels.clone());
        let ready = self.packed.as_ref() == Some(&key);
        self.packed = Some(key);
        (self.buf, ready)
    }

    /// The buffer, for anything other than pixel tiles: whatever it held is gone.
    pub(super) fn other(&mut self) -> &mut [f32] {
        self.packed = None;
        self.buf
    }
}
