//! 1×1 convolution problems.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{NinError, Result, shorten};
use crate::tensor::Layout;

use super::parse::*;

/// The raw description of a 1×1 convolution, before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Conv1x1Shape {
    /// Batch size.
    pub n: usize,
    /// Input channels (the reduction length of each output).
    pub cin: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels (number of 1×1 filters).
    pub cout: usize,
    /// Spatial stride (1 = every pixel). No padding: a 1×1 window never needs any.
    pub stride: usize,
    /// Whether a per-output-channel bias is added.
    pub bias: bool,
    /// Whether ReLU is applied after the bias (fused epilogue).
    pub relu: bool,
    /// Layout of both input and output.
    pub layout: Layout,
}

impl Conv1x1Shape {
    /// A stride-1 NCHW problem with bias and without ReLU.
    pub fn new(n: usize, cin: usize, h: usize, w: usize, cout: usize) -> Self {
        Self { n, cin, h, w, cout, stride: 1, bias: true, relu: false, layout: Layout::Nchw }
    }
}

/// A validated 1×1 convolution problem: `Y[n, co, p] = bias[co] + Σ_ci W[co, ci] · X[n, ci, s·p]`,
/// then ReLU if asked.
///
/// Weights are always given as Cout×Cin row-major (PyTorch's Cout×Cin×1×1 flattened); bias as
/// Cout values. Input is N×Cin×H×W and output N×Cout×Hout×Wout, both in `layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Conv1x1Problem {
    #[serde(flatten)]
    shape: Conv1x1Shape,
    hout: usize,
    wout: usize,
    input_len: usize,
    output_len: usize,
    weights_len: usize,
}

impl Deref for Conv1x1Problem {
    type Target = Conv1x1Shape;
    fn deref(&self) -> &Conv1x1Shape {
        &self.shape
    }
}

impl Conv1x1Problem {
    /// Validates `shape`: every dimension and the stride at least 1, every buffer length
    /// representable.
    pub fn new(shape: Conv1x1Shape) -> Result<Self> {
        let Conv1x1Shape { n, cin, h, w, cout, stride, .. } = shape;
        check_nonzero(&[("N", n), ("C", cin), ("H", h), ("W", w), ("K", cout), ("stride", stride)])?;
        let hout = (h - 1) / stride + 1;
        let wout = (w - 1) / stride + 1;
        let input_len = checked_len(&[n, cin, h, w], "N·C·H·W (input)")?;
        let output_len = checked_len(&[n, cout, hout, wout], "N·K·Hout·Wout (output)")?;
        let weights_len = checked_len(&[cout, cin], "K·C (weights)")?;
        // FLOPs are counted in u64 and must fit as well.
        checked_len(&[n, cout, cin, hout, wout, 2], "2·N·K·C·Hout·Wout (FLOPs)")?;
        Ok(Self { shape, hout, wout, input_len, output_len, weights_len })
    }

    /// The unvalidated description this problem was built from.
    pub fn shape(&self) -> Conv1x1Shape {
        self.shape
    }

    /// Output height: `(H - 1) / stride + 1`.
    pub fn hout(&self) -> usize {
        self.hout
    }

    /// Output width: `(W - 1) / stride + 1`.
    pub fn wout(&self) -> usize {
        self.wout
    }

    /// Output pixels per image.
    pub fn pixels_out(&self) -> usize {
        self.hout * self.wout
    }

    /// Input pixels per image.
    pub fn pixels_in(&self) -> usize {
        self.h * self.w
    }

    /// Elements of the input tensor.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Elements of the output tensor.
    pub fn output_len(&self) -> usize {
        self.output_len
    }

    /// Elements of the weight matrix (Cout×Cin).
    pub fn weights_len(&self) -> usize {
        self.weights_len
    }

    /// Elements of the bias vector (Cout when the problem has bias, else 0).
    pub fn bias_len(&self) -> usize {
        if self.bias { self.cout } else { 0 }
    }

    /// Dimensions of the input as `[N, C, H, W]`.
    pub fn input_dims(&self) -> [usize; 4] {
        [self.n, self.cin, self.h, self.w]
    }

    /// Dimensions of the output as `[N, K, Hout, Wout]`.
    pub fn output_dims(&self) -> [usize; 4] {
        [self.n, self.cout, self.hout, self.wout]
    }

    /// Offset, in pixels within one input image, of output pixel `q` (row-major over
    /// Hout×Wout): `(q / Wout)·stride·W + (q % Wout)·stride`.
    #[inline]
    pub fn input_pixel(&self, q: usize) -> usize {
        (q / self.wout) * self.stride * self.w + (q % self.wout) * self.stride
    }

    /// Floating-point operations of the multiply-accumulates: `2·N·Cout·Cin·Hout·Wout`.
    /// Bias and ReLU are not counted (they are O(output), not O(output·Cin)).
    pub fn flops(&self) -> u64 {
        2 * [self.n, self.cout, self.cin, self.hout, self.wout].iter().map(|&d| d as u64).product::<u64>()
    }

    /// Same problem with another layout.
    pub fn with_layout(&self, layout: Layout) -> Self {
        Self { shape: Conv1x1Shape { layout, ..self.shape }, ..*self }
    }

    /// Checks the lengths of caller buffers against this problem.
    pub fn check_buffers(&self, input: usize, output: usize) -> Result<()> {
        self.check_len("input", self.input_len, input)?;
        self.check_len("output", self.output_len, output)
    }

    /// Checks weights (and bias) against this problem.
    pub fn check_weights(&self, weights: usize, bias: Option<usize>) -> Result<()> {
        self.check_len("weights", self.weights_len, weights)?;
        match (self.bias, bias) {
            (true, None) => {
                Err(NinError::Bias { problem: self.to_string(), reason: "the problem has bias but none was given" })
            }
            (false, Some(_)) => {
                Err(NinError::Bias { problem: self.to_string(), reason: "a bias was given to a problem marked nobias" })
            }
            (true, Some(len)) => self.check_len("bias", self.cout, len),
            (false, None) => Ok(()),
        }
    }

    fn check_len(&self, what: &'static str, expected: usize, actual: usize) -> Result<()> {
        if expected == actual {
            Ok(())
        } else {
            Err(NinError::BufferLength { what, problem: self.to_string(), expected, actual })
        }
    }
}

impl fmt::Display for Conv1x1Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}x{}:{}", self.n, self.cin, self.h, self.w, self.cout)?;
        if self.stride != 1 {
            write!(f, ",s{}", self.stride)?;
        }
        if self.relu {
            f.write_str(",relu")?;
        }
        if !self.bias {
            f.write_str(",nobias")?;
        }
        if self.layout == Layout::Nhwc {
            f.write_str(",nhwc")?;
        }
        Ok(())
    }
}

impl FromStr for Conv1x1Problem {
    type Err = NinError;

    fn from_str(input: &str) -> Result<Self> {
        let s = input.trim();
        let (dims, rest) = s
            .split_once(':')
            .ok_or_else(|| parse_error(input, "missing ':K' (the number of output channels)", CONV_FORMAT))?;
        let [n, cin, h, w] = parse_dims(input, dims, CONV_FORMAT)?;
        let mut flags = rest.split(',');
        let cout_str = flags.next().unwrap_or_default().trim();
        let cout = cout_str.parse().map_err(|_| {
            parse_error(input, format!("K = '{}' is not a non-negative integer", shorten(cout_str)), CONV_FORMAT)
        })?;
        let mut shape = Conv1x1Shape::new(n, cin, h, w, cout);
        let mut seen = SeenFlags::new(input, CONV_FORMAT);
        for flag in flags.map(str::trim) {
            match flag {
                "relu" => {
                    seen.claim("activation", flag)?;
                    shape.relu = true;
                }
                "nobias" => {
                    seen.claim("bias", flag)?;
                    shape.bias = false;
                }
                "nhwc" => {
                    seen.claim("layout", flag)?;
                    shape.layout = Layout::Nhwc;
                }
                "nchw" => {
                    seen.claim("layout", flag)?;
                    shape.layout = Layout::Nchw;
                }
                _ if flag.starts_with('s') && flag.len() > 1 => {
                    seen.claim("stride", flag)?;
                    shape.stride = flag[1..].parse().map_err(|_| {
                        parse_error(input, format!("stride flag '{}' is not s<integer>", shorten(flag)), CONV_FORMAT)
                    })?;
                }
                _ => {
                    return Err(parse_error(
                        input,
                        format!("unknown flag '{}' (flags: sS, relu, nobias, nhwc)", shorten(flag)),
                        CONV_FORMAT,
                    ));
                }
            }
        }
        Conv1x1Problem::new(shape)
    }
}
