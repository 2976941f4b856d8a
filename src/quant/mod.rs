//! Quantized NIN: what an int8 layer is, its requantization (defined once, here), seeded data,
//! and the integer reference every int8 kernel must agree with **bit for bit**.
//!
//! - Activations are u8 with zero point 0 (the output of a ReLU); weights s8, symmetric, one
//!   scale per output channel; the bias i32, in the accumulator's scale.
//! - A 1×1 convolution accumulates `acc = bias[co] + Σ x·w` exactly in i32 (the problem's
//!   Cin bound, [`crate::problem::QCONV_MAX_CIN`], and the bias bound [`MAX_BIAS`] keep every
//!   partial sum within i32, in any order).
//! - The output is [`requantize`]`(acc, m[co])` with `m[co] = s_x · s_w[co] / s_y`.

pub mod reference;

use crate::error::{NinError, Result};
use crate::problem::{QConv1x1Problem, QGapProblem};
use crate::tensor::{Layout, seeded_uniform};

/// Largest |bias| a quantized layer takes: with the Cin bound, every partial sum of a channel
/// stays within ±2³¹.
pub const MAX_BIAS: i32 = 1 << 30;

/// Requantizes an i32 accumulator to u8 with multiplier `m`, as ONNX's QLinearConv does with
/// output zero point 0: `v = (acc as f32) · m` (both rounded to nearest f32, ties to even),
/// clamped to [0, 255], then rounded half to even. The clamp is ReLU and the saturation at
/// once; clamping before rounding gives the same result as after (the bounds are integers) and
/// keeps the float's conversion in range.
#[inline(always)]
pub fn requantize(acc: i32, m: f32) -> u8 {
    ((acc as f32) * m).clamp(0.0, 255.0).round_ties_even() as u8
}

/// Which weights a kernel accepts. AVX2's `vpmaddubsw` adds two u8·s8 products into an i16
/// with saturation: with 7-bit weights (−64..=63) two products are at most 2·255·64 = 32,640,
/// so it never saturates and the kernel is exact. VNNI (`vpdpbusd`) sums in i32 and takes any
/// s8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightRange {
    /// Any s8, −128..=127.
    Full,
    /// −64..=63.
    SevenBit,
}

impl WeightRange {
    /// The smallest and largest weight accepted.
    pub fn bounds(self) -> (i8, i8) {
        match self {
            WeightRange::Full => (i8::MIN, i8::MAX),
            WeightRange::SevenBit => (-64, 63),
        }
    }

    /// The first weight outside the range, with its index, if any.
    pub fn first_outside(self, weights: &[i8]) -> Option<(usize, i8)> {
        let (lo, hi) = self.bounds();
        weights.iter().copied().enumerate().find(|&(_, w)| w < lo || w > hi)
    }
}

/// One quantized 1×1 layer's parameters: weights Cout×Cin row-major, bias and multiplier per
/// output channel (the bias all zeros when the problem has none).
#[derive(Debug, Clone, PartialEq)]
pub struct QLayer {
    /// Cout×Cin, row-major.
    pub weights: Vec<i8>,
    /// Cout values, each within ±[`MAX_BIAS`].
    pub bias: Vec<i32>,
    /// Cout requantization multipliers, finite and positive.
    pub multipliers: Vec<f32>,
}

impl QLayer {
    /// Checks the lengths against `p` and the values against `range`, the bias bound and the
    /// multipliers' (finite, positive).
    pub fn check(&self, p: &QConv1x1Problem, range: WeightRange) -> Result<()> {
        let c = p.conv();
        let bias = c.bias.then_some(self.bias.len());
        c.check_weights(self.weights.len(), bias)?;
        if !c.bias && self.bias.iter().any(|&b| b != 0) || self.bias.len() != c.cout {
            return Err(NinError::Shape {
                what: format!("bias of {p}"),
                reason: format!("must hold {} values{}", c.cout, if c.bias { "" } else { ", all 0 (nobias)" }),
            });
        }
        if self.multipliers.len() != c.cout || self.multipliers.iter().any(|m| !m.is_finite() || *m <= 0.0) {
            return Err(NinError::Shape {
                what: format!("multipliers of {p}"),
                reason: format!("must be {} finite, positive values", c.cout),
            });
        }
        if let Some(co) = self.bias.iter().position(|b| b.unsigned_abs() > MAX_BIAS as u32) {
            return Err(NinError::Shape {
                what: format!("bias[{co}] = {}", self.bias[co]),
                reason: format!("a quantized bias is within ±{MAX_BIAS}"),
            });
        }
        if let Some((i, w)) = range.first_outside(&self.weights) {
            let (lo, hi) = range.bounds();
            return Err(NinError::Shape {
                what: format!("weight [{}][{}] = {w}", i / c.cin, i % c.cin),
                reason: format!("this kernel takes weights from {lo} to {hi}"),
            });
        }
        Ok(())
    }

    /// Seeded parameters for `p`: weights spread over `range`, a bias of the size a real
    /// layer's has, and multipliers that put the typical output in the middle of the u8 range
    /// (so that neither the clamp at 0 nor the one at 255 hides the sums).
    pub fn seeded(p: &QConv1x1Problem, range: WeightRange, seed: u64) -> Self {
        let c = p.conv();
        let (lo, hi) = range.bounds();
        let span = (hi as i32 - lo as i32 + 1) as f32;
        let weights =
            unit(c.weights_len(), seed).map(|u| (lo as i32 + (u * span) as i32).min(hi as i32) as i8).collect();
        // A typical |acc| is about 128·64·√Cin for these inputs; aim it at ~100.
        let typical = 128.0 * (hi as f32) * (c.cin as f32).sqrt();
        let bias = unit(c.cout, seed ^ 0xb1a5).map(|u| if c.bias { ((u - 0.5) * typical) as i32 } else { 0 }).collect();
        let multipliers = unit(c.cout, seed ^ 0x5ca1e).map(|u| (0.5 + u) * 100.0 / typical).collect();
        QLayer { weights, bias, multipliers }
    }
}

/// The seeded data every check and timing of `p` shares: u8 input of seed `seed`, and a layer
/// of seed `seed + 1` with 7-bit weights, which every int8 path takes.
#[derive(Debug, Clone)]
pub struct QConvData {
    /// N·Cin·H·W activations.
    pub input: Vec<u8>,
    /// The layer.
    pub layer: QLayer,
}

impl QConvData {
    /// The data of `p` with `seed`.
    pub fn seeded(p: &QConv1x1Problem, seed: u64) -> Self {
        QConvData {
            input: seeded_activations(p.conv().input_len(), seed),
            layer: QLayer::seeded(p, WeightRange::SevenBit, seed + 1),
        }
    }
}

/// `len` seeded values in [0, 1).
fn unit(len: usize, seed: u64) -> impl Iterator<Item = f32> {
    seeded_uniform(len, seed).to_vec().into_iter().map(|v| (v + 1.0) / 2.0)
}

/// Seeded u8 activations, `len` of them, spread over 0..=255 (a tenth of them 0, as after a
/// ReLU).
pub fn seeded_activations(len: usize, seed: u64) -> Vec<u8> {
    unit(len, seed).map(|u| if u < 0.1 { 0 } else { (u * 256.0).min(255.0) as u8 }).collect()
}

/// The multiplier of a quantized GAP of `p`: the mean of a channel, `sum / (H·W)`, kept in the
/// input's scale (`s_y = s_x`), so that a constant channel of value v gives v.
pub fn gap_multiplier(p: &QGapProblem) -> f32 {
    1.0 / (p.gap().h * p.gap().w) as f32
}

/// The index of value (n, c, pixel q) of an N×C×P tensor in `layout`.
pub(crate) fn index(layout: Layout, c_len: usize, pixels: usize, n: usize, c: usize, q: usize) -> usize {
    match layout {
        Layout::Nchw => (n * c_len + c) * pixels + q,
        Layout::Nhwc => (n * pixels + q) * c_len + c,
    }
}
