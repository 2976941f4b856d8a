//! The binary as a careless or hostile user would try it: sizes that fit the address space but
//! not the machine, outputs that are devices, FIFOs or links, endless inputs, thread counts and
//! thresholds that would hang or switch off a gate, inputs that leave nothing to do, flags that
//! contradict each other, and random strings and bytes fed to the parsers. Each gets one clear
//! line and exit status 2 (exit 1 for a gate that fails), never an abort, a hang or a touched
//! file outside the output.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use common::{assert_bad_input, private_device, run};
use nin_bench::npy::{read_f32, write_f32};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Asserts a refusal by clap (its own usage error: exit 2, several lines, no panic).
fn assert_usage_error(args: &[&str], needle: &str) {
    let (code, _, stderr) = run(args);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: expected '{needle}' in: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
}

/// Small .npy inputs of a 1×1 convolution: x 1×8×4×4, w 5×8.
fn small_conv_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let (x, w) = (dir.join("x.npy"), dir.join("w.npy"));
    write_f32(&x, &[1, 8, 4, 4], &[0.5; 128]).unwrap();
    write_f32(&w, &[5, 8], &[0.25; 40]).unwrap();
    (x, w)
}

fn conv_args<'a>(x: &'a Path, w: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "conv1x1",
        "--kernel",
        "naive",
        "--input",
        x.to_str().unwrap(),
        "--weights",
        w.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]
}

// 1. Sizes that fit the address space but not the machine.

#[test]
fn problems_larger_than_memory_are_refused_before_allocating() {
    assert_bad_input(&["verify", "--shape", "1x100000x100000x100000:7"], "this machine has");
    assert_bad_input(&["verify", "--shape", "1x100000x100000x100000:7"], "1x100000x100000x100000:7 needs");
    assert_bad_input(&["run", "--kernel", "naive", "--quick", "--shape", "1x1x1x1:99999999999"], "TiB");
    // A chain whose middle layer is huge, and a GAP.
    assert_bad_input(&["verify", "--shape", "1x8x300x300:8:200000"], "needs");
    assert_bad_input(&["run", "--kernel", "gap-simd", "--shape", "100000x100000x100x100"], "needs");
    // A budget of one's own.
    assert_bad_input(
        &["verify", "--max-memory", "1M", "--shape", "1x64x64x64:64"],
        "1x64x64x64:64 needs 11.0 MiB; --max-memory allows 1.00 MiB",
    );
    let (code, _, stderr) = run(&["verify", "--max-memory", "64M", "--shape", "1x64x64x64:64", "--kernel", "naive"]);
    assert_eq!(code, 0, "{stderr}");
    assert_usage_error(&["verify", "--max-memory", "lots", "--shape", "1x2x2x2:2"], "not a size");
}

#[test]
fn a_small_npy_whose_output_would_not_fit_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (x, w) = (dir.path().join("x.npy"), dir.path().join("w.npy"));
    write_f32(&x, &[1, 1, 1000, 1000], &vec![1.0; 1_000_000]).unwrap();
    write_f32(&w, &[3000, 1], &vec![1.0; 3000]).unwrap();
    let out = dir.path().join("y.npy");
    let mut args = conv_args(&x, &w, &out);
    args.extend(["--max-memory", "1G"]);
    assert_bad_input(&args, "conv1x1 1x1x1000x1000:3000,nobias (input, weights, packed weights, output) needs");
    assert!(!out.exists());
}

/// A .npy file of `header` (a Python dict literal) and `data_bytes` zero bytes of data.
fn npy_with_header(path: &Path, header: &str, data_bytes: usize) {
    let mut text = header.to_string();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
    bytes.resize(bytes.len() + data_bytes, 0);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn an_npy_header_claiming_more_data_than_the_file_holds_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.npy");
    npy_with_header(&huge, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }", 64);
    let err = read_f32(&huge).unwrap_err().to_string();
    assert!(err.contains("truncated: it holds 64 bytes of data"), "{err}");
    let overflow = dir.path().join("overflow.npy");
    npy_with_header(&overflow, "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 3), }", 0);
    assert!(read_f32(&overflow).unwrap_err().to_string().contains("more values than fit in memory"));
    // A version-2 header length of 4 GiB in a 12-byte file.
    let long_header = dir.path().join("long_header.npy");
    std::fs::write(&long_header, b"\x93NUMPY\x02\x00\xff\xff\xff\xff").unwrap();
    assert!(read_f32(&long_header).unwrap_err().to_string().contains("header claims 4294967295 bytes"));
    // Extra bytes after the data are as wrong as missing ones.
    let extra = dir.path().join("extra.npy");
    npy_with_header(&extra, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12);
    assert!(read_f32(&extra).unwrap_err().to_string().contains("holds 12 bytes of data"));
    let out = dir.path().join("y.npy");
    let (_, w) = small_conv_inputs(dir.path());
    assert_bad_input(&conv_args(&huge, &w, &out), "truncated");
    let non_dict = dir.path().join("list.npy");
    npy_with_header(&non_dict, "['descr',\n 'shape']", 0);
    assert_bad_input(&conv_args(&non_dict, &w, &out), "not a valid .npy file");
    assert!(!out.exists());
}

// 2. Outputs that respect what they are.

#[test]
fn a_character_device_output_is_written_through_and_a_full_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (x, w) = small_conv_inputs(dir.path());
    let Some(null) = private_device(dir.path(), "null", 3) else { return };
    let (code, _, stderr) = run(&conv_args(&x, &w, &null));
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::metadata(&null).unwrap().file_type().is_char_device(), "the device was replaced");
    let Some(full) = private_device(dir.path(), "full", 7) else { return };
    assert_bad_input(&conv_args(&x, &w, &full), "No space left on device");
    assert!(std::fs::metadata(&full).unwrap().file_type().is_char_device(), "the device was replaced");
    // Through the library too, with an output larger than any buffer.
    let err = nin_bench::files::write_output(&full, |out| out.write_all(&[1u8; 1 << 20])).unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names.len(), 4, "nothing but the inputs and the two devices: {names:?}");
}

#[test]
fn a_fifo_output_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let (x, w) = small_conv_inputs(dir.path());
    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a node in the temp folder.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let (code, _, stderr) = run(&conv_args(&x, &w, &fifo));
    assert_eq!(code, 0, "{stderr}");
    let bytes = reader.join().unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"), "{} bytes", bytes.len());
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_symlink_output_writes_its_target_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let (x, w) = small_conv_inputs(dir.path());
    let target = dir.path().join("target.npy");
    std::fs::write(&target, b"old").unwrap();
    let link = dir.path().join("link.npy");
    std::os::unix::fs::symlink("target.npy", &link).unwrap();
    let (code, _, stderr) = run(&conv_args(&x, &w, &link));
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert_eq!(read_f32(&target).unwrap().shape, [1, 5, 4, 4]);
}

#[test]
fn a_new_output_file_gets_the_mode_of_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let (x, w) = small_conv_inputs(dir.path());
    for (umask, mode) in [(0o022, 0o644), (0o027, 0o640)] {
        let out = dir.path().join(format!("y{umask:o}.npy"));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_nin-bench"));
        cmd.args(conv_args(&x, &w, &out));
        // SAFETY: umask is async-signal-safe and only sets the child's file-creation mask.
        unsafe {
            cmd.pre_exec(move || {
                libc::umask(umask);
                Ok(())
            });
        }
        let status = cmd.output().unwrap().status;
        assert!(status.success());
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, mode, "umask {umask:o}");
    }
}

// 3. Bounded reads and threads.

#[test]
fn endless_inputs_are_refused_after_a_bounded_read() {
    assert_bad_input(&["verify", "--shapes", "/dev/zero"], "shape file is larger than 64.0 MiB");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    std::fs::write(&report, "{}").unwrap();
    assert_bad_input(&["compare", "/dev/zero", report.to_str().unwrap()], "report is larger than 64.0 MiB");
}

#[test]
fn thread_counts_outside_1_to_1024_are_refused_from_the_flag_and_the_environment() {
    for bad in ["0", "100000", "-1", "many", "1e3"] {
        let threads = format!("--threads={bad}");
        assert_usage_error(
            &["run", "--kernel", "rayon-tiled", &threads, "--shape", "1x3x4x4:5", "--quick"],
            "from 1 to 1024",
        );
    }
    let out = common::nin_bench()
        .args(["verify", "--shape", "1x3x4x4:5"])
        .env("RAYON_NUM_THREADS", "100000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RAYON_NUM_THREADS=100000: threads must be"));
    let (code, stdout, stderr) =
        run(&["run", "--kernel", "rayon-tiled", "--threads", "3", "--shape", "1x3x4x4:5", "--quick", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows[0]["threads"], 3, "the table says the true count");
}

// 4. A gate that cannot be fooled.

fn write_report(dir: &Path, name: &str, machine: &str, fractions: &[Option<f64>]) -> PathBuf {
    let shapes = ["1x192x8x8:10,relu", "1x1024x6x6:1000,relu", "1x256x27x27:256,relu"];
    let rows: Vec<serde_json::Value> = shapes
        .iter()
        .zip(fractions)
        .map(|(shape, f)| serde_json::json!({"kernel": "blocked-simd", "shape": shape, "threads": 1, "peak_fraction": f}))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, serde_json::json!({"machine": {"id": machine}, "conv1x1": rows}).to_string()).unwrap();
    path
}

#[test]
fn a_regression_threshold_that_would_pass_everything_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_report(dir.path(), "base.json", "m", &[Some(0.8), Some(0.8), Some(0.8)]);
    let slower = write_report(dir.path(), "slower.json", "m", &[Some(0.4), Some(0.8), Some(0.8)]);
    let (b, s) = (base.to_str().unwrap(), slower.to_str().unwrap());
    for bad in ["NaN", "inf", "-inf", "-5", "ten", "1e400"] {
        let threshold = format!("--max-regression={bad}");
        assert_usage_error(&["compare", b, s, &threshold], "finite percentage");
    }
    assert_usage_error(&["gate", "--max-increase=NaN"], "finite percentage");
    assert_eq!(run(&["compare", b, s, "--max-regression", "0"]).0, 1);
}

#[test]
fn rows_that_cannot_be_compared_fail_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_report(dir.path(), "base.json", "m", &[Some(0.8), Some(0.8), Some(0.8)]);
    let nulls = write_report(dir.path(), "nulls.json", "m", &[Some(0.8), None, None]);
    let fewer = write_report(dir.path(), "fewer.json", "m", &[Some(0.8)]);
    let (b, n, f) = (base.to_str().unwrap(), nulls.to_str().unwrap(), fewer.to_str().unwrap());
    let (code, stdout, _) = run(&["compare", b, n]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("2 rows cannot be compared (FAIL)"), "{stdout}");
    assert!(stdout.contains("no peak fraction in the new report"), "{stdout}");
    let (code, stdout, _) = run(&["compare", b, f]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("missing from the new report"), "{stdout}");
    let (code, stdout, _) = run(&["compare", b, n, "--allow-missing"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("allowed by --allow-missing"), "{stdout}");
    // An unknown kernel cannot be judged either.
    let text = std::fs::read_to_string(&base).unwrap().replacen("blocked-simd", "no-such-kernel", 1);
    let unknown = dir.path().join("unknown.json");
    std::fs::write(&unknown, text).unwrap();
    let (code, stdout, _) = run(&["compare", b, unknown.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("unknown kernel"), "{stdout}");
    // Nothing comparable at all is an error.
    let all_null = write_report(dir.path(), "all_null.json", "m", &[None, None, None]);
    let (code, _, stderr) = run(&["compare", b, all_null.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no kernel × problem × threads row that can be compared"), "{stderr}");
}

#[test]
fn reports_of_two_machines_are_compared_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let amd = write_report(dir.path(), "amd.json", "amd-epyc-2c-avx2", &[Some(0.8), Some(0.8), Some(0.8)]);
    let intel = write_report(dir.path(), "intel.json", "intel-xeon-2c-avx512", &[Some(0.8), Some(0.8), Some(0.8)]);
    let (a, i) = (amd.to_str().unwrap(), intel.to_str().unwrap());
    assert_bad_input(&["compare", a, i], "two machines, 'amd-epyc-2c-avx2' and 'intel-xeon-2c-avx512'");
    let (code, stdout, stderr) = run(&["compare", a, i, "--cross-machine"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("warning: the reports come from two machines")).count(), 1);
}

// 5. No silent no-ops.

#[test]
fn inputs_that_leave_nothing_to_do_are_errors_naming_what_was_empty() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let comments = dir.path().join("comments.txt");
    std::fs::write(&comments, "# only a comment\n\n   # another\n").unwrap();
    for file in [&empty, &comments] {
        let path = file.to_str().unwrap();
        assert_bad_input(&["verify", "--shapes", path], &format!("shape file {path}: holds no problem"));
        assert_bad_input(&["run", "--kernel", "naive", "--shapes", path, "--quick"], "holds no problem");
    }
    assert_bad_input(
        &["verify", "--kernel", "gap-simd", "--shape", "1x3x4x4:5"],
        "--kernel gap-simd: it is a gap kernel, and no gap problem was given (only conv1x1)",
    );
    assert_bad_input(&["report", "--quick", "--filter", "no-such-thing"], "--filter no-such-thing: matches no problem");
}

// 6. One meaning per problem string, and 7. short error text.

#[test]
fn repeated_or_conflicting_flags_and_long_inputs_give_one_short_line() {
    assert_bad_input(&["verify", "--shape", "1x3x4x4:5,s2,s3"], "flags 's2' and 's3' both set the stride");
    assert_bad_input(&["verify", "--shape", "1x3x4x4:5,relu,relu"], "flag 'relu' is given twice");
    assert_bad_input(&["verify", "--shape", "1x3x4x4:5,gap,gap"], "flag 'gap' is given twice");
    let long = format!("1x{}x4x4:5", "9".repeat(100_000));
    let (code, _, stderr) = run(&["verify", "--shape", &long]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.len() < 400, "{} bytes: {stderr}", stderr.len());
    assert_bad_input(&["verify", "--shape", "1x3x4x4:5,re\nlu"], "unknown flag 're\\nlu'");
}

// Property tests: the parsers return typed errors on anything, never panic.

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/hostile_input.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_problem_strings_parse_or_give_a_one_line_error(s in "[0-9x:,a-z ]{0,40}|\\PC{0,40}") {
        if let Err(e) = s.parse::<nin_bench::Problem>() {
            let msg = e.to_string();
            prop_assert_eq!(msg.lines().count(), 1, "{}", msg);
            prop_assert!(msg.len() < 600, "{}", msg);
        }
    }

    #[test]
    fn random_bytes_as_an_npy_header_give_a_typed_error(
        version in prop_oneof![Just(1u8), Just(2u8), Just(3u8), any::<u8>()],
        header in prop_oneof![
            "\\{'descr': '[<>|]?[a-zA-Z][0-9]{0,2}', 'fortran_order': (True|False), 'shape': \\(([0-9]{1,20}, ?){0,4}\\), \\}",
            "\\PC{0,80}",
        ],
        raw in proptest::collection::vec(any::<u8>(), 0..64),
        data in proptest::collection::vec(any::<u8>(), 0..256),
        use_raw in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.npy");
        let header = if use_raw { raw } else { header.into_bytes() };
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.extend([version, 0]);
        if version == 1 {
            bytes.extend((header.len() as u16).to_le_bytes());
        } else {
            bytes.extend((header.len() as u32).to_le_bytes());
        }
        bytes.extend(&header);
        bytes.extend(&data);
        std::fs::write(&path, &bytes).unwrap();
        match read_f32(&path) {
            Ok(array) => prop_assert_eq!(array.data.len(), array.shape.iter().product::<usize>()),
            Err(e) => prop_assert_eq!(e.to_string().lines().count(), 1),
        }
    }
}
