//! One kernel run once on one problem and checked against the f64 reference: what `verify` and
//! the report run before timing anything.

use super::data::ChainData;
use crate::conv1x1::Conv1x1Kernel;
use crate::gap::GapKernel;
use crate::mlpconv::MlpconvKernel;
use crate::problem::{Conv1x1Problem, GapProblem, MlpconvProblem, Problem, QConv1x1Problem, QGapProblem};
use crate::qconv::QConv1x1Kernel;
use crate::qgap::QGapKernel;
use crate::quant::QConvData;
use crate::quant::reference::QConvExpected;
use crate::reference::Reference;
use crate::registry::Registry;
use crate::tensor::seeded_uniform;

/// The worst `|error| / bound` of a check that passed, or why it failed (an error of the
/// kernel, or the mismatch).
pub type CheckOutcome = std::result::Result<f64, String>;

/// The output starts as NaN, so an element the kernel forgets to write cannot pass.
fn compare(expected: &Reference, y: &[f32]) -> CheckOutcome {
    expected.check(y).map_err(|m| m.to_string())?;
    Ok(expected.worst_ratio(y))
}

/// Prepares and runs a conv `kernel` on `p` once and checks the output against `expected`.
pub fn check_conv(
    kernel: &dyn Conv1x1Kernel,
    p: &Conv1x1Problem,
    (x, w, bias): (&[f32], &[f32], Option<&[f32]>),
    expected: &Reference,
) -> CheckOutcome {
    let mut y = vec![f32::NAN; p.output_len()];
    kernel.prepare(p, w, bias).and_then(|prepared| kernel.run(p, x, &prepared, &mut y)).map_err(|e| e.to_string())?;
    compare(expected, &y)
}

/// Prepares and runs an int8 `kernel` on `p` once: its accumulators and outputs must equal
/// the integer reference's exactly (the outcome's error ratio is then 0).
pub fn check_qconv(
    kernel: &dyn QConv1x1Kernel,
    p: &QConv1x1Problem,
    data: &QConvData,
    expected: &QConvExpected,
) -> CheckOutcome {
    let len = p.conv().output_len();
    let (mut acc, mut y) = (vec![0i32; len], vec![0u8; len]);
    let prepared = kernel.prepare(p, &data.layer).map_err(|e| e.to_string())?;
    kernel.run(p, &data.input, &prepared, Some(&mut acc), &mut y).map_err(|e| e.to_string())?;
    first_difference("accumulator", &acc, &expected.acc)?;
    first_difference("output", &y, &expected.out)?;
    Ok(0.0)
}

/// Runs an int8 GAP `kernel` on `p` once: its sums and outputs must equal the integer
/// reference's exactly.
pub fn check_qgap(kernel: &dyn QGapKernel, p: &QGapProblem, x: &[u8], expected: &(Vec<i32>, Vec<u8>)) -> CheckOutcome {
    let len = p.gap().output_len();
    let (mut sums, mut y) = (vec![-1i32; len], vec![0u8; len]);
    kernel.run(p, x, Some(&mut sums), &mut y).map_err(|e| e.to_string())?;
    first_difference("sum", &sums, &expected.0)?;
    first_difference("output", &y, &expected.1)?;
    Ok(0.0)
}

/// An error naming the first index where `got` and the integer reference's `want` differ.
fn first_difference<T: PartialEq + std::fmt::Display>(what: &str, got: &[T], want: &[T]) -> Result<(), String> {
    match got.iter().zip(want).position(|(g, w)| g != w) {
        Some(i) => Err(format!("{what} {i} is {}, the integer reference's {}", got[i], want[i])),
        None => Ok(()),
    }
}

/// [`check_conv`] for a GAP kernel.
pub fn check_gap(kernel: &dyn GapKernel, p: &GapProblem, x: &[f32], expected: &Reference) -> CheckOutcome {
    let mut y = vec![f32::NAN; p.output_len()];
    kernel.run(p, x, &mut y).map_err(|e| e.to_string())?;
    compare(expected, &y)
}

/// [`check_conv`] for a chain kernel.
pub fn check_mlpconv(
    kernel: &dyn MlpconvKernel,
    p: &MlpconvProblem,
    data: &ChainData,
    expected: &Reference,
) -> CheckOutcome {
    let mut y = vec![f32::NAN; p.output_len()];
    kernel
        .prepare(p, &data.weight_slices(), &data.bias_slices())
        .and_then(|prepared| kernel.run(p, &data.input, &prepared, &mut y))
        .map_err(|e| e.to_string())?;
    compare(expected, &y)
}

/// Every kernel of `registry` for `problem`'s operation that `wanted` keeps, checked on data
/// from `seed` against one reference: what `verify` runs per problem.
pub fn check_all(
    registry: &Registry,
    problem: &Problem,
    seed: u64,
    wanted: impl Fn(&str) -> bool,
) -> Vec<(&'static str, CheckOutcome)> {
    match problem {
        Problem::Conv1x1(p) => {
            let x = seeded_uniform(p.input_len(), seed);
            let w = seeded_uniform(p.weights_len(), seed + 1);
            let b = p.bias.then(|| seeded_uniform(p.cout, seed + 2));
            let expected = crate::reference::conv1x1(p, &x, &w, b.as_deref());
            let kernels = registry.conv1x1().iter().filter(|k| wanted(k.name()));
            kernels.map(|k| (k.name(), check_conv(k.as_ref(), p, (&x, &w, b.as_deref()), &expected))).collect()
        }
        Problem::Gap(p) => {
            let x = seeded_uniform(p.input_len(), seed);
            let expected = crate::reference::gap(p, &x);
            let kernels = registry.gap().iter().filter(|k| wanted(k.name()));
            kernels.map(|k| (k.name(), check_gap(k.as_ref(), p, &x, &expected))).collect()
        }
        Problem::QConv1x1(p) => {
            let data = QConvData::seeded(p, seed);
            let expected = crate::quant::reference::qconv1x1(p, &data.input, &data.layer);
            let kernels = registry.qconv1x1().iter().filter(|k| wanted(k.name()));
            kernels.map(|k| (k.name(), check_qconv(k.as_ref(), p, &data, &expected))).collect()
        }
        Problem::QGap(p) => {
            let x = crate::quant::seeded_activations(p.gap().input_len(), seed);
            let expected = crate::quant::reference::qgap(p, &x, crate::quant::gap_multiplier(p));
            let kernels = registry.qgap().iter().filter(|k| wanted(k.name()));
            kernels.map(|k| (k.name(), check_qgap(k.as_ref(), p, &x, &expected))).collect()
        }
        Problem::Mlpconv(p) => {
            let data = ChainData::seeded(p, seed);
            let expected = data.reference(p);
            let kernels = registry.mlpconv().iter().filter(|k| wanted(k.name()));
            kernels.map(|k| (k.name(), check_mlpconv(k.as_ref(), p, &data, &expected))).collect()
        }
    }
}
