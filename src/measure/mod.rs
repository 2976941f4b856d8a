//! Timing kernels, peers and the machine's limit loops, as `nin-bench run` and the report do it.
//!
//! Everything timed is first made into a [`Call`]: one prepared, checked call with its FLOP and
//! byte counts and its thread count. [`time`] times one call; [`time_in_turn`] times several
//! against each other, a sample of each in every round (a pair of kernels, a kernel against a
//! peer, or a kernel against the loop that measures a limit of the machine). Inputs come from
//! a seeded generator ([`conv_data`], [`ChainData`]), weights are prepared once (outside the timing, timed on their
//! own), and a row carries the figures of the `run --json` contract (docs/architecture.md).

mod call;
mod check;
mod data;
mod hot_pool;
mod limits;

pub use call::{
    Call, ConvData, InTurn, Limit, ProblemData, RunRow, Runner, problem_string, thread_counts, time, time_in_turn,
    with_threads,
};
pub use check::{CheckOutcome, check_all, check_conv, check_gap, check_mlpconv, check_qconv};
pub use data::{CHAIN_SEED, ChainData, conv_bytes, conv_data};
pub use hot_pool::HotPool;
pub use limits::{
    L1TileShare, PeakShare, ThreadScaling, TileShare, time_conv_against_peak, time_conv_scaling,
    time_gap_against_bandwidth, time_qconv_against_int8_peak, time_qgap_against_bandwidth, time_tiles_against_peak,
};
