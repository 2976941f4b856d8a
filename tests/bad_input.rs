//! Bad input never panics: each case returns a typed error and leaves the output untouched.

mod common;

use common::policies;
use nin_bench::registry::{conv1x1_kernels_with, gap_kernels_with};
use nin_bench::tensor::seeded_uniform;
use nin_bench::{Conv1x1Problem, Conv1x1Shape, GapProblem, Layout, NinError};

const SENTINEL: f32 = 12345.0;

#[test]
fn zero_dimensions_are_rejected_when_the_problem_is_built() {
    for (shape, name) in [
        (Conv1x1Shape::new(0, 1, 1, 1, 1), "N"),
        (Conv1x1Shape::new(1, 0, 1, 1, 1), "C"),
        (Conv1x1Shape::new(1, 1, 0, 1, 1), "H"),
        (Conv1x1Shape::new(1, 1, 1, 0, 1), "W"),
        (Conv1x1Shape::new(1, 1, 1, 1, 0), "K"),
        (Conv1x1Shape { stride: 0, ..Conv1x1Shape::new(1, 1, 1, 1, 1) }, "stride"),
    ] {
        assert_eq!(Conv1x1Problem::new(shape), Err(NinError::ZeroDimension { name }));
    }
    assert_eq!(GapProblem::new(1, 1, 0, 1, Layout::Nhwc), Err(NinError::ZeroDimension { name: "H" }));
}

#[test]
fn dimension_products_that_overflow_are_rejected() {
    let huge = Conv1x1Shape::new(1 << 20, 1 << 20, 1 << 20, 1 << 20, 1);
    assert!(matches!(Conv1x1Problem::new(huge), Err(NinError::Overflow { .. })));
    // Each buffer fits, but the FLOP count does not.
    let flops = Conv1x1Shape::new(1, 1 << 31, 1, 1 << 30, 1 << 31);
    assert!(matches!(Conv1x1Problem::new(flops), Err(NinError::Overflow { .. })));
    assert!(matches!(GapProblem::new(usize::MAX / 2, 3, 1, 1, Layout::Nchw), Err(NinError::Overflow { .. })));
}

#[test]
fn wrong_buffer_lengths_return_errors_and_leave_the_output_untouched() {
    let p: Conv1x1Problem = "2x5x4x3:7,relu".parse().unwrap();
    let x = seeded_uniform(p.input_len(), 1);
    let w = seeded_uniform(p.weights_len(), 2);
    let b = seeded_uniform(p.cout, 3);
    for policy in policies() {
        for kernel in conv1x1_kernels_with(policy) {
            let prepared = kernel.prepare(&p, &w, Some(&b)).unwrap();
            for (input_len, output_len, what) in
                [(p.input_len() - 1, p.output_len(), "input"), (p.input_len(), p.output_len() + 1, "output")]
            {
                let mut out = vec![SENTINEL; output_len];
                let err = kernel.run(&p, &x[..input_len], &prepared, &mut out).unwrap_err();
                assert!(matches!(err, NinError::BufferLength { what: w, .. } if w == what), "{}: {err}", kernel.name());
                assert!(out.iter().all(|&v| v == SENTINEL), "{} wrote to the output on error", kernel.name());
            }
        }
    }
}

#[test]
fn weights_or_bias_that_do_not_match_the_problem_are_rejected_by_prepare() {
    let p: Conv1x1Problem = "1x5x4x3:7".parse().unwrap();
    let no_bias: Conv1x1Problem = "1x5x4x3:7,nobias".parse().unwrap();
    let w = seeded_uniform(p.weights_len() + 1, 2);
    let b = seeded_uniform(p.cout + 1, 3);
    for kernel in conv1x1_kernels_with(Default::default()) {
        let name = kernel.name();
        let too_long = kernel.prepare(&p, &w, Some(&b[..7])).unwrap_err();
        assert!(matches!(too_long, NinError::BufferLength { what: "weights", .. }), "{name}: {too_long}");
        let short_bias = kernel.prepare(&p, &w[..35], Some(&b[..6])).unwrap_err();
        assert!(matches!(short_bias, NinError::BufferLength { what: "bias", .. }), "{name}: {short_bias}");
        let missing = kernel.prepare(&p, &w[..35], None).unwrap_err();
        assert!(matches!(missing, NinError::Bias { .. }), "{name}: {missing}");
        let extra = kernel.prepare(&no_bias, &w[..35], Some(&b[..7])).unwrap_err();
        assert!(matches!(extra, NinError::Bias { .. }), "{name}: {extra}");
    }
}

#[test]
fn weights_prepared_for_another_problem_or_kernel_are_rejected_by_run() {
    let p: Conv1x1Problem = "1x5x4x3:7".parse().unwrap();
    let other_cin: Conv1x1Problem = "1x6x4x3:7".parse().unwrap();
    let x = seeded_uniform(p.input_len(), 1);
    let kernels = conv1x1_kernels_with(Default::default());
    let scalar_kernels = conv1x1_kernels_with(nin_bench::SimdPolicy::scalar());
    for (i, kernel) in kernels.iter().enumerate() {
        let wrong_problem = kernel.prepare(&other_cin, &seeded_uniform(42, 2), Some(&[0.0; 7])).unwrap();
        let other_kernel = &kernels[(i + 1) % kernels.len()];
        let wrong_kernel = other_kernel.prepare(&p, &seeded_uniform(35, 2), Some(&[0.0; 7])).unwrap();
        let mut out = vec![SENTINEL; p.output_len()];
        for prepared in [&wrong_problem, &wrong_kernel] {
            let err = kernel.run(&p, &x, prepared, &mut out).unwrap_err();
            assert!(matches!(err, NinError::PreparedMismatch { .. }), "{}: {err}", kernel.name());
        }
        // Packed for another vector width (the scalar fallback's NR is 2, AVX2's 16).
        let scalar = scalar_kernels[i].prepare(&p, &seeded_uniform(35, 2), Some(&[0.0; 7])).unwrap();
        if scalar_kernels[i].isa() != kernel.isa() {
            assert!(matches!(kernel.run(&p, &x, &scalar, &mut out), Err(NinError::PreparedMismatch { .. })));
        }
        assert!(out.iter().all(|&v| v == SENTINEL), "{} wrote to the output on error", kernel.name());
    }
}

#[test]
fn weights_prepared_for_another_map_size_batch_stride_or_relu_are_reused() {
    // Packed weights depend only on Cin, Cout, bias and layout.
    let small: Conv1x1Problem = "1x5x4x3:7".parse().unwrap();
    let big: Conv1x1Problem = "3x5x9x9:7,s2,relu".parse().unwrap();
    let w = seeded_uniform(35, 2);
    let b = seeded_uniform(7, 3);
    let x = seeded_uniform(big.input_len(), 1);
    let expected = nin_bench::reference::conv1x1(&big, &x, &w, Some(&b));
    for kernel in conv1x1_kernels_with(Default::default()) {
        let prepared = kernel.prepare(&small, &w, Some(&b)).unwrap();
        let mut out = vec![0.0; big.output_len()];
        kernel.run(&big, &x, &prepared, &mut out).unwrap();
        assert!(expected.check(&out).is_ok(), "{}", kernel.name());
    }
}

#[test]
fn gap_kernels_reject_wrong_lengths_and_leave_the_output_untouched() {
    let p: GapProblem = "2x9x3x3".parse().unwrap();
    let x = seeded_uniform(p.input_len(), 1);
    for policy in policies() {
        for kernel in gap_kernels_with(policy) {
            let mut out = vec![SENTINEL; p.output_len()];
            let err = kernel.run(&p, &x[1..], &mut out).unwrap_err();
            assert!(matches!(err, NinError::BufferLength { what: "input", .. }), "{}: {err}", kernel.name());
            let mut long = vec![SENTINEL; p.output_len() + 1];
            let err = kernel.run(&p, &x, &mut long).unwrap_err();
            assert!(matches!(err, NinError::BufferLength { what: "output", .. }), "{}: {err}", kernel.name());
            assert!(out.iter().chain(&long).all(|&v| v == SENTINEL), "{} wrote on error", kernel.name());
        }
    }
}
