//! What every kernel, of any operation, has in common.

use serde::Serialize;

use crate::tensor::Layout;

/// The operation a kernel computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A 1×1 convolution.
    Conv1x1,
    /// Global average pooling.
    Gap,
    /// A chain of 1×1 convolutions (and GAP): NIN's micro-network and head, fused or not.
    Mlpconv,
}

impl Op {
    /// The name in problem strings, `list` and JSON: `conv1x1`, `gap`, `mlpconv`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Conv1x1 => "conv1x1",
            Op::Gap => "gap",
            Op::Mlpconv => "mlpconv",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a kernel uses threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Threads {
    /// On the calling thread only (`1` in `list` and JSON).
    #[serde(rename = "1")]
    Single,
    /// Over the current rayon pool (`rayon`).
    #[serde(rename = "rayon")]
    Rayon,
}

impl Threads {
    /// Whether it runs on more than one thread when the pool has them.
    pub fn is_parallel(self) -> bool {
        self == Threads::Rayon
    }

    /// Threads it actually uses in a pool of `pool` threads.
    pub fn used_in(self, pool: usize) -> usize {
        if self.is_parallel() { pool.max(1) } else { 1 }
    }
}

impl std::fmt::Display for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_parallel() { "rayon" } else { "1" })
    }
}

/// What every kernel has, whatever its operation: the supertrait of `Conv1x1Kernel`,
/// `GapKernel` and `MlpconvKernel`, through which the registry looks kernels up by name.
pub trait Kernel: Send + Sync {
    /// Registry name.
    fn name(&self) -> &'static str;

    /// Instruction set it runs with (fixed when the kernel is built; part of the identity of
    /// its prepared weights, whose packing may depend on the vector width).
    fn isa(&self) -> &str;

    /// Description for `list` and the report.
    fn info(&self) -> KernelInfo;
}

/// What the registry, `list` and the report say about a kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelInfo {
    /// Registry name, e.g. `blocked-simd`.
    pub name: &'static str,
    /// Operation: `conv1x1`, `gap`, or `mlpconv` (the fused chains).
    pub op: Op,
    /// Layouts it runs.
    pub layouts: Vec<Layout>,
    /// Instruction set it runs with on this machine, in this build.
    pub isa: String,
    /// Register tile or blocking, where it has one, e.g. `6x16`.
    pub tile: Option<String>,
    /// `1` or `rayon` (uses the current rayon pool).
    pub threads: Threads,
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
