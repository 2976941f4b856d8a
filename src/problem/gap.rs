//! Global average pooling problems.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{NinError, Result, shorten};
use crate::tensor::Layout;

use super::parse::*;

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
