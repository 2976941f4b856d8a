//! `qconv-rayon`: `qconv-simd`'s tile over blocks of the output on the current rayon pool.

use std::ops::Range;

use rayon::prelude::*;

use super::block::{Block, BlockOut, compute_block, pack_block, packed_len, panels, run_block, tiles};
use super::{PreparedQLayer, QConvSimd, QTile};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::QConv1x1Problem;
use crate::scratch::{Slot, with_taken_byte_scratch};
use crate::tensor::Layout;

/// Fewest multiply-adds a task computes: 1 Mi MACs, a few microseconds at int8 speed, well
/// above what handing a task to another thread of the spinning pool costs (about a
/// microsecond, see `blocked_simd.rs`). A layer with fewer runs on the calling thread.
const MIN_TASK_MACS: u64 = 1 << 20;

/// Fewest output pixels in a block cut by pixels: a 64-byte cache line of u8 outputs. With
/// blocks of one tile (32 pixels on AVX-512), neighbouring tasks wrote halves of the same
/// lines of every output channel.
const MIN_BLOCK_PIXELS: usize = 64;

/// Tasks per thread where the layer is large enough: more than one, so a thread slowed by
/// its neighbours on a shared machine does not hold the others up for long.
const TASKS_PER_THREAD: usize = 4;

/// `qconv-rayon`'s declaration.
pub static QCONV_RAYON: KernelDecl = KernelDecl {
    name: "qconv-rayon",
    op: Op::QConv1x1,
    threads: Threads::Rayon,
    roles: &[Role::Scaling],
    layouts: &Layout::ALL,
    description: "`qconv-simd`'s tile over blocks of pixel tiles × channel panels (the larger operand cut first), each block of pixels packed once; bit-identical for any thread count",
};

/// One task: a block and where its outputs go.
struct Task<'a> {
    block: Block,
    out: BlockOut<'a>,
}

/// How a problem's output is cut into tasks: per image, blocks of `tiles_per_block` pixel
/// tiles × `panels_per_block` channel panels.
struct Split {
    tiles: usize,
    panels: usize,
    tiles_per_block: usize,
    panels_per_block: usize,
}

impl Split {
    /// The larger operand is cut first, so that each task reads only its part of it: pixel
    /// tiles where the map has at least as many pixels as the layer has output channels,
    /// channel panels (and with them the weights) otherwise; the other is cut only where the
    /// first gives too few blocks. A block packs its own pixels (or, cut by channels too,
    /// reads them packed once for its block of pixels) and shares nothing written with the
    /// others: cutting the channels of 1x96x54x54:96, with every image's pixels packed once
    /// and read by every task, ran at 0.8–1.0× its 1-thread speed on 2 threads (the packed
    /// lines moved between the cores); cutting the pixels of 1x1024x6x6:1024 (2 tiles) first
    /// read its 1 MiB of weights twice and ran at 1.15×, against 1.8× by panels.
    fn of(p: &QConv1x1Problem, tile: QTile) -> Split {
        let c = p.conv();
        let (tiles, panels) = (tiles(p, tile), panels(p, tile));
        let by_size = usize::try_from(p.macs() / MIN_TASK_MACS).unwrap_or(usize::MAX).max(1);
        let wanted = (rayon::current_num_threads() * TASKS_PER_THREAD).min(by_size);
        let per_image = wanted.div_ceil(c.n);
        // Blocks of pixels at least a cache line of output wide, so that two threads write
        // the same line of NCHW's output only where their blocks meet.
        let most_tile_blocks = tiles.div_ceil(MIN_BLOCK_PIXELS.div_ceil(tile.dims().1));
        let (tile_blocks, panel_blocks) = if c.pixels_out() >= c.cout {
            let tile_blocks = per_image.min(most_tile_blocks);
            (tile_blocks, per_image.div_ceil(tile_blocks).min(panels))
        } else {
            let panel_blocks = per_image.min(panels);
            (per_image.div_ceil(panel_blocks).min(most_tile_blocks), panel_blocks)
        };
        Split {
            tiles,
            panels,
            tiles_per_block: tiles.div_ceil(tile_blocks),
            panels_per_block: panels.div_ceil(panel_blocks),
        }
    }

    /// Blocks per image.
    fn blocks(&self) -> (usize, usize) {
        (self.tiles.div_ceil(self.tiles_per_block), self.panels.div_ceil(self.panels_per_block))
    }

    /// The pixel tiles of block `b` of an image.
    fn tiles_of(&self, b: usize) -> Range<usize> {
        b * self.tiles_per_block..((b + 1) * self.tiles_per_block).min(self.tiles)
    }

    /// The channel panels of block `j` of an image.
    fn panels_of(&self, j: usize) -> Range<usize> {
        j * self.panels_per_block..((j + 1) * self.panels_per_block).min(self.panels)
    }
}

impl QConvSimd {
    /// The tasks it cuts `p` into on the current rayon pool: 1 for `qconv-simd`; for
    /// `qconv-rayon`, blocks of pixel tiles and channel panels of at least 1 Mi multiply-adds,
    /// up to 4 per thread. One task runs on the calling thread.
    pub fn tasks(&self, p: &QConv1x1Problem) -> usize {
        if !self.decl().threads.is_parallel() {
            return 1;
        }
        let (tile_blocks, panel_blocks) = Split::of(p, self.tile_for(p)).blocks();
        p.conv().n * tile_blocks * panel_blocks
    }
}

/// `qconv-rayon`'s computation, for a problem cut into more than one task.
pub(super) fn execute_parallel(
    tile: QTile,
    p: &QConv1x1Problem,
    x: &[u8],
    prepared: &PreparedQLayer,
    acc: Option<&mut [i32]>,
    y: &mut [u8],
) {
    let c = p.conv();
    let (mr, nr) = tile.dims();
    let split = Split::of(p, tile);
    let (tile_blocks, panel_blocks) = split.blocks();
    let (pixel_block, channel_block) = (split.tiles_per_block * nr, split.panels_per_block * mr);
    let mut tasks: Vec<Task> = (0..c.n * tile_blocks * panel_blocks)
        .map(|i| {
            let (n, b, j) = (i / (tile_blocks * panel_blocks), i / panel_blocks % tile_blocks, i % panel_blocks);
            let (tiles, panels) = (split.tiles_of(b), split.panels_of(j));
            let out = BlockOut { y: Vec::new(), acc: acc.is_some().then(Vec::new) };
            Task { block: Block { image: n, tiles, panels }, out }
        })
        .collect();
    // Each line of the output (a channel's pixels in NCHW, a pixel's channels in NHWC) cut at
    // the blocks' edges, each piece handed to its block's task.
    let (line_len, piece_len) = match c.layout {
        Layout::Nchw => (c.pixels_out(), pixel_block),
        Layout::Nhwc => (c.cout, channel_block),
    };
    let lines_per_image = c.cout * c.pixels_out() / line_len;
    let task = |line: usize, piece: usize| {
        let (n, line) = (line / lines_per_image, line % lines_per_image);
        let (b, j) = match c.layout {
            Layout::Nchw => (piece, line / channel_block),
            Layout::Nhwc => (line / pixel_block, piece),
        };
        (n * tile_blocks + b) * panel_blocks + j
    };
    for (line, piece, y_piece) in pieces(y, line_len, piece_len) {
        tasks[task(line, piece)].out.y.push(y_piece);
    }
    if let Some(acc) = acc {
        for (line, piece, acc_piece) in pieces(acc, line_len, piece_len) {
            tasks[task(line, piece)].out.acc.as_mut().expect("made with acc").push(acc_piece);
        }
    }
    let block_len = packed_len(tile, p, &(0..split.tiles_per_block));
    if panel_blocks < 2 * rayon::current_num_threads() || block_len == 0 {
        // Each task packs its own pixels: a thread packs a block of pixels about once.
        tasks.into_par_iter().for_each(|Task { block, out }| run_block(tile, p, x, prepared, block, out));
        return;
    }
    // The panel blocks of a pixel block read the same pixels, and a thread would pack them
    // for several blocks: packed once, before the blocks. Repacked by each block, cutting
    // 1x384x13x13:384 in 4 cost it 14-22% of its speed on 1 thread, packed once 2%; on 2
    // threads (8 blocks) it ran 1.34-1.39x its 1-thread speed, packed once 1.41-1.45x (Zen 4,
    // quiet moments). Where each thread packs once anyway, packing first only adds a serial
    // step: 1x192x8x8:192's 2 blocks ran slower.
    with_taken_byte_scratch(Slot::PackBytes, c.n * tile_blocks * block_len, |packed| {
        let pack = |(i, buf): (usize, &mut [u8])| {
            let (n, b) = (i / tile_blocks, i % tile_blocks);
            pack_block(tile, p, x, n, split.tiles_of(b), buf);
        };
        match c.n * tile_blocks {
            1 => pack((0, packed)),
            _ => packed.par_chunks_mut(block_len).enumerate().for_each(pack),
        }
        let packed = &*packed;
        tasks.into_par_iter().for_each(|Task { block, out }| {
            let i = block.image * tile_blocks + block.tiles.start / split.tiles_per_block;
            compute_block(tile, p, x, prepared, block, out, &packed[i * block_len..][..block_len]);
        });
    });
}

/// `buf` cut into lines of `line_len` values and each line into pieces of `piece_len`: (line,
/// piece within the line, the piece).
fn pieces<T>(buf: &mut [T], line_len: usize, piece_len: usize) -> impl Iterator<Item = (usize, usize, &mut [T])> {
    buf.chunks_mut(line_len).enumerate().flat_map(move |(line, values)| {
        values.chunks_mut(piece_len).enumerate().map(move |(i, piece)| (line, i, piece))
    })
}
