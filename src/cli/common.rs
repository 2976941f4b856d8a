//! What every subcommand shares: its result type and argument parsers.

use crate::error::NinError;

/// Most threads `--threads` accepts: far above the cores of any machine this suite runs on,
/// low enough that a typo cannot make the process start a hundred thousand of them.
pub const MAX_THREADS: usize = 1024;

/// Parses a percentage threshold: a finite number, 0 or more. `NaN` or `inf` would make every
/// comparison pass and so switch a gate off without a word.
pub(crate) fn parse_percent(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("must be a finite percentage, 0 or more, such as 10 or 2.5".to_string()),
    }
}

/// Parses a thread count, 1 to [`MAX_THREADS`].
pub(crate) fn parse_threads(text: &str) -> std::result::Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!("threads must be a whole number from 1 to {MAX_THREADS}")),
    }
}

/// Why a command did not succeed: bad input (exit 2) or a kernel that disagrees (exit 1).
pub(crate) enum Failure {
    Error(NinError),
    Mismatch,
}

impl From<NinError> for Failure {
    fn from(e: NinError) -> Self {
        Failure::Error(e)
    }
}

/// What a subcommand returns.
pub(crate) type CommandResult = std::result::Result<(), Failure>;

/// Pretty JSON of plain data.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("plain data serialises")
}
