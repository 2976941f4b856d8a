//! Quantized problems: a 1×1 convolution on u8 activations and s8 weights, requantized to u8
//! (`1x192x28x28:32,u8s8`), and GAP on u8 (`1x1000x6x6,u8`).

use std::fmt;
use std::str::FromStr;

use super::conv1x1::{Conv1x1Problem, Conv1x1Shape};
use super::gap::GapProblem;
use super::parse::parse_error;
use crate::error::{NinError, Result};

const QCONV_FORMAT: &str = "NxCxHxW:K,u8s8[,sS][,nobias][,nhwc], e.g. 1x192x28x28:32,u8s8";
const QGAP_FORMAT: &str = "NxCxHxW,u8[,nhwc], e.g. 1x1000x6x6,u8";

/// Most input channels of a quantized 1×1 convolution: the i32 accumulator of `Cin` products
/// of a u8 (≤ 255) and an s8 (≥ −128) stays within ±2³⁰, leaving the other half of the i32
/// range to the bias (which `prepare` checks is within ±2³⁰ too), so that no kernel's sum can
/// wrap, in any order.
pub const QCONV_MAX_CIN: usize = (1 << 30) / (255 * 128);

/// A 1×1 convolution on u8 activations (zero point 0, as after ReLU) and s8 weights, one scale
/// per output channel: `acc[n, co, p] = bias[co] + Σ_ci W[co, ci] · X[n, ci, s·p]` in i32, then
/// requantized to u8 with a multiplier per output channel ([`crate::quant::requantize`]),
/// which clamps at 0: ReLU is always applied.
///
/// The geometry is a [`Conv1x1Problem`]'s (batch, stride, layout, bias); its f32 lengths are
/// element counts here (one byte per activation and weight, four per accumulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QConv1x1Problem {
    conv: Conv1x1Problem,
}

impl QConv1x1Problem {
    /// Validates `shape` as [`Conv1x1Problem::new`] does, and Cin ≤ [`QCONV_MAX_CIN`]. ReLU is
    /// part of the requantization, so `shape.relu` is ignored.
    pub fn new(shape: Conv1x1Shape) -> Result<Self> {
        if shape.cin > QCONV_MAX_CIN {
            return Err(NinError::Shape {
                what: format!("Cin = {}", shape.cin),
                reason: format!(
                    "an int8 convolution takes at most {QCONV_MAX_CIN} input channels (its i32 sums must not wrap)"
                ),
            });
        }
        Ok(QConv1x1Problem { conv: Conv1x1Problem::new(Conv1x1Shape { relu: true, ..shape })? })
    }

    /// The geometry, as an f32 problem with ReLU.
    pub fn conv(&self) -> &Conv1x1Problem {
        &self.conv
    }

    /// Multiply-accumulates per call: N·Cout·Cin·Hout·Wout.
    pub fn macs(&self) -> u64 {
        self.conv.flops() / 2
    }

    /// Bytes a kernel must move: u8 input, s8 weights, i32 bias and u8 output, each once.
    pub fn bytes(&self) -> u64 {
        let c = &self.conv;
        (c.input_len() + c.weights_len() + 4 * c.bias_len() + c.output_len()) as u64
    }
}

impl serde::Serialize for QConv1x1Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for QConv1x1Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = Conv1x1Problem::new(Conv1x1Shape { relu: false, ..*self.conv }).map_err(|_| fmt::Error)?;
        f.write_str(&with_flag(&plain.to_string(), "u8s8"))
    }
}

impl FromStr for QConv1x1Problem {
    type Err = NinError;

    fn from_str(input: &str) -> Result<Self> {
        let (plain, found) = without_flag(input, "u8s8");
        if !found {
            return Err(parse_error(input, "an int8 convolution needs the flag u8s8", QCONV_FORMAT));
        }
        if plain.split(',').any(|f| f.trim() == "relu") {
            return Err(parse_error(input, "the u8 output always clamps at 0: drop 'relu'", QCONV_FORMAT));
        }
        QConv1x1Problem::new(*plain.parse::<Conv1x1Problem>()?)
    }
}

/// Global average pooling on u8 activations: per channel the i32 sum of its H·W values,
/// requantized to u8 with one multiplier ([`crate::quant::requantize`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QGapProblem {
    gap: GapProblem,
}

impl QGapProblem {
    /// The geometry of `gap`, quantized (H·W ≤ 2²³, so that a sum of 255s fits an i32).
    pub fn new(gap: GapProblem) -> Result<Self> {
        if gap.h * gap.w > 1 << 23 {
            return Err(NinError::Shape {
                what: gap.to_string(),
                reason: "an int8 GAP sums at most 2^23 values per channel (its i32 sums must not wrap)".into(),
            });
        }
        Ok(QGapProblem { gap })
    }

    /// The geometry.
    pub fn gap(&self) -> &GapProblem {
        &self.gap
    }

    /// Bytes a kernel must move: the u8 input read once and the u8 output written once.
    pub fn bytes(&self) -> u64 {
        (self.gap.input_len() + self.gap.output_len()) as u64
    }
}

impl serde::Serialize for QGapProblem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for QGapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&with_flag(&self.gap.to_string(), "u8"))
    }
}

impl FromStr for QGapProblem {
    type Err = NinError;

    fn from_str(input: &str) -> Result<Self> {
        let (plain, found) = without_flag(input, "u8");
        if !found {
            return Err(parse_error(input, "an int8 GAP needs the flag u8", QGAP_FORMAT));
        }
        QGapProblem::new(plain.parse()?)
    }
}

/// `text` (an f32 problem string) with `flag` first among its flags: `1x8x4x4:4,nhwc` and
/// `u8s8` give `1x8x4x4:4,u8s8,nhwc`.
fn with_flag(text: &str, flag: &str) -> String {
    match text.split_once(',') {
        Some((head, flags)) => format!("{head},{flag},{flags}"),
        None => format!("{text},{flag}"),
    }
}

/// `input` without the comma-separated flag `flag` (its first occurrence), and whether it was
/// there; a second occurrence stays, for the f32 parser to refuse as an unknown flag.
fn without_flag(input: &str, flag: &str) -> (String, bool) {
    let mut found = false;
    let kept: Vec<&str> = input
        .trim()
        .split(',')
        .filter(|part| {
            let hit = !found && part.trim() == flag;
            found |= hit;
            !hit
        })
        .collect();
    (kept.join(","), found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_strings_round_trip_and_keep_the_geometry() {
        for s in ["1x192x28x28:32,u8s8", "2x7x3x4:5,u8s8,s2,nobias,nhwc", "1x1x1x1:1,u8s8"] {
            let p: QConv1x1Problem = s.parse().unwrap();
            assert_eq!(p.to_string().parse::<QConv1x1Problem>().unwrap(), p, "{s}");
            assert!(p.conv().relu, "{s}");
        }
        assert_eq!("1x192x28x28:32,u8s8".parse::<QConv1x1Problem>().unwrap().to_string(), "1x192x28x28:32,u8s8");
        let g: QGapProblem = "4x64x7x7,u8,nhwc".parse().unwrap();
        assert_eq!(g.to_string(), "4x64x7x7,u8,nhwc");
        assert_eq!(g.to_string().parse::<QGapProblem>().unwrap(), g);
    }

    #[test]
    fn int8_strings_without_their_flag_or_with_relu_or_too_many_channels_are_refused() {
        assert!("1x8x4x4:4".parse::<QConv1x1Problem>().unwrap_err().to_string().contains("u8s8"));
        assert!("1x8x4x4:4,u8s8,relu".parse::<QConv1x1Problem>().unwrap_err().to_string().contains("relu"));
        assert!("1x8x4x4:4,u8s8,u8s8".parse::<QConv1x1Problem>().is_err());
        let wide = format!("1x{}x1x1:1,u8s8", QCONV_MAX_CIN + 1);
        assert!(wide.parse::<QConv1x1Problem>().unwrap_err().to_string().contains("input channels"));
        assert!(format!("1x{QCONV_MAX_CIN}x1x1:1,u8s8").parse::<QConv1x1Problem>().is_ok());
        assert!("1x8x4x4".parse::<QGapProblem>().unwrap_err().to_string().contains("u8"));
    }
}
