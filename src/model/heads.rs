//! Classifier heads on the same feature maps: fully-connected (flatten, then FC layers) against
//! NIN's (1×1 convolutions down to one map per class, then global average pooling). Both are
//! counted with the model accounting and timed with the project's own kernels: the FC layers
//! through the crate's GEMM (`im2col-gemm` on an NHWC problem whose "pixels" are the batch, so
//! a batch of B is one B×in by in×out product with the weights prepared once), the 1×1 layers
//! through `blocked-simd`, GAP through `gap-simd`. One thread, so the two compare like for like.

use serde::Serialize;

use super::{Layer, LayerKind, Model};
use crate::conv1x1::Conv1x1Kernel;
use crate::conv1x1::PreparedWeights;
use crate::conv1x1::blocked_simd::BlockedSimd;
use crate::conv1x1::im2col_gemm::Im2colGemm;
use crate::error::Result;
use crate::gap::GapKernel;
use crate::gap::simd::GapSimd;
use crate::problem::{Conv1x1Problem, Conv1x1Shape, GapProblem};
use crate::simd::SimdPolicy;
use crate::tensor::{AlignedBuf, Layout, seeded_uniform, zeroed};
use crate::timing::{TimingBudget, measure};

/// What a head is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadKind {
    /// Flatten, then fully-connected layers of these widths (the last is the class count), ReLU
    /// between them.
    FullyConnected(Vec<usize>),
    /// 1×1 convolutions to these channel counts (the last is the class count), each with ReLU,
    /// then global average pooling.
    Nin(Vec<usize>),
}

/// A head on a feature map of shape [C, H, W].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Where the features come from, e.g. `alexnet pool5`.
    pub features_from: &'static str,
    /// Feature map [C, H, W].
    pub features: [usize; 3],
    /// The head.
    pub kind: HeadKind,
}

/// Accounting and timing of one head.
#[derive(Debug, Clone, Serialize)]
pub struct HeadStats {
    /// Where the features come from.
    pub features_from: &'static str,
    /// Feature map as [C, H, W].
    pub features: [usize; 3],
    /// `fc` or `nin`.
    pub kind: &'static str,
    /// The layers, e.g. `fc 4096-4096-1000` or `1x1 1024-1000 + gap`.
    pub head: String,
    /// Weights + biases.
    pub params: u64,
    /// FLOPs per image (2·MACs).
    pub flops: u64,
    /// Parameters in fp32, MiB.
    pub size_mib_fp32: f64,
    /// Median seconds per forward pass of a batch of 1, 1 thread.
    pub seconds_batch1: f64,
    /// Median seconds per forward pass of a batch of 32, 1 thread.
    pub seconds_batch32: f64,
}

const FC_NAMES: [&str; 4] = ["fc_a", "fc_b", "fc_c", "fc_d"];
const CCCP_NAMES: [&str; 4] = ["cccp_a", "cccp_b", "cccp_c", "cccp_d"];

impl Head {
    /// The head as a model, for the accounting.
    pub fn model(&self) -> Model {
        let mut layers = Vec::new();
        match &self.kind {
            HeadKind::FullyConnected(widths) => {
                for (i, &out) in widths.iter().enumerate() {
                    layers.push(Layer { name: FC_NAMES[i], kind: LayerKind::FullyConnected { out } });
                    if i + 1 < widths.len() {
                        layers.push(Layer { name: "relu", kind: LayerKind::Relu });
                    }
                }
            }
            HeadKind::Nin(widths) => {
                for (i, &out) in widths.iter().enumerate() {
                    let kind = LayerKind::Conv { out, kernel: 1, stride: 1, pad: 0, groups: 1 };
                    layers.push(Layer { name: CCCP_NAMES[i], kind });
                    layers.push(Layer { name: "relu", kind: LayerKind::Relu });
                }
                layers.push(Layer { name: "gap", kind: LayerKind::GlobalAvgPool });
            }
        }
        Model { name: "head", input: self.features, layers }
    }

    /// `fc 4096-4096-1000` or `1x1 1024-1000 + gap`.
    pub fn describe(&self) -> String {
        let join = |w: &[usize]| w.iter().map(usize::to_string).collect::<Vec<_>>().join("-");
        match &self.kind {
            HeadKind::FullyConnected(w) => format!("fc {}", join(w)),
            HeadKind::Nin(w) => format!("1x1 {} + gap", join(w)),
        }
    }

    /// The conv problems (and the GAP) that compute this head on a batch of `batch`.
    fn problems(&self, batch: usize) -> Result<(Vec<Conv1x1Problem>, Option<GapProblem>)> {
        let [c, h, w] = self.features;
        match &self.kind {
            HeadKind::FullyConnected(widths) => {
                let mut inputs = c * h * w;
                let mut out = Vec::new();
                for (i, &width) in widths.iter().enumerate() {
                    // One NHWC "image" whose `batch` pixels are the batch: Y[B×out] = X[B×in]·Wᵀ.
                    let relu = i + 1 < widths.len();
                    let shape =
                        Conv1x1Shape { relu, layout: Layout::Nhwc, ..Conv1x1Shape::new(1, inputs, 1, batch, width) };
                    out.push(Conv1x1Problem::new(shape)?);
                    inputs = width;
                }
                Ok((out, None))
            }
            HeadKind::Nin(widths) => {
                let mut channels = c;
                let mut out = Vec::new();
                for &width in widths {
                    out.push(Conv1x1Problem::new(Conv1x1Shape {
                        relu: true,
                        ..Conv1x1Shape::new(batch, channels, h, w, width)
                    })?);
                    channels = width;
                }
                Ok((out, Some(GapProblem::new(batch, channels, h, w, Layout::Nchw)?)))
            }
        }
    }

    /// Median seconds of one forward pass on a batch of `batch`, 1 thread.
    pub fn time(&self, batch: usize, budget: TimingBudget) -> Result<f64> {
        let (convs, gap) = self.problems(batch)?;
        let kernel: Box<dyn Conv1x1Kernel> = match self.kind {
            HeadKind::FullyConnected(_) => Box::new(Im2colGemm::new(SimdPolicy::auto())),
            HeadKind::Nin(_) => Box::new(BlockedSimd::new(SimdPolicy::auto())),
        };
        let gap_kernel = GapSimd::new(SimdPolicy::auto());
        let mut prepared: Vec<PreparedWeights> = Vec::new();
        let mut buffers: Vec<AlignedBuf> = vec![seeded_uniform(convs[0].input_len(), 1)];
        for (i, p) in convs.iter().enumerate() {
            let w = seeded_uniform(p.weights_len(), 10 + i as u64);
            let b = seeded_uniform(p.cout, 20 + i as u64);
            prepared.push(kernel.prepare(p, &w, Some(&b))?);
            buffers.push(zeroed(p.output_len()));
        }
        let mut scores = zeroed(gap.map_or(0, |g| g.output_len()));
        let mut forward = || -> Result<()> {
            for (i, p) in convs.iter().enumerate() {
                let (done, rest) = buffers.split_at_mut(i + 1);
                kernel.run(p, &done[i], &prepared[i], &mut rest[0])?;
            }
            if let Some(g) = &gap {
                gap_kernel.run(g, buffers.last().expect("at least one layer"), &mut scores)?;
            }
            Ok(())
        };
        forward()?; // checks every shape once; the timed loop cannot fail
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("one-thread pool");
        let timing = pool.install(|| {
            measure(budget, || {
                let _ = forward();
            })
        });
        Ok(timing.median())
    }

    /// Accounting and timing at batch 1 and 32.
    pub fn stats(&self, budget: TimingBudget) -> Result<HeadStats> {
        let model = self.model().stats()?;
        Ok(HeadStats {
            features_from: self.features_from,
            features: self.features,
            kind: match self.kind {
                HeadKind::FullyConnected(_) => "fc",
                HeadKind::Nin(_) => "nin",
            },
            head: self.describe(),
            params: model.total_params,
            flops: model.total_flops,
            size_mib_fp32: model.size_mib_fp32,
            seconds_batch1: self.time(1, budget)?,
            seconds_batch32: self.time(32, budget)?,
        })
    }
}

/// The heads compared by `nin-bench heads` and the report: on AlexNet's pool5 features
/// (256×6×6), NIN-ImageNet's features before its last mlpconv block (384×6×6) and
/// NIN-CIFAR10's before its last 1×1 layers (192×8×8): AlexNet's 4096-4096-classes FC head, a
/// single FC layer, and the NIN head.
pub fn standard_heads() -> Vec<Head> {
    let on = |features_from, features: [usize; 3], classes: usize, nin: Vec<usize>| {
        vec![
            Head { features_from, features, kind: HeadKind::FullyConnected(vec![4096, 4096, classes]) },
            Head { features_from, features, kind: HeadKind::FullyConnected(vec![classes]) },
            Head { features_from, features, kind: HeadKind::Nin(nin) },
        ]
    };
    [
        on("alexnet pool5", [256, 6, 6], 1000, vec![1024, 1000]),
        on("nin-imagenet pool3", [384, 6, 6], 1000, vec![1024, 1000]),
        on("nin-cifar10 conv3", [192, 8, 8], 10, vec![192, 10]),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_params_and_flops_match_hand_counts() {
        let heads = standard_heads();
        // AlexNet's FC head on 256×6×6 = 9216 inputs.
        let fc = heads[0].model().stats().unwrap();
        assert_eq!(fc.total_params, 9216 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000);
        assert_eq!(fc.total_flops, 2 * (9216 * 4096 + 4096 * 4096 + 4096 * 1000));
        // NIN head: 256→1024→1000 1×1 layers on 36 pixels, then GAP (no parameters).
        let nin = heads[2].model().stats().unwrap();
        assert_eq!(nin.total_params, 256 * 1024 + 1024 + 1024 * 1000 + 1000);
        assert_eq!(nin.total_flops, 2 * 36 * (256 * 1024 + 1024 * 1000));
        assert_eq!(nin.layers.last().unwrap().output, [1000, 1, 1]);
    }

    #[test]
    fn both_kinds_of_head_run_and_are_timed() {
        let head = Head { features_from: "test", features: [8, 3, 3], kind: HeadKind::FullyConnected(vec![16, 5]) };
        assert!(head.time(4, TimingBudget::BRIEF).unwrap() > 0.0);
        let nin = Head { features_from: "test", features: [8, 3, 3], kind: HeadKind::Nin(vec![16, 5]) };
        assert!(nin.time(4, TimingBudget::BRIEF).unwrap() > 0.0);
    }
}
