//! The f64 reference of every stage of a forward pass, and the bound an f32 implementation of
//! it stays within, given the f32 input the implementation actually read.
//!
//! Bounds (u = 2⁻²⁴, γ_n = n·u/(1 − n·u), as in [`crate::reference`]):
//! - convolution and FC: a sum of K products and the bias, `γ_{K+1}·(Σ|w·x| + |b|)` with K the
//!   reduction length (a group's channels × the window, or the FC's inputs); ReLU keeps it;
//! - a chain of 1×1 convolutions: [`crate::reference::mlpconv`], which carries each layer's
//!   bound through the next; a single 1×1: [`crate::reference::conv1x1`]; GAP:
//!   [`crate::reference::gap`];
//! - max pooling, ReLU and the identity: exact (bound 0);
//! - average pooling: n − 1 additions and one division, `γ_{n+1}·Σ|x| / divisor`;
//! - LRN, `y = x·s^(−β)` with `s = k + α/size·Σx²`: the sum of `size` squares is a dot product
//!   (γ_size), the scale by α/size (rounded once itself) and the addition of k ≥ 1 add three
//!   roundings, so s is within γ_{size+3} relative; since 0 < β < 1, s^(−β) is within
//!   β·γ_{size+3} ≤ γ_{size+3}, plus powf's own error (under 1 ulp in glibc's; 2 ulp = 4u
//!   allowed), plus the final product's u: `γ_{size+8}·|y|`;
//! - softmax, `p_i = e^{z_i − m} / Σ e^{z_j − m}`: the subtraction errs by at most `u·|z_i − m|`,
//!   which the exponential turns into a relative factor within `e^{u·|z_i − m|}`; expf (under
//!   1 ulp, 2 allowed), the n-term sum and the division add γ_{n+4}. With `d = u·max|z − m|`
//!   (numerator and denominator each): `(e^{2d}·(1 + γ_{n+4}) − 1)·p_i`.

use super::ops::{ConvGeometry, LRN_ALPHA, LRN_BETA, LRN_K, Pooling};
use super::{Network, NetworkWeights, Stage, StageOp};
use crate::reference::{F32_UNIT_ROUNDOFF, Reference, gamma};

/// The reference of `stage` of `net` on `input` (its batch input, f32, as the implementation
/// read it).
pub fn stage(net: &Network, stage: &Stage, weights: &NetworkWeights, input: &[f32]) -> Reference {
    let [c, h, w] = stage.input;
    let hw = h * w;
    let first = stage.layers.start;
    match &stage.op {
        StageOp::Spatial(conv) => {
            let lw = weights.layer(first);
            conv2d(conv.geometry(), input, &lw.weights, &lw.bias, stage.layers.len() == 2)
        }
        StageOp::Pointwise { problem, .. } => {
            let lw = weights.layer(first);
            crate::reference::conv1x1(problem, input, &lw.weights, Some(&lw.bias))
        }
        StageOp::Chain { problem, .. } => {
            let ws: Vec<&[f32]> =
                (0..problem.widths().len()).map(|l| &weights.layer(first + 2 * l).weights[..]).collect();
            let bs: Vec<&[f32]> = (0..problem.widths().len()).map(|l| &weights.layer(first + 2 * l).bias[..]).collect();
            crate::reference::mlpconv(problem, input, &ws, &bs)
        }
        StageOp::Gap { problem, .. } => crate::reference::gap(problem, input),
        StageOp::Fc(fc) => {
            let lw = weights.layer(first);
            fully_connected(
                fc.outputs(),
                input.len() / net.batch,
                input,
                &lw.weights,
                &lw.bias,
                stage.layers.len() == 2,
            )
        }
        StageOp::Pool(pool) => pooling(pool, input),
        StageOp::Lrn { size } => lrn(c, hw, *size, input),
        StageOp::Softmax => softmax(c, hw, input),
        StageOp::Relu => exact(input.iter().map(|&x| (x as f64).max(0.0)).collect()),
        StageOp::Identity => exact(input.iter().map(|&x| x as f64).collect()),
    }
}

fn exact(values: Vec<f64>) -> Reference {
    Reference { bounds: vec![0.0; values.len()], values }
}

/// A sum's value and its bound: `γ_{terms}·magnitude`, with a margin of `terms` times the
/// smallest subnormal for products that underflow.
fn summed(value: f64, magnitude: f64, terms: usize) -> (f64, f64) {
    (value, gamma(terms) * magnitude + terms as f64 * f64::from(f32::from_bits(1)))
}

fn relu_if(relu: bool, v: f64) -> f64 {
    if relu && v < 0.0 { 0.0 } else { v }
}

/// Convolution with groups, stride and zero padding (OIHW weights), bias and optional ReLU.
pub fn conv2d(g: &ConvGeometry, input: &[f32], weights: &[f32], bias: &[f32], relu: bool) -> Reference {
    let (hout, wout, k) = (g.hout(), g.wout(), g.kernel);
    let (cin_g, cout_g) = (g.cin_group(), g.cout_group());
    let images = input.len() / (g.cin * g.h * g.w);
    let mut values = Vec::with_capacity(images * g.cout * hout * wout);
    let mut bounds = Vec::with_capacity(values.capacity());
    for n in 0..images {
        for co in 0..g.cout {
            let group = co / cout_g;
            let filter = &weights[co * g.reduction()..][..g.reduction()];
            for oh in 0..hout {
                for ow in 0..wout {
                    let (mut sum, mut magnitude) = (bias[co] as f64, (bias[co] as f64).abs());
                    for ci in 0..cin_g {
                        let plane = &input[(n * g.cin + group * cin_g + ci) * g.h * g.w..][..g.h * g.w];
                        for kh in 0..k {
                            let Some(ih) = (oh * g.stride + kh).checked_sub(g.pad).filter(|&i| i < g.h) else {
                                continue;
                            };
                            for kw in 0..k {
                                let Some(iw) = (ow * g.stride + kw).checked_sub(g.pad).filter(|&i| i < g.w) else {
                                    continue;
                                };
                                let term = filter[(ci * k + kh) * k + kw] as f64 * plane[ih * g.w + iw] as f64;
                                sum += term;
                                magnitude += term.abs();
                            }
                        }
                    }
                    let (v, b) = summed(sum, magnitude, g.reduction() + 1);
                    values.push(relu_if(relu, v));
                    bounds.push(b);
                }
            }
        }
    }
    Reference { values, bounds }
}

/// Fully-connected: `y[n, o] = b[o] + Σ_i w[o, i]·x[n, i]`, optional ReLU.
pub fn fully_connected(
    outputs: usize,
    inputs: usize,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    relu: bool,
) -> Reference {
    let (mut values, mut bounds) = (Vec::new(), Vec::new());
    for x in input.chunks_exact(inputs) {
        for o in 0..outputs {
            let (mut sum, mut magnitude) = (bias[o] as f64, (bias[o] as f64).abs());
            for (&wv, &xv) in weights[o * inputs..][..inputs].iter().zip(x) {
                let term = wv as f64 * xv as f64;
                sum += term;
                magnitude += term.abs();
            }
            let (v, b) = summed(sum, magnitude, inputs + 1);
            values.push(relu_if(relu, v));
            bounds.push(b);
        }
    }
    Reference { values, bounds }
}

/// Max or average pooling, windows computed as Caffe's `PoolingLayer::Forward_cpu` does (its
/// signed arithmetic, independent of [`Pooling::window`]): `hstart = oh·stride − pad`,
/// `hend = min(hstart + kernel, h + pad)`, `pool_size = (hend − hstart)·(wend − wstart)`, then
/// both clipped to the map.
pub fn pooling(pool: &Pooling, input: &[f32]) -> Reference {
    let (hout, wout) = (pool.hout(), pool.wout());
    let (k, s, pad) = (pool.kernel as i64, pool.stride as i64, pool.pad as i64);
    let (mut values, mut bounds) = (Vec::new(), Vec::new());
    for plane in input.chunks_exact(pool.h * pool.w) {
        for oh in 0..hout as i64 {
            for ow in 0..wout as i64 {
                let (hstart, wstart) = (oh * s - pad, ow * s - pad);
                let (hend, wend) = ((hstart + k).min(pool.h as i64 + pad), (wstart + k).min(pool.w as i64 + pad));
                let pool_size = ((hend - hstart) * (wend - wstart)) as f64;
                let (hstart, wstart) = (hstart.max(0), wstart.max(0));
                let (hend, wend) = (hend.min(pool.h as i64), wend.min(pool.w as i64));
                let read: Vec<f64> = (hstart..hend)
                    .flat_map(|ih| (wstart..wend).map(move |iw| plane[(ih * pool.w as i64 + iw) as usize] as f64))
                    .collect();
                if pool.average {
                    let magnitude: f64 = read.iter().map(|v| v.abs()).sum::<f64>() / pool_size;
                    let (v, b) = summed(read.iter().sum::<f64>() / pool_size, magnitude, read.len() + 1);
                    values.push(v);
                    bounds.push(b);
                } else {
                    // NaN anywhere in the window makes the maximum NaN.
                    let max = read
                        .iter()
                        .fold(f64::NEG_INFINITY, |m, &v| if m.is_nan() || v.is_nan() { f64::NAN } else { m.max(v) });
                    values.push(max);
                    bounds.push(0.0);
                }
            }
        }
    }
    Reference { values, bounds }
}

/// LRN across channels, Caffe's formula with [`LRN_ALPHA`], [`LRN_BETA`], [`LRN_K`].
pub fn lrn(c: usize, hw: usize, size: usize, input: &[f32]) -> Reference {
    let half = (size - 1) / 2;
    let (mut values, mut bounds) = (Vec::new(), Vec::new());
    for image in input.chunks_exact(c * hw) {
        for ch in 0..c {
            for p in 0..hw {
                let squares: f64 =
                    (ch.saturating_sub(half)..(ch + half + 1).min(c)).map(|j| (image[j * hw + p] as f64).powi(2)).sum();
                let s = LRN_K as f64 + LRN_ALPHA as f64 / size as f64 * squares;
                let y = image[ch * hw + p] as f64 * s.powf(-(LRN_BETA as f64));
                values.push(y);
                bounds.push(gamma(size + 8) * y.abs());
            }
        }
    }
    Reference { values, bounds }
}

/// Softmax across channels at each pixel.
pub fn softmax(c: usize, hw: usize, input: &[f32]) -> Reference {
    let mut values = vec![0.0; input.len()];
    let mut bounds = vec![0.0; input.len()];
    for (start, image) in (0..).step_by(c * hw).zip(input.chunks_exact(c * hw)) {
        for p in 0..hw {
            let z = |ch: usize| image[ch * hw + p] as f64;
            let max = (0..c).map(z).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..c).map(|ch| (z(ch) - max).exp()).sum();
            let spread = (0..c).map(|ch| max - z(ch)).fold(0.0, f64::max);
            let factor = (2.0 * F32_UNIT_ROUNDOFF * spread).exp() * (1.0 + gamma(c + 4)) - 1.0;
            for ch in 0..c {
                let pv = (z(ch) - max).exp() / sum;
                values[start + ch * hw + p] = pv;
                bounds[start + ch * hw + p] = factor * pv;
            }
        }
    }
    Reference { values, bounds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caffe_average_pooling_divides_by_the_clipped_window() {
        // 3×3 input of ones, k2 s2 → ceil((3−2)/2)+1 = 2×2 outputs; the last row and column
        // windows hold 2 and 1 values, and with no padding Caffe divides by those counts.
        let pool = Pooling { c: 1, h: 3, w: 3, kernel: 2, stride: 2, pad: 0, average: true };
        let r = pooling(&pool, &[1.0; 9]);
        assert_eq!(r.values, vec![1.0; 4]);
        // Max pooling of 0..9 reads the same windows.
        let max = Pooling { average: false, ..pool };
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        assert_eq!(pooling(&max, &x).values, vec![4.0, 5.0, 7.0, 8.0]);
    }

    #[test]
    fn conv2d_reference_matches_a_hand_computed_padded_grouped_case() {
        // 2 input channels, 2 groups, 1 output channel each, 3×3 kernel of ones with pad 1 on a
        // 2×2 map: each output sums its group's whole channel (every window covers the map).
        let g = ConvGeometry { cin: 2, h: 2, w: 2, cout: 2, kernel: 3, stride: 1, pad: 1, groups: 2 };
        let x = [1.0, 2.0, 3.0, 4.0, -1.0, -1.0, -1.0, -1.0];
        let r = conv2d(&g, &x, &[1.0; 18], &[0.5, 0.0], true);
        assert_eq!(r.values, vec![10.5, 10.5, 10.5, 10.5, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn softmax_and_lrn_references_match_their_formulas() {
        // Logits 0 and ln 2 (rounded to f32, hence 1e-7): probabilities 1/3 and 2/3.
        let r = softmax(2, 1, &[0.0, 2.0_f32.ln()]);
        assert!((r.values[0] - 1.0 / 3.0).abs() < 1e-7 && (r.values[1] - 2.0 / 3.0).abs() < 1e-7, "{:?}", r.values);
        // One channel, size 5: s = 1 + 1e-4/5·4 for x = 2.
        let l = lrn(1, 1, 5, &[2.0]);
        let expected = 2.0 * (1.0 + LRN_ALPHA as f64 / 5.0 * 4.0).powf(-0.75);
        assert!((l.values[0] - expected).abs() < 1e-12);
    }
}
