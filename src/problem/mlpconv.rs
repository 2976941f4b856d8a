//! Chains of 1×1 convolutions (NIN's micro-networks and heads).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{NinError, Result, shorten};
use crate::tensor::Layout;

use super::conv1x1::{Conv1x1Problem, Conv1x1Shape};
use super::gap::GapProblem;
use super::parse::*;

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
