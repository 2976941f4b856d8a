//! The memory budget: what a command will allocate, worked out from its problems before any
//! allocation, against what the machine has available (or `--max-memory`).
//!
//! A problem string such as `1x100000x100000x100000:7` is valid (every length fits the address
//! space) but asks for petabytes; without this check the first allocation aborts the process.
//! The estimates are upper bounds of what the command holds at its peak: the seeded data, each
//! kernel's output and packed weights, a copy of the input for packing or im2col, and for
//! `verify` the f64 reference (value and error bound per output).

use std::fmt;

use crate::error::{NinError, Result};
use crate::problem::{Conv1x1Problem, GapProblem, MlpconvProblem, Problem, QConv1x1Problem, QGapProblem};

/// How many bytes commands may allocate, and where that figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Bytes allowed.
    pub limit: u64,
    /// Whether the limit was given with `--max-memory` (else it is the machine's available
    /// memory).
    pub from_flag: bool,
}

impl MemoryBudget {
    /// `--max-memory` when given, else the memory the machine has available now.
    pub fn new(max_memory: Option<u64>) -> Self {
        match max_memory {
            Some(limit) => Self { limit, from_flag: true },
            None => Self { limit: available_memory().unwrap_or(u64::MAX), from_flag: false },
        }
    }

    /// An error naming `what` and both figures when `needed` exceeds the budget.
    pub fn check(&self, what: impl fmt::Display, needed: u64) -> Result<()> {
        if needed <= self.limit {
            Ok(())
        } else {
            Err(NinError::Memory { what: what.to_string(), needed, available: self.limit, from_flag: self.from_flag })
        }
    }
}

/// The memory this process may still allocate: `MemAvailable` of /proc/meminfo, or less where
/// a cgroup (v2) limit leaves less. `None` where neither can be read (not Linux).
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let available = kib.saturating_mul(1024);
    let read = |f: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).ok()?.trim().parse::<u64>().ok();
    match (read("memory.max"), read("memory.current")) {
        (Some(max), Some(current)) => Some(available.min(max.saturating_sub(current))),
        _ => Some(available),
    }
}

/// Bytes of `elements` f32 values.
fn f32s(elements: usize) -> u64 {
    4u64.saturating_mul(elements as u64)
}

/// Bytes of `elements` f64 values.
fn f64s(elements: usize) -> u64 {
    8u64.saturating_mul(elements as u64)
}

/// Packed weights: Cout rounded up to a register tile (at most 16 rows) for every input
/// channel, and the bias padded alike.
fn packed(cout: usize, cin: usize) -> u64 {
    f32s(cout.saturating_add(16)).saturating_mul(cin.saturating_add(1) as u64)
}

fn sum(parts: impl IntoIterator<Item = u64>) -> u64 {
    parts.into_iter().fold(0u64, u64::saturating_add)
}

fn conv_bytes(p: &Conv1x1Problem, runners: u64, verify: bool) -> u64 {
    let data = f32s(p.input_len() + p.weights_len() + p.bias_len());
    // Per runner: its output, its packed weights, and at most one input-sized copy (im2col of
    // a strided input, panels copied for packing).
    let per_runner = sum([f32s(p.output_len()), packed(p.cout, p.cin), f32s(p.input_len())]);
    // The reference: value and bound in f64, before and after the epilogue.
    let reference = if verify { 2u64.saturating_mul(f64s(2 * p.output_len())) } else { 0 };
    sum([data, per_runner.saturating_mul(runners), reference])
}

fn qconv_bytes(p: &QConv1x1Problem, runners: u64, verify: bool) -> u64 {
    let c = p.conv();
    // Bytes of u8 input, s8 weights, i32 bias and f32 multipliers.
    let data = sum([c.input_len() as u64, c.weights_len() as u64, 8u64.saturating_mul(c.cout as u64)]);
    // Per runner: its u8 output, its i32 accumulators, its packed weights (padded to whole
    // panels and groups of 4: at most twice the weights and 32 more channels).
    let packed = 2u64.saturating_mul(c.weights_len() as u64).saturating_add(32 * 4 * c.cin.div_ceil(4) as u64);
    let per_runner = sum([5u64.saturating_mul(c.output_len() as u64), packed]);
    // The reference: accumulators (i32) and outputs (u8).
    let reference = if verify { 5u64.saturating_mul(c.output_len() as u64) } else { 0 };
    sum([data, per_runner.saturating_mul(runners), reference])
}

fn qgap_bytes(p: &QGapProblem, runners: u64, verify: bool) -> u64 {
    let g = p.gap();
    // Per runner: its u8 output and its i32 sums; the reference's are the same size.
    let per_runner = 5u64.saturating_mul(g.output_len() as u64);
    let reference = if verify { per_runner } else { 0 };
    sum([g.input_len() as u64, per_runner.saturating_mul(runners), reference])
}

fn gap_bytes(p: &GapProblem, runners: u64, verify: bool) -> u64 {
    let reference = if verify { f64s(2 * p.output_len()) } else { 0 };
    sum([f32s(p.input_len()), f32s(p.output_len()).saturating_mul(runners), reference])
}

fn chain_bytes(p: &MlpconvProblem, runners: u64, verify: bool) -> u64 {
    let layers: Vec<Conv1x1Problem> = p.layers().filter_map(|l| l.ok()).collect();
    let params = sum(layers.iter().map(|l| f32s(l.weights_len() + l.bias_len())));
    let packed_params = sum(layers.iter().map(|l| packed(l.cout, l.cin)));
    // The unfused chain writes every layer's output in full.
    let activations = sum(layers.iter().map(|l| f32s(l.output_len())));
    let per_runner = sum([packed_params, activations, f32s(p.output_len())]);
    // The reference holds value and bound in f64 for the input and each layer's output.
    let reference = if verify {
        sum([f64s(2 * p.input_len()), 2u64.saturating_mul(sum(layers.iter().map(|l| f64s(l.output_len()))))])
    } else {
        0
    };
    sum([f32s(p.input_len()), params, per_runner.saturating_mul(runners), reference])
}

/// Bytes `verify` holds at its peak on `problem`: the seeded data, the f64 reference, and one
/// kernel's output and packed weights at a time.
pub fn verify_bytes(problem: &Problem) -> u64 {
    match problem {
        Problem::Conv1x1(p) => conv_bytes(p, 1, true),
        Problem::Gap(p) => gap_bytes(p, 1, true),
        Problem::Mlpconv(p) => chain_bytes(p, 1, true),
        Problem::QConv1x1(p) => qconv_bytes(p, 1, true),
        Problem::QGap(p) => qgap_bytes(p, 1, true),
    }
}

/// Bytes running `runners` kernels side by side on `problem` holds (2 for a pair timed in
/// turn): the seeded data, and each runner's output and packed weights.
pub fn timing_bytes(problem: &Problem, runners: u64) -> u64 {
    match problem {
        Problem::Conv1x1(p) => conv_bytes(p, runners, false),
        Problem::Gap(p) => gap_bytes(p, runners, false),
        Problem::Mlpconv(p) => chain_bytes(p, runners, false),
        Problem::QConv1x1(p) => qconv_bytes(p, runners, false),
        Problem::QGap(p) => qgap_bytes(p, runners, false),
    }
}

/// Parses a size for `--max-memory`: bytes, or a number with a unit `K`, `M`, `G`, `T` (powers
/// of 1024; `KiB`, `KB`, `k` and lower case are read the same), such as `512M` or `1.5G`.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 =
        number.parse().map_err(|_| format!("'{}' is not a size such as 512M or 2G", crate::error::shorten(text)))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("unknown unit '{}' (use K, M, G or T)", crate::error::shorten(other))),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(format!("'{}' is not a size between 1 byte and 16 EiB", crate::error::shorten(text)));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_and_refuse_nonsense() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        for bad in ["", "-1G", "0", "NaN", "inf", "1e400", "12Q", "G", "1.2.3M"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_petabyte_problem_is_refused_naming_both_figures() {
        let p: Problem = "1x100000x100000x100000:7".parse().unwrap();
        let budget = MemoryBudget { limit: 23 << 30, from_flag: false };
        let err = budget.check(p, verify_bytes(&p)).unwrap_err().to_string();
        assert!(err.starts_with("1x100000x100000x100000:7 needs "), "{err}");
        assert!(err.contains("PiB") && err.ends_with("this machine has 23.0 GiB available"), "{err}");
        let flag = MemoryBudget { limit: 1 << 20, from_flag: true };
        let err = flag.check("x", 2 << 20).unwrap_err().to_string();
        assert_eq!(err, "x needs 2.00 MiB; --max-memory allows 1.00 MiB");
    }

    #[test]
    fn estimates_cover_the_buffers_and_grow_with_each_runner() {
        let conv: Problem = "2x64x10x10:32".parse().unwrap();
        let Problem::Conv1x1(p) = conv else { unreachable!() };
        let buffers = f32s(p.input_len() + p.weights_len() + p.bias_len() + p.output_len());
        assert!(verify_bytes(&conv) > buffers + f64s(2 * p.output_len()));
        assert!(timing_bytes(&conv, 2) > timing_bytes(&conv, 1));
        let chain: Problem = "1x1000x200x200:1000:1000".parse().unwrap();
        // Two intermediate maps of 1000×200×200 floats: 320 MB at least.
        assert!(verify_bytes(&chain) > 320_000_000);
        let gap: Problem = "8x10x100x100".parse().unwrap();
        assert!(verify_bytes(&gap) >= 4 * 8 * 10 * 100 * 100);
    }

    #[test]
    fn the_machine_reports_some_available_memory() {
        let available = available_memory().expect("Linux has /proc/meminfo");
        assert!(available > 1 << 20, "{available}");
    }
}
