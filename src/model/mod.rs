//! Model accounting: a small layer description with shape inference, and per-layer output
//! shape, parameters, MACs, FLOPs and activation bytes for the models of docs/architecture.md.
//!
//! Counting rules (the same for every model):
//! - params = weights + biases;
//! - MACs count the multiply-accumulates of convolution and fully-connected layers only;
//! - FLOPs = 2·MACs (bias adds, ReLU, pooling, LRN and softmax are not counted: they are O(output), a
//!   few percent at most, and counting conventions for them differ between papers);
//! - activation bytes = the layer's output in fp32.
//!
//! Pooling uses Caffe's ceil rounding, as these models were defined in Caffe:
//! `out = ceil((in + 2·pad − k) / stride) + 1`, minus one when the last window would start in
//! the padding. Convolution uses floor rounding.

pub mod heads;
pub mod zoo;

use serde::Serialize;

use crate::error::{NinError, Result};

/// One layer of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// Convolution with `out` filters of `kernel`×`kernel`, in `groups` groups.
    Conv {
        /// Output channels.
        out: usize,
        /// Square kernel size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        pad: usize,
        /// Channel groups (AlexNet's two-GPU split); 1 for a plain convolution.
        groups: usize,
    },
    /// Max pooling, Caffe ceil rounding.
    MaxPool {
        /// Window.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding.
        pad: usize,
    },
    /// Average pooling, Caffe ceil rounding.
    AvgPool {
        /// Window.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding.
        pad: usize,
    },
    /// Rectified linear unit.
    Relu,
    /// Dropout (identity at inference).
    Dropout,
    /// Local response normalisation across `size` channels.
    Lrn {
        /// Channels in the window.
        size: usize,
    },
    /// Fully-connected layer to `out` outputs (flattens its input).
    FullyConnected {
        /// Outputs.
        out: usize,
    },
    /// Global average pooling: one value per channel.
    GlobalAvgPool,
    /// Softmax across channels, at every pixel (the deploy models' `prob` layer).
    Softmax,
}

impl LayerKind {
    /// Short name used in tables and JSON (`conv`, `max_pool`, `fc`, `gap`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            LayerKind::Conv { .. } => "conv",
            LayerKind::MaxPool { .. } => "max_pool",
            LayerKind::AvgPool { .. } => "avg_pool",
            LayerKind::Relu => "relu",
            LayerKind::Dropout => "dropout",
            LayerKind::Lrn { .. } => "lrn",
            LayerKind::FullyConnected { .. } => "fc",
            LayerKind::GlobalAvgPool => "gap",
            LayerKind::Softmax => "softmax",
        }
    }
}

/// A named layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Name as in the original model definition (`conv1`, `cccp1`, `fc6`, ...).
    pub name: &'static str,
    /// What it computes.
    pub kind: LayerKind,
}

/// A model: an input shape and a chain of layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Name, e.g. `nin-cifar10`.
    pub name: &'static str,
    /// Input as [C, H, W].
    pub input: [usize; 3],
    /// Layers in order.
    pub layers: Vec<Layer>,
}

/// Accounting of one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerStats {
    /// Layer name.
    pub name: &'static str,
    /// Layer kind (`conv`, `fc`, ...).
    pub kind: &'static str,
    /// Output as [C, H, W].
    pub output: [usize; 3],
    /// Weights + biases.
    pub params: u64,
    /// Multiply-accumulates (conv and fc only).
    pub macs: u64,
    /// 2·MACs.
    pub flops: u64,
    /// Output size in fp32 bytes.
    pub activation_bytes: u64,
}

/// Accounting of a whole model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStats {
    /// Model name.
    pub name: &'static str,
    /// Input as [C, H, W].
    pub input: [usize; 3],
    /// Per layer.
    pub layers: Vec<LayerStats>,
    /// Sum of params.
    pub total_params: u64,
    /// Sum of MACs.
    pub total_macs: u64,
    /// Sum of FLOPs.
    pub total_flops: u64,
    /// Parameters in fp32, MiB.
    pub size_mib_fp32: f64,
    /// Sum of the layers' output sizes, fp32 bytes (batch 1).
    pub total_activation_bytes: u64,
}

fn shape_error(model: &str, layer: &str, reason: String) -> NinError {
    NinError::Shape { what: format!("{model}/{layer}"), reason }
}

/// Caffe's pooled size: ceil rounding, and no window that starts inside the right padding.
pub(crate) fn pooled(input: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
    let span = (input + 2 * pad).checked_sub(kernel)?;
    let mut out = span.div_ceil(stride) + 1;
    if pad > 0 && (out - 1) * stride >= input + pad {
        out -= 1;
    }
    Some(out)
}

/// Output shape, params and MACs of one layer on an input of shape `[c, h, w]`.
pub fn layer_stats(model: &str, layer: &Layer, [c, h, w]: [usize; 3]) -> Result<LayerStats> {
    let err = |reason: String| shape_error(model, layer.name, reason);
    let (output, params, macs) = match layer.kind {
        LayerKind::Conv { out, kernel, stride, pad, groups } => {
            if kernel == 0 || stride == 0 || groups == 0 || out == 0 {
                return Err(err("kernel, stride, groups and outputs must be at least 1".into()));
            }
            if c % groups != 0 || out % groups != 0 {
                return Err(err(format!("{c} input and {out} output channels do not split into {groups} groups")));
            }
            let (Some(hs), Some(ws)) = ((h + 2 * pad).checked_sub(kernel), (w + 2 * pad).checked_sub(kernel)) else {
                return Err(err(format!(
                    "{kernel}×{kernel} kernel is larger than the padded {h}×{w} input (pad {pad})"
                )));
            };
            let (ho, wo) = (hs / stride + 1, ws / stride + 1);
            let weights = (out * (c / groups) * kernel * kernel) as u64;
            ([out, ho, wo], weights + out as u64, (ho * wo) as u64 * weights)
        }
        LayerKind::MaxPool { kernel, stride, pad } | LayerKind::AvgPool { kernel, stride, pad } => {
            if kernel == 0 || stride == 0 {
                return Err(err("kernel and stride must be at least 1".into()));
            }
            match (pooled(h, kernel, stride, pad), pooled(w, kernel, stride, pad)) {
                (Some(ho), Some(wo)) => ([c, ho, wo], 0, 0),
                _ => {
                    return Err(err(format!(
                        "{kernel}×{kernel} window is larger than the padded {h}×{w} input (pad {pad})"
                    )));
                }
            }
        }
        LayerKind::Relu | LayerKind::Dropout | LayerKind::Lrn { .. } | LayerKind::Softmax => ([c, h, w], 0, 0),
        LayerKind::FullyConnected { out } => {
            let inputs = (c * h * w) as u64;
            ([out, 1, 1], inputs * out as u64 + out as u64, inputs * out as u64)
        }
        LayerKind::GlobalAvgPool => ([c, 1, 1], 0, 0),
    };
    let activation_bytes = 4 * output.iter().map(|&d| d as u64).product::<u64>();
    Ok(LayerStats {
        name: layer.name,
        kind: layer.kind.name(),
        output,
        params,
        macs,
        flops: 2 * macs,
        activation_bytes,
    })
}

impl Model {
    /// Shape inference and accounting, layer by layer; an error names the first impossible
    /// layer.
    pub fn stats(&self) -> Result<ModelStats> {
        let mut shape = self.input;
        let mut layers = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let s = layer_stats(self.name, layer, shape)?;
            shape = s.output;
            layers.push(s);
        }
        let total_params = layers.iter().map(|l| l.params).sum::<u64>();
        Ok(ModelStats {
            name: self.name,
            input: self.input,
            total_macs: layers.iter().map(|l| l.macs).sum(),
            total_flops: layers.iter().map(|l| l.flops).sum(),
            total_activation_bytes: layers.iter().map(|l| l.activation_bytes).sum(),
            size_mib_fp32: total_params as f64 * 4.0 / (1 << 20) as f64,
            total_params,
            layers,
        })
    }

    /// Output shape after all layers.
    pub fn output_shape(&self) -> Result<[usize; 3]> {
        Ok(self.stats()?.layers.last().map_or(self.input, |l| l.output))
    }
}

/// The one-line comparison the NIN paper makes: NIN's weights against AlexNet's.
pub fn size_comparison(stats: &[ModelStats]) -> Option<String> {
    let nin = stats.iter().find(|s| s.name == "nin-imagenet")?;
    let alex = stats.iter().find(|s| s.name == "alexnet")?;
    Some(format!(
        "nin-imagenet: {} parameters = {:.1} MiB fp32; alexnet: {} parameters = {:.1} MiB fp32 ({:.1}× more, {:.0}% of them in its 3 FC layers)",
        crate::format::thousands(nin.total_params),
        nin.size_mib_fp32,
        crate::format::thousands(alex.total_params),
        alex.size_mib_fp32,
        alex.total_params as f64 / nin.total_params as f64,
        100.0 * alex.layers.iter().filter(|l| l.kind == "fc").map(|l| l.params).sum::<u64>() as f64
            / alex.total_params as f64
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(kind: LayerKind, input: [usize; 3]) -> Result<LayerStats> {
        layer_stats("test", &Layer { name: "l", kind }, input)
    }

    #[test]
    fn conv_params_and_macs_match_hand_counts() {
        // 3→4 channels, 3×3, pad 1, stride 1 on 5×5: weights 4·3·9 = 108, + 4 biases;
        // MACs = 5·5 outputs per channel · 4 channels · 27.
        let s = one(LayerKind::Conv { out: 4, kernel: 3, stride: 1, pad: 1, groups: 1 }, [3, 5, 5]).unwrap();
        assert_eq!((s.output, s.params, s.macs, s.flops), ([4, 5, 5], 112, 2700, 5400));
        // Two groups halve the weights: 4·(2/2)·1 = 4 weights + 4 biases on 2 input channels.
        let g = one(LayerKind::Conv { out: 4, kernel: 1, stride: 2, pad: 0, groups: 2 }, [2, 5, 5]).unwrap();
        assert_eq!((g.output, g.params, g.macs), ([4, 3, 3], 8, 36));
    }

    #[test]
    fn fc_flattens_and_gap_keeps_channels() {
        let fc = one(LayerKind::FullyConnected { out: 7 }, [2, 3, 3]).unwrap();
        assert_eq!((fc.output, fc.params, fc.macs), ([7, 1, 1], 18 * 7 + 7, 126));
        let gap = one(LayerKind::GlobalAvgPool, [10, 8, 8]).unwrap();
        assert_eq!((gap.output, gap.params, gap.macs, gap.activation_bytes), ([10, 1, 1], 0, 0, 40));
    }

    #[test]
    fn pooling_rounds_up_like_caffe() {
        // 54 → (54−3)/2 = 25.5 → 26 + 1 = 27 (floor would give 26).
        let p = one(LayerKind::MaxPool { kernel: 3, stride: 2, pad: 0 }, [96, 54, 54]).unwrap();
        assert_eq!(p.output, [96, 27, 27]);
        // With padding, no window may start in the padding: 5, k2, s2, pad 1 → ceil(5/2)+1 = 4,
        // but window 4 would start at 6 ≥ 5 + 1, so 3... here (4−1)·2 = 6 ≥ 6: 3.
        let padded = one(LayerKind::AvgPool { kernel: 2, stride: 2, pad: 1 }, [1, 5, 5]).unwrap();
        assert_eq!(padded.output, [1, 3, 3]);
    }

    #[test]
    fn impossible_shapes_are_errors_naming_the_layer() {
        let err = one(LayerKind::Conv { out: 4, kernel: 7, stride: 1, pad: 1, groups: 1 }, [3, 4, 4]).unwrap_err();
        assert!(err.to_string().contains("test/l") && err.to_string().contains("larger than the padded 4×4"), "{err}");
        assert!(one(LayerKind::MaxPool { kernel: 5, stride: 2, pad: 0 }, [3, 4, 4]).is_err());
        assert!(one(LayerKind::Conv { out: 5, kernel: 1, stride: 1, pad: 0, groups: 2 }, [4, 4, 4]).is_err());
    }
}
