//! The registries: the one list of kernels per operation.
//!
//! Tests, benches, the command line and the report all reach kernels through these functions,
//! so adding a kernel is one file plus one line here, and it is then verified and timed
//! everywhere with no other change.

use crate::conv1x1::Conv1x1Kernel;
use crate::conv1x1::blocked_simd::BlockedSimd;
use crate::conv1x1::blocked_wide::BlockedWide;
use crate::conv1x1::im2col_gemm::Im2colGemm;
use crate::conv1x1::naive::Naive;
use crate::conv1x1::rayon_tiled::RayonTiled;
use crate::error::{NinError, Result};
use crate::gap::GapKernel;
use crate::gap::naive::GapNaive;
use crate::gap::rayon::GapRayon;
use crate::gap::simd::GapSimd;
use crate::kernel::{Kernel, KernelInfo, Op};
use crate::mlpconv::MlpconvKernel;
use crate::mlpconv::fused::MlpconvFused;
use crate::mlpconv::unfused::MlpconvUnfused;
use crate::simd::SimdPolicy;

/// Every 1×1 convolution kernel, the pulp ones with the ISA `policy` selects.
pub fn conv1x1_kernels_with(policy: SimdPolicy) -> Vec<Box<dyn Conv1x1Kernel>> {
    vec![
        Box::new(Naive),
        Box::new(Im2colGemm::new(policy)),
        Box::new(BlockedSimd::new(policy)),
        Box::new(BlockedWide),
        Box::new(RayonTiled::new(policy)),
    ]
}

/// Every GAP kernel, the pulp ones with the ISA `policy` selects.
pub fn gap_kernels_with(policy: SimdPolicy) -> Vec<Box<dyn GapKernel>> {
    vec![Box::new(GapNaive), Box::new(GapSimd::new(policy)), Box::new(GapRayon::new(policy))]
}

/// Every kernel of the fused chain operation (`mlpconv`): the fused one and the unfused chain
/// it is measured against.
pub fn mlpconv_kernels_with(policy: SimdPolicy) -> Vec<Box<dyn MlpconvKernel>> {
    vec![Box::new(MlpconvUnfused::new(policy)), Box::new(MlpconvFused::new(policy))]
}

/// Every `mlpconv` kernel, with the ISA policy of the environment.
pub fn mlpconv_kernels() -> Vec<Box<dyn MlpconvKernel>> {
    mlpconv_kernels_with(SimdPolicy::from_env())
}

/// The `mlpconv` kernel called `name`, or an error listing the known names.
pub fn mlpconv_kernel(name: &str) -> Result<Box<dyn MlpconvKernel>> {
    by_name(mlpconv_kernels(), name, Op::Mlpconv)
}

/// The kernel of `kernels` called `name`, or an error naming `op` and listing the known names:
/// the one lookup behind every operation's.
pub fn by_name<K: ?Sized + Kernel>(kernels: Vec<Box<K>>, name: &str, op: Op) -> Result<Box<K>> {
    let known = kernels.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
    kernels.into_iter().find(|k| k.name() == name).ok_or_else(|| NinError::UnknownKernel {
        op: op.name(),
        name: crate::error::shorten(name),
        known,
    })
}

/// Every 1×1 convolution kernel, with the ISA policy of the environment
/// ([`SimdPolicy::from_env`]).
pub fn conv1x1_kernels() -> Vec<Box<dyn Conv1x1Kernel>> {
    conv1x1_kernels_with(SimdPolicy::from_env())
}

/// Every GAP kernel, with the ISA policy of the environment.
pub fn gap_kernels() -> Vec<Box<dyn GapKernel>> {
    gap_kernels_with(SimdPolicy::from_env())
}

/// The 1×1 convolution kernel called `name`, or an error listing the known names.
pub fn conv1x1_kernel(name: &str) -> Result<Box<dyn Conv1x1Kernel>> {
    by_name(conv1x1_kernels(), name, Op::Conv1x1)
}

/// The GAP kernel called `name`, or an error listing the known names.
pub fn gap_kernel(name: &str) -> Result<Box<dyn GapKernel>> {
    by_name(gap_kernels(), name, Op::Gap)
}

/// The kernels one run works with: every registered kernel of every operation, the pulp ones
/// with one ISA policy. `verify`, `list`, `run` and the report take one, so a kernel added to
/// it (by the lists above, or [`Registry::add`]) is verified, listed and timed everywhere.
pub struct Registry {
    conv1x1: Vec<Box<dyn Conv1x1Kernel>>,
    gap: Vec<Box<dyn GapKernel>>,
    mlpconv: Vec<Box<dyn MlpconvKernel>>,
}

impl Registry {
    /// Every registered kernel, the pulp ones with the ISA `policy` selects.
    pub fn with_policy(policy: SimdPolicy) -> Self {
        Registry {
            conv1x1: conv1x1_kernels_with(policy),
            gap: gap_kernels_with(policy),
            mlpconv: mlpconv_kernels_with(policy),
        }
    }

    /// Every registered kernel, with the ISA policy of the environment.
    pub fn from_env() -> Self {
        Registry::with_policy(SimdPolicy::from_env())
    }

    /// Adds a kernel after those of its operation; an error if one of that name exists.
    pub fn add(&mut self, kernel: OwnedKernel) -> Result<&mut Self> {
        let name = kernel.as_ref().info().name;
        if self.info().iter().any(|k| k.name == name) {
            return Err(NinError::Shape {
                what: format!("kernel {name}"),
                reason: "a kernel of that name is registered already".into(),
            });
        }
        match kernel {
            OwnedKernel::Conv1x1(k) => self.conv1x1.push(k),
            OwnedKernel::Gap(k) => self.gap.push(k),
            OwnedKernel::Mlpconv(k) => self.mlpconv.push(k),
        }
        Ok(self)
    }

    /// The 1×1 convolution kernels.
    pub fn conv1x1(&self) -> &[Box<dyn Conv1x1Kernel>] {
        &self.conv1x1
    }

    /// The GAP kernels.
    pub fn gap(&self) -> &[Box<dyn GapKernel>] {
        &self.gap
    }

    /// The chain (`mlpconv`) kernels.
    pub fn mlpconv(&self) -> &[Box<dyn MlpconvKernel>] {
        &self.mlpconv
    }

    /// Descriptions of every kernel: conv, then GAP, then the fused chains.
    pub fn info(&self) -> Vec<KernelInfo> {
        self.all().map(|k| k.info()).collect()
    }

    /// Every kernel, conv, then GAP, then the chains.
    pub fn all(&self) -> impl Iterator<Item = AnyKernel<'_>> {
        let conv = self.conv1x1.iter().map(|k| AnyKernel::Conv1x1(k.as_ref()));
        let gap = self.gap.iter().map(|k| AnyKernel::Gap(k.as_ref()));
        conv.chain(gap).chain(self.mlpconv.iter().map(|k| AnyKernel::Mlpconv(k.as_ref())))
    }

    /// The kernel of any operation called `name`, or an error listing every known name.
    pub fn kernel(&self, name: &str) -> Result<AnyKernel<'_>> {
        self.all().find(|k| k.info().name == name).ok_or_else(|| {
            let known = self.info().iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
            NinError::UnknownKernel { op: "conv1x1, gap or mlpconv", name: crate::error::shorten(name), known }
        })
    }
}

/// A registered kernel of any operation, borrowed from a [`Registry`].
#[derive(Clone, Copy)]
pub enum AnyKernel<'a> {
    /// A 1×1 convolution kernel.
    Conv1x1(&'a dyn Conv1x1Kernel),
    /// A GAP kernel.
    Gap(&'a dyn GapKernel),
    /// A chain (`mlpconv`) kernel.
    Mlpconv(&'a dyn MlpconvKernel),
}

impl AnyKernel<'_> {
    /// Its description.
    pub fn info(&self) -> KernelInfo {
        match self {
            AnyKernel::Conv1x1(k) => k.info(),
            AnyKernel::Gap(k) => k.info(),
            AnyKernel::Mlpconv(k) => k.info(),
        }
    }
}

/// A kernel of any operation to [`Registry::add`].
pub enum OwnedKernel {
    /// A 1×1 convolution kernel.
    Conv1x1(Box<dyn Conv1x1Kernel>),
    /// A GAP kernel.
    Gap(Box<dyn GapKernel>),
    /// A chain (`mlpconv`) kernel.
    Mlpconv(Box<dyn MlpconvKernel>),
}

impl OwnedKernel {
    /// Borrowed.
    pub fn as_ref(&self) -> AnyKernel<'_> {
        match self {
            OwnedKernel::Conv1x1(k) => AnyKernel::Conv1x1(k.as_ref()),
            OwnedKernel::Gap(k) => AnyKernel::Gap(k.as_ref()),
            OwnedKernel::Mlpconv(k) => AnyKernel::Mlpconv(k.as_ref()),
        }
    }
}

/// What the report and its targets ask of particular kernels. The registry says which kernel
/// plays each role, so that neither names kernels itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The plain loops every conv kernel's speed-up is counted from.
    ConvBaseline,
    /// The plain loop every GAP kernel's speed-up is counted from.
    GapBaseline,
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

/// The name of the kernel that plays `role`.
pub const fn role(role: Role) -> &'static str {
    match role {
        Role::ConvBaseline => "naive",
        Role::GapBaseline => "gap-naive",
        Role::Gemm => "im2col-gemm",
        Role::Direct => "blocked-simd",
        Role::Scaling => "rayon-tiled",
        Role::BandwidthShare => "gap-simd",
        Role::Fused => "mlpconv-fused",
        Role::Unfused => "mlpconv-unfused",
    }
}

/// The kernel `nin-bench conv1x1` uses unless told otherwise: the fastest on all cores.
pub const DEFAULT_CONV1X1_KERNEL: &str = "rayon-tiled";
/// The kernel `nin-bench gap` uses unless told otherwise.
pub const DEFAULT_GAP_KERNEL: &str = "gap-simd";

/// Descriptions of every registered kernel: conv, then GAP, then the fused chains.
pub fn all_kernel_info() -> Vec<KernelInfo> {
    Registry::from_env().info()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lookup_finds_each() {
        let info = all_kernel_info();
        let mut names: Vec<_> = info.iter().map(|i| i.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), info.len());
        for k in conv1x1_kernels() {
            assert_eq!(conv1x1_kernel(k.name()).unwrap().name(), k.name());
        }
        for k in gap_kernels() {
            assert_eq!(gap_kernel(k.name()).unwrap().name(), k.name());
        }
        for k in mlpconv_kernels() {
            assert_eq!(mlpconv_kernel(k.name()).unwrap().name(), k.name());
        }
    }

    #[test]
    fn every_role_is_played_by_a_registered_kernel_of_its_operation() {
        let roles = [
            (Role::ConvBaseline, Op::Conv1x1),
            (Role::GapBaseline, Op::Gap),
            (Role::Gemm, Op::Conv1x1),
            (Role::Direct, Op::Conv1x1),
            (Role::Scaling, Op::Conv1x1),
            (Role::BandwidthShare, Op::Gap),
            (Role::Fused, Op::Mlpconv),
            (Role::Unfused, Op::Mlpconv),
        ];
        let registry = Registry::from_env();
        for (r, op) in roles {
            let info = registry.kernel(role(r)).unwrap_or_else(|e| panic!("{r:?}: {e}")).info();
            assert_eq!(info.op, op, "{r:?}");
        }
        assert!(registry.kernel(role(Role::Scaling)).unwrap().info().threads.is_parallel());
    }

    #[test]
    fn unknown_kernel_error_lists_known_ones() {
        let err = conv1x1_kernel("fastest").err().unwrap().to_string();
        assert!(err.contains("naive") && err.contains("blocked-simd"), "{err}");
        let err = gap_kernel("naive").err().unwrap().to_string();
        assert!(err.contains("gap-simd"), "{err}");
    }
}
