//! `nin-bench run`: one kernel timed alone, against another kernel or a GEMM library in turn,
//! or against the loop that measures a limit of the machine.

use super::common::{CommandResult, to_json};
use crate::error::NinError;
use crate::format::format_seconds;
use crate::machine;
use crate::measure::{Call, ProblemData, RunRow, time, time_in_turn};
use crate::peers::Peer;
use crate::problem::Problem;
use crate::registry::{AnyKernel, Registry};
use crate::timing::TimingBudget;

/// `--against` names of the machine's own limits: the FMA-peak loop (conv kernels), a read
/// pass over the kernel's input (GAP kernels) and the int8 peak loop (int8 kernels).
const FMA_PEAK: &str = "fma-peak";
const READ_PASS: &str = "read-pass";
const INT8_PEAK: &str = "int8-peak";

/// What `run` is asked to do.
pub(super) struct RunRequest<'a> {
    pub kernel: &'a str,
    pub against: Option<&'a str>,
    pub problems: &'a [Problem],
    pub threads: usize,
    pub budget: TimingBudget,
    pub json: bool,
}

pub(super) fn run_kernel(registry: &Registry, req: RunRequest) -> CommandResult {
    let RunRequest { kernel: name, against, problems, threads, budget, json } = req;
    let kernel = registry.kernel(name)?;
    let op = kernel.info().op;
    if let Some(limit) = against.filter(|a| [FMA_PEAK, READ_PASS, INT8_PEAK].contains(a)) {
        return run_against_limit(kernel, limit, problems, budget, json);
    }
    // `--against` names a kernel, or a GEMM library for a conv kernel.
    let peer = against.and_then(Peer::from_name);
    if let Some(q) = peer
        && op != crate::Op::Conv1x1
    {
        return Err(NinError::Shape {
            what: format!("--against {}", q.name()),
            reason: format!("{} is a GEMM library, it runs 1×1 convolutions only; {name} is a {op} kernel", q.name()),
        }
        .into());
    }
    let other = if peer.is_some() { None } else { against.map(|a| registry.kernel(a)).transpose()? };
    // An int8 kernel may be timed against an f32 conv kernel on its f32 twin: the same layer,
    // the same multiply-accumulates, with ReLU, so the time ratio is the ratio of MAC/s.
    let f32_twin = other.as_ref().is_some_and(|o| {
        matches!((op, o.info().op), (crate::Op::QConv1x1, crate::Op::Conv1x1) | (crate::Op::QGap, crate::Op::Gap))
    });
    if let Some(other) = &other
        && other.info().op != op
        && !f32_twin
    {
        return Err(NinError::Shape {
            what: format!("--against {}", other.info().name),
            reason: format!("{name} is a {op} kernel, {} a {} kernel", other.info().name, other.info().op),
        }
        .into());
    }
    if let Some(p) = problems.iter().find(|p| p.op() != op) {
        return Err(NinError::Shape {
            what: p.to_string(),
            reason: format!("{name} is a {op} kernel, but this is a {} problem", p.op()),
        }
        .into());
    }
    let used = |k: &AnyKernel| k.info().threads.used_in(threads);
    let most = used(&kernel).max(other.as_ref().map_or(1, used)).max(if peer.is_some() { threads } else { 1 });
    // The FMA peak is the limit of f32 work; int8 work has its own (not measured yet), so its
    // rows carry no share rather than a share of the wrong peak.
    let peak =
        |t: usize| matches!(op, crate::Op::Conv1x1 | crate::Op::Mlpconv).then(|| machine::fma_peak_gflops(t, 10));
    let counts = if most > 1 { vec![1, most] } else { vec![1] };
    let peaks: Vec<(usize, Option<f64>)> = counts.into_iter().map(|t| (t, peak(t))).collect();
    let limit = |p: &Problem, t: usize| match p {
        Problem::Gap(p) => Some(machine::read_bandwidth_gbps_threads(p.input_len() * 4, 0.05, t)),
        Problem::QGap(p) => Some(machine::read_bandwidth_gbps_threads(p.gap().input_len(), 0.05, t)),
        _ => peaks.iter().find(|(n, _)| *n == t).and_then(|(_, v)| *v),
    };
    let mut rows: Vec<RunRow> = Vec::new();
    for problem in problems {
        // The calls timed in turn read the same input, as when they were checked.
        let data = ProblemData::seeded(problem);
        let first = Call::kernel(kernel, problem, &data, threads)?;
        let first_limit = limit(problem, first.threads);
        let mut first = first.against(first_limit);
        let twin = match problem {
            Problem::QConv1x1(q) if f32_twin => Some(Problem::Conv1x1(*q.conv())),
            Problem::QGap(q) if f32_twin => Some(Problem::Gap(*q.gap())),
            _ => None,
        };
        let twin_data = twin.as_ref().map(ProblemData::seeded);
        let second = match (peer, other, problem, &data) {
            (Some(q), _, Problem::Conv1x1(p), ProblemData::Conv(d)) => Some(Call::peer_on(q, p, d.clone(), threads)?),
            (None, Some(other), _, _) => match (&twin, &twin_data) {
                (Some(twin), Some(twin_data)) => Some(Call::kernel(other, twin, twin_data, threads)?),
                _ => Some(Call::kernel(other, problem, &data, threads)?),
            },
            _ => None,
        };
        if !json && rows.is_empty() {
            print_run_header(op, peaks.last().and_then(|p| p.1));
        }
        let Some(second) = second else {
            let row = time(&mut first, budget)?;
            if !json {
                print_run_row(&row);
            }
            rows.push(row);
            continue;
        };
        let second_limit = limit(problem, second.threads);
        let mut calls = [first, second.against(second_limit)];
        let pair = time_in_turn(&mut calls, budget)?.pair_rows();
        if !json {
            pair.iter().for_each(print_run_row);
            let speedup = pair[0].paired_speedup.unwrap_or(f64::NAN);
            println!("  {name} vs {}: {speedup:.2}× (median over paired rounds)", pair[1].kernel);
        }
        rows.extend(pair);
    }
    if json {
        println!("{}", to_json(&rows));
    }
    Ok(())
}

/// `run --against fma-peak|read-pass`: the kernel's share of the limit, timed in turn with the
/// loop that measures it, on 1 thread.
fn run_against_limit(
    kernel: AnyKernel,
    limit: &str,
    problems: &[Problem],
    budget: TimingBudget,
    json: bool,
) -> CommandResult {
    let name = kernel.info().name;
    let mut shares = Vec::new();
    for problem in problems {
        let share = match (limit, problem, kernel) {
            (FMA_PEAK, Problem::Conv1x1(p), AnyKernel::Conv1x1(k)) => {
                crate::measure::time_conv_against_peak(k, p, budget)?
            }
            (READ_PASS, Problem::Gap(p), AnyKernel::Gap(k)) => {
                crate::measure::time_gap_against_bandwidth(k, p, budget)?
            }
            (READ_PASS, Problem::QGap(p), AnyKernel::QGap(k)) => {
                crate::measure::time_qgap_against_bandwidth(k, p, budget)?
            }
            (INT8_PEAK, Problem::QConv1x1(p), AnyKernel::QConv1x1(k)) => {
                crate::measure::time_qconv_against_int8_peak(k, p, budget)?
            }
            _ => {
                return Err(NinError::Shape {
                    what: format!("--against {limit}"),
                    reason: format!(
                        "{FMA_PEAK} times a conv kernel on a conv problem, {READ_PASS} a GAP kernel on a GAP \
                         problem, {INT8_PEAK} an int8 kernel on an int8 problem; this is {name} on {problem}"
                    ),
                }
                .into());
            }
        };
        if !json {
            let what = match limit {
                FMA_PEAK => "the FMA peak",
                INT8_PEAK => "the int8 peak",
                _ => "the read bandwidth of its input",
            };
            let tile = share.l1_tile.as_ref().map_or(String::new(), |t| {
                format!(
                    "; the {} microkernel on data in L1, in the same rounds: {:.1}% (p90 {:.1}%)",
                    t.tile,
                    100.0 * t.median,
                    100.0 * t.p90
                )
            });
            println!(
                "{name} on {problem}, 1 thread: {:.1}% of {what} (p90 {:.1}%), timed in turn{tile}",
                100.0 * share.median,
                100.0 * share.p90
            );
        }
        shares.push(share);
    }
    if json {
        println!("{}", to_json(&shares));
    }
    Ok(())
}

fn print_run_header(op: crate::Op, peak: Option<f64>) {
    if let Some(peak) = peak {
        println!("FMA peak measured now: {peak:.1} GFLOP/s");
    }
    let (rate, limit) = match op {
        crate::Op::Gap => ("GFLOP/s", "of read bw"),
        // Two integer operations per multiply-accumulate; no int8 peak yet.
        crate::Op::QConv1x1 => ("GOP/s", "of peak"),
        crate::Op::QGap => ("GOP/s", "of read bw"),
        _ => ("GFLOP/s", "of FMA peak"),
    };
    println!(
        "{:<15} {:<26} {:>7} {:>9} {:>9} {:>8} {:>12} {:>12}",
        "kernel", "problem", "threads", rate, "p90", "GB/s", limit, "median"
    );
}

fn print_run_row(r: &RunRow) {
    let fraction = r.peak_fraction.map_or("-".to_string(), |f| format!("{:.1}%", 100.0 * f));
    println!(
        "{:<15} {:<26} {:>7} {:>9.2} {:>9.2} {:>8.2} {:>12} {:>12}",
        r.kernel.name(),
        r.problem.map_or(String::new(), |p| p.to_string()),
        r.threads,
        r.gflops,
        r.gflops_p90,
        r.gbps,
        fraction,
        format_seconds(r.seconds_median)
    );
}
