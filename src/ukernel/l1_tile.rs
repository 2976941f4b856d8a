//! The register tile on data that stays in L1: what the report times beside a layer, so that a
//! layer's share of the FMA peak can be read against the share its own microkernel reached in
//! the same moments, and what `nin-bench tiles` times for every candidate tile of an ISA, to
//! choose the kernels' tile by measurement.

use pulp::{Simd, WithSimd};

use crate::simd::SimdPolicy;
use crate::tensor::{AlignedBuf, seeded_uniform, zeroed};
use crate::ukernel::gemm::{BiasAlong, Epilogue, PulpMicrokernel, TileArgs, TileShape, kernel_tile};

/// Vector registers of an x86-64 ISA with `lanes` f32 lanes: 32 with AVX-512 (and emu512,
/// which stands in for it), 16 with AVX2 (VEX encodings reach ymm0–15 only); 0 for the scalar
/// path, which has no tile to choose.
pub(crate) const fn vector_registers(lanes: usize) -> usize {
    match lanes {
        16 => 32,
        8 => 16,
        _ => 0,
    }
}

/// Whether the sweep times tile `rows × vectors` on an ISA of `lanes` lanes: it fits that
/// ISA's register file (a tile that spills runs at a fraction of the peak, nothing to choose).
const fn candidate_fits(lanes: usize, rows: usize, vectors: usize) -> bool {
    TileShape { rows, vectors }.registers() <= vector_registers(lanes)
}

/// Declares the candidate tiles once: the list [`TILE_CANDIDATES`] and the dispatch from a
/// shape to the microkernel instantiated for it. A candidate is compiled only for the ISAs
/// whose registers it fits (`const` guards), and the kernels' tile of every ISA.
macro_rules! tile_candidates {
    ($(($rows:literal, $vectors:literal))*) => {
        /// Every tile `nin-bench tiles` may time, by rows then vectors. Those that fit 16
        /// registers are AVX2's candidates, those that fit 32 AVX-512's (see [`candidates`]).
        pub const TILE_CANDIDATES: &[TileShape] = &[$(TileShape { rows: $rows, vectors: $vectors }),*];

        /// [`L1_TILE_CALLS`] tiles of `shape` on `data`; `None` for a shape not compiled for
        /// `S` (not a candidate there).
        #[inline(always)]
        fn run_shape<S: Simd>(simd: S, shape: TileShape, data: &mut L1Slices<'_>) -> Option<f64> {
            match (shape.rows, shape.vectors) {
                $(($rows, $vectors) if const {
                    (kernel_tile(S::F32_LANES).rows == $rows && kernel_tile(S::F32_LANES).vectors == $vectors)
                        || candidate_fits(S::F32_LANES, $rows, $vectors)
                } => Some(data.run(PulpMicrokernel::<S, $rows, $vectors>(simd))),)*
                _ => None,
            }
        }

        /// One exported function per candidate and x86 ISA, only in a build with
        /// `--cfg nin_bench_mca` (`scripts/mca.sh`): `nin_bench_mca_v3_6x2` is the 6×2-vector
        /// tile on AVX2, its whole-tile loop compiled for the build's `-C target-cpu`, which
        /// the script finds in the assembly and hands to llvm-mca.
        #[cfg(all(nin_bench_mca, target_arch = "x86_64"))]
        mod mca {
            use super::*;
            $(
                const _: () = {
                    #[unsafe(export_name = concat!("nin_bench_mca_v3_", stringify!($rows), "x", stringify!($vectors)))]
                    #[inline(never)]
                    fn v3(simd: pulp::x86::V3, data: &mut L1Slices<'_>) -> f64 {
                        data.run(PulpMicrokernel::<pulp::x86::V3, $rows, $vectors>(simd))
                    }
                    #[cfg(feature = "avx512")]
                    #[unsafe(export_name = concat!("nin_bench_mca_v4_", stringify!($rows), "x", stringify!($vectors)))]
                    #[inline(never)]
                    fn v4(simd: pulp::x86::V4, data: &mut L1Slices<'_>) -> f64 {
                        data.run(PulpMicrokernel::<pulp::x86::V4, $rows, $vectors>(simd))
                    }
                };
            )*
        }
    };
}

// AVX2 (16 registers): 4 to 14 rows; AVX-512 (32 registers) adds up to 16 rows of one vector,
// 14 of two, 8 of three and 6 of four.
#[rustfmt::skip]
tile_candidates!(
    (8, 1) (12, 1) (14, 1) (16, 1)
    (4, 2) (5, 2) (6, 2) (8, 2) (10, 2) (12, 2) (14, 2)
    (3, 3) (4, 3) (6, 3) (8, 3)
    (2, 4) (3, 4) (4, 4) (6, 4)
);

/// The candidate tiles for `policy`'s ISA (those that fit its registers), the kernels' tile
/// always among them; only the kernels' tile on the scalar path.
pub fn candidates(policy: SimdPolicy) -> Vec<TileShape> {
    let lanes = policy.f32_lanes();
    TILE_CANDIDATES
        .iter()
        .copied()
        .filter(|&t| t == kernel_tile(lanes) || candidate_fits(lanes, t.rows, t.vectors))
        .collect()
}

/// Bytes of L1 the A panel and B block of one tile may fill together: three quarters of the
/// smallest L1 data cache these machines have (32 KiB), leaving room for C and the stack.
const L1_TILE_BYTES: usize = 24 << 10;

/// Reduction length for `shape`: the longest multiple of 16 steps, at most 256, whose A panel
/// (rows × K) and B block (K × NR) fit [`L1_TILE_BYTES`]. 256 for AVX2's 6×16 (6 + 16 KiB).
pub fn l1_tile_k(shape: TileShape, lanes: usize) -> usize {
    let per_step = 4 * (shape.rows + shape.columns(lanes));
    (L1_TILE_BYTES / per_step / 16 * 16).clamp(16, 256)
}

/// Tile calls per call of [`L1TileData::run`]: 16 tiles of 256 steps, about 25 µs at the
/// peak, as long as a burst of the peak loop.
const L1_TILE_CALLS: usize = 16;

/// One A panel and one B block for the microkernel, small enough to stay in L1, and its C tile.
pub struct L1TileData {
    /// The ISA policy the tile runs with.
    pub policy: SimdPolicy,
    /// The register tile.
    pub shape: TileShape,
    /// Steps of K per tile ([`l1_tile_k`]).
    pub k: usize,
    a: AlignedBuf,
    b: AlignedBuf,
    c: AlignedBuf,
}

impl L1TileData {
    /// The panels for the kernels' tile on `policy`, seeded.
    pub fn new(policy: SimdPolicy) -> Self {
        L1TileData::for_shape(policy, kernel_tile(policy.f32_lanes()))
    }

    /// The panels for tile `shape` on `policy`, seeded.
    pub fn for_shape(policy: SimdPolicy, shape: TileShape) -> Self {
        let lanes = policy.f32_lanes();
        let (k, nr) = (l1_tile_k(shape, lanes), shape.columns(lanes));
        let mut a = seeded_uniform(k * shape.rows, 1);
        // Values of at most 1/K in A keep every sum of K products small.
        a.iter_mut().for_each(|v| *v /= k as f32);
        L1TileData { policy, shape, k, a, b: seeded_uniform(k * nr, 2), c: zeroed(shape.rows * nr) }
    }

    /// `MRxNR` of this tile.
    pub fn name(&self) -> String {
        self.shape.name(self.policy.f32_lanes())
    }

    /// [`L1_TILE_CALLS`] tiles, each overwriting C; returns their FLOPs, or `None` when the
    /// shape is not a candidate of this ISA (see [`candidates`]).
    pub fn run(&mut self) -> Option<f64> {
        let L1TileData { policy, shape, k, a, b, c } = self;
        let slices = L1Slices { k: *k, a, b: std::hint::black_box(b), c };
        policy.dispatch(L1Tiles { shape: *shape, slices })
    }

    /// The C tile the last [`run`](Self::run) wrote (rows × NR, row-major), and A (k × rows,
    /// k-major) and B (k × NR) it was computed from.
    #[cfg(test)]
    fn operands(&self) -> (&[f32], &[f32], &[f32]) {
        (&self.a, &self.b, &self.c)
    }
}

/// The slices of an [`L1TileData`], for the microkernel.
struct L1Slices<'a> {
    k: usize,
    a: &'a [f32],
    b: &'a [f32],
    c: &'a mut [f32],
}

impl L1Slices<'_> {
    /// [`L1_TILE_CALLS`] whole tiles of `mk`; returns their FLOPs.
    #[inline(always)]
    fn run<S: Simd, const M: usize, const V: usize>(&mut self, mk: PulpMicrokernel<S, M, V>) -> f64 {
        let nr = V * S::F32_LANES;
        let k = self.k;
        assert!(self.a.len() >= k * M && self.b.len() >= k * nr && self.c.len() >= M * nr);
        for _ in 0..L1_TILE_CALLS {
            // SAFETY: `a` holds K·M values, `b` K rows of nr values nr apart, `c` M rows of
            // nr values (all checked above); no bias.
            unsafe {
                mk.whole_tile(TileArgs {
                    kc: k,
                    a: self.a.as_ptr(),
                    b: self.b.as_ptr(),
                    ldb: nr,
                    c: self.c.as_mut_ptr(),
                    ldc: nr,
                    rows: M,
                    cols: nr,
                    epilogue: Epilogue::store(BiasAlong::None, false),
                });
            }
        }
        (L1_TILE_CALLS * 2 * M * nr * k) as f64
    }
}

/// [`L1TileData::run`] inside pulp's dispatch, so the microkernel is compiled with the
/// selected target features.
struct L1Tiles<'a> {
    shape: TileShape,
    slices: L1Slices<'a>,
}

impl WithSimd for L1Tiles<'_> {
    type Output = Option<f64>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Option<f64> {
        let L1Tiles { shape, mut slices } = self;
        run_shape(simd, shape, &mut slices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Isa;

    #[test]
    fn the_kernels_tile_is_a_candidate_of_every_isa_and_candidates_fit_their_registers() {
        for isa in Isa::available() {
            let policy = SimdPolicy::for_isa(isa).unwrap();
            let list = candidates(policy);
            let lanes = policy.f32_lanes();
            let kernels = kernel_tile(lanes);
            assert!(TILE_CANDIDATES.contains(&kernels) && list.contains(&kernels), "{isa:?}");
            for t in list.iter() {
                assert!(lanes == 1 || t.registers() <= vector_registers(lanes), "{isa:?} {t:?}");
            }
        }
        // 16 registers: AVX2's 6×16 is 15 of them; 32: 14 rows of two vectors are 31.
        assert_eq!(kernel_tile(8).registers(), 15);
        assert!(candidate_fits(16, 14, 2) && !candidate_fits(8, 8, 2) && !candidate_fits(1, 1, 1));
    }

    #[test]
    fn l1_tile_k_keeps_a_and_b_inside_the_l1_budget() {
        assert_eq!(l1_tile_k(kernel_tile(8), 8), 256);
        for &t in TILE_CANDIDATES {
            for lanes in [1, 8, 16] {
                let k = l1_tile_k(t, lanes);
                assert!(k.is_multiple_of(16) && (16..=256).contains(&k));
                assert!(4 * k * (t.rows + t.columns(lanes)) <= L1_TILE_BYTES, "{t:?} {lanes}");
            }
        }
    }

    /// Every candidate tile of every ISA path here (emu512: the 16-lane ones of AVX-512)
    /// computes C = A·B: each value against an f64 sum, within the bound of a K-long f32 dot
    /// product (|A| ≤ 1/K, |B| ≤ 1: the sum of |a·b| is at most 1).
    #[test]
    fn every_candidate_tile_computes_a_times_b_on_every_isa() {
        for isa in Isa::available() {
            let policy = SimdPolicy::for_isa(isa).unwrap();
            let lanes = policy.f32_lanes();
            for shape in candidates(policy) {
                let mut data = L1TileData::for_shape(policy, shape);
                let flops = data.run().unwrap_or_else(|| panic!("{isa:?} {shape:?} not compiled"));
                let (k, nr) = (data.k, shape.columns(lanes));
                assert_eq!(flops, (L1_TILE_CALLS * 2 * shape.rows * nr * k) as f64);
                let (a, b, c) = data.operands();
                let bound = 2.0 * k as f64 * f32::EPSILON as f64;
                for r in 0..shape.rows {
                    for j in 0..nr {
                        let exact: f64 = (0..k).map(|q| a[q * shape.rows + r] as f64 * b[q * nr + j] as f64).sum();
                        let got = c[r * nr + j] as f64;
                        assert!(
                            (got - exact).abs() <= bound,
                            "{isa:?} {} C[{r}][{j}] = {got}, not {exact}",
                            data.name()
                        );
                    }
                }
            }
        }
    }
}
