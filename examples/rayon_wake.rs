//! What a bare `rayon::join` costs on this machine, and how that cost grows when the other
//! worker has been idle for a while (it sleeps, and must be woken): the measurement behind
//! `nin_bench::measure::HotPool` (see docs/tuning.md, "Threads").
//!
//! `cargo run --release --example rayon_wake`: for each idle time before a call and each
//! amount of work per side, the time a join of two equal halves takes beyond the work of one
//! half (median and 90th percentile of 400 calls, in µs). Near 0 the halves ran side by side;
//! near the work itself the second half waited for a worker that was asleep, or ran on the
//! calling thread after the first.

use std::time::{Duration, Instant};

/// Busy work for `micros` µs on the calling thread.
fn spin_for(micros: f64) {
    let start = Instant::now();
    while start.elapsed().as_secs_f64() * 1e6 < micros {
        std::hint::spin_loop();
    }
}

/// Median and 90th percentile of `values`.
fn median_p90(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[values.len() * 9 / 10])
}

fn main() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool of 2 threads");
    println!("{:>14} {:>14} {:>12} {:>10}", "idle before", "work per half", "median", "p90");
    pool.install(|| {
        for idle_us in [0u64, 20, 200, 2000] {
            for work_us in [0.0, 50.0, 500.0] {
                let overheads = (0..400)
                    .map(|_| {
                        if idle_us > 0 {
                            std::thread::sleep(Duration::from_micros(idle_us));
                        }
                        let start = Instant::now();
                        rayon::join(|| spin_for(work_us), || spin_for(work_us));
                        start.elapsed().as_secs_f64() * 1e6 - work_us
                    })
                    .collect();
                let (median, p90) = median_p90(overheads);
                println!("{:>11} µs {:>11} µs {median:>9.1} µs {p90:>7.1} µs", idle_us, work_us);
            }
        }
    });
}
