//! NIN-CIFAR10 with its 1×1 layers and GAP in int8 against the f32 pass on the same seeded
//! weights and images (issue 27): what runs in int8, and that its class scores stay within the
//! quantization noise. A wrong scale, bias or multiplier is off by a whole factor and lands far
//! outside; seven layers of u8 rounding (half a step of 1/255 of each layer's range) land
//! around 1% of the largest score.

use nin_bench::forward::quantized::{QuantizedNetwork, int8_accuracy, seeded_images, time_int8_pass};
use nin_bench::forward::{Network, NetworkWeights};
use nin_bench::model::zoo;
use nin_bench::simd::{Isa, SimdPolicy};
use nin_bench::timing::TimingBudget;

/// The policies of every ISA this CPU has (7-bit weights on AVX2, 8-bit on VNNI).
fn policies() -> Vec<SimdPolicy> {
    Isa::available().into_iter().map(|isa| SimdPolicy::for_isa(isa).unwrap()).collect()
}

#[test]
fn nin_cifar10_runs_every_1x1_layer_and_the_gap_in_int8_and_its_scores_stay_within_quantization_noise() {
    for policy in policies() {
        let a = int8_accuracy(&zoo::nin_cifar10(), 16, 5, policy).unwrap();
        assert_eq!(a.int8_layers, ["cccp1", "cccp2", "cccp3", "cccp4", "cccp5", "cccp6", "pool3"]);
        assert_eq!(a.scores_from, "pool3");
        assert!(a.max_abs_score > 0.1, "{a:?}");
        assert!(a.mean_abs_diff < 0.01 * a.max_abs_score, "{a:?}");
        assert!(a.max_abs_diff < 0.05 * a.max_abs_score, "{a:?}");
        // Only an image whose f32 lead is below the score error may flip.
        assert!(a.top1_agree == a.images || a.min_top1_lead < 2.0 * a.max_abs_diff, "{a:?}");
        assert!(a.distinct_top1 > 1, "the seeded images must not all rank alike: {a:?}");
    }
}

#[test]
fn a_model_without_1x1_layers_runs_nothing_in_int8_and_gives_the_f32_pass_exactly() {
    // AlexNet has no 1×1 layer: the quantized pass is its f32 stages, unchanged.
    let model = zoo::alexnet();
    let weights = NetworkWeights::seeded(&model, 2).unwrap();
    let net = Network::new(&model, 1, &weights, SimdPolicy::from_env()).unwrap();
    let images = seeded_images(1, model.input, 3);
    let q = QuantizedNetwork::new(&net, &weights, &images, SimdPolicy::from_env()).unwrap();
    assert!(q.int8_layers.is_empty());
    let float = net.forward_recorded(&images).unwrap();
    let int8 = q.forward_recorded(&images).unwrap();
    assert_eq!(int8.into_iter().map(Option::unwrap).collect::<Vec<_>>(), float);
}

#[test]
fn the_quantized_pass_refuses_a_calibration_batch_of_the_wrong_length() {
    let model = zoo::nin_cifar10();
    let weights = NetworkWeights::seeded(&model, 2).unwrap();
    let net = Network::new(&model, 2, &weights, SimdPolicy::from_env()).unwrap();
    let err = QuantizedNetwork::new(&net, &weights, &[0.0; 10], SimdPolicy::from_env()).unwrap_err();
    assert!(err.to_string().contains("calibration"), "{err}");
}

#[test]
fn the_int8_pass_in_a_reused_workspace_gives_the_recorded_pass_scores() {
    let model = zoo::nin_cifar10();
    let weights = NetworkWeights::seeded(&model, 4).unwrap();
    let net = Network::new(&model, 2, &weights, SimdPolicy::from_env()).unwrap();
    let q = QuantizedNetwork::new(&net, &weights, &seeded_images(2, model.input, 5), SimdPolicy::from_env()).unwrap();
    let mut ws = q.workspace();
    for seed in [6, 7] {
        let images = seeded_images(2, model.input, seed);
        let recorded = q.forward_recorded(&images).unwrap();
        let last = recorded.last().unwrap().as_ref().expect("the pass ends in f32");
        assert_eq!(q.forward(&images, &mut ws).unwrap(), &last[..], "images of seed {seed}");
    }
    let err = q.forward(&[0.0; 5], &mut ws).unwrap_err();
    assert!(err.to_string().contains("input"), "{err}");
}

#[test]
fn timing_the_int8_pass_accounts_each_kind_of_step_and_what_it_replaces() {
    let policy = SimdPolicy::from_env();
    let nin = time_int8_pass(&zoo::nin_cifar10(), 1, TimingBudget::QUICK, policy).unwrap();
    assert_eq!(nin.model, "nin-cifar10");
    assert!(nin.rounds >= TimingBudget::QUICK.min_samples.min(3), "{nin:?}");
    let s = nin.int8_steps;
    for (what, seconds) in [("float", s.float), ("edges", s.edges), ("conv", s.conv), ("gap", s.gap)] {
        assert!(seconds > 0.0 && seconds.is_finite(), "{what}: {nin:?}");
    }
    assert!(nin.f32_replaced_seconds > 0.0 && nin.f32_seconds > 0.0 && nin.int8_seconds > 0.0, "{nin:?}");
    assert!(nin.speedup > 0.0 && nin.speedup.is_finite(), "{nin:?}");
    // AlexNet has no 1×1 layer: nothing is replaced, nothing runs in int8.
    let alexnet = time_int8_pass(&zoo::alexnet(), 1, TimingBudget::QUICK, policy).unwrap();
    let s = alexnet.int8_steps;
    assert_eq!((s.edges, s.conv, s.gap, alexnet.f32_replaced_seconds), (0.0, 0.0, 0.0, 0.0), "{alexnet:?}");
    assert!(s.float > 0.0, "{alexnet:?}");
}
