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
}
