//! The register-blocked microkernel: the only ISA-specific code of the GEMM and direct kernels.
//!
//! A microkernel computes one MR×NR tile `C = A·B` over a K-long reduction, keeping the whole
//! tile in registers, and then applies the epilogue (accumulate into C, bias, ReLU) as it
//! stores. A is a packed panel (`a[k·MR + r]`), B is a row-major block whose rows are `ldb`
//! apart (a packed panel with `ldb = NR`, or rows of the input read in place).

use pulp::Simd;
use serde::Serialize;

/// A register tile of the pulp microkernel: `rows` (MR) × `vectors` vectors per row (NR =
/// `vectors` × the ISA's lanes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TileShape {
    /// Rows (MR): values of A broadcast per step of K.
    pub rows: usize,
    /// Vectors per row: NR / lanes.
    pub vectors: usize,
}

impl TileShape {
    /// Columns (NR) with `lanes` floats per vector.
    pub const fn columns(self, lanes: usize) -> usize {
        self.vectors * lanes
    }

    /// `MRxNR`, e.g. `6x16` with 8 lanes.
    pub fn name(self, lanes: usize) -> String {
        format!("{}x{}", self.rows, self.columns(lanes))
    }

    /// Vector registers the tile's loop keeps live: the accumulators, one row of B and one
    /// broadcast of A.
    pub const fn registers(self) -> usize {
        self.rows * self.vectors + self.vectors + 1
    }

    /// The tile's dimensions in floats with `lanes` floats per vector.
    pub const fn dims(self, lanes: usize) -> Tile {
        Tile { mr: self.rows, nr: self.columns(lanes) }
    }
}

/// AVX2's register tile, 6 rows × 2 vectors (6x16), also the scalar path's (6x2) and
/// `blocked-wide`'s.
///
/// With AVX2 (16 ymm registers), 6 rows × 2 vectors = 12 accumulators, plus 2 registers for the
/// row of B and 1 for the broadcast of A: 15 of 16. This is the Haswell-class BLIS tile; per k
/// it does 12 FMAs for 2 loads and 6 broadcasts, enough to keep both FMA pipes busy.
/// Measured (`nin-bench tiles`, AVX2): 6x16 reached 79.5–79.8% of the FMA peak at the median,
/// tied for the highest with 3x24 (whose NR of 24 fits no map); see docs/tuning.md.
pub const AVX2_TILE: TileShape = TileShape { rows: 6, vectors: 2 };

/// AVX-512's register tile (and emu512's, which stands in for it): the one line to change when
/// new AVX-512 measurements settle it. Every kernel, its packing and its blocks follow it.
///
/// 6 rows × 2 vectors (6x32, 15 of 32 registers): 99.5% of the V4 FMA peak on data in L1 on a
/// Zen 5, and there 0.97–1.15× the speed of 12x16 on the conv suite's layers (12x16 ahead only
/// on the 13×13 ones, by 1–3%); but 75% in L1
/// on a Xeon, where 14x16 and 12x16 read 90–92% and no layer has been timed yet
/// (docs/tuning.md, "AVX-512: two machines, two answers"). Every test passes with 12x16.
pub const AVX512_TILE: TileShape = TileShape { rows: 6, vectors: 2 };

/// The kernels' register tile for vectors of `lanes` floats: [`AVX512_TILE`] at 16 lanes,
/// [`AVX2_TILE`] otherwise.
pub const fn kernel_tile(lanes: usize) -> TileShape {
    if lanes >= 16 { AVX512_TILE } else { AVX2_TILE }
}

/// A register tile's dimensions in floats: MR rows × NR columns, for the loops around the
/// microkernel (packing, blocks, regions) at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Rows (MR).
    pub mr: usize,
    /// Columns (NR).
    pub nr: usize,
}

/// Binds `$mk` to the kernels' microkernel for pulp's `$S` ([`kernel_tile`] of its lanes) and
/// evaluates `$body`: the one place where an ISA's tile becomes a type. The branch is decided
/// when `$S` is monomorphised (`const`), and only its tile is compiled.
macro_rules! with_kernel_tile {
    ($simd:expr, $S:ty, $mk:ident => $body:expr) => {{
        use $crate::ukernel::gemm::{AVX2_TILE, AVX512_TILE, PulpMicrokernel};
        if const { <$S as pulp::Simd>::F32_LANES >= 16 } {
            let $mk = PulpMicrokernel::<$S, { AVX512_TILE.rows }, { AVX512_TILE.vectors }>($simd);
            $body
        } else {
            let $mk = PulpMicrokernel::<$S, { AVX2_TILE.rows }, { AVX2_TILE.vectors }>($simd);
            $body
        }
    }};
}
pub(crate) use with_kernel_tile;

/// Which way the bias runs over a tile.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BiasAlong {
    /// No bias.
    None,
    /// `bias[r]` is added to row r; the pointer is readable for `MR` values.
    Rows(*const f32),
    /// `bias[j]` is added to column j; the pointer is readable for `NR` values.
    Cols(*const f32),
}

/// What happens to the accumulated tile when it is stored.
///
/// Order of operations, the same in every kernel: `acc = 0` (or C's value when accumulating),
/// one FMA per k in ascending order, then `v = acc + bias`, then ReLU. ReLU is `if v < 0 { 0 } else { v }`, so it
/// keeps NaN as NaN (unlike `f32::max(v, 0)`, which turns NaN into 0) and keeps -0.0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Epilogue {
    /// Continue the sums C already holds (later K blocks): the accumulators start from C's
    /// values instead of zero, so a product split into K blocks runs exactly the FMAs of an
    /// unsplit one, and gives the same bits.
    pub accumulate: bool,
    /// Bias to add.
    pub bias: BiasAlong,
    /// Apply ReLU after the bias.
    pub relu: bool,
}

impl Epilogue {
    /// Overwrite C; the bias and ReLU of the problem.
    pub(crate) fn store(bias: BiasAlong, relu: bool) -> Self {
        Epilogue { accumulate: false, bias, relu }
    }
}

/// ReLU as the whole crate defines it: NaN stays NaN, -0.0 stays -0.0.
#[inline(always)]
pub fn relu(v: f32) -> f32 {
    if v < 0.0 { 0.0 } else { v }
}

/// Most rows a register tile may have: [`for_each_row!`] writes out this many.
pub(crate) const MAX_ROWS: usize = 16;

/// Writes `$body` out once per tile row, with `$r` = 0, 1, ..., `$rows` − 1 as constants (see
/// [`PulpMicrokernel::tile`] for why not a loop); `$rows` ≤ [`MAX_ROWS`] is a constant, so the
/// rows past it fold away.
macro_rules! for_each_row {
    ($rows:expr, $r:ident => $body:expr) => {{
        for_each_row!(@rows $rows, $r => $body; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    }};
    (@rows $rows:expr, $r:ident => $body:expr; $($index:literal)*) => {{
        const _: () = assert!(MAX_ROWS == 16, "for_each_row! writes out 16 rows");
        $(
            if $index < $rows {
                let $r: usize = $index;
                $body
            }
        )*
    }};
}

/// One call of a microkernel (the model is the gemm crate's `MicroKernelData`): a packed A
/// panel, a block of B, a tile of C and what happens when it is stored.
///
/// A caller of [`Microkernel::tile`] guarantees: `a` is readable for `kc·MR` values; for every
/// `k < kc`, `b + k·ldb` is readable for `NR` values; for every `r < rows`, `c + r·ldc` is
/// readable and writable for `cols` values; the bias pointer, if any, is readable as
/// [`BiasAlong`] says; `kc ≥ 1`, `rows ≤ MR`, `cols ≤ NR`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TileArgs {
    /// Steps of K.
    pub kc: usize,
    /// The packed A panel: MR values per step of K.
    pub a: *const f32,
    /// The first row of B.
    pub b: *const f32,
    /// Values between B's rows.
    pub ldb: usize,
    /// The tile's first value in C.
    pub c: *mut f32,
    /// Values between C's rows.
    pub ldc: usize,
    /// Live rows of the tile.
    pub rows: usize,
    /// Live columns of the tile.
    pub cols: usize,
    /// Accumulate or overwrite, bias, ReLU.
    pub epilogue: Epilogue,
}

/// A register-blocked MR×NR tile kernel.
pub(crate) trait Microkernel: Copy {
    /// Rows of the tile (MR).
    const MR: usize;

    /// Columns of the tile (a multiple of the vector width).
    fn nr(self) -> usize;

    /// MR × NR.
    #[inline(always)]
    fn dims(self) -> Tile {
        Tile { mr: Self::MR, nr: self.nr() }
    }

    /// `C[r][j] ⟵ epilogue(c₀ + Σ_{k<kc} a[k·MR + r] · b[k·ldb + j])` for `r < rows ≤ MR`,
    /// `j < cols ≤ NR`, the sum one FMA at a time in ascending k from `c₀` = 0, or from
    /// `C[r][j]` when the epilogue accumulates.
    ///
    /// # Safety
    /// As [`TileArgs`] says.
    unsafe fn tile(self, t: TileArgs);
}

/// The microkernel on pulp's vector type `S::f32s` (AVX2+FMA with `V3`, AVX-512 with `V4`,
/// one float with `Scalar`), with a register tile of `M` rows × `V` vectors. Generic code,
/// instantiated once per ISA inside `pulp`'s dispatch, where the target features are enabled.
///
/// The kernels use their ISA's tile ([`kernel_tile`], bound by [`with_kernel_tile!`]);
/// `nin-bench tiles` times other tiles of the same code to choose it
/// (`crate::ukernel::l1_tile`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PulpMicrokernel<S: Simd, const M: usize, const V: usize>(pub S);

impl<S: Simd, const M: usize, const V: usize> Microkernel for PulpMicrokernel<S, M, V> {
    const MR: usize = M;

    #[inline(always)]
    fn nr(self) -> usize {
        V * S::F32_LANES
    }

    #[inline(always)]
    unsafe fn tile(self, t: TileArgs) {
        // A partial panel (Cout or pixels not a multiple of MR) runs a loop with only its live
        // rows: 10 output channels are a panel of 6 and one of 4, and the second then does 8
        // FMAs per k instead of 12.
        // Arms for row counts the tile cannot have are cut at compile time (`const` guards),
        // so a 6-row tile compiles the loops of 1 to 6 rows only.
        macro_rules! live_rows {
            ($($live:literal)*) => {
                match t.rows {
                    $($live if const { $live < M } => self.tile_rows::<$live>(t),)*
                    _ => self.tile_rows::<M>(t),
                }
            };
        }
        // SAFETY: the caller's guarantees, passed on unchanged.
        unsafe { live_rows!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) }
    }
}

impl<S: Simd, const M: usize, const V: usize> PulpMicrokernel<S, M, V> {
    /// [`Microkernel::tile`] for a whole tile (`rows = M`, `cols = NR`), with no dispatch on
    /// the live rows: the one loop the tile sweep times (`crate::ukernel::l1_tile`).
    ///
    /// # Safety
    /// As [`Microkernel::tile`] with `t.rows = M` and `t.cols = V·lanes`.
    #[inline(always)]
    pub(crate) unsafe fn whole_tile(self, t: TileArgs) {
        debug_assert!(t.rows == M && t.cols == V * S::F32_LANES);
        // SAFETY: the caller's guarantees, with every row and column live.
        unsafe { self.tile_rows::<M>(t) }
    }

    /// [`Microkernel::tile`] with a k loop over `ROWS ≤ M` rows: it broadcasts and multiplies
    /// only those rows of the A panel (still M apart per k); `rows ≤ ROWS` of them are read
    /// (accumulating) and stored.
    ///
    /// # Safety
    /// As [`Microkernel::tile`], and `rows ≤ ROWS`.
    #[inline(always)]
    unsafe fn tile_rows<const ROWS: usize>(self, t: TileArgs) {
        let TileArgs { kc, a, b, ldb, c, ldc, rows, cols, epilogue } = t;
        let simd = self.0;
        let lanes = S::F32_LANES;
        let zero = simd.splat_f32s(0.0);
        const { assert!(M >= 1 && M <= MAX_ROWS && V >= 1) };
        let mut acc = [[zero; V]; M];
        // Rows are written out one by one (`for_each_row!`), not looped over up to `rows`:
        // with every index of `acc` a constant, LLVM keeps the accumulators in registers. With
        // a run-time loop over the rows, one inlined copy (im2col-gemm reading B in place)
        // kept `acc` in memory and stored all 12 accumulators inside the k loop, at half the
        // speed; `objdump -d` shows it as `ymm` stores to `(%rsp)` between the FMAs.
        if epilogue.accumulate {
            for_each_row!(M, r => if r < rows {
                // SAFETY: r < rows: this row of C is readable for `cols` values (caller).
                acc[r] = unsafe { self.load_row(c.add(r * ldc), cols) };
            });
        }
        // B's row pointer stepped once per k rather than `b + k·ldb` computed each time: with
        // the index form, LLVM kept an `imul` and a `lea` per k in some inlined copies (2 of 26
        // instructions per 12 FMAs), depending on how the caller computed `kc`. A's offset
        // k·MR stays an index: LLVM folds it into the loop counter.
        let mut bk = b;
        for k in 0..kc {
            // SAFETY: k < kc: `a` is readable for kc·M values (caller).
            let ak = unsafe { a.add(k * M) };
            // (A loop, not `array::from_fn`: a closure would be compiled without the target
            // features of the dispatch and its loads would not inline.)
            let mut bv = [zero; V];
            for (v, b_v) in bv.iter_mut().enumerate() {
                // SAFETY: this is step k < kc: `bk = b + k·ldb`, readable for V·lanes values
                // (caller); unaligned reads need no alignment.
                *b_v = unsafe { (bk.add(v * lanes) as *const S::f32s).read_unaligned() };
            }
            for row in acc.iter_mut().enumerate().take(ROWS) {
                let (r, acc_row) = row;
                // SAFETY: r < M: inside the packed panel (see above).
                let av = simd.splat_f32s(unsafe { *ak.add(r) });
                for (acc_v, &b_v) in acc_row.iter_mut().zip(&bv) {
                    *acc_v = simd.mul_add_e_f32s(av, b_v, *acc_v);
                }
            }
            // Wrapping: after the last k it points one row past B, unread.
            bk = bk.wrapping_add(ldb);
        }

        for_each_row!(M, r => if r < rows {
            // SAFETY: r < rows: this row of C is writable for `cols` values (caller); the bias
            // pointer is readable as `BiasAlong` says.
            unsafe { self.store_row(acc[r], c.add(r * ldc), cols, r, epilogue) };
        });
    }

    /// The first `cols` values of a row of C as the accumulators of one tile row, zero past
    /// them.
    ///
    /// # Safety
    /// `src` is readable for `cols ≤ NR` values.
    #[inline(always)]
    unsafe fn load_row(self, src: *const f32, cols: usize) -> [S::f32s; V] {
        let (simd, lanes) = (self.0, S::F32_LANES);
        let mut row = [simd.splat_f32s(0.0); V];
        for (v, acc_v) in row.iter_mut().enumerate() {
            let start = v * lanes;
            if start >= cols {
                break;
            }
            // SAFETY: start < cols: inside the readable row (caller), nothing writes it while
            // the slice lives.
            let values = unsafe { core::slice::from_raw_parts(src.add(start), (cols - start).min(lanes)) };
            *acc_v = load(simd, values);
        }
        row
    }

    /// Row `r` of a tile through the epilogue (bias, ReLU) into its first `cols` values.
    ///
    /// # Safety
    /// `dst` is writable for `cols ≤ NR` values; a bias pointer is readable for M (rows) or
    /// NR (columns) values; r < M.
    #[inline(always)]
    unsafe fn store_row(self, acc_row: [S::f32s; V], dst: *mut f32, cols: usize, r: usize, epilogue: Epilogue) {
        let (simd, lanes) = (self.0, S::F32_LANES);
        let zero = simd.splat_f32s(0.0);
        let row_bias = match epilogue.bias {
            // SAFETY: a Rows bias pointer is readable for M values and r < M.
            BiasAlong::Rows(p) => simd.splat_f32s(unsafe { *p.add(r) }),
            _ => zero,
        };
        for (v, &acc_v) in acc_row.iter().enumerate() {
            let start = v * lanes;
            if start >= cols {
                break;
            }
            let len = (cols - start).min(lanes);
            // SAFETY: start + len ≤ cols, inside the writable row; no other reference to this
            // memory exists while the slice lives.
            let out = unsafe { core::slice::from_raw_parts_mut(dst.add(start), len) };
            let mut x = match epilogue.bias {
                BiasAlong::None => acc_v,
                BiasAlong::Rows(_) => simd.add_f32s(acc_v, row_bias),
                // SAFETY: a Cols bias pointer is readable for NR values; start < NR.
                BiasAlong::Cols(p) => {
                    simd.add_f32s(acc_v, unsafe { (p.add(start) as *const S::f32s).read_unaligned() })
                }
            };
            if epilogue.relu {
                x = simd.select_f32s(simd.less_than_f32s(x, zero), zero, x);
            }
            store(simd, out, x);
        }
    }
}

/// Loads a whole vector, or the first `dst.len() < lanes` values with the rest zero.
#[inline(always)]
pub(crate) fn load<S: Simd>(simd: S, src: &[f32]) -> S::f32s {
    if src.len() == S::F32_LANES {
        // SAFETY: exactly one vector's worth of values is readable.
        unsafe { (src.as_ptr() as *const S::f32s).read_unaligned() }
    } else {
        simd.partial_load_f32s(src)
    }
}

/// Stores a whole vector, or its first `dst.len() < lanes` values.
#[inline(always)]
pub(crate) fn store<S: Simd>(simd: S, dst: &mut [f32], x: S::f32s) {
    if dst.len() == S::F32_LANES {
        // SAFETY: exactly one vector's worth of values is writable.
        unsafe { (dst.as_mut_ptr() as *mut S::f32s).write_unaligned(x) }
    } else {
        simd.partial_store_f32s(dst, x);
    }
}

/// Copies `src` into the start of `dst` and zeroes the rest, a vector at a time (a
/// `copy_from_slice` of a run-time length is a `memcpy` call, which costs more than the 64
/// bytes a tile row holds).
#[inline(always)]
pub(crate) fn copy_padded<S: Simd>(simd: S, src: &[f32], dst: &mut [f32]) {
    let lanes = S::F32_LANES;
    for (start, chunk) in (0..dst.len()).step_by(lanes).zip(dst.chunks_mut(lanes)) {
        let from = &src[start.min(src.len())..(start + chunk.len()).min(src.len())];
        store(simd, chunk, load(simd, from));
    }
}

/// Asks the CPU to bring the cache line holding `p` into its caches: a hint, which never
/// faults and changes no value. A no-op on targets other than x86-64.
#[inline(always)]
pub(crate) fn prefetch(p: *const f32) {
    // SAFETY: a prefetch is only a hint: it never faults, whatever the address, and reads
    // nothing the program sees; SSE, which it needs, is part of every x86-64 CPU.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The kernels' tile dimensions under `policy` (its ISA's [`kernel_tile`]).
pub(crate) fn tile_dims(policy: crate::simd::SimdPolicy) -> Tile {
    let lanes = policy.f32_lanes();
    kernel_tile(lanes).dims(lanes)
}

/// Register tile as `MRxNR` for a policy.
pub(crate) fn tile_name(policy: crate::simd::SimdPolicy) -> String {
    kernel_tile(policy.f32_lanes()).name(policy.f32_lanes())
}
