//! The regression gate's benchmarks: instruction counts (valgrind's callgrind, through
//! gungraun) of every registered kernel on a few fixed NIN problems. Deterministic, so a
//! shared, noisy machine cannot fool it. Run it with `scripts/gate.sh`, which compares the
//! counts with the committed baseline `results/gate/baseline.json`. The cases are
//! `nin_bench::gate::cases()`: every registered kernel on the gate's problems.
//!
//! Each case is "kernel problem"; the setup (inputs, weights prepared once, one warm-up call
//! that allocates the per-thread workspaces) is not counted, only one further `run` call.
//! Every case runs inside a one-thread rayon pool whose worker is the benchmark's own thread (`use_current_thread`): callgrind counts only the instructions under
//! the benchmark function on that thread, so the rayon kernels' work must happen there, and
//! with one thread the count does not depend on how threads interleave.

use std::hint::black_box;

use gungraun::{LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main};
use nin_bench::conv1x1::{Conv1x1Kernel, PreparedWeights};
use nin_bench::gap::GapKernel;
use nin_bench::measure::{CHAIN_SEED, ChainData};
use nin_bench::mlpconv::{MlpconvKernel, PreparedChain};
use nin_bench::tensor::{AlignedBuf, seeded_uniform, zeroed};
use nin_bench::{Conv1x1Problem, GapProblem, MlpconvProblem};

/// One prepared case: inputs made and weights packed outside the counted region, and the
/// one-thread pool it runs in.
struct Case {
    pool: rayon::ThreadPool,
    work: Work,
}

#[allow(clippy::large_enum_variant)] // built once per benchmark process; size is irrelevant
enum Work {
    Conv {
        kernel: Box<dyn Conv1x1Kernel>,
        problem: Conv1x1Problem,
        input: AlignedBuf,
        prepared: PreparedWeights,
        output: AlignedBuf,
    },
    Gap {
        kernel: Box<dyn GapKernel>,
        problem: GapProblem,
        input: AlignedBuf,
        output: AlignedBuf,
    },
    Mlpconv {
        kernel: Box<dyn MlpconvKernel>,
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
            Work::Mlpconv { kernel, problem, input, prepared, output } => {
                kernel.run(problem, black_box(input), prepared, black_box(output)).expect("run");
            }
        }
    }
}

fn work(case: String) -> Work {
    let (name, problem) = case.split_once(' ').expect("kernel problem");
    if let Ok(kernel) = nin_bench::registry::conv1x1_kernel(name) {
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
    } else if let Ok(kernel) = nin_bench::registry::mlpconv_kernel(name) {
        let problem: MlpconvProblem = problem.parse().expect("gate problem");
        let data = ChainData::seeded(&problem, CHAIN_SEED);
        let prepared = kernel.prepare(&problem, &data.weight_slices(), &data.bias_slices()).expect("prepare");
        Work::Mlpconv { input: data.input, output: zeroed(problem.output_len()), kernel, problem, prepared }
    } else {
        let kernel = nin_bench::registry::gap_kernel(name).expect("registered kernel");
        let problem: GapProblem = problem.parse().expect("gate problem");
        Work::Gap {
            input: seeded_uniform(problem.input_len(), 1),
            output: zeroed(problem.output_len()),
            kernel,
            problem,
        }
    }
}

#[library_benchmark]
#[benches::kernel(iter = nin_bench::gate::cases(), setup = setup)]
fn gate(mut case: Case) {
    let Case { pool, work } = &mut case;
    pool.install(|| work.run());
}

library_benchmark_group!(name = kernels; benchmarks = gate);

main!(
    // gungraun clears the environment of the benchmarks; let the switch that forces pulp's
    // scalar fallback through, so `NIN_BENCH_FORCE_SCALAR=1 scripts/gate.sh` measures it.
    config = LibraryBenchmarkConfig::default().pass_through_env(nin_bench::simd::FORCE_SCALAR_ENV);
    library_benchmark_groups = kernels
);
