//! The model sections of `report.md`: accounting, heads and whole-network passes.

use std::fmt::Write;

use super::cells::{pct, times};
use crate::format::{format_seconds, thousands};
use crate::kernel::{Op, Role};
use crate::registry::Registry;
use crate::report::rows::Report;

/// Parameters and FLOPs of the models, and NIN's head against fully-connected ones.
pub(super) fn accounting(w: &mut String, r: &Report) {
    let _ = writeln!(w, "\n## NIN against fully-connected heads\n");
    if let Some(line) = crate::model::size_comparison(&r.models) {
        let _ = writeln!(w, "**{line}.**\n");
    }
    let _ = writeln!(w, "| model | input | params | fp32 weights | MACs | FLOPs (2·MACs) |");
    let _ = writeln!(w, "| --- | --- | ---: | ---: | ---: | ---: |");
    for m in &r.models {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.1} MiB | {} | {} |",
            m.name,
            m.input.map(|d| d.to_string()).join("×"),
            thousands(m.total_params),
            m.size_mib_fp32,
            thousands(m.total_macs),
            thousands(m.total_flops)
        );
    }
    if !r.heads.is_empty() {
        let _ = writeln!(
            w,
            "\nHeads on the same feature maps, timed with this crate's kernels on 1 thread (FC layers through \
             its GEMM, 1×1 layers through `blocked-simd`, GAP through `gap-simd`):\n"
        );
        let _ =
            writeln!(w, "| features from | features | head | params | fp32 | FLOPs per image | batch 1 | batch 32 |");
        let _ = writeln!(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
        for h in &r.heads {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {:.2} MiB | {} | {} | {} |",
                h.features_from,
                h.features.map(|d| d.to_string()).join("×"),
                h.head,
                thousands(h.params),
                h.size_mib_fp32,
                thousands(h.flops),
                format_seconds(h.seconds_batch1),
                format_seconds(h.seconds_batch32)
            );
        }
    }
}

/// The whole-network section: every model's pass, ours against tract, where the time goes,
/// and the 1×1 stages inside the pass against the same kernel alone.
pub(super) fn whole_network(w: &mut String, r: &Report) {
    let runs = &r.whole_network;
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n## Whole networks: forward passes, ours against tract\n");
    let registry = Registry::from_env();
    let playing = |op, role| registry.playing(op, role).map_or("-", |k| k.name());
    let engine = runs.iter().find_map(|x| x.peer.as_ref().map(|p| p.engine.clone()));
    let _ = writeln!(
        w,
        "Seeded weights, NCHW. Each micro-network's 1×1 layers run through `{}`, a single 1×1 layer through `{}`, \
         spatial convolutions (im2col into the GEMM's panels) and FC layers through the crate's GEMM, GAP through `{}`. \
         {} \"vs\" is the median, over passes of each timed in turn, of the engine's time over ours (above 1: ours is \
         faster). \"1×1 + GAP\" is the share of our pass in the layers this suite is about.\n",
        playing(Op::Mlpconv, Role::Fused),
        playing(Op::Conv1x1, Role::Default),
        playing(Op::Gap, Role::Default),
        match &engine {
            Some(e) => format!("The engine is {e} (a pure-Rust ONNX engine), fed the same graph and weights."),
            None => "No engine ran beside ours: this build lacks the `tract` feature (the README's report command turns it on).".into(),
        }
    );
    let _ = writeln!(
        w,
        "| model | params | fp32 weights | GFLOP per image | batch | threads | ours per image | p90 | GFLOP/s | of peak | engine per image | vs engine | 1×1 + GAP |"
    );
    let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for x in runs {
        let t = &x.timing;
        let nin_share: f64 = t
            .categories
            .iter()
            .filter(|c| matches!(c.category, crate::forward::Category::Conv1x1 | crate::forward::Category::Gap))
            .map(|c| c.share)
            .fold(0.0, |a, b| a + b); // `sum` of nothing is −0.0, which prints as "-0%"
        let _ = writeln!(
            w,
            "| {} | {} | {:.1} MiB | {:.2} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} |",
            x.model,
            thousands(x.params),
            x.weights_mib,
            x.gflop_per_image,
            x.batch,
            x.threads,
            format_seconds(t.seconds_per_image),
            format_seconds(t.seconds_per_image_p90),
            t.gflops,
            pct(Some(t.gflops / r.machine.fma_peak_for(x.threads))),
            x.peer.as_ref().map_or("-".into(), |p| format_seconds(p.seconds_per_image)),
            times(x.peer.as_ref().map(|p| p.ours_speedup)),
            pct(Some(nin_share))
        );
    }
    let at = |model: &str| runs.iter().find(|x| x.model == model && x.batch == 1 && x.threads == 1);
    if let (Some(pair), Some(nin), Some(alex)) = (&r.nin_vs_alexnet, at("nin-imagenet"), at("alexnet")) {
        let _ = writeln!(
            w,
            "\n**NIN-ImageNet against AlexNet** (one image, 1 thread, our passes, one of each in turn): {} per image \
             against {}: NIN-ImageNet takes {:.2}× AlexNet's time (the median over rounds), with {:.1} MiB of weights \
             against {:.1} MiB and {:.2} GFLOP per image against {:.2}.",
            format_seconds(pair.seconds),
            format_seconds(pair.against_seconds),
            pair.time_ratio,
            nin.weights_mib,
            alex.weights_mib,
            nin.gflop_per_image,
            alex.gflop_per_image
        );
    }
    let _ = writeln!(
        w,
        "\nWhere the time goes (shares of our pass by kind of work):\n\n![where the time goes](network_time.svg)\n"
    );
    let _ =
        writeln!(w, "| model | batch | threads | {} |", crate::forward::Category::ALL.map(|c| c.name()).join(" | "));
    let _ = writeln!(w, "| --- | ---: | ---: |{}", " ---: |".repeat(crate::forward::Category::ALL.len()));
    for x in runs {
        let cells: Vec<String> = crate::forward::Category::ALL
            .iter()
            .map(|c| x.timing.categories.iter().find(|t| t.category == *c).map_or("-".into(), |t| pct(Some(t.share))))
            .collect();
        let _ = writeln!(w, "| {} | {} | {} | {} |", x.model, x.batch, x.threads, cells.join(" | "));
    }
    let _ = writeln!(
        w,
        "\n1×1 stages inside the pass against the same kernel timed alone on the same shape (time in the pass over time \
         alone; the stage inside the pass starts with the caches the layer before left):\n"
    );
    let _ = writeln!(w, "| model | batch | threads | stage | in the pass (per pass of the batch) | alone | ratio |");
    let _ = writeln!(w, "| --- | ---: | ---: | --- | ---: | ---: | ---: |");
    for x in runs {
        for st in x.timing.stages.iter().filter(|st| st.in_pass_over_alone.is_some()) {
            let _ = writeln!(
                w,
                "| {} | {} | {} | `{}` | {} | {} | {} |",
                x.model,
                x.batch,
                x.threads,
                st.name,
                format_seconds(st.seconds),
                st.alone_seconds.map_or("-".into(), format_seconds),
                times(st.in_pass_over_alone)
            );
        }
    }
    let checked: Vec<String> = runs
        .iter()
        .filter_map(|x| {
            let worst = |c: &Option<Vec<crate::forward::StageCheck>>| {
                c.as_ref().map(|c| {
                    (
                        c.len(),
                        c.iter().filter(|s| s.mismatch.is_none()).count(),
                        c.iter().map(|s| s.worst_ratio).fold(0.0, f64::max),
                    )
                })
            };
            let (n, ok, worst_ours) = worst(&x.checks)?;
            let mut line =
                format!("{}: ours {ok} of {n} stages within the bound (worst {worst_ours:.3} of it)", x.model);
            if let Some((n, ok, worst_peer)) = worst(&x.peer_checks) {
                line.push_str(&format!(", tract {ok} of {n} (worst {worst_peer:.3})"));
            }
            if let Some(d) = x.output_max_difference {
                line.push_str(&format!(", final outputs differ by at most {d:.1e}"));
            }
            Some(line)
        })
        .collect();
    if !checked.is_empty() {
        let _ = writeln!(
            w,
            "\nEach model verified at batch 1, 1 thread, stage by stage against the f64 reference fed the stage's own input: {}.",
            checked.join("; ")
        );
    }
}
