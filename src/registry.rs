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
use crate::error::{NinError, Result};
use crate::gap::GapKernel;
use crate::gap::naive::GapNaive;
use crate::gap::rayon::GapRayon;
use crate::gap::simd::GapSimd;
use crate::kernel::{Kernel, KernelInfo, Op, Role};
use crate::mlpconv::MlpconvKernel;
use crate::mlpconv::fused::MlpconvFused;
use crate::mlpconv::unfused::MlpconvUnfused;
use crate::qconv::{QConv1x1Kernel, QConvNaive, QConvSimd, QPath};
use crate::qgap::naive::QGapNaive;
use crate::qgap::simd::QGapSimd;
use crate::qgap::{QGapKernel, QGapPath};
use crate::simd::SimdPolicy;

/// Every 1×1 convolution kernel, the pulp ones with the ISA `policy` selects.
pub fn conv1x1_kernels_with(policy: SimdPolicy) -> Vec<Box<dyn Conv1x1Kernel>> {
    vec![
        Box::new(Naive),
        Box::new(Im2colGemm::new(policy)),
        Box::new(BlockedSimd::new(policy)),
        Box::new(BlockedWide),
        Box::new(BlockedSimd::rayon(policy)),
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

/// Every int8 1×1 convolution kernel, the SIMD and rayon ones on the int8 path that matches
/// `policy` ([`QPath::for_policy`]).
pub fn qconv1x1_kernels_with(policy: SimdPolicy) -> Vec<Box<dyn QConv1x1Kernel>> {
    let path = QPath::for_policy(policy);
    let simd = QConvSimd::on(path).expect("for_policy picks an available path");
    let rayon = QConvSimd::rayon(path).expect("for_policy picks an available path");
    vec![Box::new(QConvNaive), Box::new(simd), Box::new(rayon)]
}

/// Every int8 GAP kernel, the SIMD one on the path that matches `policy`
/// ([`QGapPath::for_policy`]).
pub fn qgap_kernels_with(policy: SimdPolicy) -> Vec<Box<dyn QGapKernel>> {
    let simd = QGapSimd::on(QGapPath::for_policy(policy)).expect("for_policy picks an available path");
    vec![Box::new(QGapNaive), Box::new(simd)]
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

/// Every `mlpconv` kernel, with the ISA policy of the environment.
pub fn mlpconv_kernels() -> Vec<Box<dyn MlpconvKernel>> {
    mlpconv_kernels_with(SimdPolicy::from_env())
}

/// The kernels one run works with: every registered kernel of every operation, the pulp ones
/// with one ISA policy. `verify`, `list`, `run` and the report take one, so a kernel added to
/// it (by the lists above, or [`Registry::add`]) is verified, listed and timed everywhere.
pub struct Registry {
    conv1x1: Vec<Box<dyn Conv1x1Kernel>>,
    gap: Vec<Box<dyn GapKernel>>,
    mlpconv: Vec<Box<dyn MlpconvKernel>>,
    qconv1x1: Vec<Box<dyn QConv1x1Kernel>>,
    qgap: Vec<Box<dyn QGapKernel>>,
}

impl Registry {
    /// Every registered kernel, the pulp ones with the ISA `policy` selects.
    pub fn with_policy(policy: SimdPolicy) -> Self {
        Registry {
            conv1x1: conv1x1_kernels_with(policy),
            gap: gap_kernels_with(policy),
            mlpconv: mlpconv_kernels_with(policy),
            qconv1x1: qconv1x1_kernels_with(policy),
            qgap: qgap_kernels_with(policy),
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
            OwnedKernel::QConv1x1(k) => self.qconv1x1.push(k),
            OwnedKernel::QGap(k) => self.qgap.push(k),
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

    /// The int8 1×1 convolution kernels.
    pub fn qconv1x1(&self) -> &[Box<dyn QConv1x1Kernel>] {
        &self.qconv1x1
    }

    /// The int8 GAP kernels.
    pub fn qgap(&self) -> &[Box<dyn QGapKernel>] {
        &self.qgap
    }

    /// Descriptions of every kernel: conv, then GAP, then the fused chains.
    pub fn info(&self) -> Vec<KernelInfo> {
        self.all().map(|k| k.info()).collect()
    }

    /// Every kernel, conv, then GAP, then the chains.
    pub fn all(&self) -> impl Iterator<Item = AnyKernel<'_>> {
        let conv = self.conv1x1.iter().map(|k| AnyKernel::Conv1x1(k.as_ref()));
        let gap = self.gap.iter().map(|k| AnyKernel::Gap(k.as_ref()));
        let chains = self.mlpconv.iter().map(|k| AnyKernel::Mlpconv(k.as_ref()));
        let int8 = self.qconv1x1.iter().map(|k| AnyKernel::QConv1x1(k.as_ref()));
        let int8_gap = self.qgap.iter().map(|k| AnyKernel::QGap(k.as_ref()));
        conv.chain(gap).chain(chains).chain(int8).chain(int8_gap)
    }

    /// The kernel called `name`, of operation `op` when one is given, or an error listing the
    /// names that were possible: the one lookup by name.
    pub fn kernel_of(&self, op: Option<Op>, name: &str) -> Result<AnyKernel<'_>> {
        let candidates = || self.all().filter(|k| op.is_none_or(|op| k.info().op == op));
        candidates().find(|k| k.name() == name).ok_or_else(|| {
            let known = candidates().map(|k| k.name()).collect::<Vec<_>>().join(", ");
            let op = op.map_or("conv1x1, gap, mlpconv, qconv1x1 or qgap", Op::name);
            NinError::UnknownKernel { op, name: crate::error::shorten(name), known }
        })
    }

    /// The kernel of any operation called `name`, or an error listing every known name.
    pub fn kernel(&self, name: &str) -> Result<AnyKernel<'_>> {
        self.kernel_of(None, name)
    }

    /// The 1×1 convolution kernel called `name`, or an error listing the known ones.
    pub fn conv1x1_kernel(&self, name: &str) -> Result<&dyn Conv1x1Kernel> {
        Ok(self
            .kernel_of(Some(Op::Conv1x1), name)?
            .as_conv1x1()
            .expect("kernel_of keeps kernels of the operation asked for"))
    }

    /// The GAP kernel called `name`, or an error listing the known ones.
    pub fn gap_kernel(&self, name: &str) -> Result<&dyn GapKernel> {
        Ok(self.kernel_of(Some(Op::Gap), name)?.as_gap().expect("kernel_of keeps kernels of the operation asked for"))
    }

    /// The chain kernel called `name`, or an error listing the known ones.
    pub fn mlpconv_kernel(&self, name: &str) -> Result<&dyn MlpconvKernel> {
        Ok(self
            .kernel_of(Some(Op::Mlpconv), name)?
            .as_mlpconv()
            .expect("kernel_of keeps kernels of the operation asked for"))
    }

    /// The kernel of operation `op` that plays `role`: the first registered, as a test checks
    /// there is exactly one among the built-in kernels.
    pub fn playing(&self, op: Op, role: Role) -> Option<AnyKernel<'_>> {
        self.all().find(|k| k.info().op == op && k.id().plays(role))
    }

    /// The kernel called `name`, or without one the kernel of `op` that plays [`Role::Default`]
    /// (a built-in kernel plays it for every operation that needs one, as a test checks).
    pub fn named_or_default(&self, op: Op, name: Option<&str>) -> Result<AnyKernel<'_>> {
        match name {
            Some(name) => self.kernel_of(Some(op), name),
            None => Ok(self.playing(op, Role::Default).expect("a built-in kernel plays Role::Default")),
        }
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
    /// An int8 1×1 convolution kernel.
    QConv1x1(&'a dyn QConv1x1Kernel),
    /// An int8 GAP kernel.
    QGap(&'a dyn QGapKernel),
}

impl<'a> AnyKernel<'a> {
    /// As the common kernel trait.
    pub fn as_kernel(&self) -> &dyn crate::kernel::Kernel {
        match *self {
            AnyKernel::Conv1x1(k) => k,
            AnyKernel::Gap(k) => k,
            AnyKernel::Mlpconv(k) => k,
            AnyKernel::QConv1x1(k) => k,
            AnyKernel::QGap(k) => k,
        }
    }

    /// As a 1×1 convolution kernel, if it is one.
    pub fn as_conv1x1(self) -> Option<&'a dyn Conv1x1Kernel> {
        if let AnyKernel::Conv1x1(k) = self { Some(k) } else { None }
    }

    /// As a GAP kernel, if it is one.
    pub fn as_gap(self) -> Option<&'a dyn GapKernel> {
        if let AnyKernel::Gap(k) = self { Some(k) } else { None }
    }

    /// As an int8 1×1 convolution kernel, if it is one.
    pub fn as_qconv1x1(self) -> Option<&'a dyn QConv1x1Kernel> {
        if let AnyKernel::QConv1x1(k) = self { Some(k) } else { None }
    }

    /// As an int8 GAP kernel, if it is one.
    pub fn as_qgap(self) -> Option<&'a dyn QGapKernel> {
        if let AnyKernel::QGap(k) = self { Some(k) } else { None }
    }

    /// As a chain kernel, if it is one.
    pub fn as_mlpconv(self) -> Option<&'a dyn MlpconvKernel> {
        if let AnyKernel::Mlpconv(k) = self { Some(k) } else { None }
    }

    /// Its identity.
    pub fn id(&self) -> crate::kernel::KernelId {
        self.as_kernel().id()
    }

    /// Its registry name.
    pub fn name(&self) -> &'static str {
        self.as_kernel().name()
    }

    /// Its description.
    pub fn info(&self) -> KernelInfo {
        match self {
            AnyKernel::Conv1x1(k) => k.info(),
            AnyKernel::Gap(k) => k.info(),
            AnyKernel::Mlpconv(k) => k.info(),
            AnyKernel::QConv1x1(k) => k.info(),
            AnyKernel::QGap(k) => k.info(),
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
    /// An int8 1×1 convolution kernel.
    QConv1x1(Box<dyn QConv1x1Kernel>),
    /// An int8 GAP kernel.
    QGap(Box<dyn QGapKernel>),
}

impl OwnedKernel {
    /// Borrowed.
    pub fn as_ref(&self) -> AnyKernel<'_> {
        match self {
            OwnedKernel::Conv1x1(k) => AnyKernel::Conv1x1(k.as_ref()),
            OwnedKernel::Gap(k) => AnyKernel::Gap(k.as_ref()),
            OwnedKernel::Mlpconv(k) => AnyKernel::Mlpconv(k.as_ref()),
            OwnedKernel::QConv1x1(k) => AnyKernel::QConv1x1(k.as_ref()),
            OwnedKernel::QGap(k) => AnyKernel::QGap(k.as_ref()),
        }
    }
}

/// The kernel of `kernels` that plays `role` (a test checks that a built-in kernel plays each
/// role of each operation that needs one).
pub fn take_playing<K: ?Sized + Kernel>(kernels: Vec<Box<K>>, role: Role) -> Box<K> {
    kernels.into_iter().find(|k| k.id().plays(role)).expect("a built-in kernel plays every role")
}

/// Descriptions of every registered kernel: conv, then GAP, then the fused chains.
pub fn all_kernel_info() -> Vec<KernelInfo> {
    Registry::from_env().info()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lookup_finds_each() {
        let registry = Registry::from_env();
        let info = registry.info();
        let mut names: Vec<_> = info.iter().map(|i| i.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), info.len());
        for k in registry.all() {
            assert_eq!(registry.kernel(k.name()).unwrap().name(), k.name());
            assert_eq!(registry.kernel_of(Some(k.info().op), k.name()).unwrap().id(), k.id());
        }
    }

    #[test]
    fn every_role_is_played_by_exactly_one_kernel_of_each_of_its_operations() {
        let registry = Registry::from_env();
        for role in Role::ALL {
            for &op in role.ops() {
                let players: Vec<_> =
                    registry.all().filter(|k| k.info().op == op && k.id().plays(role)).map(|k| k.name()).collect();
                assert_eq!(players.len(), 1, "{role:?} of {op}: {players:?}");
            }
            for k in registry.all().filter(|k| k.id().plays(role)) {
                assert!(
                    role.ops().contains(&k.info().op),
                    "{} plays {role:?}, not a role of {}",
                    k.name(),
                    k.info().op
                );
            }
        }
        let scaling = registry.playing(Op::Conv1x1, Role::Scaling).unwrap();
        assert!(scaling.info().threads.is_parallel());
    }

    #[test]
    fn unknown_kernel_error_lists_the_known_ones_of_the_operation() {
        let registry = Registry::from_env();
        let names = |op: Op| registry.all().filter(move |k| k.info().op == op).map(|k| k.name());
        let err = registry.conv1x1_kernel("fastest").err().unwrap().to_string();
        assert!(names(Op::Conv1x1).all(|n| err.contains(n)), "{err}");
        assert!(!names(Op::Gap).any(|n| err.contains(n)), "{err}");
        let conv = names(Op::Conv1x1).next().unwrap();
        let err = registry.gap_kernel(conv).err().unwrap().to_string();
        assert!(names(Op::Gap).all(|n| err.contains(n)), "{err}");
    }
}
