//! Adding a kernel is one file and one registry line: a kernel registered at run time
//! ([`Registry::add`]) is verified, listed and timed by the same code as the built-in ones,
//! with no other edit. The kernel here is deliberately simple: the loops in "axpy" order (one
//! input channel at a time added into every output row), which the compiler vectorises along
//! the pixels.

use nin_bench::cli::kernel_table_markdown;
use nin_bench::conv1x1::{Conv1x1Kernel, ConvArgs, PreparedWeights};
use nin_bench::kernel::{Kernel, KernelDecl, Op, Threads};
use nin_bench::measure::{Call, ProblemData, check_all, time};
use nin_bench::registry::{OwnedKernel, Registry};
use nin_bench::report::{ReportOptions, run_report};
use nin_bench::tensor::{Layout, aligned_copy};
use nin_bench::timing::TimingBudget;
use nin_bench::{Conv1x1Problem, Conv1x1Shape, Problem};

/// Output row += weight × input row, one input channel at a time. With `skip_last_channel`
/// it leaves out the last input channel: a wrong kernel that verification must catch.
struct AxpyLoops {
    skip_last_channel: bool,
}

/// The kernel's declaration: all the registry, `list`, the report and the gate need to know.
static AXPY_LOOPS: KernelDecl = KernelDecl {
    name: "axpy-loops",
    op: Op::Conv1x1,
    threads: Threads::Single,
    roles: &[],
    layouts: &Layout::ALL,
    description: "a test's kernel: the loops in axpy order",
};

/// The wrong one's.
static AXPY_LOOPS_WRONG: KernelDecl =
    KernelDecl { name: "axpy-loops-wrong", description: "a test's wrong kernel: drops a channel", ..AXPY_LOOPS };

impl Kernel for AxpyLoops {
    fn decl(&self) -> &'static KernelDecl {
        if self.skip_last_channel { &AXPY_LOOPS_WRONG } else { &AXPY_LOOPS }
    }

    fn isa(&self) -> &'static str {
        "scalar (compiler's choice)"
    }
}

impl Conv1x1Kernel for AxpyLoops {
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights {
        let bias = aligned_copy(bias.unwrap_or_default());
        PreparedWeights::new(self.name(), self.isa().to_string(), *problem, aligned_copy(weights), bias)
    }

    fn execute(&self, args: ConvArgs<'_>) {
        let ConvArgs { problem: p, input, prepared, output, .. } = args;
        let (in_dims, out_dims) = (p.input_dims(), p.output_dims());
        let cin = p.cin - usize::from(self.skip_last_channel);
        let pixels: Vec<(usize, usize)> = (0..p.hout()).flat_map(|oh| (0..p.wout()).map(move |ow| (oh, ow))).collect();
        // Blocks of 64 output pixels: every output channel's accumulators for a block stay in
        // the L2 (Cout × 64 values), and each input value is gathered once per block.
        for n in 0..p.n {
            for block in pixels.chunks(64) {
                let mut acc = vec![0.0f32; p.cout * block.len()];
                for (co, row) in acc.chunks_mut(block.len()).enumerate() {
                    row.fill(if p.bias { prepared.bias()[co] } else { 0.0 });
                }
                let mut column = vec![0.0f32; block.len()];
                for ci in 0..cin {
                    for (x, &(oh, ow)) in column.iter_mut().zip(block) {
                        *x = input[p.layout.index(in_dims, n, ci, oh * p.stride, ow * p.stride)];
                    }
                    for (co, row) in acc.chunks_mut(block.len()).enumerate() {
                        let w = prepared.weights()[co * p.cin + ci];
                        row.iter_mut().zip(&column).for_each(|(a, &x)| *a += w * x);
                    }
                }
                for (co, row) in acc.chunks(block.len()).enumerate() {
                    for (&v, &(oh, ow)) in row.iter().zip(block) {
                        output[p.layout.index(out_dims, n, co, oh, ow)] = if p.relu { v.max(0.0) } else { v };
                    }
                }
            }
        }
    }
}

fn registry_with(skip_last_channel: bool) -> Registry {
    let mut registry = Registry::from_env();
    registry.add(OwnedKernel::Conv1x1(Box::new(AxpyLoops { skip_last_channel }))).expect("a new name");
    registry
}

fn problem(n: usize, cin: usize, h: usize, w: usize, cout: usize, stride: usize, layout: Layout) -> Problem {
    let shape = Conv1x1Shape { n, cin, h, w, cout, stride, bias: true, relu: true, layout };
    Problem::Conv1x1(Conv1x1Problem::new(shape).unwrap())
}

#[test]
fn a_kernel_added_to_the_registry_is_listed_with_the_others_and_counted_by_the_gate() {
    let registry = registry_with(false);
    let names: Vec<&str> = registry.info().iter().map(|k| k.name).collect();
    assert!(names.contains(&"axpy-loops") && names.contains(&"blocked-simd"), "{names:?}");
    let table = kernel_table_markdown(&registry.info());
    assert!(table.contains("| `axpy-loops` | conv1x1 | 1 |  | a test's kernel: the loops in axpy order |"), "{table}");
    // The gate counts it on the conv problems, as every conv kernel.
    let cases = nin_bench::gate::cases_of(&registry);
    let ours: Vec<&String> = cases.iter().filter(|c| c.starts_with("axpy-loops ")).collect();
    assert_eq!(ours.len(), nin_bench::gate::CONV_PROBLEMS.len(), "{cases:?}");
    // A second kernel of the same name is refused.
    let mut again = registry_with(false);
    assert!(again.add(OwnedKernel::Conv1x1(Box::new(AxpyLoops { skip_last_channel: false }))).is_err());
}

#[test]
fn a_kernel_added_to_the_registry_is_verified_and_a_wrong_one_fails() {
    let problems = [
        problem(1, 1, 1, 1, 1, 1, Layout::Nchw),
        problem(2, 7, 5, 3, 9, 2, Layout::Nhwc),
        problem(1, 33, 6, 6, 17, 1, Layout::Nchw),
    ];
    for (i, p) in problems.iter().enumerate() {
        let outcomes = check_all(&registry_with(false), p, 7 + i as u64, |_| true);
        let ours = outcomes.iter().find(|(name, _)| *name == "axpy-loops").expect("verified with the others");
        assert!(ours.1.is_ok(), "{p}: {:?}", ours.1);
        assert!(outcomes.len() > 1, "the built-in kernels are checked too");
        let outcomes = check_all(&registry_with(true), p, 7 + i as u64, |name| name == "axpy-loops-wrong");
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].1.is_err(), "{p}: a kernel that drops a channel passed");
    }
}

#[test]
fn a_kernel_added_to_the_registry_is_timed_by_run_and_by_the_report() {
    let registry = registry_with(false);
    let p = problem(1, 64, 8, 8, 32, 1, Layout::Nchw);
    let data = ProblemData::seeded(&p);
    let mut call = Call::kernel(registry.kernel("axpy-loops").unwrap(), &p, &data, 1).unwrap();
    let row = time(&mut call, TimingBudget::QUICK).unwrap();
    assert_eq!((row.kernel.name(), row.threads), ("axpy-loops", 1));
    assert!(row.gflops > 0.0 && row.seconds_median > 0.0);

    let out = tempfile::tempdir().unwrap();
    let opts = ReportOptions {
        quick: true,
        filter: Some("axpy-loops".into()),
        out: out.path().to_path_buf(),
        progress: false,
        budget: nin_bench::budget::MemoryBudget::new(None),
    };
    let dir = run_report(&opts, &registry).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let rows = json["conv1x1"].as_array().unwrap();
    let suite = nin_bench::suite::conv1x1_suite();
    assert_eq!(rows.len(), suite.len(), "one row per suite problem");
    assert!(rows.iter().all(|r| r["kernel"] == "axpy-loops" && r["gflops"].as_f64().unwrap() > 0.0));
    assert_eq!(json["verified"], suite.len());
    assert_eq!(json["failures"].as_array().unwrap().len(), 0);
    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(markdown.contains("axpy-loops"));
}
