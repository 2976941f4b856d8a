//! Every registered chain kernel (`mlpconv-unfused`, `mlpconv-fused`) against the f64 chain
//! reference. The fused kernel works in register tiles of MR = 6 channels × NR = 16 pixels
//! (NR = 2 with the scalar fallback), pixel tiles of 8 subtiles (128 pixels with AVX2),
//! and for a head one task per image: the shapes sit on both sides of each.

mod common;

use common::{check_all_mlpconv_kernels, policies, problems, run_mlpconv};
use nin_bench::measure::ChainData;
use nin_bench::registry::mlpconv_kernels_with;
use nin_bench::{MlpconvProblem, NinError};

#[test]
fn every_chain_kernel_matches_reference_on_nin_micro_networks() {
    let ps = problems(&["1x192x32x32:160:96", "2x96x27x27:96:96", "1x256x13x13:256:256", "1x384x6x6:384:384"]);
    check_all_mlpconv_kernels(&ps, 100);
}

#[test]
fn every_chain_kernel_matches_reference_on_nin_heads() {
    // 6×6 one-layer heads (and 10×10 with 16 classes, two blocks of pixels, the last tile
    // partial) are tiled by pixel rows; 300 channels cross a K block.
    let ps = problems(&[
        "1x192x8x8:10,gap",
        "2x1024x6x6:1000,gap",
        "2x192x8x8:192:10,gap",
        "1x384x13x13:1000,gap",
        "3x300x6x6:48,gap",
        "1x20x10x10:16,gap",
    ]);
    check_all_mlpconv_kernels(&ps, 200);
}

#[test]
fn every_chain_kernel_matches_reference_when_pixels_are_around_subtiles_and_tiles() {
    // H·W of 1, below/at/above one subtile (16), a tile (128) and two tiles (256).
    let ps: Vec<MlpconvProblem> = [(1, 1), (3, 5), (4, 4), (1, 17), (8, 16), (127, 1), (129, 1), (16, 16), (257, 1)]
        .iter()
        .flat_map(|&(h, w)| {
            // A first layer of 7 channels reads full subtiles in place; one of 30 packs them.
            [
                MlpconvProblem::new(2, 5, h, w, &[7, 3], false),
                MlpconvProblem::new(2, 5, h, w, &[7, 3], true),
                MlpconvProblem::new(1, 5, h, w, &[30, 3], false),
                MlpconvProblem::new(1, 5, h, w, &[30, 3], true),
            ]
        })
        .map(Result::unwrap)
        .collect();
    check_all_mlpconv_kernels(&ps, 300);
}

#[test]
fn every_chain_kernel_matches_reference_when_widths_are_around_register_tiles() {
    // Widths of 1 and around MR = 6 and 2·MR; Cin of 1; three and four layers.
    let ps = problems(&[
        "1x1x4x4:1:1",
        "1x1x5x5:6:1,gap",
        "1x3x6x6:5:7:13",
        "3x11x3x7:12:11:6:1",
        "2x13x9x9:1,gap",
        "1x7x5x5:6:12:5:13,gap",
        "1x2049x2x2:3:2,gap",
    ]);
    check_all_mlpconv_kernels(&ps, 400);
}

#[test]
fn fused_chain_is_bit_identical_to_the_unfused_one_without_gap() {
    // The same microkernel reduces the full Cin of every layer in the same order, fused or not.
    for p in problems::<MlpconvProblem>(&["2x192x9x9:160:96", "1x13x17x3:7:5:3"]) {
        let data = ChainData::seeded(&p, 7);
        for policy in policies() {
            let kernels = mlpconv_kernels_with(policy);
            let outputs: Vec<Vec<u32>> = kernels
                .iter()
                .map(|k| run_mlpconv(k.as_ref(), &p, &data).iter().map(|v| v.to_bits()).collect())
                .collect();
            assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{p} [{policy:?}]: kernels differ bit for bit");
        }
    }
}

#[test]
fn fused_heads_on_one_thread_match_the_reference_and_their_output_on_three() {
    // On one thread a pixel-rows head is one task over every image and class, its pixels
    // packed across images where each fills whole 6-pixel tiles (6×6: a block of 96 pixels
    // spans 3 images; 7 images leave a last block of 60), per image otherwise (10×10); on
    // more threads, tasks of one image and 32 class panels. Each image's sums go in pixel
    // order either way, so the outputs are the same bits.
    for p in
        problems::<MlpconvProblem>(&["7x40x6x6:48,gap", "2x64x6x6:1000,gap", "3x20x10x10:16,gap", "2x192x8x8:10,gap"])
    {
        let data = ChainData::seeded(&p, 11);
        let expected = data.reference(&p);
        for policy in policies() {
            let kernels = mlpconv_kernels_with(policy);
            let fused = kernels.iter().find(|k| k.name() == "mlpconv-fused").unwrap();
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| run_mlpconv(fused.as_ref(), &p, &data))
            };
            let (one, three) = (on(1), on(3));
            if let Err(m) = expected.check(&one) {
                panic!("{p} [{policy:?}] on 1 thread: {m}");
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&one), bits(&three), "{p} [{policy:?}]: 1 and 3 threads differ");
        }
    }
}

#[test]
fn chain_kernels_reject_bad_weights_and_lengths_and_leave_the_output_untouched() {
    let p: MlpconvProblem = "1x4x3x3:5:2".parse().unwrap();
    let data = ChainData::seeded(&p, 1);
    let (w, b) = (data.weight_slices(), data.bias_slices());
    for kernel in mlpconv_kernels_with(Default::default()) {
        let name = kernel.name();
        let too_few = kernel.prepare(&p, &w[..1], &b[..1]).unwrap_err();
        assert!(matches!(too_few, NinError::Shape { .. }), "{name}: {too_few}");
        let swapped = kernel.prepare(&p, &[w[1], w[0]], &b).unwrap_err();
        assert!(matches!(swapped, NinError::BufferLength { what: "weights", .. }), "{name}: {swapped}");
        let prepared = kernel.prepare(&p, &w, &b).unwrap();
        let mut out = vec![7.0; p.output_len()];
        let short_input = kernel.run(&p, &data.input[1..], &prepared, &mut out).unwrap_err();
        assert!(matches!(short_input, NinError::BufferLength { what: "input", .. }), "{name}: {short_input}");
        let other: MlpconvProblem = "1x4x3x3:5:3".parse().unwrap();
        let mut other_out = vec![7.0; other.output_len()];
        let mismatch = kernel.run(&other, &data.input, &prepared, &mut other_out).unwrap_err();
        assert!(matches!(mismatch, NinError::PreparedMismatch { .. }), "{name}: {mismatch}");
        assert!(out.iter().chain(&other_out).all(|&v| v == 7.0), "{name} wrote to the output on error");
        // Weights depend on the widths only: the same prepared chain runs a larger batch and map.
        let bigger: MlpconvProblem = "2x4x5x5:5:2".parse().unwrap();
        let mut bigger_out = vec![0.0; bigger.output_len()];
        kernel.run(&bigger, &ChainData::seeded(&bigger, 1).input, &prepared, &mut bigger_out).unwrap();
    }
}

#[test]
fn chain_kernels_carry_nan_through_every_layer_as_the_reference_does() {
    let p: MlpconvProblem = "1x3x4x4:2:2".parse().unwrap();
    let mut data = ChainData::seeded(&p, 3);
    data.input[0] = f32::NAN; // pixel 0 of channel 0: NaN through both layers at pixel 0
    let expected = data.reference(&p);
    for policy in policies() {
        for kernel in mlpconv_kernels_with(policy) {
            let got = run_mlpconv(kernel.as_ref(), &p, &data);
            expected.check(&got).unwrap_or_else(|m| panic!("{} [{policy:?}]: {m}", kernel.name()));
            assert!(got[0].is_nan() && got[16].is_nan() && !got[1].is_nan(), "{}: {got:?}", kernel.name());
        }
    }
}
