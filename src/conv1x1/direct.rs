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

use std::ops::Range;

use crate::gemm::microkernel::{BiasAlong, Epilogue, MR, Microkernel};
use crate::gemm::pack::{MatRef, pack_a, pack_b, panels};
use crate::problem::Conv1x1Problem;
use crate::tensor::{AlignedBuf, Layout, zeroed};

/// Output-channel panels per region: NCHW panels are MR = 6 channels (192 per region), NHWC
/// panels are NR channels (64 per region at NR = 16). A region's weights (192·Cin floats,
/// 144 KiB at Cin = 192) stay in L2 while its pixels stream past them, and each pixel tile of
/// the input is reused by all its panels: on small maps, whose last tile is gathered into a
/// panel once per region, that matters most. Timed against the former 48-channel × 128-pixel
/// regions (`nin-bench run --against`, a sample of each in turn), 1 thread: 1x1024x6x6:1000
/// 1.23–1.29×, 8x1024x6x6:1000 1.24–1.34×, 1x384x13x13:384 1.07×, 1x96x54x54:96 1.04–1.10×,
/// others 0.98–1.04×; with `rayon-tiled` on 2 threads 1.06–1.27× on the same layers but
/// 0.90–0.93× on 1x512x56x56:512.
const NCHW_PANELS_PER_REGION: usize = 32;
const NHWC_PANELS_PER_REGION: usize = 4;
/// Pixel tiles per region (64 pixels at NR = 16 for NCHW; 96 pixels for NHWC).
const NCHW_PIXEL_TILES_PER_REGION: usize = 4;
const NHWC_PIXEL_TILES_PER_REGION: usize = 16;
/// Regions an NCHW problem is cut into at least, where it is large enough (see
/// [`MIN_REGION_FLOPS`]): with one 64-pixel block (an 8×8 map) and 192 channels, one region
/// would leave the second core idle (`rayon-tiled` measured 0.61× on 1x192x8x8:192 before
/// channels were split).
const MIN_REGIONS: usize = 4;
/// Fewest FLOPs a region is split down to: about 15 µs of work, well above a task's cost
/// (splitting 1x192x8x8:10, 0.25 MFLOP, measured 0.88× on 2 threads).
const MIN_REGION_FLOPS: u64 = 1_000_000;

/// Packs weights (Cout×Cin row-major) and bias for the direct algorithm with tile width `nr`.
/// Returns (packed weights, bias padded to whole panels with zeros).
pub(crate) fn pack_weights(
    p: &Conv1x1Problem,
    weights: &[f32],
    bias: Option<&[f32]>,
    nr: usize,
) -> (AlignedBuf, AlignedBuf) {
    let w = MatRef::new(weights, p.cout, p.cin, p.cin, 1);
    let (packed, padded_cout) = match p.layout {
        Layout::Nchw => {
            let mut packed = zeroed(panels(p.cout, MR) * p.cin * MR);
            pack_a(&w, 0..p.cout, 0..p.cin, &mut packed);
            (packed, panels(p.cout, MR) * MR)
        }
        Layout::Nhwc => {
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

/// A block of the output of image `n`: channel panels × output pixels.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub n: usize,
    pub panels: Range<usize>,
    pub pixels: Range<usize>,
}

/// The regions of the whole output, in the order a single thread walks them: per image, per
/// channel block, per pixel block (so one block of weights is reused across the whole map).
pub(crate) fn regions(p: &Conv1x1Problem, nr: usize) -> Vec<Region> {
    let (panel_width, mut panels_per, pixels_per) = match p.layout {
        Layout::Nchw => (MR, NCHW_PANELS_PER_REGION, NCHW_PIXEL_TILES_PER_REGION * nr),
        Layout::Nhwc => (nr, NHWC_PANELS_PER_REGION, NHWC_PIXEL_TILES_PER_REGION * MR),
    };
    if p.layout == Layout::Nchw {
        // Small maps give few pixel blocks: split the channels instead, into enough regions
        // for the threads, but not into pieces too small to be worth a task.
        let pixel_blocks = p.n * p.pixels_out().div_ceil(pixels_per);
        let worth = usize::try_from(p.flops() / MIN_REGION_FLOPS).unwrap_or(usize::MAX);
        let splits = MIN_REGIONS.div_ceil(pixel_blocks).min(worth).max(1);
        panels_per = panels_per.min(panels(p.cout, panel_width).div_ceil(splits));
    }
    let total_panels = panels(p.cout, panel_width);
    let pixels = p.pixels_out();
    let mut out = Vec::new();
    for n in 0..p.n {
        for panel0 in (0..total_panels).step_by(panels_per) {
            for pixel0 in (0..pixels).step_by(pixels_per) {
                out.push(Region {
                    n,
                    panels: panel0..(panel0 + panels_per).min(total_panels),
                    pixels: pixel0..(pixel0 + pixels_per).min(pixels),
                });
            }
        }
    }
    out
}

/// Length of the scratch [`run_region`] needs: one packed tile of the input.
pub(crate) fn region_scratch_len(p: &Conv1x1Problem, nr: usize) -> usize {
    p.cin * nr.max(MR)
}

/// Raw output pointer shared by the tasks of one run; each task writes only its own region.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutPtr(pub *mut f32);
// SAFETY: regions are disjoint, so tasks on different threads never write the same element,
// and the output slice outlives the parallel loop that uses the pointer.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// Computes one region of the output.
///
/// `scratch` holds at least [`region_scratch_len`] values. `#[inline(always)]` and free of
/// closures, so that inside pulp's dispatch it is compiled with the selected target features.
///
/// # Safety
/// `out` points to `p.output_len()` writable values that no one else reads or writes inside
/// this region while the call runs; `input`, `weights` and `bias` are as `p` and
/// [`pack_weights`] (with `mk.nr()`) made them.
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
    scratch: &mut [f32],
) {
    let nr = mk.nr();
    let (cin, cout, hw_in, pixels_out) = (p.cin, p.cout, p.pixels_in(), p.pixels_out());
    let x_n = &input[region.n * cin * hw_in..][..cin * hw_in];
    // SAFETY: image n's output starts inside the buffer (n < N).
    let y_n = unsafe { out.0.add(region.n * cout * pixels_out) };
    match p.layout {
        Layout::Nchw => {
            let b_tile = &mut scratch[..cin * nr];
            for pt in region.pixels.clone().step_by(nr) {
                let cols = nr.min(region.pixels.end - pt);
                let (b, ldb) = if p.stride == 1 && cols == nr {
                    (&x_n[pt..(cin - 1) * hw_in + pt + nr], hw_in)
                } else {
                    for (k, row) in b_tile.chunks_exact_mut(nr).enumerate() {
                        let x_row = &x_n[k * hw_in..][..hw_in];
                        for (j, v) in row.iter_mut().enumerate() {
                            *v = if j < cols { x_row[p.input_pixel(pt + j)] } else { 0.0 };
                        }
                    }
                    (&b_tile[..], nr)
                };
                for panel in region.panels.clone() {
                    let co = panel * MR;
                    let a = &weights[panel * cin * MR..][..cin * MR];
                    let tile_bias = if p.bias { BiasAlong::Rows(bias[co..][..MR].as_ptr()) } else { BiasAlong::None };
                    // SAFETY: `a` holds cin·MR values; `b` holds cin rows of nr values ldb
                    // apart (sliced above); rows co..co+rows of Y_n, columns pt..pt+cols, lie
                    // inside this region of the output (caller).
                    unsafe {
                        mk.tile(
                            cin,
                            a.as_ptr(),
                            b.as_ptr(),
                            ldb,
                            y_n.add(co * pixels_out + pt),
                            pixels_out,
                            MR.min(cout - co),
                            cols,
                            Epilogue::store(tile_bias, p.relu),
                        );
                    }
                }
            }
        }
        Layout::Nhwc => {
            let a_tile = &mut scratch[..cin * MR];
            for pt in region.pixels.clone().step_by(MR) {
                let rows = MR.min(region.pixels.end - pt);
                for r in 0..MR {
                    if r < rows {
                        let x_px = &x_n[p.input_pixel(pt + r) * cin..][..cin];
                        for (k, &v) in x_px.iter().enumerate() {
                            a_tile[k * MR + r] = v;
                        }
                    } else {
                        a_tile.iter_mut().skip(r).step_by(MR).for_each(|v| *v = 0.0);
                    }
                }
                for panel in region.panels.clone() {
                    let co = panel * nr;
                    let b = &weights[panel * cin * nr..][..cin * nr];
                    let tile_bias = if p.bias { BiasAlong::Cols(bias[co..][..nr].as_ptr()) } else { BiasAlong::None };
                    // SAFETY: `a_tile` holds cin·MR values, `b` cin rows of nr; pixels
                    // pt..pt+rows, channels co..co+cols of Y_n lie inside this region (caller).
                    unsafe {
                        mk.tile(
                            cin,
                            a_tile.as_ptr(),
                            b.as_ptr(),
                            nr,
                            y_n.add(pt * cout + co),
                            cout,
                            rows,
                            nr.min(cout - co),
                            Epilogue::store(tile_bias, p.relu),
                        );
                    }
                }
            }
        }
    }
}
