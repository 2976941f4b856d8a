//! Random problems and data, every kernel against the reference (both ISA policies).
//!
//! Failures proptest finds are saved under `proptest-regressions/` and replayed first on every
//! run; each one is also kept below as a named regression test once understood.

mod common;

use common::{ConvData, check_conv, policies, run_gap};
use nin_bench::registry::{conv1x1_kernels_with, gap_kernels_with};
use nin_bench::tensor::seeded_uniform;
use nin_bench::{Conv1x1Problem, Conv1x1Shape, GapProblem, Layout, reference};
use proptest::prelude::*;

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![Just(Layout::Nchw), Just(Layout::Nhwc)]
}

prop_compose! {
    fn conv_problem()(n in 1usize..=3, cin in 1usize..=70, h in 1usize..=12, w in 1usize..=12,
                      cout in 1usize..=40, stride in 1usize..=3, bias: bool, relu: bool,
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
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

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
