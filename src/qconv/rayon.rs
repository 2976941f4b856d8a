//! `qconv-rayon`: `qconv-simd`'s tile over blocks of the output on the current rayon pool.

use rayon::prelude::*;

use super::block::{Block, BlockOut, panels, run_block, tiles};
use super::{PreparedQLayer, QConvSimd, QTile};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::QConv1x1Problem;
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
    description: "`qconv-simd`'s tile over blocks of pixel tiles × channel panels (the larger operand cut first), each block packing its own pixels; bit-identical for any thread count",
};

/// One task: a block of image `n` and where its outputs go.
struct Task<'a> {
    n: usize,
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
    /// first gives too few blocks. A block packs its own pixels and shares nothing written
    /// with the others: cutting the channels of 1x96x54x54:96, with every image's pixels
    /// packed once and read by every task, ran at 0.8–1.0× its 1-thread speed on 2 threads
    /// (the packed lines moved between the cores); cutting the pixels of 1x1024x6x6:1024 (2
    /// tiles) first read its 1 MiB of weights twice and ran at 1.15×, against 1.8× by panels.
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
            let tiles = b * split.tiles_per_block..((b + 1) * split.tiles_per_block).min(split.tiles);
            let panels = j * split.panels_per_block..((j + 1) * split.panels_per_block).min(split.panels);
            let out = BlockOut { y: Vec::new(), acc: acc.is_some().then(Vec::new) };
            Task { n, block: Block { tiles, panels }, out }
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
    tasks.into_par_iter().for_each(|Task { n, block, out }| run_block(tile, p, x, n, prepared, block, out));
}

/// `buf` cut into lines of `line_len` values and each line into pieces of `piece_len`: (line,
/// piece within the line, the piece).
fn pieces<T>(buf: &mut [T], line_len: usize, piece_len: usize) -> impl Iterator<Item = (usize, usize, &mut [T])> {
    buf.chunks_mut(line_len).enumerate().flat_map(move |(line, values)| {
        values.chunks_mut(piece_len).enumerate().map(move |(i, piece)| (line, i, piece))
    })
}
