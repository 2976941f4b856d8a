//! `cargo bench --bench gap`: every registered GAP kernel on the maps NIN and common CNNs pool.
//!
//! Throughput in bytes moved (input read once, output written once).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nin_bench::GapProblem;
use nin_bench::registry::gap_kernels;
use nin_bench::tensor::{seeded_uniform, zeroed};

const PROBLEMS: &[&str] = &["1x10x8x8", "1x1000x6x6", "1x2048x7x7", "1x512x14x14", "32x1000x6x6"];

fn gap(c: &mut Criterion) {
    for s in PROBLEMS {
        let p: GapProblem = s.parse().expect("valid problem");
        let x = seeded_uniform(p.input_len(), 1);
        let mut y = zeroed(p.output_len());
        let mut group = c.benchmark_group(format!("gap/{p}"));
        group.throughput(Throughput::Bytes(p.bytes()));
        for kernel in gap_kernels() {
            group.bench_function(BenchmarkId::from_parameter(kernel.name()), |bench| {
                bench.iter(|| kernel.run(&p, black_box(&x), black_box(&mut y)).expect("run"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, gap);
criterion_main!(benches);
