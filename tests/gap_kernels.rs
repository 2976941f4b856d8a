//! Every registered GAP kernel against the f64 reference. The SIMD kernels work in vectors of
//! 8 floats (AVX2; 1 with the scalar fallback), 4 accumulators (32 floats) per step, and
//! `gap-rayon` in tasks of 64 channels: the shapes sit on both sides of each.

mod common;

use common::{check_all_gap_kernels, policies, problems, run_gap};
use nin_bench::registry::gap_kernels_with;
use nin_bench::tensor::seeded_uniform;
use nin_bench::{GapProblem, Layout, reference};

fn both_layouts(ps: Vec<GapProblem>) -> Vec<GapProblem> {
    ps.iter().flat_map(|p| Layout::ALL.map(|l| p.with_layout(l))).collect()
}

#[test]
fn every_gap_kernel_matches_reference_when_channels_are_around_vectors_and_tasks() {
    let ps = [1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 129]
        .iter()
        .map(|&c| GapProblem::new(1, c, 3, 5, Layout::Nchw).unwrap())
        .collect();
    check_all_gap_kernels(&both_layouts(ps), 10);
}

#[test]
fn every_gap_kernel_matches_reference_when_the_map_is_around_vectors() {
    // H·W of 1, below/at/above one vector (8) and four vectors (32), and NIN's 6×6, 7×7, 8×8.
    let ps = [(1, 1), (1, 7), (2, 4), (3, 3), (1, 31), (4, 8), (1, 33), (6, 6), (7, 7), (8, 8), (13, 13)]
        .iter()
        .map(|&(h, w)| GapProblem::new(2, 10, h, w, Layout::Nchw).unwrap())
        .collect();
    check_all_gap_kernels(&both_layouts(ps), 20);
}

#[test]
fn every_gap_kernel_matches_reference_on_nin_and_cnn_heads() {
    let ps = problems(&["1x10x8x8", "1x1000x6x6", "3x2048x7x7", "1x512x14x14", "2x192x32x32"]);
    check_all_gap_kernels(&both_layouts(ps), 30);
}

#[test]
fn gap_rayon_is_bit_identical_for_1_2_and_3_threads_and_equals_gap_simd() {
    for s in ["3x200x7x7", "2x130x6x6,nhwc"] {
        let p: GapProblem = s.parse().unwrap();
        let input = seeded_uniform(p.input_len(), 5);
        for policy in policies() {
            let kernels = gap_kernels_with(policy);
            let find = |name: &str| kernels.iter().find(|k| k.name() == name).unwrap();
            let serial = run_gap(find("gap-simd").as_ref(), &p, &input);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let parallel = pool.install(|| run_gap(find("gap-rayon").as_ref(), &p, &input));
                let same = serial.iter().zip(&parallel).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "gap-rayon with {threads} threads differs from gap-simd on {p} ({policy:?})");
            }
        }
    }
}

#[test]
fn nan_and_infinity_propagate_through_gap_as_in_the_reference() {
    for layout in Layout::ALL {
        let p = GapProblem::new(2, 40, 6, 6, layout).unwrap();
        let mut input = seeded_uniform(p.input_len(), 9);
        let dims = p.input_dims();
        input[layout.index(dims, 0, 3, 2, 2)] = f32::NAN;
        input[layout.index(dims, 1, 39, 5, 5)] = f32::INFINITY;
        input[layout.index(dims, 1, 0, 0, 0)] = f32::NEG_INFINITY;
        let expected = reference::gap(&p, &input);
        for policy in policies() {
            for kernel in gap_kernels_with(policy) {
                let got = run_gap(kernel.as_ref(), &p, &input);
                assert!(got[3].is_nan() && got[40 + 39] == f32::INFINITY && got[40] == f32::NEG_INFINITY);
                if let Err(m) = expected.check(&got) {
                    panic!("{} on {p}: {m}", kernel.name());
                }
            }
        }
    }
}
