//! `cargo bench --bench conv1x1`: every registered 1×1 convolution kernel, and the `gemm` and
//! `matrixmultiply` crates on the identical product, on the standard suite
//! (`benches/suites/conv1x1.txt`).
//!
//! One criterion group per problem; throughput in FLOPs (criterion prints "elem/s": read it as
//! FLOP/s). Benchmark ids are `<kernel>/<threads>t`. Only `run` is timed; weights are prepared
//! once, outside. Peers compute the GEMM alone (no bias, no ReLU).
//!
//! Subset: `cargo bench --bench conv1x1 -- 27x27`. Smoke run: add `--warm-up-time 0.2
//! --measurement-time 0.5`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nin_bench::measure::{HotPool, thread_counts};
use nin_bench::peers::Peer;
use nin_bench::registry::conv1x1_kernels;
use nin_bench::suite::conv1x1_suite;
use nin_bench::tensor::{seeded_uniform, zeroed};

/// A rayon pool per thread count of the suite (1, and all cores), whose workers spin and are
/// pinned while a benchmark runs in it (`HotPool`), as in `nin-bench run` and the report.
fn pools() -> Vec<(usize, HotPool)> {
    thread_counts().into_iter().map(|t| (t, HotPool::new(t).expect("pool"))).collect()
}

fn conv1x1(c: &mut Criterion) {
    let pools = pools();
    for p in conv1x1_suite() {
        let x = seeded_uniform(p.input_len(), 1);
        let w = seeded_uniform(p.weights_len(), 2);
        let b = seeded_uniform(p.bias_len(), 3);
        let bias = p.bias.then_some(&b[..]);
        let mut y = zeroed(p.output_len());
        let mut group = c.benchmark_group(format!("conv1x1/{p}"));
        group.throughput(Throughput::Elements(p.flops()));
        // Short settings so the whole suite fits in about 15 minutes on 2 cores; the report
        // (`nin-bench report`) is where the careful numbers are.
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(1))
            .sample_size(10)
            .nresamples(10_000);
        for kernel in conv1x1_kernels() {
            let prepared = kernel.prepare(&p, &w, bias).expect("prepare");
            let parallel = kernel.info().threads.is_parallel();
            for (threads, pool) in pools.iter().filter(|(t, _)| *t == 1 || parallel) {
                group.bench_function(BenchmarkId::new(kernel.name(), format!("{threads}t")), |bench| {
                    pool.install(|| {
                        bench.iter(|| kernel.run(&p, black_box(&x), &prepared, black_box(&mut y)).expect("run"))
                    })
                });
            }
        }
        for peer in Peer::ALL.into_iter().filter(|q| q.unsupported_reason(&p).is_none()) {
            for (threads, pool) in &pools {
                group.bench_function(BenchmarkId::new(peer.name(), format!("{threads}t")), |bench| {
                    pool.install(|| bench.iter(|| peer.run(&p, black_box(&x), &w, black_box(&mut y), *threads)))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, conv1x1);
criterion_main!(benches);
