//! Memory safety on every ISA, without valgrind (which hides AVX-512 from the kernels): every
//! kernel reads its inputs and writes its output in buffers that end exactly at a page
//! boundary followed by a `PROT_NONE` page, and again in buffers that start right after one.
//! A read or write one float outside a buffer faults and kills the test. The shapes are edge
//! shapes: every remainder of the register tile (MR = 6 channels, NR = 16 pixels with AVX2),
//! 1 channel, 1 pixel, strided, NHWC, batches, and a Cin that crosses the K blocks.

mod common;

use common::{ConvData, policies, problems};
use nin_bench::blocking::{AVX2_TILE, AVX512_TILE};
use nin_bench::measure::ChainData;
use nin_bench::problem::{QConv1x1Problem, QGapProblem};
use nin_bench::qconv::{QConv1x1Kernel, QConvNaive, QConvSimd, QPath, Vectors};
use nin_bench::qgap::naive::QGapNaive;
use nin_bench::qgap::simd::QGapSimd;
use nin_bench::qgap::{QGapKernel, QGapPath};
use nin_bench::quant::QConvData;
use nin_bench::registry::{conv1x1_kernels_with, gap_kernels_with, mlpconv_kernels_with};
use nin_bench::tensor::seeded_uniform;
use nin_bench::{Conv1x1Problem, Conv1x1Shape, GapProblem, Layout, MlpconvProblem, reference};

/// Where a buffer sits between its two guard pages.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// Its last byte is the last byte before the trailing guard page (an over-read faults).
    EndsAtGuard,
    /// Its first byte is the first byte after the leading guard page (an under-read faults).
    StartsAfterGuard,
}

const PLACES: [Place; 2] = [Place::EndsAtGuard, Place::StartsAfterGuard];

/// A buffer of `T` (f32, or the int8 kernels' u8 and i32) in its own mapping, with a
/// `PROT_NONE` page on each side.
struct Guarded<T: Copy = f32> {
    base: *mut libc::c_void,
    mapped: usize,
    ptr: *mut T,
    len: usize,
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

impl<T: Copy> Guarded<T> {
    /// A copy of `data` placed by `place`.
    fn new(data: &[T], place: Place) -> Self {
        let page = page_size();
        let data_pages = size_of_val(data).div_ceil(page).max(1);
        let mapped = (data_pages + 2) * page;
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap of {mapped} bytes failed");
        let first_data = base as usize + page;
        let last_guard = first_data + data_pages * page;
        // SAFETY: both ranges are whole pages inside the mapping just made.
        unsafe {
            assert_eq!(libc::mprotect(base, page, libc::PROT_NONE), 0);
            assert_eq!(libc::mprotect(last_guard as *mut libc::c_void, page, libc::PROT_NONE), 0);
        }
        let start = match place {
            Place::EndsAtGuard => last_guard - size_of_val(data),
            Place::StartsAfterGuard => first_data,
        };
        let ptr = start as *mut T;
        // SAFETY: `ptr..ptr + len` lies in the readable, writable data pages (start is aligned
        // for T: the page boundary less a multiple of its size, which is 1 or 4), and nothing
        // else refers to them.
        unsafe { std::slice::from_raw_parts_mut(ptr, data.len()) }.copy_from_slice(data);
        Guarded { base, mapped, ptr, len: data.len() }
    }

    fn slice(&self) -> &[T] {
        // SAFETY: the buffer made by `new`, alive as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn slice_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `slice`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl<T: Copy> Drop for Guarded<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping made by `new`, unmapped once.
        unsafe { libc::munmap(self.base, self.mapped) };
    }
}

/// 1×1 convolutions around the register tiles: Cout 1, 5, 6, 7, 17 (below, at and above MR = 6
/// and 2·MR, AVX2's), and the same around AVX-512's MR where it differs; H·W of 1, 15, 16, 17
/// and 6×6, 8×8, 3×11 (around NR = 16, the pixel-row maps), and around AVX-512's NR; Cin 1 and
/// 9; with stride, NHWC, no bias, ReLU and a batch of 2 spread over them.
fn conv_edge_shapes() -> Vec<Conv1x1Problem> {
    let mut out = Vec::new();
    let (mr, nr) = (AVX512_TILE.rows, AVX512_TILE.columns(16));
    let mut maps = vec![(1, 1), (1, 15), (4, 4), (1, 17), (6, 6), (8, 8), (3, 11)];
    if nr != 16 {
        maps.extend([(1, nr - 1), (1, nr + 1)]);
    }
    let mut couts = vec![1, 5, 6, 7, 17];
    if mr != AVX2_TILE.rows {
        couts.extend([mr - 1, mr, mr + 1, 2 * mr + 5]);
    }
    let mut i = 0;
    for cout in couts {
        for &(h, w) in &maps {
            for cin in [1, 9] {
                for layout in Layout::ALL {
                    i += 1;
                    let shape = Conv1x1Shape {
                        n: 1 + i % 2,
                        stride: if i % 3 == 0 { 2 } else { 1 },
                        bias: i % 4 != 1,
                        relu: i % 2 == 0,
                        layout,
                        ..Conv1x1Shape::new(1, cin, h, w, cout)
                    };
                    out.push(Conv1x1Problem::new(shape).unwrap());
                }
            }
        }
    }
    // Cin across K blocks (256 in pixel rows, up to 512 otherwise), and an input of 2 MiB or
    // more, where the direct kernels prefetch the next tile's rows.
    out.extend(problems::<Conv1x1Problem>(&["1x600x5x7:13,relu", "2x520x6x6:10", "1x256x45x45:7,relu,nobias"]));
    out
}

#[test]
fn conv_kernels_stay_inside_buffers_that_touch_guard_pages() {
    let mut checked = 0;
    for (i, p) in conv_edge_shapes().iter().enumerate() {
        let data = ConvData::new(p, 7000 + i as u64);
        let expected = data.reference(p);
        for policy in policies() {
            for kernel in conv1x1_kernels_with(policy) {
                for place in PLACES {
                    let x = Guarded::new(&data.input, place);
                    let w = Guarded::new(&data.weights, place);
                    let b = data.bias.as_ref().map(|b| Guarded::new(b, place));
                    let mut y = Guarded::new(&vec![f32::NAN; p.output_len()], place);
                    let prepared = kernel.prepare(p, w.slice(), b.as_ref().map(Guarded::slice)).unwrap();
                    kernel.run(p, x.slice(), &prepared, y.slice_mut()).unwrap();
                    let what = format!("{} [{}] on {p}, {place:?}", kernel.name(), kernel.isa());
                    expected.check(y.slice()).unwrap_or_else(|m| panic!("{what}: {m}"));
                    checked += 1;
                }
            }
        }
    }
    eprintln!("{checked} guarded conv runs");
}

#[test]
fn gap_kernels_stay_inside_buffers_that_touch_guard_pages() {
    let ps: Vec<GapProblem> = problems(&[
        "1x1x1x1",
        "1x3x1x7",
        "2x9x3x3",
        "1x17x4x4,nhwc",
        "1x8x8x8",
        "3x10x6x6",
        "1x33x5x5,nhwc",
        "1x1000x6x6",
        "1x5x64x3",
        "2x7x1x1,nhwc",
        "1x16x7x7",
    ]);
    for (i, p) in ps.iter().enumerate() {
        let input = seeded_uniform(p.input_len(), 8000 + i as u64);
        let expected = reference::gap(p, &input);
        for policy in policies() {
            for kernel in gap_kernels_with(policy) {
                for place in PLACES {
                    let x = Guarded::new(&input, place);
                    let mut y = Guarded::new(&vec![f32::NAN; p.output_len()], place);
                    kernel.run(p, x.slice(), y.slice_mut()).unwrap();
                    let what = format!("{} [{}] on {p}, {place:?}", kernel.name(), kernel.info().isa);
                    expected.check(y.slice()).unwrap_or_else(|m| panic!("{what}: {m}"));
                }
            }
        }
    }
}

#[test]
fn chain_kernels_stay_inside_buffers_that_touch_guard_pages() {
    let ps: Vec<MlpconvProblem> = problems(&[
        "1x1x4x4:1:1",
        "1x1x5x5:6:1,gap",
        "1x3x6x6:5:7:13",
        "3x11x3x7:12:11:6:1",
        "2x5x1x17:7:3",
        "1x5x16x16:30:3,gap",
        "2x30x6x6:10,gap",
        "1x20x10x10:16,gap",
        "1x300x6x6:48,gap",
        "2x13x9x9:8:6",
        "1x7x1x1:5:3",
    ]);
    for (i, p) in ps.iter().enumerate() {
        let data = ChainData::seeded(p, 9000 + 10 * i as u64);
        let expected = data.reference(p);
        for policy in policies() {
            for kernel in mlpconv_kernels_with(policy) {
                for place in PLACES {
                    let x = Guarded::new(&data.input, place);
                    let ws: Vec<Guarded> = data.weight_slices().iter().map(|w| Guarded::new(w, place)).collect();
                    let bs: Vec<Guarded> = data.bias_slices().iter().map(|b| Guarded::new(b, place)).collect();
                    let w_slices: Vec<&[f32]> = ws.iter().map(Guarded::slice).collect();
                    let b_slices: Vec<&[f32]> = bs.iter().map(Guarded::slice).collect();
                    let mut y = Guarded::new(&vec![f32::NAN; p.output_len()], place);
                    let prepared = kernel.prepare(p, &w_slices, &b_slices).unwrap();
                    kernel.run(p, x.slice(), &prepared, y.slice_mut()).unwrap();
                    let what = format!("{} [{}] on {p}, {place:?}", kernel.name(), kernel.isa());
                    expected.check(y.slice()).unwrap_or_else(|m| panic!("{what}: {m}"));
                }
            }
        }
    }
}

/// Int8 convolutions around the int8 tiles (4 channels × 8, 16 or 32 pixels, K in groups of
/// 4): every kernel on every int8 path this CPU has and the emulated VNNI, its u8 input and
/// output and its i32 accumulators against guard pages, checked bit for bit.
#[test]
fn int8_kernels_stay_inside_buffers_that_touch_guard_pages() {
    let shapes = [
        "1x1x1x1:1,u8s8",
        "1x3x1x7:5,u8s8",
        "2x9x3x11:17,u8s8,nhwc",
        "1x13x6x6:33,u8s8,nobias",
        "1x8x7x7:4,u8s8,s2",
        "1x67x4x9:9,u8s8,s3,nhwc",
        // NHWC with whole groups: tiles of channel vectors read the input in place.
        "1x8x3x5:40,u8s8,nhwc",
        "1x12x5x5:33,u8s8,s2,nhwc",
    ];
    let mut kernels: Vec<Box<dyn QConv1x1Kernel>> = vec![Box::new(QConvNaive)];
    for k in QPath::ALL.into_iter().filter_map(|p| QConvSimd::on(p).ok()) {
        kernels.extend(Vectors::ALL.map(|v| Box::new(k.with_vectors(v)) as Box<dyn QConv1x1Kernel>));
    }
    let mut checked = 0;
    for (i, s) in shapes.iter().enumerate() {
        let p: QConv1x1Problem = s.parse().unwrap();
        let data = QConvData::seeded(&p, 9000 + i as u64);
        let expected = nin_bench::quant::reference::qconv1x1(&p, &data.input, &data.layer);
        for kernel in &kernels {
            let prepared = kernel.prepare(&p, &data.layer).unwrap();
            for place in PLACES {
                let x = Guarded::new(&data.input, place);
                let mut y = Guarded::new(&vec![0u8; p.conv().output_len()], place);
                let mut acc = Guarded::new(&vec![0i32; p.conv().output_len()], place);
                kernel.run(&p, x.slice(), &prepared, Some(acc.slice_mut()), y.slice_mut()).unwrap();
                let what = format!("{} [{}] on {p}, {place:?}", kernel.name(), kernel.isa());
                assert_eq!((acc.slice(), y.slice()), (&expected.acc[..], &expected.out[..]), "{what}");
                // Without the accumulators: the vectorised requantization's row stores.
                let mut y = Guarded::new(&vec![0u8; p.conv().output_len()], place);
                kernel.run(&p, x.slice(), &prepared, None, y.slice_mut()).unwrap();
                assert_eq!(y.slice(), &expected.out[..], "{what}, no accumulators");
                checked += 1;
            }
        }
    }
    eprintln!("{checked} guarded int8 runs");
}

/// Int8 GAPs around the row steps (NCHW) and channel blocks (NHWC): every kernel on every
/// int8 GAP path this CPU has, its u8 input and output and its i32 sums against guard pages.
#[test]
fn int8_gap_kernels_stay_inside_buffers_that_touch_guard_pages() {
    let shapes = ["1x1x1x1,u8", "3x5x6x6,u8", "2x9x1x71,u8", "2x70x3x3,u8,nhwc", "1x17x5x5,u8,nhwc"];
    let mut kernels: Vec<Box<dyn QGapKernel>> = vec![Box::new(QGapNaive)];
    kernels.extend(QGapPath::ALL.into_iter().filter_map(|p| QGapSimd::on(p).ok()).map(|k| Box::new(k) as Box<_>));
    for (i, s) in shapes.iter().enumerate() {
        let p: QGapProblem = s.parse().unwrap();
        let input = nin_bench::quant::seeded_activations(p.gap().input_len(), 9100 + i as u64);
        let (sums, out) = nin_bench::quant::reference::qgap(&p, &input, nin_bench::quant::gap_multiplier(&p));
        for kernel in &kernels {
            for place in PLACES {
                let x = Guarded::new(&input, place);
                let mut y = Guarded::new(&vec![0u8; out.len()], place);
                let mut got = Guarded::new(&vec![0i32; out.len()], place);
                kernel.run(&p, x.slice(), Some(got.slice_mut()), y.slice_mut()).unwrap();
                let what = format!("{} [{}] on {p}, {place:?}", kernel.name(), kernel.isa());
                assert_eq!((got.slice(), y.slice()), (&sums[..], &out[..]), "{what}");
            }
        }
    }
}

#[test]
fn a_read_past_a_guarded_buffer_faults() {
    // The harness itself: a child process reads one float past the end of a guarded buffer
    // and must die of SIGSEGV, so a kernel that over-reads cannot pass unnoticed.
    if std::env::var_os("NIN_BENCH_GUARD_CHILD").is_some() {
        let g = Guarded::new(&[1.0; 5], Place::EndsAtGuard);
        // SAFETY: deliberately not: this reads the guard page, which must fault.
        let past = unsafe { std::ptr::read_volatile(g.slice().as_ptr().add(5)) };
        println!("read {past} past the end without a fault");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "a_read_past_a_guarded_buffer_faults", "--nocapture"])
        .env("NIN_BENCH_GUARD_CHILD", "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{}", String::from_utf8_lossy(&out.stdout));
}
