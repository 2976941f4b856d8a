//! `nin-bench gate`: compares the gate benchmark's instruction counts with the baseline.

use std::path::PathBuf;

use clap::Args;

use super::common::{CommandResult, Failure};
use crate::error::NinError;
use crate::gate::{Counts, DEFAULT_MAX_INCREASE_PCT, compare, read_counts};

/// Arguments of `nin-bench gate`.
#[derive(Debug, Args)]
pub(crate) struct GateArgs {
    /// Where `cargo bench --bench gate` left its callgrind outputs (`<target>/gate`).
    #[arg(long, value_name = "DIR", default_value = "target/gate")]
    counts: PathBuf,
    /// The committed baseline.
    #[arg(long, value_name = "FILE", default_value = "results/gate/baseline.json")]
    baseline: PathBuf,
    /// Fail when a case's instruction count grows by more than this many percent.
    #[arg(long, value_name = "PCT", default_value_t = DEFAULT_MAX_INCREASE_PCT, value_parser = super::common::parse_percent)]
    max_increase: f64,
    /// Write the new counts as the baseline instead of comparing (after an intended change).
    #[arg(long)]
    update: bool,
}

/// The toolchain and the ISA path the counts were taken with (the path the gate bench recorded
/// under valgrind, not this process's).
fn measured_with(counts: &std::path::Path) -> String {
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc unknown".into());
    let isa = std::fs::read_to_string(counts.join(crate::gate::ISA_FILE_NAME))
        .map(|isa| isa.trim().to_string())
        .unwrap_or_else(|_| "not recorded".into());
    format!("{rustc}; pulp path under valgrind {isa}")
}

pub(crate) fn gate(args: GateArgs) -> CommandResult {
    let new = read_counts(&args.counts, measured_with(&args.counts))?;
    let file_err = |reason: String| NinError::File { path: args.baseline.display().to_string(), reason };
    if args.update {
        if let Some(dir) = args.baseline.parent() {
            std::fs::create_dir_all(dir).map_err(|e| file_err(format!("cannot create its folder: {e}")))?;
        }
        let json = serde_json::to_string_pretty(&new).expect("plain data serialises") + "\n";
        std::fs::write(&args.baseline, json).map_err(|e| file_err(format!("cannot write: {e}")))?;
        println!("gate: wrote {} cases to {}", new.cases.len(), args.baseline.display());
        return Ok(());
    }
    let text = crate::files::read_text(&args.baseline, "the gate baseline")?;
    let base: Counts = serde_json::from_str(&text).map_err(|e| file_err(format!("not a gate baseline: {e}")))?;
    let rows = compare(&base, &new);
    println!("{:<40} {:>14} {:>14} {:>9}  verdict", "case (kernel problem)", "baseline Ir", "new Ir", "change");
    let mut failures = 0;
    for row in &rows {
        let fails = row.fails(args.max_increase);
        failures += usize::from(fails);
        let change = row.percent().map_or("new".to_string(), |p| format!("{p:+.2}%"));
        let verdict = match (fails, row.base) {
            (true, None) => "FAIL: not in the baseline",
            (true, Some(_)) => "FAIL: more instructions",
            (false, _) if row.percent().is_some_and(|p| p < -args.max_increase) => "fewer (update the baseline?)",
            _ => "ok",
        };
        let base = row.base.map_or("-".to_string(), |b| b.to_string());
        println!("{:<40} {:>14} {:>14} {:>9}  {verdict}", row.case, base, row.new, change);
    }
    let missing: Vec<&String> = base.cases.keys().filter(|c| !new.cases.contains_key(*c)).collect();
    if !missing.is_empty() {
        println!(
            "in the baseline but no longer measured: {}",
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    println!(
        "gate: {} cases, {failures} failed (threshold +{}% instructions; baseline measured with {})",
        rows.len(),
        args.max_increase,
        base.measured_with
    );
    if failures > 0 { Err(Failure::Mismatch) } else { Ok(()) }
}
