//! The `nin-bench` command line: clap definitions and one function per subcommand.
//!
//! Library errors become one line on stderr and exit status 2; a kernel that disagrees with
//! the reference in `verify` gives exit status 1.

mod common;
mod compare;
mod forward;
mod gate;
mod list;
mod models;
mod run;
mod tensors;
mod tiles;
mod verify;

pub use common::MAX_THREADS;
use common::{Failure, parse_threads};
pub use list::kernel_table_markdown;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::budget::MemoryBudget;
use crate::error::{NinError, Result};
use crate::problem::{Problem, parse_shape_file};
use crate::registry::Registry;
use crate::simd::{Isa, SimdPolicy};
use crate::suite;
use crate::timing::TimingBudget;

/// Benchmarks of Network in Network's kernels: 1×1 convolution and global average pooling.
///
/// Problems are strings: `NxCxHxW:K[,sS][,relu][,nobias][,nhwc]` for a 1×1 convolution
/// (e.g. `1x192x28x28:32,relu`), `NxCxHxW[,nhwc]` for global average pooling (e.g. `1x1000x6x6`),
/// `NxCxHxW:K1:K2[...][,gap]` for a chain of 1×1 layers with bias and ReLU, optionally ending in
/// GAP, for the fused kernels (e.g. `1x192x32x32:160:96`, `1x1024x6x6:1000,gap`). The flag
/// `u8s8` makes a convolution int8 (u8 activations, s8 weights, u8 output with ReLU, e.g.
/// `1x192x28x28:32,u8s8`), and `u8` a GAP (e.g. `1x1000x6x6,u8`).
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
    /// emu512 runs the 16-lane code of avx512 emulated on any CPU, to check it (slow).
    #[arg(long, global = true, value_name = "ISA")]
    isa: Option<String>,
}

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
    /// suite, write report.md, report.json and the charts (peers.svg, roofline.svg, network_time.svg)
    /// under <out>/<machine-id>/.
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
    /// Time every candidate register tile (MR×NR) of the microkernel on data in L1, each as a
    /// share of the FMA peak of the same ISA, timed in turn: how the kernels' tile is chosen.
    ///
    /// The candidates are the tiles that fit the ISA's vector registers (16 with AVX2, 32 with
    /// AVX-512); `--isa` picks the ISA.
    #[command(after_help = "Examples:\n  nin-bench tiles\n  nin-bench tiles --isa avx512 --json")]
    Tiles {
        /// About 0.1 s per measurement instead of 1 s.
        #[arg(long)]
        quick: bool,
        /// Print a JSON array of tiles instead of a table.
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
    /// Run a 1×1 convolution kernel on your own tensors (.npy, C order, NCHW; f32, or int8).
    #[command(
        after_help = "Examples:\n  nin-bench conv1x1 --input x.npy --weights w.npy --bias b.npy --relu --output y.npy\n  nin-bench conv1x1 --input x_u8.npy --weights w_i8.npy --bias b_i32.npy --multipliers m.npy --output y_u8.npy\n\nInput N×Cin×H×W; weights Cout×Cin or Cout×Cin×1×1; bias Cout. Output N×Cout×Hout×Wout.\nA uint8 input runs the int8 kernels: int8 weights, int32 bias, float32 multipliers (Cout),\nuint8 output = clamp(round_half_even((acc + bias) · m), 0, 255)."
    )]
    Conv1x1(tensors::ConvArgs),
    /// Run a global average pooling kernel on your own tensor (.npy, C order, NCHW; f32, or uint8).
    #[command(
        after_help = "Example:\n  nin-bench gap --input maps.npy --output scores.npy\n\nInput N×C×H×W; output N×C. A uint8 input runs the int8 kernels: uint8 means, rounded half to even."
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
    let registry = Registry::from_env();
    match cli.command {
        Command::List { json, markdown } => list::list(&registry, json, markdown),
        Command::Report { quick, filter, out } => {
            if policy == SimdPolicy::emulated_512() {
                return Err(emulated_not_timed());
            }
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let dir = crate::report::run_report(
                &crate::report::ReportOptions { quick, filter, out, progress, budget },
                &registry,
            )?;
            println!("wrote {}", dir.display());
            for name in ["report.md", "report.json", "peers.svg", "roofline.svg", "network_time.svg"] {
                if dir.join(name).exists() {
                    println!("  {}", dir.join(name).display());
                }
            }
            Ok(())
        }
        Command::Verify { problems, kernels } => {
            verify::verify(&registry, problems.problems()?.unwrap_or_else(standard_suite), &kernels, &budget)
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
            let (kernel, against) = (kernel.as_str(), against.as_deref());
            run::run_kernel(
                &registry,
                run::RunRequest { kernel, against, problems: &problems, threads, budget: timing, json },
            )
        }
        Command::Compare(args) => compare::compare(args),
        Command::Gate(args) => gate::gate(args),
        Command::Tiles { quick, json } => {
            if policy == SimdPolicy::emulated_512() {
                return Err(emulated_not_timed());
            }
            tiles::tiles(quick, json)
        }
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

/// The report and the tile sweep measure shares of a hardware path's peak: emu512 has none.
fn emulated_not_timed() -> NinError {
    NinError::Isa {
        asked: Isa::Emu512.name().into(),
        reason: "a check path (16 lanes emulated in portable code) with no peak to measure shares of; \
                 use it with verify or run"
            .into(),
    }
}
