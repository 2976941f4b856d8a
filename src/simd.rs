//! Runtime ISA selection for the pulp kernels.
//!
//! `pulp` detects the best instruction set at run time (AVX2+FMA on this project's AVX2
//! machines) and falls back to scalar code elsewhere. A path can be forced, so that every path
//! a CPU offers is tested and benchmarked on it: [`SimdPolicy::for_isa`] builds the policy of
//! one [`Isa`], refusing one the CPU (or this build) lacks, and the process-wide choice comes
//! from `--isa`, else the environment variable [`ISA_ENV`] (`scalar`, `avx2`, `avx512`), else
//! [`FORCE_SCALAR_ENV`]` = 1` (the older spelling of `scalar`), else the widest path.
//!
//! AVX-512: pulp's V4 path needs its `x86-v4` feature, which this crate's `avx512` feature
//! turns on, by default (the 512-bit kernels passed their tests on an AVX-512 machine). In a
//! build without it (`--no-default-features`), `avx512` is refused with that reason on a CPU
//! that has AVX-512, and with "this CPU has no avx512f" elsewhere.
//!
//! `emu512` runs the same generic kernel code with 16 lanes on any CPU, on pulp's portable
//! `Scalar512b` (arrays of 16 floats, each multiply-add a fused one, as V4's are). It is slow
//! and never the default; it exists so that every 16-lane code path (the AVX-512 register
//! tile, packing for NR = 32, 16-lane GAP tails and masks) is tested on machines without
//! AVX-512. The tests run it like any other path, and the report never times it. (pulp's
//! `V3_512b`, two AVX2 halves, would build faster and run faster, but in pulp 0.22.3 its masked
//! loads and stores put the second half 16 floats on instead of 8: the tests left outputs
//! unwritten with it, and such a store writes past the end of its slice.)

use std::sync::OnceLock;

use pulp::{Simd, WithSimd};

use crate::error::{NinError, Result};

/// Environment variable that, when set to `1`, makes the registry build every pulp kernel with
/// [`SimdPolicy::scalar()`] (the same as `NIN_BENCH_ISA=scalar`).
pub const FORCE_SCALAR_ENV: &str = "NIN_BENCH_FORCE_SCALAR";

/// Environment variable naming the ISA path to force: `scalar`, `avx2` or `avx512`.
pub const ISA_ENV: &str = "NIN_BENCH_ISA";

/// An instruction-set path of the pulp kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// pulp's portable scalar fallback: every CPU.
    Scalar,
    /// AVX2 + FMA, 8 floats per vector (pulp's V3).
    Avx2,
    /// AVX-512F, 16 floats per vector (pulp's V4).
    Avx512,
    /// 16 lanes emulated in portable code (pulp's `Scalar512b`): the 512-bit code paths on any
    /// CPU, for checking them; slow, never timed by the report.
    Emu512,
}

impl Isa {
    /// Every path: the hardware ones narrowest first, then the emulated one.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Emu512];

    /// The name used by `--isa` and [`ISA_ENV`].
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Emu512 => "emu512",
        }
    }

    /// Whether the path emulates its vectors in portable code (a check path, not a fast one).
    pub fn is_emulated(self) -> bool {
        self == Isa::Emu512
    }

    /// Parses `scalar`, `avx2`, `avx512` or `emu512` (any case).
    pub fn parse(text: &str) -> Result<Isa> {
        let wanted = text.trim().to_ascii_lowercase();
        Isa::ALL.into_iter().find(|isa| isa.name() == wanted).ok_or_else(|| NinError::Isa {
            asked: crate::error::shorten(text),
            reason: "not an ISA path; the paths are scalar, avx2, avx512, emu512".into(),
        })
    }

    /// `Ok` when this CPU and this build can run the path, else why not.
    pub fn check(self) -> std::result::Result<(), String> {
        match self {
            Isa::Scalar | Isa::Emu512 => Ok(()),
            Isa::Avx2 if cpu_has(&["avx2", "fma"]) => Ok(()),
            Isa::Avx2 => Err("this CPU has no avx2+fma".into()),
            Isa::Avx512 if v4_available() => Ok(()),
            Isa::Avx512 if cpu_has(&["avx512f"]) && cfg!(feature = "avx512") => {
                Err("this CPU has avx512f but not all of pulp's x86-64-v4 (F, BW, CD, DQ, VL)".into())
            }
            Isa::Avx512 if cpu_has(&["avx512f"]) => {
                Err("this build runs no AVX-512 code (build with the `avx512` feature, a default one)".into())
            }
            Isa::Avx512 => Err("this CPU has no avx512f".into()),
        }
    }

    /// The paths this CPU and build can run, narrowest first, the emulated one last.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.check().is_ok()).collect()
    }

    /// The hardware paths this CPU and build can run, narrowest first: the ones whose speed
    /// means something (the report probes and times only these).
    pub fn available_hardware() -> Vec<Isa> {
        Isa::available().into_iter().filter(|isa| !isa.is_emulated()).collect()
    }
}

/// Whether the CPU has every feature in `features`: `avx2`, `fma`, `avx512f` (any other name
/// is reported absent).
pub fn cpu_has(features: &[&str]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        features.iter().all(|f| match *f {
            "avx2" => std::arch::is_x86_feature_detected!("avx2"),
            "fma" => std::arch::is_x86_feature_detected!("fma"),
            "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
            _ => false,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = features;
        false
    }
}

/// Whether pulp's V4 (AVX-512) path exists in this build and runs on this CPU.
fn v4_available() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    {
        pulp::x86::V4::try_new().is_some()
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "avx512")))]
    {
        false
    }
}

/// Which instruction set the pulp kernels may use. Made by [`SimdPolicy::auto`],
/// [`SimdPolicy::scalar`], [`SimdPolicy::emulated_512`] (each runs on every CPU) or
/// [`SimdPolicy::for_isa`] (which refuses a path the CPU lacks), so that every policy that
/// exists can be dispatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SimdPolicy(Path);

/// The paths a policy may select; private, so that a forced hardware path exists only where
/// [`SimdPolicy::for_isa`] checked the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
enum Path {
    /// The best the CPU offers, detected at run time.
    #[default]
    Auto,
    /// pulp's portable scalar fallback, whatever the CPU.
    Scalar,
    /// AVX2+FMA forced.
    Avx2,
    /// AVX-512 forced (the `avx512` feature).
    Avx512,
    /// 16 lanes emulated in portable code ([`Isa::Emu512`]), whatever the CPU.
    Emulated512,
}

/// The policy `--isa` chose for this process, if it did.
static PROCESS_POLICY: OnceLock<SimdPolicy> = OnceLock::new();

impl SimdPolicy {
    /// The best path the CPU offers, detected at run time.
    pub const fn auto() -> Self {
        SimdPolicy(Path::Auto)
    }

    /// pulp's portable scalar fallback, whatever the CPU.
    pub const fn scalar() -> Self {
        SimdPolicy(Path::Scalar)
    }

    /// 16 lanes emulated in portable code ([`Isa::Emu512`]), whatever the CPU.
    pub const fn emulated_512() -> Self {
        SimdPolicy(Path::Emulated512)
    }

    /// Whether it runs 16 lanes emulated in portable code ([`SimdPolicy::emulated_512`]).
    pub fn is_emulated(self) -> bool {
        self.0 == Path::Emulated512
    }

    /// Whether this is the run-time choice of the widest path ([`SimdPolicy::auto`]).
    pub fn is_auto(self) -> bool {
        self.0 == Path::Auto
    }

    /// The policy that runs exactly `isa`, or an error naming what the CPU has.
    pub fn for_isa(isa: Isa) -> Result<SimdPolicy> {
        isa.check().map_err(|reason| NinError::Isa {
            asked: isa.name().into(),
            reason: format!(
                "{reason}; the paths available here are {}",
                Isa::available().iter().map(|i| i.name()).collect::<Vec<_>>().join(", ")
            ),
        })?;
        Ok(SimdPolicy(match isa {
            Isa::Scalar => Path::Scalar,
            Isa::Avx2 => Path::Avx2,
            Isa::Avx512 => Path::Avx512,
            Isa::Emu512 => Path::Emulated512,
        }))
    }

    /// The policy the environment asks for: [`ISA_ENV`], else [`FORCE_SCALAR_ENV`]` = 1`, else
    /// [`SimdPolicy::auto()`]; an error for an unknown or unavailable ISA.
    pub fn requested_by_env() -> Result<SimdPolicy> {
        match std::env::var(ISA_ENV) {
            Ok(isa) if !isa.trim().is_empty() => {
                SimdPolicy::for_isa(Isa::parse(&isa).map_err(|e| e.with_source(ISA_ENV))?)
                    .map_err(|e| e.with_source(ISA_ENV))
            }
            _ => Ok(match std::env::var(FORCE_SCALAR_ENV) {
                Ok(v) if v.trim() == "1" => SimdPolicy::scalar(),
                _ => SimdPolicy::auto(),
            }),
        }
    }

    /// Makes `policy` the one [`SimdPolicy::from_env`] returns for the rest of the process
    /// (what `--isa` does); the first call wins.
    pub fn select_for_process(policy: SimdPolicy) {
        let _ = PROCESS_POLICY.set(policy);
    }

    /// The process's policy: the one `--isa` selected, else [`SimdPolicy::requested_by_env`].
    /// An unknown or unavailable [`ISA_ENV`] is reported once on stderr and the widest path is
    /// used (the command line refuses it before this is reached).
    pub fn from_env() -> Self {
        if let Some(policy) = PROCESS_POLICY.get() {
            return *policy;
        }
        SimdPolicy::requested_by_env().unwrap_or_else(|e| {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| eprintln!("warning: {e}; using the widest path"));
            SimdPolicy::auto()
        })
    }

    /// Runs `op` with the instruction set this policy selects.
    #[inline(always)]
    pub fn dispatch<Op: WithSimd>(self, op: Op) -> Op::Output {
        match self.0 {
            Path::Auto => pulp::Arch::new().dispatch(op),
            Path::Scalar => Simd::vectorize(pulp::Scalar::new(), op),
            Path::Avx2 => avx2_dispatch(op),
            Path::Avx512 => avx512_dispatch(op),
            Path::Emulated512 => Simd::vectorize(pulp::Scalar512b, op),
        }
    }

    /// f32 lanes of the vector type this policy selects (16 with AVX-512 and emu512, 8 with
    /// AVX2, 1 for scalar).
    pub fn f32_lanes(self) -> usize {
        self.dispatch(Probe).lanes
    }

    /// A short name of the selected instruction set, e.g. `avx2+fma (pulp V3, runtime)`.
    pub fn isa_name(self) -> &'static str {
        // Cached per path: kernels check it on every run (it names the packing of their
        // prepared weights), and probing dispatches.
        static NAMES: [OnceLock<&'static str>; 5] = [const { OnceLock::new() }; 5];
        NAMES[self.0 as usize].get_or_init(|| self.probed_isa_name())
    }

    /// [`SimdPolicy::isa_name`], probed.
    fn probed_isa_name(self) -> &'static str {
        let probe = self.dispatch(Probe);
        match (probe.type_name.rsplit("::").next().unwrap_or(probe.type_name), self.0) {
            ("V3", Path::Avx2) => "avx2+fma (pulp V3, forced)",
            ("V3", _) => "avx2+fma (pulp V3, runtime)",
            ("V4", Path::Avx512) => "avx512 (pulp V4, forced)",
            ("V4", _) => "avx512 (pulp V4, runtime)",
            ("Scalar", Path::Scalar) => "scalar (pulp fallback, forced)",
            ("Scalar", _) => "scalar (pulp fallback)",
            ("Scalar512b", _) => "emu512 (pulp Scalar512b, 16 lanes emulated, forced)",
            // pulp's Arch::new() picks only the types above on x86-64.
            _ => "another pulp path",
        }
    }
}

/// The forced AVX2 path's dispatch: V3 exists only where [`SimdPolicy::for_isa`] checked it.
#[inline(always)]
fn avx2_dispatch<Op: WithSimd>(op: Op) -> Op::Output {
    #[cfg(target_arch = "x86_64")]
    if let Some(v3) = pulp::x86::V3::try_new() {
        return Simd::vectorize(v3, op);
    }
    unreachable!("a forced AVX2 policy exists only where SimdPolicy::for_isa found AVX2+FMA")
}

/// The forced AVX-512 path's dispatch: V4 exists only where [`SimdPolicy::for_isa`] checked it.
#[inline(always)]
fn avx512_dispatch<Op: WithSimd>(op: Op) -> Op::Output {
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    if let Some(v4) = pulp::x86::V4::try_new() {
        return Simd::vectorize(v4, op);
    }
    let _ = op;
    unreachable!("a forced AVX-512 policy exists only where SimdPolicy::for_isa found V4 in this build")
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
        assert_eq!(SimdPolicy::scalar().f32_lanes(), 1);
        assert!(SimdPolicy::scalar().isa_name().contains("forced"));
    }

    #[test]
    fn isa_names_parse_and_unavailable_paths_say_what_the_cpu_has() {
        assert_eq!(Isa::parse(" AVX2 ").unwrap(), Isa::Avx2);
        assert!(Isa::parse("sse9").unwrap_err().to_string().contains("scalar, avx2, avx512, emu512"));
        assert_eq!(SimdPolicy::for_isa(Isa::Scalar).unwrap(), SimdPolicy::scalar());
        assert!(Isa::available().contains(&Isa::Scalar));
        for isa in Isa::ALL {
            match (SimdPolicy::for_isa(isa), isa.check()) {
                (Ok(policy), Ok(())) => assert!(policy.f32_lanes() >= 1),
                (Err(e), Err(why)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(&why) && msg.contains("the paths available here are scalar"), "{msg}");
                    eprintln!("skipped: {why}");
                }
                (policy, why) => panic!("{isa:?}: {policy:?} but {why:?}"),
            }
        }
        if let Ok(avx2) = SimdPolicy::for_isa(Isa::Avx2) {
            assert_eq!(avx2.f32_lanes(), 8);
            assert!(avx2.isa_name().contains("forced"));
        }
    }

    #[test]
    fn auto_policy_uses_avx2_where_the_cpu_has_it() {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            assert!(SimdPolicy::auto().f32_lanes() >= 8);
            return;
        }
        eprintln!("SKIPPED: this CPU has no AVX2+FMA; only the scalar path is checked here");
        assert!(SimdPolicy::auto().f32_lanes() >= 1);
    }
}
