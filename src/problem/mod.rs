//! Problems: what a kernel is asked to compute, and their compact string form.
//!
//! The string forms are part of the interface contract (docs/architecture.md):
//! - 1×1 convolution: `NxCxHxW:K` plus optional comma-separated flags `sS` (stride S), `relu`,
//!   `nobias`, `nhwc`; for example `1x192x28x28:32,relu` or `8x256x56x56:128,s2`.
//! - Global average pooling: `NxCxHxW`, optionally followed by `,nhwc`.
//! - A chain of 1×1 convolutions for the fused kernels (an extension of the contract):
//!   `NxCxHxW:K1:K2[:K3...]`, every layer with bias and ReLU, NCHW; with the flag `gap` the
//!   chain ends in global average pooling, and may then have one layer: `1x1024x6x6:1000,gap`.
//!
//! A problem is validated once, when it is built: every dimension is at least 1 and every buffer
//! length fits the address space. Kernels can then rely on it.

mod conv1x1;
mod gap;
mod int8;
mod mlpconv;
mod parse;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

pub use conv1x1::{Conv1x1Problem, Conv1x1Shape};
pub use gap::GapProblem;
pub use int8::{QCONV_MAX_CIN, QConv1x1Problem, QGapProblem};
pub use mlpconv::{MAX_MLPCONV_LAYERS, MlpconvProblem};
pub use parse::{parse_shape_file, shape_file_lines};

use crate::error::{NinError, Result};

/// A problem of any operation, told apart by its string: a 1×1 convolution has one `:K`, a
/// chain ([`MlpconvProblem`]) several or the flag `gap`, a GAP none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Problem {
    /// A 1×1 convolution.
    Conv1x1(Conv1x1Problem),
    /// A global average pooling.
    Gap(GapProblem),
    /// A chain of 1×1 convolutions (and GAP), for the fused kernels.
    Mlpconv(MlpconvProblem),
    /// An int8 1×1 convolution (flag `u8s8`).
    QConv1x1(QConv1x1Problem),
    /// An int8 global average pooling (flag `u8`).
    QGap(QGapProblem),
}

impl Problem {
    /// The operation, as in [`crate::KernelInfo::op`].
    pub fn op(&self) -> crate::Op {
        match self {
            Problem::Conv1x1(_) => crate::Op::Conv1x1,
            Problem::Gap(_) => crate::Op::Gap,
            Problem::Mlpconv(_) => crate::Op::Mlpconv,
            Problem::QConv1x1(_) => crate::Op::QConv1x1,
            Problem::QGap(_) => crate::Op::QGap,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Conv1x1(p) => p.fmt(f),
            Problem::Gap(p) => p.fmt(f),
            Problem::Mlpconv(p) => p.fmt(f),
            Problem::QConv1x1(p) => p.fmt(f),
            Problem::QGap(p) => p.fmt(f),
        }
    }
}

impl FromStr for Problem {
    type Err = NinError;

    fn from_str(s: &str) -> Result<Self> {
        let has_flag = |wanted: &str| s.split(',').skip(1).any(|flag| flag.trim() == wanted);
        let is_chain = s.matches(':').count() > 1 || has_flag("gap");
        if has_flag("u8s8") {
            s.parse().map(Problem::QConv1x1)
        } else if has_flag("u8") {
            s.parse().map(Problem::QGap)
        } else if is_chain {
            s.parse().map(Problem::Mlpconv)
        } else if s.contains(':') {
            s.parse().map(Problem::Conv1x1)
        } else {
            s.parse().map(Problem::Gap)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Layout;

    #[test]
    fn conv_string_round_trips_with_every_flag() {
        for s in [
            "1x192x28x28:32,relu",
            "8x256x56x56:128,s2",
            "2x3x7x5:13,nobias,nhwc",
            "1x1x1x1:1",
            "3x4x5x6:7,s3,relu,nobias,nhwc",
        ] {
            let p: Conv1x1Problem = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn conv_problem_derives_output_shape_and_flops() {
        let p: Conv1x1Problem = "8x256x56x56:128,s2".parse().unwrap();
        assert_eq!((p.hout(), p.wout()), (28, 28));
        assert_eq!(p.flops(), 2 * 8 * 128 * 256 * 28 * 28);
        let odd: Conv1x1Problem = "1x1x7x5:1,s2".parse().unwrap();
        assert_eq!((odd.hout(), odd.wout()), (4, 3));
    }

    #[test]
    fn malformed_conv_strings_name_the_fault() {
        let cases = [
            ("1x192x28x28", "missing ':K'"),
            ("1x192x28:32", "3 dimensions"),
            ("1xAx28x28:32", "C = 'A'"),
            ("1x2x3x4:K", "K = 'K'"),
            ("1x2x3x4:5,fast", "unknown flag 'fast'"),
            ("1x2x3x4:5,sx", "stride flag 'sx'"),
        ];
        for (s, needle) in cases {
            let msg = s.parse::<Conv1x1Problem>().unwrap_err().to_string();
            assert!(msg.contains(needle), "{s}: {msg}");
            assert!(msg.contains("expected NxCxHxW:K"), "{s}: {msg}");
        }
    }

    #[test]
    fn zero_dimensions_and_overflow_are_typed_errors() {
        assert_eq!("0x2x3x4:5".parse::<Conv1x1Problem>(), Err(NinError::ZeroDimension { name: "N" }));
        assert_eq!("1x2x3x4:0".parse::<Conv1x1Problem>(), Err(NinError::ZeroDimension { name: "K" }));
        assert_eq!("1x2x3x4:5,s0".parse::<Conv1x1Problem>(), Err(NinError::ZeroDimension { name: "stride" }));
        let big = format!("{0}x{0}x{0}x{0}:1", u32::MAX);
        assert!(matches!(big.parse::<Conv1x1Problem>(), Err(NinError::Overflow { .. })));
        assert!(matches!(GapProblem::new(usize::MAX, 2, 1, 1, Layout::Nchw), Err(NinError::Overflow { .. })));
        assert_eq!("1x0x3x3".parse::<GapProblem>(), Err(NinError::ZeroDimension { name: "C" }));
    }

    #[test]
    fn gap_strings_round_trip_and_reject_conv_syntax() {
        for s in ["1x1000x6x6", "32x2048x7x7,nhwc"] {
            assert_eq!(s.parse::<GapProblem>().unwrap().to_string(), s);
        }
        assert!("1x10x8x8:3".parse::<GapProblem>().unwrap_err().to_string().contains("1x1 convolution"));
        assert!("1x10x8x8,relu".parse::<GapProblem>().unwrap_err().to_string().contains("unknown flag"));
    }

    #[test]
    fn chain_strings_round_trip_and_derive_layers_flops_and_lengths() {
        for s in ["1x192x32x32:160:96", "32x1024x6x6:1000,gap", "2x3x4x5:6:7:8:9,gap"] {
            assert_eq!(s.parse::<MlpconvProblem>().unwrap().to_string(), s);
        }
        let p: MlpconvProblem = "2x192x32x32:160:96".parse().unwrap();
        let layers: Vec<String> = p.layers().map(|l| l.unwrap().to_string()).collect();
        assert_eq!(layers, ["2x192x32x32:160,relu", "2x160x32x32:96,relu"]);
        assert_eq!(p.flops(), 2 * 2 * 1024 * (192 * 160 + 160 * 96));
        assert_eq!((p.input_len(), p.output_len()), (2 * 192 * 1024, 2 * 96 * 1024));
        let head: MlpconvProblem = "3x1024x6x6:1000,gap".parse().unwrap();
        assert_eq!(head.output_len(), 3 * 1000);
        assert_eq!(head.gap_problem().unwrap().to_string(), "3x1000x6x6");
    }

    #[test]
    fn problem_strings_pick_their_operation() {
        let op = |s: &str| s.parse::<Problem>().unwrap().op().name();
        assert_eq!(op("1x192x28x28:32,relu"), "conv1x1");
        assert_eq!(op("1x1000x6x6"), "gap");
        assert_eq!(op("1x192x32x32:160:96"), "mlpconv");
        assert_eq!(op("1x1024x6x6:1000,gap"), "mlpconv");
    }

    #[test]
    fn malformed_chains_name_the_fault() {
        let cases = [
            ("1x192x32x32:160", "1 layers"),
            ("1x2x3x4:5:6:7:8:9", "5 layers"),
            ("1x2x3x4:5:x", "K = 'x'"),
            ("1x2x3x4:5:6,relu", "unknown flag 'relu'"),
        ];
        for (s, needle) in cases {
            let msg = s.parse::<MlpconvProblem>().unwrap_err().to_string();
            assert!(msg.contains(needle), "{s}: {msg}");
            assert!(msg.contains("expected NxCxHxW:K1:K2"), "{s}: {msg}");
        }
        assert_eq!("1x2x3x4:5:0".parse::<MlpconvProblem>(), Err(NinError::ZeroDimension { name: "K" }));
        assert_eq!("1x2x0x4:5,gap".parse::<MlpconvProblem>(), Err(NinError::ZeroDimension { name: "H" }));
        let big = format!("{0}x{0}x{0}x{0}:1:1", u32::MAX);
        assert!(matches!(big.parse::<MlpconvProblem>(), Err(NinError::Overflow { .. })));
    }

    #[test]
    fn repeated_or_conflicting_flags_are_refused_naming_both() {
        let cases = [
            ("1x3x4x4:5,s2,s3", "flags 's2' and 's3' both set the stride"),
            ("1x3x4x4:5,s2,s2", "flag 's2' is given twice"),
            ("1x3x4x4:5,relu,relu", "flag 'relu' is given twice"),
            ("1x3x4x4:5,nobias,nobias", "flag 'nobias' is given twice"),
            ("1x3x4x4:5,nhwc,nchw", "flags 'nhwc' and 'nchw' both set the layout"),
            ("1x3x4x4,nhwc,nhwc", "flag 'nhwc' is given twice"),
            ("1x3x4x4:5,gap,gap", "flag 'gap' is given twice"),
            ("1x3x4x4:5:6,nchw,nchw", "flag 'nchw' is given twice"),
        ];
        for (s, needle) in cases {
            let msg = s.parse::<Problem>().unwrap_err().to_string();
            assert!(msg.contains(needle), "{s}: {msg}");
        }
        // One of each setting is still fine, in any order.
        assert_eq!(
            "1x3x4x4:5,nhwc,s2,nobias,relu".parse::<Problem>().unwrap().to_string(),
            "1x3x4x4:5,s2,relu,nobias,nhwc"
        );
    }

    #[test]
    fn echoed_input_is_cut_and_kept_on_one_line() {
        let long = format!("1x{}x4x4:5", "7".repeat(5000));
        let msg = long.parse::<Problem>().unwrap_err().to_string();
        assert!(msg.len() < 400, "{} characters: {msg}", msg.len());
        let multiline = "1x2x3x4:5\n,relu\r,evil\x1b[2J";
        let msg = multiline.parse::<Problem>().unwrap_err().to_string();
        assert_eq!(msg.lines().count(), 1, "{msg}");
        assert!(!msg.contains('\x1b'), "{msg}");
    }

    #[test]
    fn shape_file_skips_comments_and_blanks_and_names_bad_lines() {
        let text = "# NIN-CIFAR10\n1x192x32x32:160,relu  # cccp1\n\n  \n1x160x32x32:96\n";
        let problems: Vec<Conv1x1Problem> = parse_shape_file(text).unwrap();
        assert_eq!(problems.len(), 2);
        let err = parse_shape_file::<Conv1x1Problem>("1x2x3x4:5\nbad\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
