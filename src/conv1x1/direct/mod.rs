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

mod plan;
mod run;

use pulp::{Simd, WithSimd};

use super::PreparedWeights;
use crate::problem::Conv1x1Problem;
use crate::simd::SimdPolicy;
use crate::ukernel::gemm::{Microkernel, with_kernel_tile};

pub(crate) use crate::tensor::OutPtr;
pub(crate) use plan::*;
pub(crate) use run::{DirectArgs, PixelTiles, TilesOut, pack_pixel_tiles, pixel_rows_panel, run_region};

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
        let (weights, bias) = (self.prepared.weights(), self.prepared.bias());
        let args = DirectArgs { p: self.problem, input: self.input, weights, bias, out: self.out };
        for region in self.regions {
            // SAFETY: `out` is the output of `problem` (checked by `run`), the regions are
            // disjoint and each is written by this call only; the weights were packed by
            // `pack_weights` with this ISA's NR (checked by `run` via the ISA name).
            unsafe { run_region(mk, args, region, &mut scratch) };
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
    use crate::gemm::pack::panels;
    use crate::ukernel::gemm::Tile;

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
