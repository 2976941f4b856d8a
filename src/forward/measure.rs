//! Timing a forward pass: per image, per stage, per kind of work; and each 1×1 stage against
//! the same kernel timed alone on the same shape.

use std::time::Instant;

use serde::Serialize;

use super::{Category, Network};
use crate::error::{NinError, Result};
use crate::tensor::{seeded_uniform, zeroed};
use crate::timing::{Timing, TimingBudget, measure};

/// One stage's share of a pass.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    /// Stage name (`conv1+relu1`, ...).
    pub name: String,
    /// What runs it.
    pub runner: String,
    /// Kind of work.
    pub category: Category,
    /// Output per image, [C, H, W].
    pub output: [usize; 3],
    /// Median seconds of the stage per pass (the whole batch).
    pub seconds: f64,
    /// Its share of the sum of the stages' medians.
    pub share: f64,
    /// GFLOP/s at the median, for stages that do multiply-accumulates.
    pub gflops: Option<f64>,
    /// Share of the FMA peak, where a peak was given.
    pub peak_fraction: Option<f64>,
    /// 1×1 stages: median seconds of the same kernel on the same shape, timed alone.
    pub alone_seconds: Option<f64>,
    /// 1×1 stages: time inside the pass over time alone (1.0 = no slower inside the pass).
    pub in_pass_over_alone: Option<f64>,
}

/// The total of one kind of work.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryTiming {
    /// Kind of work.
    pub category: Category,
    /// Sum of its stages' median seconds per pass.
    pub seconds: f64,
    /// Share of the pass.
    pub share: f64,
}

/// A forward pass, timed.
#[derive(Debug, Clone, Serialize)]
pub struct PassTiming {
    /// Model name.
    pub model: &'static str,
    /// Images per pass.
    pub batch: usize,
    /// Threads of the pool the pass ran in.
    pub threads: usize,
    /// Passes timed.
    pub passes: usize,
    /// Median seconds per image (a pass's time over its batch).
    pub seconds_per_image: f64,
    /// 90th percentile of seconds per image.
    pub seconds_per_image_p90: f64,
    /// GFLOP/s of the median pass.
    pub gflops: f64,
    /// Per stage.
    pub stages: Vec<StageTiming>,
    /// Per kind of work, in [`Category::ALL`] order (kinds the model lacks left out).
    pub categories: Vec<CategoryTiming>,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    Timing { samples: values.to_vec(), batch: 1 }.median()
}

/// Times passes of `net` on seeded input in the current rayon pool: warm-up, then passes until
/// the budget is spent (at least its `min_samples`, or 3 when one pass outlasts the budget),
/// each stage timed inside each pass. With `alone`, each 1×1 stage is then also timed on its
/// own. `peak_gflops` is the FMA peak of this many threads, for each stage's share.
pub fn time_pass(net: &Network, budget: TimingBudget, alone: bool, peak_gflops: Option<f64>) -> Result<PassTiming> {
    let input = seeded_uniform(net.input_len(), 7);
    let mut ws = net.workspace();
    let stages = net.stages.len();
    let mut per_pass: Vec<Vec<f64>> = Vec::new();
    let warm = Instant::now();
    while per_pass.is_empty() || warm.elapsed() < budget.warm_up {
        let mut seconds = vec![0.0; stages];
        net.forward_timed(&input, &mut ws, &mut seconds)?;
        per_pass.push(seconds);
    }
    let pass_seconds = warm.elapsed().as_secs_f64() / per_pass.len() as f64;
    let min = if pass_seconds > budget.measure.as_secs_f64() { budget.min_samples.min(3) } else { budget.min_samples };
    per_pass.clear();
    let start = Instant::now();
    while per_pass.len() < min || (per_pass.len() < budget.max_samples && start.elapsed() < budget.measure) {
        let mut seconds = vec![0.0; stages];
        net.forward_timed(&input, &mut ws, &mut seconds)?;
        per_pass.push(seconds);
    }
    let batch = net.batch as f64;
    let mut totals: Vec<f64> = per_pass.iter().map(|s| s.iter().sum::<f64>() / batch).collect();
    totals.sort_by(f64::total_cmp);
    let per_image = Timing { samples: totals, batch: 1 };
    let medians: Vec<f64> =
        (0..stages).map(|i| median(&mut per_pass.iter().map(|p| p[i]).collect::<Vec<_>>())).collect();
    let sum: f64 = medians.iter().sum();
    let mut timings = Vec::with_capacity(stages);
    for (i, (stage, &seconds)) in net.stages.iter().zip(&medians).enumerate() {
        let flops = stage.flops as f64 * batch;
        let gflops = (flops > 0.0).then(|| flops / seconds / 1e9);
        let alone_seconds = if alone && stage.category == Category::Conv1x1 {
            let x = seeded_uniform(net.batch * stage.input.iter().product::<usize>(), 11);
            let mut y = zeroed(net.batch * stage.output.iter().product::<usize>());
            let mut failed = None;
            let t = measure(budget, || {
                if let Err(e) = net.run_stage(i, &x, &mut y) {
                    failed = Some(e);
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            Some(t.median())
        } else {
            None
        };
        timings.push(StageTiming {
            name: stage.name.clone(),
            runner: stage.runner.clone(),
            category: stage.category,
            output: stage.output,
            seconds,
            share: seconds / sum,
            gflops,
            peak_fraction: gflops.zip(peak_gflops).map(|(g, p)| g / p),
            alone_seconds,
            in_pass_over_alone: alone_seconds.map(|a| seconds / a),
        });
    }
    let categories = Category::ALL
        .iter()
        .filter(|c| net.stages.iter().any(|s| s.category == **c))
        .map(|&category| {
            let seconds = timings.iter().filter(|t| t.category == category).map(|t| t.seconds).sum::<f64>();
            CategoryTiming { category, seconds, share: seconds / sum }
        })
        .collect();
    Ok(PassTiming {
        model: net.model.name,
        batch: net.batch,
        threads: rayon::current_num_threads(),
        passes: per_pass.len(),
        seconds_per_image: per_image.median(),
        seconds_per_image_p90: per_image.quantile(0.9),
        gflops: net.flops() as f64 / (per_image.median() * batch) / 1e9,
        stages: timings,
        categories,
    })
}

/// The whole-network peer's time beside ours, timed in turn.
#[derive(Debug, Clone, Serialize)]
pub struct PeerTiming {
    /// Engine and version (`tract 0.23.9`).
    pub engine: String,
    /// Its median seconds per image.
    pub seconds_per_image: f64,
    /// Its 90th percentile of seconds per image.
    pub seconds_per_image_p90: f64,
    /// Our median seconds per image in the same rounds.
    pub ours_seconds_per_image: f64,
    /// The median over rounds (one pass of each, in turn) of its time over ours: above 1, ours
    /// is faster.
    pub ours_speedup: f64,
}

/// [`crate::timing::measure_in_turn`] of two passes that can fail: the first error either
/// returns ends the measurement's result (the timing itself runs to its end).
pub(super) fn in_turn(
    budget: TimingBudget,
    mut f: impl FnMut() -> Result<()>,
    mut g: impl FnMut() -> Result<()>,
) -> Result<crate::timing::Rounds> {
    let (mut f_failed, mut g_failed) = (None, None);
    let runner = |calls: usize, pass: &mut dyn FnMut() -> Result<()>, failed: &mut Option<NinError>| {
        crate::timing::time_calls(calls, || {
            if let Err(e) = pass() {
                failed.get_or_insert(e);
            }
        })
    };
    let rounds = crate::timing::measure_in_turn(
        budget,
        &mut [&mut |n| runner(n, &mut f, &mut f_failed), &mut |n| runner(n, &mut g, &mut g_failed)],
    );
    match f_failed.or(g_failed) {
        Some(e) => Err(e),
        None => Ok(rounds),
    }
}

/// What [`evaluate`] is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct ForwardOptions {
    /// Images per pass.
    pub batch: usize,
    /// Threads of the pool the passes run in.
    pub threads: usize,
    /// How long to time.
    pub budget: TimingBudget,
    /// Check every stage against the f64 reference (ours, and the peer's when there is one).
    pub verify: bool,
    /// Time each 1×1 stage alone as well.
    pub alone: bool,
    /// Run the peer engine, where the build has one.
    pub peer: bool,
    /// FMA peak of `threads` threads, for shares of the peak.
    pub peak_gflops: Option<f64>,
}

/// Everything `nin-bench forward` reports about one model at one batch and thread count.
#[derive(Debug, Clone, Serialize)]
pub struct ForwardResult {
    /// Model name.
    pub model: &'static str,
    /// Images per pass.
    pub batch: usize,
    /// Threads.
    pub threads: usize,
    /// ISA path of our kernels.
    pub isa: String,
    /// Parameters (weights + biases).
    pub params: u64,
    /// MiB of fp32 weights.
    pub weights_mib: f64,
    /// GFLOPs per image (2·MACs).
    pub gflop_per_image: f64,
    /// Our pass, timed.
    pub timing: PassTiming,
    /// The engine beside it (None where the build has none or it was not asked for).
    pub peer: Option<PeerTiming>,
    /// Why there is no peer, when there is none.
    pub peer_missing: Option<String>,
    /// Our stages against the reference (with `verify`).
    pub checks: Option<Vec<super::StageCheck>>,
    /// The peer's stages against the reference fed its own inputs (with `verify`).
    pub peer_checks: Option<Vec<super::StageCheck>>,
    /// With `verify` and a peer: the largest |ours − peer| over the final outputs.
    pub output_max_difference: Option<f64>,
}

impl ForwardResult {
    /// Whether every check that ran passed.
    pub fn passed(&self) -> bool {
        [&self.checks, &self.peer_checks]
            .iter()
            .all(|c| c.as_ref().is_none_or(|c| c.iter().all(|s| s.mismatch.is_none())))
    }
}

/// Builds `model` for `options.batch` images with seeded weights, then in a pool of
/// `options.threads`: verifies (if asked), times our pass per stage, and times the peer engine
/// in turn with it.
pub fn evaluate(model: &crate::model::Model, options: ForwardOptions) -> Result<ForwardResult> {
    let weights = super::NetworkWeights::seeded(model, 1)?;
    let policy = crate::simd::SimdPolicy::from_env();
    let net = Network::new(model, options.batch, &weights, policy)?;
    let stats = model.stats()?;
    crate::measure::with_threads(options.threads, || {
        let input = seeded_uniform(net.input_len(), 3);
        let checks = if options.verify { Some(net.verify(&weights, &input)?) } else { None };
        let (peer, peer_missing, peer_checks, output_max_difference) = if options.peer {
            peer_run(&net, &weights, &input, options)?
        } else {
            (None, Some("not asked for".to_string()), None, None)
        };
        let timing = time_pass(&net, options.budget, options.alone, options.peak_gflops)?;
        Ok(ForwardResult {
            model: model.name,
            batch: options.batch,
            threads: options.threads,
            isa: policy.isa_name().to_string(),
            params: stats.total_params,
            weights_mib: stats.size_mib_fp32,
            gflop_per_image: stats.total_flops as f64 / 1e9,
            timing,
            peer,
            peer_missing,
            checks,
            peer_checks,
            output_max_difference,
        })
    })?
}

type PeerOutcome = (Option<PeerTiming>, Option<String>, Option<Vec<super::StageCheck>>, Option<f64>);

#[cfg(not(feature = "tract"))]
fn peer_run(_: &Network, _: &super::NetworkWeights, _: &[f32], _: ForwardOptions) -> Result<PeerOutcome> {
    Ok((None, Some("this build has no peer engine: build with `--features tract`".to_string()), None, None))
}

#[cfg(feature = "tract")]
fn peer_run(
    net: &Network,
    weights: &super::NetworkWeights,
    input: &[f32],
    options: ForwardOptions,
) -> Result<PeerOutcome> {
    use super::tract_peer::{NAME, TractNetwork, VERSION};
    let (checks, difference) = if options.verify {
        let every = TractNetwork::new(net, weights, options.threads, true)?;
        let outputs = every.run_every_stage(input)?;
        let mut ws = net.workspace();
        let ours = net.forward(input, &mut ws)?;
        let last = outputs.last().expect("a network has stages");
        let difference = ours.iter().zip(last).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
        (Some(net.check_outputs(weights, input, &outputs)), Some(difference))
    } else {
        (None, None)
    };
    let tract = TractNetwork::new(net, weights, options.threads, false)?;
    let mut ws = net.workspace();
    let rounds = in_turn(options.budget, || net.forward(input, &mut ws).map(|_| ()), || tract.run(input).map(|_| ()))?;
    let (ours, theirs) = (rounds.timing(0), rounds.timing(1));
    let batch = net.batch as f64;
    let peer = PeerTiming {
        engine: format!("{NAME} {VERSION}"),
        seconds_per_image: theirs.median() / batch,
        seconds_per_image_p90: theirs.quantile(0.9) / batch,
        ours_seconds_per_image: ours.median() / batch,
        ours_speedup: rounds.speedup(0, 1),
    };
    Ok((Some(peer), None, checks, difference))
}

/// Two models' passes timed in turn (one pass of each per round) at batch 1 on the current
/// pool: how long one image takes through each at the same moments of a shared machine.
#[derive(Debug, Clone, Serialize)]
pub struct ModelsInTurn {
    /// The first model.
    pub model: &'static str,
    /// The one it is timed against.
    pub against: &'static str,
    /// Median seconds per image of the first.
    pub seconds: f64,
    /// Median seconds per image of the second.
    pub against_seconds: f64,
    /// Median over rounds of the first's time over the second's (below 1: the first is faster).
    pub time_ratio: f64,
}

/// Times one image through `model` and `against` in turn (seeded weights, our passes).
pub fn models_in_turn(
    model: &crate::model::Model,
    against: &crate::model::Model,
    budget: TimingBudget,
) -> Result<ModelsInTurn> {
    let policy = crate::simd::SimdPolicy::from_env();
    let build = |m: &crate::model::Model| -> Result<Network> {
        Network::new(m, 1, &super::NetworkWeights::seeded(m, 1)?, policy)
    };
    let (a, b) = (build(model)?, build(against)?);
    let (xa, xb) = (seeded_uniform(a.input_len(), 3), seeded_uniform(b.input_len(), 3));
    let (mut wa, mut wb) = (a.workspace(), b.workspace());
    let rounds = in_turn(budget, || a.forward(&xa, &mut wa).map(|_| ()), || b.forward(&xb, &mut wb).map(|_| ()))?;
    let (ta, tb) = (rounds.timing(0), rounds.timing(1));
    Ok(ModelsInTurn {
        model: model.name,
        against: against.name,
        seconds: ta.median(),
        against_seconds: tb.median(),
        time_ratio: rounds.speedup(1, 0),
    })
}
