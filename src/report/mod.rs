//! `nin-bench report`: the main job. Probes the machine, verifies every kernel (and peer) on the
//! standard suites (1×1 convolution, GAP, fused chains), times what passed at 1 thread and all
//! threads, times whole forward passes of the models beside tract (where built with it), and
//! writes `report.md`, `report.json`, `peers.svg`, `roofline.svg` and `network_time.svg` under
//! `<out>/<machine-id>/`.

mod int8;
mod markdown;
mod network_time;
mod peers_chart;
mod plan;
pub mod probe;
mod roofline;
mod rows;
mod sanity;
mod summary;
pub mod targets;
mod timings;

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{NinError, Result};
use crate::kernel::{Op, Role};
use crate::peers::Peer;
use crate::problem::Problem;
use crate::registry::Registry;
use crate::suite;
use crate::timing::TimingBudget;
pub use plan::ReportOptions;
use plan::{forward_plan, matches, planned};
pub use rows::{Against, Int8Row, PairedRatio, Preparation, Report, ReportRow};
pub use sanity::ABOVE_PEAK_LIMIT;
use timings::Context;

/// Images of the int8 accuracy check (and as many again to calibrate its scales).
const INT8_ACCURACY_IMAGES: usize = 64;

/// Runs the report on the kernels of `registry` and writes its files; returns the folder
/// written.
pub fn run_report(opts: &ReportOptions, registry: &Registry) -> Result<PathBuf> {
    let threads_all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let budget = if opts.quick { TimingBudget::QUICK } else { TimingBudget::STANDARD };
    let conv_problems = suite::conv1x1_suite();
    let gap_problems = suite::gap_suite();
    let (conv_kernels, gap_kernels, chain_kernels) = (registry.conv1x1(), registry.gap(), registry.mlpconv());
    let chain_problems = suite::mlpconv_suite();

    // Count the measurements for the progress bar.
    let conv_runners: Vec<(&str, bool)> = conv_kernels
        .iter()
        .map(|k| (k.name(), k.info().threads.is_parallel()))
        .chain(Peer::ALL.iter().map(|q| (q.name(), true)))
        .collect();
    let gap_runners: Vec<(&str, bool)> =
        gap_kernels.iter().map(|k| (k.name(), k.info().threads.is_parallel())).collect();
    let forward_total = forward_plan(&opts.filter).len();
    let conv_total = planned(&conv_problems, &conv_runners, &opts.filter);
    let gap_total = planned(&gap_problems, &gap_runners, &opts.filter);
    let chain_runners: Vec<(&str, bool)> =
        chain_kernels.iter().map(|k| (k.name(), k.info().threads.is_parallel())).collect();
    let chain_total = planned(&chain_problems, &chain_runners, &opts.filter);
    let int8_problems = suite::int8_suite();
    let int8_kernel = registry.playing(Op::QConv1x1, Role::Default).and_then(|k| k.as_qconv1x1());
    // Against the one-thread direct f32 kernel (`blocked-simd`), both on 1 thread.
    let f32_kernel = registry.playing(Op::Conv1x1, Role::Direct).and_then(|k| k.as_conv1x1());
    let int8_scaling = registry.playing(Op::QConv1x1, Role::Scaling).and_then(|k| k.as_qconv1x1());
    let int8_runners: Vec<(&str, bool)> = int8_kernel.iter().map(|k| (k.name(), false)).collect();
    let int8_timings = int8::Int8Kernels::timings(int8_scaling.is_some(), threads_all);
    let int8_total = int8_timings * planned(&int8_problems, &int8_runners, &opts.filter);
    if conv_total + gap_total + chain_total + int8_total + forward_total == 0
        && !matches(&opts.filter, "heads", "heads")
        && !matches(&opts.filter, "nin-cifar10,u8s8", "int8-accuracy")
    {
        return Err(NinError::Empty {
            what: format!("--filter {}", crate::error::shorten(opts.filter.as_deref().unwrap_or_default())),
            reason: "matches no problem, kernel or peer of the standard suites, no model, nor \"heads\", \"forward\" or \"int8-accuracy\""
                .into(),
        });
    }
    for (model, batch, _) in forward_plan(&opts.filter) {
        opts.budget.check(
            format_args!("{} at batch {batch}", model.name),
            crate::forward::needed_bytes(&model, batch as u64, true, true)?,
        )?;
    }
    let suites = conv_problems
        .iter()
        .map(|p| Problem::Conv1x1(*p))
        .chain(gap_problems.iter().map(|p| Problem::Gap(*p)))
        .chain(chain_problems.iter().map(|p| Problem::Mlpconv(*p)));
    let names: Vec<&str> = conv_runners.iter().chain(&gap_runners).chain(&chain_runners).map(|r| r.0).collect();
    for p in suites.filter(|p| names.iter().any(|name| matches(&opts.filter, &p.to_string(), name))) {
        // Each runner is verified, then timed in pairs.
        opts.budget.check(p, crate::budget::verify_bytes(&p).max(crate::budget::timing_bytes(&p, 2)))?;
    }

    let bar = if opts.progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}").expect("valid template"));
    bar.set_message("probing the machine (FMA peak, bandwidth)");
    let machine = probe::probe(opts.quick, threads_all);

    bar.set_length((conv_total + gap_total + chain_total + int8_total + forward_total) as u64);
    bar.set_position(0);

    let mut report = Report {
        fma_peak_gflops: machine.fma_peak_gflops,
        mode: if opts.quick { "quick" } else { "full" },
        conv1x1: Vec::new(),
        gap: Vec::new(),
        mlpconv: Vec::new(),
        preparation: Vec::new(),
        paired: Vec::new(),
        peak_shares: Vec::new(),
        scaling: Vec::new(),
        bandwidth_shares: Vec::new(),
        int8: Vec::new(),
        int8_accuracy: None,
        int8_pass: None,
        failures: Vec::new(),
        verified: 0,
        verified_int8: 0,
        models: crate::model::zoo::models().iter().map(|m| m.stats()).collect::<Result<_>>()?,
        heads: Vec::new(),
        targets: Vec::new(),
        whole_network: Vec::new(),
        nin_vs_alexnet: None,
        probe_warnings: Vec::new(),
        machine,
    };

    // Without a terminal (CI logs, pipes) the bar is hidden: say what is done, a line per problem.
    let log = |what: &str| {
        if !opts.progress {
            eprintln!("[{}/{}] {what}", bar.position(), bar.length().unwrap_or(0));
        }
    };
    log("machine probed");
    let ctx = Context { budget, opts, bar: &bar, threads_all };
    let logged = |before: u64, p: &dyn std::fmt::Display| {
        if bar.position() > before {
            log(&p.to_string());
        }
    };
    for p in &conv_problems {
        let before = bar.position();
        timings::conv_problem(&ctx, p, conv_kernels, &mut report)?;
        logged(before, p);
    }
    for p in &gap_problems {
        let before = bar.position();
        timings::gap_problem(&ctx, p, gap_kernels, &mut report)?;
        logged(before, p);
    }
    for p in &chain_problems {
        let before = bar.position();
        timings::chain_problem(&ctx, p, chain_kernels, &mut report)?;
        logged(before, p);
    }
    if let (Some(int8_kernel), Some(f32_kernel)) = (int8_kernel, f32_kernel) {
        for p in int8_problems.iter().filter(|p| matches(&opts.filter, &p.to_string(), int8_kernel.name())) {
            let before = bar.position();
            let kernels = int8::Int8Kernels { int8: int8_kernel, f32: f32_kernel, scaling: int8_scaling };
            int8::int8_problem(&ctx, p, kernels, &mut report)?;
            logged(before, p);
        }
    }
    if matches(&opts.filter, "nin-cifar10,u8s8", "int8-accuracy") {
        let what = format!("int8 accuracy: nin-cifar10, {INT8_ACCURACY_IMAGES} images, int8 against f32");
        log(&what);
        bar.set_message(what);
        let model = crate::model::zoo::nin_cifar10();
        let policy = crate::simd::SimdPolicy::from_env();
        report.int8_accuracy = Some(crate::forward::quantized::int8_accuracy(&model, INT8_ACCURACY_IMAGES, 1, policy)?);
        let what = "int8 pass: nin-cifar10, 1 image, int8 against f32 in turn, 1 thread";
        log(what);
        bar.set_message(what);
        report.int8_pass = Some(crate::measure::with_threads(1, || {
            crate::forward::quantized::time_int8_pass(&model, 1, budget, policy)
        })??);
    }
    if matches(&opts.filter, "heads", "heads") {
        log("heads: NIN (1x1 + GAP) against fully-connected, batch 1 and 32");
        bar.set_message("heads: NIN (1x1 + GAP) against fully-connected, batch 1 and 32");
        report.heads = crate::model::heads::standard_heads().iter().map(|h| h.stats(budget)).collect::<Result<_>>()?;
    }
    timings::forward_passes(&ctx, &mut report, &log)?;
    bar.set_message("probing the FMA peak again");
    sanity::reprobe_peaks(&mut report, opts.quick);
    report.probe_warnings = [
        sanity::flag_rows_above_peak(&mut report.conv1x1, "FMA peak"),
        sanity::flag_rows_above_peak(&mut report.mlpconv, "FMA peak"),
        sanity::flag_rows_above_peak(&mut report.gap, "read bandwidth"),
    ]
    .concat();
    report.targets = targets::evaluate(&report);
    bar.finish_and_clear();
    write_report(&report, &opts.out)
}

fn write_report(report: &Report, out: &Path) -> Result<PathBuf> {
    let dir = out.join(&report.machine.id);
    let io = |e: std::io::Error| NinError::File {
        path: dir.display().to_string(),
        reason: format!("cannot write the report: {e}"),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let json = serde_json::to_string_pretty(report).expect("plain data serialises");
    let write =
        |name: &str, text: String| crate::files::write_output(&dir.join(name), |w| w.write_all(text.as_bytes()));
    write("report.json", json + "\n")?;
    write("report.md", markdown::render(report))?;
    roofline::draw(report, &dir.join("roofline.svg"))?;
    peers_chart::draw(report, &dir.join("peers.svg"))?;
    network_time::draw(report, &dir.join("network_time.svg"))?;
    Ok(dir)
}
