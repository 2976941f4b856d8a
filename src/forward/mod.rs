//! Whole-network forward passes of the models in [`crate::model::zoo`], built from their layer
//! lists: NCHW, batch N, seeded weights.
//!
//! The layers are grouped into **stages**, the units the pass executes and times:
//! - a spatial convolution and the ReLU after it: im2col + the crate's GEMM ([`ops::SpatialConv`]);
//! - a run of two or more 1×1 convolutions, each followed by ReLU (NIN's micro-network): the
//!   registry's fused chain kernel (`mlpconv-fused`); a single 1×1 convolution: the registry's
//!   default conv kernel (`rayon-tiled`);
//! - pooling, LRN, a fully-connected layer (with its ReLU), GAP (`gap-simd`), softmax; dropout
//!   is the identity at inference and costs nothing.
//!
//! [`Network::verify`] checks every stage against the f64 reference of [`reference`](mod@reference) fed the
//! stage's own f32 input, so the bound is each stage's own (a bound carried through the whole
//! depth would grow by about √K a layer and end up unable to fail).
//!
//! Weights are seeded (trained ones cannot be downloaded here, and time does not depend on
//! their values), scaled like He initialisation so that activations keep their magnitude
//! through the depth instead of overflowing.

pub mod measure;
pub mod ops;
pub mod quantized;
pub mod reference;
#[cfg(feature = "tract")]
pub mod tract_peer;

use std::ops::Range;
use std::time::Instant;

use serde::Serialize;

use crate::conv1x1::{Conv1x1Kernel, PreparedWeights};
use crate::error::{NinError, Result};
use crate::gap::GapKernel;
use crate::kernel::Role;
use crate::mlpconv::{MlpconvKernel, PreparedChain};
use crate::model::{LayerKind, LayerStats, Model};
use crate::problem::{Conv1x1Problem, Conv1x1Shape, GapProblem, MlpconvProblem};
use crate::registry;
use crate::simd::SimdPolicy;
use crate::tensor::{AlignedBuf, Layout, seeded_uniform, zeroed};
use ops::{ConvGeometry, FullyConnected, Pooling, SpatialConv};

/// The kinds of work a pass's time is grouped into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 1×1 convolutions (NIN's mlpconv layers), with their ReLU.
    Conv1x1,
    /// Convolutions with a larger window, with their ReLU.
    SpatialConv,
    /// Max and average pooling.
    Pooling,
    /// Fully-connected layers, with their ReLU.
    FullyConnected,
    /// Global average pooling.
    Gap,
    /// LRN, softmax, a ReLU of its own, dropout.
    Other,
}

impl Category {
    /// Every category, in the order tables list them.
    pub const ALL: [Category; 6] = [
        Category::Conv1x1,
        Category::SpatialConv,
        Category::Pooling,
        Category::FullyConnected,
        Category::Gap,
        Category::Other,
    ];

    /// Name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Category::Conv1x1 => "1×1 conv",
            Category::SpatialConv => "spatial conv",
            Category::Pooling => "pooling",
            Category::FullyConnected => "FC",
            Category::Gap => "GAP",
            Category::Other => "other",
        }
    }
}

/// One layer's weights (OIHW for a convolution, out × in for FC) and bias.
#[derive(Debug, Clone)]
pub struct LayerWeights {
    /// Weights.
    pub weights: AlignedBuf,
    /// Bias, one per output channel.
    pub bias: AlignedBuf,
}

/// Seeded weights of every layer of a model (None for layers without weights).
#[derive(Debug, Clone)]
pub struct NetworkWeights {
    /// Per layer of the model, in order.
    pub layers: Vec<Option<LayerWeights>>,
}

impl NetworkWeights {
    /// Weights uniform in ±√(6 / fan-in) (He initialisation, which keeps the variance of
    /// activations through ReLU layers) and biases uniform in ±0.1, from `seed`.
    pub fn seeded(model: &Model, seed: u64) -> Result<Self> {
        let stats = model.stats()?;
        let mut shape = model.input;
        let mut layers = Vec::with_capacity(model.layers.len());
        for (i, (layer, s)) in model.layers.iter().zip(&stats.layers).enumerate() {
            // Layers without weights have no parameters at all (not even a bias).
            let weights_len = (s.params as usize).saturating_sub(s.output[0]);
            let fan_in = match layer.kind {
                LayerKind::Conv { kernel, groups, .. } => shape[0] / groups * kernel * kernel,
                LayerKind::FullyConnected { .. } => shape.iter().product(),
                _ => 0,
            };
            layers.push((fan_in > 0).then(|| {
                let layer_seed = seed.wrapping_mul(1_000_003).wrapping_add(2 * i as u64);
                let limit = (6.0 / fan_in as f32).sqrt();
                let mut weights = seeded_uniform(weights_len, layer_seed);
                weights.iter_mut().for_each(|w| *w *= limit);
                let mut bias = seeded_uniform(s.output[0], layer_seed + 1);
                bias.iter_mut().for_each(|b| *b *= 0.1);
                LayerWeights { weights, bias }
            }));
            shape = s.output;
        }
        Ok(Self { layers })
    }

    fn layer(&self, i: usize) -> &LayerWeights {
        self.layers[i].as_ref().expect("a layer with weights")
    }
}

/// Bytes a pass allocates: weights twice (as generated and packed), the two activation
/// buffers and the input; with verification, every stage's output kept and one stage's f64
/// reference (values and bounds); a peer holds its own copy of the weights and activations.
pub fn needed_bytes(model: &Model, batch: u64, verify: bool, peer: bool) -> crate::Result<u64> {
    let s = model.stats()?;
    let largest = s.layers.iter().map(|l| l.activation_bytes).max().unwrap_or(0);
    let input = 4 * model.input.iter().product::<usize>() as u64;
    let mut bytes = 8 * s.total_params + batch * (2 * largest + input);
    if verify {
        bytes += batch * (s.total_activation_bytes + 4 * largest);
    }
    if peer {
        bytes += 4 * s.total_params + batch * 2 * largest + if verify { batch * s.total_activation_bytes } else { 0 };
    }
    Ok(bytes)
}

/// What a stage runs.
enum StageOp {
    Spatial(SpatialConv),
    Pointwise { kernel: Box<dyn Conv1x1Kernel>, problem: Conv1x1Problem, prepared: PreparedWeights },
    Chain { kernel: Box<dyn MlpconvKernel>, problem: MlpconvProblem, prepared: PreparedChain },
    Pool(Pooling),
    Lrn { size: usize },
    Fc(FullyConnected),
    Gap { kernel: Box<dyn GapKernel>, problem: GapProblem },
    Relu,
    Softmax,
    Identity,
}

/// One stage of a pass: consecutive layers executed as one unit.
pub struct Stage {
    /// The layers' names joined with `+` (`conv1+relu1`, `cccp1+relu1+cccp2+relu2`).
    pub name: String,
    /// Indices of its layers in the model.
    pub layers: Range<usize>,
    /// What kind of work it is.
    pub category: Category,
    /// The kernel or op that runs it (`im2col+gemm`, `mlpconv-fused`, `max-pool`, ...).
    pub runner: String,
    /// Input per image, [C, H, W].
    pub input: [usize; 3],
    /// Output per image, [C, H, W].
    pub output: [usize; 3],
    /// FLOPs per image (2·MACs of its convolutions and FC layers).
    pub flops: u64,
    op: StageOp,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage").field("name", &self.name).field("runner", &self.runner).finish()
    }
}

/// A model made runnable for one batch size: its stages with their weights prepared.
#[derive(Debug)]
pub struct Network {
    /// The model.
    pub model: Model,
    /// Images per pass.
    pub batch: usize,
    /// Stages in order.
    pub stages: Vec<Stage>,
    /// Per-layer accounting of the model (per image).
    pub layer_stats: Vec<LayerStats>,
}

/// The two activation buffers a pass alternates between.
#[derive(Debug)]
pub struct Workspace {
    a: AlignedBuf,
    b: AlignedBuf,
}

/// Which buffer holds the current activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    Input,
    A,
    B,
}

fn is_relu(model: &Model, i: usize) -> bool {
    model.layers.get(i).is_some_and(|l| l.kind == LayerKind::Relu)
}

fn is_pointwise(kind: LayerKind) -> bool {
    matches!(kind, LayerKind::Conv { kernel: 1, stride: 1, pad: 0, groups: 1, .. })
}

impl Network {
    /// Builds the stages of `model` for `batch` images, packing `weights` (which must be the
    /// model's own, from [`NetworkWeights::seeded`]) with the ISA `policy` selects.
    pub fn new(model: &Model, batch: usize, weights: &NetworkWeights, policy: SimdPolicy) -> Result<Self> {
        if batch == 0 {
            return Err(NinError::ZeroDimension { name: "batch" });
        }
        let stats = model.stats()?;
        if weights.layers.len() != model.layers.len() {
            return Err(NinError::Shape {
                what: format!("weights of {}", model.name),
                reason: format!("{} layers of weights for {} layers", weights.layers.len(), model.layers.len()),
            });
        }
        for (i, (layer, s)) in model.layers.iter().zip(&stats.layers).enumerate() {
            let expected = (s.params > 0).then(|| (s.params as usize - s.output[0], s.output[0]));
            let given = weights.layers[i].as_ref().map(|w| (w.weights.len(), w.bias.len()));
            if expected != given {
                return Err(NinError::Shape {
                    what: format!("{}/{} weights", model.name, layer.name),
                    reason: format!("expected (weights, bias) lengths {expected:?}, given {given:?}"),
                });
            }
        }
        // Every activation of a batch must be addressable.
        let largest =
            stats.layers.iter().map(|l| l.activation_bytes / 4).chain([model.input.iter().product::<usize>() as u64]);
        if largest.map(|v| v.checked_mul(batch as u64)).any(|v| v.is_none_or(|v| v > (isize::MAX as u64) / 4)) {
            return Err(NinError::Overflow { what: "batch × activation (a forward pass)" });
        }
        let mut stages = Vec::new();
        let mut i = 0;
        while i < model.layers.len() {
            let input = if i == 0 { model.input } else { stats.layers[i - 1].output };
            let [c, h, w] = input;
            let layer = &model.layers[i];
            let (op, category, runner, len) = match layer.kind {
                LayerKind::Conv { out, .. } if is_pointwise(layer.kind) => {
                    // A run of 1×1 convolutions each followed by ReLU is NIN's micro-network.
                    let mut widths = vec![out];
                    while is_relu(model, i + 2 * widths.len() - 1)
                        && model.layers.get(i + 2 * widths.len()).is_some_and(|l| is_pointwise(l.kind))
                        && is_relu(model, i + 2 * widths.len() + 1)
                        && widths.len() < crate::problem::MAX_MLPCONV_LAYERS
                    {
                        let LayerKind::Conv { out, .. } = model.layers[i + 2 * widths.len()].kind else {
                            unreachable!()
                        };
                        widths.push(out);
                    }
                    if widths.len() >= 2 {
                        let problem = MlpconvProblem::new(batch, c, h, w, &widths, false)?;
                        let kernel = registry::take_playing(registry::mlpconv_kernels_with(policy), Role::Fused);
                        let ws: Vec<&[f32]> =
                            (0..widths.len()).map(|l| &weights.layer(i + 2 * l).weights[..]).collect();
                        let bs: Vec<&[f32]> = (0..widths.len()).map(|l| &weights.layer(i + 2 * l).bias[..]).collect();
                        let prepared = kernel.prepare(&problem, &ws, &bs)?;
                        let runner = kernel.name().to_string();
                        (StageOp::Chain { kernel, problem, prepared }, Category::Conv1x1, runner, 2 * widths.len())
                    } else {
                        let relu = is_relu(model, i + 1);
                        let problem =
                            Conv1x1Problem::new(Conv1x1Shape { relu, ..Conv1x1Shape::new(batch, c, h, w, out) })?;
                        let kernel = registry::take_playing(registry::conv1x1_kernels_with(policy), Role::Default);
                        let lw = weights.layer(i);
                        let prepared = kernel.prepare(&problem, &lw.weights, Some(&lw.bias))?;
                        let runner = kernel.name().to_string();
                        (StageOp::Pointwise { kernel, problem, prepared }, Category::Conv1x1, runner, 1 + relu as usize)
                    }
                }
                LayerKind::Conv { out, kernel, stride, pad, groups } => {
                    let relu = is_relu(model, i + 1);
                    let g = ConvGeometry { cin: c, h, w, cout: out, kernel, stride, pad, groups };
                    let lw = weights.layer(i);
                    let conv = SpatialConv::new(g, &lw.weights, &lw.bias, relu, policy);
                    (StageOp::Spatial(conv), Category::SpatialConv, "im2col+gemm".into(), 1 + relu as usize)
                }
                LayerKind::FullyConnected { out } => {
                    let relu = is_relu(model, i + 1);
                    let lw = weights.layer(i);
                    let fc = FullyConnected::new(c * h * w, out, &lw.weights, &lw.bias, relu, policy);
                    (StageOp::Fc(fc), Category::FullyConnected, "gemm".into(), 1 + relu as usize)
                }
                LayerKind::MaxPool { kernel, stride, pad } | LayerKind::AvgPool { kernel, stride, pad } => {
                    let average = matches!(layer.kind, LayerKind::AvgPool { .. });
                    let pool = Pooling { c, h, w, kernel, stride, pad, average };
                    let runner = if average { "avg-pool" } else { "max-pool" };
                    (StageOp::Pool(pool), Category::Pooling, runner.into(), 1)
                }
                LayerKind::GlobalAvgPool => {
                    let problem = GapProblem::new(batch, c, h, w, Layout::Nchw)?;
                    let kernel = registry::take_playing(registry::gap_kernels_with(policy), Role::Default);
                    let runner = kernel.name().to_string();
                    (StageOp::Gap { kernel, problem }, Category::Gap, runner, 1)
                }
                LayerKind::Lrn { size } => (StageOp::Lrn { size }, Category::Other, "lrn".into(), 1),
                LayerKind::Relu => (StageOp::Relu, Category::Other, "relu".into(), 1),
                LayerKind::Softmax => (StageOp::Softmax, Category::Other, "softmax".into(), 1),
                LayerKind::Dropout => (StageOp::Identity, Category::Other, "identity".into(), 1),
            };
            let layers = i..i + len;
            stages.push(Stage {
                name: model.layers[layers.clone()].iter().map(|l| l.name).collect::<Vec<_>>().join("+"),
                category,
                runner,
                input,
                output: stats.layers[layers.end - 1].output,
                flops: stats.layers[layers.clone()].iter().map(|l| l.flops).sum(),
                layers,
                op,
            });
            i += len;
        }
        Ok(Self { model: model.clone(), batch, stages, layer_stats: stats.layers })
    }

    /// Values of the input of one pass (N×C×H×W).
    pub fn input_len(&self) -> usize {
        self.batch * self.model.input.iter().product::<usize>()
    }

    /// Values of the output of one pass (N × classes).
    pub fn output_len(&self) -> usize {
        self.batch * self.stages.last().map_or(self.model.input, |s| s.output).iter().product::<usize>()
    }

    /// FLOPs of one pass over the whole batch.
    pub fn flops(&self) -> u64 {
        self.batch as u64 * self.stages.iter().map(|s| s.flops).sum::<u64>()
    }

    /// The activation buffers for this network's passes.
    pub fn workspace(&self) -> Workspace {
        let largest = self.stages.iter().map(|s| s.output.iter().product::<usize>()).max().unwrap_or(0);
        Workspace { a: zeroed(self.batch * largest), b: zeroed(self.batch * largest) }
    }

    fn check_input(&self, input: &[f32]) -> Result<()> {
        if input.len() == self.input_len() {
            Ok(())
        } else {
            Err(NinError::BufferLength {
                what: "input",
                problem: format!("{} at batch {}", self.model.name, self.batch),
                expected: self.input_len(),
                actual: input.len(),
            })
        }
    }

    /// One pass: returns the output (N × classes), which lives in `ws`.
    pub fn forward<'w>(&self, input: &'w [f32], ws: &'w mut Workspace) -> Result<&'w [f32]> {
        self.check_input(input)?;
        let current = self.execute(input, ws, |_, _| {})?;
        let ws: &'w Workspace = ws;
        Ok(self.slice(current, input, ws, self.stages.len()))
    }

    /// One pass that times each stage: adds each stage's seconds to `seconds` (one per stage).
    pub fn forward_timed(&self, input: &[f32], ws: &mut Workspace, seconds: &mut [f64]) -> Result<()> {
        self.check_input(input)?;
        assert_eq!(seconds.len(), self.stages.len());
        let mut start = Instant::now();
        self.execute(input, ws, |i, _| {
            let now = Instant::now();
            seconds[i] += (now - start).as_secs_f64();
            start = now;
        })?;
        Ok(())
    }

    /// One pass keeping every stage's output (for verification): element `i` is stage `i`'s.
    /// The activation buffers start as NaN, so that an output a stage forgets to write cannot
    /// pass a check.
    pub fn forward_recorded(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        self.check_input(input)?;
        let mut ws = self.workspace();
        ws.a.fill(f32::NAN);
        ws.b.fill(f32::NAN);
        let mut outputs = Vec::with_capacity(self.stages.len());
        self.execute(input, &mut ws, |_, out| outputs.push(out.to_vec()))?;
        Ok(outputs)
    }

    /// Runs stage `index` alone on `input` into `output` (lengths of its batch input and
    /// output): how a layer is timed on its own, to compare with its time inside the pass.
    pub fn run_stage(&self, index: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        let stage = &self.stages[index];
        let (inp, out) =
            (self.batch * stage.input.iter().product::<usize>(), self.batch * stage.output.iter().product::<usize>());
        if input.len() != inp || output.len() != out {
            return Err(NinError::BufferLength {
                what: "stage buffers",
                problem: stage.name.clone(),
                expected: inp + out,
                actual: input.len() + output.len(),
            });
        }
        if matches!(stage.op, StageOp::Identity) {
            output.copy_from_slice(input);
            return Ok(());
        }
        self.run_op(stage, input, output)
    }

    fn slice<'w>(&self, current: Current, input: &'w [f32], ws: &'w Workspace, after: usize) -> &'w [f32] {
        let len =
            self.batch * self.stages[..after].last().map_or(self.model.input, |s| s.output).iter().product::<usize>();
        match current {
            Current::Input => &input[..len],
            Current::A => &ws.a[..len],
            Current::B => &ws.b[..len],
        }
    }

    /// Runs every stage, calling `after(i, output)` once stage `i` is done; returns where the
    /// output is.
    fn execute(&self, input: &[f32], ws: &mut Workspace, mut after: impl FnMut(usize, &[f32])) -> Result<Current> {
        let mut current = Current::Input;
        for (i, stage) in self.stages.iter().enumerate() {
            let in_len = self.batch * stage.input.iter().product::<usize>();
            let out_len = self.batch * stage.output.iter().product::<usize>();
            if matches!(stage.op, StageOp::Identity) {
                after(i, self.slice(current, input, ws, i + 1));
                continue;
            }
            let (src, dst, next): (&[f32], &mut [f32], Current) = match current {
                Current::Input => (&input[..in_len], &mut ws.a[..out_len], Current::A),
                Current::A => (&ws.a[..in_len], &mut ws.b[..out_len], Current::B),
                Current::B => (&ws.b[..in_len], &mut ws.a[..out_len], Current::A),
            };
            self.run_op(stage, src, dst)?;
            current = next;
            after(i, self.slice(current, input, ws, i + 1));
        }
        Ok(current)
    }

    fn run_op(&self, stage: &Stage, src: &[f32], dst: &mut [f32]) -> Result<()> {
        let [c, h, w] = stage.input;
        match &stage.op {
            StageOp::Spatial(conv) => conv.run(src, dst),
            StageOp::Pointwise { kernel, problem, prepared } => kernel.run(problem, src, prepared, dst)?,
            StageOp::Chain { kernel, problem, prepared } => kernel.run(problem, src, prepared, dst)?,
            StageOp::Pool(pool) => pool.run(src, dst),
            StageOp::Lrn { size } => ops::lrn(c, h * w, *size, src, dst),
            StageOp::Fc(fc) => fc.run(src, dst),
            StageOp::Gap { kernel, problem } => kernel.run(problem, src, dst)?,
            StageOp::Relu => {
                dst.copy_from_slice(src);
                ops::relu_in_place(dst);
            }
            StageOp::Softmax => ops::softmax(c, h * w, src, dst),
            StageOp::Identity => dst.copy_from_slice(src),
        }
        Ok(())
    }

    /// Checks every stage against the f64 reference fed the stage's own f32 input (the
    /// previous stage's output); returns one result per stage, in order.
    pub fn verify(&self, weights: &NetworkWeights, input: &[f32]) -> Result<Vec<StageCheck>> {
        let outputs = self.forward_recorded(input)?;
        Ok(self.check_outputs(weights, input, &outputs))
    }

    /// Checks recorded stage outputs (ours, or another engine's at the same stage boundaries)
    /// stage by stage against the reference fed that same run's input of the stage.
    pub fn check_outputs(&self, weights: &NetworkWeights, input: &[f32], outputs: &[Vec<f32>]) -> Vec<StageCheck> {
        assert_eq!(outputs.len(), self.stages.len());
        let inputs = std::iter::once(input).chain(outputs.iter().map(Vec::as_slice));
        self.stages
            .iter()
            .zip(inputs)
            .zip(outputs)
            .map(|((stage, x), y)| {
                let expected = reference::stage(self, stage, weights, x);
                StageCheck {
                    stage: stage.name.clone(),
                    worst_ratio: expected.worst_ratio(y),
                    mismatch: expected.check(y).err().map(|m| m.to_string()),
                }
            })
            .collect()
    }
}

/// The verdict on one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageCheck {
    /// Stage name.
    pub stage: String,
    /// The largest `|got − reference| / bound`: below 1 passes.
    pub worst_ratio: f64,
    /// The first output outside the bound, if any.
    pub mismatch: Option<String>,
}
