//! Model accounting checked against figures derived here, by hand, from each model's published
//! layer list: (input channels, output channels, kernel, groups, output map size) per
//! parametric layer. Nothing below is copied from the program's output.

use nin_bench::model::zoo::{alexnet, model, models, nin_cifar10, nin_imagenet};

/// (cin, cout, kernel, groups, output side) of each conv; fc layers as kernel 0 with (in, out).
type Param = (u64, u64, u64, u64, u64);

fn expected_totals(layers: &[Param]) -> (u64, u64) {
    let mut params = 0;
    let mut macs = 0;
    for &(cin, cout, k, groups, side) in layers {
        if k == 0 {
            params += cin * cout + cout;
            macs += cin * cout;
        } else {
            let weights = cout * (cin / groups) * k * k;
            params += weights + cout;
            macs += weights * side * side;
        }
    }
    (params, macs)
}

#[test]
fn nin_cifar10_totals_and_final_map_match_hand_derivation() {
    // 32×32 until pool1 (3/2, ceil) → 16×16, pool2 → 8×8.
    let layers = [
        (3, 192, 5, 1, 32),
        (192, 160, 1, 1, 32),
        (160, 96, 1, 1, 32),
        (96, 192, 5, 1, 16),
        (192, 192, 1, 1, 16),
        (192, 192, 1, 1, 16),
        (192, 192, 3, 1, 8),
        (192, 192, 1, 1, 8),
        (192, 10, 1, 1, 8),
    ];
    let (params, macs) = expected_totals(&layers);
    let s = nin_cifar10().stats().unwrap();
    assert_eq!((s.total_params, s.total_macs, s.total_flops), (params, macs, 2 * macs));
    // The class maps before GAP are 10×8×8; GAP leaves 10 scores.
    let at = |name: &str| s.layers.iter().find(|l| l.name == name).unwrap().output;
    assert_eq!(at("relu_cccp6"), [10, 8, 8]);
    assert_eq!(at("pool3"), [10, 1, 1]);
    assert_eq!(s.layers.last().unwrap().output, [10, 1, 1], "softmax keeps the 10 scores");
}

#[test]
fn nin_imagenet_totals_and_final_map_match_hand_derivation() {
    // 224 → conv1 11/4 → 54; pools (3/2, ceil) → 27, 13, 6.
    let layers = [
        (3, 96, 11, 1, 54),
        (96, 96, 1, 1, 54),
        (96, 96, 1, 1, 54),
        (96, 256, 5, 1, 27),
        (256, 256, 1, 1, 27),
        (256, 256, 1, 1, 27),
        (256, 384, 3, 1, 13),
        (384, 384, 1, 1, 13),
        (384, 384, 1, 1, 13),
        (384, 1024, 3, 1, 6),
        (1024, 1024, 1, 1, 6),
        (1024, 1000, 1, 1, 6),
    ];
    let (params, macs) = expected_totals(&layers);
    let s = nin_imagenet().stats().unwrap();
    assert_eq!((s.total_params, s.total_macs), (params, macs));
    let before_gap = s.layers.iter().find(|l| l.name == "relu12").unwrap();
    assert_eq!(before_gap.output, [1000, 6, 6], "6×6 class maps before GAP");
    // The paper's "about 29 MB".
    assert!((28.5..29.5).contains(&s.size_mib_fp32), "{} MiB", s.size_mib_fp32);
}

#[test]
fn alexnet_totals_match_hand_derivation_and_its_fc_layers_dominate() {
    // 227 → conv1 11/4 → 55 → pool 27 → conv2 (2 groups) 27 → pool 13 → conv3-5 13 → pool 6.
    let layers = [
        (3, 96, 11, 1, 55),
        (96, 256, 5, 2, 27),
        (256, 384, 3, 1, 13),
        (384, 384, 3, 2, 13),
        (384, 256, 3, 2, 13),
        (256 * 6 * 6, 4096, 0, 1, 1),
        (4096, 4096, 0, 1, 1),
        (4096, 1000, 0, 1, 1),
    ];
    let (params, macs) = expected_totals(&layers);
    let s = alexnet().stats().unwrap();
    assert_eq!((s.total_params, s.total_macs), (params, macs));
    let pool5 = s.layers.iter().find(|l| l.name == "pool5").unwrap();
    assert_eq!(pool5.output, [256, 6, 6]);
    // The paper's "about 230 MB".
    assert!((225.0..240.0).contains(&s.size_mib_fp32), "{} MiB", s.size_mib_fp32);
    let fc: u64 = s.layers.iter().filter(|l| l.kind == "fc").map(|l| l.params).sum();
    assert!(fc as f64 > 0.9 * s.total_params as f64);
}

#[test]
fn models_are_found_by_name_and_unknown_names_list_the_known() {
    for m in models() {
        assert_eq!(model(m.name).unwrap().name, m.name);
    }
    let err = model("vgg16").unwrap_err().to_string();
    assert!(err.contains("nin-cifar10") && err.contains("alexnet"), "{err}");
}

#[test]
fn models_json_has_the_contract_keys_and_unknown_models_exit_2() {
    let out = assert_cmd::Command::cargo_bin("nin-bench").unwrap().args(["models", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for m in v.as_array().unwrap() {
        for key in ["name", "layers", "total_params", "total_macs", "total_flops", "size_mib_fp32"] {
            assert!(!m[key].is_null(), "models: missing {key}");
        }
        for key in ["name", "kind", "output", "params", "macs", "flops"] {
            assert!(!m["layers"][0][key].is_null(), "models layers: missing {key}");
        }
    }
    let out =
        assert_cmd::Command::cargo_bin("nin-bench").unwrap().args(["models", "--model", "resnet"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
