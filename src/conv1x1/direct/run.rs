//! One region of the output through the microkernel: its K blocks, its tiles, and the
//! packing of the operands that are not read in place.

use std::ops::Range;

use crate::gemm::KC;
use crate::problem::Conv1x1Problem;
use crate::tensor::{Layout, OutPtr};
use crate::ukernel::gemm::{BiasAlong, Epilogue, Microkernel, Tile, TileArgs, prefetch};

use super::plan::*;

/// What every region of one direct call reads and writes: the problem, its input, the weights
/// and bias as [`pack_weights`] (with the microkernel's NR and [`TileRows::best_fill`]) packed
/// them, and the output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DirectArgs<'a> {
    /// The problem.
    pub p: &'a Conv1x1Problem,
    /// Its whole input.
    pub input: &'a [f32],
    /// The packed weights.
    pub weights: &'a [f32],
    /// The packed bias.
    pub bias: &'a [f32],
    /// Its whole output, `p.output_len()` values.
    pub out: OutPtr,
}

/// Computes one region of the output, in the orientation [`TileRows::best_fill`] chose.
///
/// `scratch` holds at least [`region_scratch_len`] values. `#[inline(always)]` and free of
/// closures, so that inside pulp's dispatch it is compiled with the selected target features.
///
/// # Safety
/// `args.out` points to `p.output_len()` writable values that no one else reads or writes
/// inside this region while the call runs; the rest of `args` is as [`DirectArgs`] says.
#[inline(always)]
pub(crate) unsafe fn run_region<K: Microkernel>(mk: K, args: DirectArgs, region: &Region, scratch: &mut RegionScratch) {
    let p = args.p;
    // SAFETY (all three): as this function's, for the same region of the same output.
    match TileRows::best_fill(p, mk.dims()) {
        _ if pixel_rows_across_images(p, TileRows::best_fill(p, mk.dims()), mk.dims().mr) => unsafe {
            run_region_across_images(mk, args, region, scratch)
        },
        TileRows::Channels => unsafe { channel_rows_region(mk, args, region, scratch) },
        TileRows::Pixels => unsafe { pixel_rows_region(mk, args, region, scratch) },
    }
}

/// [`run_region`] in channel rows: tiles of MR output channels × NR pixels of one image, the
/// pixels read in place or copied into a panel, the weights packed in MR-row panels.
///
/// # Safety
/// As [`run_region`].
#[inline(always)]
unsafe fn channel_rows_region<K: Microkernel>(mk: K, args: DirectArgs, region: &Region, scratch: &mut RegionScratch) {
    let DirectArgs { p, input, weights, bias, out } = args;
    let Tile { mr, nr } = mk.dims();
    let (cin, cout, hw_in, pixels_out) = (p.cin, p.cout, p.pixels_in(), p.pixels_out());
    let x_n = &input[region.n * cin * hw_in..][..cin * hw_in];
    // SAFETY: image n's output starts inside the buffer (n < N).
    let y_n = unsafe { out.0.add(region.n * cout * pixels_out) };
    let b_tile = &mut scratch.other()[..cin * nr];
    let k_block = channel_rows_k_block(cin);
    let copies = copies_channel_tile(hw_in, k_block, region.panels.len());
    // Rows of the next pixel tile to prefetch per panel call, where its copy would
    // otherwise wait on memory: the tile's Cin rows spread over this tile's calls.
    let prefetch_rows = (p.stride == 1 && copies && cin * hw_in * size_of::<f32>() >= PREFETCH_MIN_INPUT_BYTES)
        .then(|| cin.div_ceil(cin.div_ceil(k_block) * region.panels.len()));
    // LOOP 1: the region's pixel tiles (NR pixels each), the B operand of the tile.
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
        // LOOP 2: K blocks, outside the panels: this block of the pixel tile stays
        // near L1 while every panel of the region streams its weights past it.
        let mut calls = 0;
        for k0 in (0..cin).step_by(k_block) {
            let kc = k_block.min(cin - k0);
            let last = k0 + kc == cin;
            // LOOP 3: the region's panels of MR output channels, one tile call each.
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

/// [`run_region`] in pixel rows: tiles of MR pixels × NR output channels, the pixels packed
/// once for all the region's panels, NCHW tiles stored transposed.
///
/// # Safety
/// As [`run_region`].
#[inline(always)]
unsafe fn pixel_rows_region<K: Microkernel>(mk: K, args: DirectArgs, region: &Region, scratch: &mut RegionScratch) {
    let DirectArgs { p, input, weights, bias, out } = args;
    let Tile { mr, nr } = mk.dims();
    let (cin, cout, hw_in, pixels_out) = (p.cin, p.cout, p.pixels_in(), p.pixels_out());
    let x_n = &input[region.n * cin * hw_in..][..cin * hw_in];
    // SAFETY: image n's output starts inside the buffer (n < N).
    let y_n = unsafe { out.0.add(region.n * cout * pixels_out) };
    let tiles = region.pixels.len().div_ceil(mr);
    let (buf, packed) = scratch.for_pixel_tiles(region);
    let (a_tiles, sums) = buf.split_at_mut(tiles * cin * mr);
    if !packed {
        pack_pixel_tiles(p, x_n, region.pixels.clone(), mr, a_tiles);
    }
    // LOOP 1: the region's panels of NR output channels, each against every pixel tile
    // (LOOPs 2 and 3 in `pixel_rows_panel`).
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
            let tiles = PixelTiles { a_tiles, pixels: region.pixels.clone() };
            pixel_rows_panel(mk, p, (weights, bias), tiles, panel, TilesOut { c, tile_stride, ldc });
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

/// [`run_region`] for a region across images ([`pixel_rows_across_images`]): every tile is mr
/// pixels of one image (HW is a multiple of mr), packed from that image's rows, computed as
/// the per-image pixel-row tiles are, and stored transposed into that image's output rows.
///
/// # Safety
/// As [`run_region`].
#[inline(always)]
unsafe fn run_region_across_images<K: Microkernel>(
    mk: K,
    args: DirectArgs,
    region: &Region,
    scratch: &mut RegionScratch,
) {
    let DirectArgs { p, input, weights, bias, out } = args;
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
            let tiles = PixelTiles { a_tiles, pixels: 0..region.pixels.len() };
            let sums_out = TilesOut { c: sums.as_mut_ptr(), tile_stride: mr * nr, ldc: nr };
            pixel_rows_panel(mk, p, (weights, bias), tiles, panel, sums_out);
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

/// The pixel tiles [`pack_pixel_tiles`] packed for `pixels`, MR pixels × Cin each.
#[derive(Debug, Clone)]
pub(crate) struct PixelTiles<'a> {
    /// The packed tiles.
    pub a_tiles: &'a [f32],
    /// The pixels they hold.
    pub pixels: Range<usize>,
}

/// Where the tiles of one panel go: tile t's MR×NR block at `c + t·tile_stride`, rows `ldc`
/// apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TilesOut {
    /// Tile 0's first value.
    pub c: *mut f32,
    /// Values from one tile's first to the next's.
    pub tile_stride: usize,
    /// Values between a tile's rows.
    pub ldc: usize,
}

/// One NR-channel panel of Wᵀ (of `(weights, bias)`, packed for pixel rows) against every pixel
/// tile: tile t's mr×NR block, with bias and ReLU, goes where `out` says. The panel's K blocks
/// (KC×NR, 16 KiB) are the outer loop, so each stays in L1 while all the tiles pass, and the
/// weights stream once.
///
/// # Safety
/// For every tile t, `out.c + t·out.tile_stride` is writable (and readable) for its rows of
/// `min(nr, cout − panel·nr)` values `out.ldc` apart, and no one else touches them meanwhile;
/// `weights` and `bias` are packed for pixel rows with `mk.nr()`.
#[inline(always)]
pub(crate) unsafe fn pixel_rows_panel<K: Microkernel>(
    mk: K,
    p: &Conv1x1Problem,
    (weights, bias): (&[f32], &[f32]),
    tiles: PixelTiles,
    panel: usize,
    out: TilesOut,
) {
    let (Tile { mr, nr }, cin) = (mk.dims(), p.cin);
    let PixelTiles { a_tiles, pixels } = tiles;
    let TilesOut { c, tile_stride, ldc } = out;
    let co = panel * nr;
    let cols = nr.min(p.cout - co);
    // LOOP 2: K blocks of the panel.
    for k0 in (0..cin).step_by(KC) {
        let kc = KC.min(cin - k0);
        let last = k0 + kc == cin;
        let b = &weights[panel * cin * nr + k0 * nr..][..kc * nr];
        let tile_bias = match p.bias && last {
            true => BiasAlong::Cols(bias[co..][..nr].as_ptr()),
            false => BiasAlong::None,
        };
        let epilogue = Epilogue { accumulate: k0 > 0, bias: tile_bias, relu: p.relu && last };
        // LOOP 3: the pixel tiles, one tile call each.
        for t in 0..pixels.len().div_ceil(mr) {
            let rows = mr.min(pixels.end - pixels.start - t * mr);
            let a = &a_tiles[t * cin * mr + k0 * mr..][..kc * mr];
            let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.wrapping_add(t * tile_stride));
            // SAFETY: `a` holds kc·mr values, `b` kc rows of nr; C as the caller guarantees.
            unsafe { mk.tile(TileArgs { kc, a, b, ldb: nr, c, ldc, rows, cols, epilogue }) };
        }
    }
}
