//! The register tile on data that stays in L1: what the report times beside a layer, so that a
//! layer's share of the FMA peak can be read against the share its own microkernel reached in
//! the same moments.

use pulp::{Simd, WithSimd};

use crate::tensor::{AlignedBuf, seeded_uniform, zeroed};

/// Reduction length of the [`crate::measure::L1TileShare`] tile: the A panel (MR × 256, 6 KiB) and the B block
/// (256 × NR, 16 KiB at NR = 16) fit the 32 KiB L1 together.
const L1_TILE_K: usize = 256;

/// Tile calls per call of [`L1TileData::run`]: 16 tiles of 256 steps, about 25 µs at the
/// peak, as long as a burst of the peak loop.
const L1_TILE_CALLS: usize = 16;

/// One A panel and one B block for the microkernel, small enough to stay in L1, and its C tile.
pub(crate) struct L1TileData {
    /// The ISA policy the tile runs with.
    pub policy: crate::simd::SimdPolicy,
    a: AlignedBuf,
    b: AlignedBuf,
    c: AlignedBuf,
}

impl L1TileData {
    /// The panels, seeded.
    pub fn new() -> Self {
        use crate::ukernel::gemm::{MR, NV};
        let policy = crate::simd::SimdPolicy::Auto;
        let nr = NV * policy.f32_lanes();
        let mut a = seeded_uniform(L1_TILE_K * MR, 1);
        // Values of at most 1/K in A keep every sum of K products small.
        a.iter_mut().for_each(|v| *v /= L1_TILE_K as f32);
        L1TileData { policy, a, b: seeded_uniform(L1_TILE_K * nr, 2), c: zeroed(MR * nr) }
    }

    /// [`L1_TILE_CALLS`] tiles, each overwriting C; returns their FLOPs.
    pub fn run(&mut self) -> f64 {
        let L1TileData { policy, a, b, c } = self;
        policy.dispatch(L1Tiles { a, b: std::hint::black_box(b), c })
    }
}

/// [`L1TileData::run`] inside pulp's dispatch, so the microkernel is compiled with the
/// selected target features.
struct L1Tiles<'a> {
    a: &'a [f32],
    b: &'a [f32],
    c: &'a mut [f32],
}

impl WithSimd for L1Tiles<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        use crate::ukernel::gemm::{BiasAlong, Epilogue, MR, Microkernel, PulpMicrokernel};
        let mk = PulpMicrokernel(simd);
        let nr = mk.nr();
        assert!(self.a.len() >= L1_TILE_K * MR && self.b.len() >= L1_TILE_K * nr && self.c.len() >= MR * nr);
        for _ in 0..L1_TILE_CALLS {
            // SAFETY: `a` holds K·MR values, `b` K rows of nr values nr apart, `c` MR rows of
            // nr values (all checked above); no bias.
            unsafe {
                mk.tile(
                    L1_TILE_K,
                    self.a.as_ptr(),
                    self.b.as_ptr(),
                    nr,
                    self.c.as_mut_ptr(),
                    nr,
                    MR,
                    nr,
                    Epilogue::store(BiasAlong::None, false),
                );
            }
        }
        (L1_TILE_CALLS * 2 * MR * nr * L1_TILE_K) as f64
    }
}
