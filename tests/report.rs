//! `nin-bench report --quick` on a filtered subset writes the three files with the contract keys.

use assert_cmd::Command;

/// Runs `report --quick --filter FILTER` into a temporary folder; returns the folder (kept
/// alive) and the one machine folder it wrote.
fn quick_report(filter: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("nin-bench")
        .unwrap()
        .args(["report", "--quick", "--filter", filter, "--out", out.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let machine_dirs: Vec<_> = std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(machine_dirs.len(), 1);
    let dir = machine_dirs[0].clone();
    (out, dir)
}

fn json_of(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn quick_filtered_report_writes_markdown_json_and_svg() {
    let (_out, dir) = quick_report("x192x8x8:10,relu");
    let json = json_of(&dir);
    assert!(json["fma_peak_gflops"].as_f64().unwrap() > 0.0);
    let rows = json["conv1x1"].as_array().unwrap();
    // 2 problems (batch 1 and 8) × (5 kernels + rayon at all threads + 2 peers × thread counts).
    assert!(rows.len() >= 2 * 7, "{} rows", rows.len());
    // A row above 105% of the peak (a probe that met a busy neighbour, in a quick report's
    // 20 ms probes) loses its share, and the report must then say so in `probe_warnings`.
    let warnings: Vec<&str> = json["probe_warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    for row in rows {
        assert!(row["gflops"].as_f64().unwrap() > 0.0, "{row}");
        match row["peak_fraction"].as_f64() {
            Some(share) => assert!(share > 0.0, "{row}"),
            None => {
                let named = format!("{} on {}", row["kernel"].as_str().unwrap(), row["shape"].as_str().unwrap());
                assert!(
                    warnings.iter().any(|w| w.starts_with(&named)),
                    "{row} has no share and no warning: {warnings:?}"
                );
            }
        }
        assert!(row["shape"].as_str().unwrap().ends_with("x192x8x8:10,relu"));
    }
    assert!(json["failures"].as_array().unwrap().is_empty());
    // Timed in turn: the fastest kernel against the FMA-peak loop on both problems, and, on a
    // machine with more than one core, rayon-tiled against itself on 1 thread.
    let shares = json["peak_shares"].as_array().unwrap();
    assert_eq!(shares.len(), 2, "{shares:?}");
    for s in shares {
        let (median, p90) = (s["median"].as_f64().unwrap(), s["p90"].as_f64().unwrap());
        assert!(median > 0.0 && median < 2.0 && p90 > 0.0 && p90 < 2.0, "{s}");
        // In the same rounds, the microkernel on data in L1.
        let tile = &s["l1_tile"];
        let (median, p90) = (tile["median"].as_f64().unwrap(), tile["p90"].as_f64().unwrap());
        assert!(median > 0.0 && median < 2.0 && p90 > 0.0 && p90 < 2.0, "{s}");
        assert!(tile["tile"].as_str().unwrap().contains('x'), "{s}");
    }
    let scaling: Vec<_> =
        json["paired"].as_array().unwrap().iter().filter(|c| c["against"] == "rayon-tiled on 1 thread").collect();
    let multi_core = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
    assert_eq!(scaling.len(), if multi_core { 2 } else { 0 }, "{scaling:?}");
    assert!(scaling.iter().all(|c| c["speedup"].as_f64().unwrap() > 0.0));
    // The control: on each problem, the fastest kernel at 1 thread timed against itself.
    let controls: Vec<_> = json["paired"].as_array().unwrap().iter().filter(|c| c["kernel"] == c["against"]).collect();
    assert_eq!(controls.len(), 2, "{controls:?}");
    assert!(controls.iter().all(|c| c["threads"] == 1 && c["speedup"].as_f64().unwrap() > 0.0), "{controls:?}");
    // Beside each, the FMA-peak loop's speed-up on the same pools in the same rounds.
    let machine = json["scaling"].as_array().unwrap();
    assert_eq!(machine.len(), scaling.len(), "{machine:?}");
    for (s, c) in machine.iter().zip(&scaling) {
        assert_eq!((&s["shape"], &s["kernel"]), (&c["shape"], &c["kernel"]));
        assert_eq!(s["speedup"], c["speedup"]);
        for key in ["fma_loop_speedup", "relative"] {
            assert!(s[key].as_f64().unwrap() > 0.0, "{s}");
        }
    }
    assert!(json["gap"].as_array().unwrap().is_empty(), "the filter excludes every GAP problem");
    // Each target lists every check it missed (none when met, some when not) and names the
    // worst of them, one of those listed.
    for t in json["targets"].as_array().unwrap() {
        let missed = t["missed"].as_array().unwrap();
        match t["met"].as_bool() {
            Some(true) => assert!(missed.is_empty() && t["worst"].is_null(), "{t}"),
            Some(false) => assert!(missed.contains(&t["worst"]), "{t}"),
            None => {}
        }
    }

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    // The summary comes first: right after the title and the line on how it was made.
    let sections: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(sections[..3], ["## Summary", "## Performance targets", "## Machine"], "{sections:?}");
    let summary = md.split("## Performance targets").next().unwrap();
    assert!(summary.contains("| `1x192x8x8:10,relu` |") && summary.contains("| `8x192x8x8:10,relu` |"), "{summary}");
    assert!(summary.contains("src=\"peers.svg\"") && summary.contains("src=\"roofline.svg\""), "{summary}");
    for needle in [
        "## Headline: 1×1 convolution, 1 thread",
        "`1x192x8x8:10,relu`",
        "gemm-crate",
        "FMA peak, 1 thread",
        "within the dot-product error bound of the f64 reference",
        "## Share of the FMA peak and rayon-tiled's scaling, timed in turn",
        "| FMA loop scaling | ÷ loop |",
        "| microkernel in L1, same rounds |",
        "Control: our fastest kernel on each layer timed in turn against itself",
    ] {
        assert!(md.contains(needle), "report.md lacks '{needle}'");
    }
    let svg = std::fs::read_to_string(dir.join("roofline.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<circle"), "roofline.svg has no points");
    // Ours and both peers on both problems: six bars (and the legend's three squares).
    let svg = std::fs::read_to_string(dir.join("peers.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<rect").count() >= 6 + 3, "peers.svg lacks its bars");
}

#[test]
fn quick_gap_report_times_gap_simd_against_a_read_pass_over_its_input() {
    let (_out, dir) = quick_report("x10x8x8");
    let json = json_of(&dir);
    // 1x10x8x8 and 32x10x8x8: one share each, for gap-simd only.
    let shares = json["bandwidth_shares"].as_array().unwrap();
    assert_eq!(shares.len(), 2, "{shares:?}");
    for s in shares {
        assert_eq!(s["kernel"], "gap-simd");
        assert!(s["median"].as_f64().unwrap() > 0.0 && s["p90"].as_f64().unwrap() > 0.0, "{s}");
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| of read bw | in turn |"), "the GAP table lacks the in-turn column");
}

#[test]
fn quick_report_of_one_model_has_the_whole_network_section_and_its_chart() {
    let (_out, dir) = quick_report("nin-cifar10");
    let json = json_of(&dir);
    let runs = json["whole_network"].as_array().unwrap();
    let thread_counts = if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 { 2 } else { 1 };
    assert_eq!(runs.len(), 2 * thread_counts, "batch 1 and 32 at each thread count");
    for run in runs {
        assert_eq!(run["model"], "nin-cifar10");
        assert_eq!(run["timing"]["stages"].as_array().unwrap().len(), 12);
        assert!(run["timing"]["seconds_per_image"].as_f64().unwrap() > 0.0);
        // Verified once, at batch 1 on 1 thread, and every stage within its bound.
        let verified = run["batch"] == 1 && run["threads"] == 1;
        assert_eq!(run["checks"].is_array(), verified, "{}", run["checks"]);
        if verified {
            assert!(run["checks"].as_array().unwrap().iter().all(|c| c["mismatch"].is_null()));
        }
        assert_eq!(run["peer"].is_null(), !cfg!(feature = "tract"));
    }
    assert!(json["conv1x1"].as_array().unwrap().is_empty(), "the filter keeps only the model");
    assert!(json["nin_vs_alexnet"].is_null(), "the filter leaves out nin-imagenet and alexnet");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let summary = md.split("## Performance targets").next().unwrap();
    assert!(summary.contains("## Summary") && !summary.contains("| 1×1 layer |"), "no layer, no layer table");
    for needle in [
        "## Whole networks: forward passes, ours against tract",
        "![where the time goes](network_time.svg)",
        "| nin-cifar10 | 1 | 1 |",
    ] {
        assert!(md.contains(needle), "report.md lacks '{needle}'");
    }
    let svg = std::fs::read_to_string(dir.join("network_time.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<rect") && svg.contains("spatial conv"),
        "network_time.svg has no bars"
    );
}

#[test]
fn quick_int8_report_times_the_int8_kernel_against_f32_and_its_peak_and_checks_target_9() {
    // 15.7 MMAC: one of the large int8 layers target 9 checks.
    let (_out, dir) = quick_report("1x160x32x32:96,u8s8");
    let json = json_of(&dir);
    let rows = json["int8"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["int8"]["shape"], "1x160x32x32:96,u8s8");
    assert_eq!(row["f32"]["shape"], "1x160x32x32:96,relu");
    // The tile qconv-simd chose for the layer: an NCHW map of 1024 pixels fills pixel vectors.
    assert!(row["tile"].as_str().unwrap().ends_with("(pixel vectors)"), "{row}");
    for value in [&row["int8"]["paired_speedup"], &row["int8_peak_share"], &row["int8_peak_share_p90"]] {
        assert!(value.as_f64().unwrap() > 0.0, "{row}");
    }
    // On more than one core, qconv-rayon on all of them, checked and timed against it on 1.
    let multi_core = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
    assert_eq!(row["threads"].is_object(), multi_core, "{row}");
    if multi_core {
        assert_eq!(row["threads"]["kernel"], "qconv-rayon");
        assert!(row["threads"]["paired_speedup"].as_f64().unwrap() > 0.0, "{row}");
    }
    assert_eq!(json["verified"], if multi_core { 2 } else { 1 });
    assert!(json["conv1x1"].as_array().unwrap().is_empty() && json["int8_accuracy"].is_null());
    let target =
        json["targets"].as_array().unwrap().iter().find(|t| t["target"].as_str().unwrap().starts_with("9. int8"));
    let target = target.expect("target 9 in the list");
    assert!(target["met"].is_boolean(), "one large layer measured: {target}");
    assert!(target["measured"].as_str().unwrap().contains("of 1 large int8 layers"), "{target}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for needle in [
        "## Int8: NIN's 1×1 layers on u8 activations and s8 weights",
        "| `1x160x32x32:96,u8s8` | 15.7 | qconv-simd, ",
        "bit for bit against the integer reference",
        "- Int8: `qconv-simd` (",
    ] {
        assert!(md.contains(needle), "report.md lacks '{needle}'");
    }
}
