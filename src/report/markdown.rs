//! `report.md`: the tables a person reads first.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{PairedRatio, Report, ReportRow, targets};
use crate::format::{format_seconds, thousands};
use crate::problem::GapProblem;
use crate::registry::{Role, role};

fn pct(f: Option<f64>) -> String {
    f.map_or("-".into(), |f| format!("{:.0}%", 100.0 * f))
}

fn times(f: Option<f64>) -> String {
    f.map_or("-".into(), |f| format!("{f:.2}×"))
}

fn bytes(b: usize) -> String {
    match b {
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}

/// Problems in the order they were run.
fn problems(rows: &[ReportRow]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    rows.iter().filter(|r| seen.insert(r.run.shape.clone())).map(|r| r.run.shape.clone()).collect()
}

fn best<'a>(rows: &'a [ReportRow], shape: &str, threads: usize, kind: &str) -> Option<&'a ReportRow> {
    rows.iter()
        .filter(|r| r.run.shape == shape && r.run.threads == threads && r.kind == kind)
        .max_by(|a, b| a.run.gflops.total_cmp(&b.run.gflops))
}

fn find<'a>(rows: &'a [ReportRow], shape: &str, threads: usize, name: &str) -> Option<&'a ReportRow> {
    rows.iter().find(|r| r.run.shape == shape && r.run.threads == threads && r.run.kernel == name)
}

/// Renders the whole report.
pub(super) fn render(r: &Report) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let w = &mut s;
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
            100.0 * super::sanity::ABOVE_PEAK_LIMIT,
            shown.join("; "),
            if more > 0 { format!("; and {more} more.") } else { ".".into() }
        );
    }

    w.push_str(&super::summary::render(r));
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

    let shapes = problems(&r.conv1x1);
    for threads in [1, m.threads_all].into_iter().collect::<BTreeSet<_>>() {
        let _ = writeln!(w, "\n## Headline: 1×1 convolution, {threads} thread{}\n", if threads > 1 { "s" } else { "" });
        let _ = writeln!(
            w,
            "\"ours vs\" is timed in turn: one sample of our fastest kernel, then one of the peer, and so on; \
             the median of the per-round ratios (a shared machine's drift between two separate medians \
             cancels out). The GFLOP/s columns are the separate medians, and \"of peak probed apart\" is that \
             median over the FMA peak probed before and after the timings. The summary and target 2 read \
             \"of FMA peak, in turn\" instead (timed with the peak loop in the same rounds, next tables), which \
             is lower when the machine was busier during the layer's samples than during the probe.\n"
        );
        let _ = writeln!(
            w,
            "| problem | fastest of ours | GFLOP/s | p90 | of peak probed apart | gemm-crate | matrixmultiply | ours vs gemm-crate | ours vs matrixmultiply |"
        );
        let _ = writeln!(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for shape in &shapes {
            let Some(ours) = best(&r.conv1x1, shape, threads, "kernel") else { continue };
            let gemm = find(&r.conv1x1, shape, threads, "gemm-crate");
            let mm = find(&r.conv1x1, shape, threads, "matrixmultiply");
            let ratio = |peer: Option<&ReportRow>| {
                peer.map(|q| {
                    r.paired
                        .iter()
                        .find(|c| {
                            c.shape == *shape
                                && c.threads == threads
                                && c.kernel == ours.run.kernel
                                && c.against == q.run.kernel
                        })
                        .map_or(q.run.seconds_median / ours.run.seconds_median, |c| c.speedup)
                })
            };
            let _ = writeln!(
                w,
                "| `{shape}` | {} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
                ours.run.kernel,
                ours.run.gflops,
                ours.run.gflops_p90,
                pct(ours.run.peak_fraction),
                gemm.map_or("-".into(), |g| format!("{:.1}", g.run.gflops)),
                mm.map_or("-".into(), |g| format!("{:.1}", g.run.gflops)),
                times(ratio(gemm)),
                times(ratio(mm))
            );
        }
    }

    let lowered: Vec<_> =
        r.paired.iter().filter(|c| c.kernel == role(Role::Gemm) && c.against == role(Role::Direct)).collect();
    if !lowered.is_empty() {
        let _ = writeln!(w, "\n## im2col + GEMM against the direct kernel, 1 thread, timed in turn\n");
        let _ = writeln!(w, "| problem | im2col-gemm vs blocked-simd |");
        let _ = writeln!(w, "| --- | ---: |");
        for c in lowered {
            let _ = writeln!(w, "| `{}` | {} |", c.shape, times(Some(c.speedup)));
        }
    }

    if !r.peak_shares.is_empty() || !r.scaling.is_empty() {
        let _ = writeln!(w, "\n## Share of the FMA peak and rayon-tiled's scaling, timed in turn\n");
        let _ = writeln!(
            w,
            "\"of peak, in turn\": our fastest kernel at 1 thread and the FMA-peak loop, a sample of each in \
             turn; the median of the per-round ratios of their GFLOP/s, and the kernel's p90 over the loop's \
             p90. \"microkernel in L1\": in the same rounds, the {} register tile every direct and GEMM \
             kernel is built on, on an A panel and a B block that stay in L1: the share of the peak its \
             own loop reached, the most a layer built on it could. \"scaling\": `rayon-tiled` on {} threads against itself on 1, and in the same rounds the \
             FMA-peak loop on the same two pools (no memory traffic: the speed-up the machine offered any \
             code in those moments); each the median over rounds, and \"÷ loop\" the median of the \
             kernel's speed-up over the loop's per round.\n",
            r.peak_shares.iter().find_map(|s| s.l1_tile.as_ref()).map_or("MR×NR", |t| t.tile.as_str()),
            m.threads_all
        );
        let _ = writeln!(
            w,
            "| problem | fastest of ours, 1 thread | of peak, in turn | p90 | microkernel in L1, same rounds | p90 | rayon-tiled scaling | FMA loop scaling | ÷ loop |"
        );
        let _ = writeln!(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for shape in &shapes {
            let share = r.peak_shares.iter().find(|s| &s.shape == shape);
            let scale = r.scaling.iter().find(|c| &c.shape == shape);
            if share.is_none() && scale.is_none() {
                continue;
            }
            let _ = writeln!(
                w,
                "| `{shape}` | {} | {} | {} | {} | {} | {} | {} | {} |",
                share.map_or("-", |s| s.kernel.as_str()),
                pct(share.map(|s| s.median)),
                pct(share.map(|s| s.p90)),
                pct(share.and_then(|s| s.l1_tile.as_ref()).map(|t| t.median)),
                pct(share.and_then(|s| s.l1_tile.as_ref()).map(|t| t.p90)),
                times(scale.map(|c| c.speedup)),
                times(scale.map(|c| c.fma_loop_speedup)),
                scale.map_or("-".to_string(), |c| format!("{:.2}", c.relative)),
            );
        }
    }

    let _ = writeln!(w, "\n## 1×1 convolution, every kernel and peer\n");
    let _ = writeln!(
        w,
        "GFLOP/s counts 2·N·Cout·Cin·Hout·Wout per call; \"of peak\" is against the FMA peak for that \
         thread count; peers compute the GEMM alone (no bias, no ReLU).\n"
    );
    for shape in &shapes {
        let _ = writeln!(w, "### `{shape}`\n");
        let _ = writeln!(w, "| kernel | threads | GFLOP/s | p90 | min–max | of peak | time | × naive | × gemm-crate |");
        let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for row in r.conv1x1.iter().filter(|x| &x.run.shape == shape) {
            let q = &row.run;
            let flops = q.gflops * q.seconds_median;
            let label = if row.kind == "peer" { format!("*{}*", q.kernel) } else { q.kernel.clone() };
            let _ = writeln!(
                w,
                "| {label} | {} | {:.1} | {:.1} | {:.1}–{:.1} | {} | {} | {} | {} |",
                q.threads,
                q.gflops,
                q.gflops_p90,
                flops / q.seconds_max,
                flops / q.seconds_min,
                pct(q.peak_fraction),
                format_seconds(q.seconds_median),
                times(row.speedup_vs_naive),
                times(row.speedup_vs_gemm_crate)
            );
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "## Weight preparation (once per layer, not in the times above)\n");
    let _ = writeln!(w, "| problem | {} |", kernels_of(r).join(" | "));
    let _ = writeln!(w, "| --- |{}", " ---: |".repeat(kernels_of(r).len()));
    for shape in &shapes {
        let cells: Vec<String> = kernels_of(r)
            .iter()
            .map(|k| {
                r.preparation
                    .iter()
                    .find(|p| &p.shape == shape && &p.kernel == k)
                    .map_or("-".into(), |p| format_seconds(p.seconds))
            })
            .collect();
        let _ = writeln!(w, "| `{shape}` | {} |", cells.join(" | "));
    }

    let _ = writeln!(w, "\n## Global average pooling\n");
    let _ = writeln!(
        w,
        "GB/s counts the input read once and the output written once; \"of read bw\" is against the \
         read bandwidth measured now over a working set of the input's size on as many threads as the \
         row, each reading its own share (the level the input fits in is named). \"in turn\": the kernel \
         and a read pass over its own input, a sample of each in turn; the median of the per-round \
         ratios of their GB/s.\n"
    );
    let _ = writeln!(
        w,
        "| problem | input | read bw (level) | kernel | threads | GB/s | p90 | of read bw | in turn | time per call | × gap-naive |"
    );
    let _ = writeln!(w, "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in &r.gap {
        let q = &row.run;
        let input_bytes = q.shape.parse::<GapProblem>().map_or(0, |p| 4 * p.input_len());
        let _ = writeln!(
            w,
            "| `{}` | {} | {:.0} GB/s ({}) | {} | {} | {:.1} | {:.1} | {} | {} | {} | {} |",
            q.shape,
            bytes(input_bytes),
            row.read_gbps.unwrap_or(f64::NAN),
            row.bandwidth_level.unwrap_or("-"),
            q.kernel,
            q.threads,
            q.gbps,
            q.gbps * q.seconds_median / q.seconds_p10,
            pct(q.peak_fraction),
            pct(r
                .bandwidth_shares
                .iter()
                .find(|s| s.shape == q.shape && s.kernel == q.kernel && s.threads == q.threads)
                .map(|s| s.median)),
            format_seconds(q.seconds_median),
            times(row.speedup_vs_naive)
        );
    }

    let _ = writeln!(w, "\n## Fused chains: NIN's micro-network and its conv + GAP head\n");
    let _ = writeln!(
        w,
        "Every layer of a chain has bias and ReLU; `,gap` ends it in global average pooling. \
         `mlpconv-unfused` runs the chain as frameworks do (`rayon-tiled` per layer, then `gap-rayon`), \
         writing each intermediate map in full; `mlpconv-fused` computes it pixel tile by pixel tile \
         with the intermediate in cache. GFLOP/s counts the multiply-accumulates of every layer. \
         The two are timed against each other, a sample of one then a sample of the other; \
         \"fused vs unfused\" is the median over those rounds of the unfused time over the fused \
         one, so the machine's drift between seconds cancels out.\n"
    );
    let _ = writeln!(
        w,
        "| problem | threads | unfused GFLOP/s | p90 | fused GFLOP/s | p90 | of peak | fused time | fused vs unfused |"
    );
    let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for shape in problems(&r.mlpconv) {
        for threads in [1, m.threads_all].into_iter().collect::<BTreeSet<_>>() {
            let (Some(f), Some(u)) = (
                find(&r.mlpconv, &shape, threads, "mlpconv-fused"),
                find(&r.mlpconv, &shape, threads, "mlpconv-unfused"),
            ) else {
                continue;
            };
            let _ = writeln!(
                w,
                "| `{shape}` | {threads} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} |",
                u.run.gflops,
                u.run.gflops_p90,
                f.run.gflops,
                f.run.gflops_p90,
                pct(f.run.peak_fraction),
                format_seconds(f.run.seconds_median),
                times(Some(f.speedup_vs_unfused.unwrap_or(u.run.seconds_median / f.run.seconds_median)))
            );
        }
    }

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

    whole_network(w, r);

    let _ = writeln!(w, "\n## Verification\n");
    if r.failures.is_empty() {
        let _ = writeln!(
            w,
            "All {} kernel × problem pairs matched the f64 reference within the dot-product error bound before timing.",
            r.verified
        );
    } else {
        let _ = writeln!(w, "{} of {} pairs FAILED and were not timed:\n", r.failures.len(), r.verified);
        for f in &r.failures {
            let _ = writeln!(w, "- {f}");
        }
    }
    let _ = writeln!(w, "\n## Roofline\n\n![roofline](roofline.svg)");
    w.push_str(&every_miss(&r.targets));
    s
}

/// The whole-network section: every model's pass, ours against tract, where the time goes,
/// and the 1×1 stages inside the pass against the same kernel alone.
fn whole_network(w: &mut String, r: &Report) {
    let runs = &r.whole_network;
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n## Whole networks: forward passes, ours against tract\n");
    let engine = runs.iter().find_map(|x| x.peer.as_ref().map(|p| p.engine.clone()));
    let _ = writeln!(
        w,
        "Seeded weights, NCHW. Each micro-network's 1×1 layers run through `{}`, a single 1×1 layer through `{}`, \
         spatial convolutions (im2col into the GEMM's panels) and FC layers through the crate's GEMM, GAP through `{}`. \
         {} \"vs\" is the median, over passes of each timed in turn, of the engine's time over ours (above 1: ours is \
         faster). \"1×1 + GAP\" is the share of our pass in the layers this suite is about.\n",
        role(Role::Fused),
        crate::registry::DEFAULT_CONV1X1_KERNEL,
        crate::registry::DEFAULT_GAP_KERNEL,
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

fn kernels_of(r: &Report) -> Vec<String> {
    let mut seen = BTreeSet::new();
    r.preparation.iter().filter(|p| seen.insert(p.kernel.clone())).map(|p| p.kernel.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn pair(kernel: &str, against: &str, speedup: f64) -> PairedRatio {
        let shape = "1x8x8x8:8".to_string();
        PairedRatio { shape, threads: 1, kernel: kernel.into(), against: against.into(), speedup }
    }

    #[test]
    fn control_gives_the_range_of_the_kernels_timed_against_themselves_only() {
        let paired = [
            pair("blocked-simd", "blocked-simd", 0.96),
            pair("blocked-simd", "gemm-crate", 0.80),
            pair("im2col-gemm", "im2col-gemm", 1.03),
            pair("im2col-gemm", "blocked-simd", 1.20),
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
