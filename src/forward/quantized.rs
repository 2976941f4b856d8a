//! A model's forward pass with its 1×1 convolutions (and the GAP after them) in int8, and how
//! far its class scores land from the f32 pass (issue 27).
//!
//! Static post-training quantization, as inference engines do it:
//! - **calibration**: a seeded batch of its own runs through the f32 layers one 1×1 layer at a
//!   time; the largest value at each point where int8 begins or a 1×1 layer ends gives that
//!   point's scale (`largest / 255`, zero point 0: every such point follows a ReLU);
//! - **weights**: per output channel, symmetric ([`crate::quant::quantize_weights`]), into the
//!   range the int8 kernel accepts (7-bit on AVX2, 8-bit on VNNI); biases in the accumulator's
//!   scale;
//! - **the pass**: spatial convolutions, pooling, FC and softmax stay f32 (the f32 network's own
//!   stages); a run of 1×1 convolutions, each with its ReLU, runs in int8 from a quantize at its
//!   start to a dequantize at its end, and a GAP right after such a run is the int8 GAP.
//!
//! [`time_int8_pass`] times one image through the int8 pass and the f32 pass in turn, each
//! step of both timed as well: where int8 pays in a whole network, and what its edges cost.

use std::time::Instant;

use serde::Serialize;

use super::{Category, Network, NetworkWeights, Stage};
use crate::conv1x1::Conv1x1Kernel;
use crate::error::{NinError, Result};
use crate::kernel::Role;
use crate::model::{LayerKind, Model};
use crate::problem::{Conv1x1Problem, Conv1x1Shape, GapProblem, QConv1x1Problem, QGapProblem};
use crate::qconv::{PreparedQLayer, QConv1x1Kernel};
use crate::qgap::QGapKernel;
use crate::quant::{QLayer, activation_scale};
use crate::registry;
use crate::simd::SimdPolicy;
use crate::tensor::{AlignedBuf, Layout, seeded_uniform, zeroed};
use crate::timing::TimingBudget;
pub use crate::ukernel::edges::EdgePath;

/// One step of the quantized pass.
enum Step {
    /// Stage `0` of the f32 network, as is.
    Float(usize),
    /// f32 → u8 at this scale.
    Quantize(f32),
    /// An int8 1×1 convolution with its ReLU.
    Conv { problem: QConv1x1Problem, prepared: Box<PreparedQLayer> },
    /// The int8 GAP (the scale stays the input's).
    Gap(QGapProblem),
    /// u8 → f32 at this scale: the output of f32 stage `stage`'s place in the pass.
    Dequantize { scale: f32, stage: usize },
}

/// Where the activations are between two steps: the pass's input, or one of the workspace's
/// two f32 or two u8 buffers.
#[derive(Clone, Copy)]
enum At {
    Input,
    F32(usize),
    U8(usize),
}

/// The buffers of a quantized pass ([`QuantizedNetwork::workspace`]): two f32 and two u8, each
/// as long as the most values the pass holds in that type at once.
pub struct QuantizedWorkspace {
    f32: [AlignedBuf; 2],
    u8: [Vec<u8>; 2],
}

/// A network whose 1×1 layers run in int8, built on an f32 [`Network`] of the same model.
pub struct QuantizedNetwork<'n> {
    net: &'n Network,
    conv: Box<dyn QConv1x1Kernel>,
    gap: Box<dyn QGapKernel>,
    /// The path of its quantizes and dequantizes.
    edges: EdgePath,
    steps: Vec<Step>,
    /// Names of the layers that run in int8, in order.
    pub int8_layers: Vec<&'static str>,
}

impl std::fmt::Debug for QuantizedNetwork<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantizedNetwork")
            .field("model", &self.net.model.name)
            .field("int8", &self.int8_layers)
            .finish()
    }
}

/// Whether the int8 path takes stage `s`: 1×1 convolutions, each followed by its ReLU (the u8
/// output is the ReLU's).
fn runs_in_int8(model: &Model, s: &Stage) -> bool {
    s.category == Category::Conv1x1
        && s.layers.clone().step_by(2).all(|i| {
            matches!(model.layers[i].kind, LayerKind::Conv { kernel: 1, .. })
                && model.layers.get(i + 1).is_some_and(|l| l.kind == LayerKind::Relu)
        })
        && s.layers.len().is_multiple_of(2)
}

/// The largest values the calibration batch reaches in f32.
struct Calibration {
    /// Per stage index: the largest value of its input.
    inputs: Vec<f32>,
    /// Per model layer index: the largest value of its output (1×1 layers of int8 runs only).
    outputs: Vec<f32>,
}

fn largest(values: &[f32]) -> f32 {
    values.iter().fold(0.0f32, |m, &v| m.max(v))
}

/// The f32 1×1 layer `i` of `net` with its ReLU, for `batch` images of [c, h, w].
fn float_layer(
    net: &Network,
    weights: &NetworkWeights,
    i: usize,
    input: [usize; 3],
    kernel: &dyn Conv1x1Kernel,
    x: &[f32],
) -> Result<Vec<f32>> {
    let LayerKind::Conv { out, .. } = net.model.layers[i].kind else { unreachable!("a 1×1 layer") };
    let [c, h, w] = input;
    let problem = Conv1x1Problem::new(Conv1x1Shape { relu: true, ..Conv1x1Shape::new(net.batch, c, h, w, out) })?;
    let lw = weights.layer(i);
    let prepared = kernel.prepare(&problem, &lw.weights, Some(&lw.bias))?;
    let mut y = vec![0.0; problem.output_len()];
    kernel.run(&problem, x, &prepared, &mut y)?;
    Ok(y)
}

fn calibrate(net: &Network, weights: &NetworkWeights, input: &[f32], policy: SimdPolicy) -> Result<Calibration> {
    let kernel = registry::take_playing(registry::conv1x1_kernels_with(policy), Role::Default);
    let mut cal = Calibration { inputs: vec![0.0; net.stages.len()], outputs: vec![0.0; net.model.layers.len()] };
    let mut x = input.to_vec();
    for (si, stage) in net.stages.iter().enumerate() {
        cal.inputs[si] = largest(&x);
        if runs_in_int8(&net.model, stage) {
            let mut shape = stage.input;
            for i in stage.layers.clone().step_by(2) {
                x = float_layer(net, weights, i, shape, kernel.as_ref(), &x)?;
                shape = net.layer_stats[i].output;
                cal.outputs[i] = largest(&x);
            }
        } else {
            let mut y = vec![0.0; net.batch * stage.output.iter().product::<usize>()];
            net.run_stage(si, &x, &mut y)?;
            x = y;
        }
    }
    Ok(cal)
}

impl<'n> QuantizedNetwork<'n> {
    /// Quantizes `net` (built from `weights`) with scales calibrated on `calibration` (a batch
    /// of `net.batch` images), for the int8 kernels that play [`Role::Default`] under `policy`.
    pub fn new(net: &'n Network, weights: &NetworkWeights, calibration: &[f32], policy: SimdPolicy) -> Result<Self> {
        if calibration.len() != net.input_len() {
            return Err(NinError::BufferLength {
                what: "calibration batch",
                problem: format!("{} at batch {}", net.model.name, net.batch),
                expected: net.input_len(),
                actual: calibration.len(),
            });
        }
        let cal = calibrate(net, weights, calibration, policy)?;
        let conv = registry::take_playing(registry::qconv1x1_kernels_with(policy), Role::Default);
        let gap = registry::take_playing(registry::qgap_kernels_with(policy), Role::Default);
        let range = conv.weight_range();
        let mut steps = Vec::new();
        let mut int8_layers = Vec::new();
        // The scale of the u8 values the last step left, if it left u8.
        let mut scale: Option<f32> = None;
        for (si, stage) in net.stages.iter().enumerate() {
            if runs_in_int8(&net.model, stage) {
                let mut s_x = *scale.get_or_insert_with(|| {
                    let s = activation_scale(cal.inputs[si]);
                    steps.push(Step::Quantize(s));
                    s
                });
                let mut shape = stage.input;
                for i in stage.layers.clone().step_by(2) {
                    let [c, h, w] = shape;
                    let out = net.layer_stats[i].output;
                    let problem = QConv1x1Problem::new(Conv1x1Shape::new(net.batch, c, h, w, out[0]))?;
                    let s_y = activation_scale(cal.outputs[i]);
                    let lw = weights.layer(i);
                    let layer = QLayer::from_f32(&lw.weights, &lw.bias, range, s_x, s_y)?;
                    steps.push(Step::Conv { problem, prepared: Box::new(conv.prepare(&problem, &layer)?) });
                    int8_layers.push(net.model.layers[i].name);
                    (s_x, shape) = (s_y, out);
                }
                scale = Some(s_x);
            } else if stage.category == Category::Gap && scale.is_some() {
                let [c, h, w] = stage.input;
                steps.push(Step::Gap(QGapProblem::new(GapProblem::new(net.batch, c, h, w, Layout::Nchw)?)?));
                int8_layers.push(net.model.layers[stage.layers.start].name);
            } else {
                if let Some(scale) = scale.take() {
                    steps.push(Step::Dequantize { scale, stage: si - 1 });
                }
                steps.push(Step::Float(si));
            }
        }
        if let Some(scale) = scale {
            steps.push(Step::Dequantize { scale, stage: net.stages.len() - 1 });
        }
        Ok(Self { net, conv, gap, edges: EdgePath::for_policy(policy), steps, int8_layers })
    }

    /// The int8 convolution kernel and the int8 GAP kernel the pass runs.
    pub fn kernels(&self) -> (&'static str, &'static str) {
        (self.conv.name(), self.gap.name())
    }

    /// Values of step `step`'s output, `len` being its input's.
    fn output_len(&self, step: &Step, len: usize) -> usize {
        match step {
            Step::Float(si) => self.net.batch * self.net.stages[*si].output.iter().product::<usize>(),
            Step::Quantize(_) | Step::Dequantize { .. } => len,
            Step::Conv { problem, .. } => problem.conv().output_len(),
            Step::Gap(problem) => problem.gap().n * problem.gap().c,
        }
    }

    /// The buffers its passes run in.
    pub fn workspace(&self) -> QuantizedWorkspace {
        let (mut floats, mut bytes, mut len) = (0, 0, self.net.input_len());
        for step in &self.steps {
            len = self.output_len(step, len);
            match step {
                Step::Float(_) | Step::Dequantize { .. } => floats = floats.max(len),
                Step::Quantize(_) | Step::Conv { .. } | Step::Gap(_) => bytes = bytes.max(len),
            }
        }
        QuantizedWorkspace { f32: [zeroed(floats), zeroed(floats)], u8: [vec![0; bytes], vec![0; bytes]] }
    }

    /// Runs every step in `ws`, calling `after(k, output)` once step `k` is done (`output`: its
    /// values where they are f32); returns where the last output is and its length.
    fn execute(
        &self,
        input: &[f32],
        ws: &mut QuantizedWorkspace,
        mut after: impl FnMut(usize, Option<&[f32]>),
    ) -> Result<(At, usize)> {
        self.net.check_input(input)?;
        let (mut at, mut len) = (At::Input, input.len());
        for (k, step) in self.steps.iter().enumerate() {
            let out_len = self.output_len(step, len);
            let QuantizedWorkspace { f32: [fa, fb], u8: [qa, qb] } = ws;
            at = match (step, at) {
                (Step::Float(si), At::Input | At::F32(_)) => {
                    let (x, y, next) = match at {
                        At::F32(0) => (&fa[..len], &mut fb[..out_len], 1),
                        At::F32(_) => (&fb[..len], &mut fa[..out_len], 0),
                        _ => (&input[..len], &mut fa[..out_len], 0),
                    };
                    self.net.run_stage(*si, x, y)?;
                    At::F32(next)
                }
                (Step::Quantize(s), At::Input | At::F32(_)) => {
                    let x = match at {
                        At::F32(0) => &fa[..len],
                        At::F32(_) => &fb[..len],
                        _ => &input[..len],
                    };
                    self.edges.quantize(x, *s, &mut qa[..out_len]);
                    At::U8(0)
                }
                (Step::Conv { problem, prepared }, At::U8(i)) => {
                    let (x, y) =
                        if i == 0 { (&qa[..len], &mut qb[..out_len]) } else { (&qb[..len], &mut qa[..out_len]) };
                    self.conv.run(problem, x, prepared, None, y)?;
                    At::U8(1 - i)
                }
                (Step::Gap(problem), At::U8(i)) => {
                    let (x, y) =
                        if i == 0 { (&qa[..len], &mut qb[..out_len]) } else { (&qb[..len], &mut qa[..out_len]) };
                    self.gap.run(problem, x, None, y)?;
                    At::U8(1 - i)
                }
                (Step::Dequantize { scale, .. }, At::U8(i)) => {
                    let x = if i == 0 { &qa[..len] } else { &qb[..len] };
                    self.edges.dequantize(x, *scale, &mut fa[..out_len]);
                    At::F32(0)
                }
                _ => unreachable!("steps alternate f32 and u8 as built"),
            };
            len = out_len;
            after(k, if let At::F32(i) = at { Some(&ws.f32[i][..len]) } else { None });
        }
        Ok((at, len))
    }

    /// One pass over `input` (a batch of the f32 network's): returns the output, which lives
    /// in `ws`.
    pub fn forward<'w>(&self, input: &'w [f32], ws: &'w mut QuantizedWorkspace) -> Result<&'w [f32]> {
        let (at, len) = self.execute(input, ws, |_, _| {})?;
        Ok(match at {
            At::F32(i) => &ws.f32[i][..len],
            At::Input => &input[..len],
            At::U8(_) => unreachable!("a pass ends in f32 as built"),
        })
    }

    /// One pass that times each step: adds its seconds to `seconds`, by kind of step.
    pub fn forward_timed(
        &self,
        input: &[f32],
        ws: &mut QuantizedWorkspace,
        seconds: &mut Int8PassSeconds,
    ) -> Result<()> {
        let mut start = Instant::now();
        self.execute(input, ws, |k, _| {
            let now = Instant::now();
            let kind = match self.steps[k] {
                Step::Float(_) => &mut seconds.float,
                Step::Quantize(_) | Step::Dequantize { .. } => &mut seconds.edges,
                Step::Conv { .. } => &mut seconds.conv,
                Step::Gap(_) => &mut seconds.gap,
            };
            *kind += (now - start).as_secs_f64();
            start = now;
        })?;
        Ok(())
    }

    /// One pass over `input` (a batch of the f32 network's), keeping the values wherever they
    /// are f32: element `i` is what stands in place of f32 stage `i`'s output, or None where
    /// the pass holds u8 there (inside an int8 run).
    pub fn forward_recorded(&self, input: &[f32]) -> Result<Vec<Option<Vec<f32>>>> {
        let mut recorded: Vec<Option<Vec<f32>>> = vec![None; self.net.stages.len()];
        let mut ws = self.workspace();
        self.execute(input, &mut ws, |k, output| {
            if let (Step::Float(stage) | Step::Dequantize { stage, .. }, Some(y)) = (&self.steps[k], output) {
                recorded[*stage] = Some(y.to_vec());
            }
        })?;
        Ok(recorded)
    }

    /// Whether f32 stage `si` runs as it is in the int8 pass (the others are replaced by int8
    /// steps).
    fn keeps_stage(&self, si: usize) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::Float(i) if *i == si))
    }
}

/// How far the int8 pass's class scores land from the f32 pass's on one seeded batch.
#[derive(Debug, Clone, Serialize)]
pub struct Int8Accuracy {
    /// The model.
    pub model: String,
    /// Images the scales were calibrated on (a batch of its own seed).
    pub calibration_images: usize,
    /// Images compared.
    pub images: usize,
    /// The layers that ran in int8.
    pub int8_layers: Vec<String>,
    /// Bits of the weights (7 on AVX2's `vpmaddubsw` path, 8 on VNNI).
    pub weight_bits: u32,
    /// The int8 convolution kernel, with its instruction-set path.
    pub qconv_kernel: String,
    /// The int8 GAP kernel.
    pub qgap_kernel: String,
    /// Stage whose output are the class scores (the last before softmax).
    pub scores_from: String,
    /// Largest |int8 score − f32 score|.
    pub max_abs_diff: f64,
    /// Mean |int8 score − f32 score|.
    pub mean_abs_diff: f64,
    /// Largest |f32 score|, the scale the differences compare with.
    pub max_abs_score: f64,
    /// Images whose int8 scores put the f32 top-1 class strictly above every other class.
    pub top1_agree: usize,
    /// The smallest lead of the f32 top-1 class over the second, over the batch: an image
    /// whose lead is below the score differences can flip.
    pub min_top1_lead: f64,
    /// How many different classes the f32 pass ranks first over the batch (a batch that all
    /// goes to one class would make agreement easy).
    pub distinct_top1: usize,
}

/// `n` seeded images of [c, h, w] that differ in more than noise: each has its own colour (a
/// per-channel offset in ±1) and its own gradient across the image (a random direction and
/// strength per channel), plus uniform noise of ±0.25. Images of pure i.i.d. noise all look the
/// same after global pooling, and a seeded network ranks them all alike.
pub fn seeded_images(n: usize, [c, h, w]: [usize; 3], seed: u64) -> Vec<f32> {
    let per_image = seeded_uniform(n * c * 3, seed);
    let noise = seeded_uniform(n * c * h * w, seed ^ 0x0153);
    let mut out = Vec::with_capacity(noise.len());
    for (image, params) in per_image.chunks(c * 3).enumerate() {
        for (ch, p) in params.chunks(3).enumerate() {
            let (offset, gy, gx) = (p[0], p[1], p[2]);
            for y in 0..h {
                for x in 0..w {
                    let (fy, fx) = (y as f32 / h as f32 - 0.5, x as f32 / w as f32 - 0.5);
                    let i = ((image * c + ch) * h + y) * w + x;
                    out.push(offset + 2.0 * (gy * fy + gx * fx) + 0.25 * noise[i]);
                }
            }
        }
    }
    out
}

/// The index of the largest value (the first, on ties).
fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |best, (i, &x)| if x > v[best] { i } else { best })
}

/// Runs `model` at `images` images in f32 and with its 1×1 layers in int8 (calibrated on
/// `images` other images), both on the seeded weights of `seed`, and compares their class
/// scores.
pub fn int8_accuracy(model: &Model, images: usize, seed: u64, policy: SimdPolicy) -> Result<Int8Accuracy> {
    let weights = NetworkWeights::seeded(model, seed)?;
    let net = Network::new(model, images, &weights, policy)?;
    let calibration = seeded_images(images, model.input, seed ^ 0xca1b);
    let quantized = QuantizedNetwork::new(&net, &weights, &calibration, policy)?;
    let input = seeded_images(images, model.input, seed ^ 0x7e57);
    let float = net.forward_recorded(&input)?;
    let int8 = quantized.forward_recorded(&input)?;
    let last = net.stages.len() - 1;
    let at = if net.stages[last].runner == "softmax" && last > 0 { last - 1 } else { last };
    let (f, q) = (&float[at], int8[at].as_ref().expect("the scores are dequantized to f32"));
    let classes = f.len() / images;
    let diffs = f.iter().zip(q).map(|(a, b)| (*a as f64 - *b as f64).abs());
    let (max_abs_diff, sum) = diffs.fold((0.0f64, 0.0), |(m, s), d| (m.max(d), s + d));
    let mut top1 = vec![false; classes];
    let mut top1_agree = 0;
    let mut min_top1_lead = f64::INFINITY;
    for (fi, qi) in f.chunks(classes).zip(q.chunks(classes)) {
        let best = argmax(fi);
        let second = fi.iter().enumerate().filter(|&(c, _)| c != best).fold(f32::NEG_INFINITY, |m, (_, &v)| m.max(v));
        min_top1_lead = min_top1_lead.min((fi[best] - second) as f64);
        top1[best] = true;
        top1_agree += qi.iter().enumerate().all(|(c, &v)| c == best || v < qi[best]) as usize;
    }
    let (qconv, qgap) = quantized.kernels();
    Ok(Int8Accuracy {
        model: model.name.to_string(),
        calibration_images: images,
        images,
        int8_layers: quantized.int8_layers.iter().map(|s| s.to_string()).collect(),
        weight_bits: if quantized.conv.weight_range() == crate::quant::WeightRange::Full { 8 } else { 7 },
        qconv_kernel: format!("{qconv} ({})", quantized.conv.isa()),
        qgap_kernel: qgap.to_string(),
        scores_from: net.stages[at].name.clone(),
        max_abs_diff,
        mean_abs_diff: sum / f.len() as f64,
        max_abs_score: f.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64)),
        top1_agree,
        min_top1_lead,
        distinct_top1: top1.iter().filter(|&&t| t).count(),
    })
}

/// Seconds of a quantized pass by kind of step.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Int8PassSeconds {
    /// The f32 stages it keeps (spatial convolutions, pooling, softmax).
    pub float: f64,
    /// Quantizing into int8 and dequantizing out of it, at each int8 run's edges.
    pub edges: f64,
    /// The int8 1×1 convolutions.
    pub conv: f64,
    /// The int8 GAP.
    pub gap: f64,
}

/// One image through a model in f32 and with its 1×1 layers in int8, timed in turn on the
/// current rayon pool: what int8 buys a whole network, and where its time goes.
#[derive(Debug, Clone, Serialize)]
pub struct Int8PassTiming {
    /// The model.
    pub model: String,
    /// Threads of the pool.
    pub threads: usize,
    /// The int8 convolution kernel, with its instruction-set path.
    pub qconv_kernel: String,
    /// The path of the quantizes and dequantizes ([`EdgePath`]).
    pub edge_path: &'static str,
    /// Median seconds of the f32 pass.
    pub f32_seconds: f64,
    /// Of an f32 pass (the mean over the passes timed), the seconds of the stages the int8
    /// pass replaces: its 1×1 layers with their ReLU, and the GAP after them.
    pub f32_replaced_seconds: f64,
    /// Of an f32 pass (likewise), the seconds of the stages both passes run.
    pub f32_kept_seconds: f64,
    /// Median seconds of the int8 pass.
    pub int8_seconds: f64,
    /// Of an int8 pass (the mean over the passes timed), the seconds of each kind of step.
    pub int8_steps: Int8PassSeconds,
    /// The median over rounds (one pass of each, in turn) of the f32 pass's time over the
    /// int8 pass's: above 1, the int8 pass is faster.
    pub speedup: f64,
    /// Rounds timed, a sample of each pass per round.
    pub rounds: usize,
}

/// Times one image through `model` in f32 and with its 1×1 layers in int8 ([`QuantizedNetwork`],
/// scales calibrated on one seeded image of its own), in turn, on the current rayon pool, with
/// the seeded weights of `seed`; every pass also times its steps.
pub fn time_int8_pass(model: &Model, seed: u64, budget: TimingBudget, policy: SimdPolicy) -> Result<Int8PassTiming> {
    let weights = NetworkWeights::seeded(model, seed)?;
    let net = Network::new(model, 1, &weights, policy)?;
    let quantized = QuantizedNetwork::new(&net, &weights, &seeded_images(1, model.input, seed ^ 0xca1b), policy)?;
    let input = seeded_images(1, model.input, seed ^ 0x7e57);
    let (mut ws, mut qws) = (net.workspace(), quantized.workspace());
    let mut stage_seconds = vec![0.0; net.stages.len()];
    let mut steps = Int8PassSeconds::default();
    let (mut f32_passes, mut int8_passes) = (0usize, 0usize);
    let rounds = super::measure::in_turn(
        budget,
        || {
            f32_passes += 1;
            net.forward_timed(&input, &mut ws, &mut stage_seconds)
        },
        || {
            int8_passes += 1;
            quantized.forward_timed(&input, &mut qws, &mut steps)
        },
    )?;
    let replaced: f64 =
        (0..net.stages.len()).filter(|&si| !quantized.keeps_stage(si)).map(|si| stage_seconds[si]).sum();
    let kept = stage_seconds.iter().sum::<f64>() - replaced;
    let per_pass = |s: f64| s / int8_passes.max(1) as f64;
    Ok(Int8PassTiming {
        model: model.name.to_string(),
        threads: rayon::current_num_threads(),
        qconv_kernel: format!("{} ({})", quantized.conv.name(), quantized.conv.isa()),
        edge_path: quantized.edges.name(),
        f32_seconds: rounds.timing(0).median(),
        f32_replaced_seconds: replaced / f32_passes.max(1) as f64,
        f32_kept_seconds: kept / f32_passes.max(1) as f64,
        int8_seconds: rounds.timing(1).median(),
        int8_steps: Int8PassSeconds {
            float: per_pass(steps.float),
            edges: per_pass(steps.edges),
            conv: per_pass(steps.conv),
            gap: per_pass(steps.gap),
        },
        speedup: rounds.speedup(1, 0),
        rounds: rounds.seconds.len(),
    })
}
