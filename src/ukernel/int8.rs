//! The int8 instruction-set paths ([`QPath`]) and `vpdpbusd`'s arithmetic in portable code;
//! their register tiles are in `int8_tile.rs`, their peak loop in `int8_peak.rs`.

use super::requantize::RequantizeIsa;
use crate::quant::WeightRange;

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
    /// AVX-VNNI: `vpdpbusd` on ymm (8 i32 lanes per vector).
    AvxVnni,
    /// AVX-512 VNNI: `vpdpbusd` on zmm (16 i32 lanes per vector).
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
    fn every_available_path_has_its_requantization_available() {
        for path in QPath::ALL.into_iter().filter(|p| p.available()) {
            assert!(path.requantize_isa().available(), "{path:?}");
        }
        for path in crate::ukernel::qgap::QGapPath::ALL.into_iter().filter(|p| p.available()) {
            assert!(path.requantize_isa().available(), "{path:?}");
        }
    }
}
