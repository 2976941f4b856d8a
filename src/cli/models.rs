//! `nin-bench models` and `nin-bench heads`: human tables, or JSON with `--json`.

use super::{CommandResult, format_seconds, to_json};
use crate::model::heads::standard_heads;
use crate::model::zoo;
use crate::model::{ModelStats, heads::HeadStats};
use crate::timing::TimingBudget;

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn kib(bytes: u64) -> String {
    if bytes < 1024 { format!("{bytes} B") } else { format!("{} KiB", thousands(bytes / 1024)) }
}

fn dims(d: &[usize]) -> String {
    d.iter().map(usize::to_string).collect::<Vec<_>>().join("×")
}

/// The one-line comparison the NIN paper makes: NIN's weights against AlexNet's.
pub(crate) fn size_comparison(stats: &[ModelStats]) -> Option<String> {
    let nin = stats.iter().find(|s| s.name == "nin-imagenet")?;
    let alex = stats.iter().find(|s| s.name == "alexnet")?;
    Some(format!(
        "nin-imagenet: {} parameters = {:.1} MiB fp32; alexnet: {} parameters = {:.1} MiB fp32 ({:.1}× more, {:.0}% of them in its 3 FC layers)",
        thousands(nin.total_params),
        nin.size_mib_fp32,
        thousands(alex.total_params),
        alex.size_mib_fp32,
        alex.total_params as f64 / nin.total_params as f64,
        100.0 * alex.layers.iter().filter(|l| l.kind == "fc").map(|l| l.params).sum::<u64>() as f64
            / alex.total_params as f64
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(60_965_224), "60,965,224");
    }
}
