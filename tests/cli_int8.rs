//! `conv1x1` and `gap` on uint8 `.npy` inputs: the int8 kernels through the binary, bit for bit
//! against the integer reference, and bad int8 inputs as one line and exit status 2.

use std::path::Path;

mod common;

use common::{assert_bad_input, run};
use nin_bench::npy::{Element, read_f32, write};
use nin_bench::problem::{QConv1x1Problem, QGapProblem};
use nin_bench::quant::{QLayer, WeightRange, gap_multiplier, reference, seeded_activations};
use nin_bench::registry::Registry;

fn save<T: Element>(dir: &Path, name: &str, shape: &[usize], data: &[T]) -> String {
    let path = dir.join(name);
    write(&path, shape, data).unwrap();
    path.to_str().unwrap().to_string()
}

fn read_u8(path: &Path) -> (Vec<usize>, Vec<u8>) {
    let array = nin_bench::npy::open::<u8>(path).unwrap().read().unwrap();
    (array.shape, array.data)
}

#[test]
fn uint8_conv1x1_and_gap_match_the_integer_reference_for_every_int8_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p: QConv1x1Problem = "2x19x7x6:11,u8s8,s2".parse().unwrap();
    let c = *p.conv();
    let x = seeded_activations(c.input_len(), 1);
    // 7-bit weights, which every path takes.
    let layer = QLayer::seeded(&p, WeightRange::SevenBit, 2);
    let expected = reference::qconv1x1(&p, &x, &layer);
    let xs = save(d, "x.npy", &c.input_dims(), &x);
    let ws = save(d, "w.npy", &[c.cout, c.cin, 1, 1], &layer.weights);
    let bs = save(d, "b.npy", &[c.cout], &layer.bias);
    let ms = save(d, "m.npy", &[c.cout], &layer.multipliers);
    let registry = Registry::from_env();
    for kernel in registry.qconv1x1() {
        let ys = d.join(format!("y-{}.npy", kernel.name()));
        let args = ["conv1x1", "--kernel", kernel.name(), "--input", &xs, "--weights", &ws, "--bias", &bs];
        let (code, _, stderr) =
            run(&[&args[..], &["--multipliers", &ms, "--stride", "2", "--output", ys.to_str().unwrap()]].concat());
        assert_eq!(code, 0, "{}: {stderr}", kernel.name());
        assert_eq!(read_u8(&ys), (c.output_dims().to_vec(), expected.out.clone()), "{} via npy", kernel.name());
    }

    let g: QGapProblem = "3x21x5x7,u8".parse().unwrap();
    let maps = seeded_activations(g.gap().input_len(), 4);
    let (_, expected) = reference::qgap(&g, &maps, gap_multiplier(&g));
    let ms = save(d, "maps.npy", &g.gap().input_dims(), &maps);
    for kernel in registry.qgap() {
        let ys = d.join(format!("s-{}.npy", kernel.name()));
        let (code, _, stderr) =
            run(&["gap", "--kernel", kernel.name(), "--input", &ms, "--output", ys.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {stderr}", kernel.name());
        assert_eq!(read_u8(&ys), (vec![3, 21], expected.clone()), "{} via npy", kernel.name());
    }
    // The f32 GAP still answers a float32 input, whatever the int8 one does.
    let fs = save(d, "f.npy", &[1, 2, 2, 2], &[1.0f32; 8]);
    let ys = d.join("f-out.npy");
    let (code, _, stderr) = run(&["gap", "--input", &fs, "--output", ys.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read_f32(&ys).unwrap().data, [1.0, 1.0]);
}

#[test]
fn bad_int8_inputs_fail_with_one_line_and_leave_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = save(d, "x.npy", &[1, 4, 3, 3], &[7u8; 36]);
    let w = save(d, "w.npy", &[2, 4], &[3i8; 8]);
    let w8 = save(d, "w8.npy", &[2, 4], &[-128i8, 1, 2, 3, 4, 5, 6, 7]);
    let m = save(d, "m.npy", &[2], &[0.01f32; 2]);
    let m_negative = save(d, "mneg.npy", &[2], &[0.01f32, -0.5]);
    let m_wrong = save(d, "m3.npy", &[3], &[0.01f32; 3]);
    let w_f32 = save(d, "wf.npy", &[2, 4], &[0.5f32; 8]);
    let b_f32 = save(d, "bf.npy", &[2], &[0.5f32; 2]);
    let x_i8 = save(d, "xi8.npy", &[1, 4, 3, 3], &[7i8; 36]);
    let x_f32 = save(d, "xf.npy", &[1, 4, 3, 3], &[0.5f32; 36]);
    let out = d.join("y.npy");
    let y = out.to_str().unwrap();
    let conv = |input: &str, weights: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> =
            ["conv1x1", "--input", input, "--weights", weights, "--output", y].iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (conv(&x, &w, &[]), "multipliers: are needed with a uint8 input"),
        (conv(&x, &w_f32, &["--multipliers", &m]), "dtype is <f4, not int8"),
        (conv(&x, &w, &["--multipliers", &m, "--bias", &b_f32]), "not int32"),
        (conv(&x, &w, &["--multipliers", &m_wrong]), "expected [2]"),
        (conv(&x, &w, &["--multipliers", &m_negative]), "multiplier"),
        (conv(&x_i8, &w, &["--multipliers", &m]), "dtype is |i1: the input is float32"),
        (conv(&x_f32, &w_f32, &["--multipliers", &m]), "multipliers: are for a uint8 input"),
        (conv(&x_f32, &w_f32, &["--kernel", "qconv-simd"]), "is float32, and `qconv-simd` is a qconv1x1 kernel"),
        (conv(&x, &w, &["--multipliers", &m, "--kernel", "blocked-simd"]), "is uint8, and `blocked-simd` is a conv1x1"),
        (vec!["gap".into(), "--input".into(), x_i8.clone(), "--output".into(), y.into()], "dtype is |i1"),
    ];
    // 8-bit weights on the AVX2 path, which is exact for 7-bit weights only.
    if std::arch::is_x86_feature_detected!("avx2") {
        let args = conv(&x, &w8, &["--multipliers", &m, "--kernel", "qconv-simd"]);
        cases.push((
            [vec!["--isa".to_string(), "avx2".to_string()], args].concat(),
            "weight [0][0] = -128: this kernel takes weights from -64 to 63",
        ));
    } else {
        eprintln!("skipped: the 8-bit weights on the AVX2 int8 path (this CPU has no AVX2)");
    }
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(&args, needle);
        assert!(!out.exists(), "{args:?} left an output file");
    }
}
