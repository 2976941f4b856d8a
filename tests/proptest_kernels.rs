//! Random problems and data, every kernel against the reference (both ISA policies).
//!
//! Sizes are mostly small and sometimes just around a block (`nin_bench::blocking`), so random
//! problems cross the K, M and region blocks as well as the register tile. Failures proptest
//! finds are saved in `proptest-regressions/proptest_kernels.txt` (committed; no seed so far) and
//! replayed first on every run; each one is also kept as a named regression test once
//! understood (as `tests/hostile_input.rs` keeps the .npy shape overflow it found).

mod common;

use common::{ConvData, check_conv, policies, run_gap};
use nin_bench::blocking::{DIRECT_KC_MAX, KC, MC, direct_nchw_region_channels};
use nin_bench::problem::QConv1x1Problem;
use nin_bench::qconv::{QConv1x1Kernel, QConvNaive, QConvSimd, QPath, Vectors};
use nin_bench::quant::{QLayer, reference as qreference, seeded_activations};
use nin_bench::registry::{conv1x1_kernels_with, gap_kernels_with};
use nin_bench::tensor::seeded_uniform;
use nin_bench::{Conv1x1Problem, Conv1x1Shape, GapProblem, Layout, reference};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![Just(Layout::Nchw), Just(Layout::Nhwc)]
}

/// Mostly small, sometimes just around a block (below, at, above), so random problems cross
/// the blocks as well as the register tile.
fn around_blocks(small: usize, blocks: &[usize]) -> BoxedStrategy<usize> {
    let mut options = vec![(4, (1..=small).boxed())];
    options.extend(blocks.iter().map(|&b| (1, ((b - 1)..=(b + 1)).boxed())));
    proptest::strategy::Union::new_weighted(options).boxed()
}

prop_compose! {
    fn conv_problem()(n in 1usize..=3, cin in around_blocks(70, &[KC, DIRECT_KC_MAX]),
                      h in 1usize..=12, w in 1usize..=12,
                      cout in around_blocks(40, &[MC, direct_nchw_region_channels(nin_bench::SimdPolicy::from_env())]),
                      stride in 1usize..=3, bias: bool, relu: bool,
                      layout in layout()) -> Conv1x1Problem {
        Conv1x1Problem::new(Conv1x1Shape { n, cin, h, w, cout, stride, bias, relu, layout }).unwrap()
    }
}

prop_compose! {
    /// Channels and pixels around every int8 tile's sizes (4 to 32), maps of 1 to 12 pixels a
    /// side, so that both orientations' tiles end partly filled.
    fn qconv_problem()(n in 1usize..=2, cin in 1usize..=80, h in 1usize..=12, w in 1usize..=12,
                       cout in 1usize..=70, stride in 1usize..=3, bias: bool,
                       layout in layout()) -> QConv1x1Problem {
        QConv1x1Problem::new(Conv1x1Shape { n, cin, h, w, cout, stride, bias, relu: true, layout }).unwrap()
    }
}

/// The naive int8 kernel, and `qconv-simd` on every path this CPU has, in both orientations.
fn qconv_kernels() -> Vec<Box<dyn QConv1x1Kernel>> {
    let mut out: Vec<Box<dyn QConv1x1Kernel>> = vec![Box::new(QConvNaive)];
    for k in QPath::ALL.into_iter().filter_map(|path| QConvSimd::on(path).ok()) {
        out.extend(Vectors::ALL.map(|v| Box::new(k.with_vectors(v)) as Box<dyn QConv1x1Kernel>));
    }
    out
}

prop_compose! {
    fn gap_problem()(n in 1usize..=3, c in 1usize..=80, h in 1usize..=12, w in 1usize..=12,
                     layout in layout()) -> GapProblem {
        GapProblem::new(n, c, h, w, layout).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/proptest_kernels.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_conv_kernel_matches_reference_on_random_problems(p in conv_problem(), seed: u64) {
        let data = ConvData::new(&p, seed);
        let expected = data.reference(&p);
        for policy in policies() {
            for kernel in conv1x1_kernels_with(policy) {
                let outcome = check_conv(kernel.as_ref(), &p, &data, &expected);
                prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
            }
        }
    }

    #[test]
    fn every_gap_kernel_matches_reference_on_random_problems(p in gap_problem(), seed: u64) {
        let input = seeded_uniform(p.input_len(), seed);
        let expected = reference::gap(&p, &input);
        for policy in policies() {
            for kernel in gap_kernels_with(policy) {
                let got = run_gap(kernel.as_ref(), &p, &input);
                let outcome = expected.check(&got);
                prop_assert!(outcome.is_ok(), "{} on {p}: {}", kernel.name(), outcome.unwrap_err());
            }
        }
    }

    #[test]
    fn every_int8_kernel_matches_the_integer_reference_on_random_problems(p in qconv_problem(), seed: u64) {
        let x = seeded_activations(p.conv().input_len(), seed);
        for k in qconv_kernels() {
            let layer = QLayer::seeded(&p, k.weight_range(), seed ^ 1);
            let expected = qreference::qconv1x1(&p, &x, &layer);
            let prepared = k.prepare(&p, &layer).unwrap();
            let (mut acc, mut y) = (vec![0i32; p.conv().output_len()], vec![0u8; p.conv().output_len()]);
            k.run(&p, &x, &prepared, Some(&mut acc), &mut y).unwrap();
            let k_is = format!("{} ({}, {})", k.name(), k.isa(), k.tile().unwrap_or_default());
            prop_assert_eq!(&acc, &expected.acc, "{} accumulators on {}", k_is, p);
            prop_assert_eq!(&y, &expected.out, "{} outputs on {}", k_is, p);
            let mut again = vec![0u8; y.len()];
            k.run(&p, &x, &prepared, None, &mut again).unwrap();
            prop_assert_eq!(&again, &y, "{} outputs without accumulators on {}", k_is, p);
        }
    }
}
