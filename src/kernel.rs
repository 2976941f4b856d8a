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
    /// An int8 1×1 convolution (u8 activations, s8 weights, requantized to u8).
    QConv1x1,
    /// An int8 global average pooling (u8 in, requantized u8 means out).
    QGap,
}

impl Op {
    /// The name in problem strings, `list` and JSON: `conv1x1`, `gap`, `mlpconv`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Conv1x1 => "conv1x1",
            Op::Gap => "gap",
            Op::Mlpconv => "mlpconv",
            Op::QConv1x1 => "qconv1x1",
            Op::QGap => "qgap",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
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
        f.pad(if self.is_parallel() { "rayon" } else { "1" })
    }
}

/// What a kernel is for, beyond being timed like every other: the report and the command line
/// find the kernels they compare by role, never by name. A kernel may play several roles, and a
/// role is played by one kernel of its operation (a test checks both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The plain loops every speed-up of its operation is counted from.
    Baseline,
    /// The kernel `nin-bench conv1x1`, `nin-bench gap` and the forward passes run unless told
    /// otherwise.
    Default,
    /// im2col + GEMM, timed in turn against the direct kernel ([`Role::Direct`]).
    Gemm,
    /// The direct channel-blocked kernel on one thread.
    Direct,
    /// The parallel conv kernel whose scaling from the threads the report measures.
    Scaling,
    /// The GAP kernel timed in turn against a read pass over its input.
    BandwidthShare,
    /// The fused chain, timed in turn against [`Role::Unfused`].
    Fused,
    /// The chain as frameworks run it, layer by layer.
    Unfused,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 8] = [
        Role::Baseline,
        Role::Default,
        Role::Gemm,
        Role::Direct,
        Role::Scaling,
        Role::BandwidthShare,
        Role::Fused,
        Role::Unfused,
    ];

    /// The name `list` and the JSON use: `baseline`, `default`, `gemm`, `direct`, `scaling`,
    /// `bandwidth-share`, `fused`, `unfused`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Baseline => "baseline",
            Role::Default => "default",
            Role::Gemm => "gemm",
            Role::Direct => "direct",
            Role::Scaling => "scaling",
            Role::BandwidthShare => "bandwidth-share",
            Role::Fused => "fused",
            Role::Unfused => "unfused",
        }
    }

    /// The operations that need a kernel in this role.
    pub fn ops(self) -> &'static [Op] {
        match self {
            Role::Baseline => &[Op::Conv1x1, Op::Gap],
            Role::Default => &[Op::Conv1x1, Op::Gap, Op::QConv1x1, Op::QGap],
            Role::Gemm | Role::Direct => &[Op::Conv1x1],
            Role::Scaling => &[Op::Conv1x1, Op::QConv1x1],
            Role::BandwidthShare => &[Op::Gap],
            Role::Fused | Role::Unfused => &[Op::Mlpconv],
        }
    }
}

/// A kernel's declaration: what it is, written once, in its own file, as a `static`. The
/// registry, `list`, the report, the gate and every row of timings take a kernel's name, roles
/// and threads from here.
#[derive(Debug)]
pub struct KernelDecl {
    /// Registry name, e.g. `blocked-simd`.
    pub name: &'static str,
    /// The operation it computes.
    pub op: Op,
    /// How it uses threads.
    pub threads: Threads,
    /// The roles it plays (often none).
    pub roles: &'static [Role],
    /// Layouts it runs.
    pub layouts: &'static [Layout],
    /// One line on what it is.
    pub description: &'static str,
}

/// A kernel's identity, as rows of timings carry it: its declaration. Two ids are equal when
/// they name the same kernel. Serialised (and displayed) as the kernel's name.
#[derive(Debug, Clone, Copy)]
pub struct KernelId(&'static KernelDecl);

impl KernelId {
    /// The id of the kernel `decl` declares.
    pub const fn of(decl: &'static KernelDecl) -> Self {
        KernelId(decl)
    }

    /// The declaration.
    pub fn decl(self) -> &'static KernelDecl {
        self.0
    }

    /// Registry name.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// Whether the kernel plays `role`.
    pub fn plays(self, role: Role) -> bool {
        self.0.roles.contains(&role)
    }
}

impl PartialEq for KernelId {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for KernelId {}

impl std::fmt::Display for KernelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.0.name)
    }
}

impl Serialize for KernelId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name)
    }
}

/// What every kernel has, whatever its operation: the supertrait of `Conv1x1Kernel`,
/// `GapKernel` and `MlpconvKernel`, through which the registry looks kernels up by name.
pub trait Kernel: Send + Sync {
    /// Its declaration.
    fn decl(&self) -> &'static KernelDecl;

    /// Instruction set it runs with (fixed when the kernel is built; part of the identity of
    /// its prepared weights, whose packing may depend on the vector width).
    fn isa(&self) -> &'static str;

    /// Register tile or blocking, where it has one, e.g. `6x16`.
    fn tile(&self) -> Option<String> {
        None
    }

    /// Its identity.
    fn id(&self) -> KernelId {
        KernelId(self.decl())
    }

    /// Registry name.
    fn name(&self) -> &'static str {
        self.decl().name
    }

    /// Description for `list` and the report.
    fn info(&self) -> KernelInfo {
        let decl = self.decl();
        KernelInfo {
            name: decl.name,
            op: decl.op,
            layouts: decl.layouts.to_vec(),
            isa: self.isa().to_string(),
            tile: self.tile(),
            threads: decl.threads,
            roles: decl.roles.to_vec(),
            description: decl.description,
        }
    }
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
    /// The roles it plays in the report and the command line.
    pub roles: Vec<Role>,
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
