//! The report's measurements, problem by problem: every kernel and peer verified once against
//! the f64 reference, then timed at each of its thread counts, and the comparisons the targets
//! rest on timed in turn.

use indicatif::ProgressBar;

use super::plan::{ReportOptions, forward_plan, matches, thread_counts_for, timing_message};
use super::rows::{Against, PairedRatio, Preparation, Report, ReportRow};
use crate::conv1x1::Conv1x1Kernel;
use crate::error::Result;
use crate::gap::GapKernel;
use crate::kernel::Role;
use crate::measure::Runner;
use crate::measure::{
    CHAIN_SEED, Call, ChainData, CheckOutcome, ConvData, check_conv, check_gap, check_mlpconv, conv_bytes,
};
use crate::measure::{
    conv_data, time, time_conv_against_peak, time_conv_scaling, time_gap_against_bandwidth, time_in_turn,
};
use crate::mlpconv::MlpconvKernel;
use crate::peers::Peer;
use crate::problem::{Conv1x1Problem, GapProblem, MlpconvProblem, Problem};
use crate::reference;
use crate::tensor::{seeded_uniform, zeroed};
use crate::timing::{TimingBudget, measure};

/// What the measurements of every problem share.
pub(super) struct Context<'a> {
    /// Timing budget of one measurement.
    pub budget: TimingBudget,
    /// The report's options (the filter).
    pub opts: &'a ReportOptions,
    /// Progress.
    pub bar: &'a ProgressBar,
    /// All cores.
    pub threads_all: usize,
}

impl Context<'_> {
    /// Counts a check of `name` on `shape`: true when it passed. A failure is recorded, and the
    /// `timings` it will not get are counted done on the progress bar.
    pub(super) fn passed(
        &self,
        report: &mut Report,
        shape: &str,
        name: &str,
        outcome: CheckOutcome,
        timings: usize,
    ) -> bool {
        report.verified += 1;
        match outcome {
            Ok(_) => true,
            Err(why) => {
                report.failures.push(format!("{name} on {shape}: {why}"));
                self.bar.inc(timings as u64);
                false
            }
        }
    }

    /// The row of the call `make(threads)` timed alone at each of `counts`.
    fn time_at<'c>(
        &self,
        counts: &[usize],
        ai: f64,
        mut make: impl FnMut(usize) -> Result<Call<'c>>,
    ) -> Result<Vec<ReportRow>> {
        let mut rows = Vec::new();
        for &threads in counts {
            let mut call = make(threads)?;
            let shape = call.problem.map_or(String::new(), |p| p.to_string());
            self.bar.set_message(timing_message(&shape, call.runner.name(), threads));
            rows.push(ReportRow::new(time(&mut call, self.budget)?, ai));
            self.bar.inc(1);
        }
        Ok(rows)
    }
}

/// The FMA peak of the report's machine for each thread count.
fn peaks(report: &Report) -> impl Fn(usize) -> Option<f64> + use<> {
    let m = report.machine.clone();
    move |threads| Some(m.fma_peak_for(threads))
}

/// Every conv kernel and peer on `p`: verified, timed, then compared in turn.
pub(super) fn conv_problem(
    ctx: &Context,
    p: &Conv1x1Problem,
    kernels: &[Box<dyn Conv1x1Kernel>],
    report: &mut Report,
) -> Result<()> {
    let shape = p.to_string();
    let kernels: Vec<&dyn Conv1x1Kernel> =
        kernels.iter().map(|k| k.as_ref()).filter(|k| matches(&ctx.opts.filter, &shape, k.name())).collect();
    let peers: Vec<Peer> = Peer::ALL.into_iter().filter(|q| matches(&ctx.opts.filter, &shape, q.name())).collect();
    if kernels.is_empty() && peers.is_empty() {
        return Ok(());
    }
    ctx.bar.set_message(format!("{shape}: reference"));
    // The data every conv call times, so what is verified is what is timed.
    let data: ConvData = std::sync::Arc::new(conv_data(p));
    let (x, w, b) = (&data.0, &data.1, &data.2);
    let bias = p.bias.then_some(&b[..]);
    let bare = reference::conv1x1(&Peer::computed_problem(p), x, w, None);
    let full = reference::conv1x1_with_epilogue(p, &bare, bias);
    let peak = peaks(report);
    let ai = p.flops() as f64 / conv_bytes(p);
    let mut rows = Vec::new();
    let (mut passed_kernels, mut passed_peers) = (Vec::new(), Vec::new());

    for kernel in kernels {
        let counts = thread_counts_for(kernel.info().threads.is_parallel());
        let outcome = check_conv(kernel, p, (x, w, bias), &full);
        if !ctx.passed(report, &shape, kernel.name(), outcome, counts.len()) {
            continue;
        }
        passed_kernels.push(kernel);
        let prepare = measure(TimingBudget::BRIEF, || drop(kernel.prepare(p, w, bias)));
        let seconds = prepare.median();
        report.preparation.push(Preparation { kernel: kernel.id(), problem: Problem::Conv1x1(*p), seconds });
        rows.extend(ctx.time_at(&counts, ai, |t| Ok(Call::conv_on(kernel, p, data.clone(), t)?.against(peak(t))))?);
    }

    for peer in peers {
        let counts = thread_counts_for(true);
        if peer.unsupported_reason(p).is_some() {
            ctx.bar.inc(counts.len() as u64);
            continue;
        }
        let mut y = zeroed(p.output_len());
        peer.run(p, x, w, &mut y, 1);
        let outcome = bare.check(&y).map(|()| 0.0).map_err(|m| format!("without bias and ReLU, {m}"));
        if !ctx.passed(report, &shape, peer.name(), outcome, counts.len()) {
            continue;
        }
        passed_peers.push(peer);
        rows.extend(ctx.time_at(&counts, ai, |t| Ok(Call::peer_on(peer, p, data.clone(), t)?.against(peak(t))))?);
    }

    paired_comparisons(ctx, p, &passed_kernels, &passed_peers, &rows, report)?;

    let naive = rows.iter().find(|r| r.run.kernel.plays(Role::Baseline)).map(|r| r.run.seconds_median);
    let gemm_at = |threads: usize| {
        rows.iter()
            .find(|r| r.run.kernel == Runner::Peer(Peer::GemmCrate) && r.run.threads == threads)
            .map(|r| r.run.seconds_median)
    };
    let gemm: Vec<(usize, Option<f64>)> = [1, ctx.threads_all].iter().map(|&t| (t, gemm_at(t))).collect();
    for r in &mut rows {
        r.speedup_vs_naive = naive.map(|t| t / r.run.seconds_median);
        r.speedup_vs_gemm_crate =
            gemm.iter().find(|(t, _)| *t == r.run.threads).and_then(|(_, g)| *g).map(|g| g / r.run.seconds_median);
    }
    report.conv1x1.extend(rows);
    Ok(())
}

/// One side of a conv comparison: our kernel or a GEMM library.
#[derive(Clone, Copy)]
enum Side<'a> {
    Kernel(&'a dyn Conv1x1Kernel),
    Peer(Peer),
}

impl<'a> Side<'a> {
    fn runner(self) -> Runner {
        match self {
            Side::Kernel(k) => Runner::Kernel(k.id()),
            Side::Peer(q) => Runner::Peer(q),
        }
    }

    fn call(self, p: &'a Conv1x1Problem, data: &ConvData, threads: usize) -> Result<Call<'a>> {
        match self {
            Side::Kernel(k) => Call::conv_on(k, p, data.clone(), threads),
            Side::Peer(q) => Call::peer_on(q, p, data.clone(), threads),
        }
    }
}

/// Times the comparisons the targets rest on in turn ([`PairedRatio`]): at each thread count,
/// the fastest of our kernels (by its median in `rows`) against each peer; the kernel playing
/// [`Role::Gemm`] against the one playing [`Role::Direct`] at 1 thread; the fastest at 1 thread
/// against itself (the control, [`PairedRatio::is_control`]); the kernel playing
/// [`Role::Scaling`] on all threads against itself on 1 ([`Against::OneThread`]); and the
/// fastest at 1 thread against the FMA-peak loop.
fn paired_comparisons(
    ctx: &Context,
    p: &Conv1x1Problem,
    kernels: &[&dyn Conv1x1Kernel],
    peers: &[Peer],
    rows: &[ReportRow],
    report: &mut Report,
) -> Result<()> {
    let (shape, bar, threads_all) = (p.to_string(), ctx.bar, ctx.threads_all);
    let playing = |role| kernels.iter().copied().find(|k| k.id().plays(role));
    let fastest = |threads: usize| {
        rows.iter()
            .filter(|r| r.run.threads == threads)
            .filter_map(|r| Some((r.run.kernel.kernel()?, r.run.gflops)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .and_then(|(id, _)| kernels.iter().copied().find(|k| k.id() == id))
    };
    let mut pairs = Vec::new();
    for threads in [1, threads_all].into_iter().collect::<std::collections::BTreeSet<_>>() {
        if let Some(fastest) = fastest(threads) {
            pairs.extend(peers.iter().map(|&q| (threads, fastest, Side::Peer(q))));
        }
    }
    if let (Some(gemm), Some(direct)) = (playing(Role::Gemm), playing(Role::Direct)) {
        pairs.push((1, gemm, Side::Kernel(direct)));
    }
    // The fastest at 1 thread, timed against itself and against the peak loop. The control:
    // how far its ratio strays from 1 is how far this run's noise moves a ratio of two equal
    // runners, timed as every pair above.
    let peak_of = fastest(1);
    if let Some(k) = peak_of {
        pairs.push((1, k, Side::Kernel(k)));
    }
    let scaled = playing(Role::Scaling).filter(|_| threads_all > 1);
    bar.inc_length((pairs.len() + usize::from(scaled.is_some()) + usize::from(peak_of.is_some())) as u64);
    let problem = Problem::Conv1x1(*p);
    for (threads, first, second) in pairs {
        let against = Against::Runner(second.runner());
        bar.set_message(timing_message(&shape, &format!("{} against {against}", first.name()), threads));
        // Both read the same input, as when they were checked.
        let data: ConvData = std::sync::Arc::new(conv_data(p));
        let mut calls = [Side::Kernel(first).call(p, &data, threads)?, second.call(p, &data, threads)?];
        let speedup = time_in_turn(&mut calls, ctx.budget)?.speedup(0, 1);
        report.paired.push(PairedRatio { problem, threads, kernel: first.id(), against, speedup });
        bar.inc(1);
    }
    if let Some(k) = scaled {
        let against = Against::OneThread(k.id());
        bar.set_message(timing_message(&shape, &format!("{} against {against}", k.name()), threads_all));
        let scaling = time_conv_scaling(k, p, threads_all, ctx.budget)?;
        report.paired.push(PairedRatio {
            problem,
            threads: threads_all,
            kernel: k.id(),
            against,
            speedup: scaling.speedup,
        });
        report.scaling.push(scaling);
        bar.inc(1);
    }
    if let Some(k) = peak_of {
        bar.set_message(timing_message(&shape, &format!("{} against the FMA-peak loop", k.name()), 1));
        report.peak_shares.push(time_conv_against_peak(k, p, ctx.budget)?);
        bar.inc(1);
    }
    Ok(())
}

/// Every GAP kernel on `p`, verified and timed against the read bandwidth of its input.
pub(super) fn gap_problem(
    ctx: &Context,
    p: &GapProblem,
    kernels: &[Box<dyn GapKernel>],
    report: &mut Report,
) -> Result<()> {
    let shape = p.to_string();
    let x = seeded_uniform(p.input_len(), 1);
    let expected = reference::gap(p, &x);
    let level = report.machine.bandwidth_for(p.input_len() * 4).level;
    // The limit for this input is what the machine reads over a working set of the same size,
    // measured now (the level figures are for half-full caches and would misjudge sizes
    // between levels); with more threads, the same read on that many threads, each reading
    // its own share. It is probed before and after the timings and the higher kept: one
    // probe of 0.1 s that meets a busy neighbour reads low, and every row above it would
    // seem to outrun the machine (gap-simd on 32x192x32x32 read 127% of such a probe).
    ctx.bar.set_message(format!("{shape}: read bandwidth for {} bytes", p.input_len() * 4));
    let seconds = if ctx.opts.quick { 0.02 } else { 0.1 };
    let probe = || -> Vec<(usize, f64)> {
        let probe_at = |t| crate::machine::read_bandwidth_gbps_threads(p.input_len() * 4, seconds, t);
        thread_counts_for(true).into_iter().map(|t| (t, probe_at(t))).collect()
    };
    let before = probe();
    let ai = p.input_len() as f64 / p.bytes() as f64;
    let mut rows = Vec::new();
    for kernel in kernels.iter().map(|k| k.as_ref()).filter(|k| matches(&ctx.opts.filter, &shape, k.name())) {
        let counts = thread_counts_for(kernel.info().threads.is_parallel());
        if !ctx.passed(report, &shape, kernel.name(), check_gap(kernel, p, &x, &expected), counts.len()) {
            continue;
        }
        rows.extend(ctx.time_at(&counts, ai, |t| Call::gap(kernel, p, t))?);
        if kernel.id().plays(Role::BandwidthShare) {
            ctx.bar.inc_length(1);
            ctx.bar.set_message(timing_message(&shape, &format!("{} against a read pass", kernel.name()), 1));
            report.bandwidth_shares.push(time_gap_against_bandwidth(kernel, p, ctx.budget)?);
            ctx.bar.inc(1);
        }
    }
    ctx.bar.set_message(format!("{shape}: read bandwidth for {} bytes, again", p.input_len() * 4));
    let read_gbps: Vec<(usize, f64)> = before.into_iter().zip(probe()).map(|((t, a), (_, b))| (t, a.max(b))).collect();
    let read_gbps_for = |threads: usize| read_gbps.iter().find(|(t, _)| *t == threads).map_or(read_gbps[0].1, |r| r.1);
    let naive = rows.iter().find(|r| r.run.kernel.plays(Role::Baseline)).map(|r| r.run.seconds_median);
    for r in &mut rows {
        r.speedup_vs_naive = naive.map(|t| t / r.run.seconds_median);
        let limit = read_gbps_for(r.run.threads);
        (r.bandwidth_level, r.read_gbps, r.run.peak_fraction) = (Some(level), Some(limit), Some(r.run.gbps / limit));
    }
    report.gap.extend(rows);
    Ok(())
}

/// Every chain kernel on `p`: verified; the fused one timed in turn against the unfused chain.
pub(super) fn chain_problem(
    ctx: &Context,
    p: &MlpconvProblem,
    kernels: &[Box<dyn MlpconvKernel>],
    report: &mut Report,
) -> Result<()> {
    let shape = p.to_string();
    let mut kernels: Vec<&dyn MlpconvKernel> =
        kernels.iter().map(|k| k.as_ref()).filter(|k| matches(&ctx.opts.filter, &shape, k.name())).collect();
    if kernels.is_empty() {
        return Ok(());
    }
    ctx.bar.set_message(format!("{shape}: reference"));
    // The data every chain call times, so what is verified is what is timed.
    let data = ChainData::seeded(p, CHAIN_SEED);
    let expected = data.reference(p);
    let peak = peaks(report);
    let ai = p.flops() as f64 / p.bytes() as f64;
    kernels.retain(|&k| {
        let counts = thread_counts_for(k.info().threads.is_parallel()).len();
        ctx.passed(report, &shape, k.name(), check_mlpconv(k, p, &data, &expected), counts)
    });
    let mut rows = Vec::new();
    let playing = |role| kernels.iter().copied().find(|k| k.id().plays(role));
    if let (Some(fused_kernel), Some(unfused_kernel)) = (playing(Role::Fused), playing(Role::Unfused)) {
        // The fused kernel and its baseline are timed against each other, samples in turn, so
        // their ratio does not depend on which second of a noisy machine each got.
        let (fused, unfused) = (fused_kernel.name(), unfused_kernel.name());
        kernels.retain(|k| k.id() != fused_kernel.id() && k.id() != unfused_kernel.id());
        let paired_budget = TimingBudget { measure: ctx.budget.measure * 2, ..ctx.budget };
        for threads in thread_counts_for(true) {
            ctx.bar.set_message(timing_message(&shape, &format!("{fused} against {unfused}"), threads));
            let data = std::sync::Arc::new(ChainData::seeded(p, CHAIN_SEED));
            let mut calls = [
                Call::mlpconv_on(fused_kernel, p, data.clone(), threads)?.against(peak(threads)),
                Call::mlpconv_on(unfused_kernel, p, data, threads)?.against(peak(threads)),
            ];
            let timed = time_in_turn(&mut calls, paired_budget)?;
            let speedup = timed.speedup(0, 1);
            let [f, u]: [_; 2] = timed.rows.try_into().expect("a pair");
            rows.push(ReportRow { speedup_vs_unfused: Some(speedup), ..ReportRow::new(f, ai) });
            rows.push(ReportRow::new(u, ai));
            ctx.bar.inc(2);
        }
    }
    for kernel in kernels {
        let counts = thread_counts_for(kernel.info().threads.is_parallel());
        rows.extend(ctx.time_at(&counts, ai, |t| Ok(Call::mlpconv(kernel, p, t)?.against(peak(t))))?);
    }
    report.mlpconv.extend(rows);
    Ok(())
}

/// The whole-network passes the filter keeps ([`forward_plan`]), each verified once per model,
/// and NIN-ImageNet against AlexNet in turn when both are kept; `log` says what is done.
pub(super) fn forward_passes(ctx: &Context, report: &mut Report, log: &dyn Fn(&str)) -> Result<()> {
    for (model, batch, threads) in forward_plan(&ctx.opts.filter) {
        let what = format!(
            "{}: forward pass at batch {batch} ({threads} thread{})",
            model.name,
            if threads > 1 { "s" } else { "" }
        );
        ctx.bar.set_message(what.clone());
        // Verified once per model: the stages are the same at every batch and thread count
        // (and the tests check them on both), and the f64 reference of a batch of 32 would
        // take longer than everything else here.
        let verify = batch == 1 && threads == 1;
        let options = crate::forward::measure::ForwardOptions {
            batch,
            threads,
            budget: ctx.budget,
            verify,
            alone: true,
            peer: true,
            peak_gflops: Some(report.machine.fma_peak_for(threads)),
        };
        let result = crate::forward::measure::evaluate(&model, options)?;
        for (who, checks) in [("ours", &result.checks), ("tract", &result.peer_checks)] {
            for c in checks.iter().flatten().filter(|c| c.mismatch.is_some()) {
                report.failures.push(format!(
                    "forward {} ({who}), stage {}: {}",
                    model.name,
                    c.stage,
                    c.mismatch.as_deref().unwrap_or("")
                ));
            }
        }
        report.whole_network.push(result);
        ctx.bar.inc(1);
        log(&what);
    }
    let plan = forward_plan(&ctx.opts.filter);
    let planned_model = |name: &str| plan.iter().find(|(m, _, _)| m.name == name).map(|(m, _, _)| m.clone());
    if let (Some(nin), Some(alexnet)) = (planned_model("nin-imagenet"), planned_model("alexnet")) {
        ctx.bar.set_message("nin-imagenet against alexnet, one image each in turn");
        report.nin_vs_alexnet = Some(crate::measure::with_threads(1, || {
            crate::forward::measure::models_in_turn(&nin, &alexnet, ctx.budget)
        })??);
    }
    Ok(())
}
