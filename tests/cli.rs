//! The built `nin-bench` binary on good and bad input: exit codes, one-line errors, JSON keys,
//! and a .npy round trip through every kernel compared with the reference.

use std::path::Path;

mod common;

use common::{assert_bad_input, run};
use nin_bench::npy::{read_f32, write_f32};
use nin_bench::registry::{Registry, conv1x1_kernels, gap_kernels};
use nin_bench::tensor::seeded_uniform;
use nin_bench::{Conv1x1Problem, GapProblem, reference};

#[test]
fn list_json_has_every_kernel_with_name_and_op() {
    let (code, stdout, _) = run(&["list", "--json"]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), Registry::from_env().all().count());
    for row in rows {
        assert!(row["name"].is_string() && row["isa"].is_string());
        assert!(["conv1x1", "gap", "mlpconv", "qconv1x1", "qgap"].contains(&row["op"].as_str().unwrap()));
    }
}

#[test]
fn verify_passes_on_awkward_shapes_and_a_shape_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shapes.txt");
    std::fs::write(&file, "# two layers\n1x17x5x3:7,s2,relu\n\n2x9x6x6,nhwc # a GAP\n").unwrap();
    let (code, stdout, stderr) = run(&[
        "verify",
        "--shape",
        "2x3x7x5:13,nhwc",
        "--shapes",
        file.to_str().unwrap(),
        "--kernel",
        "naive",
        "--kernel",
        "gap-simd",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("3 checks, 0 failed"), "{stdout}");
}

#[test]
fn verify_and_run_take_chains_and_reject_them_on_other_kernels() {
    let (code, stdout, stderr) =
        run(&["verify", "--shape", "2x13x5x7:8:6", "--shape", "1x30x6x6:10,gap", "--kernel", "mlpconv-fused"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("2 checks, 0 failed"), "{stdout}");
    let (code, stdout, stderr) =
        run(&["run", "--kernel", "mlpconv-fused", "--shape", "1x8x4x4:6:5,gap", "--threads", "1", "--quick", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows[0]["shape"], "1x8x4x4:6:5,gap");
    assert!(rows[0]["gflops"].as_f64().unwrap() > 0.0);
    assert_bad_input(
        &["run", "--kernel", "mlpconv-fused", "--shape", "1x8x4x4:6", "--quick"],
        "mlpconv-fused is a mlpconv kernel, but this is a conv1x1 problem",
    );
    assert_bad_input(&["verify", "--shape", "1x8x4x4:6:5,relu"], "unknown flag 'relu'");
}

#[test]
fn run_against_times_two_kernels_in_turn_and_rejects_another_operation() {
    let (code, stdout, stderr) =
        run(&["run", "--kernel", "gap-simd", "--against", "gap-naive", "--shape", "1x10x8x8", "--quick", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((rows[0]["kernel"].as_str(), rows[1]["kernel"].as_str()), (Some("gap-simd"), Some("gap-naive")));
    assert!(rows[0]["paired_speedup"].as_f64().unwrap() > 0.0);
    assert!(rows[1].get("paired_speedup").is_none());
    assert_bad_input(
        &["run", "--kernel", "gap-simd", "--against", "naive", "--shape", "1x10x8x8", "--quick"],
        "gap-simd is a gap kernel, naive a conv1x1 kernel",
    );
}

#[test]
fn run_against_a_gemm_library_times_the_peer_in_turn_on_conv_problems_only() {
    let args = ["run", "--kernel", "blocked-simd", "--against", "gemm-crate", "--threads", "1"];
    let (code, stdout, stderr) = run(&[&args[..], &["--shape", "1x16x8x8:16,relu", "--quick", "--json"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((rows[0]["kernel"].as_str(), rows[1]["kernel"].as_str()), (Some("blocked-simd"), Some("gemm-crate")));
    assert!(rows[0]["paired_speedup"].as_f64().unwrap() > 0.0);
    assert_bad_input(
        &["run", "--kernel", "gap-simd", "--against", "matrixmultiply", "--shape", "1x10x8x8", "--quick"],
        "matrixmultiply is a GEMM library, it runs 1×1 convolutions only",
    );
    assert_bad_input(
        &["run", "--kernel", "naive", "--against", "gemm-crate", "--shape", "1x4x6x6:3,s2", "--quick"],
        "gemm-crate cannot run it: strided",
    );
}

#[test]
fn run_against_the_machine_limits_gives_shares_timed_in_turn_for_the_matching_operation() {
    let (code, stdout, stderr) = run(&[
        "run",
        "--kernel",
        "blocked-simd",
        "--against",
        "fma-peak",
        "--shape",
        "1x16x8x8:16,relu",
        "--quick",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let shares: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((shares[0]["kernel"].as_str(), shares[0]["threads"].as_u64()), (Some("blocked-simd"), Some(1)));
    assert!(shares[0]["median"].as_f64().unwrap() > 0.0 && shares[0]["p90"].as_f64().unwrap() > 0.0);
    assert!(shares[0]["l1_tile"]["median"].as_f64().unwrap() > 0.0, "{stdout}");
    let (code, stdout, stderr) =
        run(&["run", "--kernel", "blocked-simd", "--against", "fma-peak", "--shape", "1x16x8x8:16", "--quick"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("of the FMA peak") && stdout.contains("microkernel on data in L1"), "{stdout}");
    let (code, stdout, stderr) =
        run(&["run", "--kernel", "gap-simd", "--against", "read-pass", "--shape", "1x10x8x8", "--quick"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("of the read bandwidth of its input"), "{stdout}");
    assert_bad_input(
        &["run", "--kernel", "gap-simd", "--against", "fma-peak", "--shape", "1x10x8x8", "--quick"],
        "fma-peak times a conv kernel on a conv problem",
    );
}

#[test]
fn run_json_rows_have_the_contract_keys() {
    let (code, stdout, stderr) =
        run(&["run", "--kernel", "blocked-simd", "--shape", "1x16x8x8:16,relu", "--quick", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let row = &rows[0];
    for key in ["kernel", "shape", "threads", "gflops", "gbps", "seconds_median", "peak_fraction"] {
        assert!(!row[key].is_null(), "missing {key} in {row}");
    }
    assert_eq!(row["shape"], "1x16x8x8:16,relu");
    assert_eq!(row["threads"], 1);
    assert!(row["gflops"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_problem_strings_and_kernels_are_one_line_errors_with_exit_2() {
    assert_bad_input(&["verify", "--shape", "1x192x28x28:abc"], "expected NxCxHxW:K");
    assert_bad_input(&["verify", "--shape", "1x192x28"], "expected NxCxHxW[,nhwc]");
    assert_bad_input(&["verify", "--shape", "1x192x28:32"], "3 dimensions");
    assert_bad_input(&["verify", "--shape", "1x0x28x28:32"], "dimension C is zero");
    assert_bad_input(&["verify", "--shape", "1x2x3x4:5,fast"], "unknown flag 'fast'");
    assert_bad_input(&["run", "--kernel", "fastest", "--shape", "1x2x3x4:5"], "known kernels: naive");
    assert_bad_input(&["run", "--kernel", "gap-simd", "--shape", "1x2x3x4:5"], "gap kernel");
    assert_bad_input(&["run", "--kernel", "naive"], "no problem given");
    assert_bad_input(&["verify", "--shapes", "/nonexistent/shapes.txt"], "cannot read shape file");
}

fn save(dir: &Path, name: &str, shape: &[usize], data: &[f32]) -> String {
    let path = dir.join(name);
    write_f32(&path, shape, data).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn conv1x1_and_gap_round_trip_through_npy_for_every_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let p: Conv1x1Problem = "2x19x7x6:11,s2,relu".parse().unwrap();
    let (x, w, b) = (seeded_uniform(p.input_len(), 1), seeded_uniform(p.weights_len(), 2), seeded_uniform(p.cout, 3));
    let expected = reference::conv1x1(&p, &x, &w, Some(&b));
    let xs = save(dir.path(), "x.npy", &p.input_dims(), &x);
    let ws = save(dir.path(), "w.npy", &[p.cout, p.cin, 1, 1], &w);
    let bs = save(dir.path(), "b.npy", &[p.cout], &b);
    for kernel in conv1x1_kernels() {
        let ys = dir.path().join(format!("y-{}.npy", kernel.name()));
        let args = ["conv1x1", "--kernel", kernel.name(), "--input", &xs, "--weights", &ws, "--bias", &bs];
        let (code, _, stderr) =
            run(&[&args[..], &["--stride", "2", "--relu", "--output", ys.to_str().unwrap()]].concat());
        assert_eq!(code, 0, "{}: {stderr}", kernel.name());
        let y = read_f32(&ys).unwrap();
        assert_eq!(y.shape, p.output_dims());
        assert!(expected.check(&y.data).is_ok(), "{} via npy", kernel.name());
    }

    let g: GapProblem = "3x21x5x7".parse().unwrap();
    let maps = seeded_uniform(g.input_len(), 4);
    let expected = reference::gap(&g, &maps);
    let ms = save(dir.path(), "maps.npy", &g.input_dims(), &maps);
    for kernel in gap_kernels() {
        let ys = dir.path().join(format!("s-{}.npy", kernel.name()));
        let (code, _, stderr) =
            run(&["gap", "--kernel", kernel.name(), "--input", &ms, "--output", ys.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {stderr}", kernel.name());
        let y = read_f32(&ys).unwrap();
        assert_eq!(y.shape, vec![3, 21]);
        assert!(expected.check(&y.data).is_ok(), "{} via npy", kernel.name());
    }
}

#[test]
fn bad_npy_inputs_fail_with_one_line_and_leave_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = save(d, "x.npy", &[1, 4, 3, 3], &[0.5; 36]);
    let w = save(d, "w.npy", &[2, 4], &[0.5; 8]);
    let w_wrong_cin = save(d, "w5.npy", &[2, 5], &[0.5; 10]);
    let w_rank3 = save(d, "w3.npy", &[2, 4, 1], &[0.5; 8]);
    let x_rank3 = save(d, "x3.npy", &[4, 3, 3], &[0.5; 36]);
    let b_wrong = save(d, "b.npy", &[3], &[0.5; 3]);
    let full = std::fs::read(d.join("x.npy")).unwrap();
    std::fs::write(d.join("trunc.npy"), &full[..full.len() - 10]).unwrap();
    let mut f64_bytes = Vec::new();
    {
        use npyz::WriterBuilder;
        let mut wr =
            npyz::WriteOptions::new().default_dtype().shape(&[2, 4]).writer(&mut f64_bytes).begin_nd().unwrap();
        wr.extend([0.5f64; 8]).unwrap();
        wr.finish().unwrap();
    }
    std::fs::write(d.join("w64.npy"), &f64_bytes).unwrap();
    let mut fortran = std::fs::read(d.join("w.npy")).unwrap();
    let at = fortran.windows(5).position(|s| s == b"False").unwrap();
    fortran[at..at + 5].copy_from_slice(b"True ");
    std::fs::write(d.join("wf.npy"), &fortran).unwrap();
    let out = d.join("y.npy");
    let y = out.to_str().unwrap();
    let path = |n: &str| d.join(n).to_str().unwrap().to_string();

    let conv = |input: &str, weights: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> =
            ["conv1x1", "--input", input, "--weights", weights, "--output", y].iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (conv(&path("missing.npy"), &w, &[]), "cannot open"),
        (conv(&path("trunc.npy"), &w, &[]), "truncated"),
        (conv(&x, &path("w64.npy"), &[]), "not float32"),
        (conv(&x, &path("wf.npy"), &[]), "Fortran order"),
        (conv(&x_rank3, &w, &[]), "rank 3"),
        (conv(&x, &w_rank3, &[]), "not Cout×Cin"),
        (conv(&x, &w_wrong_cin, &[]), "Cin = 5"),
        (conv(&x, &w, &["--bias", &b_wrong]), "expected [2]"),
        (conv(&x, &w, &["--stride", "0"]), "stride is zero"),
        (conv(&x, &w, &["--kernel", "nope"]), "known kernels"),
        (vec!["gap".into(), "--input".into(), x_rank3.clone(), "--output".into(), y.into()], "rank 3"),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(&args, needle);
        assert!(!out.exists(), "{args:?} left an output file");
    }
    // Nothing but the inputs is left behind (no temporary files).
    let names: Vec<String> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| n.ends_with(".npy")), "{names:?}");
}

#[test]
fn compare_exits_1_on_a_regression_beyond_the_limit_and_0_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let report = |fraction: f64| {
        serde_json::json!({
            "machine": {"id": "test-machine"},
            "conv1x1": [{"kernel": "blocked-simd", "shape": "1x192x8x8:10,relu", "threads": 1, "peak_fraction": fraction, "gflops": 70.0}],
            "gap": [{"kernel": "gap-simd", "shape": "1x1000x6x6", "threads": 1, "peak_fraction": 0.5}]
        })
        .to_string()
    };
    let base = dir.path().join("base.json");
    let slower = dir.path().join("slower.json");
    let same = dir.path().join("same.json");
    std::fs::write(&base, report(0.80)).unwrap();
    std::fs::write(&slower, report(0.60)).unwrap(); // −25%
    std::fs::write(&same, report(0.78)).unwrap(); // −2.5%
    let (p, s, q) = (base.to_str().unwrap(), slower.to_str().unwrap(), same.to_str().unwrap());
    let (code, stdout, _) = run(&["compare", p, s, "--max-regression", "10"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("REGRESSION") && stdout.contains("-25.0%"), "{stdout}");
    assert_eq!(run(&["compare", p, s, "--max-regression", "30"]).0, 0);
    assert_eq!(run(&["compare", p, q]).0, 0);
    assert_bad_input(&["compare", p, "/nonexistent.json"], "cannot read");
    std::fs::write(dir.path().join("junk.json"), "{").unwrap();
    assert_bad_input(&["compare", p, dir.path().join("junk.json").to_str().unwrap()], "not a nin-bench report.json");
}

#[test]
fn isa_can_be_forced_and_a_path_the_cpu_lacks_is_refused_naming_what_it_has() {
    let (code, stdout, stderr) = run(&["--isa", "scalar", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("scalar (pulp fallback, forced)"), "{stdout}");
    assert!(stdout.contains("ISA paths on this CPU: scalar"), "{stdout}");
    let (code, stdout, stderr) =
        run(&["verify", "--isa", "scalar", "--shape", "1x9x5x5:7", "--kernel", "blocked-simd"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1 checks, 0 failed"), "{stdout}");
    for isa in nin_bench::simd::Isa::ALL {
        if let Err(why) = isa.check() {
            assert_bad_input(
                &["run", "--isa", isa.name(), "--kernel", "naive", "--shape", "1x2x2x2:2", "--quick"],
                &why,
            );
            assert_bad_input(&["list", "--isa", isa.name()], "the paths available here are scalar");
            eprintln!("skipped running --isa {}: {why}", isa.name());
        }
    }
    assert_bad_input(
        &["list", "--isa", "sse9"],
        "ISA sse9: not an ISA path; the paths are scalar, avx2, avx512, emu512",
    );
    // emu512 runs anywhere: the kernels take the 16-lane code, with the 16-lane tile.
    let (code, stdout, stderr) = run(&[
        "verify",
        "--isa",
        "emu512",
        "--shape",
        "1x9x5x5:7,relu",
        "--shape",
        "1x17x6x6",
        "--shape",
        "1x8x3x3:5:3,gap",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("0 failed"), "{stdout}");
    let (_, stdout, _) = run(&["list", "--isa", "emu512"]);
    assert!(
        stdout.contains("emu512 (pulp Scalar512b, 16 lanes emulated, forced)")
            && stdout.contains(&nin_bench::blocking::AVX512_TILE.name(16)),
        "{stdout}"
    );
    // ... but it has no peak: what measures shares of one refuses it.
    assert_bad_input(&["tiles", "--isa", "emu512", "--quick"], "ISA emu512: a check path");
    assert_bad_input(&["report", "--isa", "emu512", "--quick"], "ISA emu512: a check path");
    let out = common::nin_bench().args(["list"]).env("NIN_BENCH_ISA", "bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ISA bogus (from NIN_BENCH_ISA)"));
    let out = common::nin_bench().args(["list"]).env("NIN_BENCH_FORCE_SCALAR", "1").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("scalar (pulp fallback, forced)"));
}

#[test]
fn readme_kernel_table_is_what_list_markdown_prints() {
    let (code, table, stderr) = run(&["list", "--markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(table.lines().count(), 2 + Registry::from_env().all().count());
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README.md's Kernels table differs from the registry: paste the output of `nin-bench list --markdown`:\n{table}"
    );
}

#[test]
fn tiles_json_times_every_candidate_with_the_kernels_tile_among_them() {
    let (code, stdout, stderr) = run(&["tiles", "--quick", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let tiles: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let tiles = tiles.as_array().unwrap();
    let lanes = nin_bench::SimdPolicy::from_env().f32_lanes();
    let kernels: Vec<_> = tiles.iter().filter(|t| t["kernels_tile"].as_bool().unwrap()).collect();
    assert_eq!(kernels.len(), 1, "{stdout}");
    assert_eq!(kernels[0]["tile"], nin_bench::blocking::tile(nin_bench::SimdPolicy::from_env()).name(lanes));
    if lanes == 1 {
        eprintln!("skipped: the scalar path has only the kernels' tile to time");
    } else {
        assert!(tiles.len() > 1, "{stdout}");
    }
    for t in tiles {
        let (median, p90) = (t["median"].as_f64().unwrap(), t["p90"].as_f64().unwrap());
        assert!(median > 0.0 && p90 > 0.0 && t["gflops"].as_f64().unwrap() > 0.0, "{t}");
        assert!(
            t["registers"].as_u64().unwrap() as usize
                <= nin_bench::blocking::vector_registers(nin_bench::SimdPolicy::from_env())
                || t["kernels_tile"] == true,
            "{t}"
        );
    }
}

#[test]
fn an_int8_kernel_is_timed_in_turn_against_an_f32_kernel_on_its_f32_twin() {
    let (code, stdout, stderr) = run(&[
        "run",
        "--kernel",
        "qconv-naive",
        "--against",
        "naive",
        "--shape",
        "1x8x4x4:4,u8s8",
        "--quick",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert_eq!(
        (rows[0]["shape"].as_str(), rows[1]["shape"].as_str()),
        (Some("1x8x4x4:4,u8s8"), Some("1x8x4x4:4,relu"))
    );
    assert!(rows[0]["paired_speedup"].as_f64().unwrap() > 0.0);
    // Against a GAP kernel there is no twin.
    let (code, _, stderr) =
        run(&["run", "--kernel", "qconv-naive", "--against", "gap-naive", "--shape", "1x8x4x4:4,u8s8"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn an_int8_kernel_is_timed_against_the_int8_peak_loop() {
    let (code, stdout, stderr) =
        run(&["run", "--kernel", "qconv-simd", "--against", "int8-peak", "--shape", "1x64x8x8:64,u8s8", "--quick"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("of the int8 peak"), "{stdout}");
    let (code, _, stderr) = run(&["run", "--kernel", "naive", "--against", "int8-peak", "--shape", "1x8x4x4:4"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("int8-peak an int8 kernel"), "{stderr}");
}
