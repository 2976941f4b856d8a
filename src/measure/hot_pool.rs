//! A rayon pool whose workers spin on its queues while a measurement runs, so that a call's
//! parallel work starts on every thread at once instead of waiting for a sleeping worker.
//!
//! Why: a rayon worker that finds no work spins for a few microseconds and then sleeps on a
//! futex. On the virtual machines this suite runs on, waking it again took from 40 µs to more
//! than 500 µs (`rayon::join` of two 500 µs halves after 2 ms idle finished in 1 ms: the
//! sleeping worker never started). A timed call of 50 µs to 1 ms then ran mostly on one thread,
//! and `rayon-tiled` at 2 threads read 1.0–1.1× its 1-thread speed on layers that split evenly,
//! at other moments 1.9× (docs/tuning.md). onnxruntime and OpenBLAS keep their threads spinning
//! between calls for the same reason. Here every worker runs a spinner that executes the
//! pool's jobs as they appear (`rayon::yield_now`), for the length of one measurement only:
//! between measurements the workers sleep, and a pool of other threads timed in turn is not
//! slowed by spinners of this one.
//!
//! Worker i is also pinned to the i-th CPU the process may run on (Linux). Spinners woken for
//! a short sample were at times both placed on one CPU, where Linux's balancer leaves
//! threads that ran a moment ago (they are "cache hot") for milliseconds: 2 threads timed in
//! turn with 1 then read 1.0× for whole measurements (1x192x28x28:32, three runs of three),
//! and 1.61–1.68× once pinned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::error::{NinError, Result};

/// How long [`HotPool::install`] waits for every worker to start spinning before it runs the
/// measurement anyway (a worker that has not started by then only costs speed, never a result).
const START_TIMEOUT: Duration = Duration::from_millis(200);

/// A rayon pool of a fixed number of threads that spins while [`HotPool::install`] runs.
#[derive(Debug)]
pub struct HotPool {
    pool: rayon::ThreadPool,
    threads: usize,
}

impl HotPool {
    /// A pool of `threads` threads (at least 1).
    pub fn new(threads: usize) -> Result<Self> {
        let threads = threads.max(1);
        let cpus = allowed_cpus();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .start_handler(move |index| pin_to(cpus.get(index % cpus.len().max(1)).copied()))
            .build()
            .map_err(|e| NinError::Shape {
                what: "thread pool".to_string(),
                reason: format!("cannot start {threads} threads: {e}"),
            })?;
        Ok(HotPool { pool, threads })
    }

    /// Runs `f` inside the pool (as `rayon::ThreadPool::install` does) while every worker of a
    /// pool of 2 or more threads spins on the pool's queues, executing its jobs as they come:
    /// `f` itself is picked up by one spinner and the jobs it splits off by the others. The
    /// spinners are started, and waited for, before `f` runs, and stopped when it returns.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        if self.threads == 1 {
            return self.pool.install(f);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let (spin_stop, spin_started) = (Arc::clone(&stop), Arc::clone(&started));
        // One spinner on each worker (a broadcast job per thread, never two on one thread).
        self.pool.spawn_broadcast(move |_| {
            spin_started.fetch_add(1, Ordering::AcqRel);
            while !spin_stop.load(Ordering::Acquire) {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::hint::spin_loop();
                }
            }
        });
        let waiting = Instant::now();
        while started.load(Ordering::Acquire) < self.threads && waiting.elapsed() < START_TIMEOUT {
            std::thread::yield_now();
        }
        /// Stops the spinners however `f` ends (a panic included), so that no worker spins on.
        struct StopOnDrop(Arc<AtomicBool>);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let _stop = StopOnDrop(stop);
        self.pool.install(f)
    }
}

/// The CPUs this process may run on, in order (empty where that cannot be read).
fn allowed_cpus() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity writes at most
        // size_of::<cpu_set_t>() bytes into it; CPU_ISSET reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize).filter(|&cpu| libc::CPU_ISSET(cpu, &set)).collect()
        }
    }
    #[cfg(not(target_os = "linux"))]
    Vec::new()
}

/// Pins the calling thread to `cpu` (Linux; nothing elsewhere or without a CPU). A failure
/// only costs speed, so it is ignored.
fn pin_to(cpu: Option<usize>) {
    #[cfg(target_os = "linux")]
    if let Some(cpu) = cpu {
        // SAFETY: as in `allowed_cpus`; CPU_SET writes inside the set (cpu < CPU_SETSIZE, as
        // it came from `allowed_cpus`).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_work_runs_on_the_pool_and_splits_across_its_threads() {
        let pool = HotPool::new(2).unwrap();
        let (inside, threads, sum) = pool.install(|| {
            let sum: u64 =
                rayon::iter::ParallelIterator::sum(rayon::iter::IntoParallelIterator::into_par_iter(0..1000u64));
            (rayon::current_thread_index().is_some(), rayon::current_num_threads(), sum)
        });
        assert!(inside && threads == 2 && sum == 999 * 1000 / 2);
        // Again: the spinners of the first call stopped and new ones start.
        assert_eq!(pool.install(rayon::current_num_threads), 2);
    }

    #[test]
    fn a_one_thread_pool_runs_without_spinners() {
        let pool = HotPool::new(1).unwrap();
        assert_eq!(pool.install(rayon::current_num_threads), 1);
    }
}
