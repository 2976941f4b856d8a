//! Every int8 kernel, on every int8 path this CPU has and on emulated VNNI, agrees with the
//! integer reference bit for bit: accumulators and u8 outputs, on shapes chosen around the
//! tiles (K around the groups of 4, Cout around NR, pixels around MR), strides, both layouts,
//! with and without bias. The int8 GAP kernels likewise, on sums and outputs.

use nin_bench::problem::{QConv1x1Problem, QGapProblem};
use nin_bench::qconv::{QConv1x1Kernel, QConvNaive, QConvSimd, QPath, Vectors};
use nin_bench::qgap::naive::QGapNaive;
use nin_bench::qgap::simd::QGapSimd;
use nin_bench::qgap::{QGapKernel, QGapPath};
use nin_bench::quant::{QLayer, WeightRange, gap_multiplier, reference, seeded_activations};

/// The naive kernel, then `qconv-simd` and `qconv-rayon` on every path this CPU has, each on
/// tiles of both orientations.
fn kernels() -> Vec<Box<dyn QConv1x1Kernel>> {
    let mut out: Vec<Box<dyn QConv1x1Kernel>> = vec![Box::new(QConvNaive)];
    for path in QPath::ALL {
        match (QConvSimd::on(path), QConvSimd::rayon(path)) {
            (Ok(simd), Ok(rayon)) => {
                for vectors in Vectors::ALL {
                    out.extend([
                        Box::new(simd.with_vectors(vectors)) as Box<dyn QConv1x1Kernel>,
                        Box::new(rayon.with_vectors(vectors)),
                    ])
                }
            }
            _ => eprintln!("skipped: this CPU has no {} path", path.name()),
        }
    }
    out
}

fn problems() -> Vec<QConv1x1Problem> {
    let mut out = Vec::new();
    // Cin around the groups of 4; Cout around 8, 16 and 32 channels; pixels around 4.
    for cin in [1, 3, 4, 5, 8, 13, 64, 67] {
        for cout in [1, 7, 8, 9, 16, 17, 31, 32, 33] {
            out.push(format!("1x{cin}x3x3:{cout},u8s8"));
        }
    }
    for s in [
        "1x1x1x1:1,u8s8",
        "2x19x5x3:40,u8s8,nhwc",
        "2x19x5x3:40,u8s8,nobias",
        "1x24x7x7:20,u8s8,s2",
        "1x24x7x7:20,u8s8,s3,nhwc,nobias",
        "1x192x8x8:10,u8s8",
        "1x96x12x12:96,u8s8",
        "1x1000x2x2:12,u8s8",
        // Pixel counts around the 16-pixel steps of the packing, inside and across tiles.
        "1x13x5x7:9,u8s8",
        "2x6x9x9:5,u8s8",
        "1x7x1x31:3,u8s8",
    ] {
        out.push(s.to_string());
    }
    out.into_iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn every_int8_kernel_matches_the_integer_reference_bit_for_bit() {
    let kernels = kernels();
    for (i, p) in problems().iter().enumerate() {
        let x = seeded_activations(p.conv().input_len(), 100 + i as u64);
        for k in &kernels {
            // Each kernel on the widest weights it takes: full s8 where it can.
            let layer = QLayer::seeded(p, k.weight_range(), 7 + i as u64);
            let expected = reference::qconv1x1(p, &x, &layer);
            let prepared = k.prepare(p, &layer).unwrap();
            let mut acc = vec![0i32; p.conv().output_len()];
            let mut y = vec![0u8; p.conv().output_len()];
            k.run(p, &x, &prepared, Some(&mut acc), &mut y).unwrap();
            let k_is = format!("{} ({}, {})", k.name(), k.isa(), k.tile().unwrap_or_default());
            assert_eq!(acc, expected.acc, "{k_is} accumulators on {p}");
            assert_eq!(y, expected.out, "{k_is} outputs on {p}");
            let mut again = vec![0u8; y.len()];
            k.run(p, &x, &prepared, None, &mut again).unwrap();
            assert_eq!(again, y, "{k_is}: output without accumulators on {p}");
        }
    }
}

#[test]
fn qconv_rayon_cut_into_tasks_on_several_threads_matches_the_reference_bit_for_bit() {
    // Layers large enough to be cut into several tasks (≥ 1 Mi MACs each), with a last block
    // shorter than the others and a last panel or tile that is partly filled, in both layouts:
    // maps with more pixels than output channels (cut by pixels first), then fewer (cut by
    // channels first, and 1x8192x6x6:40 by both). Where each thread would pack a block of
    // pixels for several blocks of channels, it is packed once before them: 1x1024x11x11:121
    // (pixel vectors) and 1x512x10x10:300 (channel vectors) in 2 blocks of pixels, the last
    // shorter, and 2x1022x6x6:300 padded to whole groups, in two images.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let problems = [
        "2x64x20x20:100,u8s8",
        "2x64x20x20:100,u8s8,nhwc",
        "3x128x9x11:70,u8s8,nhwc,nobias",
        "1x200x31x29:45,u8s8,s2",
        "1x256x5x5:600,u8s8",
        "1x512x7x7:300,u8s8,nhwc",
        "1x1024x3x3:1000,u8s8,s2",
        "1x8192x6x6:40,u8s8",
        "1x1024x11x11:121,u8s8",
        "1x512x10x10:300,u8s8",
        "2x1022x6x6:300,u8s8,nhwc",
    ];
    for (i, p) in problems.iter().map(|s| s.parse::<QConv1x1Problem>().unwrap()).enumerate() {
        let x = seeded_activations(p.conv().input_len(), 300 + i as u64);
        for (path, vectors) in QPath::ALL.into_iter().flat_map(|path| Vectors::ALL.map(|v| (path, v))) {
            let Ok(k) = QConvSimd::rayon(path).map(|k| k.with_vectors(vectors)) else {
                eprintln!("skipped: this CPU has no {} path", path.name());
                continue;
            };
            let path = format!("{}, {}", path.name(), vectors.name());
            let layer = QLayer::seeded(&p, k.weight_range(), 30 + i as u64);
            let expected = reference::qconv1x1(&p, &x, &layer);
            let prepared = k.prepare(&p, &layer).unwrap();
            let (mut acc, mut y) = (vec![0i32; p.conv().output_len()], vec![0u8; p.conv().output_len()]);
            let tasks = pool.install(|| {
                k.run(&p, &x, &prepared, Some(&mut acc), &mut y).unwrap();
                k.tasks(&p)
            });
            assert!(tasks > 1, "{p} ran as {tasks} task on {}: the test needs a larger layer", path);
            assert_eq!(acc, expected.acc, "qconv-rayon ({}) accumulators on {p} in {tasks} tasks", path);
            assert_eq!(y, expected.out, "qconv-rayon ({}) outputs on {p} in {tasks} tasks", path);
            // Without accumulators, NCHW's whole tiles requantize in registers, block by block.
            let mut again = vec![0u8; y.len()];
            pool.install(|| k.run(&p, &x, &prepared, None, &mut again).unwrap());
            assert_eq!(again, y, "qconv-rayon ({}) outputs without accumulators on {p}", path);
        }
    }
}

#[test]
fn extreme_inputs_and_weights_sum_exactly() {
    // All activations 255 and all weights at the range's ends: the largest sums each path
    // must carry without saturating.
    let p: QConv1x1Problem = "1x67x4x4:33,u8s8".parse().unwrap();
    let x = vec![255u8; p.conv().input_len()];
    for k in kernels() {
        let (lo, hi) = k.weight_range().bounds();
        for w in [lo, hi] {
            let mut layer = QLayer::seeded(&p, k.weight_range(), 1);
            layer.weights.iter_mut().for_each(|v| *v = w);
            let expected = reference::qconv1x1(&p, &x, &layer);
            let prepared = k.prepare(&p, &layer).unwrap();
            let (mut acc, mut y) = (vec![0i32; p.conv().output_len()], vec![0u8; p.conv().output_len()]);
            k.run(&p, &x, &prepared, Some(&mut acc), &mut y).unwrap();
            assert_eq!((acc, y), (expected.acc, expected.out), "{} ({}) with every weight {w}", k.name(), k.isa());
        }
    }
}

#[test]
fn the_avx2_path_refuses_8_bit_weights_with_one_clear_error() {
    let Ok(k) = QConvSimd::on(QPath::Avx2) else {
        eprintln!("skipped: this CPU has no AVX2");
        return;
    };
    let p: QConv1x1Problem = "1x8x2x2:4,u8s8".parse().unwrap();
    let layer = QLayer::seeded(&p, WeightRange::Full, 2);
    let err = k.prepare(&p, &layer).unwrap_err().to_string();
    assert!(err.contains("-64 to 63") && !err.contains('\n'), "{err}");
}

#[test]
fn wrong_lengths_and_foreign_prepared_weights_are_errors() {
    let p: QConv1x1Problem = "1x8x2x2:4,u8s8".parse().unwrap();
    let layer = QLayer::seeded(&p, WeightRange::SevenBit, 2);
    let (naive, simd) = (QConvNaive, QConvSimd::new());
    let prepared = naive.prepare(&p, &layer).unwrap();
    let x = vec![1u8; p.conv().input_len()];
    let mut y = vec![0u8; p.conv().output_len()];
    assert!(naive.run(&p, &x[1..], &prepared, None, &mut y).is_err());
    assert!(simd.run(&p, &x, &prepared, None, &mut y).unwrap_err().to_string().contains("qconv-naive"));
}

#[test]
fn the_int8_peak_loop_runs_on_every_path_this_cpu_has() {
    for path in QPath::ALL.into_iter().filter(|p| p.available()) {
        assert!(path.peak_loop_macs() >= 8192 * 12 * 4, "{}", path.name());
        // SAFETY: the path is available.
        let (a, b) = unsafe { (path.peak_loop(), path.peak_loop()) };
        assert_eq!(a, b, "{}: the loop is deterministic", path.name());
    }
}

fn gap_kernels() -> Vec<Box<dyn QGapKernel>> {
    let mut out: Vec<Box<dyn QGapKernel>> = vec![Box::new(QGapNaive)];
    for path in QGapPath::ALL {
        match QGapSimd::on(path) {
            Ok(k) => out.push(Box::new(k)),
            Err(_) => eprintln!("skipped: this CPU has no int8 GAP path {}", path.name()),
        }
    }
    out
}

#[test]
fn every_int8_gap_kernel_matches_the_integer_reference_bit_for_bit() {
    // Rows around the 8-, 16-, 32- and 64-byte steps (NCHW) and channels around the blocks of
    // 8, 16, 32 and 64 (NHWC); one channel, one pixel, NIN's class maps.
    let mut shapes = Vec::new();
    for hw in ["1x1", "1x7", "3x3", "4x4", "5x5", "6x6", "1x33", "8x8", "9x9", "13x13"] {
        for c in [1, 7, 8, 9, 16, 17, 33, 64, 65] {
            for layout in ["", ",nhwc"] {
                shapes.push(format!("2x{c}x{hw},u8{layout}"));
            }
        }
    }
    shapes.extend(["1x1000x6x6,u8".into(), "3x10x8x8,u8,nhwc".into(), "1x2x56x56,u8".into()]);
    let kernels = gap_kernels();
    for (i, s) in shapes.iter().enumerate() {
        let p: QGapProblem = s.parse().unwrap();
        let x = seeded_activations(p.gap().input_len(), 500 + i as u64);
        let (sums, out) = reference::qgap(&p, &x, gap_multiplier(&p));
        for k in &kernels {
            let (mut got_sums, mut y) = (vec![-1i32; out.len()], vec![0u8; out.len()]);
            k.run(&p, &x, Some(&mut got_sums), &mut y).unwrap();
            assert_eq!((&got_sums, &y), (&sums, &out), "{} ({}) on {p}", k.name(), k.isa());
            let mut again = vec![0u8; out.len()];
            k.run(&p, &x, None, &mut again).unwrap();
            assert_eq!(again, out, "{} ({}) on {p} without the sums", k.name(), k.isa());
        }
    }
}

#[test]
fn int8_gap_of_all_255s_averages_to_255_and_wrong_lengths_are_errors() {
    let p: QGapProblem = "2x70x23x23,u8,nhwc".parse().unwrap();
    let x = vec![255u8; p.gap().input_len()];
    for k in gap_kernels() {
        let mut y = vec![0u8; 2 * 70];
        k.run(&p, &x, None, &mut y).unwrap();
        assert!(y.iter().all(|&v| v == 255), "{} ({})", k.name(), k.isa());
        assert!(k.run(&p, &x[1..], None, &mut y).is_err(), "{}: short input", k.name());
        assert!(k.run(&p, &x, None, &mut y[1..]).is_err(), "{}: short output", k.name());
    }
}

#[test]
fn qconv_simd_puts_channels_in_the_vectors_on_nhwc_and_where_pixel_vectors_waste_lanes() {
    use nin_bench::qconv::{QTile, tile_fill};
    // Emulated VNNI runs anywhere and has AVX-512's tiles: 8 channels x 32 pixels, or 32 x 8.
    let k = QConvSimd::on(QPath::EmulatedVnni).unwrap();
    let p = |s: &str| s.parse::<QConv1x1Problem>().unwrap();
    let [pixels, channels] = Vectors::ALL.map(|v| QTile::new(QPath::EmulatedVnni, v));
    // NIN-ImageNet's 6x6 maps: 36 pixels fill a tile and a half of 32 (48 lanes), or 4 tiles
    // and a half of 8 exactly; 1000 channels fill 125 panels of 8, or 31.25 of 32.
    let imagenet_head = p("1x1024x6x6:1000,u8s8");
    assert_eq!((tile_fill(&imagenet_head, pixels), tile_fill(&imagenet_head, channels)), (0.75, 1000.0 / 1024.0));
    assert_eq!(k.tile_for(&imagenet_head), channels);
    assert_eq!(k.tile_for(&p("1x96x54x54:96,u8s8")), pixels);
    assert_eq!(k.tile_for(&p("1x96x54x54:96,u8s8,nhwc")), channels);
    // 10 classes fill 10 of 32 channel lanes, but 10 of 16 rows of pixel vectors.
    assert_eq!(k.tile_for(&p("1x192x8x8:10,u8s8,nhwc")), pixels);
    // A forced orientation holds on every layer.
    assert_eq!(k.with_vectors(Vectors::Pixels).tile_for(&imagenet_head), pixels);
}

#[test]
fn the_gate_times_both_int8_tile_orientations_on_nchw() {
    // Under valgrind the gate runs AVX2's tiles (valgrind's CPUID hides AVX-512).
    let Ok(k) = QConvSimd::on(QPath::Avx2) else {
        eprintln!("skipped: this CPU has no AVX2");
        return;
    };
    let vectors = |s: &str| k.tile_for(&s.parse().unwrap()).vectors;
    let nchw = nin_bench::gate::QCONV_PROBLEMS.into_iter().filter(|s| !s.contains("nhwc"));
    let mut seen: Vec<Vectors> = nchw.map(vectors).collect();
    seen.sort_by_key(|v| *v as u8);
    seen.dedup();
    assert_eq!(seen, Vectors::ALL, "the gate's NCHW int8 layers run {seen:?}");
}

/// Values whose quantization is easy to get wrong: ties at every half step (even and odd
/// below), the clamp's edges and past them, negatives, signed zeros, NaN and infinities,
/// subnormals, then seeded values over the range and past it.
fn edge_values(len: usize, scale: f32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..=512).map(|h| h as f32 * 0.5 * scale).collect();
    v.extend([-0.0, 0.0, -1.0, -1e30, 254.5 * scale, 255.49 * scale, 255.5 * scale, 256.0 * scale, 1e30]);
    v.extend([f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE / 4.0, f32::EPSILON]);
    let seeded = nin_bench::tensor::seeded_uniform(len, 77);
    v.extend(seeded.iter().map(|u| u * 300.0 * scale));
    v
}

#[test]
fn every_edge_path_quantizes_and_dequantizes_as_the_definitions_on_every_length() {
    use nin_bench::forward::quantized::EdgePath;
    use nin_bench::quant::{dequantize_activations, quantize_activations};
    for path in EdgePath::ALL {
        if !path.available() {
            eprintln!("skipped: this CPU has no {} path for the int8 edges", path.name());
            continue;
        }
        for scale in [1.0f32, 0.5, 0.013, 3.7e-3] {
            let values = edge_values(1000, scale);
            // Every length around the 32-value step, from every start (the tail and the body).
            for (start, len) in [(0, 0), (0, 1), (3, 31), (0, 32), (1, 33), (5, 64), (0, values.len())] {
                let x = &values[start..start + len];
                let (mut expected, mut got) = (vec![0u8; len], vec![7u8; len]);
                quantize_activations(x, scale, &mut expected);
                path.quantize(x, scale, &mut got);
                assert_eq!(got, expected, "{} quantize, scale {scale}, values {start}..+{len}", path.name());
                let (mut back, mut got_back) = (vec![0.0f32; len], vec![f32::NAN; len]);
                dequantize_activations(&expected, scale, &mut back);
                path.dequantize(&expected, scale, &mut got_back);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got_back), bits(&back), "{} dequantize, scale {scale}, {start}..+{len}", path.name());
            }
        }
        // All 256 bytes dequantize and quantize back to themselves.
        let bytes: Vec<u8> = (0..=255).collect();
        let mut y = vec![0.0f32; 256];
        path.dequantize(&bytes, 0.1, &mut y);
        let mut again = vec![0u8; 256];
        path.quantize(&y, 0.1, &mut again);
        assert_eq!(again, bytes, "{} round trip", path.name());
    }
}
