//! f32 activations quantized to u8 and u8 dequantized to f32, at the edges of an int8 run of a
//! network (`crate::forward::quantized`). [`crate::quant::quantize_activations`] and
//! [`crate::quant::dequantize_activations`] define the values; every path here gives the same
//! bits. The definition rounds with `round_ties_even`, which the baseline x86-64 build compiles
//! to a library call per value: NIN-CIFAR10's quantizes and dequantizes took 1.0 ms of its int8
//! pass that way, more than its int8 1×1 layers.

/// An instruction-set path for the edges of an int8 run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgePath {
    /// The definitions themselves, any CPU.
    Scalar,
    /// AVX2: `vdivps`, clamped by `vmaxps` and `vminps`, rounded to the nearest even by
    /// `vcvtps2dq` (the default rounding mode), packed to bytes; back by `vpmovzxbd`,
    /// `vcvtdq2ps` and `vmulps`.
    Avx2,
}

impl EdgePath {
    /// Every path.
    pub const ALL: [EdgePath; 2] = [EdgePath::Scalar, EdgePath::Avx2];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            EdgePath::Scalar => "scalar",
            EdgePath::Avx2 => "avx2",
        }
    }

    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        match self {
            EdgePath::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            EdgePath::Avx2 => is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            EdgePath::Avx2 => false,
        }
    }

    /// The path that goes with the f32 path `policy` selects: scalar for scalar and for the
    /// emulated AVX-512, AVX2 otherwise where the CPU has it.
    pub fn for_policy(policy: crate::simd::SimdPolicy) -> EdgePath {
        if policy.is_emulated() || policy.f32_lanes() < 8 || !EdgePath::Avx2.available() {
            EdgePath::Scalar
        } else {
            EdgePath::Avx2
        }
    }

    /// [`crate::quant::quantize_activations`]: `out[i]` = `x[i] / scale` clamped to [0, 255]
    /// and rounded half to even.
    ///
    /// # Panics
    /// When `x` and `out` differ in length, or the CPU lacks the path.
    pub fn quantize(self, x: &[f32], scale: f32, out: &mut [u8]) {
        assert_eq!(x.len(), out.len(), "values in and out");
        assert!(self.available(), "this CPU has no {} path", self.name());
        let done = match self {
            EdgePath::Scalar => 0,
            // SAFETY: the CPU has AVX2 (checked above).
            #[cfg(target_arch = "x86_64")]
            EdgePath::Avx2 => unsafe { x86::quantize_avx2(x, scale, out) },
            #[cfg(not(target_arch = "x86_64"))]
            EdgePath::Avx2 => unreachable!("not available off x86-64"),
        };
        crate::quant::quantize_activations(&x[done..], scale, &mut out[done..]);
    }

    /// [`crate::quant::dequantize_activations`]: `out[i]` = `q[i] · scale`.
    ///
    /// # Panics
    /// When `q` and `out` differ in length, or the CPU lacks the path.
    pub fn dequantize(self, q: &[u8], scale: f32, out: &mut [f32]) {
        assert_eq!(q.len(), out.len(), "values in and out");
        assert!(self.available(), "this CPU has no {} path", self.name());
        let done = match self {
            EdgePath::Scalar => 0,
            // SAFETY: the CPU has AVX2 (checked above).
            #[cfg(target_arch = "x86_64")]
            EdgePath::Avx2 => unsafe { x86::dequantize_avx2(q, scale, out) },
            #[cfg(not(target_arch = "x86_64"))]
            EdgePath::Avx2 => unreachable!("not available off x86-64"),
        };
        crate::quant::dequantize_activations(&q[done..], scale, &mut out[done..]);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Values a step: four vectors of 8, packed into one vector of 32 bytes.
    const STEP: usize = 32;

    /// [`super::EdgePath::quantize`] on AVX2 over whole steps of 32 values; returns how many
    /// it wrote.
    ///
    /// # Safety
    /// AVX2; `x` and `out` have the same length.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn quantize_avx2(x: &[f32], scale: f32, out: &mut [u8]) -> usize {
        let (s, zero, top) = (_mm256_set1_ps(scale), _mm256_setzero_ps(), _mm256_set1_ps(255.0));
        // The two packs interleave the four vectors' 4-byte groups by 128-bit lane.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        let whole = x.len() / STEP * STEP;
        for (xs, qs) in x[..whole].chunks_exact(STEP).zip(out[..whole].chunks_exact_mut(STEP)) {
            let q = |i: usize| {
                // SAFETY: `xs` holds 32 values; 8 from `i` < 32 are readable.
                let v = _mm256_div_ps(unsafe { _mm256_loadu_ps(xs.as_ptr().add(i)) }, s);
                // `vmaxps` returns its second operand where the first is NaN: a NaN becomes 0,
                // as `clamp` then `as u8` make it. The clamped value converts exactly.
                _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, zero), top))
            };
            let (low, high) = (_mm256_packus_epi32(q(0), q(8)), _mm256_packus_epi32(q(16), q(24)));
            let bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(low, high), order);
            // SAFETY: `qs` holds 32 bytes, written unaligned.
            unsafe { _mm256_storeu_si256(qs.as_mut_ptr() as *mut __m256i, bytes) };
        }
        whole
    }

    /// [`super::EdgePath::dequantize`] on AVX2 over whole steps of 32 values; returns how many
    /// it wrote.
    ///
    /// # Safety
    /// AVX2; `q` and `out` have the same length.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dequantize_avx2(q: &[u8], scale: f32, out: &mut [f32]) -> usize {
        let s = _mm256_set1_ps(scale);
        let whole = q.len() / STEP * STEP;
        for (qs, ys) in q[..whole].chunks_exact(STEP).zip(out[..whole].chunks_exact_mut(STEP)) {
            for i in (0..STEP).step_by(8) {
                // SAFETY: 8 bytes from `i` < 32 of `qs` are readable, 8 values of `ys` writable.
                unsafe {
                    let bytes = _mm_loadl_epi64(qs.as_ptr().add(i) as *const __m128i);
                    let v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
                    _mm256_storeu_ps(ys.as_mut_ptr().add(i), _mm256_mul_ps(v, s));
                }
            }
        }
        whole
    }
}
