//! The regression gate's benchmarks: instruction counts (valgrind's callgrind) of every
//! registered kernel on a few fixed NIN problems. Deterministic, so a shared, noisy machine
//! cannot fool it. Run it with `scripts/gate.sh`, which compares the counts with the committed
//! baseline `results/gate/baseline.json`. The cases are `nin_bench::gate::cases()`: every
//! registered kernel on the gate's problems.
//!
//! `cargo bench --bench gate` runs this binary once per case under callgrind
//! (`--count-case I`), with collection switched on only inside [`nin_bench_gate_counted`]: the
//! setup (inputs, weights prepared once, one warm-up call that allocates the per-thread
//! workspaces) is not counted, only one further `run` call. Each count lands in
//! `<target>/gate/case_<I>.callgrind`, which `nin-bench gate` reads.
//!
//! Every case runs inside a one-thread rayon pool whose worker is the process's own thread
//! (`use_current_thread`): callgrind counts only the instructions under the counted function on
//! that thread, so the rayon kernels' work must happen there, and with one thread the count
//! does not depend on how threads interleave.
//!
//! (This harness replaced gungraun, whose runner had to be compiled by `cargo install` on every
//! fresh CI machine: a minute and a half of CI. The counts are of the same region.)

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use nin_bench::conv1x1::{Conv1x1Kernel, PreparedWeights};
use nin_bench::gap::GapKernel;
use nin_bench::measure::{CHAIN_SEED, ChainData};
use nin_bench::mlpconv::{MlpconvKernel, PreparedChain};
use nin_bench::problem::{QConv1x1Problem, QGapProblem};
use nin_bench::qconv::{PreparedQLayer, QConv1x1Kernel};
use nin_bench::qgap::QGapKernel;
use nin_bench::quant::QConvData;
use nin_bench::registry::Registry;
use nin_bench::tensor::{AlignedBuf, seeded_uniform, zeroed};
use nin_bench::{Conv1x1Problem, GapProblem, MlpconvProblem};

/// The argument that makes this binary run one case, the one callgrind counts.
const COUNT_CASE_ARG: &str = "--count-case";

/// One prepared case: inputs made and weights packed outside the counted region, and the
/// one-thread pool it runs in.
struct Case {
    pool: rayon::ThreadPool,
    work: Work,
}

#[allow(clippy::large_enum_variant)] // built once per benchmark process; size is irrelevant
enum Work {
    Conv {
        kernel: &'static dyn Conv1x1Kernel,
        problem: Conv1x1Problem,
        input: AlignedBuf,
        prepared: PreparedWeights,
        output: AlignedBuf,
    },
    Gap {
        kernel: &'static dyn GapKernel,
        problem: GapProblem,
        input: AlignedBuf,
        output: AlignedBuf,
    },
    QConv {
        kernel: &'static dyn QConv1x1Kernel,
        problem: QConv1x1Problem,
        input: Vec<u8>,
        prepared: PreparedQLayer,
        output: Vec<u8>,
    },
    QGap {
        kernel: &'static dyn QGapKernel,
        problem: QGapProblem,
        input: Vec<u8>,
        output: Vec<u8>,
    },
    Mlpconv {
        kernel: &'static dyn MlpconvKernel,
        problem: MlpconvProblem,
        input: AlignedBuf,
        prepared: PreparedChain,
        output: AlignedBuf,
    },
}

fn setup(case: String) -> Case {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).use_current_thread().build().expect("one-thread pool");
    let mut work = work(case);
    // One uncounted call first: the per-thread workspaces are allocated and zeroed on a
    // kernel's first call, a one-off the timed benchmarks never see, so the count is of the
    // steady state.
    pool.install(|| work.run());
    Case { pool, work }
}

impl Work {
    fn run(&mut self) {
        match self {
            Work::Conv { kernel, problem, input, prepared, output } => {
                kernel.run(problem, black_box(input), prepared, black_box(output)).expect("run");
            }
            Work::Gap { kernel, problem, input, output } => {
                kernel.run(problem, black_box(input), black_box(output)).expect("run");
            }
            Work::QConv { kernel, problem, input, prepared, output } => {
                kernel.run(problem, black_box(input), prepared, None, black_box(output)).expect("run");
            }
            Work::QGap { kernel, problem, input, output } => {
                kernel.run(problem, black_box(input), None, black_box(output)).expect("run");
            }
            Work::Mlpconv { kernel, problem, input, prepared, output } => {
                kernel.run(problem, black_box(input), prepared, black_box(output)).expect("run");
            }
        }
    }
}

/// The kernels the cases run, built once.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::from_env)
}

fn work(case: String) -> Work {
    let (name, problem) = case.split_once(' ').expect("kernel problem");
    let kernel = registry().kernel(name).expect("a registered kernel");
    if let Some(kernel) = kernel.as_conv1x1() {
        let problem: Conv1x1Problem = problem.parse().expect("gate problem");
        let weights = seeded_uniform(problem.weights_len(), 2);
        let bias = seeded_uniform(problem.bias_len(), 3);
        let prepared = kernel.prepare(&problem, &weights, problem.bias.then_some(&bias[..])).expect("prepare");
        Work::Conv {
            input: seeded_uniform(problem.input_len(), 1),
            output: zeroed(problem.output_len()),
            kernel,
            problem,
            prepared,
        }
    } else if let Some(kernel) = kernel.as_qconv1x1() {
        let problem: QConv1x1Problem = problem.parse().expect("gate problem");
        let data = QConvData::seeded(&problem, 1);
        let prepared = kernel.prepare(&problem, &data.layer).expect("prepare");
        Work::QConv { output: vec![0; problem.conv().output_len()], input: data.input, kernel, problem, prepared }
    } else if let Some(kernel) = kernel.as_qgap() {
        let problem: QGapProblem = problem.parse().expect("gate problem");
        let input = nin_bench::quant::seeded_activations(problem.gap().input_len(), 1);
        Work::QGap { output: vec![0; problem.gap().output_len()], input, kernel, problem }
    } else if let Some(kernel) = kernel.as_mlpconv() {
        let problem: MlpconvProblem = problem.parse().expect("gate problem");
        let data = ChainData::seeded(&problem, CHAIN_SEED);
        let prepared = kernel.prepare(&problem, &data.weight_slices(), &data.bias_slices()).expect("prepare");
        Work::Mlpconv { input: data.input, output: zeroed(problem.output_len()), kernel, problem, prepared }
    } else {
        let kernel = kernel.as_gap().expect("conv, chain or GAP");
        let problem: GapProblem = problem.parse().expect("gate problem");
        Work::Gap {
            input: seeded_uniform(problem.input_len(), 1),
            output: zeroed(problem.output_len()),
            kernel,
            problem,
        }
    }
}

/// The counted region: callgrind collects only while this function runs
/// (`--toggle-collect`), found by its unmangled name.
#[unsafe(no_mangle)]
#[inline(never)]
fn nin_bench_gate_counted(case: &mut Case) {
    let Case { pool, work } = case;
    pool.install(|| work.run());
}

/// Under callgrind: prepares case `index`, then runs it once in the counted region.
fn count_case(index: usize) {
    let cases = nin_bench::gate::cases();
    let case = cases.get(index).unwrap_or_else(|| panic!("no gate case {index} (there are {})", cases.len()));
    let mut case = setup(case.clone());
    nin_bench_gate_counted(black_box(&mut case));
    // The path pulp chose under valgrind (whose CPU shows no AVX-512), for the baseline's
    // record of what was counted.
    let isa = nin_bench::SimdPolicy::from_env().isa_name();
    let path = out_dir().join(nin_bench::gate::ISA_FILE_NAME);
    std::fs::write(&path, isa).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Where the counts go: `<target>/gate`, beside this binary's own build folder.
fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    target.join("gate")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == COUNT_CASE_ARG) {
        let index = args.get(at + 1).and_then(|i| i.parse().ok()).expect("--count-case INDEX");
        count_case(index);
        return;
    }
    let exe = std::env::current_exe().expect("the gate binary's path");
    let dir = out_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let cases = nin_bench::gate::cases();
    for (index, case) in cases.iter().enumerate() {
        let out = dir.join(nin_bench::gate::count_file_name(index));
        let status = Command::new("valgrind")
            .args(["--tool=callgrind", "--quiet", "--collect-atstart=no", "--toggle-collect=nin_bench_gate_counted"])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&exe)
            .args([COUNT_CASE_ARG, &index.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("cannot run valgrind (is it installed?): {e}"));
        assert!(status.success(), "gate case '{case}' failed under callgrind: {status}");
        println!("gate: counted {case} ({}/{})", index + 1, cases.len());
    }
}
