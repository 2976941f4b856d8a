//! `cargo bench --bench forward`: whole forward passes of nin-cifar10, nin-imagenet and alexnet
//! (seeded weights, NCHW), batch 1 and 32, on 1 and all threads. One group per model.
//!
//! Throughput in FLOPs per pass (2·MACs of every convolution and FC layer over the batch;
//! criterion prints "elem/s": read it as FLOP/s). Ids are `b<batch>/<threads>t`; for a model
//! with 1×1 layers, `b<batch>-int8/1t` is the same pass with its 1×1 layers and GAP in int8
//! (`QuantizedNetwork`, the int8 kernel single-threaded, so 1 thread only; the f32 FLOPs
//! counted). tract's time on the same passes is in `nin-bench forward` and the report, which
//! time it in turn with ours.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nin_bench::SimdPolicy;
use nin_bench::forward::quantized::{QuantizedNetwork, seeded_images};
use nin_bench::forward::{Network, NetworkWeights};
use nin_bench::measure::{HotPool, thread_counts};
use nin_bench::model::zoo;
use nin_bench::tensor::seeded_uniform;

fn forward(c: &mut Criterion) {
    let pools: Vec<(usize, HotPool)> =
        thread_counts().into_iter().map(|t| (t, HotPool::new(t).expect("pool"))).collect();
    for model in zoo::models() {
        let weights = NetworkWeights::seeded(&model, 1).expect("a zoo model is valid");
        let mut group = c.benchmark_group(format!("forward/{}", model.name));
        // A pass of 32 ImageNet images takes about a second on one core: few, short samples.
        group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(10);
        for batch in [1, 32] {
            let net = Network::new(&model, batch, &weights, SimdPolicy::from_env()).expect("network");
            let input = seeded_uniform(net.input_len(), 3);
            let mut ws = net.workspace();
            group.throughput(Throughput::Elements(net.flops()));
            for (threads, pool) in &pools {
                group.bench_function(BenchmarkId::new(format!("b{batch}"), format!("{threads}t")), |bench| {
                    pool.install(|| bench.iter(|| black_box(net.forward(black_box(&input), &mut ws).expect("pass")[0])))
                });
            }
            let calibration = seeded_images(batch, model.input, 5);
            let int8 = QuantizedNetwork::new(&net, &weights, &calibration, SimdPolicy::from_env()).expect("int8");
            if !int8.int8_layers.is_empty() {
                let mut qws = int8.workspace();
                let (_, pool) = &pools[0];
                group.bench_function(BenchmarkId::new(format!("b{batch}-int8"), "1t"), |bench| {
                    pool.install(|| {
                        bench.iter(|| black_box(int8.forward(black_box(&input), &mut qws).expect("pass")[0]))
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, forward);
criterion_main!(benches);
