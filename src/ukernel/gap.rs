//! The inner loops of global average pooling, generic over pulp's SIMD types, and the AVX2
//! horizontal sums behind them.

use std::ops::Range;

use pulp::{Simd, WithSimd};

use super::gemm::{load, store};
use crate::problem::GapProblem;
use crate::tensor::Layout;

/// Independent vector accumulators: the FP add latency (3 cycles on Zen 3) times its throughput
/// (2 per cycle) needs 6 to saturate the adders; 4 already makes the loads the limit at one
/// cache line per cycle.
pub(crate) const ACCUMULATORS: usize = 4;

/// Means of channels `channels` of image `n` into `out` (`channels.len()` values), inside
/// pulp's dispatch. Shared by `gap-simd` and `gap-rayon`.
pub(crate) struct GapBlock<'a> {
    pub problem: &'a GapProblem,
    pub input: &'a [f32],
    pub n: usize,
    pub channels: Range<usize>,
    pub out: &'a mut [f32],
}

impl WithSimd for GapBlock<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let GapBlock { problem: p, input, n, channels, out } = self;
        let (hw, c_total) = (p.pixels(), p.c);
        let image = &input[n * c_total * hw..][..c_total * hw];
        let inv = 1.0 / hw as f32;
        let zero = simd.splat_f32s(0.0);
        let lanes = S::F32_LANES;
        match p.layout {
            Layout::Nchw => {
                // A row of H·W values is `full` whole vectors and a tail of `tail` values. The
                // tail is read as a whole vector with the lanes past the row masked to zero
                // (they belong to the next channel), except at the very end of the input,
                // where a partial load keeps the read inside it.
                let (full, tail) = (hw / lanes, hw % lanes);
                let tail_mask = simd.less_than_f32s(lane_indices(simd), simd.splat_f32s(tail as f32));
                let rows = NchwRows { image, hw, full, tail, tail_mask, inv };
                // Short rows (NIN's 6×6 to 8×8 maps are 4 to 8 vectors) get a loop unrolled for
                // their exact vector count, so a channel costs its loads and adds, one masked
                // tail and one horizontal sum, with no loop control or bounds checks between.
                match full {
                    0 => rows.sum::<0>(simd, channels, out),
                    1 => rows.sum::<1>(simd, channels, out),
                    2 => rows.sum::<2>(simd, channels, out),
                    3 => rows.sum::<3>(simd, channels, out),
                    4 => rows.sum::<4>(simd, channels, out),
                    5 => rows.sum::<5>(simd, channels, out),
                    6 => rows.sum::<6>(simd, channels, out),
                    7 => rows.sum::<7>(simd, channels, out),
                    8 => rows.sum::<8>(simd, channels, out),
                    _ => rows.sum_long(simd, channels, out),
                }
            }
            Layout::Nhwc => {
                let block = ACCUMULATORS * lanes;
                let inv_v = simd.splat_f32s(inv);
                for (c0, out_block) in channels.clone().step_by(block).zip(out.chunks_mut(block)) {
                    let width = out_block.len();
                    let mut acc = [zero; ACCUMULATORS];
                    for pixel in image.chunks_exact(c_total) {
                        let x = &pixel[c0..c0 + width];
                        for (a, xv) in acc.iter_mut().zip(x.chunks(lanes)) {
                            *a = simd.add_f32s(*a, load(simd, xv));
                        }
                    }
                    for (a, yv) in acc.iter().zip(out_block.chunks_mut(lanes)) {
                        store(simd, yv, simd.mul_f32s(*a, inv_v));
                    }
                }
            }
        }
    }
}

/// The NCHW rows of one image and how each splits into whole vectors and a tail.
struct NchwRows<'a, S: Simd> {
    image: &'a [f32],
    hw: usize,
    full: usize,
    tail: usize,
    /// Lanes below `tail` set.
    tail_mask: S::m32s,
    inv: f32,
}

impl<S: Simd> NchwRows<'_, S> {
    /// The tail of channel `c`'s row, lanes past it zero: a whole vector read with the lanes of
    /// the next channel masked off, or a partial read at the very end of the image.
    #[inline(always)]
    fn tail(&self, simd: S, c: usize) -> S::f32s {
        let rest = &self.image[c * self.hw + self.full * S::F32_LANES..];
        if rest.len() >= S::F32_LANES {
            simd.select_f32s(self.tail_mask, load(simd, &rest[..S::F32_LANES]), simd.splat_f32s(0.0))
        } else {
            simd.partial_load_f32s(&rest[..self.tail])
        }
    }

    /// The first channel whose tail cannot be read as a whole vector inside the image (the
    /// channels before it take the unchecked path of [`sum`](Self::sum)).
    fn first_partial_tail(&self, lanes: usize) -> usize {
        let needed = self.full * lanes + lanes; // a row's whole vectors plus one vector of tail
        (self.image.len() + self.hw).saturating_sub(needed) / self.hw
    }

    /// Means of `channels` for rows of exactly `FULL` whole vectors (and the tail).
    #[inline(always)]
    fn sum<const FULL: usize>(&self, simd: S, channels: Range<usize>, out: &mut [f32]) {
        let lanes = S::F32_LANES;
        let split = self.first_partial_tail(lanes).clamp(channels.start, channels.end);
        let (fast_out, slow_out) = out.split_at_mut(split - channels.start);
        let fast = &self.image[channels.start * self.hw..split * self.hw];
        // With AVX2, AVX-512 and emu512, one channel per lane at a time (8 or 16): their sum
        // vectors are reduced together (`sums_of_lanes`), one vector of means stored at once.
        let grouped = if has_grouped_sums::<S>() { fast_out.len() / lanes * lanes } else { 0 };
        let (grouped_out, fast_out) = fast_out.split_at_mut(grouped);
        let (grouped_rows, fast) = fast.split_at(grouped * self.hw);
        // The group is an array of exactly `lanes` vectors, passed by value, so that the sums
        // stay in registers (an array of 16 for AVX2's 8 went through the stack: +41%
        // instructions on 1x1000x6x6 under callgrind).
        if const { S::F32_LANES == 8 } {
            self.sum_groups::<FULL, 8>(simd, grouped_rows, grouped_out);
        } else if const { S::F32_LANES == 16 } {
            self.sum_groups::<FULL, 16>(simd, grouped_rows, grouped_out);
        }
        for (row, y) in fast.chunks_exact(self.hw).zip(fast_out) {
            *y = reduce_sum(simd, self.row_sum::<FULL>(simd, row)) * self.inv;
        }
        // The last channels, whose tail ends the image: checked reads.
        for (c, y) in (split..channels.end).zip(slow_out) {
            let row = &self.image[c * self.hw..][..self.hw];
            let (vectors, _) = S::as_simd_f32s(row);
            let mut sum = self.tail(simd, c);
            for &v in vectors {
                sum = simd.add_f32s(sum, v);
            }
            *y = reduce_sum(simd, sum) * self.inv;
        }
    }

    /// Means of the channels of `rows` (`G` = lanes channels at a time) into `out`, each group's
    /// sums reduced together ([`sums_of_lanes`]).
    #[inline(always)]
    fn sum_groups<const FULL: usize, const G: usize>(&self, simd: S, rows: &[f32], out: &mut [f32]) {
        let zero = simd.splat_f32s(0.0);
        let inv = simd.splat_f32s(self.inv);
        for (rows, y) in rows.chunks_exact(G * self.hw).zip(out.chunks_exact_mut(G)) {
            let mut sums = [zero; G];
            for (sum, row) in sums.iter_mut().zip(rows.chunks_exact(self.hw)) {
                *sum = self.row_sum::<FULL>(simd, row);
            }
            store(simd, y, simd.mul_f32s(sums_of_lanes(simd, sums), inv));
        }
    }

    /// The sum vector of one row of exactly `FULL` whole vectors and the tail, read as
    /// [`sum`](Self::sum)'s unchecked path does.
    ///
    /// The row must be one of the channels before [`first_partial_tail`](Self::first_partial_tail).
    #[inline(always)]
    fn row_sum<const FULL: usize>(&self, simd: S, row: &[f32]) -> S::f32s {
        let lanes = S::F32_LANES;
        let zero = simd.splat_f32s(0.0);
        // Two chains: with adds of latency 3, enough for rows this short.
        let mut acc = [zero; 2];
        for k in 0..FULL {
            // SAFETY: FULL = hw / lanes, so (k + 1)·lanes ≤ hw = row.len(): a whole vector
            // inside the row; unaligned reads need no alignment.
            let v = unsafe { (row.as_ptr().add(k * lanes) as *const S::f32s).read_unaligned() };
            acc[k % 2] = simd.add_f32s(acc[k % 2], v);
        }
        if self.tail > 0 {
            // SAFETY: channels before `first_partial_tail` have FULL·lanes + lanes values inside
            // the image from their start; the lanes past the row are masked off.
            let v = unsafe { (row.as_ptr().add(FULL * lanes) as *const S::f32s).read_unaligned() };
            acc[1] = simd.add_f32s(acc[1], simd.select_f32s(self.tail_mask, v, zero));
        }
        simd.add_f32s(acc[0], acc[1])
    }

    /// Means of `channels` for longer rows: four accumulators in a loop.
    #[inline(always)]
    fn sum_long(&self, simd: S, channels: Range<usize>, out: &mut [f32]) {
        let zero = simd.splat_f32s(0.0);
        for (c, y) in channels.zip(out.iter_mut()) {
            let (vectors, _) = S::as_simd_f32s(&self.image[c * self.hw..][..self.hw]);
            let mut acc = [zero; ACCUMULATORS];
            let mut chunks = vectors.chunks_exact(ACCUMULATORS);
            for chunk in &mut chunks {
                for (a, &v) in acc.iter_mut().zip(chunk) {
                    *a = simd.add_f32s(*a, v);
                }
            }
            for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
                *a = simd.add_f32s(*a, v);
            }
            if self.tail > 0 {
                acc[ACCUMULATORS - 1] = simd.add_f32s(acc[ACCUMULATORS - 1], self.tail(simd, c));
            }
            let sum = simd.add_f32s(simd.add_f32s(acc[0], acc[1]), simd.add_f32s(acc[2], acc[3]));
            *y = reduce_sum(simd, sum) * self.inv;
        }
    }
}

/// Whether `S` is pulp's type `T`: a comparison of type ids, decided when `S` is monomorphised.
#[inline(always)]
fn is<S: Simd, T: 'static>() -> bool {
    core::any::TypeId::of::<S>() == core::any::TypeId::of::<T>()
}

/// Whether `S` is pulp's AVX2 + FMA instruction set, for which [`sums_of_8`] has its shuffles.
#[inline(always)]
fn is_v3<S: Simd>() -> bool {
    #[cfg(target_arch = "x86_64")]
    return is::<S, pulp::x86::V3>();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// Whether `S` is pulp's AVX-512 instruction set, for which [`sums_of_16`] has its shuffles.
#[inline(always)]
fn is_v4<S: Simd>() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    return is::<S, pulp::x86::V4>();
    #[cfg(not(all(target_arch = "x86_64", feature = "avx512")))]
    return false;
}

/// Whether [`sums_of_lanes`] reduces a vector per lane together for `S`: AVX2 and AVX-512 with
/// their shuffles, and emu512 (pulp's `Scalar512b`) with the same additions lane by lane, so
/// that the 16-channel grouping, its tails and its order of additions are tested on any CPU.
#[inline(always)]
fn has_grouped_sums<S: Simd>() -> bool {
    is_v3::<S>() || is_v4::<S>() || is::<S, pulp::Scalar512b>()
}

/// The horizontal sums of the `G` = `S::F32_LANES` vectors `v` as one vector, lane i the sum
/// of `v[i]`, each added in the order of [`tree_sum`]. Only where [`has_grouped_sums`].
#[inline(always)]
fn sums_of_lanes<S: Simd, const G: usize>(simd: S, v: [S::f32s; G]) -> S::f32s {
    const { assert!(G == 8 || G == 16) };
    assert_eq!(G, S::F32_LANES, "one vector per lane");
    if is_v3::<S>() {
        return sums_of_8(simd, v);
    }
    if is_v4::<S>() {
        return sums_of_16(simd, v);
    }
    // emu512: lane by lane, in the order the shuffles add.
    let mut out = [0.0f32; G];
    for (o, vec) in out.iter_mut().zip(&v) {
        *o = tree_sum(lanes_of::<S>(vec));
    }
    load(simd, &out)
}

/// The lanes of one vector as a slice.
#[inline(always)]
fn lanes_of<S: Simd>(v: &S::f32s) -> &[f32] {
    // SAFETY: pulp's f32s is `Pod`, `S::F32_LANES` f32 values with no padding.
    unsafe { core::slice::from_raw_parts(v as *const S::f32s as *const f32, S::F32_LANES) }
}

/// The sum of `x` (a power-of-two length) as halves summed recursively:
/// `((x0+x1)+(x2+x3)) + ((x4+x5)+(x6+x7))` for 8 values. [`sums_of_8`] and [`sums_of_16`] add
/// each vector in this order with their shuffles, and [`reduce_sum`] alone.
#[inline(always)]
fn tree_sum(x: &[f32]) -> f32 {
    let quad = |q: &[f32]| (q[0] + q[1]) + (q[2] + q[3]);
    match x.len() {
        // Written out for the vector widths (a recursive function is not inlined, and the
        // calls cost more than the additions).
        8 => quad(&x[..4]) + quad(&x[4..]),
        16 => (quad(&x[..4]) + quad(&x[4..8])) + (quad(&x[8..12]) + quad(&x[12..])),
        0 => 0.0,
        1 => x[0],
        n => tree_sum(&x[..n / 2]) + tree_sum(&x[n / 2..]),
    }
}

/// The horizontal sums of eight 8-lane vectors as one vector, lane i the sum of `v[i]`: three
/// rounds of pairwise adds (`vhaddps`) and one cross-half add, 9 instructions where eight
/// separate horizontal sums take about 40. Only for `S` = V3 ([`is_v3`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sums_of_8<S: Simd, const G: usize>(simd: S, v: [S::f32s; G]) -> S::f32s {
    use pulp::x86::V3;
    use std::arch::x86_64::__m256;
    assert!(is_v3::<S>() && G == 8 && core::mem::size_of::<S::f32s>() == core::mem::size_of::<__m256>());
    // SAFETY: S is V3 (asserted, and the caller only calls this for V3), whose f32s is an
    // 8-lane f32 vector with the layout of __m256; transmute_copy between identical layouts.
    let (v3, v): (V3, [__m256; 8]) = unsafe { (core::mem::transmute_copy(&simd), core::mem::transmute_copy(&v)) };
    let avx = v3.avx;
    let h01 = avx._mm256_hadd_ps(v[0], v[1]);
    let h23 = avx._mm256_hadd_ps(v[2], v[3]);
    let h45 = avx._mm256_hadd_ps(v[4], v[5]);
    let h67 = avx._mm256_hadd_ps(v[6], v[7]);
    // Lanes: sums of the low halves of v[0..4], then of their high halves.
    let h0123 = avx._mm256_hadd_ps(h01, h23);
    let h4567 = avx._mm256_hadd_ps(h45, h67);
    let low_halves = avx._mm256_permute2f128_ps::<0x20>(h0123, h4567);
    let high_halves = avx._mm256_permute2f128_ps::<0x31>(h0123, h4567);
    let sums = avx._mm256_add_ps(low_halves, high_halves);
    // SAFETY: back to S::f32s, the same layout (see above).
    unsafe { core::mem::transmute_copy(&sums) }
}

/// The horizontal sums of sixteen 16-lane vectors as one vector, lane i the sum of `v[i]` in
/// the order of [`tree_sum`]: two rounds of pairwise adds within each 128-bit block (AVX-512
/// has no `vhaddps` on zmm, so each is two `vshufps` and an add), which leave in block j of
/// `q[g]` the sums of lanes 4j..4j+4 of `v[4g..4g+4]`; then two rounds that add blocks
/// 0+1 and 2+3 of every group (`vshuff32x4`), and then those halves: 45 instructions for
/// sixteen sums, each of which alone takes about 8. Only for `S` = V4 ([`is_v4`]).
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[inline(always)]
fn sums_of_16<S: Simd, const G: usize>(simd: S, v: [S::f32s; G]) -> S::f32s {
    use pulp::x86::V4;
    use std::arch::x86_64::__m512;
    assert!(is_v4::<S>() && G == 16 && core::mem::size_of::<S::f32s>() == core::mem::size_of::<__m512>());
    // SAFETY: S is V4 (asserted, and the caller only calls this for V4), whose f32s is a
    // 16-lane f32 vector with the layout of __m512; transmute_copy between identical layouts.
    let (v4, v): (V4, [__m512; 16]) = unsafe { (core::mem::transmute_copy(&simd), core::mem::transmute_copy(&v)) };
    let f = v4.avx512f;
    // Macros, not closures: a closure is compiled without the target features of pulp's
    // dispatch, and the intrinsics inside it become calls (2.1 µs instead of 1.4 on
    // 1x1000x6x6).
    // `vhaddps` per 128-bit block: [a0+a1, a2+a3, b0+b1, b2+b3] in every block.
    macro_rules! hadd {
        ($a:expr, $b:expr) => {
            f._mm512_add_ps(f._mm512_shuffle_ps::<0x88>($a, $b), f._mm512_shuffle_ps::<0xDD>($a, $b))
        };
    }
    // Blocks [a0+a1, a2+a3, b0+b1, b2+b3] of 128 bits.
    macro_rules! halves {
        ($a:expr, $b:expr) => {
            f._mm512_add_ps(
                f._mm512_shuffle_f32x4::<0b10_00_10_00>($a, $b),
                f._mm512_shuffle_f32x4::<0b11_01_11_01>($a, $b),
            )
        };
    }
    let p = [
        hadd!(v[0], v[1]),
        hadd!(v[2], v[3]),
        hadd!(v[4], v[5]),
        hadd!(v[6], v[7]),
        hadd!(v[8], v[9]),
        hadd!(v[10], v[11]),
        hadd!(v[12], v[13]),
        hadd!(v[14], v[15]),
    ];
    // Block j of q[g]: lanes 4j..4j+4 of v[4g], v[4g+1], v[4g+2], v[4g+3], each summed.
    let q = [hadd!(p[0], p[1]), hadd!(p[2], p[3]), hadd!(p[4], p[5]), hadd!(p[6], p[7])];
    // Blocks (0+1, 2+3) of q[0] then of q[1]; likewise q[2] and q[3].
    let h01 = halves!(q[0], q[1]);
    let h23 = halves!(q[2], q[3]);
    // Blocks 0 and 1 of h01 hold q[0]'s two halves; adding them gives v[0..4]'s sums, and so
    // on: block g of the result, v[4g..4g+4].
    let sums = halves!(h01, h23);
    // SAFETY: back to S::f32s, the same layout (see above).
    unsafe { core::mem::transmute_copy(&sums) }
}

/// Never called without V4 ([`is_v4`] is false).
#[cfg(not(all(target_arch = "x86_64", feature = "avx512")))]
#[inline(always)]
fn sums_of_16<S: Simd, const G: usize>(_simd: S, _v: [S::f32s; G]) -> S::f32s {
    unreachable!("sums_of_16 is only called for pulp's V4")
}

/// The horizontal sum of `v`, added in the same order as [`sums_of_lanes`] adds each of its
/// vectors ([`tree_sum`]), so that a channel's mean has the same bits whether it was summed
/// alone or in a group: `gap-rayon`, whose tasks start at other channels, stays bit-identical
/// to `gap-simd`.
#[inline(always)]
fn reduce_sum<S: Simd>(simd: S, v: S::f32s) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if is_v3::<S>() {
        use pulp::x86::V3;
        use std::arch::x86_64::__m256;
        // SAFETY: S is V3, whose f32s has the layout of __m256 (see `sums_of_8`).
        let (v3, v): (V3, __m256) = unsafe { (core::mem::transmute_copy(&simd), core::mem::transmute_copy(&v)) };
        let pairs = v3.avx._mm256_hadd_ps(v, v);
        let quads = v3.avx._mm256_hadd_ps(pairs, pairs);
        // SAFETY: an __m256 is eight f32 lanes.
        let halves: [f32; 8] = unsafe { core::mem::transmute_copy(&quads) };
        return halves[0] + halves[4];
    }
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    if is_v4::<S>() {
        use pulp::x86::V4;
        use std::arch::x86_64::__m512;
        // SAFETY: S is V4, whose f32s has the layout of __m512 (see `sums_of_16`).
        let (v4, v): (V4, __m512) = unsafe { (core::mem::transmute_copy(&simd), core::mem::transmute_copy(&v)) };
        // Lanes 0..8 and 8..16 side by side (the high half added to the low one lane by lane
        // would change the order), each summed as V3 sums its vector, then the two sums.
        let (low, high) = (v4.avx512f._mm512_castps512_ps256(v), v4.avx512dq._mm512_extractf32x8_ps::<1>(v));
        // Within each 128-bit block: [l0+l1, l2+l3, h0+h1, h2+h3], then [ql, ql, qh, qh] with
        // ql = (l0+l1)+(l2+l3), per half of 4 lanes.
        let pairs = v4.avx._mm256_hadd_ps(low, high);
        let quads = v4.avx._mm256_hadd_ps(pairs, pairs);
        // Lane 0: quad 0 of low, 1: quad 0 of high; lanes 4 and 5 the same of quad 1. In
        // registers (an array read back from the stack cost 7 ns a channel on 1x10x8x8):
        // [low 0+1, high 0+1, ...], then lane 0 + lane 1.
        let sums = v4.sse._mm_add_ps(v4.avx._mm256_castps256_ps128(quads), v4.avx._mm256_extractf128_ps::<1>(quads));
        return v4.sse._mm_cvtss_f32(v4.sse._mm_add_ss(sums, v4.sse3._mm_movehdup_ps(sums)));
    }
    if has_grouped_sums::<S>() {
        return tree_sum(lanes_of::<S>(&v));
    }
    simd.reduce_sum_f32s(v)
}

/// Never called where there is no V3 ([`is_v3`] is false).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn sums_of_8<S: Simd, const G: usize>(_simd: S, _v: [S::f32s; G]) -> S::f32s {
    unreachable!("sums_of_8 is only called for pulp's V3")
}

/// The vector `[0, 1, 2, ...]`, one lane index per lane.
#[inline(always)]
fn lane_indices<S: Simd>(simd: S) -> S::f32s {
    const INDICES: [f32; 64] = {
        let mut out = [0.0; 64];
        let mut i = 0;
        while i < 64 {
            out[i] = i as f32;
            i += 1;
        }
        out
    };
    simd.partial_load_f32s(&INDICES[..S::F32_LANES.min(64)])
}
