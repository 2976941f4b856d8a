//! The `nin-bench` command line: clap definitions and one function per subcommand.
//!
//! Library errors become one line on stderr and exit status 2; a kernel that disagrees with
//! the reference in `verify` gives exit status 1.

mod compare;
mod forward;
mod gate;
mod models;
mod tensors;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::budget::MemoryBudget;
use crate::error::{NinError, Result};
use crate::format::format_seconds;
use crate::machine;
use crate::measure::{
    ChainData, ConvRunner, RunRow, check_conv, check_gap, check_mlpconv, effective_threads, time_conv,
    time_conv_pair_rows, time_gap, time_mlpconv,
};
use crate::peers::Peer;
use crate::problem::{Problem, parse_shape_file};
use crate::reference;
use crate::registry::{self, AnyKernel};
use crate::simd::{Isa, SimdPolicy};
use crate::suite;
use crate::tensor::seeded_uniform;
use crate::timing::TimingBudget;

/// Benchmarks of Network in Network's kernels: 1×1 convolution and global average pooling.
///
/// Problems are strings: `NxCxHxW:K[,sS][,relu][,nobias][,nhwc]` for a 1×1 convolution
/// (e.g. `1x192x28x28:32,relu`), `NxCxHxW[,nhwc]` for global average pooling (e.g. `1x1000x6x6`),
/// `NxCxHxW:K1:K2[...][,gap]` for a chain of 1×1 layers with bias and ReLU, optionally ending in
/// GAP, for the fused kernels (e.g. `1x192x32x32:160:96`, `1x1024x6x6:1000,gap`).
#[derive(Debug, Parser)]
#[command(name = "nin-bench", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Most memory a command may allocate, such as 512M or 4G (default: what the machine has
    /// available). Work that needs more is refused before anything is allocated.
    #[arg(long, global = true, value_name = "SIZE", value_parser = crate::budget::parse_size)]
    max_memory: Option<u64>,
    /// Force the ISA path of the pulp kernels: scalar, avx2 or avx512 (default: the widest this
    /// CPU has, or NIN_BENCH_ISA). Asking for one the CPU lacks is an error naming what it has.
    #[arg(long, global = true, value_name = "ISA")]
    isa: Option<String>,
}

/// Most threads `--threads` accepts: far above the cores of any machine this suite runs on,
/// low enough that a typo cannot make the process start a hundred thousand of them.
pub const MAX_THREADS: usize = 1024;

/// Rayon sizes its global pool (used by `conv1x1`, `gap`, `verify` and the heads) from
/// `RAYON_NUM_THREADS`: the same bound as `--threads` applies, so that the environment cannot
/// start a hundred thousand threads either (0 is rayon's "all cores").
fn check_rayon_threads_env() -> Result<()> {
    match std::env::var("RAYON_NUM_THREADS") {
        Ok(v) if !v.trim().is_empty() && parse_threads(&v).is_err() && v.trim() != "0" => Err(NinError::Shape {
            what: format!("RAYON_NUM_THREADS={}", crate::error::shorten(&v)),
            reason: format!("threads must be a whole number from 1 to {MAX_THREADS} (or 0 for all cores)"),
        }),
        _ => Ok(()),
    }
}

/// Parses a percentage threshold: a finite number, 0 or more. `NaN` or `inf` would make every
/// comparison pass and so switch a gate off without a word.
pub(crate) fn parse_percent(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("must be a finite percentage, 0 or more, such as 10 or 2.5".to_string()),
    }
}

fn parse_threads(text: &str) -> std::result::Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!("threads must be a whole number from 1 to {MAX_THREADS}")),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the registered kernels (name, operation, layouts, threads, ISA, tile).
    #[command(after_help = "Example:\n  nin-bench list --json")]
    List {
        /// Print a JSON array of objects instead of a table.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the Markdown table of README.md's Kernels section (name, op, what it is).
        #[arg(long)]
        markdown: bool,
    },
    /// The main job: probe the machine, verify and time every kernel and peer on the standard
    /// suite, write report.md, report.json and roofline.svg under <out>/<machine-id>/.
    #[command(
        after_help = "Examples:\n  nin-bench report\n  nin-bench report --quick --out /tmp/results\n  nin-bench report --filter 27x27"
    )]
    Report {
        /// About 0.1 s per measurement instead of 1 s (under a minute in all).
        #[arg(long)]
        quick: bool,
        /// Only problems or kernels whose name contains this.
        #[arg(long, value_name = "P")]
        filter: Option<String>,
        /// Output folder.
        #[arg(long, value_name = "DIR", default_value = "results")]
        out: PathBuf,
    },
    /// Check every kernel (or those named) against the f64 reference; exit 1 on any mismatch.
    ///
    /// Without --shape or --shapes, checks the standard suite (benches/suites/*.txt).
    #[command(
        after_help = "Examples:\n  nin-bench verify\n  nin-bench verify --shape 2x3x7x5:13,s2,relu --shape 1x1000x6x6,nhwc\n  nin-bench verify --shapes my-layers.txt --kernel blocked-simd"
    )]
    Verify {
        #[command(flatten)]
        problems: ProblemArgs,
        /// Only this kernel (repeatable).
        #[arg(long = "kernel", value_name = "K")]
        kernels: Vec<String>,
    },
    /// Time one kernel on one or more problems.
    #[command(
        after_help = "Examples:\n  nin-bench run --kernel blocked-simd --shape 1x256x27x27:256,relu\n  nin-bench run --kernel mlpconv-fused --against mlpconv-unfused --threads 1 --shape 32x192x32x32:160:96\n  nin-bench run --kernel blocked-simd --against gemm-crate --threads 1 --shape 1x1024x6x6:1000,relu\n  nin-bench run --kernel blocked-simd --against fma-peak --shape 1x256x27x27:256,relu\n  nin-bench run --kernel rayon-tiled --threads 2 --shapes benches/suites/conv1x1.txt --json\n  nin-bench run --kernel gap-simd --shape 32x2048x7x7"
    )]
    Run {
        /// Kernel name (see `nin-bench list`).
        #[arg(long, value_name = "K")]
        kernel: String,
        #[command(flatten)]
        problems: ProblemArgs,
        /// Threads for rayon kernels, 1 to 1024 (default: all cores). Single-threaded kernels
        /// use 1.
        #[arg(long, value_name = "N", value_parser = parse_threads)]
        threads: Option<usize>,
        /// Time the kernel against this one, a sample of each in turn, and print the median
        /// speed-up over those rounds (robust to a shared machine's drift). For a conv kernel,
        /// also a GEMM library: `gemm-crate` or `matrixmultiply` (GEMM only, no bias or ReLU),
        /// or `fma-peak`: its share of the FMA peak, timed in turn with the peak loop on 1
        /// thread. For a GAP kernel, also `read-pass`: its share of a read pass over its input.
        #[arg(long, value_name = "K2")]
        against: Option<String>,
        /// About 0.1 s per problem instead of 1 s.
        #[arg(long)]
        quick: bool,
        /// Print a JSON array of rows instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Per-layer output shape, params, MACs and FLOPs of nin-cifar10, nin-imagenet, alexnet.
    #[command(after_help = "Examples:\n  nin-bench models\n  nin-bench models --model nin-imagenet --json")]
    Models {
        /// Only this model.
        #[arg(long, value_name = "NAME")]
        model: Option<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// NIN head (1×1 convs + GAP) against fully-connected heads: params, FLOPs, measured time.
    #[command(after_help = "Example:\n  nin-bench heads --json")]
    Heads {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Compare two report.json files on each row's fraction of its machine's peak; exit 1 if
    /// any row dropped by more than --max-regression percent.
    #[command(
        after_help = "Example:\n  nin-bench compare results/amd-epyc-2c-avx2/report.json /tmp/new/amd-epyc-2c-avx2/report.json --max-regression 10\n\nCompare reports of the same machine: the fraction of the measured peak absorbs a machine that is uniformly slower on one day, not one that is noisy within a run."
    )]
    Compare(compare::CompareArgs),
    /// The regression gate: compare the instruction counts of `cargo bench --bench gate` with
    /// the committed baseline; exit 1 when a case grew by more than --max-increase percent.
    #[command(
        after_help = "Run it through scripts/gate.sh, which runs the benchmark under valgrind first.\nExamples:\n  scripts/gate.sh            # check\n  scripts/gate.sh --update   # accept the new counts as the baseline"
    )]
    Gate(gate::GateArgs),
    /// A whole model's forward pass (nin-cifar10, nin-imagenet, alexnet): time per image and per
    /// stage, beside tract when built with `--features tract`; `--verify` checks every stage.
    #[command(
        after_help = "Examples:\n  nin-bench forward --model nin-imagenet\n  nin-bench forward --model alexnet --batch 32 --threads 1 --verify\n  cargo run --release --features tract -- forward --model nin-cifar10 --json"
    )]
    Forward(forward::ForwardArgs),
    /// Run a 1×1 convolution kernel on your own tensors (.npy, f32, C order, NCHW).
    #[command(
        after_help = "Example:\n  nin-bench conv1x1 --input x.npy --weights w.npy --bias b.npy --relu --output y.npy\n\nInput N×Cin×H×W; weights Cout×Cin or Cout×Cin×1×1; bias Cout. Output N×Cout×Hout×Wout."
    )]
    Conv1x1(tensors::ConvArgs),
    /// Run a global average pooling kernel on your own tensor (.npy, f32, C order, NCHW).
    #[command(
        after_help = "Example:\n  nin-bench gap --input maps.npy --output scores.npy\n\nInput N×C×H×W; output N×C."
    )]
    Gap(tensors::GapArgs),
}

/// Problems from the command line.
#[derive(Debug, Args)]
struct ProblemArgs {
    /// A problem string (repeatable).
    #[arg(long = "shape", value_name = "S")]
    shapes: Vec<String>,
    /// A shape file: one problem per line, `#` starts a comment.
    #[arg(long = "shapes", value_name = "FILE")]
    shape_file: Option<PathBuf>,
}

impl ProblemArgs {
    /// The problems named, or `None` if none was. A shape file with no problem in it is an
    /// error, not a request for the standard suite.
    fn problems(&self) -> Result<Option<Vec<Problem>>> {
        let mut out = Vec::new();
        for s in &self.shapes {
            out.push(s.parse()?);
        }
        if let Some(path) = &self.shape_file {
            let text = crate::files::read_text(path, "shape file")?;
            let problems = parse_shape_file::<Problem>(&text)?;
            if problems.is_empty() {
                return Err(NinError::Empty {
                    what: format!("shape file {}", path.display()),
                    reason: "holds no problem (only blank lines and comments)".into(),
                });
            }
            out.extend(problems);
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

/// The standard suites: conv, then GAP, then the chains.
fn standard_suite() -> Vec<Problem> {
    suite::conv1x1_suite()
        .into_iter()
        .map(Problem::Conv1x1)
        .chain(suite::gap_suite().into_iter().map(Problem::Gap))
        .chain(suite::mlpconv_suite().into_iter().map(Problem::Mlpconv))
        .collect()
}

/// Parses the arguments and runs; what `main` returns.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One line, whatever the text of another crate's error inside it.
            eprintln!("error: {}", crate::error::one_line(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let budget = MemoryBudget::new(cli.max_memory);
    let policy = match &cli.isa {
        Some(isa) => SimdPolicy::for_isa(Isa::parse(isa)?)?,
        None => SimdPolicy::requested_by_env()?,
    };
    SimdPolicy::select_for_process(policy);
    check_rayon_threads_env()?;
    match cli.command {
        Command::List { json, markdown } => list(json, markdown),
        Command::Report { quick, filter, out } => {
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let dir =
                crate::report::run_report(&crate::report::ReportOptions { quick, filter, out, progress, budget })?;
            println!("wrote {}", dir.display());
            for name in ["report.md", "report.json", "roofline.svg", "network_time.svg"] {
                if dir.join(name).exists() {
                    println!("  {}", dir.join(name).display());
                }
            }
            Ok(())
        }
        Command::Verify { problems, kernels } => {
            verify(problems.problems()?.unwrap_or_else(standard_suite), &kernels, &budget)
        }
        Command::Run { kernel, problems, threads, against, quick, json } => {
            let problems = problems.problems()?.ok_or_else(|| NinError::Shape {
                what: "run".to_string(),
                reason: "no problem given: use --shape S or --shapes FILE".to_string(),
            })?;
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let runners = if against.is_some() { 2 } else { 1 };
            for p in &problems {
                budget.check(p, crate::budget::timing_bytes(p, runners))?;
            }
            let timing = if quick { TimingBudget::QUICK } else { TimingBudget::STANDARD };
            run_kernel(&kernel, against.as_deref(), &problems, threads, timing, json)
        }
        Command::Compare(args) => compare::compare(args),
        Command::Gate(args) => gate::gate(args),
        Command::Models { model, json } => models::models(model, json),
        Command::Heads { json } => models::heads(json),
        Command::Forward(args) => forward::forward(args, &budget),
        Command::Conv1x1(args) => tensors::conv1x1(args, &budget),
        Command::Gap(args) => tensors::gap(args, &budget),
    }
    .map(|()| ExitCode::SUCCESS)
    .or_else(|e| match e {
        Failure::Mismatch => Ok(ExitCode::from(1)),
        Failure::Error(e) => Err(e),
    })
}

/// Why a command did not succeed: bad input (exit 2) or a kernel that disagrees (exit 1).
enum Failure {
    Error(NinError),
    Mismatch,
}

impl From<NinError> for Failure {
    fn from(e: NinError) -> Self {
        Failure::Error(e)
    }
}

type CommandResult = std::result::Result<(), Failure>;

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("plain data serialises")
}

fn list(json: bool, markdown: bool) -> CommandResult {
    let kernels = registry::all_kernel_info();
    if json {
        println!("{}", to_json(&kernels));
        return Ok(());
    }
    if markdown {
        print!("{}", kernel_table_markdown(&kernels));
        return Ok(());
    }
    println!("{:<15} {:<8} {:<10} {:<7} {:<56} tile", "name", "op", "layouts", "threads", "isa");
    for k in kernels {
        let layouts = k.layouts.iter().map(|l| l.name()).collect::<Vec<_>>().join(",");
        let tile = k.tile.unwrap_or_else(|| "-".to_string());
        println!("{:<15} {:<8} {:<10} {:<7} {:<56} {tile}", k.name, k.op, layouts, k.threads, k.isa);
    }
    let names = |isas: Vec<Isa>| isas.iter().map(|i| i.name()).collect::<Vec<_>>().join(", ");
    println!(
        "\nISA paths on this CPU: {} (select with --isa or {}); the kernels run {}",
        names(Isa::available()),
        crate::simd::ISA_ENV,
        SimdPolicy::from_env().isa_name()
    );
    for isa in Isa::ALL {
        if let Err(why) = isa.check() {
            println!("not here: {} ({why})", isa.name());
        }
    }
    Ok(())
}

/// The registry as README.md's kernel table: one row per kernel with its description.
pub fn kernel_table_markdown(kernels: &[crate::KernelInfo]) -> String {
    let mut out = String::from("| name | op | what it is |\n| --- | --- | --- |\n");
    for k in kernels {
        out.push_str(&format!("| `{}` | {} | {} |\n", k.name, k.op, k.description));
    }
    out
}

fn verify(problems: Vec<Problem>, only: &[String], budget: &MemoryBudget) -> CommandResult {
    // A kernel named but given no problem of its operation would make a run that checks
    // nothing and passes.
    for name in only {
        let op = registry::kernel(name)?.info().op;
        if !problems.iter().any(|p| p.op() == op) {
            let given: Vec<&str> =
                problems.iter().map(|p| p.op().name()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            return Err(NinError::Empty {
                what: format!("--kernel {name}"),
                reason: format!("it is a {op} kernel, and no {op} problem was given (only {})", given.join(", ")),
            }
            .into());
        }
    }
    for p in &problems {
        budget.check(p, crate::budget::verify_bytes(p))?;
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|k| k == name);
    let (mut checks, mut failures) = (0, 0);
    println!("{:<6} {:<15} {:<26} worst |error| / bound", "status", "kernel", "problem");
    for (i, problem) in problems.iter().enumerate() {
        let seed = 1000 + i as u64;
        let mut report = |name: &str, outcome: std::result::Result<f64, String>| {
            checks += 1;
            match outcome {
                Ok(ratio) => println!("{:<6} {:<15} {:<26} {ratio:.3}", "ok", name, problem.to_string()),
                Err(why) => {
                    failures += 1;
                    println!("{:<6} {:<15} {:<26} {why}", "FAIL", name, problem.to_string());
                }
            }
        };
        match problem {
            Problem::Conv1x1(p) => {
                let x = seeded_uniform(p.input_len(), seed);
                let w = seeded_uniform(p.weights_len(), seed + 1);
                let b = p.bias.then(|| seeded_uniform(p.cout, seed + 2));
                let expected = reference::conv1x1(p, &x, &w, b.as_deref());
                for kernel in registry::conv1x1_kernels().iter().filter(|k| wanted(k.name())) {
                    report(kernel.name(), check_conv(kernel.as_ref(), p, (&x, &w, b.as_deref()), &expected));
                }
            }
            Problem::Gap(p) => {
                let x = seeded_uniform(p.input_len(), seed);
                let expected = reference::gap(p, &x);
                for kernel in registry::gap_kernels().iter().filter(|k| wanted(k.name())) {
                    report(kernel.name(), check_gap(kernel.as_ref(), p, &x, &expected));
                }
            }
            Problem::Mlpconv(p) => {
                let data = ChainData::seeded(p, seed);
                let expected = data.reference(p);
                for kernel in registry::mlpconv_kernels().iter().filter(|k| wanted(k.name())) {
                    report(kernel.name(), check_mlpconv(kernel.as_ref(), p, &data, &expected));
                }
            }
        }
    }
    println!("{checks} checks, {failures} failed");
    if failures > 0 { Err(Failure::Mismatch) } else { Ok(()) }
}

fn run_kernel(
    name: &str,
    against: Option<&str>,
    problems: &[Problem],
    threads: usize,
    budget: TimingBudget,
    json: bool,
) -> CommandResult {
    let kernel = registry::kernel(name)?;
    let op = kernel.info().op;
    if let Some(limit) = against.filter(|a| [FMA_PEAK, READ_PASS].contains(a)) {
        return run_against_limit(&kernel, limit, problems, budget, json);
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
    let other = if peer.is_some() { None } else { against.map(registry::kernel).transpose()? };
    if let Some(other) = &other
        && other.info().op != op
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
    let threads_of = |k: &AnyKernel| effective_threads(k.info().threads, threads);
    let threads =
        threads_of(&kernel).max(other.as_ref().map_or(1, threads_of)).max(if peer.is_some() { threads } else { 1 });
    let peak = (op != crate::Op::Gap).then(|| machine::fma_peak_gflops(threads, 10));
    let mut rows: Vec<RunRow> = Vec::new();
    for problem in problems {
        if let (Some(q), Problem::Conv1x1(p), AnyKernel::Conv1x1(k)) = (peer, problem, &kernel) {
            let pair =
                time_conv_pair_rows([ConvRunner::Kernel(k.as_ref()), ConvRunner::Peer(q)], p, threads, budget, peak)?;
            if !json {
                if rows.is_empty() {
                    print_run_header(op, peak);
                }
                pair.iter().for_each(print_run_row);
                let speedup = pair[0].paired_speedup.unwrap_or(f64::NAN);
                println!("  {name} vs {}: {speedup:.2}× (median over paired rounds)", q.name());
            }
            rows.extend(pair);
            continue;
        }
        if let Some(other) = &other {
            let limit = match problem {
                Problem::Gap(p) => Some(machine::read_bandwidth_gbps_threads(p.input_len() * 4, 0.05, threads)),
                _ => peak,
            };
            let pair = crate::measure::time_pair(&kernel, other, problem, threads, budget, limit)?;
            if !json {
                if rows.is_empty() {
                    print_run_header(op, peak);
                }
                pair.iter().for_each(print_run_row);
                let speedup = pair[0].paired_speedup.unwrap_or(f64::NAN);
                println!("  {name} vs {}: {speedup:.2}× (median over paired rounds)", other.info().name);
            }
            rows.extend(pair);
            continue;
        }
        let row = match (problem, &kernel) {
            (Problem::Conv1x1(p), AnyKernel::Conv1x1(k)) => time_conv(k.as_ref(), p, threads, budget, peak)?,
            (Problem::Gap(p), AnyKernel::Gap(k)) => {
                let bandwidth = machine::read_bandwidth_gbps_threads(p.input_len() * 4, 0.05, threads);
                time_gap(k.as_ref(), p, threads, budget, Some(bandwidth))?
            }
            (Problem::Mlpconv(p), AnyKernel::Mlpconv(k)) => time_mlpconv(k.as_ref(), p, threads, budget, peak)?,
            _ => unreachable!("operations checked above"),
        };
        if !json {
            if rows.is_empty() {
                print_run_header(op, peak);
            }
            print_run_row(&row);
        }
        rows.push(row);
    }
    if json {
        println!("{}", to_json(&rows));
    }
    Ok(())
}

/// `--against` names of the machine's own limits: the FMA-peak loop (conv kernels) and a read
/// pass over the kernel's input (GAP kernels).
const FMA_PEAK: &str = "fma-peak";
const READ_PASS: &str = "read-pass";

/// `run --against fma-peak|read-pass`: the kernel's share of the limit, timed in turn with the
/// loop that measures it, on 1 thread.
fn run_against_limit(
    kernel: &AnyKernel,
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
                crate::measure::time_conv_against_peak(k.as_ref(), p, budget)?
            }
            (READ_PASS, Problem::Gap(p), AnyKernel::Gap(k)) => {
                crate::measure::time_gap_against_bandwidth(k.as_ref(), p, budget)?
            }
            _ => {
                return Err(NinError::Shape {
                    what: format!("--against {limit}"),
                    reason: format!(
                        "{FMA_PEAK} times a conv kernel on a conv problem, {READ_PASS} a GAP kernel on a GAP \
                         problem; this is {name} on {problem}"
                    ),
                }
                .into());
            }
        };
        if !json {
            let what = if limit == FMA_PEAK { "the FMA peak" } else { "the read bandwidth of its input" };
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
    let limit = if op == crate::Op::Gap { "of read bw" } else { "of FMA peak" };
    println!(
        "{:<15} {:<26} {:>7} {:>9} {:>9} {:>8} {:>12} {:>12}",
        "kernel", "problem", "threads", "GFLOP/s", "p90", "GB/s", limit, "median"
    );
}

fn print_run_row(r: &RunRow) {
    let fraction = r.peak_fraction.map_or("-".to_string(), |f| format!("{:.1}%", 100.0 * f));
    println!(
        "{:<15} {:<26} {:>7} {:>9.2} {:>9.2} {:>8.2} {:>12} {:>12}",
        r.kernel,
        r.shape,
        r.threads,
        r.gflops,
        r.gflops_p90,
        r.gbps,
        fraction,
        format_seconds(r.seconds_median)
    );
}
