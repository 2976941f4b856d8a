//! `cargo bench --bench conv1x1`: every registered 1×1 convolution kernel on NIN layers.
//!
//! One criterion group per problem, every kernel in it, throughput in FLOPs (criterion prints
//! "elem/s": read it as FLOP/s). `run` is timed; weights are prepared once, outside the timing.
//! Filter with criterion's usual argument, e.g. `cargo bench --bench conv1x1 -- 192x32x32`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nin_bench::Conv1x1Problem;
use nin_bench::registry::conv1x1_kernels;
use nin_bench::tensor::{seeded_uniform, zeroed};

/// A few of NIN's 1×1 layers (the full standard suite comes with the report).
const PROBLEMS: &[&str] = &[
    "1x192x32x32:160,relu", // NIN-CIFAR10 cccp1
    "1x192x8x8:10,relu",    // NIN-CIFAR10 cccp6 (class maps)
    "1x256x27x27:256,relu", // NIN-ImageNet block 2
    "1x192x28x28:32,relu",  // the bottleneck example
];

fn conv1x1(c: &mut Criterion) {
    for s in PROBLEMS {
        let p: Conv1x1Problem = s.parse().expect("valid problem");
        let x = seeded_uniform(p.input_len(), 1);
        let w = seeded_uniform(p.weights_len(), 2);
        let b = seeded_uniform(p.cout, 3);
        let mut y = zeroed(p.output_len());
        let mut group = c.benchmark_group(format!("conv1x1/{p}"));
        group.throughput(Throughput::Elements(p.flops()));
        for kernel in conv1x1_kernels() {
            let prepared = kernel.prepare(&p, &w, Some(&b)).expect("prepare");
            group.bench_function(BenchmarkId::from_parameter(kernel.name()), |bench| {
                bench.iter(|| kernel.run(&p, black_box(&x), &prepared, black_box(&mut y)).expect("run"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, conv1x1);
criterion_main!(benches);
