//! The tester shared by the kernel tests: seeded data, the f64 reference, every registered
//! kernel, and a failure message that names the kernel, the problem and the first bad index.
#![allow(dead_code)] // each test binary uses its own part of this module

use assert_cmd::Command;
use nin_bench::reference::{self, Reference};
use nin_bench::registry::{conv1x1_kernels_with, gap_kernels_with};
use nin_bench::tensor::{AlignedBuf, seeded_uniform};
use nin_bench::{Conv1x1Kernel, Conv1x1Problem, GapKernel, GapProblem, SimdPolicy};

/// Environment variable that narrows the ISA paths the kernel tests run to a comma-separated
/// list (`scalar,avx2`): the gate's memcheck sets it, since emu512 under valgrind would take
/// many minutes and valgrind's subject is the AVX2 path.
pub const TEST_ISAS_ENV: &str = "NIN_BENCH_TEST_ISAS";

/// Every ISA path this CPU and build can run (scalar, AVX2, AVX-512, and emu512 everywhere),
/// each forced; a path it cannot run, or one left out by [`TEST_ISAS_ENV`], is named on stderr
/// ("skipped: this CPU has no avx512f").
pub fn policies() -> Vec<SimdPolicy> {
    let wanted = std::env::var(TEST_ISAS_ENV).ok().filter(|v| !v.trim().is_empty());
    nin_bench::simd::Isa::ALL
        .into_iter()
        .filter(|isa| match &wanted {
            Some(list) if !list.split(',').any(|name| name.trim() == isa.name()) => {
                eprintln!("skipped: ISA {} (not in {TEST_ISAS_ENV}={list})", isa.name());
                false
            }
            _ => true,
        })
        .filter_map(|isa| match SimdPolicy::for_isa(isa) {
            Ok(policy) => Some(policy),
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        })
        .collect()
}

/// Seeded inputs of one conv problem.
pub struct ConvData {
    pub input: AlignedBuf,
    pub weights: AlignedBuf,
    pub bias: Option<AlignedBuf>,
}

impl ConvData {
    pub fn new(p: &Conv1x1Problem, seed: u64) -> Self {
        ConvData {
            input: seeded_uniform(p.input_len(), seed),
            weights: seeded_uniform(p.weights_len(), seed ^ 0x5eed_0001),
            bias: p.bias.then(|| seeded_uniform(p.cout, seed ^ 0x5eed_0002)),
        }
    }

    pub fn reference(&self, p: &Conv1x1Problem) -> Reference {
        reference::conv1x1(p, &self.input, &self.weights, self.bias.as_deref())
    }
}

/// Runs `kernel` on `p` with `data`; returns its output.
pub fn run_conv(kernel: &dyn Conv1x1Kernel, p: &Conv1x1Problem, data: &ConvData) -> Vec<f32> {
    let prepared = kernel
        .prepare(p, &data.weights, data.bias.as_deref())
        .unwrap_or_else(|e| panic!("{} failed to prepare {p}: {e}", kernel.name()));
    // NaN-filled, so an output the kernel forgets to write cannot pass.
    let mut out = vec![f32::NAN; p.output_len()];
    kernel.run(p, &data.input, &prepared, &mut out).unwrap_or_else(|e| panic!("{} failed on {p}: {e}", kernel.name()));
    out
}

/// Checks one kernel on one problem against the reference.
pub fn check_conv(
    kernel: &dyn Conv1x1Kernel,
    p: &Conv1x1Problem,
    data: &ConvData,
    expected: &Reference,
) -> Result<(), String> {
    let got = run_conv(kernel, p, data);
    expected.check(&got).map_err(|m| format!("{} [{}] on {p}: {m}", kernel.name(), kernel.isa()))
}

/// Every registered conv kernel, under both ISA policies, on every problem; panics listing
/// every failure (kernel, problem, first bad index).
pub fn check_all_conv_kernels(problems: &[Conv1x1Problem], seed: u64) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, p) in problems.iter().enumerate() {
        let data = ConvData::new(p, seed + i as u64);
        let expected = data.reference(p);
        for policy in policies() {
            for kernel in conv1x1_kernels_with(policy) {
                checked += 1;
                if let Err(e) = check_conv(kernel.as_ref(), p, &data, &expected) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} checks failed:\n{}", failures.len(), failures.join("\n"));
}

/// Runs `kernel` on a GAP problem; returns its output.
pub fn run_gap(kernel: &dyn GapKernel, p: &GapProblem, input: &[f32]) -> Vec<f32> {
    let mut out = vec![f32::NAN; p.output_len()];
    kernel.run(p, input, &mut out).unwrap_or_else(|e| panic!("{} failed on {p}: {e}", kernel.name()));
    out
}

/// Every registered GAP kernel, under both ISA policies, on every problem.
pub fn check_all_gap_kernels(problems: &[GapProblem], seed: u64) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, p) in problems.iter().enumerate() {
        let input = seeded_uniform(p.input_len(), seed + i as u64);
        let expected = reference::gap(p, &input);
        for policy in policies() {
            for kernel in gap_kernels_with(policy) {
                checked += 1;
                let got = run_gap(kernel.as_ref(), p, &input);
                if let Err(m) = expected.check(&got) {
                    failures.push(format!("{} [{}] on {p}: {m}", kernel.name(), kernel.info().isa));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} checks failed:\n{}", failures.len(), failures.join("\n"));
}

/// Parses a list of problem strings (test inputs are always valid).
pub fn problems<P: std::str::FromStr<Err = nin_bench::NinError>>(strings: &[&str]) -> Vec<P> {
    strings.iter().map(|s| s.parse().unwrap_or_else(|e| panic!("bad test problem {s}: {e}"))).collect()
}

/// Runs a chain `kernel` on `p` with `data`; returns its output (NaN-filled before the run).
pub fn run_mlpconv(
    kernel: &dyn nin_bench::MlpconvKernel,
    p: &nin_bench::MlpconvProblem,
    data: &nin_bench::measure::ChainData,
) -> Vec<f32> {
    let prepared = kernel
        .prepare(p, &data.weight_slices(), &data.bias_slices())
        .unwrap_or_else(|e| panic!("{} failed to prepare {p}: {e}", kernel.name()));
    let mut out = vec![f32::NAN; p.output_len()];
    kernel.run(p, &data.input, &prepared, &mut out).unwrap_or_else(|e| panic!("{} failed on {p}: {e}", kernel.name()));
    out
}

/// Every registered chain kernel, under both ISA policies, on every problem, against the
/// chain reference (whose bound carries each layer's error into the next).
pub fn check_all_mlpconv_kernels(problems: &[nin_bench::MlpconvProblem], seed: u64) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, p) in problems.iter().enumerate() {
        let data = nin_bench::measure::ChainData::seeded(p, seed + 10 * i as u64);
        let expected = data.reference(p);
        for policy in policies() {
            for kernel in nin_bench::registry::mlpconv_kernels_with(policy) {
                checked += 1;
                let got = run_mlpconv(kernel.as_ref(), p, &data);
                if let Err(m) = expected.check(&got) {
                    failures.push(format!("{} [{}] on {p}: {m}", kernel.name(), kernel.isa()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} checks failed:\n{}", failures.len(), failures.join("\n"));
}

// The built binary, for the command-line tests.

/// The `nin-bench` binary of this build.
pub fn nin_bench() -> Command {
    Command::cargo_bin("nin-bench").expect("binary built")
}

/// Runs with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = nin_bench().args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Asserts a bad-input failure: exit 2, one line on stderr containing `needle`, no panic.
pub fn assert_bad_input(args: &[&str], needle: &str) {
    let (code, _, stderr) = run(args);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: expected '{needle}' in: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: not one line: {stderr}");
}

/// A private character device node in `dir` (major 1: the kernel's memory devices, minor 3
/// /dev/null, 7 /dev/full), or `None`, said loudly, where this process may not make or open
/// one (not root, or a folder on a `nodev` mount). The real /dev/null is never touched.
pub fn private_device(dir: &std::path::Path, name: &str, minor: u32) -> Option<std::path::PathBuf> {
    let path = dir.join(name);
    let c_path = std::ffi::CString::new(path.to_str()?).ok()?;
    // SAFETY: a valid NUL-terminated path; mknod only creates a node in the test's temp folder.
    let made = unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, minor)) } == 0;
    if !made || std::fs::OpenOptions::new().write(true).open(&path).is_err() {
        eprintln!("skipped: cannot make or open a private character device here (needs root and a dev mount)");
        return None;
    }
    Some(path)
}
