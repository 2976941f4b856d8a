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

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{NinError, Result, shorten};
use crate::tensor::Layout;

const CONV_FORMAT: &str = "NxCxHxW:K[,sS][,relu][,nobias][,nhwc], e.g. 1x192x28x28:32,relu";
const GAP_FORMAT: &str = "NxCxHxW[,nhwc], e.g. 1x1000x6x6";
const MLPCONV_FORMAT: &str = "NxCxHxW:K1:K2[:K3...][,gap] or NxCxHxW:K,gap, e.g. 1x192x32x32:160:96";

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

/// `a · b · ...` with overflow reported as an error, also checking that the byte size of an f32
/// buffer of that length fits in `isize` (the limit Rust places on any allocation).
fn checked_len(dims: &[usize], what: &'static str) -> Result<usize> {
    let len = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match len {
        Some(len) if len.checked_mul(4).is_some_and(|b| b <= isize::MAX as usize) => Ok(len),
        _ => Err(NinError::Overflow { what }),
    }
}

/// The first `(what, expected, actual)` length that differs, as an error naming `problem`.
fn check_lengths(problem: &dyn fmt::Display, lengths: [(&'static str, usize, usize); 2]) -> Result<()> {
    match lengths.into_iter().find(|(_, expected, actual)| expected != actual) {
        Some((what, expected, actual)) => {
            Err(NinError::BufferLength { what, problem: problem.to_string(), expected, actual })
        }
        None => Ok(()),
    }
}

fn check_nonzero(dims: &[(&'static str, usize)]) -> Result<()> {
    match dims.iter().find(|(_, v)| *v == 0) {
        Some((name, _)) => Err(NinError::ZeroDimension { name }),
        None => Ok(()),
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

fn parse_error(input: &str, reason: impl Into<String>, expected: &'static str) -> NinError {
    NinError::Parse { input: shorten(input), reason: reason.into(), expected }
}

/// The flags of one problem string seen so far, by the setting each one sets: a second flag
/// for the same setting is an error naming both, so that a string has one meaning (`s2,s3`
/// and `relu,relu` are refused, not resolved by the last one).
struct SeenFlags<'a> {
    input: &'a str,
    expected: &'static str,
    seen: Vec<(&'static str, &'a str)>,
}

impl<'a> SeenFlags<'a> {
    fn new(input: &'a str, expected: &'static str) -> Self {
        Self { input, expected, seen: Vec::new() }
    }

    /// Records that `flag` sets `setting`; an error if another flag already did.
    fn claim(&mut self, setting: &'static str, flag: &'a str) -> Result<()> {
        if let Some((_, first)) = self.seen.iter().find(|(s, _)| *s == setting) {
            let reason = if *first == flag {
                format!("flag '{}' is given twice", shorten(flag))
            } else {
                format!("flags '{}' and '{}' both set the {setting}", shorten(first), shorten(flag))
            };
            return Err(parse_error(self.input, reason, self.expected));
        }
        self.seen.push((setting, flag));
        Ok(())
    }
}

/// Parses `NxCxHxW` into four dimensions.
fn parse_dims(input: &str, dims: &str, expected: &'static str) -> Result<[usize; 4]> {
    let parts: Vec<&str> = dims.split('x').collect();
    if parts.len() != 4 {
        return Err(parse_error(
            input,
            format!("'{}' has {} dimensions, not 4 (N, C, H, W)", shorten(dims), parts.len()),
            expected,
        ));
    }
    let mut out = [0usize; 4];
    for (slot, (part, name)) in out.iter_mut().zip(parts.iter().zip(["N", "C", "H", "W"])) {
        *slot = part.trim().parse().map_err(|_| {
            parse_error(input, format!("{name} = '{}' is not a non-negative integer", shorten(part)), expected)
        })?;
    }
    Ok(out)
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

/// A validated global average pooling problem: `Y[n, c] = mean over (h, w) of X[n, c, h, w]`.
///
/// Input N×C×H×W in `layout`; output N×C (the same for both layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct GapProblem {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Map height.
    pub h: usize,
    /// Map width.
    pub w: usize,
    /// Layout of the input.
    pub layout: Layout,
    #[serde(skip)]
    input_len: usize,
}

impl GapProblem {
    /// Validates an N×C×H×W pooling problem.
    pub fn new(n: usize, c: usize, h: usize, w: usize, layout: Layout) -> Result<Self> {
        check_nonzero(&[("N", n), ("C", c), ("H", h), ("W", w)])?;
        let input_len = checked_len(&[n, c, h, w], "N·C·H·W (input)")?;
        Ok(Self { n, c, h, w, layout, input_len })
    }

    /// Pixels averaged per output.
    pub fn pixels(&self) -> usize {
        self.h * self.w
    }

    /// Elements of the input tensor.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Elements of the output (N×C).
    pub fn output_len(&self) -> usize {
        self.n * self.c
    }

    /// Dimensions of the input as `[N, C, H, W]`.
    pub fn input_dims(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }

    /// Bytes a kernel must move: the input read once plus the output written once.
    pub fn bytes(&self) -> u64 {
        4 * (self.input_len as u64 + self.output_len() as u64)
    }

    /// Same problem with another layout.
    pub fn with_layout(&self, layout: Layout) -> Self {
        Self { layout, ..*self }
    }

    /// Checks the lengths of caller buffers against this problem.
    pub fn check_buffers(&self, input: usize, output: usize) -> Result<()> {
        check_lengths(self, [("input", self.input_len, input), ("output", self.output_len(), output)])
    }
}

impl fmt::Display for GapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}x{}", self.n, self.c, self.h, self.w)?;
        if self.layout == Layout::Nhwc {
            f.write_str(",nhwc")?;
        }
        Ok(())
    }
}

impl FromStr for GapProblem {
    type Err = NinError;

    fn from_str(input: &str) -> Result<Self> {
        let s = input.trim();
        let mut parts = s.split(',');
        let dims = parts.next().unwrap_or_default();
        if dims.contains(':') {
            return Err(parse_error(input, "':K' belongs to 1x1 convolution problems, not GAP", GAP_FORMAT));
        }
        let [n, c, h, w] = parse_dims(input, dims, GAP_FORMAT)?;
        let mut layout = Layout::Nchw;
        let mut seen = SeenFlags::new(input, GAP_FORMAT);
        for flag in parts.map(str::trim) {
            match flag {
                "nhwc" => {
                    seen.claim("layout", flag)?;
                    layout = Layout::Nhwc;
                }
                "nchw" => {
                    seen.claim("layout", flag)?;
                    layout = Layout::Nchw;
                }
                _ => {
                    return Err(parse_error(
                        input,
                        format!("unknown flag '{}' (GAP takes only nhwc)", shorten(flag)),
                        GAP_FORMAT,
                    ));
                }
            }
        }
        GapProblem::new(n, c, h, w, layout)
    }
}

/// Most 1×1 layers one [`MlpconvProblem`] chains (NIN's micro-networks have two after their
/// spatial convolution; four leaves room for deeper ones while the problem stays `Copy`).
pub const MAX_MLPCONV_LAYERS: usize = 4;

/// A validated chain of 1×1 convolutions, each with bias and ReLU, optionally followed by
/// global average pooling: NIN's micro-network ("mlpconv") and its classifier head.
///
/// Layer `i` maps `widths[i-1]` channels (the input's C for the first) to `widths[i]`, on the
/// same H×W map at stride 1, NCHW. Weights of layer `i` are `widths[i]×widths[i-1]` row-major
/// and its bias `widths[i]` values. The output is N×K×H×W (K the last width), or N×K with
/// `gap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MlpconvProblem {
    /// Batch size.
    pub n: usize,
    /// Input channels of the first layer.
    pub cin: usize,
    /// Map height.
    pub h: usize,
    /// Map width.
    pub w: usize,
    /// Output channels of each layer; only the first `depth` are used.
    widths: [usize; MAX_MLPCONV_LAYERS],
    depth: usize,
    /// Whether the chain ends in global average pooling (the fused head).
    pub gap: bool,
}

impl MlpconvProblem {
    /// Validates a chain: every dimension at least 1, 1 to [`MAX_MLPCONV_LAYERS`] layers (at
    /// least 2 without `gap`: a single layer is a plain 1×1 convolution), every buffer
    /// representable.
    pub fn new(n: usize, cin: usize, h: usize, w: usize, widths: &[usize], gap: bool) -> Result<Self> {
        check_nonzero(&[("N", n), ("C", cin), ("H", h), ("W", w)])?;
        let min_depth = if gap { 1 } else { 2 };
        if widths.len() < min_depth || widths.len() > MAX_MLPCONV_LAYERS {
            return Err(NinError::Shape {
                what: "mlpconv chain".into(),
                reason: format!(
                    "{} layers; a chain has {min_depth} to {MAX_MLPCONV_LAYERS}{}",
                    widths.len(),
                    if gap { "" } else { " (one layer without gap is a plain 1x1 convolution)" }
                ),
            });
        }
        if widths.contains(&0) {
            return Err(NinError::ZeroDimension { name: "K" });
        }
        let mut padded = [0; MAX_MLPCONV_LAYERS];
        padded[..widths.len()].copy_from_slice(widths);
        let p = Self { n, cin, h, w, widths: padded, depth: widths.len(), gap };
        checked_len(&[n, cin, h, w], "N·C·H·W (input)")?;
        let mut flops = 0u64;
        for layer in p.layers() {
            let layer = layer?;
            flops = flops.checked_add(layer.flops()).ok_or(NinError::Overflow { what: "FLOPs of the chain" })?;
        }
        Ok(p)
    }

    /// Output channels of each layer, first to last.
    pub fn widths(&self) -> &[usize] {
        &self.widths[..self.depth]
    }

    /// Output channels of the last layer (the classes of a head).
    pub fn cout(&self) -> usize {
        self.widths[self.depth - 1]
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.h * self.w
    }

    /// Each layer as the plain 1×1 convolution it is (stride 1, bias, ReLU, NCHW), in order.
    /// The unfused chain runs exactly these.
    pub fn layers(&self) -> impl Iterator<Item = Result<Conv1x1Problem>> + '_ {
        let inputs = std::iter::once(self.cin).chain(self.widths().iter().copied());
        inputs.zip(self.widths()).map(|(cin, &cout)| {
            Conv1x1Problem::new(Conv1x1Shape { relu: true, ..Conv1x1Shape::new(self.n, cin, self.h, self.w, cout) })
        })
    }

    /// Layer `i` (validated when the chain was).
    pub fn layer(&self, i: usize) -> Conv1x1Problem {
        self.layers().nth(i).expect("layer index within the chain").expect("layers validated by new")
    }

    /// The pooling that ends the chain, if it has one: N×K×H×W.
    pub fn gap_problem(&self) -> Option<GapProblem> {
        self.gap.then(|| GapProblem::new(self.n, self.cout(), self.h, self.w, Layout::Nchw).expect("validated"))
    }

    /// Elements of the input tensor (N×C×H×W).
    pub fn input_len(&self) -> usize {
        self.n * self.cin * self.pixels()
    }

    /// Elements of the output: N×K, or N×K×H×W without `gap`.
    pub fn output_len(&self) -> usize {
        if self.gap { self.n * self.cout() } else { self.n * self.cout() * self.pixels() }
    }

    /// Weight elements of each layer (`widths[i]×widths[i-1]`).
    pub fn weights_lens(&self) -> Vec<usize> {
        self.layers().map(|l| l.map_or(0, |l| l.weights_len())).collect()
    }

    /// FLOPs of the multiply-accumulates of every layer, `Σ 2·N·Kᵢ·Cᵢ·H·W`. Bias, ReLU and
    /// the pooling adds are not counted, as for a single convolution.
    pub fn flops(&self) -> u64 {
        self.layers().map(|l| l.map_or(0, |l| l.flops())).sum()
    }

    /// Bytes the chain must move at least: input, every layer's weights and bias, output.
    pub fn bytes(&self) -> u64 {
        let params: usize = self.layers().map(|l| l.map_or(0, |l| l.weights_len() + l.bias_len())).sum();
        4 * (self.input_len() + params + self.output_len()) as u64
    }

    /// Checks the lengths of caller buffers against this problem.
    pub fn check_buffers(&self, input: usize, output: usize) -> Result<()> {
        check_lengths(self, [("input", self.input_len(), input), ("output", self.output_len(), output)])
    }

    /// Checks every layer's weights and bias (one slice each, in layer order).
    pub fn check_weights(&self, weights: &[&[f32]], biases: &[&[f32]]) -> Result<()> {
        for (what, given) in [("weight matrices", weights.len()), ("bias vectors", biases.len())] {
            if given != self.depth {
                return Err(NinError::Shape {
                    what: format!("{what} of {self}"),
                    reason: format!("{given} given, the chain has {} layers", self.depth),
                });
            }
        }
        for ((layer, w), b) in self.layers().zip(weights).zip(biases) {
            layer?.check_weights(w.len(), Some(b.len()))?;
        }
        Ok(())
    }
}

impl Serialize for MlpconvProblem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("MlpconvProblem", 6)?;
        st.serialize_field("n", &self.n)?;
        st.serialize_field("cin", &self.cin)?;
        st.serialize_field("h", &self.h)?;
        st.serialize_field("w", &self.w)?;
        st.serialize_field("widths", self.widths())?;
        st.serialize_field("gap", &self.gap)?;
        st.end()
    }
}

impl fmt::Display for MlpconvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}x{}", self.n, self.cin, self.h, self.w)?;
        for k in self.widths() {
            write!(f, ":{k}")?;
        }
        if self.gap {
            f.write_str(",gap")?;
        }
        Ok(())
    }
}

impl FromStr for MlpconvProblem {
    type Err = NinError;

    fn from_str(input: &str) -> Result<Self> {
        let s = input.trim();
        let mut parts = s.split(',');
        let chain = parts.next().unwrap_or_default();
        let mut links = chain.split(':');
        let [n, cin, h, w] = parse_dims(input, links.next().unwrap_or_default(), MLPCONV_FORMAT)?;
        let widths = links
            .map(|k| {
                let k = k.trim();
                k.parse().map_err(|_| {
                    parse_error(input, format!("K = '{}' is not a non-negative integer", shorten(k)), MLPCONV_FORMAT)
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        let mut gap = false;
        let mut seen = SeenFlags::new(input, MLPCONV_FORMAT);
        for flag in parts.map(str::trim) {
            match flag {
                "gap" => {
                    seen.claim("pooling", flag)?;
                    gap = true;
                }
                "nchw" => seen.claim("layout", flag)?,
                _ => {
                    return Err(parse_error(
                        input,
                        format!(
                            "unknown flag '{}' (a chain takes only gap; every layer has bias and ReLU, NCHW)",
                            shorten(flag)
                        ),
                        MLPCONV_FORMAT,
                    ));
                }
            }
        }
        MlpconvProblem::new(n, cin, h, w, &widths, gap).map_err(|e| match e {
            NinError::Shape { reason, .. } => parse_error(input, reason, MLPCONV_FORMAT),
            other => other,
        })
    }
}

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
}

impl Problem {
    /// The operation, as in [`crate::KernelInfo::op`].
    pub fn op(&self) -> crate::Op {
        match self {
            Problem::Conv1x1(_) => crate::Op::Conv1x1,
            Problem::Gap(_) => crate::Op::Gap,
            Problem::Mlpconv(_) => crate::Op::Mlpconv,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Conv1x1(p) => p.fmt(f),
            Problem::Gap(p) => p.fmt(f),
            Problem::Mlpconv(p) => p.fmt(f),
        }
    }
}

impl FromStr for Problem {
    type Err = NinError;

    fn from_str(s: &str) -> Result<Self> {
        let is_chain = s.matches(':').count() > 1 || s.split(',').skip(1).any(|flag| flag.trim() == "gap");
        if is_chain {
            s.parse().map(Problem::Mlpconv)
        } else if s.contains(':') {
            s.parse().map(Problem::Conv1x1)
        } else {
            s.parse().map(Problem::Gap)
        }
    }
}

/// The problem strings of a shape file with their 1-based line numbers: one problem per line,
/// `#` starts a comment, blank lines are ignored.
pub fn shape_file_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or_default().trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

/// Parses every problem of a shape file; an error names the line.
pub fn parse_shape_file<P: FromStr<Err = NinError>>(text: &str) -> Result<Vec<P>> {
    shape_file_lines(text)
        .map(|(line_no, line)| {
            line.parse().map_err(|e| match e {
                NinError::Parse { input, reason, expected } => {
                    NinError::Parse { input, reason: format!("line {line_no}: {reason}"), expected }
                }
                other => other,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
