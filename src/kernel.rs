//! What every kernel, of any operation, has in common.

use serde::Serialize;

use crate::tensor::Layout;

/// What the registry, `list` and the report say about a kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelInfo {
    /// Registry name, e.g. `blocked-simd`.
    pub name: &'static str,
    /// Operation: `conv1x1`, `gap`, or `mlpconv` (the fused chains).
    pub op: &'static str,
    /// Layouts it runs.
    pub layouts: Vec<Layout>,
    /// Instruction set it runs with on this machine, in this build.
    pub isa: String,
    /// Register tile or blocking, where it has one, e.g. `6x16`.
    pub tile: Option<String>,
    /// `1` or `rayon` (uses the current rayon pool).
    pub threads: &'static str,
    /// One line on what it is.
    pub description: &'static str,
}

/// Proof that a call's arguments were checked against its problem. Only the crate's `run`
/// entry points make one, so the `execute` methods that receive it may rely on the checks.
#[derive(Debug)]
pub struct Checked(());

impl Checked {
    pub(crate) fn new() -> Self {
        Checked(())
    }
}
