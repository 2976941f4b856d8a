//! The int8 GAP sums: u8 values added into one i32 per channel. The only ISA-specific code of
//! `crate::qgap`. A sum of at most 2²³ values of 255 fits an i32 (`QGapProblem` checks the
//! count), so no order of additions can wrap.

/// An int8 GAP instruction-set path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QGapPath {
    /// Plain Rust, any CPU.
    Scalar,
    /// AVX2: `vpsadbw` against zero sums 8 bytes into a u64 lane (NCHW rows); `vpmovzxbd`
    /// widens 8 channels to i32 for `vpaddd` (NHWC pixels).
    Avx2,
    /// AVX-512 (F and BW): the same on zmm, 64 bytes per `vpsadbw`, 16 channels per add.
    Avx512,
}

impl QGapPath {
    /// Every path.
    pub const ALL: [QGapPath; 3] = [QGapPath::Scalar, QGapPath::Avx2, QGapPath::Avx512];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            QGapPath::Scalar => "scalar",
            QGapPath::Avx2 => "avx2 (vpsadbw, vpmovzxbd)",
            QGapPath::Avx512 => "avx512bw (vpsadbw, vpmovzxbd)",
        }
    }

    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                QGapPath::Scalar => true,
                QGapPath::Avx2 => is_x86_feature_detected!("avx2"),
                QGapPath::Avx512 => is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == QGapPath::Scalar
        }
    }

    /// The fastest path this CPU runs.
    pub fn widest() -> QGapPath {
        [QGapPath::Avx512, QGapPath::Avx2].into_iter().find(|p| p.available()).unwrap_or(QGapPath::Scalar)
    }

    /// The path that goes with the f32 path `policy` selects: scalar for scalar and for the
    /// emulated AVX-512 (GAP has no emulated form), AVX2 for a forced AVX2, the widest
    /// otherwise.
    pub fn for_policy(policy: crate::simd::SimdPolicy) -> QGapPath {
        match policy.f32_lanes() {
            _ if policy.is_emulated() => QGapPath::Scalar,
            _ if policy.is_auto() => QGapPath::widest(),
            8 => QGapPath::Avx2,
            16 => QGapPath::widest(),
            _ => QGapPath::Scalar,
        }
    }

    /// The requantization its kernel runs: a subset of what the path needs.
    pub fn requantize_isa(self) -> super::requantize::RequantizeIsa {
        match self {
            QGapPath::Scalar => super::requantize::RequantizeIsa::Scalar,
            QGapPath::Avx2 => super::requantize::RequantizeIsa::Avx2,
            QGapPath::Avx512 => super::requantize::RequantizeIsa::Avx512,
        }
    }

    /// `sums[c]` = the sum of row `c` of `rows` (one NCHW image: C = `sums.len()` rows of
    /// equal length, each a channel's pixels). One call per image, so that the loop over
    /// rows runs with the path's target features.
    ///
    /// # Safety
    /// The path is [`available`](QGapPath::available).
    ///
    /// # Panics
    /// When `rows.len()` is not a multiple of `sums.len()`.
    pub unsafe fn row_sums(self, rows: &[u8], sums: &mut [i32]) {
        assert!(
            !sums.is_empty() && rows.len().is_multiple_of(sums.len()),
            "{} values are not {} rows",
            rows.len(),
            sums.len()
        );
        let row_len = rows.len() / sums.len();
        match self {
            QGapPath::Scalar => {
                for (c, s) in sums.iter_mut().enumerate() {
                    *s = rows[c * row_len..][..row_len].iter().map(|&v| v as i32).sum();
                }
            }
            // SAFETY (both): the caller checked the CPU has the path.
            #[cfg(target_arch = "x86_64")]
            QGapPath::Avx2 => unsafe { x86::row_sums_avx2(rows, row_len, sums) },
            #[cfg(target_arch = "x86_64")]
            QGapPath::Avx512 => unsafe { x86::row_sums_avx512(rows, row_len, sums) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("not available off x86-64"),
        }
    }

    /// `sums[c] = Σ_q pixels[q·C + c]` with C = `sums.len()`, over every pixel of `pixels`
    /// (one NHWC image).
    ///
    /// # Safety
    /// The path is [`available`](QGapPath::available).
    ///
    /// # Panics
    /// When `pixels.len()` is not a multiple of `sums.len()`.
    pub unsafe fn pixel_sums(self, pixels: &[u8], sums: &mut [i32]) {
        let c_len = sums.len();
        assert!(
            c_len > 0 && pixels.len().is_multiple_of(c_len),
            "{} values are not pixels of {c_len} channels",
            pixels.len()
        );
        let done = match self {
            QGapPath::Scalar => 0,
            // SAFETY (both): the caller checked the CPU has the path.
            #[cfg(target_arch = "x86_64")]
            QGapPath::Avx2 => unsafe { x86::pixel_sums_avx2(pixels, sums) },
            #[cfg(target_arch = "x86_64")]
            QGapPath::Avx512 => unsafe { x86::pixel_sums_avx512(pixels, sums) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("not available off x86-64"),
        };
        for (c, s) in sums.iter_mut().enumerate().skip(done) {
            *s = pixels[c..].iter().step_by(c_len).map(|&v| v as i32).sum();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// [`super::QGapPath::row_sums`] on AVX2.
    ///
    /// # Safety
    /// AVX2; `rows` holds `sums.len()` rows of `row_len`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn row_sums_avx2(rows: &[u8], row_len: usize, sums: &mut [i32]) {
        for (c, s) in sums.iter_mut().enumerate() {
            let row = &rows[c * row_len..][..row_len];
            let (done, sum) = row_sum_avx2(row);
            *s = sum + row[done..].iter().map(|&v| v as i32).sum::<i32>();
        }
    }

    /// [`super::QGapPath::row_sums`] on AVX-512.
    ///
    /// # Safety
    /// AVX-512F and BW; `rows` holds `sums.len()` rows of `row_len`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn row_sums_avx512(rows: &[u8], row_len: usize, sums: &mut [i32]) {
        for (c, s) in sums.iter_mut().enumerate() {
            *s = row_sum_avx512(&rows[c * row_len..][..row_len]);
        }
    }

    /// `row`'s sum by `vpsadbw` against zero: 32 bytes a step, then 16 and 8; returns how
    /// many values it took (all but at most 7) and their sum.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn row_sum_avx2(row: &[u8]) -> (usize, i32) {
        let zero = _mm256_setzero_si256();
        let mut acc = zero;
        let mut chunks = row.chunks_exact(32);
        for chunk in &mut chunks {
            // SAFETY: `chunk` holds 32 bytes, read unaligned.
            acc = _mm256_add_epi64(
                acc,
                _mm256_sad_epu8(unsafe { _mm256_loadu_si256(chunk.as_ptr() as *const __m256i) }, zero),
            );
        }
        let mut acc = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256::<1>(acc));
        let (mut done, rest) = (row.len() - chunks.remainder().len(), chunks.remainder());
        if rest.len() >= 16 {
            // SAFETY: 16 bytes of `rest` are readable.
            acc = _mm_add_epi64(
                acc,
                _mm_sad_epu8(unsafe { _mm_loadu_si128(rest.as_ptr() as *const __m128i) }, _mm_setzero_si128()),
            );
            done += 16;
        }
        if row.len() - done >= 8 {
            // SAFETY: 8 bytes from `done` are readable.
            let eight = unsafe { _mm_loadl_epi64(row.as_ptr().add(done) as *const __m128i) };
            acc = _mm_add_epi64(acc, _mm_sad_epu8(eight, _mm_setzero_si128()));
            done += 8;
        }
        // Each u64 lane is at most 2^23 · 255: the total fits an i32.
        let total = _mm_add_epi64(acc, _mm_unpackhi_epi64(acc, acc));
        (done, _mm_cvtsi128_si64(total) as i32)
    }

    /// `row`'s sum by `vpsadbw` against zero, 64 bytes a step, the last step masked, so
    /// that NIN's 36-value class maps take one step each.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn row_sum_avx512(row: &[u8]) -> i32 {
        let zero = _mm512_setzero_si512();
        let mut acc = zero;
        for chunk in row.chunks(64) {
            let mask: __mmask64 = if chunk.len() == 64 { !0 } else { (1u64 << chunk.len()) - 1 };
            // SAFETY: the mask covers `chunk.len()` bytes of `chunk`; masked-off bytes are not
            // read.
            let v = unsafe { _mm512_maskz_loadu_epi8(mask, chunk.as_ptr() as *const i8) };
            acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, zero));
        }
        // Each u64 lane is at most 2^23 · 255: the total fits an i32.
        _mm512_reduce_add_epi64(acc) as i32
    }

    /// Per block of 4 vectors of channels (then single vectors), every pixel's bytes of the
    /// block widened to i32 and added in registers; returns how many channels it summed.
    /// Written out in the calling function (no closure, so every step compiles with its
    /// target features).
    macro_rules! pixel_sums {
        ($vec:ty, $lanes:expr, $zero:expr, |$p:ident| $widen:expr, $add:ident, $store:ident, $pixels:expr, $sums:expr) => {{
            let c_len = $sums.len();
            let mut c0 = 0;
            for width in [4, 1] {
                while c0 + width * $lanes <= c_len {
                    let mut acc = [$zero; 4];
                    for px in $pixels.chunks_exact(c_len) {
                        for (v, a) in acc.iter_mut().enumerate().take(width) {
                            // SAFETY: channels c0 + v·lanes.. + lanes are inside the pixel.
                            let $p = unsafe { px.as_ptr().add(c0 + v * $lanes) };
                            // SAFETY: `lanes` bytes at $p are readable (above).
                            *a = $add(*a, unsafe { $widen });
                        }
                    }
                    for (v, a) in acc.iter().enumerate().take(width) {
                        // SAFETY: the same channels are inside `sums`.
                        unsafe { $store($sums.as_mut_ptr().add(c0 + v * $lanes) as *mut $vec, *a) };
                    }
                    c0 += width * $lanes;
                }
            }
            c0
        }};
    }

    /// # Safety
    /// AVX2; `pixels.len()` a multiple of `sums.len()`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn pixel_sums_avx2(pixels: &[u8], sums: &mut [i32]) -> usize {
        pixel_sums!(
            __m256i,
            8,
            _mm256_setzero_si256(),
            |p| _mm256_cvtepu8_epi32(_mm_loadl_epi64(p as *const __m128i)),
            _mm256_add_epi32,
            _mm256_storeu_si256,
            pixels,
            sums
        )
    }

    /// # Safety
    /// AVX-512F; `pixels.len()` a multiple of `sums.len()`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn pixel_sums_avx512(pixels: &[u8], sums: &mut [i32]) -> usize {
        pixel_sums!(
            __m512i,
            16,
            _mm512_setzero_si512(),
            |p| _mm512_cvtepu8_epi32(_mm_loadu_si128(p as *const __m128i)),
            _mm512_add_epi32,
            _mm512_storeu_si512,
            pixels,
            sums
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_available_path_sums_rows_and_pixels_of_every_length_exactly() {
        for path in QGapPath::ALL {
            if !path.available() {
                eprintln!("skipped: int8 GAP path {} (this CPU lacks it)", path.name());
                continue;
            }
            for len in [0usize, 1, 7, 8, 15, 16, 24, 31, 32, 33, 36, 63, 64, 65, 200] {
                let rows: Vec<u8> = (0..3 * len).map(|i| (i * 37 % 256) as u8).collect();
                let want: Vec<i32> = (0..3).map(|c| rows[c * len..][..len].iter().map(|&v| v as i32).sum()).collect();
                let mut sums = vec![-1; 3];
                // SAFETY: checked available above.
                unsafe { path.row_sums(&rows, &mut sums) };
                assert_eq!(sums, want, "{path:?} rows of {len}");
            }
            for c_len in [1usize, 7, 8, 9, 16, 31, 32, 33, 64, 65, 100] {
                let pixels: Vec<u8> = (0..c_len * 13).map(|i| (i * 101 % 256) as u8).collect();
                let want: Vec<i32> =
                    (0..c_len).map(|c| pixels[c..].iter().step_by(c_len).map(|&v| v as i32).sum()).collect();
                let mut sums = vec![-1; c_len];
                // SAFETY: checked available above.
                unsafe { path.pixel_sums(&pixels, &mut sums) };
                assert_eq!(sums, want, "{path:?} {c_len} channels");
            }
        }
    }
}
