//! `cargo bench --bench int8`: every int8 1×1 convolution kernel on the int8 suite
//! (`benches/suites/int8.txt`), beside every f32 conv kernel of one thread on the same layer
//! (with ReLU), in one group per layer, so criterion's report shows int8 and f32 side by side.
//!
//! Throughput in multiply-accumulates × 2 (criterion prints "elem/s": read it as GOP/s for
//! int8, GFLOP/s for f32). Ids are `<kernel>/<threads>t` (a rayon kernel on the whole pool),
//! and `qconv-simd/pixel-vectors` and `qconv-simd/channel-vectors` for its tile forced to each
//! orientation (it picks one per layer: `QConvSimd::tile_for`). Only `run` is timed; weights
//! are prepared once, outside. Subset:
//! `cargo bench --bench int8 -- 27x27`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nin_bench::qconv::{QConv1x1Kernel, QConvSimd, QPath, Vectors};
use nin_bench::quant::QConvData;
use nin_bench::registry::{Registry, conv1x1_kernels};
use nin_bench::simd::SimdPolicy;
use nin_bench::suite::int8_suite;
use nin_bench::tensor::{seeded_uniform, zeroed};

fn int8(c: &mut Criterion) {
    let registry = Registry::from_env();
    for q in int8_suite() {
        let p = *q.conv();
        let data = QConvData::seeded(&q, 1);
        let mut y8 = vec![0u8; p.output_len()];
        let (x, w, b) =
            (seeded_uniform(p.input_len(), 1), seeded_uniform(p.weights_len(), 2), seeded_uniform(p.bias_len(), 3));
        let mut y = zeroed(p.output_len());
        let mut group = c.benchmark_group(format!("int8/{q}"));
        group.throughput(Throughput::Elements(2 * q.macs()));
        // Short settings, as in the conv1x1 bench; the report has the careful ratios.
        group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1)).sample_size(10);
        let simd = QConvSimd::on(QPath::for_policy(SimdPolicy::from_env())).expect("the policy's path");
        let oriented = Vectors::ALL.map(|v| (simd.with_vectors(v), v.name().replace(' ', "-")));
        // `<threads>t`: a rayon kernel runs on the whole pool.
        let threads =
            |k: &dyn QConv1x1Kernel| if k.decl().threads.is_parallel() { rayon::current_num_threads() } else { 1 };
        let int8_kernels = registry.qconv1x1().iter().map(|k| (k.as_ref(), format!("{}t", threads(k.as_ref()))));
        let oriented = oriented.iter().map(|(k, id)| (k as &dyn QConv1x1Kernel, id.clone()));
        for (kernel, id) in int8_kernels.chain(oriented) {
            let prepared = kernel.prepare(&q, &data.layer).expect("prepare");
            group.bench_function(BenchmarkId::new(kernel.name(), id), |bench| {
                bench.iter(|| kernel.run(&q, black_box(&data.input), &prepared, None, black_box(&mut y8)).expect("run"))
            });
        }
        for kernel in conv1x1_kernels().into_iter().filter(|k| !k.info().threads.is_parallel()) {
            let prepared = kernel.prepare(&p, &w, p.bias.then_some(&b[..])).expect("prepare");
            group.bench_function(BenchmarkId::new(kernel.name(), "1t"), |bench| {
                bench.iter(|| kernel.run(&p, black_box(&x), &prepared, black_box(&mut y)).expect("run"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, int8);
criterion_main!(benches);
