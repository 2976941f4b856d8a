//! The standard suite: real layers of the NIN models (and common CNN heads for GAP), kept as
//! data files in `benches/suites/` (as XNNPACK keeps its benchmark shapes in
//! `bench/models/*.txt`) and compiled in, so benches, report and CLI use the same list from
//! any working directory.

use crate::problem::{Conv1x1Problem, GapProblem, MlpconvProblem, QConv1x1Problem, parse_shape_file};

/// Text of `benches/suites/conv1x1.txt`.
pub const CONV1X1_SUITE: &str = include_str!("../benches/suites/conv1x1.txt");
/// Text of `benches/suites/gap.txt`.
pub const GAP_SUITE: &str = include_str!("../benches/suites/gap.txt");

/// Text of `benches/suites/mlpconv.txt`.
pub const MLPCONV_SUITE: &str = include_str!("../benches/suites/mlpconv.txt");

/// Text of `benches/suites/int8.txt`.
pub const INT8_SUITE: &str = include_str!("../benches/suites/int8.txt");

/// The int8 convolutions the report times: NIN's 1×1 layers at batch 1.
pub fn int8_suite() -> Vec<QConv1x1Problem> {
    parse_shape_file(INT8_SUITE).expect("benches/suites/int8.txt is valid (checked by tests)")
}

/// The standard chains for the fused kernels: NIN's micro-networks and heads, batch 1 and 32.
pub fn mlpconv_suite() -> Vec<MlpconvProblem> {
    parse_shape_file(MLPCONV_SUITE).expect("benches/suites/mlpconv.txt is valid (checked by tests)")
}

/// The standard 1×1 convolution problems.
pub fn conv1x1_suite() -> Vec<Conv1x1Problem> {
    parse_shape_file(CONV1X1_SUITE).expect("benches/suites/conv1x1.txt is valid (checked by tests)")
}

/// The standard GAP problems.
pub fn gap_suite() -> Vec<GapProblem> {
    parse_shape_file(GAP_SUITE).expect("benches/suites/gap.txt is valid (checked by tests)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_parse_and_hold_the_nin_layers() {
        let conv = conv1x1_suite();
        assert_eq!(conv.len(), 18);
        assert!(conv.iter().any(|p| p.to_string() == "1x192x28x28:32,relu"));
        assert!(conv.iter().all(|p| p.relu && p.bias));
        let gap = gap_suite();
        assert_eq!(gap.len(), 10);
        assert!(gap.iter().any(|p| p.to_string() == "1x1000x6x6"));
        let chains = mlpconv_suite();
        assert_eq!(chains.len(), 8);
        assert_eq!(chains.iter().filter(|p| p.gap).count(), 4);
        assert!(chains.iter().any(|p| p.to_string() == "32x96x54x54:96:96"));
        // Every int8 layer is a batch-1 layer of the f32 suite.
        let int8 = int8_suite();
        assert_eq!(int8.len(), 12);
        assert!(int8.iter().all(|q| conv.iter().any(|p| p == q.conv())), "an int8 layer not in the f32 suite");
    }
}
