//! The int8 peak loops: each [`QPath`]'s multiply-accumulate on registers only, the limit an
//! int8 kernel's share is measured against (as the FMA-peak loop is for f32).

use super::int8::{QPath, dpbusd};

/// Iterations of one call of [`QPath::peak_loop`]: about 30 µs on the SIMD paths.
pub const PEAK_ITERATIONS: usize = 8192;

impl QPath {
    /// Multiply-accumulates one [`QPath::peak_loop`] call does: 12 independent accumulators
    /// (enough to cover `vpdpbusd`'s latency at two a cycle) of 8 or 16 i32 lanes, 4 products
    /// each, per iteration; the portable paths count their 12 × 4 lane products.
    pub fn peak_loop_macs(self) -> u64 {
        let lanes = match self {
            QPath::Avx512Vnni => 16,
            QPath::Avx2 | QPath::AvxVnni => 8,
            QPath::Scalar | QPath::EmulatedVnni => 1,
        };
        (PEAK_ITERATIONS * 12 * lanes * 4) as u64
    }

    /// The int8 peak loop: the path's multiply-accumulate (the `vpmaddubsw`, `vpmaddwd`,
    /// `vpaddd` triple, or `vpdpbusd`) on registers only, [`QPath::peak_loop_macs`] of them.
    /// A kernel's share of the int8 peak is its speed over this loop's, timed in turn.
    ///
    /// # Safety
    /// The path is [`available`](QPath::available).
    pub unsafe fn peak_loop(self) -> i32 {
        let x = std::hint::black_box([3u8, 1, 4, 1]);
        let w = std::hint::black_box([2i8, -7, 1, 8]);
        match self {
            // SAFETY (all three): the caller checked the path is available.
            #[cfg(target_arch = "x86_64")]
            QPath::Avx2 => unsafe { x86::peak_avx2(x, w) },
            #[cfg(target_arch = "x86_64")]
            QPath::AvxVnni => unsafe { x86::peak_avxvnni(x, w) },
            #[cfg(target_arch = "x86_64")]
            QPath::Avx512Vnni => unsafe { x86::peak_avx512vnni(x, w) },
            _ => {
                let mut acc = [0i32; 12];
                for _ in 0..PEAK_ITERATIONS {
                    for a in &mut acc {
                        *a = dpbusd(*a, x, w);
                    }
                    acc = std::hint::black_box(acc);
                }
                acc.iter().fold(0, |s, &a| s.wrapping_add(a))
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The loop on 12 accumulators, written out in the calling function (no closure, so the
    /// step compiles with the function's target features), then the accumulators' lanes
    /// summed, so that none of it is dead code.
    macro_rules! peak_loop {
        ($zero:expr, $splat:ident, |$a:ident, $xv:ident, $wv:ident| $step:expr, $add:ident, $lanes:ty, $x:expr, $w:expr) => {{
            let ($xv, $wv) = ($splat(i32::from_ne_bytes($x)), $splat(i32::from_ne_bytes($w.map(|b| b as u8))));
            let mut acc = [$zero; 12];
            for _ in 0..super::PEAK_ITERATIONS {
                for slot in &mut acc {
                    let $a = *slot;
                    *slot = $step;
                }
            }
            let mut total = $zero;
            for &a in &acc {
                total = $add(total, a);
            }
            // SAFETY: plain data of the same size.
            let lanes: $lanes = unsafe { std::mem::transmute(total) };
            lanes.iter().fold(0i32, |s, &l| s.wrapping_add(l))
        }};
    }

    /// `v`, which LLVM cannot see through: an empty `asm!` that may have changed the register,
    /// and that it neither hoists nor merges (it is not `pure`). No instruction is emitted.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn opaque_ymm(mut v: __m256i) -> __m256i {
        // SAFETY: the template is empty; it reads and writes only `v`'s register.
        unsafe { std::arch::asm!("/* {0} */", inout(ymm_reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }

    /// The AVX2 triple on 12 ymm accumulators.
    ///
    /// # Safety
    /// AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn peak_avx2(x: [u8; 4], w: [i8; 4]) -> i32 {
        let ones = _mm256_set1_epi16(1);
        peak_loop!(
            _mm256_setzero_si256(),
            _mm256_set1_epi32,
            // The activations pass through an empty `asm!` first: with the loop's constant
            // bytes LLVM hoists `vpmaddubsw` and `vpmaddwd` out of the loop and times adds.
            // (Feeding the accumulator back in as the operand instead made each chain four
            // instructions long, and the kernels ran at 105% of that loop.)
            |a, xv, wv| _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(opaque_ymm(xv), wv), ones)),
            _mm256_add_epi32,
            [i32; 8],
            x,
            w
        )
    }

    /// `vpdpbusd` on 12 ymm accumulators.
    ///
    /// # Safety
    /// AVX2 and AVX-VNNI.
    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn peak_avxvnni(x: [u8; 4], w: [i8; 4]) -> i32 {
        peak_loop!(
            _mm256_setzero_si256(),
            _mm256_set1_epi32,
            |a, xv, wv| _mm256_dpbusd_avx_epi32(a, xv, wv),
            _mm256_add_epi32,
            [i32; 8],
            x,
            w
        )
    }

    /// `vpdpbusd` on 12 zmm accumulators.
    ///
    /// # Safety
    /// AVX-512F and VNNI.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) unsafe fn peak_avx512vnni(x: [u8; 4], w: [i8; 4]) -> i32 {
        peak_loop!(
            _mm512_setzero_si512(),
            _mm512_set1_epi32,
            |a, xv, wv| _mm512_dpbusd_epi32(a, xv, wv),
            _mm512_add_epi32,
            [i32; 16],
            x,
            w
        )
    }
}
