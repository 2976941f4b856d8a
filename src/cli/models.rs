//! `nin-bench models` and `nin-bench heads`: human tables, or JSON with `--json`.

use super::common::{CommandResult, to_json};
use crate::format::{dims, format_seconds, thousands};
use crate::model::heads::HeadStats;
use crate::model::heads::standard_heads;
use crate::model::size_comparison;
use crate::model::zoo;
use crate::timing::TimingBudget;

/// `1234567` → `1,234,567`.
fn kib(bytes: u64) -> String {
    if bytes < 1024 { format!("{bytes} B") } else { format!("{} KiB", thousands(bytes / 1024)) }
}

pub(crate) fn models(name: Option<String>, json: bool) -> CommandResult {
    let models = match name {
        Some(n) => vec![zoo::model(&n)?],
        None => zoo::models(),
    };
    let stats = models.iter().map(|m| m.stats()).collect::<crate::Result<Vec<_>>>()?;
    if json {
        println!("{}", to_json(&stats));
        return Ok(());
    }
    if let Some(line) = size_comparison(&stats) {
        println!("{line}\n");
    }
    for s in &stats {
        println!("{} (input {})", s.name, dims(&s.input));
        println!(
            "{:<12} {:<9} {:>13} {:>12} {:>15} {:>15} {:>12}",
            "layer", "kind", "output", "params", "MACs", "FLOPs", "activation"
        );
        for l in &s.layers {
            println!(
                "{:<12} {:<9} {:>13} {:>12} {:>15} {:>15} {:>12}",
                l.name,
                l.kind,
                dims(&l.output),
                thousands(l.params),
                thousands(l.macs),
                thousands(l.flops),
                kib(l.activation_bytes)
            );
        }
        println!(
            "{:<12} {:<9} {:>13} {:>12} {:>15} {:>15} {:>12}\nfp32 weights: {:.2} MiB\n",
            "total",
            "",
            "",
            thousands(s.total_params),
            thousands(s.total_macs),
            thousands(s.total_flops),
            kib(s.total_activation_bytes),
            s.size_mib_fp32
        );
    }
    Ok(())
}

/// Every standard head, counted and timed.
pub(crate) fn head_stats(budget: TimingBudget) -> crate::Result<Vec<HeadStats>> {
    standard_heads().iter().map(|h| h.stats(budget)).collect()
}

pub(crate) fn heads(json: bool) -> CommandResult {
    let stats = head_stats(TimingBudget::QUICK)?;
    if json {
        println!("{}", to_json(&stats));
        return Ok(());
    }
    println!("Classifier heads on the same features, 1 thread, this machine, median of repeated runs:\n");
    println!(
        "{:<20} {:<10} {:<22} {:>12} {:>9} {:>13} {:>10} {:>10}",
        "features from", "features", "head", "params", "MiB", "FLOPs/image", "batch 1", "batch 32"
    );
    for h in &stats {
        println!(
            "{:<20} {:<10} {:<22} {:>12} {:>9.2} {:>13} {:>10} {:>10}",
            h.features_from,
            dims(&h.features),
            h.head,
            thousands(h.params),
            h.size_mib_fp32,
            thousands(h.flops),
            format_seconds(h.seconds_batch1),
            format_seconds(h.seconds_batch32)
        );
    }
    Ok(())
}
