//! Whole-network forward passes: every stage against the f64 reference fed its own input, on
//! the zoo's models and on small models built to hit the edges of each op (1 pixel, 1 channel,
//! sizes off the tile, groups, strides, padding, Caffe's ceil-rounded pooling, K past the K
//! block), on every ISA path and thread count; results equal to the bit across thread counts;
//! bad input as typed errors.

mod common;

use nin_bench::SimdPolicy;
use nin_bench::forward::{Network, NetworkWeights};
use nin_bench::measure::with_threads;
use nin_bench::model::{Layer, LayerKind, Model, zoo};
use nin_bench::tensor::seeded_uniform;

fn conv(name: &'static str, out: usize, kernel: usize, stride: usize, pad: usize, groups: usize) -> Layer {
    Layer { name, kind: LayerKind::Conv { out, kernel, stride, pad, groups } }
}
fn layer(name: &'static str, kind: LayerKind) -> Layer {
    Layer { name, kind }
}
fn relu(name: &'static str) -> Layer {
    layer(name, LayerKind::Relu)
}

/// Runs `model` at `batch` on `threads` threads with `policy` and asserts every stage within its
/// bound; returns the output.
fn assert_verifies(model: &Model, batch: usize, threads: usize, policy: SimdPolicy) -> Vec<f32> {
    let weights = NetworkWeights::seeded(model, 5).unwrap();
    let net = Network::new(model, batch, &weights, policy).unwrap();
    let input = seeded_uniform(net.input_len(), 9);
    let (checks, output) = with_threads(threads, || {
        let checks = net.verify(&weights, &input).unwrap();
        let mut ws = net.workspace();
        (checks, net.forward(&input, &mut ws).unwrap().to_vec())
    })
    .unwrap();
    assert_eq!(checks.len(), net.stages.len());
    for c in &checks {
        assert!(
            c.mismatch.is_none(),
            "{} at batch {batch}, {threads} threads, {}: stage {}: {}",
            model.name,
            policy.isa_name(),
            c.stage,
            c.mismatch.as_deref().unwrap_or("")
        );
    }
    output
}

/// Spatial convolutions at the edges of the im2col + GEMM path.
fn conv_edges() -> Vec<Model> {
    vec![
        // One pixel, one input channel, padding on every side of a 3×3 window.
        Model { name: "one-pixel", input: [1, 1, 1], layers: vec![conv("c", 7, 3, 1, 1, 1), relu("r")] },
        // Non-square map, stride 3 with a 2×2 window (windows skip columns), 17 outputs (off
        // both MR = 6 and NR = 16).
        Model { name: "strided", input: [3, 7, 5], layers: vec![conv("c", 17, 2, 3, 0, 1), relu("r")] },
        // Three groups of 2 → 3 channels (Cout per group off MR), 5×5 window with padding 2.
        Model { name: "grouped", input: [6, 9, 8], layers: vec![conv("c", 9, 5, 1, 2, 3)] },
        // A 1×1 window at stride 2 is not NIN's pointwise layer: it takes the spatial path.
        Model { name: "strided-1x1", input: [4, 6, 6], layers: vec![conv("c", 5, 1, 2, 0, 1), relu("r")] },
        // 6×6 output (36 pixels: the pixel-row orientation), 20 outputs.
        Model { name: "six-by-six", input: [8, 6, 6], layers: vec![conv("c", 20, 3, 1, 1, 1), relu("r")] },
        // K = 300·9 = 2700, past several K blocks; a wide stride-4 window as in conv1.
        Model { name: "long-k", input: [300, 5, 5], layers: vec![conv("c", 13, 3, 1, 1, 1), relu("r")] },
        Model { name: "conv1-like", input: [3, 27, 27], layers: vec![conv("c", 8, 11, 4, 0, 1), relu("r")] },
    ]
}

/// Pooling, LRN, FC and softmax at their edges, and 1×1 stages of every form.
fn other_edges() -> Vec<Model> {
    vec![
        Model {
            name: "pools",
            input: [3, 8, 13],
            layers: vec![
                // Ceil rounding: the last window overhangs the map (8 → 4, 13 → 6), and an average
                // divides by the part inside it.
                layer("overhang", LayerKind::AvgPool { kernel: 3, stride: 2, pad: 0 }),
                layer("max", LayerKind::MaxPool { kernel: 3, stride: 2, pad: 0 }),
                // Padding 1: Caffe's divisor counts the padding inside the window.
                layer("avg", LayerKind::AvgPool { kernel: 2, stride: 2, pad: 1 }),
                // A window as large as the map.
                layer("whole", LayerKind::MaxPool { kernel: 2, stride: 1, pad: 0 }),
            ],
        },
        Model {
            name: "head",
            input: [3, 5, 5],
            layers: vec![
                // LRN's 5-channel window clipped on both sides of 3 channels.
                layer("lrn", LayerKind::Lrn { size: 5 }),
                layer("fc1", LayerKind::FullyConnected { out: 17 }),
                relu("r1"),
                layer("drop", LayerKind::Dropout),
                layer("fc2", LayerKind::FullyConnected { out: 5 }),
                layer("prob", LayerKind::Softmax),
            ],
        },
        Model {
            name: "pointwise",
            input: [5, 3, 4],
            layers: vec![
                // A 1×1 without ReLU, then six 1×1 layers with ReLU: a chain of four (the most
                // a chain holds), then one of two.
                conv("p0", 7, 1, 1, 0, 1),
                conv("p1", 3, 1, 1, 0, 1),
                relu("r1"),
                conv("c1", 9, 1, 1, 0, 1),
                relu("c1r"),
                conv("c2", 2, 1, 1, 0, 1),
                relu("c2r"),
                conv("c3", 11, 1, 1, 0, 1),
                relu("c3r"),
                conv("c4", 1, 1, 1, 0, 1),
                relu("c4r"),
                conv("c5", 4, 1, 1, 0, 1),
                relu("c5r"),
                layer("gap", LayerKind::GlobalAvgPool),
                // A ReLU of its own.
                relu("rg"),
                layer("prob", LayerKind::Softmax),
            ],
        },
    ]
}

#[test]
fn edge_shape_stages_verify_on_every_isa_path_and_thread_count() {
    for policy in common::policies() {
        for model in conv_edges().iter().chain(&other_edges()) {
            for (batch, threads) in [(1, 1), (1, 3), (3, 2)] {
                assert_verifies(model, batch, threads, policy);
            }
        }
    }
}

#[test]
fn the_stages_follow_the_layer_list() {
    let weights = NetworkWeights::seeded(&other_edges()[2], 1).unwrap();
    let net = Network::new(&other_edges()[2], 1, &weights, SimdPolicy::auto()).unwrap();
    let names: Vec<&str> = net.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["p0", "p1+r1+c1+c1r+c2+c2r+c3+c3r", "c4+c4r+c5+c5r", "gap", "rg", "prob"]);
    let runners: Vec<&str> = net.stages.iter().map(|s| s.runner.as_str()).collect();
    assert_eq!(runners, ["rayon-tiled", "mlpconv-fused", "mlpconv-fused", "gap-simd", "relu", "softmax"]);
    let nin = zoo::nin_imagenet();
    let net = Network::new(&nin, 1, &NetworkWeights::seeded(&nin, 1).unwrap(), SimdPolicy::auto()).unwrap();
    assert_eq!(net.stages[1].name, "cccp1+relu1+cccp2+relu2");
    assert_eq!(net.flops(), nin.stats().unwrap().total_flops, "stages count every layer's FLOPs once");
}

#[test]
fn nin_cifar10_verifies_on_every_isa_path_at_batch_2() {
    for policy in common::policies() {
        assert_verifies(&zoo::nin_cifar10(), 2, 2, policy);
    }
}

#[test]
fn nin_imagenet_and_alexnet_verify_at_batch_1() {
    for model in [zoo::nin_imagenet(), zoo::alexnet()] {
        let out = assert_verifies(&model, 1, 2, SimdPolicy::auto());
        let sum: f32 = out.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{}: softmax sums to {sum}", model.name);
    }
}

#[test]
fn outputs_are_the_same_to_the_bit_on_any_thread_count() {
    for model in [zoo::nin_cifar10(), conv_edges()[5].clone(), other_edges()[1].clone()] {
        let one = assert_verifies(&model, 2, 1, SimdPolicy::auto());
        for threads in [2, 3] {
            let many = assert_verifies(&model, 2, threads, SimdPolicy::auto());
            assert!(
                one.iter().zip(&many).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{} differs between 1 and {threads} threads",
                model.name
            );
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let model = zoo::nin_cifar10();
    let weights = NetworkWeights::seeded(&model, 1).unwrap();
    let net = Network::new(&model, 2, &weights, SimdPolicy::auto()).unwrap();
    let mut ws = net.workspace();
    let err = net.forward(&[0.0; 10], &mut ws).unwrap_err().to_string();
    assert!(err.contains("input has 10 elements") && err.contains("nin-cifar10 at batch 2"), "{err}");
    let err = Network::new(&model, 0, &weights, SimdPolicy::auto()).unwrap_err().to_string();
    assert!(err.contains("batch"), "{err}");
    let alexnet_weights = NetworkWeights::seeded(&zoo::alexnet(), 1).unwrap();
    let err = Network::new(&model, 1, &alexnet_weights, SimdPolicy::auto()).unwrap_err().to_string();
    assert!(err.contains("layers of weights"), "{err}");
    let mut wrong = weights.clone();
    wrong.layers.swap(0, 2);
    let err = Network::new(&model, 1, &wrong, SimdPolicy::auto()).unwrap_err().to_string();
    assert!(err.contains("nin-cifar10/conv1 weights"), "{err}");
    let impossible = Model { name: "tiny", input: [3, 4, 4], layers: vec![conv("c", 2, 7, 1, 0, 1)] };
    assert!(NetworkWeights::seeded(&impossible, 1).unwrap_err().to_string().contains("tiny/c"));
}

#[test]
fn forward_command_verifies_times_and_reports_per_stage() {
    let (code, out, err) = common::run(&["forward", "--model", "nin-cifar10", "--quick", "--verify", "--threads", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("verify (ours): 12 stages") && out.contains("all within the bound"), "{out}");
    assert!(out.contains("cccp1+relu_cccp1+cccp2+relu_cccp2") && out.contains("mlpconv-fused"), "{out}");
    assert!(out.contains("by kind (per pass of 1 images): 1×1 conv"), "{out}");
    if cfg!(feature = "tract") {
        assert!(out.contains("verify (tract): 12 stages"), "{out}");
    } else {
        assert!(out.contains("peer engine: none (this build has no peer engine"), "{out}");
    }
    let (code, out, err) = common::run(&[
        "forward",
        "--model",
        "alexnet",
        "--quick",
        "--threads",
        "2",
        "--batch",
        "2",
        "--json",
        "--no-peer",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["batch"].as_u64(), v["threads"].as_u64()), (Some(2), Some(2)));
    let stages = v["timing"]["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 16);
    let share: f64 = stages.iter().map(|s| s["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-9, "shares sum to {share}");
    assert!(v["timing"]["categories"].as_array().unwrap().iter().any(|c| c["category"] == "fully_connected"));
}

#[test]
fn forward_command_refuses_bad_arguments_in_one_line() {
    for (args, expected) in [
        (vec!["forward", "--model", "resnet"], "unknown; known models: nin-cifar10, nin-imagenet, alexnet"),
        (vec!["forward", "--model", "alexnet", "--batch", "0"], "batch must be a whole number from 1 to 4096"),
        (vec!["forward", "--model", "alexnet", "--threads", "0"], "threads must be a whole number"),
        (vec!["forward", "--model", "nin-imagenet", "--batch", "4096", "--max-memory", "1G"], "needs"),
    ] {
        let (code, _, err) = common::run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

/// tract, an engine no one here wrote, run on the same networks and weights: each of its stages
/// within the bound of the reference fed tract's own input of that stage, on every layer kind.
#[cfg(feature = "tract")]
#[test]
fn tract_agrees_stage_by_stage_on_every_layer_kind() {
    use nin_bench::forward::tract_peer::TractNetwork;
    for model in conv_edges().iter().chain(&other_edges()).chain(&[zoo::nin_cifar10()]) {
        for (batch, threads) in [(1, 1), (3, 2)] {
            let weights = NetworkWeights::seeded(model, 5).unwrap();
            let net = Network::new(model, batch, &weights, SimdPolicy::auto()).unwrap();
            let input = seeded_uniform(net.input_len(), 9);
            let tract = TractNetwork::new(&net, &weights, threads, true).unwrap();
            let outputs = tract.run_every_stage(&input).unwrap();
            for c in net.check_outputs(&weights, &input, &outputs) {
                assert!(c.mismatch.is_none(), "{} batch {batch}: tract's {}: {:?}", model.name, c.stage, c.mismatch);
            }
        }
    }
}
