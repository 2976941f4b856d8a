//! Requantization: i32 sums (bias added) to u8 outputs, bit for bit as
//! [`crate::quant::requantize`] does, on the SIMD widths of the int8 paths: over a tile's rows
//! of stored sums ([`RequantizeIsa::requantize_rows`], for tails, NHWC and the int8 GAP), and
//! one vector at a time on sums still in registers (the `x86` helpers the int8 tiles call in
//! their epilogue, `QTile::run` in `int8_tile.rs`).

/// The instructions a requantization runs on: what it needs of the CPU, apart from the
/// multiply-accumulate path that made the sums (the int8 GAP requantizes too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequantizeIsa {
    /// Plain Rust.
    Scalar,
    /// AVX2, 8 sums a step.
    Avx2,
    /// AVX-512F, 16 sums a step, the last masked.
    Avx512,
}

impl RequantizeIsa {
    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                RequantizeIsa::Scalar => true,
                RequantizeIsa::Avx2 => is_x86_feature_detected!("avx2"),
                RequantizeIsa::Avx512 => is_x86_feature_detected!("avx512f"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == RequantizeIsa::Scalar
        }
    }

    /// Requantizes the first `cols` sums of each row of a tile into `out`, one line per row:
    /// `out[r][at + c] = requantize(sums[r·nr + c] + bias[r], m[r])`
    /// (`crate::quant::requantize`), 8 or 16 at a time on the x86 SIMD paths, with the same
    /// conversion, multiply, clamp and rounding (the default MXCSR rounds half to even, as
    /// `round_ties_even` does), so the bytes are equal. One call per tile, so that the loop
    /// over rows runs with the path's target features.
    ///
    /// # Safety
    /// It is [`available`](RequantizeIsa::available).
    ///
    /// # Panics
    /// When `bias` and `m` differ in length, `cols > nr`, `sums` is too short, or `out` has
    /// fewer lines than the tile has rows or a line shorter than `at + cols`.
    pub unsafe fn requantize_rows(self, tile: &RequantizeTile, out: &mut [&mut [u8]]) {
        let RequantizeTile { sums, nr, cols, bias, m, at } = *tile;
        let rows = bias.len();
        assert!(m.len() == rows && cols <= nr && sums.len() >= rows * nr, "tile of {rows} rows of {cols} of {nr} sums");
        assert!(
            out.len() >= rows && out[..rows].iter().all(|line| line.len() >= at + cols),
            "output too short for {rows} rows"
        );
        match self {
            // SAFETY (both): the caller checked it is available.
            #[cfg(target_arch = "x86_64")]
            RequantizeIsa::Avx2 => unsafe { x86::requantize_avx2(tile, out) },
            #[cfg(target_arch = "x86_64")]
            RequantizeIsa::Avx512 => unsafe { x86::requantize_avx512(tile, out) },
            _ => tile.rows(out, |sums, bias, m, out| {
                for (o, &s) in out.iter_mut().zip(sums) {
                    *o = crate::quant::requantize(s + bias, m);
                }
            }),
        }
    }
}

/// A tile's sums to requantize with [`RequantizeIsa::requantize_rows`]: one row per entry of `bias`
/// and `m`.
#[derive(Debug, Clone, Copy)]
pub struct RequantizeTile<'a> {
    /// The tile's i32 sums, rows `nr` apart.
    pub sums: &'a [i32],
    /// The distance between rows in `sums`: the tile's width.
    pub nr: usize,
    /// The sums of each row to requantize (≤ `nr`).
    pub cols: usize,
    /// Each row's bias.
    pub bias: &'a [i32],
    /// Each row's multiplier.
    pub m: &'a [f32],
    /// Where in each output line the row's first byte goes.
    pub at: usize,
}

impl RequantizeTile<'_> {
    /// Calls `row(sums, bias, m, out)` on each row's `cols` sums and output bytes.
    #[inline(always)]
    fn rows(&self, out: &mut [&mut [u8]], mut row: impl FnMut(&[i32], i32, f32, &mut [u8])) {
        for (r, ((&bias, &m), line)) in self.bias.iter().zip(self.m).zip(out).enumerate() {
            row(&self.sums[r * self.nr..][..self.cols], bias, m, &mut line[self.at..self.at + self.cols]);
        }
    }
}

/// Where a whole int8 tile's outputs go when it requantizes them itself (`QTile::run` in
/// `int8_tile.rs`), over consecutive panels of MR output channels, one byte per output channel
/// and pixel: with pixel vectors, channel `k`'s NR bytes at `lines[k][at..]` (a line per output
/// channel: NCHW's); with channel vectors, pixel row `r`'s bytes, one per channel, at
/// `lines[r][at..]` (a line per pixel: NHWC's). Channel `k` is requantized with `bias[k]` and
/// `m[k]`.
pub struct TileBytes<'a, 'b> {
    /// The output lines, one per row of the tiles.
    pub lines: &'a mut [&'b mut [u8]],
    /// Where the first panel's first byte goes in each line.
    pub at: usize,
    /// Each output channel's bias: a multiple of MR.
    pub bias: &'a [i32],
    /// Each output channel's multiplier, as many.
    pub m: &'a [f32],
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    /// Eight sums with `b` added, requantized with `m` to whole numbers in 0..=255, in i32:
    /// the reference's conversion, multiply, clamp and rounding (the default MXCSR rounds half
    /// to even, as `round_ties_even` does).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn requantize8_avx2(v: __m256i, b: __m256i, m: __m256) -> __m256i {
        let f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(v, b)), m);
        _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f, _mm256_setzero_ps()), _mm256_set1_ps(255.0)))
    }

    /// Sixteen sums, two vectors in order, each with its own bias and multipliers (`b[0]`,
    /// `m[0]` for `first`), requantized to 16 bytes in order: `vpackusdw` and `vpackuswb` (no
    /// value saturates: all are in 0..=255) with a `vpermq` between them to undo the packs'
    /// per-lane order.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn requantize16_avx2(first: __m256i, second: __m256i, b: [__m256i; 2], m: [__m256; 2]) -> __m128i {
        // Words: first 0-3, second 0-3 | first 4-7, second 4-7; then first 0-7 | second 0-7.
        let words = _mm256_packus_epi32(requantize8_avx2(first, b[0], m[0]), requantize8_avx2(second, b[1], m[1]));
        let words = _mm256_permute4x64_epi64::<0b11_01_10_00>(words);
        _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256::<1>(words))
    }

    /// Sixteen sums with `b` added, requantized with `m`, in i32, for `vpmovusdb` to narrow.
    /// The clamp at 255 is `vpmovusdb`'s unsigned saturation rather than a `vminps`: after the
    /// clamp at 0 a value is either rounded to the same whole number the reference rounds it
    /// to, or above 255, or too large for i32, where `vcvtps2dq` gives 0x8000_0000: all three
    /// saturate to the bytes the reference gives.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn requantize16_avx512_i32(v: __m512i, b: __m512i, m: __m512) -> __m512i {
        let f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(v, b)), m);
        _mm512_cvtps_epi32(_mm512_max_ps(f, _mm512_setzero_ps()))
    }

    /// Sixteen sums requantized to 16 bytes in order.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn requantize16_avx512(v: __m512i, b: __m512i, m: __m512) -> __m128i {
        _mm512_cvtusepi32_epi8(requantize16_avx512_i32(v, b, m))
    }

    /// [`super::RequantizeIsa::requantize_rows`] with AVX2: sixteen sums per step, then eight,
    /// then each row's tail in scalar.
    ///
    /// # Safety
    /// AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn requantize_avx2(tile: &super::RequantizeTile, out: &mut [&mut [u8]]) {
        tile.rows(out, |sums, bias, m, out| {
            let (b, mv) = (_mm256_set1_epi32(bias), _mm256_set1_ps(m));
            let sixteens = sums.len() / 16 * 16;
            for (chunk, dst) in sums[..sixteens].chunks_exact(16).zip(out.chunks_exact_mut(16)) {
                // SAFETY: `chunk` holds 16 values, `dst` 16 bytes.
                unsafe {
                    let (first, second) = (chunk.as_ptr() as *const __m256i, chunk.as_ptr().add(8) as *const __m256i);
                    let bytes =
                        requantize16_avx2(_mm256_loadu_si256(first), _mm256_loadu_si256(second), [b; 2], [mv; 2]);
                    _mm_storeu_si128(dst.as_mut_ptr() as *mut __m128i, bytes);
                }
            }
            let mut done = sixteens;
            if sums.len() - done >= 8 {
                // SAFETY: 8 values of `sums` and 8 bytes of `out` from `done` on.
                unsafe {
                    let i = requantize8_avx2(_mm256_loadu_si256(sums[done..].as_ptr() as *const __m256i), b, mv);
                    let words = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256::<1>(i));
                    _mm_storel_epi64(out[done..].as_mut_ptr() as *mut __m128i, _mm_packus_epi16(words, words));
                }
                done += 8;
            }
            for (o, &s) in out[done..].iter_mut().zip(&sums[done..]) {
                *o = crate::quant::requantize(s + bias, m);
            }
        })
    }

    /// [`super::RequantizeIsa::requantize_rows`] with AVX-512F: sixteen sums per step, the
    /// row's last step masked. Whole steps need no mask: building one per step, and a
    /// `vminps`, were a third of the loop, which took a fifth of 1x96x54x54:96's time on Zen
    /// 4 (96 multiply-adds per output leave the requantization a large share); without them
    /// the layer went from 49–61% of the VNNI peak to 64–65%.
    ///
    /// # Safety
    /// AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn requantize_avx512(tile: &super::RequantizeTile, out: &mut [&mut [u8]]) {
        tile.rows(out, |sums, bias, m, out| {
            let (b, mv) = (_mm512_set1_epi32(bias), _mm512_set1_ps(m));
            let whole = sums.len() / 16 * 16;
            for (chunk, dst) in sums[..whole].chunks_exact(16).zip(out.chunks_exact_mut(16)) {
                // SAFETY: `chunk` holds 16 values and `dst` 16 bytes.
                unsafe {
                    let bytes = requantize16_avx512(_mm512_loadu_si512(chunk.as_ptr() as *const __m512i), b, mv);
                    _mm_storeu_si128(dst.as_mut_ptr() as *mut __m128i, bytes);
                }
            }
            let rest = sums.len() - whole;
            if rest > 0 {
                let mask: __mmask16 = (1u16 << rest) - 1;
                // SAFETY: the mask covers the `rest` values left in `sums` and as many bytes
                // left in `out`; masked-off lanes are neither read nor written.
                unsafe {
                    let i = requantize16_avx512_i32(_mm512_maskz_loadu_epi32(mask, sums[whole..].as_ptr()), b, mv);
                    _mm512_mask_cvtusepi32_storeu_epi8(out[whole..].as_mut_ptr() as *mut i8, mask, i);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_requantization_gives_the_reference_bytes_at_the_extremes_and_on_every_tail() {
        let sums: Vec<i32> = [i32::MIN + 8, i32::MIN + 9, -1_000_000, -1, 0, 1, 2, 3, 127, 128, 255, 256, 257]
            .into_iter()
            .chain([1_000_000, i32::MAX - 1001, i32::MAX - 1000])
            .chain((0..19).map(|i| i * 37 - 300))
            .collect();
        let nr = sums.len() / 2;
        // 0.5 makes every odd sum a tie (rounded to even); 1e30 overflows i32 in the float.
        let m = [0.5, 1.0, 1.0 / 3.0, 0.0078125, 1e-30, 1e30];
        // Sums and biases stay inside i32 together, as a layer's do (`crate::quant::MAX_BIAS`).
        let bias = [0, 1, -1, 7, 1000, -5];
        for isa in [RequantizeIsa::Scalar, RequantizeIsa::Avx2, RequantizeIsa::Avx512] {
            if !isa.available() {
                eprintln!("skipped: this CPU has no {isa:?} requantization");
                continue;
            }
            for cols in 0..=nr {
                let (at, rows) = (3, 2);
                for r0 in (0..m.len()).step_by(rows) {
                    let (bias, m) = (&bias[r0..r0 + rows], &m[r0..r0 + rows]);
                    let tile = RequantizeTile { sums: &sums, nr, cols, bias, m, at };
                    let mut lines = vec![vec![0xAAu8; at + cols + 2]; rows];
                    let mut out: Vec<&mut [u8]> = lines.iter_mut().map(|l| l.as_mut_slice()).collect();
                    // SAFETY: checked available above.
                    unsafe { isa.requantize_rows(&tile, &mut out) };
                    for (r, line) in lines.iter().enumerate() {
                        let want: Vec<u8> = sums[r * nr..][..cols]
                            .iter()
                            .map(|&s| crate::quant::requantize(s + bias[r], m[r]))
                            .collect();
                        assert_eq!(&line[at..at + cols], &want[..], "{isa:?} row {r} of m {}, {cols} cols", m[r]);
                        assert!(
                            line[..at].iter().chain(&line[at + cols..]).all(|&b| b == 0xAA),
                            "{isa:?}: wrote outside"
                        );
                    }
                }
            }
        }
    }
}
