//! The sections of `report.md` around the measurements: title, targets, machine, verification.

use std::fmt::Write;

use super::cells::bytes;
use crate::report::rows::{PairedRatio, Report};
use crate::report::targets;

/// The title, how the report was made, and the probe's warnings.
pub(super) fn title(w: &mut String, r: &Report) {
    let m = &r.machine;
    let _ = writeln!(w, "# nin-bench report: `{}`\n", m.id);
    let _ = writeln!(
        w,
        "Made by `nin-bench report{}` on {} at commit `{}` with {}. All figures measured in this run; \
         medians unless marked p90 (the quietest tenth of samples).\n",
        if r.mode == "quick" { " --quick" } else { "" },
        m.date_utc,
        m.git_commit,
        m.rustc
    );
    if !r.probe_warnings.is_empty() {
        let shown: Vec<&str> = r.probe_warnings.iter().take(5).map(String::as_str).collect();
        let more = r.probe_warnings.len().saturating_sub(shown.len());
        let _ = writeln!(
            w,
            "> **The probe is wrong:** {} rows ran above {:.0}% of the peak they are measured against, which no \
             kernel can; their shares are left out. {}{}\n",
            r.probe_warnings.len(),
            100.0 * crate::report::sanity::ABOVE_PEAK_LIMIT,
            shown.join("; "),
            if more > 0 { format!("; and {more} more.") } else { ".".into() }
        );
    }
}

/// The targets table and the control ratio below it.
pub(super) fn targets(w: &mut String, r: &Report) {
    let _ = writeln!(w, "\n## Performance targets\n");
    let _ = writeln!(w, "| target | measured in this run (and the miss furthest from its bar) | met |");
    let _ = writeln!(w, "| --- | --- | --- |");
    for t in &r.targets {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        let _ = writeln!(w, "| {} | {} | {met} |", t.target, t.measured);
    }
    w.push_str(&control(&r.paired));
}

/// The machine and its measured limits.
pub(super) fn machine(w: &mut String, r: &Report) {
    let m = &r.machine;
    let _ = writeln!(w);
    let _ = writeln!(w, "## Machine\n");
    let _ = writeln!(w, "| CPU | cores | SIMD detected | pulp path | `blocked-wide` compiled for | peers ran with |");
    let _ = writeln!(w, "| --- | --- | --- | --- | --- | --- |");
    let peers: Vec<String> = m.peer_isas.iter().map(|q| format!("{}: {}", q.name, q.isa)).collect();
    let _ = writeln!(
        w,
        "| {} | {} | {} | {} | {} | {} |\n",
        m.cpu_model,
        m.cores,
        m.simd_features.join(", "),
        m.pulp_path,
        m.wide_isa,
        peers.join("; ")
    );
    let isa_peaks: Vec<String> = m.isa_peaks.iter().map(|p| format!("{} {:.1}", p.isa, p.gflops)).collect();
    let _ = writeln!(
        w,
        "FMA peak of each ISA path the kernels can run, 1 thread (GFLOP/s): {}; every share of the peak is \
         against the widest ({}). The FMA peaks below are the higher of a probe before and one after the timings.\n",
        isa_peaks.join(", "),
        m.isa_peaks.last().map_or("-", |p| p.isa)
    );
    let _ = writeln!(w, "| measured limit | value |");
    let _ = writeln!(w, "| --- | --- |");
    let _ = writeln!(w, "| FMA peak, 1 thread | {:.1} GFLOP/s |", m.fma_peak_gflops);
    let _ = writeln!(w, "| FMA peak, {} threads | {:.1} GFLOP/s |", m.threads_all, m.fma_peak_gflops_all_threads);
    for b in &m.bandwidth {
        let _ = writeln!(
            w,
            "| read bandwidth, {} ({} working set of {}), 1 thread | {:.1} GB/s |",
            b.level,
            bytes(b.working_set_bytes),
            bytes(b.capacity_bytes),
            b.gbps
        );
    }
}

/// Verification, the roofline chart, and every miss of the targets.
pub(super) fn verification(w: &mut String, r: &Report) {
    let _ = writeln!(w, "\n## Verification\n");
    if r.verified == 0 {
        let _ = writeln!(w, "No kernel ran on a problem in this run: the filter selected none.");
    } else if r.failures.is_empty() {
        let _ =
            writeln!(w, "All {} kernel × problem pairs passed their check before timing: {}.", r.verified, r.checks());
    } else {
        let _ = writeln!(w, "{} of {} pairs FAILED and were not timed:\n", r.failures.len(), r.verified);
        for f in &r.failures {
            let _ = writeln!(w, "- {f}");
        }
    }
    let _ = writeln!(w, "\n## Roofline\n\n![roofline](roofline.svg)");
    w.push_str(&every_miss(&r.targets));
}

/// The misses the targets table only counts, listed in full: a list per target that missed
/// more than one check; empty when none did.
fn every_miss(all: &[targets::Target]) -> String {
    let long: Vec<_> = all.iter().filter(|t| t.missed.len() > 1).collect();
    let mut w = String::new();
    if !long.is_empty() {
        let _ =
            writeln!(w, "\n## Every miss\n\nThe targets table names each target's worst miss; here are all of them.");
        for t in long {
            let number = t.target.split('.').next().unwrap_or(&t.target);
            let _ = writeln!(w, "\n- target {number}, {} misses:", t.missed.len());
            for miss in &t.missed {
                let _ = writeln!(w, "  - {miss}");
            }
        }
    }
    w
}

/// The control below the targets: the range of the ratios of a kernel timed in turn against
/// itself ([`PairedRatio::is_control`]), the band within which two equal runners land in this
/// run; empty when the report timed none.
fn control(paired: &[PairedRatio]) -> String {
    let ratios: Vec<f64> = paired.iter().filter(|c| c.is_control()).map(|c| c.speedup).collect();
    let (Some(low), Some(high)) = (ratios.iter().copied().reduce(f64::min), ratios.iter().copied().reduce(f64::max))
    else {
        return String::new();
    };
    let range = if format!("{low:.2}") == format!("{high:.2}") {
        format!("{low:.2}×")
    } else {
        format!("{low:.2}–{high:.2}×")
    };
    let layers = match ratios.len() {
        1 => "its one layer".to_string(),
        n => format!("the {n} layers"),
    };
    format!(
        "\nControl: our fastest kernel on each layer timed in turn against itself, as every ratio \
         above is timed, measured {range} on {layers}, 1 thread. Two equal runners landed that far \
         apart in this run: a ratio inside that band is within its noise.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{KernelDecl, KernelId, Op, Threads};
    use crate::measure::Runner;
    use crate::peers::Peer;
    use crate::report::rows::Against;
    use crate::report::targets::Target;

    fn target(name: &str, misses: usize) -> Target {
        Target {
            target: name.into(),
            measured: String::new(),
            met: Some(misses == 0),
            missed: (0..misses).map(|i| format!("miss {i}")).collect(),
            worst: (misses > 0).then(|| "miss 0".into()),
        }
    }

    fn decl(name: &'static str) -> &'static KernelDecl {
        Box::leak(Box::new(KernelDecl {
            name,
            op: Op::Conv1x1,
            threads: Threads::Single,
            roles: &[],
            layouts: &[],
            description: "a test's kernel",
        }))
    }

    fn pair(kernel: KernelId, against: Against, speedup: f64) -> PairedRatio {
        let problem = "1x8x8x8:8".parse().unwrap();
        PairedRatio { problem, threads: 1, kernel, against, speedup }
    }

    #[test]
    fn control_gives_the_range_of_the_kernels_timed_against_themselves_only() {
        let (direct, gemm) = (KernelId::of(decl("direct")), KernelId::of(decl("gemm")));
        let kernel = |k| Against::Runner(Runner::Kernel(k));
        let paired = [
            pair(direct, kernel(direct), 0.96),
            pair(direct, Against::Runner(Runner::Peer(Peer::GemmCrate)), 0.80),
            pair(gemm, kernel(gemm), 1.03),
            pair(gemm, kernel(direct), 1.20),
            pair(direct, Against::OneThread(direct), 1.9),
        ];
        let line = control(&paired);
        assert!(line.contains("measured 0.96–1.03× on the 2 layers"), "{line}");
        assert_eq!(control(&paired[1..2]), "");
        assert!(control(&paired[..1]).contains("measured 0.96× on its one layer"), "{}", control(&paired[..1]));
    }

    #[test]
    fn every_miss_lists_in_full_only_the_targets_with_more_misses_than_the_worst_named_in_the_table() {
        let list = every_miss(&[target("1. one", 6), target("2. two", 1), target("3. three", 0)]);
        assert!(list.starts_with("\n## Every miss\n"), "{list}");
        assert!(list.contains("- target 1, 6 misses:\n  - miss 0\n  - miss 1\n"), "{list}");
        assert!(list.contains("  - miss 5\n"), "{list}");
        assert!(!list.contains("target 2") && !list.contains("target 3"), "{list}");
        assert_eq!(every_miss(&[target("2. two", 1)]), "");
    }
}
