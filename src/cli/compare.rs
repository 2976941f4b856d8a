//! `nin-bench compare BASE.json NEW.json [--max-regression PCT]`: what moved between two
//! reports, judged on each row's fraction of its own machine's measured peak, so that two runs
//! on the same machine compare fairly even when the machine's speed drifts between them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use super::{CommandResult, Failure};
use crate::error::NinError;

/// Arguments of `nin-bench compare`.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The baseline report.json.
    base: PathBuf,
    /// The new report.json.
    new: PathBuf,
    /// Largest drop, in percent of the baseline's peak fraction, that still passes.
    #[arg(long, default_value_t = 10.0, value_name = "PCT")]
    max_regression: f64,
}

#[derive(Debug, Deserialize)]
struct ReportFile {
    #[serde(default)]
    conv1x1: Vec<Row>,
    #[serde(default)]
    gap: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Row {
    kernel: String,
    shape: String,
    threads: usize,
    peak_fraction: Option<f64>,
}

type Key = (String, String, usize);

fn load(path: &Path) -> Result<BTreeMap<Key, f64>, NinError> {
    let err = |reason: String| NinError::File { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let report: ReportFile =
        serde_json::from_str(&text).map_err(|e| err(format!("not a nin-bench report.json: {e}")))?;
    Ok(report
        .conv1x1
        .into_iter()
        .chain(report.gap)
        .filter_map(|r| r.peak_fraction.map(|f| ((r.kernel, r.shape, r.threads), f)))
        .collect())
}

/// One compared row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub key: Key,
    pub base: f64,
    pub new: f64,
}

impl Change {
    /// Relative change of the peak fraction, in percent (negative = slower).
    pub fn percent(&self) -> f64 {
        100.0 * (self.new / self.base - 1.0)
    }
}

/// Rows present in both, and the keys present in only one.
pub(crate) fn diff(base: &BTreeMap<Key, f64>, new: &BTreeMap<Key, f64>) -> (Vec<Change>, Vec<Key>, Vec<Key>) {
    let changes =
        base.iter().filter_map(|(k, &b)| new.get(k).map(|&n| Change { key: k.clone(), base: b, new: n })).collect();
    let only_base = base.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let only_new = new.keys().filter(|k| !base.contains_key(*k)).cloned().collect();
    (changes, only_base, only_new)
}

pub(crate) fn compare(args: CompareArgs) -> CommandResult {
    let (base, new) = (load(&args.base)?, load(&args.new)?);
    let (mut changes, only_base, only_new) = diff(&base, &new);
    if changes.is_empty() {
        return Err(NinError::Shape {
            what: "compare".into(),
            reason: "the two reports have no kernel × problem × threads row in common".into(),
        }
        .into());
    }
    changes.sort_by(|a, b| a.percent().total_cmp(&b.percent()));
    println!(
        "{:<14} {:<26} {:>7} {:>10} {:>10} {:>9}  verdict",
        "kernel", "problem", "threads", "base", "new", "change"
    );
    let mut regressions = 0;
    for c in &changes {
        let regressed = c.percent() < -args.max_regression;
        regressions += usize::from(regressed);
        let verdict = if regressed {
            "REGRESSION"
        } else if c.percent() > args.max_regression {
            "faster"
        } else {
            ""
        };
        println!(
            "{:<14} {:<26} {:>7} {:>9.1}% {:>9.1}% {:>+8.1}%  {verdict}",
            c.key.0,
            c.key.1,
            c.key.2,
            100.0 * c.base,
            100.0 * c.new,
            c.percent()
        );
    }
    for (what, keys) in [("only in the baseline", &only_base), ("only in the new report", &only_new)] {
        if !keys.is_empty() {
            let shown: Vec<String> = keys.iter().take(5).map(|k| format!("{} {} {}t", k.0, k.1, k.2)).collect();
            let more = if keys.len() > 5 { format!(", and {} more", keys.len() - 5) } else { String::new() };
            println!("{} rows {what} (not compared): {}{more}", keys.len(), shown.join(", "));
        }
    }
    println!(
        "{} rows compared on fraction of peak; {regressions} regressed by more than {}%",
        changes.len(),
        args.max_regression
    );
    if regressions > 0 { Err(Failure::Mismatch) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(rows: &[(&str, f64)]) -> BTreeMap<Key, f64> {
        rows.iter().map(|&(k, f)| ((k.to_string(), "p".to_string(), 1), f)).collect()
    }

    #[test]
    fn diff_pairs_common_rows_and_lists_the_rest() {
        let (changes, only_base, only_new) = diff(&map(&[("a", 0.8), ("b", 0.5)]), &map(&[("a", 0.6), ("c", 0.9)]));
        assert_eq!(changes.len(), 1);
        assert!((changes[0].percent() + 25.0).abs() < 1e-9);
        assert_eq!(only_base[0].0, "b");
        assert_eq!(only_new[0].0, "c");
    }
}
