//! Runtime ISA selection for the pulp kernels.
//!
//! `pulp` detects the best instruction set at run time (AVX2+FMA on this project's machines) and
//! falls back to scalar code elsewhere. [`SimdPolicy::ScalarOnly`] forces that fallback, so the
//! path a CPU without AVX2 takes is tested and benchmarked here too; the environment variable
//! [`FORCE_SCALAR_ENV`] selects it for the whole registry without rebuilding.

use pulp::{Simd, WithSimd};

/// Environment variable that, when set to `1`, makes the registry build every pulp kernel with
/// [`SimdPolicy::ScalarOnly`].
pub const FORCE_SCALAR_ENV: &str = "NIN_BENCH_FORCE_SCALAR";

/// Which instruction set the pulp kernels may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SimdPolicy {
    /// The best the CPU offers, detected at run time.
    #[default]
    Auto,
    /// pulp's portable scalar fallback, whatever the CPU.
    ScalarOnly,
}

impl SimdPolicy {
    /// [`SimdPolicy::ScalarOnly`] when `NIN_BENCH_FORCE_SCALAR=1`, else [`SimdPolicy::Auto`].
    pub fn from_env() -> Self {
        match std::env::var(FORCE_SCALAR_ENV) {
            Ok(v) if v.trim() == "1" => SimdPolicy::ScalarOnly,
            _ => SimdPolicy::Auto,
        }
    }

    /// Runs `op` with the instruction set this policy selects.
    #[inline(always)]
    pub fn dispatch<Op: WithSimd>(self, op: Op) -> Op::Output {
        match self {
            SimdPolicy::Auto => pulp::Arch::new().dispatch(op),
            SimdPolicy::ScalarOnly => Simd::vectorize(pulp::Scalar::new(), op),
        }
    }

    /// f32 lanes of the vector type this policy selects (8 with AVX2, 1 for scalar).
    pub fn f32_lanes(self) -> usize {
        self.dispatch(Probe).lanes
    }

    /// A short name of the selected instruction set, e.g. `avx2+fma (pulp V3, runtime)`.
    pub fn isa_name(self) -> String {
        let probe = self.dispatch(Probe);
        let name = match probe.type_name.rsplit("::").next().unwrap_or(probe.type_name) {
            "V3" => "avx2+fma (pulp V3, runtime)",
            "V4" => "avx512 (pulp V4, runtime)",
            "Scalar" if self == SimdPolicy::ScalarOnly => "scalar (pulp fallback, forced)",
            "Scalar" => "scalar (pulp fallback)",
            other => return format!("{other} (pulp, {} lanes)", probe.lanes),
        };
        name.to_string()
    }
}

struct Probe;

struct ProbeResult {
    lanes: usize,
    type_name: &'static str,
}

impl WithSimd for Probe {
    type Output = ProbeResult;
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> ProbeResult {
        ProbeResult { lanes: S::F32_LANES, type_name: std::any::type_name::<S>() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_policy_has_one_lane_and_says_forced() {
        assert_eq!(SimdPolicy::ScalarOnly.f32_lanes(), 1);
        assert!(SimdPolicy::ScalarOnly.isa_name().contains("forced"));
    }

    #[test]
    fn auto_policy_uses_avx2_where_the_cpu_has_it() {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            assert!(SimdPolicy::Auto.f32_lanes() >= 8);
            return;
        }
        eprintln!("SKIPPED: this CPU has no AVX2+FMA; only the scalar path is checked here");
        assert!(SimdPolicy::Auto.f32_lanes() >= 1);
    }
}
