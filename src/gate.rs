//! The regression gate: instruction counts of every registered kernel on a few fixed NIN
//! problems, measured by valgrind's callgrind (`benches/gate.rs` runs each case under it),
//! compared with a committed baseline (`results/gate/baseline.json`).
//!
//! Instruction counts are deterministic for a given binary, input and CPU feature set, so the
//! gate cannot be fooled by a noisy machine: an unchanged kernel gives the same count, a slower
//! code path gives a higher one. A case whose count grows by more than the threshold (3% by
//! default) fails the gate. Counts depend on the toolchain and on the ISA pulp selects, so the
//! baseline belongs to this project's machine kind and Rust version; after an intended change
//! (a new kernel, a new Rust release) it is updated on purpose with `scripts/gate.sh --update`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{NinError, Result};
use crate::kernel::Op;
use crate::registry::Registry;

/// 1×1 convolutions of the gate: small NIN layers (CIFAR-10 class maps, a 96-channel cccp
/// layer, an NHWC layer, a 6×6 map as in NIN-ImageNet's last block, tiled by pixel rows, its
/// Cin across two K blocks), each well under a second under callgrind, even for `naive`.
pub const CONV_PROBLEMS: [&str; 4] =
    ["1x192x8x8:10,relu", "1x96x12x12:96,relu", "1x64x8x8:64,relu,nhwc", "1x300x6x6:64,relu"];
/// GAP problems of the gate: NIN-ImageNet's class maps, and a small NHWC batch.
pub const GAP_PROBLEMS: [&str; 2] = ["1x1000x6x6", "4x64x7x7,nhwc"];
/// Chains of the gate: a NIN micro-network on a small map, and NIN-CIFAR10's fused head.
pub const MLPCONV_PROBLEMS: [&str; 2] = ["1x96x12x12:96:96", "1x192x8x8:10,gap"];
/// Int8 convolutions of the gate: NIN-CIFAR10's class maps, a 96-channel cccp layer, an NHWC
/// layer (tiles of channel vectors, reading the input in place), and a 5×5 map, whose 25
/// pixels fill rows of channel vectors better than vectors of pixels (so NCHW takes channel
/// vectors, their bytes transposed).
pub const QCONV_PROBLEMS: [&str; 4] =
    ["1x192x8x8:10,u8s8", "1x96x12x12:96,u8s8", "1x64x8x8:64,u8s8,nhwc", "1x256x5x5:64,u8s8"];
/// Int8 GAPs of the gate: NIN-ImageNet's class maps, and a batch in NHWC.
pub const QGAP_PROBLEMS: [&str; 2] = ["1x1000x6x6,u8", "8x192x8x8,u8,nhwc"];
/// Default threshold: an increase of more than this many percent fails.
pub const DEFAULT_MAX_INCREASE_PCT: f64 = 3.0;

/// Every built-in kernel × its operation's gate problems ([`cases_of`] the environment's
/// registry), in the order the gate benchmark numbers them (`case_0`, `case_1`, ...).
pub fn cases() -> Vec<String> {
    cases_of(&Registry::from_env())
}

/// Every kernel of `registry` × its operation's gate problems, as "kernel problem", conv, then
/// GAP, then chains.
pub fn cases_of(registry: &Registry) -> Vec<String> {
    registry
        .all()
        .flat_map(|k| {
            let problems: &[&str] = match k.info().op {
                Op::Conv1x1 => &CONV_PROBLEMS,
                Op::Gap => &GAP_PROBLEMS,
                Op::Mlpconv => &MLPCONV_PROBLEMS,
                Op::QConv1x1 => &QCONV_PROBLEMS,
                Op::QGap => &QGAP_PROBLEMS,
            };
            problems.iter().map(move |p| format!("{} {p}", k.name()))
        })
        .collect()
}

/// Instruction counts per case, as stored in the baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// What was counted.
    pub event: String,
    /// `rustc --version` and ISA the counts were taken with (information for people).
    pub measured_with: String,
    /// Instructions per "kernel problem" case.
    pub cases: BTreeMap<String, u64>,
}

/// The file in the gate's folder naming the ISA path the counted cases ran (under valgrind).
pub const ISA_FILE_NAME: &str = "isa.txt";

/// The name of case `index`'s callgrind output in the gate's folder.
pub fn count_file_name(index: usize) -> String {
    format!("case_{index}.callgrind")
}

/// The instructions counted in one callgrind output: its `totals:` line (the events counted
/// while collection was on; the gate counts `Ir` only).
pub fn callgrind_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Reads the counts the gate benchmark wrote under `dir` (`<dir>/case_<i>.callgrind`), naming
/// each by [`cases`].
pub fn read_counts(dir: &Path, measured_with: String) -> Result<Counts> {
    let mut counts = BTreeMap::new();
    for (i, case) in cases().into_iter().enumerate() {
        let path = dir.join(count_file_name(i));
        if !path.exists() {
            return Err(NinError::file(&path, format!("no gate result for '{case}'; did the gate benchmark run?")));
        }
        let text = crate::files::read_text(&path, "callgrind output")?;
        let ir = callgrind_total(&text).ok_or_else(|| NinError::file(&path, "no callgrind totals line in it"))?;
        counts.insert(case, ir);
    }
    Ok(Counts { event: "Ir (callgrind instructions executed)".into(), measured_with, cases: counts })
}

/// One case of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct GateRow {
    /// "kernel problem".
    pub case: String,
    /// Baseline count, if the baseline has the case.
    pub base: Option<u64>,
    /// New count.
    pub new: u64,
}

impl GateRow {
    /// Change in percent, if there is a baseline.
    pub fn percent(&self) -> Option<f64> {
        self.base.map(|b| 100.0 * (self.new as f64 / b as f64 - 1.0))
    }

    /// Whether this case fails the gate: above the threshold, or missing from the baseline.
    pub fn fails(&self, max_increase_pct: f64) -> bool {
        self.percent().is_none_or(|p| p > max_increase_pct)
    }
}

/// Pairs every new count with its baseline.
pub fn compare(base: &Counts, new: &Counts) -> Vec<GateRow> {
    new.cases
        .iter()
        .map(|(case, &n)| GateRow { case: case.clone(), base: base.cases.get(case).copied(), new: n })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(rows: &[(&str, u64)]) -> Counts {
        Counts {
            event: "Ir".into(),
            measured_with: "test".into(),
            cases: rows.iter().map(|&(c, n)| (c.to_string(), n)).collect(),
        }
    }

    #[test]
    fn a_case_fails_above_the_threshold_or_without_a_baseline() {
        let rows = compare(&counts(&[("a", 1000), ("b", 1000)]), &counts(&[("a", 1031), ("b", 1029), ("c", 5)]));
        let verdicts: Vec<bool> = rows.iter().map(|r| r.fails(3.0)).collect();
        assert_eq!(verdicts, vec![true, false, true]);
        assert!((rows[1].percent().unwrap() - 2.9).abs() < 1e-9);
        assert_eq!(rows[2].percent(), None);
    }

    #[test]
    fn the_total_comes_from_callgrinds_totals_line() {
        let out = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=(1) f\n3 120\n\ntotals: 38455\n";
        assert_eq!(callgrind_total(out), Some(38455));
        assert_eq!(callgrind_total("events: Ir\nsummary: 1\n"), None);
    }

    #[test]
    fn cases_cover_every_registered_kernel_with_its_operations_problems() {
        let cases = cases();
        for k in Registry::from_env().all() {
            let count = cases.iter().filter(|c| c.starts_with(&format!("{} ", k.name()))).count();
            let expected = match k.info().op {
                Op::Conv1x1 => CONV_PROBLEMS.len(),
                Op::Gap => GAP_PROBLEMS.len(),
                Op::Mlpconv => MLPCONV_PROBLEMS.len(),
                Op::QConv1x1 => QCONV_PROBLEMS.len(),
                Op::QGap => QGAP_PROBLEMS.len(),
            };
            assert_eq!(count, expected, "{}", k.name());
        }
    }
}
