//! Every registered 1×1 convolution kernel against the f64 reference, on shapes chosen from
//! the kernels' tiles (the tests take them from `nin_bench::blocking`, for every ISA path the
//! tests run): the register tile is MR = 6 rows × NR = 16 columns with AVX2 (2 with the scalar
//! fallback), AVX-512's own (`blocking::AVX512_TILE`) with AVX-512 and emu512, the
//! GEMM and the direct kernels block K by 256 (up to 512 in channel rows), the GEMM blocks M by
//! 96 and N by 2048, and the direct kernels cut the output into regions of 192 channels × 64
//! pixels (NCHW), 256 channels × 96 pixels (NCHW tiled by pixel rows) or 64 × 96 (NHWC).

mod common;

use common::{ConvData, check_all_conv_kernels, policies, problems, run_conv};
use nin_bench::blocking::{self, DIRECT_KC_MAX, KC};
use nin_bench::registry::conv1x1_kernels_with;
use nin_bench::{Conv1x1Problem, Conv1x1Shape, Layout};

/// Sizes around a block of `b`: below, equal, above, and a multiple plus one.
fn around(b: usize) -> [usize; 4] {
    [b - 1, b, b + 1, 2 * b + 1]
}

/// Sizes around `block(policy)` for every ISA path the tests run, each once (0 left out).
fn around_every_tile(block: impl Fn(nin_bench::SimdPolicy) -> usize) -> Vec<usize> {
    let mut sizes: Vec<usize> =
        policies().into_iter().flat_map(|p| around(block(p))).filter(|&size| size > 0).collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn with_layouts(problems: Vec<Conv1x1Problem>) -> Vec<Conv1x1Problem> {
    problems.iter().flat_map(|p| Layout::ALL.map(|l| p.with_layout(l))).collect()
}

#[test]
fn every_kernel_matches_reference_when_cout_is_around_the_register_tile_rows() {
    // MR output channels per tile (NCHW rows); the panels from which a large map's rows are
    // copied; the channels of one NCHW region.
    let mut ps = Vec::new();
    let blocks = around_every_tile(blocking::mr)
        .into_iter()
        .chain(around_every_tile(blocking::direct_pack_min_channels))
        .chain(around_every_tile(blocking::direct_nchw_region_channels));
    for cout in [1, 2].into_iter().chain(blocks) {
        ps.push(Conv1x1Problem::new(Conv1x1Shape::new(1, 5, 3, 7, cout)).unwrap());
    }
    check_all_conv_kernels(&with_layouts(ps), 100);
}

#[test]
fn every_kernel_matches_reference_when_pixels_or_cout_are_around_the_tile_columns() {
    // NR pixels (NCHW) or channels (NHWC) of every path's tile (16 with AVX2, 2 with the
    // scalar fallback), and a single vector; MR pixels of NHWC tiles; the 96 pixels of an NHWC
    // region and the 64 channels of its panels (at NR = 16).
    let tile_columns = around_every_tile(blocking::nr).into_iter().chain(around_every_tile(|p| blocking::nr(p) / 2));
    let mut ps = Vec::new();
    let mut hws: Vec<usize> = [1, 2, 5, 6, 7, 8, 9, 95, 96, 97, 128, 129]
        .into_iter()
        .chain(tile_columns.clone())
        .chain(around_every_tile(blocking::mr))
        .collect();
    hws.sort_unstable();
    hws.dedup();
    for hw in hws {
        ps.push(Conv1x1Problem::new(Conv1x1Shape::new(1, 3, 1, hw, 4)).unwrap());
    }
    let mut couts: Vec<usize> = [63, 64, 65].into_iter().chain(tile_columns).collect();
    couts.sort_unstable();
    couts.dedup();
    for cout in couts {
        ps.push(Conv1x1Problem::new(Conv1x1Shape::new(1, 3, 2, 3, cout)).unwrap());
    }
    check_all_conv_kernels(&with_layouts(ps), 200);
}

#[test]
fn every_kernel_matches_reference_when_cin_is_around_the_gemm_k_block_and_large() {
    // The GEMM's and pixel rows' KC = 256, and channel rows' blocks of at most 512: one,
    // exactly one, and more than one K block; 2048 as in wide layers.
    let mut ps = Vec::new();
    for cin in [1, 2, 3].into_iter().chain(around(KC)).chain(around(DIRECT_KC_MAX)).chain([2048]) {
        ps.push(Conv1x1Problem::new(Conv1x1Shape::new(1, cin, 3, 5, 7)).unwrap());
    }
    check_all_conv_kernels(&with_layouts(ps), 300);
}

#[test]
fn every_kernel_matches_reference_when_m_and_n_cross_the_gemm_blocks() {
    // MC = 96 rows (Cout in NCHW, pixels in NHWC), NC = 2048 columns (pixels in NCHW, Cout in
    // NHWC).
    let ps = problems(&[
        "1x9x5x20:97",
        "1x9x5x20:193",
        "1x4x48x48:7", // 2304 pixels: NCHW crosses NC
        // Few output channels (M ≤ 7 panels: im2col-gemm reads B in place) with K blocks,
        // crossing NC, and strided.
        "1x300x4x9:12",
        "2x300x48x48:1",
        "1x300x48x48:40",
        "1x257x5x9:6,s2",
        "1x3x2x2:2049", // NHWC crosses NC
        "1x17x10x10:3,nhwc",
    ]);
    check_all_conv_kernels(&with_layouts(ps), 400);
}

#[test]
fn every_kernel_matches_reference_on_batches_strides_and_flags() {
    let ps = problems(&[
        "2x3x7x5:13",
        "3x4x5x6:7",
        "3x4x5x6:7,s2",
        "2x5x9x9:11,s3,relu",
        "1x6x8x8:9,s2,nobias",
        "2x7x7x5:13,s2,relu,nobias",
        "1x3x1x1:5,s2",
        "1x1x1x1:1",
        "1x1x1x1:1,relu,nobias",
        "2x33x17x19:40,s2,relu",
    ]);
    check_all_conv_kernels(&with_layouts(ps), 500);
}

#[test]
fn every_kernel_matches_reference_on_nin_layers() {
    // NIN-CIFAR10's cccp layers and the bottleneck example, batch 1, with bias and ReLU.
    let ps = problems(&["1x192x32x32:160,relu", "1x192x8x8:10,relu", "1x192x28x28:32,relu", "2x96x13x13:200,relu,s2"]);
    check_all_conv_kernels(&with_layouts(ps), 600);
}

#[test]
fn every_kernel_matches_reference_on_small_nchw_maps_tiled_by_pixel_rows() {
    // Where 6-pixel rows fill the register tiles better than 16-pixel columns (a 6×6 map is 6
    // tiles exactly), the direct kernels tile NCHW as pixels × channels and store the tiles
    // transposed, and im2col-gemm computes the transposed product and writes it back
    // transposed: full and partial pixel tiles, strided, Cin across K blocks of 256, more
    // than one region of 16 panels, no bias.
    // Batches whose images fill whole 6-pixel tiles take regions across images (2x513x6x6,
    // 3x20x12x12 strided to 6×6, 5x40x6x6 with a last region of 84 pixels); 3x1x7x7 does not.
    let ps = problems(&[
        "1x300x6x6:40,relu",
        "2x513x6x6:257",
        "3x20x12x12:64,s2,relu",
        "5x40x6x6:64",
        "1x20x12x12:16,s2,relu",
        "1x7x5x7:13,nobias",
        "1x9x6x6:300",
        "3x1x7x7:1000,relu",
    ]);
    check_all_conv_kernels(&ps, 700);
}

#[test]
fn every_kernel_matches_reference_when_channel_tiles_are_copied_from_distant_rows() {
    // Rows of 256 pixels or more, or a K block over 16 KiB of lines in place, and regions of 8
    // panels or more: the direct kernels copy each 16-pixel tile into a panel before the
    // region's panels read it; 17×17 leaves a partial last tile, Cin 600 two K blocks of 300,
    // and 13×13 rows are close but 300 channels span 37.5 KiB.
    let ps = problems(&["1x40x16x16:60", "1x600x17x17:50,relu", "2x3x32x32:48,nobias", "1x300x13x13:49"]);
    check_all_conv_kernels(&ps, 800);
}

#[test]
fn every_kernel_matches_reference_when_copied_tiles_of_an_input_over_2_mib_are_prefetched() {
    // Inputs of 2 MiB or more whose tiles are copied: the direct kernels prefetch the next
    // tile's rows during each tile's panel calls. 95×97 ends in a partial tile (9215 pixels),
    // past which nothing is prefetched; Cin 600 takes two K blocks of 300.
    let ps = problems(&["1x64x95x97:48,relu", "1x600x30x30:50"]);
    check_all_conv_kernels(&ps, 900);
}

#[test]
fn rayon_tiled_is_bit_identical_for_1_2_and_3_threads_and_equals_blocked_simd() {
    for s in ["2x64x27x27:100,relu", "1x33x13x13:17,s2", "3x20x9x11:70,nhwc,relu", "2x300x6x6:200,relu"] {
        let p: Conv1x1Problem = s.parse().unwrap();
        let data = ConvData::new(&p, 7);
        for policy in policies() {
            let kernels = conv1x1_kernels_with(policy);
            let find = |name: &str| kernels.iter().find(|k| k.name() == name).unwrap();
            let serial = run_conv(find("blocked-simd").as_ref(), &p, &data);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let parallel = pool.install(|| run_conv(find("rayon-tiled").as_ref(), &p, &data));
                let same_bits = serial.iter().zip(&parallel).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same_bits, "rayon-tiled with {threads} threads differs from blocked-simd on {p} ({policy:?})");
            }
        }
    }
}

#[test]
fn nan_and_infinity_propagate_as_in_the_reference_with_and_without_relu() {
    for s in ["1x20x5x7:13", "1x20x5x7:13,relu", "2x9x4x4:7,s2,relu,nhwc", "1x300x3x3:20,nhwc"] {
        let p: Conv1x1Problem = s.parse().unwrap();
        let mut data = ConvData::new(&p, 11);
        let dims = p.input_dims();
        // NaN at pixel (0,0) of channel 0; +inf and -inf at pixel (0,1); inf in one weight.
        data.input[p.layout.index(dims, 0, 0, 0, 0)] = f32::NAN;
        if p.w > 2 {
            data.input[p.layout.index(dims, 0, 1, 0, 2)] = f32::INFINITY;
        }
        data.weights[2 * p.cin] = f32::NEG_INFINITY; // output channel 2
        let expected = data.reference(&p);
        assert!(expected.values.iter().any(|v| v.is_nan()) && expected.values.iter().any(|v| v.is_infinite()));
        let mut failures = Vec::new();
        for policy in policies() {
            for kernel in conv1x1_kernels_with(policy) {
                if let Err(e) = common::check_conv(kernel.as_ref(), &p, &data, &expected) {
                    failures.push(e);
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

#[test]
fn relu_keeps_nan_as_nan_in_every_kernel() {
    // All weights NaN: every pre-activation is NaN; ReLU must not turn it into 0.
    let p: Conv1x1Problem = "1x4x3x3:7,relu".parse().unwrap();
    let mut data = ConvData::new(&p, 3);
    data.weights.iter_mut().for_each(|w| *w = f32::NAN);
    for policy in policies() {
        for kernel in conv1x1_kernels_with(policy) {
            let out = run_conv(kernel.as_ref(), &p, &data);
            assert!(out.iter().all(|v| v.is_nan()), "{} turned NaN into a number under ReLU", kernel.name());
        }
    }
}
