//! `nin-bench tiles`: every candidate register tile of the ISA the kernels run, on data in L1,
//! as a share of that ISA's FMA peak timed in turn: the measurement the kernels' tile is
//! chosen by.

use super::common::{CommandResult, to_json};
use crate::measure::time_tiles_against_peak;
use crate::simd::SimdPolicy;
use crate::timing::TimingBudget;

pub(super) fn tiles(quick: bool, json: bool) -> CommandResult {
    let policy = SimdPolicy::from_env();
    let budget = if quick { TimingBudget::QUICK } else { TimingBudget::STANDARD };
    if !json {
        eprintln!("timing the register tiles of {} in turn with its FMA-peak loop...", policy.isa_name());
    }
    let shares = time_tiles_against_peak(policy, budget)?;
    if json {
        println!("{}", to_json(&shares));
        return Ok(());
    }
    println!("Register tiles of the microkernel on data in L1, {}, 1 thread.", policy.isa_name());
    println!("Each tile's share of the FMA-peak loop of the same ISA, timed in turn (median, p90):\n");
    println!("{:<8} {:>9} {:>5} {:>9} {:>8} {:>8}", "tile", "registers", "K", "GFLOP/s", "median", "p90");
    for s in &shares {
        let mark = if s.kernels_tile { "  <- the kernels' tile" } else { "" };
        println!(
            "{:<8} {:>9} {:>5} {:>9.1} {:>7.1}% {:>7.1}%{mark}",
            s.tile,
            s.registers,
            s.k,
            s.gflops,
            100.0 * s.median,
            100.0 * s.p90
        );
    }
    if let Some(best) = shares.iter().max_by(|a, b| a.median.total_cmp(&b.median)) {
        println!("\nHighest median share: {} ({:.1}%).", best.tile, 100.0 * best.median);
    }
    Ok(())
}
