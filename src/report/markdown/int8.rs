//! The int8 section of `report.md`.

use std::fmt::Write;

use super::cells::{pct, times};
use crate::format::format_seconds;
use crate::problem::Problem;
use crate::report::rows::Report;

/// Every int8 layer against the f32 kernel on the same layer and against the int8 peak.
pub(super) fn int8(w: &mut String, r: &Report) {
    if r.int8.is_empty() && r.int8_accuracy.is_none() && r.int8_pass.is_none() {
        return;
    }
    let _ = writeln!(w, "\n## Int8: NIN's 1×1 layers on u8 activations and s8 weights\n");
    layers(w, r);
    against_tract(w, r);
    accuracy(w, r);
    pass_timing(w, r);
}

fn layers(w: &mut String, r: &Report) {
    if r.int8.is_empty() {
        return;
    }
    let isa = r.int8.first().map_or("-", |row| row.isa);
    let _ = writeln!(
        w,
        "The int8 kernel ({isa}) is bit-exact against the integer reference (i32 sums, \
         requantized to u8 with round-half-to-even). GOP/s counts two operations per \
         multiply-accumulate, as GFLOP/s does for f32. \"vs f32\": the int8 kernel and the f32 \
         kernel on the same layer (with ReLU), a sample of each in turn, the median of the \
         per-round ratios of their speeds, 1 thread. \"of int8 peak\": the int8 kernel and its \
         path's peak loop (registers only) timed the same way.{}\n",
        threads_note(r)
    );
    let threads = r.int8.iter().find_map(|row| row.threads.as_ref());
    let (head, rule) = match threads {
        Some(t) => (format!(" {} {}t vs 1t |", t.kernel, t.threads), " ---: |"),
        None => (String::new(), ""),
    };
    let _ = writeln!(
        w,
        "| layer | MMAC | int8 kernel | GOP/s | f32 kernel | GFLOP/s | int8 vs f32 | of int8 peak (p90) | int8 time |{head}"
    );
    let _ = writeln!(w, "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |{rule}");
    for row in &r.int8 {
        let Some(Problem::QConv1x1(p)) = row.int8.problem else { continue };
        let scaled = match (threads, &row.threads) {
            (None, _) => String::new(),
            (Some(_), t) => format!(" {} |", times(t.as_ref().and_then(|t| t.paired_speedup))),
        };
        let _ = writeln!(
            w,
            "| `{p}` | {:.1} | {} | {:.1} | {} | {:.1} | {} | {} ({}) | {} |{scaled}",
            p.macs() as f64 / 1e6,
            match &row.tile {
                Some(tile) => format!("{}, {tile}", row.int8.kernel),
                None => row.int8.kernel.to_string(),
            },
            row.int8.gflops,
            row.f32.kernel,
            row.f32.gflops,
            times(row.int8.paired_speedup),
            pct(Some(row.int8_peak_share)),
            pct(Some(row.int8_peak_share_p90)),
            format_seconds(row.int8.seconds_median),
        );
    }
}

/// What the threads column is, when the report has one.
fn threads_note(r: &Report) -> String {
    match r.int8.iter().find_map(|row| row.threads.as_ref()) {
        Some(t) => format!(
            " \"{k} {n}t vs 1t\": `{k}` on {n} threads and the int8 kernel on 1, timed the same way.",
            k = t.kernel,
            n = t.threads
        ),
        None => String::new(),
    }
}

/// The int8 kernel against tract's `QLinearConv` on the same layers (feature `tract`).
fn against_tract(w: &mut String, r: &Report) {
    let rows: Vec<_> = r.int8.iter().filter_map(|row| row.tract.as_ref()).collect();
    let Some(first) = rows.first() else { return };
    let _ = writeln!(w, "\n### Against {}\n", first.tract.kernel);
    let _ = writeln!(
        w,
        "The same layers, weights and inputs as one ONNX `QLinearConv` each (u8 activations and \
         output, zero points 0, s8 weights with a scale per output channel equal to our \
         multiplier, i32 bias), loaded, optimised and run by tract; timed in turn with our int8 \
         kernel, 1 thread. tract rounds the requantization its own way, so its outputs are \
         compared with the integer reference rather than required to match.\n"
    );
    let _ = writeln!(
        w,
        "| layer | ours | GOP/s | tract GOP/s | ours vs tract | tract outputs off the reference | largest step |"
    );
    let _ = writeln!(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for t in rows {
        let Some(Problem::QConv1x1(p)) = t.ours.problem else { continue };
        let _ = writeln!(
            w,
            "| `{p}` | {} | {:.1} | {:.1} | {} | {} of {} | {} |",
            t.ours.kernel,
            t.ours.gflops,
            t.tract.gflops,
            times(t.ours.paired_speedup),
            t.differing_outputs,
            t.outputs,
            t.max_diff,
        );
    }
}

/// NIN-CIFAR10's class scores with its 1×1 layers in int8, against f32.
fn accuracy(w: &mut String, r: &Report) {
    let Some(a) = &r.int8_accuracy else { return };
    let _ = writeln!(w, "\n### Accuracy: {} in int8 against f32\n", a.model);
    let _ = writeln!(
        w,
        "{} and {} run in int8 ({}, {}-bit weights per output channel, symmetric; {}); the \
         spatial convolutions and pooling stay f32, with a quantize and a dequantize at each \
         int8 run's edges. Activation scales come from {} seeded images of their own (static \
         calibration, largest value / 255); the comparison is on {} other seeded images, with \
         the same seeded weights in both passes. Class scores: the output of `{}`, before \
         softmax.\n",
        a.int8_layers[..a.int8_layers.len().saturating_sub(1)].join(", "),
        a.int8_layers.last().map_or("-", String::as_str),
        a.qconv_kernel,
        a.weight_bits,
        a.qgap_kernel,
        a.calibration_images,
        a.images,
        a.scores_from,
    );
    let _ = writeln!(
        w,
        "| images | top-1 agrees | f32 top-1 classes | smallest f32 lead | largest \\|f32 score\\| | max \\|diff\\| | mean \\|diff\\| |"
    );
    let _ = writeln!(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let _ = writeln!(
        w,
        "| {} | {} of {} | {} | {:.4} | {:.3} | {:.4} ({:.2}%) | {:.4} ({:.2}%) |",
        a.images,
        a.top1_agree,
        a.images,
        a.distinct_top1,
        a.min_top1_lead,
        a.max_abs_score,
        a.max_abs_diff,
        100.0 * a.max_abs_diff / a.max_abs_score,
        a.mean_abs_diff,
        100.0 * a.mean_abs_diff / a.max_abs_score,
    );
    let _ = writeln!(
        w,
        "\nTop-1 agrees when the int8 scores put the f32 top-1 class strictly above every other \
         class. The weights are seeded, not trained: the seeded network sends the batch to \
         {} of its 10 classes, and an image flips only where its f32 lead is below the score \
         differences.",
        a.distinct_top1
    );
}

/// NIN-CIFAR10's whole pass in int8 against f32: what int8 buys a network, and where the time
/// of each pass goes.
fn pass_timing(w: &mut String, r: &Report) {
    let Some(t) = &r.int8_pass else { return };
    let s = &t.int8_steps;
    let int8_replacing = s.edges + s.conv + s.gap;
    let _ = writeln!(w, "\n### Where int8 pays in a whole pass: {}\n", t.model);
    let _ = writeln!(
        w,
        "One image through the f32 pass and through the same pass with its 1×1 layers and GAP in \
         int8 ({}; quantize and dequantize on {}), on the same seeded weights, timed in turn on \
         {} thread{}: {} rounds of one pass each. \"time\" is the median pass; the other \
         columns split a pass (the mean over the passes timed, each step timed inside it).\n",
        t.qconv_kernel,
        t.edge_path,
        t.threads,
        if t.threads == 1 { "" } else { "s" },
        t.rounds,
    );
    let _ = writeln!(
        w,
        "| pass | time | stages both run (f32) | 1×1 layers and GAP | of which: quantize, dequantize | int8 1×1 | int8 GAP |"
    );
    let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let share = |part: f64, whole: f64| format!("{} ({:.0}%)", format_seconds(part), 100.0 * part / whole);
    let f32_total = t.f32_kept_seconds + t.f32_replaced_seconds;
    let _ = writeln!(
        w,
        "| f32 | {} | {} | {} | - | - | - |",
        format_seconds(t.f32_seconds),
        share(t.f32_kept_seconds, f32_total),
        share(t.f32_replaced_seconds, f32_total),
    );
    let int8_total = s.float + int8_replacing;
    let _ = writeln!(
        w,
        "| int8 | {} | {} | {} | {} | {} | {} |",
        format_seconds(t.int8_seconds),
        share(s.float, int8_total),
        share(int8_replacing, int8_total),
        format_seconds(s.edges),
        format_seconds(s.conv),
        format_seconds(s.gap),
    );
    let _ = writeln!(
        w,
        "\nThe int8 pass runs at {:.2}× the f32 pass's speed (the median over rounds of their \
         times' ratio). The int8 steps run at {:.2}× the speed of the f32 stages they replace, \
         quantizing and dequantizing included; the stages both run bound the whole pass's gain \
         at {:.2}×, however fast the int8 steps get.",
        t.speedup,
        t.f32_replaced_seconds / int8_replacing,
        f32_total / t.f32_kept_seconds,
    );
}
