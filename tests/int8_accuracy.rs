//! NIN-CIFAR10 with its 1×1 layers and GAP in int8 against the f32 pass on the same seeded
//! weights and images (issue 27): what runs in int8, and that its class scores stay within the
//! quantization noise. A wrong scale, bias or multiplier is off by a whole factor and lands far
//! outside; seven layers of u8 rounding (half a step of 1/255 of each layer's range) land
//! around 1% of the largest score.

use nin_bench::forward::quantized::{QuantizedNetwork, int8_accuracy, seeded_images};
use nin_bench::forward::{Network, NetworkWeights};
use nin_bench::model::zoo;
use nin_bench::simd::{Isa, SimdPolicy};

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
