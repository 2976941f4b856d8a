//! `cargo bench --bench mlpconv`: the fused chain kernel beside the unfused chain on the
//! standard suite (`benches/suites/mlpconv.txt`): NIN's micro-networks and conv + GAP heads,
//! batch 1 and 32.
//!
//! Throughput in FLOPs (the multiply-accumulates of every layer; criterion prints "elem/s": read
//! it as FLOP/s). Ids are `<kernel>/<threads>t`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nin_bench::measure::{CHAIN_SEED, ChainData};
use nin_bench::measure::{HotPool, thread_counts};
use nin_bench::registry::mlpconv_kernels;
use nin_bench::suite::mlpconv_suite;
use nin_bench::tensor::zeroed;

fn mlpconv(c: &mut Criterion) {
    let pools: Vec<(usize, HotPool)> =
        thread_counts().into_iter().map(|t| (t, HotPool::new(t).expect("pool"))).collect();
    for p in mlpconv_suite() {
        let data = ChainData::seeded(&p, CHAIN_SEED);
        let mut y = zeroed(p.output_len());
        let mut group = c.benchmark_group(format!("mlpconv/{p}"));
        group.throughput(Throughput::Elements(p.flops()));
        // Short settings, as for the other suites; the report is where the careful numbers are.
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(1))
            .sample_size(10)
            .nresamples(10_000);
        for kernel in mlpconv_kernels() {
            let parallel = kernel.info().threads.is_parallel();
            let prepared = kernel.prepare(&p, &data.weight_slices(), &data.bias_slices()).expect("prepare");
            for (threads, pool) in pools.iter().filter(|(t, _)| *t == 1 || parallel) {
                group.bench_function(BenchmarkId::new(kernel.name(), format!("{threads}t")), |bench| {
                    pool.install(|| {
                        bench
                            .iter(|| kernel.run(&p, black_box(&data.input), &prepared, black_box(&mut y)).expect("run"))
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, mlpconv);
criterion_main!(benches);
