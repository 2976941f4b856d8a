//! What the report says about the machine: identity, build, and measured limits.

use std::process::Command;

use serde::Serialize;

use crate::machine::{fma_peak_gflops, read_bandwidth_gbps};
use crate::simd::SimdPolicy;

/// Read bandwidth measured at one cache level's working set.
#[derive(Debug, Clone, Serialize)]
pub struct Bandwidth {
    /// `L1`, `L2`, `L3` or `DRAM`.
    pub level: &'static str,
    /// Size of that level (bytes; for DRAM, the working set used).
    pub capacity_bytes: usize,
    /// Working set measured (half the level, so it fits with room to spare).
    pub working_set_bytes: usize,
    /// Single-thread read bandwidth, GB/s.
    pub gbps: f64,
}

/// The machine as the report describes it.
#[derive(Debug, Clone, Serialize)]
pub struct MachineInfo {
    /// Short identifier used as the results folder name.
    pub id: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical cores.
    pub cores: usize,
    /// Detected SIMD features.
    pub simd_features: Vec<&'static str>,
    /// The path pulp dispatches to.
    pub pulp_path: String,
    /// ISA `blocked-wide` was compiled for.
    pub wide_isa: &'static str,
    /// The instruction set each peer GEMM library runs here.
    pub peer_isas: Vec<PeerIsa>,
    /// The FMA peak, 1 thread, of every ISA path the kernels can run here, narrowest first.
    /// The last is the widest, whose peak every share of the report is against.
    pub isa_peaks: Vec<IsaPeak>,
    /// `rustc --version`.
    pub rustc: String,
    /// `git rev-parse --short HEAD`, with `-dirty` for uncommitted changes.
    pub git_commit: String,
    /// UTC time the report was made.
    pub date_utc: String,
    /// FMA peak, 1 thread, GFLOP/s (in a report: the higher of a probe before and one after the
    /// timings).
    pub fma_peak_gflops: f64,
    /// Threads used for the "all threads" figures.
    pub threads_all: usize,
    /// FMA peak with all threads, GFLOP/s (in a report, as above).
    pub fma_peak_gflops_all_threads: f64,
    /// Read bandwidth per level.
    pub bandwidth: Vec<Bandwidth>,
}

impl MachineInfo {
    /// The FMA peak for `threads` threads: the 1-thread figure, or the all-threads one.
    pub fn fma_peak_for(&self, threads: usize) -> f64 {
        if threads == 1 { self.fma_peak_gflops } else { self.fma_peak_gflops_all_threads }
    }

    /// The bandwidth of the smallest level whose capacity holds `bytes`.
    pub fn bandwidth_for(&self, bytes: usize) -> &Bandwidth {
        self.bandwidth
            .iter()
            .find(|b| bytes <= b.capacity_bytes)
            .unwrap_or_else(|| self.bandwidth.last().expect("DRAM level"))
    }
}

fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Data cache sizes per level from sysfs (Linux), with common defaults elsewhere.
fn cache_sizes() -> [usize; 3] {
    let mut sizes = [32 << 10, 512 << 10, 16 << 20];
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok().map(|s| s.trim().to_string());
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size")) else { continue };
        if kind == "Instruction" {
            continue;
        }
        let bytes = match size.strip_suffix('K') {
            Some(k) => k.parse::<usize>().ok().map(|k| k << 10),
            None => size.strip_suffix('M').and_then(|m| m.parse::<usize>().ok()).map(|m| m << 20),
        };
        if let (Ok(level @ 1..=3), Some(bytes)) = (level.parse::<usize>(), bytes) {
            sizes[level - 1] = bytes;
        }
    }
    sizes
}

fn simd_features() -> Vec<&'static str> {
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! detect {
            ($($f:tt),*) => { $( if is_x86_feature_detected!($f) { out.push($f); } )* };
        }
        detect!("sse4.2", "avx", "avx2", "fma", "avx512f");
    }
    out
}

/// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", s / 3600, s / 60 % 60)
}

/// The AMD core generation of a CPU that `/proc/cpuinfo` describes, from its family and model
/// (AMD's numbering), for a model name that gives none: cloud machines read "AMD EPYC" on Zen 3,
/// 4 and 5 alike.
fn amd_generation(cpuinfo: &str) -> Option<&'static str> {
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split(':').nth(1))
    };
    if field("vendor_id")?.trim() != "AuthenticAMD" {
        return None;
    }
    let (family, model): (u32, u32) = (field("cpu family")?.trim().parse().ok()?, field("model")?.trim().parse().ok()?);
    Some(match (family, model) {
        (0x17, 0x30..) => "zen2",
        (0x17, _) => "zen",
        (0x19, 0x10..=0x1F | 0x60..=0x7F | 0xA0..=0xAF) => "zen4",
        (0x19, _) => "zen3",
        (0x1A, _) => "zen5",
        _ => return None,
    })
}

/// Folder-safe identifier: CPU model (with its generation when the model name has no number
/// in it, e.g. `amd-epyc-zen4`), core count and widest SIMD, e.g. `amd-epyc-zen4-2c-avx512f`.
/// Reports before the generation was added were written as `amd-epyc-2c-…`.
fn machine_id(cpu: &str, generation: Option<&str>, cores: usize, features: &[&str]) -> String {
    let cpu = match generation {
        Some(generation) if !cpu.chars().any(|c| c.is_ascii_digit()) => format!("{cpu} {generation}"),
        _ => cpu.to_string(),
    };
    let mut slug: String =
        cpu.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    let simd = features.iter().rev().find(|f| f.starts_with("avx")).copied().unwrap_or("scalar");
    let slug = match slug.trim_matches('-') {
        "" => "cpu",
        s => s,
    };
    format!("{slug}-{cores}c-{simd}")
}

/// The FMA peak of one ISA path.
#[derive(Debug, Clone, Serialize)]
pub struct IsaPeak {
    /// The path (`scalar`, `avx2`, `avx512`).
    pub isa: &'static str,
    /// Its FMA peak on 1 thread, GFLOP/s.
    pub gflops: f64,
}

/// The FMA peak of each hardware path the kernels can run here
/// ([`crate::simd::Isa::available_hardware`]).
fn isa_peaks(repeats: usize) -> Vec<IsaPeak> {
    crate::simd::Isa::available_hardware()
        .into_iter()
        .filter_map(|isa| {
            let policy = SimdPolicy::for_isa(isa).ok()?;
            Some(IsaPeak { isa: isa.name(), gflops: crate::machine::fma_peak_gflops_with(policy, 1, repeats) })
        })
        .collect()
}

/// A peer library and the instruction set it runs on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct PeerIsa {
    /// The peer's name in reports.
    pub name: &'static str,
    /// Its instruction set, as [`crate::peers::Peer::isa`] says.
    pub isa: String,
}

/// Probes the machine: identity, then FMA peaks and bandwidths (about 1 s; 0.3 s when `quick`).
pub fn probe(quick: bool, threads_all: usize) -> MachineInfo {
    let cpu = cpu_model();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let features = simd_features();
    let repeats = if quick { 5 } else { 25 };
    let seconds = if quick { 0.02 } else { 0.1 };
    let [l1, l2, l3] = cache_sizes();
    let dram = (4 * l3).max(256 << 20);
    let bandwidth = [("L1", l1, l1 / 2), ("L2", l2, l2 / 2), ("L3", l3, l3 / 2), ("DRAM", dram, dram)]
        .into_iter()
        .map(|(level, capacity_bytes, working_set_bytes)| Bandwidth {
            level,
            capacity_bytes,
            working_set_bytes,
            gbps: read_bandwidth_gbps(working_set_bytes, if level == "DRAM" { 2.0 * seconds } else { seconds }),
        })
        .collect();
    let dirty =
        command_output("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"])
        .map_or("unknown".into(), |c| if dirty { format!("{c}-dirty") } else { c });
    MachineInfo {
        id: machine_id(
            &cpu,
            std::fs::read_to_string("/proc/cpuinfo").ok().as_deref().and_then(amd_generation),
            cores,
            &features,
        ),
        cpu_model: cpu,
        cores,
        pulp_path: SimdPolicy::from_env().isa_name().to_string(),
        wide_isa: crate::conv1x1::blocked_wide::BlockedWide::compiled_isa(),
        isa_peaks: isa_peaks(repeats),
        peer_isas: crate::peers::Peer::ALL.iter().map(|q| PeerIsa { name: q.name(), isa: q.isa() }).collect(),
        simd_features: features,
        rustc: command_output("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
        git_commit: commit,
        date_utc: now_utc(),
        fma_peak_gflops: fma_peak_gflops(1, repeats),
        threads_all,
        fma_peak_gflops_all_threads: fma_peak_gflops(threads_all, repeats),
        bandwidth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right_around_leap_years() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
    }

    #[test]
    fn machine_ids_are_folder_safe() {
        assert_eq!(
            machine_id("AMD EPYC 7B13 64-Core Processor", Some("zen3"), 2, &["avx", "avx2", "fma"]),
            "amd-epyc-7b13-64-core-processor-2c-avx2"
        );
        assert_eq!(machine_id("?", None, 1, &[]), "cpu-1c-scalar");
    }

    #[test]
    fn a_model_name_without_a_number_gets_the_amd_generation_so_zen_4_and_zen_5_differ() {
        let cpuinfo = |family: u32, model: u32| {
            format!("vendor_id\t: AuthenticAMD\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: AMD EPYC\n")
        };
        let id =
            |family, model| machine_id("AMD EPYC", amd_generation(&cpuinfo(family, model)), 2, &["avx2", "avx512f"]);
        assert_eq!(id(25, 17), "amd-epyc-zen4-2c-avx512f");
        assert_eq!(id(26, 2), "amd-epyc-zen5-2c-avx512f");
        assert_eq!(id(25, 1), "amd-epyc-zen3-2c-avx512f");
        assert_eq!(id(23, 49), "amd-epyc-zen2-2c-avx512f");
        assert_eq!(amd_generation("vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\n"), None);
        assert_eq!(amd_generation("model name\t: AMD EPYC\n"), None);
    }
}
