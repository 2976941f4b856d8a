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

/// The scale that maps `0..=largest` onto the u8 range (`largest / 255`); 1 when `largest` is
/// not positive (an all-zero tensor quantizes to zeros with any scale).
pub fn activation_scale(largest: f32) -> f32 {
    if largest > 0.0 && largest.is_finite() { largest / 255.0 } else { 1.0 }
}

/// Quantizes f32 activations to u8 with zero point 0: `x / scale`, clamped to [0, 255] (the
/// negatives a ReLU would remove become 0), rounded half to even. The definition; `EdgePath`
/// (`forward::quantized`) computes the same a vector at a time.
pub fn quantize_activations(x: &[f32], scale: f32, out: &mut [u8]) {
    debug_assert_eq!(x.len(), out.len());
    out.iter_mut().zip(x).for_each(|(q, &v)| *q = (v / scale).clamp(0.0, 255.0).round_ties_even() as u8);
}

/// The f32 values of u8 activations of `scale`.
pub fn dequantize_activations(q: &[u8], scale: f32, out: &mut [f32]) {
    debug_assert_eq!(q.len(), out.len());
    out.iter_mut().zip(q).for_each(|(v, &q)| *v = q as f32 * scale);
}

/// Weights quantized per output channel, symmetrically: `w[co][ci] ≈ q[co][ci] · scales[co]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelQuantized {
    /// Cout×Cin, row-major, each within ±(the range's largest value).
    pub weights: Vec<i8>,
    /// Cout scales, positive.
    pub scales: Vec<f32>,
}

/// Quantizes Cout×Cin f32 `weights` per output channel, symmetrically into `range`: row co's
/// scale maps its largest |w| onto the range's largest value (127, or 63 for 7-bit weights;
/// −128 and −64 stay unused, so that the grid is symmetric), and each weight is rounded half to
/// even. A row of zeros gets scale 1.
pub fn quantize_weights(weights: &[f32], cin: usize, range: WeightRange) -> ChannelQuantized {
    let qmax = range.bounds().1 as f32;
    let mut quantized = Vec::with_capacity(weights.len());
    let scales = weights
        .chunks(cin)
        .map(|row| {
            let largest = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
            let scale = if largest > 0.0 { largest / qmax } else { 1.0 };
            quantized.extend(row.iter().map(|w| (w / scale).clamp(-qmax, qmax).round_ties_even() as i8));
            scale
        })
        .collect();
    ChannelQuantized { weights: quantized, scales }
}

impl QLayer {
    /// A layer from f32 weights (Cout×Cin) and bias: weights per channel into `range` (see
    /// [`quantize_weights`]), bias in the accumulator's scale `s_x · s_w[co]` (rounded half to
    /// even), and multipliers `s_x · s_w[co] / s_y` for input scale `s_x` and output scale `s_y`.
    /// Fails when a bias does not fit within ±[`MAX_BIAS`] at that scale.
    pub fn from_f32(weights: &[f32], bias: &[f32], range: WeightRange, s_x: f32, s_y: f32) -> Result<Self> {
        let cout = bias.len();
        if cout == 0 || !weights.len().is_multiple_of(cout) {
            return Err(NinError::Shape {
                what: "f32 layer to quantize".into(),
                reason: format!("{} weights are not Cout×Cin for {cout} biases", weights.len()),
            });
        }
        let q = quantize_weights(weights, weights.len() / cout, range);
        let mut qbias = Vec::with_capacity(cout);
        for (co, (&b, &s_w)) in bias.iter().zip(&q.scales).enumerate() {
            let v = (b as f64 / (s_x as f64 * s_w as f64)).round_ties_even();
            // NaN (a zero scale) fails too.
            if v.is_nan() || v.abs() > MAX_BIAS as f64 {
                return Err(NinError::Shape {
                    what: format!("bias[{co}] = {b}"),
                    reason: format!("at scale {:e} it is beyond the quantized bound ±{MAX_BIAS}", s_x * s_w),
                });
            }
            qbias.push(v as i32);
        }
        let multipliers = q.scales.iter().map(|s_w| s_x * s_w / s_y).collect();
        Ok(QLayer { weights: q.weights, bias: qbias, multipliers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_weights_maps_each_rows_largest_magnitude_to_the_ranges_top_and_rounds_within_half_a_step() {
        let weights: Vec<f32> = seeded_uniform(3 * 50, 11).to_vec();
        for (range, qmax) in [(WeightRange::Full, 127), (WeightRange::SevenBit, 63)] {
            let q = quantize_weights(&weights, 50, range);
            for ((row, qrow), &s) in weights.chunks(50).zip(q.weights.chunks(50)).zip(&q.scales) {
                assert_eq!(qrow.iter().map(|v| v.unsigned_abs()).max(), Some(qmax));
                assert!(range.first_outside(qrow).is_none());
                for (&w, &v) in row.iter().zip(qrow) {
                    assert!((w - v as f32 * s).abs() <= s / 2.0 * 1.0001, "{w} vs {v}·{s}");
                }
            }
        }
    }

    #[test]
    fn quantize_weights_gives_a_zero_row_scale_one_and_zeros() {
        let q = quantize_weights(&[0.0; 4], 4, WeightRange::Full);
        assert_eq!((q.weights, q.scales), (vec![0; 4], vec![1.0]));
    }

    #[test]
    fn activations_quantize_with_relu_saturation_and_ties_to_even_then_dequantize() {
        let mut q = [0u8; 6];
        quantize_activations(&[-3.0, 0.25, 0.75, 2.5, 1000.0, 1.0], 0.5, &mut q);
        assert_eq!(q, [0, 0, 2, 5, 255, 2]);
        let mut y = [0.0f32; 6];
        dequantize_activations(&q, 0.5, &mut y);
        assert_eq!(y, [0.0, 0.0, 1.0, 2.5, 127.5, 1.0]);
        assert_eq!(activation_scale(510.0), 2.0);
        assert_eq!(activation_scale(0.0), 1.0);
    }

    #[test]
    fn a_layer_from_f32_has_its_bias_in_the_accumulators_scale_and_multipliers_sx_sw_over_sy() {
        // Row 0's largest |w| is 2 (scale 2/127), row 1's is 0.5 (scale 0.5/127).
        let layer = QLayer::from_f32(&[2.0, -1.0, 0.5, -0.5], &[1.0, -0.25], WeightRange::Full, 0.1, 0.2).unwrap();
        assert_eq!(layer.weights, [127, -64, 127, -127]);
        let (s0, s1) = (2.0f32 / 127.0, 0.5f32 / 127.0);
        assert_eq!(layer.bias, [(1.0 / (0.1 * s0 as f64)).round() as i32, (-0.25 / (0.1 * s1 as f64)).round() as i32]);
        assert_eq!(layer.multipliers, [0.1 * s0 / 0.2, 0.1 * s1 / 0.2]);
    }

    #[test]
    fn a_layer_from_f32_refuses_a_bias_beyond_the_bound_and_weights_that_are_not_a_matrix() {
        let err = QLayer::from_f32(&[1e-6], &[1e3], WeightRange::Full, 1e-6, 1.0).unwrap_err().to_string();
        assert!(err.contains("bias[0]"), "{err}");
        assert!(QLayer::from_f32(&[1.0; 3], &[0.0; 2], WeightRange::Full, 1.0, 1.0).is_err());
    }
}
