//! The one reference every kernel is checked against, and the error bound it is checked with.
//!
//! Written for obviousness, not speed: f64 accumulation over the problem's own index formulas,
//! knowing nothing of any kernel.
//!
//! # The tolerance
//! A float sum of n terms, in any order and with or without FMA, satisfies
//! `|computed − exact| ≤ γ_n · Σ|termᵢ|` with `γ_n = n·u / (1 − n·u)` and `u = 2⁻²⁴` the unit
//! roundoff of f32 (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1). For a
//! 1×1 convolution output the terms are the Cin products `w·x` and the bias, with at most
//! Cin + 1 roundings on any path, so the bound is `γ_{Cin+1} · (Σ|w·x| + |b|)`. ReLU is
//! 1-Lipschitz and does not widen it. For GAP, the H·W − 1 additions of the sum and the one or
//! two roundings of the scaling by 1/(H·W) give `γ_{HW+1} · Σ|x| / (H·W)`. The f64 reference
//! itself is exact to far below these bounds. A margin of `n` times the smallest subnormal
//! covers products that underflow.

use crate::problem::{Conv1x1Problem, GapProblem, MlpconvProblem};

/// Unit roundoff of f32: half the distance from 1.0 to the next float.
pub const F32_UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

/// `γ_n = n·u / (1 − n·u)`: the relative error bound of an n-term f32 sum.
pub fn gamma(n: usize) -> f64 {
    let nu = n as f64 * F32_UNIT_ROUNDOFF;
    assert!(nu < 0.5, "γ_n is only meaningful for n·u < 1");
    nu / (1.0 - nu)
}

/// Exact-ish outputs and the per-output error bound a correct f32 kernel stays within.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Reference outputs in f64, laid out as the kernel's output.
    pub values: Vec<f64>,
    /// Largest allowed `|kernel − reference|` per output.
    pub bounds: Vec<f64>,
}

/// First output where a kernel disagrees with the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Flat index into the output.
    pub index: usize,
    /// The kernel's value.
    pub got: f32,
    /// The reference value.
    pub expected: f64,
    /// The allowed error there.
    pub bound: f64,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "output[{}] = {:e}, reference {:e}, |diff| {:e} > bound {:e}",
            self.index,
            self.got,
            self.expected,
            (self.got as f64 - self.expected).abs(),
            self.bound
        )
    }
}

impl Reference {
    /// Checks `got` output by output. NaN must be NaN where the reference is NaN, an infinity
    /// the same infinity, and finite values within the bound.
    pub fn check(&self, got: &[f32]) -> Result<(), Mismatch> {
        assert_eq!(got.len(), self.values.len(), "output length differs from the reference");
        for (index, ((&g, &expected), &bound)) in got.iter().zip(&self.values).zip(&self.bounds).enumerate() {
            let ok = if expected.is_nan() {
                g.is_nan()
            } else if expected.is_infinite() {
                g as f64 == expected
            } else {
                (g as f64 - expected).abs() <= bound
            };
            if !ok {
                return Err(Mismatch { index, got: g, expected, bound });
            }
        }
        Ok(())
    }
}

impl Reference {
    /// The largest `|got − reference| / bound` over the finite outputs: below 1 passes, and
    /// how far below says how much of the error budget a kernel uses.
    pub fn worst_ratio(&self, got: &[f32]) -> f64 {
        got.iter()
            .zip(&self.values)
            .zip(&self.bounds)
            .filter(|((_, v), _)| v.is_finite())
            .map(|((&g, &v), &b)| if b > 0.0 { (g as f64 - v).abs() / b } else { 0.0 })
            .fold(0.0, f64::max)
    }
}

/// Adds bias and ReLU to a reference computed for the same problem without them (as the GEMM
/// peers compute it), exactly as [`conv1x1`] would have: the value becomes `relu(v + b)` and
/// the bound grows by `γ_{Cin+1}·|b|` (the bound is linear in Σ|terms|).
pub fn conv1x1_with_epilogue(p: &Conv1x1Problem, without: &Reference, bias: Option<&[f32]>) -> Reference {
    let out_dims = p.output_dims();
    let mut r = without.clone();
    for n in 0..p.n {
        for co in 0..p.cout {
            let b = bias.map_or(0.0, |b| b[co] as f64);
            for oh in 0..p.hout() {
                for ow in 0..p.wout() {
                    let at = p.layout.index(out_dims, n, co, oh, ow);
                    let v = r.values[at] + b;
                    r.values[at] = if p.relu && v < 0.0 { 0.0 } else { v };
                    r.bounds[at] += gamma(p.cin + 1) * b.abs();
                }
            }
        }
    }
    r
}

fn bound(terms: usize, magnitude: f64) -> f64 {
    gamma(terms) * magnitude + terms as f64 * f64::from(f32::from_bits(1))
}

/// The 1×1 convolution in f64. `weights` is Cout×Cin row-major; `bias` has Cout values when
/// the problem has bias. Panics if lengths do not match (callers build them from `p`).
pub fn conv1x1(p: &Conv1x1Problem, input: &[f32], weights: &[f32], bias: Option<&[f32]>) -> Reference {
    assert_eq!(input.len(), p.input_len());
    assert_eq!(weights.len(), p.weights_len());
    let (in_dims, out_dims) = (p.input_dims(), p.output_dims());
    let mut values = vec![0.0; p.output_len()];
    let mut bounds = vec![0.0; p.output_len()];
    for n in 0..p.n {
        for co in 0..p.cout {
            for oh in 0..p.hout() {
                for ow in 0..p.wout() {
                    let (mut sum, mut magnitude) = (0.0f64, 0.0f64);
                    for ci in 0..p.cin {
                        let x = input[p.layout.index(in_dims, n, ci, oh * p.stride, ow * p.stride)] as f64;
                        let product = weights[co * p.cin + ci] as f64 * x;
                        sum += product;
                        magnitude += product.abs();
                    }
                    if let Some(b) = bias {
                        sum += b[co] as f64;
                        magnitude += (b[co] as f64).abs();
                    }
                    if p.relu {
                        sum = if sum < 0.0 { 0.0 } else { sum };
                    }
                    let at = p.layout.index(out_dims, n, co, oh, ow);
                    values[at] = sum;
                    bounds[at] = bound(p.cin + 1, magnitude);
                }
            }
        }
    }
    Reference { values, bounds }
}

/// Global average pooling in f64; output N×C.
pub fn gap(p: &GapProblem, input: &[f32]) -> Reference {
    assert_eq!(input.len(), p.input_len());
    let dims = p.input_dims();
    let hw = p.pixels() as f64;
    let mut values = Vec::with_capacity(p.output_len());
    let mut bounds = Vec::with_capacity(p.output_len());
    for n in 0..p.n {
        for c in 0..p.c {
            let (mut sum, mut magnitude) = (0.0f64, 0.0f64);
            for h in 0..p.h {
                for w in 0..p.w {
                    let x = input[p.layout.index(dims, n, c, h, w)] as f64;
                    sum += x;
                    magnitude += x.abs();
                }
            }
            values.push(sum / hw);
            bounds.push(bound(p.pixels() + 1, magnitude / hw));
        }
    }
    Reference { values, bounds }
}

/// A chain of 1×1 convolutions with bias and ReLU (and GAP, if the chain has it) in f64.
///
/// The kernel feeds each layer its *own* f32 outputs of the layer before, so the bound carries
/// the error of the previous layer through: if the input of layer ℓ is within `e` of the
/// exact one, its output is within `Σ|w|·e + γ_{C+1}·(Σ|w|·(|v| + e) + |b|)` (the sum's own
/// rounding on the inputs the kernel actually saw), and ReLU, being 1-Lipschitz, keeps it. The
/// final pooling adds `γ_{HW+1}·mean(|v| + e)` to the mean of the carried bounds.
///
/// `weights[ℓ]` is layer ℓ's `Kℓ×Cℓ` matrix and `biases[ℓ]` its `Kℓ` values. Panics if lengths
/// do not match (callers build them from `p`).
pub fn mlpconv(p: &MlpconvProblem, input: &[f32], weights: &[&[f32]], biases: &[&[f32]]) -> Reference {
    assert_eq!(input.len(), p.input_len());
    let hw = p.pixels();
    let mut channels = p.cin;
    let mut values: Vec<f64> = input.iter().map(|&x| x as f64).collect();
    let mut bounds = vec![0.0; input.len()];
    for ((&cout, w), b) in p.widths().iter().zip(weights).zip(biases) {
        assert_eq!((w.len(), b.len()), (cout * channels, cout));
        let mut next_values = vec![0.0; p.n * cout * hw];
        let mut next_bounds = vec![0.0; p.n * cout * hw];
        for n in 0..p.n {
            for co in 0..cout {
                for px in 0..hw {
                    let (mut sum, mut magnitude, mut carried) = (b[co] as f64, (b[co] as f64).abs(), 0.0);
                    for ci in 0..channels {
                        let at = (n * channels + ci) * hw + px;
                        let wv = w[co * channels + ci] as f64;
                        sum += wv * values[at];
                        magnitude += wv.abs() * (values[at].abs() + bounds[at]);
                        carried += wv.abs() * bounds[at];
                    }
                    let at = (n * cout + co) * hw + px;
                    next_values[at] = if sum < 0.0 { 0.0 } else { sum };
                    next_bounds[at] = carried + bound(channels + 1, magnitude);
                }
            }
        }
        (values, bounds, channels) = (next_values, next_bounds, cout);
    }
    if !p.gap {
        return Reference { values, bounds };
    }
    let (mut means, mut mean_bounds) = (Vec::new(), Vec::new());
    for (v, e) in values.chunks_exact(hw).zip(bounds.chunks_exact(hw)) {
        let mean = v.iter().sum::<f64>() / hw as f64;
        let magnitude = v.iter().zip(e).map(|(v, e)| v.abs() + e).sum::<f64>() / hw as f64;
        means.push(mean);
        mean_bounds.push(e.iter().sum::<f64>() / hw as f64 + bound(hw + 1, magnitude));
    }
    Reference { values: means, bounds: mean_bounds }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Layout;

    #[test]
    fn chain_reference_matches_a_hand_computed_case_and_carries_the_bound() {
        // 1 image, 1 channel, 2 pixels; layer 1: 1→2 channels, layer 2: 2→1.
        let p: MlpconvProblem = "1x1x1x2:2:1".parse().unwrap();
        let x = [1.0, -2.0];
        let (w1, b1) = ([2.0, -1.0], [0.5, 0.0]);
        let (w2, b2) = ([1.0, 3.0], [-1.0]);
        let r = mlpconv(&p, &x, &[&w1, &w2], &[&b1, &b2]);
        // pixel 0: layer 1 (2.5, 0 after ReLU of -1), layer 2: 2.5 − 1 = 1.5
        // pixel 1: layer 1 (0 after ReLU of -3.5, 2), layer 2: 6 − 1 = 5
        assert_eq!(r.values, vec![1.5, 5.0]);
        // The second layer's bound includes the first layer's, carried through |w2|.
        let first = conv1x1(&"1x1x1x2:2,relu".parse().unwrap(), &x, &w1, Some(&b1));
        assert!(r.bounds[0] > 1.0 * first.bounds[0] + 3.0 * first.bounds[2]);
        let head: MlpconvProblem = "1x1x1x2:2:1,gap".parse().unwrap();
        assert_eq!(mlpconv(&head, &x, &[&w1, &w2], &[&b1, &b2]).values, vec![3.25]);
    }

    #[test]
    fn conv_reference_matches_a_hand_computed_case() {
        // 1 image, 2 input channels, 1×2 map, 1 output channel, with bias and ReLU.
        let p: Conv1x1Problem = "1x2x1x2:1,relu".parse().unwrap();
        let x = [1.0, -2.0, /* channel 1 */ 3.0, 4.0];
        let w = [0.5, -1.0];
        let r = conv1x1(&p, &x, &w, Some(&[0.25]));
        // pixel 0: 0.5·1 − 1·3 + 0.25 = −2.25 → 0; pixel 1: 0.5·(−2) − 1·4 + 0.25 = −4.75 → 0
        assert_eq!(r.values, vec![0.0, 0.0]);
        let p: Conv1x1Problem = "1x2x1x2:1".parse().unwrap();
        assert_eq!(conv1x1(&p, &x, &[1.0, 2.0], Some(&[0.5])).values, vec![7.5, 6.5]);
    }

    #[test]
    fn conv_reference_honours_stride_and_nhwc() {
        // NHWC 1×1×3×3 map with one channel, stride 2: pixels (0,0), (0,2), (2,0), (2,2).
        let p: Conv1x1Problem = "1x1x3x3:1,s2,nobias,nhwc".parse().unwrap();
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        assert_eq!(conv1x1(&p, &x, &[2.0], None).values, vec![0.0, 4.0, 12.0, 16.0]);
    }

    #[test]
    fn gap_reference_averages_each_channel_in_both_layouts() {
        let nchw = GapProblem::new(1, 2, 1, 2, Layout::Nchw).unwrap();
        assert_eq!(gap(&nchw, &[1.0, 3.0, 10.0, 20.0]).values, vec![2.0, 15.0]);
        let nhwc = nchw.with_layout(Layout::Nhwc);
        assert_eq!(gap(&nhwc, &[1.0, 10.0, 3.0, 20.0]).values, vec![2.0, 15.0]);
    }

    #[test]
    fn check_accepts_within_bound_and_rejects_outside_and_nan() {
        let r = Reference { values: vec![1.0, f64::NAN, f64::INFINITY], bounds: vec![1e-6; 3] };
        assert!(r.check(&[1.0 + 5e-7, f32::NAN, f32::INFINITY]).is_ok());
        assert_eq!(r.check(&[1.0 + 2e-6, f32::NAN, f32::INFINITY]).unwrap_err().index, 0);
        assert_eq!(r.check(&[1.0, 0.0, f32::INFINITY]).unwrap_err().index, 1);
        assert_eq!(r.check(&[1.0, f32::NAN, f32::NEG_INFINITY]).unwrap_err().index, 2);
        assert_eq!(r.check(&[f32::NAN, f32::NAN, f32::INFINITY]).unwrap_err().index, 0);
    }

    #[test]
    fn adding_the_epilogue_afterwards_equals_the_direct_reference() {
        let p: Conv1x1Problem = "2x7x3x4:5,relu,nhwc".parse().unwrap();
        let bare: Conv1x1Problem = "2x7x3x4:5,nobias,nhwc".parse().unwrap();
        let x = crate::tensor::seeded_uniform(p.input_len(), 1);
        let w = crate::tensor::seeded_uniform(p.weights_len(), 2);
        let b = crate::tensor::seeded_uniform(p.cout, 3);
        let direct = conv1x1(&p, &x, &w, Some(&b));
        let derived = conv1x1_with_epilogue(&p, &conv1x1(&bare, &x, &w, None), Some(&b));
        for i in 0..direct.values.len() {
            assert!((direct.values[i] - derived.values[i]).abs() < 1e-12);
            assert!((direct.bounds[i] - derived.bounds[i]).abs() <= 1e-9 * direct.bounds[i]);
        }
    }

    #[test]
    fn gamma_grows_linearly_for_small_n() {
        assert!((gamma(1000) / (1000.0 * F32_UNIT_ROUNDOFF) - 1.0).abs() < 1e-4);
    }
}
