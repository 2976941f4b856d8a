//! `cargo bench --bench gap`: every registered GAP kernel on the standard suite
//! (`benches/suites/gap.txt`): the maps NIN feeds to GAP and common CNN heads, batch 1 and 32.
//!
//! Throughput in bytes moved (input read once, output written once). Ids are
//! `<kernel>/<threads>t`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nin_bench::measure::{HotPool, thread_counts};
use nin_bench::registry::gap_kernels;
use nin_bench::suite::gap_suite;
use nin_bench::tensor::{seeded_uniform, zeroed};

fn gap(c: &mut Criterion) {
    let pools: Vec<(usize, HotPool)> =
        thread_counts().into_iter().map(|t| (t, HotPool::new(t).expect("pool"))).collect();
    for p in gap_suite() {
        let x = seeded_uniform(p.input_len(), 1);
        let mut y = zeroed(p.output_len());
        let mut group = c.benchmark_group(format!("gap/{p}"));
        group.throughput(Throughput::Bytes(p.bytes()));
        // Short settings so the whole suite fits in about 15 minutes on 2 cores; the report
        // (`nin-bench report`) is where the careful numbers are.
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(1))
            .sample_size(10)
            .nresamples(10_000);
        for kernel in gap_kernels() {
            let parallel = kernel.info().threads.is_parallel();
            for (threads, pool) in pools.iter().filter(|(t, _)| *t == 1 || parallel) {
                group.bench_function(BenchmarkId::new(kernel.name(), format!("{threads}t")), |bench| {
                    pool.install(|| bench.iter(|| kernel.run(&p, black_box(&x), black_box(&mut y)).expect("run")))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, gap);
criterion_main!(benches);
