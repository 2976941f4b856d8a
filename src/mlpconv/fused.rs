//! `mlpconv-fused`: the whole chain, pixel tile by pixel tile, with the intermediate kept in
//! cache.
//!
//! For each tile of [`SUBTILES_PER_TILE`]·NR pixels of one image:
//! 1. the tile of the input is packed into NR-pixel panels (`[subtile][channel][NR]`), so the
//!    microkernel reads each panel contiguously (reading rows H·W apart in place would map
//!    every row of a 32×32 map to the same L1 set);
//! 2. subtile by subtile, the whole chain: each layer runs the MR×NR microkernel over the
//!    subtile and every channel panel, bias and ReLU in its epilogue, writing its output *in
//!    the packed panel layout the next layer reads*. The intermediate is one subtile (160
//!    channels × 16 pixels is 10 KiB), still in L1 when the next layer reads it; it is never
//!    stored as a map and needs no repacking (1.04–1.08× the unfused chain on
//!    32x192x32x32:160:96, against 1.02–1.07× layer by layer over the whole tile; the figures
//!    are in docs/tuning.md).
//! 3. the last layer stores its tiles straight into the output map's rows; or, for a head,
//!    into a packed tile summed into per-lane channel accumulators, so the class maps are
//!    never written at all (a copy-out through a packed tile measured 0.96–0.98× the straight
//!    stores).
//!
//! Every output value is one full-Cin microkernel reduction per layer, in the same order as
//! the direct single-layer kernels, so without GAP the result is bit-identical to the unfused
//! chain. Tiles are independent: rayon runs (image, tile) tasks; a head runs per image, and a
//! one-layer head also per block of classes.
//!
//! A one-layer head on a map that fills pixel rows better (6×6) is tiled as the direct
//! kernels tile that layer, MR pixels × NR classes (`PixelRowsHead`), and each tile's rows
//! are summed per class instead of stored.

use std::ops::Range;

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::{MlpconvArgs, MlpconvKernel, PreparedChain};
use crate::conv1x1::PreparedWeights;
use crate::conv1x1::direct::{self, OutPtr, TileRows};
use crate::gemm::pack::panels;
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::MlpconvProblem;
use crate::scratch::{Slot, with_scratch};
use crate::simd::SimdPolicy;
use crate::tensor::Layout;
use crate::ukernel::gemm::{
    BiasAlong, Epilogue, Microkernel, Tile, TileArgs, copy_padded, tile_dims, tile_name, with_kernel_tile,
};

/// NR-pixel subtiles per tile: 128 pixels at NR = 16. The input is packed a tile at a time,
/// each input row read as one run of 128 pixels, and the last layer's tile (96 channels ×
/// 128 pixels, 48 KiB) is copied out row by row the same way.
pub const SUBTILES_PER_TILE: usize = 8;

/// The input tile is packed when the first layer has at least this many channel panels. Packing
/// copies Cin·NR values per subtile, repaid only when enough panels reuse them; below, full
/// subtiles are read in place (rows H·W apart), as the direct kernels do: on a head of two
/// panels (1x192x8x8:10,gap) packing made the fused chain slower than the unfused one.
const PACK_INPUT_MIN_PANELS: usize = 4;

/// `mlpconv-fused`'s declaration.
pub static MLPCONV_FUSED: KernelDecl = KernelDecl {
    name: "mlpconv-fused",
    op: Op::Mlpconv,
    threads: Threads::Rayon,
    roles: &[Role::Fused],
    layouts: &[Layout::Nchw],
    description: "the chain pixel tile by pixel tile, each layer's output kept in L1 in the packed layout the next layer reads, the last stored (a head's summed per class); rayon over tiles",
};

/// The fused chain (and fused conv + GAP head) on pulp, runtime ISA, parallel over tiles.
#[derive(Debug, Clone)]
pub struct MlpconvFused {
    policy: SimdPolicy,
}

impl MlpconvFused {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy }
    }
}

/// One independent piece of work: pixels of image `n` (the whole map for a head, whose
/// per-image sums must not be split), and the channel panels of the last layer it computes.
#[derive(Debug, Clone)]
struct Task {
    n: usize,
    pixels: Range<usize>,
    last_panels: Range<usize>,
}

/// Channel panels of the last layer per task of a one-layer head: 32 panels (192 classes), so
/// NIN-ImageNet's 1000 classes give 6 tasks per image and a batch of 1 still spreads over
/// threads. Each task packs the input tile, so wider tasks pack it less often: 16 → 32 panels
/// moved 1x1024x6x6:1000,gap from 0.95× to 1.03× the unfused chain (docs/tuning.md).
/// Every class is computed and summed whole by one task, so the split changes no value.
/// (Deeper heads are not split: each task would recompute the earlier layers.)
const HEAD_PANELS_PER_TASK: usize = 32;

/// Pixels per tile: [`SUBTILES_PER_TILE`] subtiles, or the whole map (rounded up to a subtile)
/// when it is smaller.
fn tile_pixels(p: &MlpconvProblem, nr: usize) -> usize {
    (SUBTILES_PER_TILE * nr).min(p.pixels().next_multiple_of(nr))
}

fn tasks(p: &MlpconvProblem, tile_pixels: usize, mr: usize) -> Vec<Task> {
    let hw = p.pixels();
    let step = if p.gap { hw } else { tile_pixels };
    let last_panels = panels(p.cout(), mr);
    let panel_step = if p.gap && p.widths().len() == 1 { HEAD_PANELS_PER_TASK } else { last_panels };
    let mut out = Vec::new();
    for n in 0..p.n {
        for t0 in (0..hw).step_by(step) {
            for first in (0..last_panels).step_by(panel_step) {
                out.push(Task {
                    n,
                    pixels: t0..(t0 + step).min(hw),
                    last_panels: first..(first + panel_step).min(last_panels),
                });
            }
        }
    }
    out
}

/// Scratch of one task: the packed input tile, two intermediate subtiles, and for a head the
/// last layer's tile and the sums.
fn scratch_len(p: &MlpconvProblem, nr: usize) -> usize {
    let tile = tile_pixels(p, nr);
    let widest = p.widths().iter().copied().max().unwrap_or(0);
    let head = if p.gap { p.cout() * tile + p.cout() * nr } else { 0 };
    p.cin * tile + 2 * widest * nr + head
}

/// Runs one task inside pulp's dispatch. `#[inline(always)]` and closure-free below
/// `with_simd`, so the microkernel is compiled with the selected target features.
struct FusedTask<'a> {
    problem: &'a MlpconvProblem,
    input: &'a [f32],
    layers: &'a [PreparedWeights],
    out: OutPtr,
    task: &'a Task,
    /// At least [`scratch_len`] values.
    scratch: &'a mut [f32],
}

impl WithSimd for FusedTask<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        with_kernel_tile!(simd, S, mk => self.run(simd, mk))
    }
}

impl FusedTask<'_> {
    /// The task on the microkernel `mk` (and `simd` for the copies).
    #[inline(always)]
    fn run<S: Simd, K: Microkernel>(self, simd: S, mk: K) {
        let FusedTask { problem: p, input, layers, out, task, scratch } = self;
        let Tile { mr, nr } = mk.dims();
        let tile_pixels = tile_pixels(p, nr);
        let (hw, cin, cout, n) = (p.pixels(), p.cin, p.cout(), task.n);
        let widest = p.widths().iter().copied().max().unwrap_or(0);
        let (packed_input, rest) = scratch.split_at_mut(cin * tile_pixels);
        let (first, rest) = rest.split_at_mut(widest * nr);
        let (second, rest) = rest.split_at_mut(widest * nr);
        // A head's last tile and sums (empty otherwise: the last layer stores to the output).
        let (last, sums) = rest.split_at_mut(if p.gap { cout * tile_pixels } else { 0 });
        // Channels of the last layer this task computes (all of them, except in a split head).
        let channels = task.last_panels.start * mr..(task.last_panels.end * mr).min(cout);
        let sums = &mut sums[..if p.gap { channels.len() * nr } else { 0 }];
        sums.fill(0.0);
        let x_n = &input[n * cin * hw..][..cin * hw];
        // SAFETY: image n's output starts inside the buffer (n < N); a head's output is N×K.
        let y_n = unsafe { out.0.add(n * if p.gap { cout } else { cout * hw }) };
        let end = task.pixels.end;
        let in_place = panels(p.widths()[0], mr) < PACK_INPUT_MIN_PANELS;

        for t0 in task.pixels.clone().step_by(tile_pixels) {
            let subtiles = (end - t0).min(tile_pixels).div_ceil(nr);
            // 1. Pack the input tile: subtile s, channel c at packed_input[(s·cin + c)·nr ..];
            //    full subtiles stay in place when the first layer is too narrow to repay it.
            //    Channel by channel, so each input row is read as one run of the tile's pixels.
            let full_subtiles = (end - t0).min(tile_pixels) / nr;
            let packed = if in_place { full_subtiles..subtiles } else { 0..subtiles };
            if !packed.is_empty() {
                for c in 0..cin {
                    let row = &x_n[c * hw..][..hw];
                    for s in packed.clone() {
                        let (c0, cols) = (t0 + s * nr, nr.min(end - t0 - s * nr));
                        copy_padded(simd, &row[c0..][..cols], &mut packed_input[(s * cin + c) * nr..][..nr]);
                    }
                }
            }
            // 2. The layers, subtile by subtile: a subtile goes through the whole chain before
            //    the next one starts, so its intermediate (Cℓ × NR, 10 KiB at 160 channels)
            //    is still in L1 when the next layer reads it, while the weights stream past.
            //    Intermediates alternate between `second` (ℓ even) and `first` (ℓ odd); the
            //    last layer writes the subtile's pixels of the output map, or of a head, subtile s
            //    of `last`.
            for s in 0..subtiles {
                let c0 = t0 + s * nr;
                let mut buffers: (&mut [f32], &mut [f32]) = (&mut *first, &mut *second);
                for (l, prepared) in layers.iter().enumerate() {
                    let (c_in, c_out) = (if l == 0 { cin } else { p.widths()[l - 1] }, p.widths()[l]);
                    let (b, ldb) = if l == 0 && in_place && c0 + nr <= end {
                        (&x_n[c0..(c_in - 1) * hw + c0 + nr], hw)
                    } else if l == 0 {
                        (&packed_input[s * c_in * nr..][..c_in * nr], nr)
                    } else {
                        (&buffers.0[..c_in * nr], nr)
                    };
                    let is_last = l + 1 == layers.len();
                    // This subtile's output block: C_out rows of `cols` values `ldc` apart.
                    let (dst, ldc, cols) = match (is_last, p.gap) {
                        // SAFETY: pixel c0 < H·W of image n's output map.
                        (true, false) => (unsafe { y_n.add(c0) }, hw, nr.min(end - c0)),
                        (true, true) => (last[s * c_out * nr..].as_mut_ptr(), nr, nr),
                        (false, _) => (buffers.1.as_mut_ptr(), nr, nr),
                    };
                    let layer_panels = if is_last { task.last_panels.clone() } else { 0..panels(c_out, mr) };
                    for panel in layer_panels {
                        let co = panel * mr;
                        let a = &prepared.weights()[panel * c_in * mr..][..c_in * mr];
                        let bias = BiasAlong::Rows(prepared.bias()[co..][..mr].as_ptr());
                        let rows = mr.min(c_out - co);
                        // SAFETY: `a` holds c_in·mr values and `b` c_in rows of nr values ldb
                        // apart (sliced above); the bias is padded to whole panels; channels
                        // co..co+rows, `cols` values each `ldc` apart, lie inside the block
                        // `dst` starts (of `buffers.1`, widest·nr values; subtile s of `last`,
                        // K·nr from s·K·nr; or this task's pixels c0..c0+cols of the output
                        // map's rows), which nothing else borrows or writes meanwhile.
                        unsafe {
                            let c = dst.add(co * ldc);
                            let (a, b, epilogue) = (a.as_ptr(), b.as_ptr(), Epilogue::store(bias, true));
                            mk.tile(TileArgs { kc: c_in, a, b, ldb, c, ldc, rows, cols, epilogue });
                        }
                    }
                    std::mem::swap(&mut buffers.0, &mut buffers.1);
                }
            }
            // 3. A head sums the tile per channel and lane; padding columns are left out.
            if p.gap {
                for s in 0..subtiles {
                    let cols = nr.min(end - t0 - s * nr);
                    let tile = &last[(s * cout + channels.start) * nr..][..channels.len() * nr];
                    for (acc, row) in sums.chunks_exact_mut(nr).zip(tile.chunks_exact(nr)) {
                        for (a, &v) in acc[..cols].iter_mut().zip(&row[..cols]) {
                            *a += v;
                        }
                    }
                }
            }
        }
        if p.gap {
            let inv = 1.0 / hw as f32;
            for (c, acc) in channels.zip(sums.chunks_exact(nr)) {
                let mean = acc.iter().sum::<f32>() * inv;
                // SAFETY: the head's output is N×K and n < N, c < K; class c of image n
                // belongs to this task only.
                unsafe { y_n.add(c).write(mean) };
            }
        }
    }
}

/// Whether `p` is a one-layer head whose map fills pixel-row tiles better (a 6×6 map: 6 rows
/// of 6 pixels, against 75% of three 16-pixel columns), the choice the direct kernels make
/// for the same layer ([`TileRows::best_fill`]). Such a head runs [`PixelRowsHead`] tasks.
fn head_in_pixel_rows(p: &MlpconvProblem, t: Tile) -> bool {
    p.gap && p.widths().len() == 1 && TileRows::best_fill(&p.layer(0), t) == TileRows::Pixels
}

/// Class panels (NR classes each) per task of a pixel-rows head on more than one thread: 512
/// classes, so the 1000 of NIN-ImageNet give 2 tasks per image (both threads busy at batch 1),
/// and each task packs the map once for 32 panels. Instructions per call on
/// 1x1024x6x6:1000,gap (callgrind): 10.51 M with 16 panels per task, 10.16 M with 32, 9.99 M
/// with the whole image in one task, as one thread now runs it; the unfused chain 10.28 M
/// since its layer packs the map once (10.79 M before).
const PIXEL_ROWS_HEAD_PANELS_PER_TASK: usize = 32;

/// Pixel tiles (of MR pixels) a pixel-rows head packs at a time: the direct kernels' region
/// width.
const PIXEL_ROWS_HEAD_TILES: usize = 16;

/// Scratch of a pixel-rows head task: the packed pixel tiles, one panel's tile sums, and the
/// task's class sums.
fn pixel_rows_head_scratch_len(
    layer: &crate::problem::Conv1x1Problem,
    Tile { mr, nr }: Tile,
    images_per_task: usize,
    panels_per_task: usize,
) -> usize {
    let tiles = PIXEL_ROWS_HEAD_TILES;
    tiles * layer.cin * mr + tiles * mr * nr + images_per_task * panels_per_task * nr
}

/// A one-layer head in pixel rows: for the images `images` and the classes of `class_panels`,
/// the direct kernels' pixel-row tiles (MR pixels × NR classes, bias and ReLU in the
/// epilogue), each tile's rows then summed into its image's per-class sums, so the class maps
/// are never written.
///
/// Where each image fills whole MR-pixel tiles (6×6), the pixels are packed
/// [`PIXEL_ROWS_HEAD_TILES`] tiles at a time across the images, as the direct kernels' regions go
/// across images, so each block of weights a panel streams serves 16 tiles, not an image's 6
/// (1024×1000 weights are 4 MB: streamed once per image at batch 32, they had put the fused
/// head behind the unfused chain, 0.91×). Each image's rows are still added in pixel order.
struct PixelRowsHead<'a> {
    layer: &'a crate::problem::Conv1x1Problem,
    input: &'a [f32],
    prepared: &'a PreparedWeights,
    out: OutPtr,
    images: Range<usize>,
    class_panels: Range<usize>,
    /// At least [`pixel_rows_head_scratch_len`] values.
    scratch: &'a mut [f32],
}

impl WithSimd for PixelRowsHead<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        with_kernel_tile!(simd, S, mk => self.run(mk))
    }
}

impl PixelRowsHead<'_> {
    /// The head on the microkernel `mk`.
    #[inline(always)]
    fn run<K: Microkernel>(self, mk: K) {
        let PixelRowsHead { layer, input, prepared, out, images, class_panels, scratch } = self;
        let Tile { mr, nr } = mk.dims();
        let (cin, cout, hw) = (layer.cin, layer.cout, layer.pixels_out());
        let tiles = PIXEL_ROWS_HEAD_TILES;
        let (a_tiles, rest) = scratch.split_at_mut(tiles * cin * mr);
        let (tile_sums, class_sums) = rest.split_at_mut(tiles * mr * nr);
        // Image i's sums at class_sums[i·per_image ..], one NR run per panel.
        let per_image = class_panels.len() * nr;
        let class_sums = &mut class_sums[..images.len() * per_image];
        class_sums.fill(0.0);
        // Blocks of pixels: across the images where tiles never straddle two, else per image.
        // Spans of pixels, counted over the task's images one after another, that are cut into
        // blocks: all of them at once where each image fills whole tiles, else image by image.
        let (spans, span_len) = match hw.is_multiple_of(mr) {
            true => (1, images.len() * hw),
            false => (images.len(), hw),
        };
        for span in (0..spans).map(|i| i * span_len..(i + 1) * span_len) {
            for p0 in span.clone().step_by(PIXEL_ROWS_HEAD_TILES * mr) {
                let len = (PIXEL_ROWS_HEAD_TILES * mr).min(span.end - p0);
                // Tile t: (image index in `images`, first pixel in that image, valid rows).
                let origin = |t: usize| {
                    let g = p0 + t * mr;
                    (g / hw, g % hw, mr.min(hw - g % hw).min(len - t * mr))
                };
                let block_tiles = len.div_ceil(mr);
                for (t, a_tile) in a_tiles.chunks_exact_mut(cin * mr).take(block_tiles).enumerate() {
                    let (image, q, rows) = origin(t);
                    let x_n = &input[(images.start + image) * cin * hw..][..cin * hw];
                    direct::pack_pixel_tiles(layer, x_n, q..q + rows, mr, a_tile);
                }
                for (k, panel) in class_panels.clone().enumerate() {
                    // SAFETY: `tile_sums` holds `tiles` blocks of mr×nr; the weights and bias
                    // were packed for pixel rows with this nr (`pack`).
                    unsafe {
                        let tiles = direct::PixelTiles { a_tiles, pixels: 0..len };
                        let out = direct::TilesOut { c: tile_sums.as_mut_ptr(), tile_stride: mr * nr, ldc: nr };
                        direct::pixel_rows_panel(mk, layer, (prepared.weights(), prepared.bias()), tiles, panel, out);
                    }
                    // Each valid row of each tile is one pixel's NR classes: add it to its
                    // image's sums.
                    for (t, tile) in tile_sums.chunks_exact(mr * nr).take(block_tiles).enumerate() {
                        let (image, _, rows) = origin(t);
                        let sums = &mut class_sums[image * per_image + k * nr..][..nr];
                        for row in tile.chunks_exact(nr).take(rows) {
                            for (acc, &v) in sums.iter_mut().zip(row) {
                                *acc += v;
                            }
                        }
                    }
                }
            }
        }
        let inv = 1.0 / hw as f32;
        for (i, n) in images.enumerate() {
            let image_sums = &class_sums[i * per_image..][..per_image];
            for (panel, sums) in class_panels.clone().zip(image_sums.chunks_exact(nr)) {
                let co = panel * nr;
                for (j, &sum) in sums.iter().enumerate().take(nr.min(cout - co)) {
                    // SAFETY: the head's output is N×K and n < N, co + j < K; these classes of
                    // image n belong to this task only.
                    unsafe { out.0.add(n * cout + co + j).write(sum * inv) };
                }
            }
        }
    }
}

impl Kernel for MlpconvFused {
    fn decl(&self) -> &'static KernelDecl {
        &MLPCONV_FUSED
    }

    fn isa(&self) -> &'static str {
        self.policy.isa_name()
    }

    fn tile(&self) -> Option<String> {
        Some(format!("{} ({SUBTILES_PER_TILE} per pixel tile)", tile_name(self.policy)))
    }
}

impl MlpconvKernel for MlpconvFused {
    fn pack(&self, problem: &MlpconvProblem, weights: &[&[f32]], biases: &[&[f32]]) -> PreparedChain {
        let tile = tile_dims(self.policy);
        let layers = problem
            .layers()
            .zip(weights.iter().zip(biases))
            .map(|(layer, (w, b))| {
                let layer = layer.expect("validated chain");
                let rows = if head_in_pixel_rows(problem, tile) { TileRows::Pixels } else { TileRows::Channels };
                let (w, b) = direct::pack_weights(&layer, w, Some(b), tile, rows);
                PreparedWeights::new(self.name(), self.isa().to_string(), layer, w, b)
            })
            .collect();
        PreparedChain::new(self.name(), self.isa().to_string(), *problem, layers)
    }

    fn execute(&self, args: MlpconvArgs<'_>) {
        let tile = tile_dims(self.policy);
        let nr = tile.nr;
        let (problem, input, policy) = (args.problem, args.input, self.policy);
        let layers = args.prepared.layers();
        let out = OutPtr(args.output.as_mut_ptr());
        if head_in_pixel_rows(problem, tile) {
            let layer = problem.layer(0);
            let class_panels = panels(layer.cout, nr);
            // On one thread (or where there is one task's work), one task: every image and every
            // class, so each block of pixels is packed once and each block of weights streamed
            // once per block of pixels, as the unfused chain's layer (rayon-tiled) does on one
            // thread. Otherwise one image and PIXEL_ROWS_HEAD_PANELS_PER_TASK panels per task,
            // so a batch of 1 still spreads over the threads.
            if rayon::current_num_threads() == 1 || (problem.n == 1 && class_panels <= PIXEL_ROWS_HEAD_PANELS_PER_TASK)
            {
                let len = pixel_rows_head_scratch_len(&layer, tile, problem.n, class_panels);
                with_scratch(Slot::PackA, len, |scratch| {
                    policy.dispatch(PixelRowsHead {
                        layer: &layer,
                        input,
                        prepared: &layers[0],
                        out,
                        images: 0..problem.n,
                        class_panels: 0..class_panels,
                        scratch,
                    })
                });
                return;
            }
            let tasks: Vec<(usize, Range<usize>)> = (0..problem.n)
                .flat_map(|n| {
                    (0..class_panels)
                        .step_by(PIXEL_ROWS_HEAD_PANELS_PER_TASK)
                        .map(move |first| (n, first..(first + PIXEL_ROWS_HEAD_PANELS_PER_TASK).min(class_panels)))
                })
                .collect();
            let len = pixel_rows_head_scratch_len(&layer, tile, 1, PIXEL_ROWS_HEAD_PANELS_PER_TASK);
            tasks.par_iter().for_each(|(n, class_panels)| {
                // Scratch is taken before the dispatch (see `blocked_simd`).
                with_scratch(Slot::PackA, len, |scratch| {
                    let (images, class_panels) = (*n..*n + 1, class_panels.clone());
                    let prepared = &layers[0];
                    policy.dispatch(PixelRowsHead {
                        layer: &layer,
                        input,
                        prepared,
                        out,
                        images,
                        class_panels,
                        scratch,
                    })
                });
            });
            return;
        }
        let len = scratch_len(problem, nr);
        let tasks = tasks(problem, tile_pixels(problem, nr), tile.mr);
        if tasks.len() == 1 || rayon::current_num_threads() == 1 {
            // One task (a head at batch 1) or one thread: on the calling thread, without a
            // parallel loop, as rayon-tiled runs, the unfused chain's layers. With it,
            // 1x192x8x8:10,gap (3.5 µs per call) measured 0.91–0.98× the unfused chain.
            with_scratch(Slot::PackA, len, |scratch| {
                for task in &tasks {
                    let scratch = &mut *scratch;
                    policy.dispatch(FusedTask { problem, input, layers, out, task, scratch });
                }
            });
            return;
        }
        tasks.par_iter().for_each(|task| {
            // Scratch is taken before the dispatch (see `blocked_simd`).
            with_scratch(Slot::PackA, len, |scratch| {
                policy.dispatch(FusedTask { problem, input, layers, out, task, scratch })
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_layer_heads_on_maps_that_fill_pixel_rows_better_are_tiled_by_pixel_rows() {
        let pixel_rows = |s: &str| head_in_pixel_rows(&s.parse().unwrap(), Tile { mr: 6, nr: 16 });
        assert!(pixel_rows("1x1024x6x6:1000,gap") && pixel_rows("3x300x6x6:48,gap") && pixel_rows("1x20x10x10:16,gap"));
        // 8×8 fills 16-pixel columns; a deeper head or a chain without GAP keeps channel rows.
        assert!(!pixel_rows("1x192x8x8:10,gap") && !pixel_rows("1x192x6x6:192:1000,gap"));
        assert!(!pixel_rows("1x1024x6x6:1000:10"));
    }
}
