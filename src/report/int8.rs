//! The report's int8 layers: the int8 kernel verified bit for bit against the integer
//! reference, then timed in turn against the f32 kernel on the same layer (its f32 twin, with
//! ReLU) and against the int8 peak loop of its path, on 1 thread.

use std::sync::Arc;

use super::plan::timing_message;
use super::rows::{Int8Row, Report};
use super::timings::Context;
use crate::conv1x1::Conv1x1Kernel;
use crate::error::Result;
use crate::measure::{Call, check_qconv, conv_data, time_in_turn, time_qconv_against_int8_peak};
use crate::problem::QConv1x1Problem;
use crate::qconv::QConv1x1Kernel;
use crate::quant::QConvData;

/// The kernels of the int8 section: the int8 kernel, the f32 kernel it is compared with, and
/// the parallel int8 kernel.
#[derive(Clone, Copy)]
pub(super) struct Int8Kernels<'a> {
    pub int8: &'a dyn QConv1x1Kernel,
    pub f32: &'a dyn Conv1x1Kernel,
    pub scaling: Option<&'a dyn QConv1x1Kernel>,
}

impl Int8Kernels<'_> {
    /// Timings per layer on `threads_all` cores: against the f32 kernel and against the int8
    /// peak loop; on more than one core, the scaling kernel on all of them against the int8
    /// kernel on 1; with the `tract` feature, against tract's int8 convolution.
    pub(super) fn timings(scaling: bool, threads_all: usize) -> usize {
        2 + usize::from(scaling && threads_all > 1) + usize::from(cfg!(feature = "tract"))
    }
}

/// `kernels.int8` on `p`: checked, then timed against `kernels.f32` and against the int8 peak
/// loop; on more than one core, `kernels.scaling` on all threads against it on 1.
pub(super) fn int8_problem(
    ctx: &Context,
    p: &QConv1x1Problem,
    kernels: Int8Kernels,
    report: &mut Report,
) -> Result<()> {
    let Int8Kernels { int8, f32: f32_kernel, scaling } = kernels;
    let shape = p.to_string();
    let data = Arc::new(QConvData::seeded(p, 1));
    let expected = crate::quant::reference::qconv1x1(p, &data.input, &data.layer);
    report.verified_int8 += 1;
    let timings = Int8Kernels::timings(scaling.is_some(), ctx.threads_all);
    if !ctx.passed(report, &shape, int8.name(), check_qconv(int8, p, &data, &expected), timings) {
        return Ok(());
    }
    let twin = *p.conv();
    ctx.bar.set_message(timing_message(&shape, &format!("{} against {} (f32)", int8.name(), f32_kernel.name()), 1));
    let mut calls = [
        Call::qconv_on(int8, p, Arc::clone(&data), 1)?,
        Call::conv_on(f32_kernel, &twin, Arc::new(conv_data(&twin)), 1)?,
    ];
    let [int8_row, f32_row] = time_in_turn(&mut calls, ctx.budget)?.pair_rows();
    ctx.bar.inc(1);
    ctx.bar.set_message(timing_message(&shape, &format!("{} against the int8 peak loop", int8.name()), 1));
    let share = time_qconv_against_int8_peak(int8, p, ctx.budget)?;
    ctx.bar.inc(1);
    let threads = match scaling.filter(|_| ctx.threads_all > 1) {
        Some(scaling) => on_all_threads(ctx, p, (scaling, int8), &data, &expected, report)?,
        None => None,
    };
    #[cfg(feature = "tract")]
    let tract = against_tract(ctx, p, int8, &data, &expected.out)?;
    #[cfg(not(feature = "tract"))]
    let tract = None;
    report.int8.push(Int8Row {
        int8: int8_row,
        f32: f32_row,
        isa: int8.isa(),
        tile: int8.tile_on(p),
        int8_peak_share: share.median,
        int8_peak_share_p90: share.p90,
        threads,
        tract,
    });
    Ok(())
}

/// `scaling` on all threads, checked, then timed in turn with `int8` on 1 thread.
fn on_all_threads(
    ctx: &Context,
    p: &QConv1x1Problem,
    (scaling, int8): (&dyn QConv1x1Kernel, &dyn QConv1x1Kernel),
    data: &Arc<QConvData>,
    expected: &crate::quant::reference::QConvExpected,
    report: &mut Report,
) -> Result<Option<crate::measure::RunRow>> {
    let (shape, all) = (p.to_string(), ctx.threads_all);
    report.verified_int8 += 1;
    let check = crate::measure::with_threads(all, || check_qconv(scaling, p, data, expected))?;
    if !ctx.passed(report, &shape, scaling.name(), check, 1) {
        return Ok(None);
    }
    let what = format!("{} against {} on 1 thread", scaling.name(), int8.name());
    ctx.bar.set_message(timing_message(&shape, &what, all));
    let mut calls = [Call::qconv_on(scaling, p, Arc::clone(data), all)?, Call::qconv_on(int8, p, Arc::clone(data), 1)?];
    let [row, _] = time_in_turn(&mut calls, ctx.budget)?.pair_rows();
    ctx.bar.inc(1);
    Ok(Some(row))
}

/// tract's `QLinearConv` on `p`: its output against the reference's `expected`, then timed in
/// turn with `int8`, 1 thread.
#[cfg(feature = "tract")]
fn against_tract(
    ctx: &Context,
    p: &QConv1x1Problem,
    int8: &dyn QConv1x1Kernel,
    data: &Arc<QConvData>,
    expected: &[u8],
) -> Result<Option<super::rows::TractInt8>> {
    use crate::measure::Runner;
    use crate::problem::Problem;
    use crate::qconv::tract_peer::{NAME, TractQConv};
    let shape = p.to_string();
    ctx.bar.set_message(timing_message(&shape, &format!("{} against {NAME}", int8.name()), 1));
    let tract = TractQConv::new(p, &data.layer, 1)?;
    let y = tract.run(&data.input)?;
    let diffs = y.iter().zip(expected).map(|(&a, &b)| a.abs_diff(b));
    let (differing_outputs, max_diff) = diffs.fold((0, 0), |(n, m), d| (n + usize::from(d > 0), m.max(d)));
    let input = Arc::clone(data);
    let body = move || drop(tract.run(std::hint::black_box(&input.input)));
    let work = (2.0 * p.macs() as f64, p.bytes() as f64);
    let tract_call = Call::new(Runner::Engine(NAME), Some(Problem::QConv1x1(*p)), 1, work, body);
    let mut calls = [Call::qconv_on(int8, p, Arc::clone(data), 1)?, tract_call];
    let [ours, tract] = time_in_turn(&mut calls, ctx.budget)?.pair_rows();
    ctx.bar.inc(1);
    Ok(Some(super::rows::TractInt8 { ours, tract, differing_outputs, outputs: y.len(), max_diff }))
}
