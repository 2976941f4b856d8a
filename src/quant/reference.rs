//! The integer reference: sums in i64 (no bound needed for it to be exact), checked to fit the
//! i32 the kernels accumulate in, then [`requantize`]d. Kernels must match it bit for bit, on
//! the accumulators and on the u8 outputs.

use super::{QLayer, index, requantize};
use crate::problem::{QConv1x1Problem, QGapProblem};

/// A quantized convolution's exact accumulators (bias included) and its u8 output, both in the
/// problem's output layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QConvExpected {
    /// N·Cout·Hout·Wout accumulators.
    pub acc: Vec<i32>,
    /// The same, requantized.
    pub out: Vec<u8>,
}

/// The reference of `p` on input `x` (N·Cin·H·W u8 in the problem's layout) with `layer`.
///
/// # Panics
/// When a sum leaves the i32 range, which the problem's and [`QLayer::check`]'s bounds rule
/// out, or when the lengths do not fit `p`.
pub fn qconv1x1(p: &QConv1x1Problem, x: &[u8], layer: &QLayer) -> QConvExpected {
    let c = p.conv();
    assert_eq!((x.len(), layer.weights.len()), (c.input_len(), c.weights_len()));
    let (pixels_in, pixels_out) = (c.pixels_in(), c.pixels_out());
    let mut acc = vec![0i32; c.output_len()];
    let mut out = vec![0u8; c.output_len()];
    for n in 0..c.n {
        for co in 0..c.cout {
            let w_row = &layer.weights[co * c.cin..][..c.cin];
            for q in 0..pixels_out {
                let pixel = c.input_pixel(q);
                let sum: i64 = layer.bias[co] as i64
                    + w_row
                        .iter()
                        .enumerate()
                        .map(|(ci, &w)| w as i64 * x[index(c.layout, c.cin, pixels_in, n, ci, pixel)] as i64)
                        .sum::<i64>();
                let sum = i32::try_from(sum).expect("the problem's bounds keep every sum within i32");
                let at = index(c.layout, c.cout, pixels_out, n, co, q);
                acc[at] = sum;
                out[at] = requantize(sum, layer.multipliers[co]);
            }
        }
    }
    QConvExpected { acc, out }
}

/// The reference of a quantized GAP: per (image, channel) the sum of its H·W values, then
/// [`requantize`]d with `m`; the sums and the outputs, N×C.
pub fn qgap(p: &QGapProblem, x: &[u8], m: f32) -> (Vec<i32>, Vec<u8>) {
    let g = p.gap();
    let pixels = g.h * g.w;
    assert_eq!(x.len(), g.n * g.c * pixels);
    let sums: Vec<i32> = (0..g.n * g.c)
        .map(|nc| {
            let (n, c) = (nc / g.c, nc % g.c);
            let sum: i64 = (0..pixels).map(|q| x[index(g.layout, g.c, pixels, n, c, q)] as i64).sum();
            i32::try_from(sum).expect("H·W ≤ 2^23 keeps the sum within i32")
        })
        .collect();
    let out = sums.iter().map(|&s| requantize(s, m)).collect();
    (sums, out)
}

#[cfg(test)]
mod tests {
    use super::super::{WeightRange, seeded_activations};
    use super::*;

    #[test]
    fn requantize_rounds_half_to_even_and_clamps_at_0_and_255() {
        assert_eq!(requantize(5, 0.5), 2); // 2.5 → 2
        assert_eq!(requantize(7, 0.5), 4); // 3.5 → 4
        assert_eq!(requantize(-1000, 0.5), 0);
        assert_eq!(requantize(1000, 0.5), 255);
        assert_eq!(requantize(i32::MAX, 1e9), 255);
        assert_eq!(requantize(i32::MIN, 1e9), 0);
        assert_eq!(requantize(509, 0.5), 254); // 254.5 → 254
    }

    #[test]
    fn reference_of_a_hand_computed_layer() {
        // 1 image, Cin 2, 1×2 pixels, Cout 1: acc = 10 + [3·1 + (−2)·4, 3·2 + (−2)·5] = [5, 6].
        let p: QConv1x1Problem = "1x2x1x2:1,u8s8".parse().unwrap();
        let layer = QLayer { weights: vec![3, -2], bias: vec![10], multipliers: vec![0.5] };
        layer.check(&p, WeightRange::SevenBit).unwrap();
        let e = qconv1x1(&p, &[1, 2, 4, 5], &layer);
        assert_eq!(e.acc, [5, 6]);
        assert_eq!(e.out, [2, 3]); // 2.5 → 2, 3.0 → 3
        let nhwc: QConv1x1Problem = "1x2x1x2:1,u8s8,nhwc".parse().unwrap();
        assert_eq!(qconv1x1(&nhwc, &[1, 4, 2, 5], &layer).acc, [5, 6]);
    }

    #[test]
    fn seeded_layers_pass_their_checks_and_outputs_use_the_u8_range() {
        let p: QConv1x1Problem = "1x96x12x12:64,u8s8".parse().unwrap();
        for range in [WeightRange::Full, WeightRange::SevenBit] {
            let layer = QLayer::seeded(&p, range, 3);
            layer.check(&p, range).unwrap();
            let e = qconv1x1(&p, &seeded_activations(p.conv().input_len(), 4), &layer);
            let zeros = e.out.iter().filter(|&&v| v == 0).count();
            let full = e.out.iter().filter(|&&v| v == 255).count();
            assert!(zeros < e.out.len() / 2 && full < e.out.len() / 10, "{range:?}: {zeros} zeros, {full} at 255");
        }
        let wide = QLayer::seeded(&p, WeightRange::Full, 3);
        assert!(wide.check(&p, WeightRange::SevenBit).unwrap_err().to_string().contains("-64 to 63"));
    }

    #[test]
    fn gap_reference_sums_and_averages() {
        let p: QGapProblem = "1x2x1x3,u8".parse().unwrap();
        let (sums, out) = qgap(&p, &[1, 2, 4, 250, 251, 252], super::super::gap_multiplier(&p));
        assert_eq!(sums, [7, 753]);
        assert_eq!(out, [2, 251]); // 7/3 = 2.33 → 2; 753/3 = 251
    }
}
