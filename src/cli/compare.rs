//! `nin-bench compare BASE.json NEW.json [--max-regression PCT]`: what moved between two
//! reports, judged on each row's fraction of its own machine's measured peak, so that two runs
//! on the same machine compare fairly even when the machine's speed drifts between them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use super::common::{CommandResult, Failure};
use crate::error::{NinError, shorten};

/// Arguments of `nin-bench compare`.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The baseline report.json.
    base: PathBuf,
    /// The new report.json.
    new: PathBuf,
    /// Largest drop, in percent of the baseline's peak fraction, that still passes (a finite
    /// number, 0 or more).
    #[arg(long, default_value_t = 10.0, value_name = "PCT", value_parser = super::common::parse_percent)]
    max_regression: f64,
    /// Pass even when some rows cannot be compared (a baseline row missing from the new
    /// report, a missing or non-finite peak fraction, an unknown kernel); they are still listed.
    #[arg(long)]
    allow_missing: bool,
    /// Compare reports of two different machines: their machine ids differ. Without it that is
    /// an error, since each row's fraction is of its own machine's peak.
    #[arg(long)]
    cross_machine: bool,
}

#[derive(Debug, Deserialize)]
struct ReportFile {
    machine: Machine,
    #[serde(default)]
    conv1x1: Vec<Row>,
    #[serde(default)]
    gap: Vec<Row>,
    #[serde(default)]
    mlpconv: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Machine {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Row {
    kernel: String,
    shape: String,
    threads: usize,
    #[serde(default)]
    peak_fraction: Option<f64>,
}

type Key = (String, String, usize);

/// A report's rows by kernel × problem × threads: the peak fraction, or `None` where the row
/// has none that can be compared (null, missing, not finite, not positive).
type Rows = BTreeMap<Key, Option<f64>>;

fn load(path: &Path) -> Result<(String, Rows), NinError> {
    let err = |reason: String| NinError::File { path: path.display().to_string(), reason };
    let text = crate::files::read_text(path, "report")?;
    let report: ReportFile =
        serde_json::from_str(&text).map_err(|e| err(format!("not a nin-bench report.json: {e}")))?;
    let rows = report
        .conv1x1
        .into_iter()
        .chain(report.gap)
        .chain(report.mlpconv)
        .map(|r| ((r.kernel, r.shape, r.threads), r.peak_fraction.filter(|f| f.is_finite() && *f > 0.0)))
        .collect();
    Ok((report.machine.id, rows))
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

/// A row that cannot be compared, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Uncomparable {
    pub key: Key,
    pub why: &'static str,
}

/// The outcome of matching two reports' rows.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    /// Rows both reports have, with a peak fraction in each.
    pub changes: Vec<Change>,
    /// Rows that should be compared and cannot be.
    pub uncomparable: Vec<Uncomparable>,
    /// Rows only the new report has (new kernels or problems): listed, not judged.
    pub only_new: Vec<Key>,
}

/// Matches the rows of `base` and `new`; `known` says whether a kernel or peer name exists.
pub(crate) fn diff(base: &Rows, new: &Rows, known: impl Fn(&str) -> bool) -> Diff {
    let mut out = Diff::default();
    for (key, &b) in base {
        let why = match (known(&key.0), b, new.get(key)) {
            (false, _, _) => "unknown kernel",
            (_, _, None) => "missing from the new report",
            (_, None, _) => "no peak fraction in the baseline",
            (_, _, Some(None)) => "no peak fraction in the new report",
            (true, Some(base), Some(Some(new))) => {
                out.changes.push(Change { key: key.clone(), base, new: *new });
                continue;
            }
        };
        out.uncomparable.push(Uncomparable { key: key.clone(), why });
    }
    for (key, &n) in new.iter().filter(|(k, _)| !base.contains_key(*k)) {
        match (known(&key.0), n) {
            (false, _) => out.uncomparable.push(Uncomparable { key: key.clone(), why: "unknown kernel" }),
            (true, None) => {
                out.uncomparable.push(Uncomparable { key: key.clone(), why: "no peak fraction in the new report" })
            }
            (true, Some(_)) => out.only_new.push(key.clone()),
        }
    }
    out
}

/// Every name a report row may carry: our kernels and the peers.
fn known_names() -> std::collections::BTreeSet<&'static str> {
    let kernels = crate::registry::all_kernel_info().into_iter().map(|k| k.name);
    kernels.chain(crate::peers::Peer::ALL.iter().map(|q| q.name())).collect()
}

fn describe(key: &Key) -> String {
    format!("{} {} {}t", shorten(&key.0), shorten(&key.1), key.2)
}

pub(crate) fn compare(args: CompareArgs) -> CommandResult {
    let ((base_id, base), (new_id, new)) = (load(&args.base)?, load(&args.new)?);
    if base_id != new_id {
        let what = format!("the reports come from two machines, '{}' and '{}'", shorten(&base_id), shorten(&new_id));
        if !args.cross_machine {
            return Err(NinError::Shape {
                what: "compare".into(),
                reason: format!("{what}; pass --cross-machine to compare them anyway"),
            }
            .into());
        }
        eprintln!("warning: {what}; each row is judged on its own machine's peak fraction");
    }
    let known = known_names();
    let Diff { mut changes, uncomparable, only_new } = diff(&base, &new, |name| known.contains(name));
    changes.sort_by(|a, b| a.percent().total_cmp(&b.percent()));
    if !changes.is_empty() {
        println!(
            "{:<14} {:<26} {:>7} {:>10} {:>10} {:>9}  verdict",
            "kernel", "problem", "threads", "base", "new", "change"
        );
    }
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
            shorten(&c.key.0),
            shorten(&c.key.1),
            c.key.2,
            100.0 * c.base,
            100.0 * c.new,
            c.percent()
        );
    }
    const SHOWN: usize = 10;
    if !uncomparable.is_empty() {
        let verdict = if args.allow_missing { "allowed by --allow-missing" } else { "FAIL" };
        println!("{} rows cannot be compared ({verdict}):", uncomparable.len());
        for u in uncomparable.iter().take(SHOWN) {
            println!("  {}: {}", describe(&u.key), u.why);
        }
        if uncomparable.len() > SHOWN {
            println!("  and {} more", uncomparable.len() - SHOWN);
        }
    }
    if !only_new.is_empty() {
        let shown: Vec<String> = only_new.iter().take(5).map(describe).collect();
        let more = if only_new.len() > 5 { format!(", and {} more", only_new.len() - 5) } else { String::new() };
        println!("{} rows only in the new report (not judged): {}{more}", only_new.len(), shown.join(", "));
    }
    if changes.is_empty() {
        return Err(NinError::Empty {
            what: "compare".into(),
            reason: "the two reports have no kernel × problem × threads row that can be compared".into(),
        }
        .into());
    }
    println!(
        "{} rows compared on fraction of peak; {regressions} regressed by more than {}%; {} cannot be compared",
        changes.len(),
        args.max_regression,
        uncomparable.len()
    );
    if regressions > 0 || (!uncomparable.is_empty() && !args.allow_missing) { Err(Failure::Mismatch) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(rows: &[(&str, Option<f64>)]) -> Rows {
        rows.iter().map(|&(k, f)| ((k.to_string(), "p".to_string(), 1), f)).collect()
    }

    #[test]
    fn diff_pairs_common_rows_and_lists_every_row_it_cannot_judge() {
        let base = rows(&[("a", Some(0.8)), ("b", Some(0.5)), ("c", None), ("d", Some(0.4)), ("ghost", Some(0.3))]);
        let new = rows(&[("a", Some(0.6)), ("c", Some(0.7)), ("d", None), ("e", Some(0.9)), ("f", None)]);
        let d = diff(&base, &new, |name| name != "ghost");
        assert_eq!(d.changes.len(), 1);
        assert!((d.changes[0].percent() + 25.0).abs() < 1e-9);
        let why: Vec<(&str, &str)> = d.uncomparable.iter().map(|u| (u.key.0.as_str(), u.why)).collect();
        assert_eq!(
            why,
            [
                ("b", "missing from the new report"),
                ("c", "no peak fraction in the baseline"),
                ("d", "no peak fraction in the new report"),
                ("ghost", "unknown kernel"),
                ("f", "no peak fraction in the new report"),
            ]
        );
        assert_eq!(d.only_new.len(), 1);
        assert_eq!(d.only_new[0].0, "e");
    }
}
