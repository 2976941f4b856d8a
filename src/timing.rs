//! Wall-clock timing with warm-up and repeated samples, robust to a noisy shared machine.
//!
//! Each sample times a batch of calls long enough (≥ 1 ms) for the clock's resolution and the
//! loop overhead not to matter; the statistics are over per-call times of the samples. On a
//! shared machine the distribution has a long slow tail, so we quote the median and the 10th
//! percentile of time (= the 90th percentile of throughput, "the quietest tenth"), not the mean.

use std::time::{Duration, Instant};

use serde::Serialize;

/// How long to measure.
#[derive(Debug, Clone, Copy)]
pub struct TimingBudget {
    /// Warm-up time (caches, page faults, frequency).
    pub warm_up: Duration,
    /// Measuring time, spread over the samples.
    pub measure: Duration,
    /// At least this many samples, even past the time budget (but see [`measure`]: 3 for a
    /// call slower than the whole budget).
    pub min_samples: usize,
    /// At most this many samples.
    pub max_samples: usize,
}

impl TimingBudget {
    /// About 0.1 s per measurement: for `--quick` runs and tests.
    pub const QUICK: TimingBudget = TimingBudget {
        warm_up: Duration::from_millis(20),
        measure: Duration::from_millis(80),
        min_samples: 5,
        max_samples: 50,
    };
    /// About 25 ms: for one-off costs such as weight preparation.
    pub const BRIEF: TimingBudget = TimingBudget {
        warm_up: Duration::from_millis(5),
        measure: Duration::from_millis(20),
        min_samples: 3,
        max_samples: 20,
    };
    /// About 1 s per measurement: the default.
    pub const STANDARD: TimingBudget = TimingBudget {
        warm_up: Duration::from_millis(150),
        measure: Duration::from_millis(850),
        min_samples: 10,
        max_samples: 200,
    };
}

/// Per-call times of one measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Seconds per call, one value per sample, sorted ascending.
    pub samples: Vec<f64>,
    /// Calls per sample.
    pub batch: usize,
}

impl Timing {
    /// The q-quantile (0 ≤ q ≤ 1) of the per-call time, by linear interpolation.
    pub fn quantile(&self, q: f64) -> f64 {
        let s = &self.samples;
        let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
    }

    /// Median seconds per call.
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// Seconds per call of the fastest tenth: throughput at the 90th percentile.
    pub fn p10(&self) -> f64 {
        self.quantile(0.1)
    }

    /// Fastest sample.
    pub fn min(&self) -> f64 {
        self.samples[0]
    }

    /// Slowest sample.
    pub fn max(&self) -> f64 {
        self.samples[self.samples.len() - 1]
    }
}

/// Times `f`: warm-up, then samples of `batch` calls each until the budget is spent. A call
/// that takes longer than the whole measuring budget (the naive kernel on a large layer) gets
/// 3 samples instead of `min_samples`: enough for a median, and the run stays bounded.
pub fn measure(budget: TimingBudget, mut f: impl FnMut()) -> Timing {
    let (batch, per_call) = warm_up(budget.warm_up, &mut f);
    let min_samples = min_samples(budget, per_call);
    let mut samples = Vec::new();
    let measuring = Instant::now();
    while samples.len() < min_samples || (samples.len() < budget.max_samples && measuring.elapsed() < budget.measure) {
        samples.push(sample(&mut f, batch));
    }
    samples.sort_by(f64::total_cmp);
    Timing { samples, batch }
}

/// Calls `f` for `time` (at least once); returns the calls per sample that make a sample last
/// about 1 ms, and the seconds per call seen.
fn warm_up(time: Duration, f: &mut dyn FnMut()) -> (usize, f64) {
    let start = Instant::now();
    let mut calls = 0u64;
    while calls == 0 || start.elapsed() < time {
        f();
        calls += 1;
    }
    let per_call = start.elapsed().as_secs_f64() / calls as f64;
    (((1e-3 / per_call).ceil() as usize).clamp(1, 1 << 20), per_call)
}

/// Samples to take at least: 3 when one call outlasts the whole measuring budget.
fn min_samples(budget: TimingBudget, per_call: f64) -> usize {
    if per_call > budget.measure.as_secs_f64() { budget.min_samples.min(3) } else { budget.min_samples }
}

/// Seconds per call of one sample of `batch` calls.
fn sample(f: &mut dyn FnMut(), batch: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..batch {
        f();
    }
    t.elapsed().as_secs_f64() / batch as f64
}

/// Samples of several runners taken in rounds (see [`measure_in_turn`]).
#[derive(Debug, Clone)]
pub struct Rounds {
    /// Per round, each runner's seconds per call, in the runners' order.
    pub seconds: Vec<Vec<f64>>,
    /// Each runner's calls per sample.
    pub batches: Vec<usize>,
}

impl Rounds {
    /// Runner `i`'s samples as a [`Timing`] (sorted).
    pub fn timing(&self, i: usize) -> Timing {
        let mut samples: Vec<f64> = self.seconds.iter().map(|round| round[i]).collect();
        samples.sort_by(f64::total_cmp);
        Timing { samples, batch: self.batches[i] }
    }

    /// The median over rounds of `ratio(round)`, a quantity computed from one round's times
    /// (such as one runner's time over another's), so the drift between rounds cancels out.
    pub fn median_of(&self, ratio: impl Fn(&[f64]) -> f64) -> f64 {
        let mut values: Vec<f64> = self.seconds.iter().map(|round| ratio(round)).collect();
        values.sort_by(f64::total_cmp);
        Timing { samples: values, batch: 1 }.median()
    }

    /// The median over rounds of runner `other`'s time over runner `i`'s: the speed-up of `i`
    /// over `other`, with the machine's drift from one second to the next cancelled out.
    pub fn speedup(&self, i: usize, other: usize) -> f64 {
        self.median_of(|round| round[other] / round[i])
    }
}

/// Times runners against each other: each warms up and picks its batch, then every round
/// takes one sample of each, in order, until the budget is spent (at least `min_samples`
/// rounds), so all of them see the same moments of a shared machine. `runner(calls)` makes
/// `calls` calls and returns how long they took, timed by the runner itself ([`time_calls`])
/// inside whatever set-up a sample needs, so that the set-up stays out of the figure
/// (entering a thread pool of another size and waiting for its workers to spin up, which on
/// a virtual machine can take longer than the calls). With four runners, a
/// kernel on 1 and 2 threads and the FMA-peak loop on 1 and 2 threads, every round compares
/// the kernel's speed-up from the threads with the machine's in the same moments.
pub fn measure_in_turn(budget: TimingBudget, runners: &mut [&mut dyn FnMut(usize) -> Duration]) -> Rounds {
    let count = runners.len().max(1);
    let mut batches = vec![1; runners.len()];
    let mut per_call_total = 0.0;
    for (runner, batch) in runners.iter_mut().zip(&mut batches) {
        let (b, per_call) = warm_up_batches(budget.warm_up / count as u32, &mut **runner);
        *batch = b;
        per_call_total += per_call;
    }
    let min_samples = min_samples(budget, per_call_total);
    let mut seconds = Vec::new();
    let measuring = Instant::now();
    while seconds.len() < min_samples || (seconds.len() < budget.max_samples && measuring.elapsed() < budget.measure) {
        let round =
            runners.iter_mut().zip(&batches).map(|(runner, &batch)| sample_batch(&mut **runner, batch)).collect();
        seconds.push(round);
    }
    Rounds { seconds, batches }
}

/// [`warm_up`] for `f(calls)`: batches of 1, 2, 4, ... calls for `time`, the seconds per call
/// taken from the last batch, so a set-up per batch (entering a thread pool) weighs little.
fn warm_up_batches(time: Duration, f: &mut dyn FnMut(usize) -> Duration) -> (usize, f64) {
    let start = Instant::now();
    let mut calls = 1;
    loop {
        let per_call = f(calls).as_secs_f64() / calls as f64;
        if start.elapsed() >= time || calls >= 1 << 20 {
            return (((1e-3 / per_call).ceil() as usize).clamp(1, 1 << 20), per_call);
        }
        calls *= 2;
    }
}

/// Seconds per call of one sample of `batch` calls made and timed by `f(batch)`.
fn sample_batch(f: &mut dyn FnMut(usize) -> Duration, batch: usize) -> f64 {
    f(batch).as_secs_f64() / batch as f64
}

/// `f` called `calls` times, and how long that took: the body of a runner of
/// [`measure_in_turn`].
pub fn time_calls(calls: usize, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..calls {
        f();
    }
    t.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_sorted_samples() {
        let t = Timing { samples: vec![1.0, 2.0, 3.0, 4.0, 5.0], batch: 1 };
        assert_eq!(t.median(), 3.0);
        assert_eq!(t.quantile(0.25), 2.0);
        assert!((t.p10() - 1.4).abs() < 1e-12);
        assert_eq!((t.min(), t.max()), (1.0, 5.0));
    }

    #[test]
    fn batches_are_made_by_the_runner_in_the_sizes_the_warm_up_chose() {
        let (mut f_batches, mut g_batches) = (Vec::new(), Vec::new());
        let budget = TimingBudget { min_samples: 4, ..TimingBudget::QUICK };
        let rounds = measure_in_turn(
            budget,
            &mut [
                &mut |calls| {
                    f_batches.push(calls);
                    time_calls(calls, || {
                        std::hint::black_box((0..100).sum::<usize>());
                    })
                },
                &mut |calls| {
                    g_batches.push(calls);
                    time_calls(calls, || {})
                },
            ],
        );
        let (tf, tg) = (rounds.timing(0), rounds.timing(1));
        // Warm-up batches double (1, 2, 4, ...); every sample after them is one batch of the
        // size the timing reports.
        let f_samples = &f_batches[f_batches.len() - tf.samples.len()..];
        assert!(f_batches[..f_batches.len() - tf.samples.len()].windows(2).all(|w| w[1] == 2 * w[0]));
        assert!(f_samples.iter().all(|&c| c == tf.batch) && tf.batch > 1);
        assert!(g_batches[g_batches.len() - tg.samples.len()..].iter().all(|&c| c == tg.batch));
        assert!(tf.samples.len() >= 4 && tf.samples.len() == tg.samples.len());
        assert!(rounds.speedup(0, 1) > 0.0);
    }

    #[test]
    fn a_sample_is_the_time_the_runner_reports_not_its_set_up() {
        // A set-up of 2 ms per sample (a pool spinning up) and calls the runner times at
        // exactly 10 µs each: every sample reads 10 µs per call.
        let budget = TimingBudget { min_samples: 3, max_samples: 3, ..TimingBudget::QUICK };
        let rounds = measure_in_turn(
            budget,
            &mut [&mut |calls| {
                std::thread::sleep(Duration::from_millis(2));
                Duration::from_micros(10 * calls as u64)
            }],
        );
        assert!(rounds.timing(0).samples.iter().all(|&s| (s - 10e-6).abs() < 1e-12), "{:?}", rounds.timing(0));
    }

    #[test]
    fn rounds_take_one_sample_of_every_runner_in_order_and_ratios_come_from_one_round() {
        let order = std::cell::RefCell::new(Vec::new());
        let budget = TimingBudget { min_samples: 5, ..TimingBudget::QUICK };
        let runner = |i: usize, calls: usize| {
            order.borrow_mut().push(i);
            time_calls(calls, || {})
        };
        let rounds =
            measure_in_turn(budget, &mut [&mut |c| runner(0, c), &mut |c| runner(1, c), &mut |c| runner(2, c)]);
        assert!(rounds.seconds.len() >= 5);
        // After the warm-ups, the runners go 0, 1, 2, 0, 1, 2, ...
        let order = order.borrow();
        let measured = &order[order.len() - 3 * rounds.seconds.len()..];
        assert!(measured.chunks_exact(3).all(|r| r == [0, 1, 2]), "{measured:?}");
        for i in 0..3 {
            let t = rounds.timing(i);
            assert_eq!((t.samples.len(), t.batch), (rounds.seconds.len(), rounds.batches[i]));
            assert!(t.samples.windows(2).all(|w| w[0] <= w[1]));
        }
        // A per-round quantity sees one round's times: runner 0 over itself is exactly 1.
        assert_eq!(rounds.median_of(|r| r[0] / r[0]), 1.0);
        assert_eq!(rounds.speedup(1, 1), 1.0);
    }

    #[test]
    fn measure_respects_min_samples_and_sorts() {
        let mut calls = 0;
        let t = measure(TimingBudget { min_samples: 7, ..TimingBudget::QUICK }, || calls += 1);
        assert!(t.samples.len() >= 7 && calls >= 7);
        assert!(t.samples.windows(2).all(|w| w[0] <= w[1]));
    }
}
