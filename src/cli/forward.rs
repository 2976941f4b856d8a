//! `nin-bench forward`: a whole model's forward pass, timed per image and per stage, beside
//! tract (when built with the `tract` feature), optionally verified stage by stage.

use clap::Args;

use super::common::{CommandResult, Failure, parse_threads, to_json};
use crate::budget::MemoryBudget;
use crate::format::{dims, format_seconds};
use crate::forward::measure::{ForwardOptions, ForwardResult, evaluate};
use crate::model::zoo;
use crate::timing::TimingBudget;

/// Most images per pass `--batch` accepts (the memory check refuses what does not fit first).
pub const MAX_BATCH: usize = 4096;

fn parse_batch(text: &str) -> std::result::Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_BATCH).contains(&n) => Ok(n),
        _ => Err(format!("batch must be a whole number from 1 to {MAX_BATCH}")),
    }
}

/// Arguments of `nin-bench forward`.
#[derive(Debug, Args)]
pub(crate) struct ForwardArgs {
    /// The model: nin-cifar10, nin-imagenet or alexnet.
    #[arg(long, value_name = "NAME")]
    model: String,
    /// Images per pass, 1 to 4096.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_batch)]
    batch: usize,
    /// Threads, 1 to 1024 (default: all cores).
    #[arg(long, value_name = "T", value_parser = parse_threads)]
    threads: Option<usize>,
    /// Check every stage against the f64 reference fed its own input (and tract's stages,
    /// when built with it); exit 1 on a mismatch.
    #[arg(long)]
    verify: bool,
    /// About 0.1 s of timing per measurement instead of 1 s.
    #[arg(long)]
    quick: bool,
    /// Leave tract out even when the build has it.
    #[arg(long)]
    no_peer: bool,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub(crate) fn forward(args: ForwardArgs, budget: &MemoryBudget) -> CommandResult {
    let model = zoo::model(&args.model)?;
    let peer = !args.no_peer && cfg!(feature = "tract");
    budget.check(
        format_args!("{} at batch {}", model.name, args.batch),
        crate::forward::needed_bytes(&model, args.batch as u64, args.verify, peer)?,
    )?;
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !args.json {
        eprintln!("measuring the FMA peak on {threads} thread(s), then {} at batch {}...", model.name, args.batch);
    }
    let peak = crate::machine::fma_peak_gflops(threads, if args.quick { 2 } else { 5 });
    let options = ForwardOptions {
        batch: args.batch,
        threads,
        budget: if args.quick { TimingBudget::QUICK } else { TimingBudget::STANDARD },
        verify: args.verify,
        alone: true,
        peer: !args.no_peer,
        peak_gflops: Some(peak),
    };
    let result = evaluate(&model, options)?;
    if args.json {
        println!("{}", to_json(&result));
    } else {
        print_result(&result, peak);
    }
    if result.passed() { Ok(()) } else { Err(Failure::Mismatch) }
}

fn percent(v: f64) -> String {
    format!("{:.0}%", 100.0 * v)
}

fn print_result(r: &ForwardResult, peak: f64) {
    let t = &r.timing;
    println!(
        "{}, batch {}, {} thread(s), {}: {:.2} GFLOP per image, {:.1} MiB of weights",
        r.model, r.batch, r.threads, r.isa, r.gflop_per_image, r.weights_mib
    );
    println!(
        "ours: {} per image (median; p90 {}), {:.1} GFLOP/s = {} of the {:.1} GFLOP/s FMA peak; {} passes",
        format_seconds(t.seconds_per_image),
        format_seconds(t.seconds_per_image_p90),
        t.gflops,
        percent(t.gflops / peak),
        peak,
        t.passes
    );
    match (&r.peer, &r.peer_missing) {
        (Some(p), _) => println!(
            "{}: {} per image (median; p90 {}); ours {} in the same rounds: ours is {:.2}× its speed (median over passes timed in turn)",
            p.engine,
            format_seconds(p.seconds_per_image),
            format_seconds(p.seconds_per_image_p90),
            format_seconds(p.ours_seconds_per_image),
            p.ours_speedup
        ),
        (None, Some(why)) => println!("peer engine: none ({why})"),
        (None, None) => {}
    }
    println!(
        "\n{:<28} {:<14} {:>12} {:>10} {:>6} {:>8} {:>8} {:>10} {:>9}",
        "stage", "runner", "output", "time", "share", "GFLOP/s", "of peak", "alone", "pass/alone"
    );
    for s in &t.stages {
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_string(), f);
        println!(
            "{:<28} {:<14} {:>12} {:>10} {:>6} {:>8} {:>8} {:>10} {:>9}",
            crate::error::shorten(&s.name),
            s.runner,
            dims(&s.output),
            format_seconds(s.seconds),
            percent(s.share),
            opt(s.gflops, &|g| format!("{g:.1}")),
            opt(s.peak_fraction, &percent),
            opt(s.alone_seconds, &format_seconds),
            opt(s.in_pass_over_alone, &|v| format!("{v:.2}")),
        );
    }
    let kinds: Vec<String> = t
        .categories
        .iter()
        .map(|c| format!("{} {} ({})", c.category.name(), percent(c.share), format_seconds(c.seconds)))
        .collect();
    println!("\nby kind (per pass of {} images): {}", r.batch, kinds.join(", "));
    for (who, checks) in [("ours", &r.checks), ("tract", &r.peer_checks)] {
        let Some(checks) = checks else { continue };
        let failed: Vec<_> = checks.iter().filter(|c| c.mismatch.is_some()).collect();
        let worst = checks.iter().map(|c| c.worst_ratio).fold(0.0, f64::max);
        if failed.is_empty() {
            println!(
                "verify ({who}): {} stages against the f64 reference fed their own inputs: all within the bound (worst {worst:.3} of it)",
                checks.len()
            );
        } else {
            for c in failed {
                println!("verify ({who}): FAIL {}: {}", c.stage, c.mismatch.as_deref().unwrap_or(""));
            }
        }
    }
    if let Some(d) = r.output_max_difference {
        println!("final outputs, ours against tract: largest difference {d:.2e}");
    }
}
