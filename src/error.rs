//! The crate's one error type.
//!
//! Every public entry point checks shapes and lengths once, at the API boundary, and returns one
//! of these instead of panicking. A kernel that returns an error has not written to its output.

use thiserror::Error;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, NinError>;

/// What can go wrong when describing, preparing or running a problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NinError {
    /// A problem string could not be parsed.
    #[error("invalid problem string '{input}': {reason} (expected {expected})")]
    Parse {
        /// The string as given.
        input: String,
        /// What is wrong with it.
        reason: String,
        /// The accepted format, for the message.
        expected: &'static str,
    },
    /// A dimension that must be at least 1 is zero.
    #[error("dimension {name} is zero; every dimension must be at least 1")]
    ZeroDimension {
        /// Which dimension (`N`, `C`, `H`, `W`, `K`, `stride`).
        name: &'static str,
    },
    /// The product of the dimensions does not fit in memory addressing.
    #[error("the dimensions overflow: {what} does not fit in the address space")]
    Overflow {
        /// Which product overflowed.
        what: &'static str,
    },
    /// A buffer has the wrong number of elements.
    #[error("{what} has {actual} elements, but the problem {problem} needs {expected}")]
    BufferLength {
        /// Which buffer (`input`, `output`, `weights`, `bias`).
        what: &'static str,
        /// The problem string.
        problem: String,
        /// Elements needed.
        expected: usize,
        /// Elements given.
        actual: usize,
    },
    /// Bias given to a problem without bias, or missing from one with bias.
    #[error("bias mismatch for {problem}: {reason}")]
    Bias {
        /// The problem string.
        problem: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The kernel cannot run this problem (layout, stride, ...).
    #[error("kernel {kernel} does not support {problem}: {reason}")]
    Unsupported {
        /// Kernel name.
        kernel: &'static str,
        /// The problem string.
        problem: String,
        /// What is not supported.
        reason: String,
    },
    /// Prepared weights passed to a kernel or problem other than the one they were made for.
    #[error(
        "weights prepared by {prepared_by} for {prepared_for} cannot run on kernel {kernel} with problem {problem}"
    )]
    PreparedMismatch {
        /// Kernel that prepared the weights.
        prepared_by: &'static str,
        /// Problem they were prepared for.
        prepared_for: String,
        /// Kernel asked to run.
        kernel: &'static str,
        /// Problem asked for.
        problem: String,
    },
    /// A file could not be read or written, or is not a valid f32 C-order .npy file.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Tensors given on the command line do not fit together.
    #[error("{what}: {reason}")]
    Shape {
        /// Which tensor.
        what: String,
        /// What does not fit.
        reason: String,
    },
    /// No kernel of that name in the registry.
    #[error("unknown {op} kernel '{name}'; known kernels: {known}")]
    UnknownKernel {
        /// Operation (`conv1x1`, `gap`).
        op: &'static str,
        /// Name asked for.
        name: String,
        /// Comma-separated registered names.
        known: String,
    },
    /// The work asked for needs more memory than the budget allows; refused before allocating.
    #[error("{what} needs {}; {}", crate::format::format_bytes(*needed), budget_phrase(*available, *from_flag))]
    Memory {
        /// What needs it: a problem string, or a command and its tensors.
        what: String,
        /// Bytes it would allocate, at least.
        needed: u64,
        /// Bytes the budget allows.
        available: u64,
        /// Whether the budget is `--max-memory` (else the machine's available memory).
        from_flag: bool,
    },
    /// An ISA path that is unknown, or that this CPU or build cannot run.
    #[error("ISA {asked}: {reason}")]
    Isa {
        /// The path asked for (and where from, for the environment).
        asked: String,
        /// Why it cannot run, and what can.
        reason: String,
    },
    /// Nothing to do: an empty shape file, a filter or kernel that matches no problem.
    #[error("{what}: {reason}")]
    Empty {
        /// What was empty.
        what: String,
        /// Why that leaves nothing to run.
        reason: String,
    },
    /// A peer engine (tract) refused or failed to build or run a network.
    #[error("{peer}: {reason}")]
    Peer {
        /// The engine.
        peer: &'static str,
        /// Its error, on one line.
        reason: String,
    },
}

impl NinError {
    /// A [`NinError::File`] about `path`, its reason kept on one line (the text of an I/O or
    /// parser error from another crate may span several).
    pub fn file(path: &std::path::Path, reason: impl Into<String>) -> NinError {
        NinError::File { path: path.display().to_string(), reason: one_line(&reason.into()) }
    }

    /// The same error with `source` (an environment variable) named beside an ISA request.
    pub fn with_source(self, source: &str) -> NinError {
        match self {
            NinError::Isa { asked, reason } => NinError::Isa { asked: format!("{asked} (from {source})"), reason },
            other => other,
        }
    }
}

fn budget_phrase(available: u64, from_flag: bool) -> String {
    if from_flag {
        format!("--max-memory allows {}", crate::format::format_bytes(available))
    } else {
        format!("this machine has {} available", crate::format::format_bytes(available))
    }
}

/// `text` on one line: every run of whitespace (newlines included) becomes one space. For
/// messages of other crates (an .npy header's parse error) that may span lines.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Longest echo of user input in an error message, in characters.
pub const MAX_ECHO_CHARS: usize = 60;

/// `text` as it may be echoed in a one-line error: control characters escaped (a newline
/// becomes `\n`), and cut to [`MAX_ECHO_CHARS`] with `…` and the full length when longer.
pub fn shorten(text: &str) -> String {
    let escaped: String = text.chars().flat_map(|c| c.escape_debug()).collect();
    let chars = escaped.chars().count();
    if chars <= MAX_ECHO_CHARS {
        escaped
    } else {
        let head: String = escaped.chars().take(MAX_ECHO_CHARS).collect();
        format!("{head}… ({} characters)", text.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_are_one_line_and_cut_to_a_readable_length() {
        assert_eq!(shorten("1x2x3x4:5"), "1x2x3x4:5");
        assert_eq!(shorten("a\nb"), "a\\nb");
        assert_eq!(shorten("a\nb\u{1b}"), "a\\nb\\u{1b}");
        let long = "9".repeat(10_000);
        let cut = shorten(&long);
        assert!(cut.starts_with(&"9".repeat(MAX_ECHO_CHARS)) && cut.ends_with("… (10000 characters)"), "{cut}");
        assert!(cut.chars().count() < MAX_ECHO_CHARS + 30);
    }
}
