//! The int8 register tiles: MR output channels × NR pixels of i32 sums over K in groups of 4,
//! one tile per instruction-set path. The only ISA-specific int8 code.
//!
//! Operands, packed by `crate::qconv`: the weight panel holds, per group of 4 input channels,
//! MR output channels' 4 s8 weights each (`w[g][r][0..4]`); the pixel tile, per group, NR
//! pixels' 4 u8 activations each (`x[g][c][0..4]`). Both are zero past Cin, past Cout and past
//! the last pixel, so every tile runs whole. One step of K multiplies a channel's 4 weights,
//! broadcast, by every pixel's 4 activations (a vector of them, unsigned, as `vpmaddubsw` and
//! `vpdpbusd` want their first operand) and adds the 4 products into that pixel's i32: the
//! NCHW orientation of the f32 kernels' channel rows, whose output rows are pixels.

use super::requantize::{RequantizeIsa, TileBytes};
use crate::quant::WeightRange;

/// What a tile does with its sums: stores them, rows NR apart, or requantizes them into a
/// whole tile's bytes.
enum TileOut<'o, 'a, 'b> {
    Sums(&'o mut [i32]),
    Bytes(&'o mut TileBytes<'a, 'b>),
}

/// `vpdpbusd`'s semantics for one i32 lane: `acc + Σ_j a[j]·b[j]` over 4 u8·s8 products, the
/// sum wrapping in i32 as the instruction's does. The emulated VNNI path runs it on every
/// machine, so that the VNNI kernels' arithmetic is tested where the instruction is missing.
#[inline(always)]
pub fn dpbusd(acc: i32, a: [u8; 4], b: [i8; 4]) -> i32 {
    let dot: i32 = (0..4).map(|j| a[j] as i32 * b[j] as i32).sum();
    acc.wrapping_add(dot)
}

/// An int8 instruction-set path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QPath {
    /// Plain Rust, any CPU.
    Scalar,
    /// AVX2: `vpmaddubsw` (pairs of u8·s8 into saturating i16), `vpmaddwd` by ones (into
    /// i32), `vpaddd`. Exact for 7-bit weights only.
    Avx2,
    /// AVX-VNNI: `vpdpbusd` on ymm (8 channels per vector).
    AvxVnni,
    /// AVX-512 VNNI: `vpdpbusd` on zmm (16 channels per vector).
    Avx512Vnni,
    /// VNNI's arithmetic ([`dpbusd`]) in portable code with zmm's 16 lanes: the VNNI tiles'
    /// check on any CPU; slow.
    EmulatedVnni,
}

impl QPath {
    /// Every path, the emulated one last.
    pub const ALL: [QPath; 5] = [QPath::Scalar, QPath::Avx2, QPath::AvxVnni, QPath::Avx512Vnni, QPath::EmulatedVnni];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            QPath::Scalar => "scalar",
            QPath::Avx2 => "avx2 (vpmaddubsw)",
            QPath::AvxVnni => "avx-vnni (vpdpbusd ymm)",
            QPath::Avx512Vnni => "avx512-vnni (vpdpbusd zmm)",
            QPath::EmulatedVnni => "emulated vnni (16 lanes, portable)",
        }
    }

    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                QPath::Scalar | QPath::EmulatedVnni => true,
                QPath::Avx2 => is_x86_feature_detected!("avx2"),
                QPath::AvxVnni => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni"),
                QPath::Avx512Vnni => is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            matches!(self, QPath::Scalar | QPath::EmulatedVnni)
        }
    }

    /// The int8 path that goes with the f32 path `policy` selects: the emulated VNNI for
    /// emu512, scalar for scalar, AVX2's `vpmaddubsw` triple for a forced AVX2 (pulp's V3,
    /// which has no VNNI), VNNI (AVX-512's, else AVX-VNNI, else the triple) for a forced
    /// AVX-512, and the widest the CPU has otherwise.
    pub fn for_policy(policy: crate::simd::SimdPolicy) -> QPath {
        if policy.is_emulated() {
            return QPath::EmulatedVnni;
        }
        match policy.f32_lanes() {
            _ if policy.is_auto() => QPath::widest(),
            8 => QPath::Avx2,
            16 => QPath::widest(),
            _ => QPath::Scalar,
        }
    }

    /// The fastest path this CPU runs: AVX-512 VNNI, AVX-VNNI, AVX2, else scalar.
    pub fn widest() -> QPath {
        [QPath::Avx512Vnni, QPath::AvxVnni, QPath::Avx2].into_iter().find(|p| p.available()).unwrap_or(QPath::Scalar)
    }

    /// The weights its tile computes exactly.
    pub fn weight_range(self) -> WeightRange {
        if self == QPath::Avx2 { WeightRange::SevenBit } else { WeightRange::Full }
    }

    /// Its tile, MR output channels × NR pixels.
    pub fn dims(self) -> (usize, usize) {
        match self {
            QPath::Scalar => (4, 8),
            QPath::Avx2 => (4, 16),
            QPath::AvxVnni => (6, 16),
            QPath::Avx512Vnni | QPath::EmulatedVnni => (8, 32),
        }
    }

    /// `acc[r·NR + c] = Σ_g Σ_j w[g][r][j] · x[g][c][j]` over `groups` groups of 4, for the
    /// whole MR×NR tile of [`QPath::dims`].
    ///
    /// # Safety
    /// The path is [`available`](QPath::available); `w` holds `groups·MR·4` bytes, `x`
    /// `groups·NR·4`, `acc` MR·NR values; with [`QPath::Avx2`] every weight is 7-bit.
    pub unsafe fn run_tile(self, groups: usize, w: &[i8], x: &[u8], acc: &mut [i32]) {
        // SAFETY: the caller's guarantees.
        unsafe { self.run_tile_part(groups, w, x, TileOut::Sums(acc), false) }
    }

    /// [`QPath::run_tile`] on the first NR/2 pixels only (rows of `acc` stay NR apart; the
    /// rest is not written), for a last tile of at most NR/2 pixels: NIN-ImageNet's 6×6 maps
    /// end on a tile of 4 of 16. The portable paths run the whole tile.
    ///
    /// # Safety
    /// As [`QPath::run_tile`].
    pub unsafe fn run_half_tile(self, groups: usize, w: &[i8], x: &[u8], acc: &mut [i32]) {
        // SAFETY: the caller's guarantees.
        unsafe { self.run_tile_part(groups, w, x, TileOut::Sums(acc), true) }
    }

    /// [`QPath::run_tile`] on one tile of pixels and consecutive whole panels of weights (`w`
    /// holds them one after the other), each tile's sums requantized in registers and stored
    /// as bytes (`crate::quant::requantize` of each sum plus its row's bias), never as i32:
    /// row `r` of the panels' `out.bias.len()` rows (a multiple of MR) at
    /// `out.lines[r][out.at..]`, NR bytes. For whole tiles (MR channels × NR pixels) of an
    /// NCHW output whose accumulators were not asked for, the common case: the sums' trip
    /// through memory and the requantization's own loop over them took a sixth of
    /// 1x96x54x54:96's time on AVX2 (96 multiply-adds per output), and a call per panel
    /// another 7%. The portable paths store each tile's sums and requantize them after.
    ///
    /// # Safety
    /// As [`QPath::run_tile`] for each panel, without `acc`.
    ///
    /// # Panics
    /// When there are no rows or they are not a multiple of MR, `w` holds fewer panels, `out` has fewer lines
    /// or multipliers than rows, or a line is shorter than `at + NR`.
    pub unsafe fn run_panels_requantized(self, groups: usize, w: &[i8], x: &[u8], out: &mut TileBytes) {
        let (mr, nr) = self.dims();
        let rows = out.bias.len();
        assert!(
            rows > 0
                && rows.is_multiple_of(mr)
                && w.len() >= rows / mr * groups * mr * 4
                && out.m.len() == rows
                && out.lines.len() >= rows
                && out.lines[..rows].iter().all(|line| line.len() >= out.at + nr),
            "{rows} rows of tile output, {} lines and {} bytes of weights",
            out.lines.len(),
            w.len()
        );
        // SAFETY: the caller's guarantees, and `out` and `w` checked above.
        unsafe { self.run_tile_part(groups, w, x, TileOut::Bytes(out), false) }
    }

    /// # Safety
    /// As [`QPath::run_tile`]; `half` only with [`TileOut::Sums`].
    unsafe fn run_tile_part(self, groups: usize, w: &[i8], x: &[u8], out: TileOut, half: bool) {
        let (mr, nr) = self.dims();
        assert!(w.len() >= groups * mr * 4 && x.len() >= groups * nr * 4, "tile operands too short");
        if let TileOut::Sums(acc) = &out {
            assert!(acc.len() >= mr * nr, "tile sums too short");
        }
        match (self, half) {
            (QPath::Scalar, _) => portable::<4, 8>(groups, w, x, out),
            (QPath::EmulatedVnni, _) => portable::<8, 32>(groups, w, x, out),
            // SAFETY (all six): the caller checked the CPU has the path; the lengths as above.
            #[cfg(target_arch = "x86_64")]
            (QPath::Avx2, false) => unsafe { x86::avx2_4x16::<2>(groups, w.as_ptr(), x.as_ptr(), out) },
            #[cfg(target_arch = "x86_64")]
            (QPath::Avx2, true) => unsafe { x86::avx2_4x16::<1>(groups, w.as_ptr(), x.as_ptr(), out) },
            #[cfg(target_arch = "x86_64")]
            (QPath::AvxVnni, false) => unsafe { x86::avxvnni_6x16::<2>(groups, w.as_ptr(), x.as_ptr(), out) },
            #[cfg(target_arch = "x86_64")]
            (QPath::AvxVnni, true) => unsafe { x86::avxvnni_6x16::<1>(groups, w.as_ptr(), x.as_ptr(), out) },
            #[cfg(target_arch = "x86_64")]
            (QPath::Avx512Vnni, false) => unsafe { x86::avx512vnni_8x32::<2>(groups, w.as_ptr(), x.as_ptr(), out) },
            #[cfg(target_arch = "x86_64")]
            (QPath::Avx512Vnni, true) => unsafe { x86::avx512vnni_8x32::<1>(groups, w.as_ptr(), x.as_ptr(), out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("not available off x86-64"),
        }
    }
}

impl QPath {
    /// The requantization its kernels run: a subset of what the path needs (every x86 SIMD
    /// path has AVX2; AVX-512 VNNI has AVX-512F), so it is available whenever the path is.
    pub fn requantize_isa(self) -> RequantizeIsa {
        match self {
            QPath::Avx2 | QPath::AvxVnni => RequantizeIsa::Avx2,
            QPath::Avx512Vnni => RequantizeIsa::Avx512,
            QPath::Scalar | QPath::EmulatedVnni => RequantizeIsa::Scalar,
        }
    }
}

/// `out[4·q + k] = rows[k][q]` for every pixel `q < out.len() / 4`: four channel rows of one
/// image interleaved into the groups of 4 the tiles read, 16 pixels per step with SSE2's byte
/// and word unpacks on x86-64 (part of its baseline), the rest one byte at a time.
///
/// # Panics
/// When a row is shorter than `out.len() / 4`.
pub fn interleave4(rows: [&[u8]; 4], out: &mut [u8]) {
    let len = out.len() / 4;
    let rows = rows.map(|r| &r[..len]);
    #[cfg(target_arch = "x86_64")]
    let done = x86::interleave4_sse2(rows, out);
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for q in done..len {
        for (k, row) in rows.iter().enumerate() {
            out[4 * q + k] = row[q];
        }
    }
}

/// The tile in plain Rust, one [`dpbusd`] per (channel, pixel, group).
#[inline(always)]
fn portable<const MR: usize, const NR: usize>(groups: usize, w: &[i8], x: &[u8], mut out: TileOut) {
    let panels = match &out {
        TileOut::Sums(_) => 1,
        TileOut::Bytes(out) => out.bias.len() / MR,
    };
    for (panel, w) in w.chunks(groups * MR * 4).take(panels).enumerate() {
        let mut sums = [[0i32; NR]; MR];
        for g in 0..groups {
            let (w_g, x_g) = (&w[g * MR * 4..][..MR * 4], &x[g * NR * 4..][..NR * 4]);
            for (r, row) in sums.iter_mut().enumerate() {
                let w4: [i8; 4] = w_g[r * 4..][..4].try_into().expect("4 bytes");
                for (c, s) in row.iter_mut().enumerate() {
                    *s = dpbusd(*s, x_g[c * 4..][..4].try_into().expect("4 bytes"), w4);
                }
            }
        }
        for (r, row) in sums.iter().enumerate() {
            match &mut out {
                TileOut::Sums(acc) => acc[r * NR..][..NR].copy_from_slice(row),
                TileOut::Bytes(out) => {
                    let r = panel * MR + r;
                    for (o, &s) in out.lines[r][out.at..][..NR].iter_mut().zip(row) {
                        *o = crate::quant::requantize(s + out.bias[r], out.m[r]);
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use crate::ukernel::requantize::x86::{requantize16_avx2, requantize16_avx512};

    /// The tile of `$mr` channels × 2 vectors of `$lanes` pixels, written out in the calling
    /// function (no closure, so every step compiles with its target features): per group, two
    /// vectors of pixels loaded, per channel its 4 weights broadcast, `$step` on both of its
    /// accumulators; then row r stored at `acc[r·2·$lanes..]`.
    macro_rules! tile_mx2 {
        (
            $mr:expr, $vec:ty, $zero:expr, $load:ident, $store:ident, $splat:ident, $lanes:expr,
            |$c:ident, $xv:ident, $wv:ident| $step:expr,
            |$row:ident, $bias:ident, $m:ident, $dst:ident| $epilogue:expr,
            $groups:expr, $w:expr, $x:expr, $out:expr
        ) => {{
            // One panel of weights for the sums, consecutive panels for the bytes.
            let mut out = $out;
            let panels = match &out {
                super::TileOut::Sums(_) => 1,
                super::TileOut::Bytes(out) => out.bias.len() / $mr,
            };
            for panel in 0..panels {
                // SAFETY: `w` holds `panels` panels of groups·MR·4 bytes (the caller).
                let w = unsafe { $w.add(panel * $groups * $mr * 4) };
                // NV vectors of pixels: 2 for the whole tile, 1 for its first half (a last tile of
                // at most NR/2 pixels). The groups stay 2 vectors apart either way.
                let mut c = [[$zero; NV]; $mr];
                for g in 0..$groups {
                    let mut xs = [$zero; NV];
                    for (v, xv) in xs.iter_mut().enumerate() {
                        // SAFETY: group g's 8·lanes activation bytes are inside `x` (the caller's
                        // guarantee), read unaligned.
                        *xv = unsafe { $load(($x.add(g * 8 * $lanes) as *const $vec).add(v)) };
                    }
                    for (r, c_r) in c.iter_mut().enumerate() {
                        // SAFETY: the 4 weights of channel r in group g are inside `w` (caller).
                        let $wv = $splat(unsafe { (w.add((g * $mr + r) * 4) as *const i32).read_unaligned() });
                        for (acc_v, &x_v) in c_r.iter_mut().zip(&xs) {
                            let ($c, $xv) = (*acc_v, x_v);
                            *acc_v = $step;
                        }
                    }
                }
                match &mut out {
                    super::TileOut::Sums(acc) => {
                        for (r, c_r) in c.iter().enumerate() {
                            for (v, &acc_v) in c_r.iter().enumerate() {
                                // SAFETY: `acc` holds `$mr` rows of 2·lanes values (the caller).
                                unsafe { $store((acc.as_mut_ptr().add(r * 2 * $lanes) as *mut $vec).add(v), acc_v) };
                            }
                        }
                    }
                    super::TileOut::Bytes(out) => {
                        for (r, c_r) in c.iter().enumerate() {
                            let r = panel * $mr + r;
                            // SAFETY: a whole tile (NV = 2): line r holds 2·lanes bytes from `at` on,
                            // and `bias` and `m` a value for each line (the caller).
                            let (line, $bias, $m) = unsafe {
                                (
                                    out.lines.get_unchecked_mut(r).as_mut_ptr().add(out.at),
                                    *out.bias.get_unchecked(r),
                                    *out.m.get_unchecked(r),
                                )
                            };
                            let ($row, $dst) = (c_r, line);
                            $epilogue
                        }
                    }
                }
            }
        }};
    }

    /// AVX2, 4 channels × 16 pixels (2 ymm of 8 i32 each): `vpmaddubsw` → `vpmaddwd` by ones
    /// → `vpaddd` per accumulator: 8 accumulators, 2 pixel vectors, a broadcast, the ones and
    /// two temporaries.
    ///
    /// # Safety
    /// AVX2; `w` readable for `groups·16` bytes, `x` for `groups·64`; weights 7-bit.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_4x16<const NV: usize>(groups: usize, w: *const i8, x: *const u8, out: super::TileOut) {
        let ones = _mm256_set1_epi16(1);
        tile_mx2!(
            4,
            __m256i,
            _mm256_setzero_si256(),
            _mm256_loadu_si256,
            _mm256_storeu_si256,
            _mm256_set1_epi32,
            8,
            |c, xv, wv| _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(xv, wv), ones)),
            |row, bias, m, dst| {
                let bytes = requantize16_avx2(row[0], row[1], _mm256_set1_epi32(bias), _mm256_set1_ps(m));
                // SAFETY: 16 bytes of the line from `dst` on (above).
                unsafe { _mm_storeu_si128(dst as *mut __m128i, bytes) }
            },
            groups,
            w,
            x,
            out
        )
    }

    /// AVX-VNNI, 6 channels × 16 pixels: one `vpdpbusd` per accumulator and group; 12
    /// accumulators (`vpdpbusd`'s latency at two a cycle), 2 pixel vectors and a broadcast in
    /// 16 ymm registers.
    ///
    /// # Safety
    /// AVX2 and AVX-VNNI; `w` readable for `groups·24` bytes, `x` for `groups·64`.
    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn avxvnni_6x16<const NV: usize>(groups: usize, w: *const i8, x: *const u8, out: super::TileOut) {
        tile_mx2!(
            6,
            __m256i,
            _mm256_setzero_si256(),
            _mm256_loadu_si256,
            _mm256_storeu_si256,
            _mm256_set1_epi32,
            8,
            |c, xv, wv| _mm256_dpbusd_avx_epi32(c, xv, wv),
            |row, bias, m, dst| {
                let bytes = requantize16_avx2(row[0], row[1], _mm256_set1_epi32(bias), _mm256_set1_ps(m));
                // SAFETY: 16 bytes of the line from `dst` on (above).
                unsafe { _mm_storeu_si128(dst as *mut __m128i, bytes) }
            },
            groups,
            w,
            x,
            out
        )
    }

    /// AVX-512 VNNI, 8 channels × 32 pixels (2 zmm of 16 i32 each): 16 accumulators, enough
    /// to cover `vpdpbusd`'s latency at two a cycle (4×32's 8 ran at 42-72% of the peak loop).
    ///
    /// # Safety
    /// AVX-512F and VNNI; `w` readable for `groups·32` bytes, `x` for `groups·128`.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) unsafe fn avx512vnni_8x32<const NV: usize>(
        groups: usize,
        w: *const i8,
        x: *const u8,
        out: super::TileOut,
    ) {
        tile_mx2!(
            8,
            __m512i,
            _mm512_setzero_si512(),
            _mm512_loadu_si512,
            _mm512_storeu_si512,
            _mm512_set1_epi32,
            16,
            |c, xv, wv| _mm512_dpbusd_epi32(c, xv, wv),
            |row, bias, m, dst| {
                let (b, m) = (_mm512_set1_epi32(bias), _mm512_set1_ps(m));
                let (first, second) = (requantize16_avx512(row[0], b, m), requantize16_avx512(row[1], b, m));
                // SAFETY: 32 bytes of the line from `dst` on (above).
                unsafe { _mm256_storeu_si256(dst as *mut __m256i, _mm256_set_m128i(second, first)) }
            },
            groups,
            w,
            x,
            out
        )
    }

    /// [`super::interleave4`]'s whole steps of 16 pixels; returns how many pixels it wrote.
    /// Each step: four 16-byte loads, `punpck{l,h}bw` pairs channels 0/1 and 2/3, then
    /// `punpck{l,h}wd` joins the pairs into 4 bytes per pixel, four 16-byte stores.
    pub(super) fn interleave4_sse2(rows: [&[u8]; 4], out: &mut [u8]) -> usize {
        let len = rows[0].len();
        debug_assert!(rows.iter().all(|r| r.len() == len) && out.len() >= 4 * len);
        let mut q = 0;
        while q + 16 <= len {
            // SAFETY: SSE2 is part of x86-64; pixels q..q+16 are inside every row and bytes
            // 4q..4q+64 inside `out` (checked above and by the loop condition).
            unsafe {
                let [a, b, c, d] = rows.map(|r| _mm_loadu_si128(r.as_ptr().add(q) as *const __m128i));
                let (ab_lo, ab_hi) = (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b));
                let (cd_lo, cd_hi) = (_mm_unpacklo_epi8(c, d), _mm_unpackhi_epi8(c, d));
                let dst = out.as_mut_ptr().add(4 * q) as *mut __m128i;
                _mm_storeu_si128(dst, _mm_unpacklo_epi16(ab_lo, cd_lo));
                _mm_storeu_si128(dst.add(1), _mm_unpackhi_epi16(ab_lo, cd_lo));
                _mm_storeu_si128(dst.add(2), _mm_unpacklo_epi16(ab_hi, cd_hi));
                _mm_storeu_si128(dst.add(3), _mm_unpackhi_epi16(ab_hi, cd_hi));
            }
            q += 16;
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpbusd_adds_four_unsigned_by_signed_products_and_wraps_like_the_instruction() {
        assert_eq!(dpbusd(10, [1, 2, 3, 4], [1, -1, 2, -2]), 10 + 1 - 2 + 6 - 8);
        assert_eq!(dpbusd(0, [255; 4], [-128; 4]), -4 * 255 * 128);
        // No saturation at i16, unlike vpmaddubsw: 2·255·127 > 32767.
        assert_eq!(dpbusd(0, [255, 255, 0, 0], [127, 127, 0, 0]), 2 * 255 * 127);
        assert_eq!(dpbusd(i32::MAX, [1, 0, 0, 0], [1, 0, 0, 0]), i32::MIN);
    }

    #[test]
    fn interleave4_puts_each_pixels_four_channels_side_by_side_for_every_length() {
        for len in 0..50usize {
            let rows: Vec<Vec<u8>> = (0..4).map(|k| (0..len + 3).map(|q| (q * 4 + k) as u8).collect()).collect();
            let mut out = vec![0xAAu8; 4 * len + 2];
            interleave4([&rows[0], &rows[1], &rows[2], &rows[3]], &mut out[..4 * len]);
            let want: Vec<u8> = (0..4 * len).map(|i| i as u8).collect();
            assert_eq!(&out[..4 * len], &want[..], "len {len}");
            assert_eq!(&out[4 * len..], &[0xAA, 0xAA], "len {len}: wrote past its end");
        }
    }

    #[test]
    fn every_available_path_has_its_requantization_available() {
        for path in QPath::ALL.into_iter().filter(|p| p.available()) {
            assert!(path.requantize_isa().available(), "{path:?}");
        }
        for path in crate::ukernel::qgap::QGapPath::ALL.into_iter().filter(|p| p.available()) {
            assert!(path.requantize_isa().available(), "{path:?}");
        }
    }
}
