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
}
