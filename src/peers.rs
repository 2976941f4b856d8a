//! Established GEMM libraries on the identical product, for comparison: the `gemm` crate
//! (faer's) and `matrixmultiply`.
//!
//! A 1×1 convolution at stride 1 is a GEMM per image: NCHW `Y_n = W · X_n` (Cout×Cin by
//! Cin×HW), NHWC `Y_n = X_n · Wᵀ` (HW×Cin by Cin×Cout, Wᵀ through strides, no copy). The peers
//! compute exactly that product and nothing else: no bias, no ReLU (a framework would add a
//! pass for those), so the comparison leans in their favour. Strided problems would need an
//! im2col first and are not offered to peers.

use rayon::prelude::*;

use crate::problem::{Conv1x1Problem, Conv1x1Shape};
use crate::tensor::{Layout, OutPtr};

/// A GEMM library used as a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The `gemm` crate, with its own rayon parallelism for more than one thread.
    GemmCrate,
    /// `matrixmultiply`: single-threaded; for more threads, the columns of each product are
    /// split into one contiguous block per thread by us (its own threading is a process-wide
    /// setting that cannot change between runs).
    Matrixmultiply,
}

impl Peer {
    /// Both peers.
    pub const ALL: [Peer; 2] = [Peer::GemmCrate, Peer::Matrixmultiply];

    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Peer::GemmCrate => "gemm-crate",
            Peer::Matrixmultiply => "matrixmultiply",
        }
    }

    /// The instruction set this peer runs on this CPU, as the library itself chooses it at run
    /// time (for the `gemm` crate, within what this build enabled: its AVX-512 kernels need
    /// its `x86-v4` feature, which this crate's `avx512` feature turns on).
    pub fn isa(self) -> String {
        let has = |f: &[&str]| crate::simd::cpu_has(f);
        match self {
            Peer::Matrixmultiply if has(&["avx512f"]) => "avx512f (runtime)".into(),
            Peer::GemmCrate if cfg!(feature = "avx512") && crate::simd::Isa::Avx512.check().is_ok() => {
                "avx512 (x86-v4 build, runtime)".into()
            }
            _ if has(&["avx2", "fma"]) => {
                let unused = if has(&["avx512f"]) { "; built without x86-v4, the CPU's AVX-512 unused" } else { "" };
                format!("avx2+fma (runtime{unused})")
            }
            _ => "sse2 or scalar (runtime)".into(),
        }
    }

    /// The peer called `name` (as [`Peer::name`] spells it), if there is one.
    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|q| q.name() == name)
    }

    /// Why this peer cannot run `p`, if it cannot.
    pub fn unsupported_reason(self, p: &Conv1x1Problem) -> Option<&'static str> {
        (p.stride != 1).then_some("strided 1×1 convolutions need an im2col before a GEMM")
    }

    /// The problem the peer actually computes: `p` without bias and ReLU.
    pub fn computed_problem(p: &Conv1x1Problem) -> Conv1x1Problem {
        Conv1x1Problem::new(Conv1x1Shape { bias: false, relu: false, ..p.shape() })
            .expect("same dimensions as a valid problem")
    }

    /// `y = W·x` per image (see the module docs), with `threads` threads. Panics if lengths do
    /// not match `p` or `p` is strided (callers check [`Peer::unsupported_reason`]).
    pub fn run(self, p: &Conv1x1Problem, x: &[f32], w: &[f32], y: &mut [f32], threads: usize) {
        assert!(p.stride == 1 && x.len() == p.input_len() && w.len() == p.weights_len() && y.len() == p.output_len());
        let (cin, cout, px) = (p.cin, p.cout, p.pixels_out());
        for (x_n, y_n) in x.chunks_exact(cin * px).zip(y.chunks_exact_mut(cout * px)) {
            // (m, n, k) and row/column strides of A, B, C as row-major or transposed views.
            let (m, n, k, a, ars, acs, b, brs, bcs) = match p.layout {
                Layout::Nchw => (cout, px, cin, w, cin, 1, x_n, px, 1),
                Layout::Nhwc => (px, cout, cin, x_n, cin, 1, w, 1, cin),
            };
            match self {
                Peer::GemmCrate => {
                    let parallelism =
                        if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
                    // SAFETY: A is m×k with strides (ars, acs), B k×n with (brs, bcs), C m×n
                    // row-major: all inside the slices, as the assert above and the problem's
                    // dimensions guarantee.
                    unsafe {
                        gemm::gemm(
                            m,
                            n,
                            k,
                            y_n.as_mut_ptr(),
                            1,
                            n as isize,
                            false,
                            a.as_ptr(),
                            acs as isize,
                            ars as isize,
                            b.as_ptr(),
                            bcs as isize,
                            brs as isize,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            parallelism,
                        )
                    }
                }
                Peer::Matrixmultiply => {
                    let block = n.div_ceil(threads.max(1));
                    let c_ptr = OutPtr(y_n.as_mut_ptr());
                    (0..n.div_ceil(block)).into_par_iter().with_min_len(1).for_each(|j| {
                        let (j0, width) = (j * block, block.min(n - j * block));
                        let c = c_ptr;
                        // SAFETY: as above; each task writes only columns j0..j0+width of C,
                        // disjoint from every other task's.
                        unsafe {
                            matrixmultiply::sgemm(
                                m,
                                k,
                                width,
                                1.0,
                                a.as_ptr(),
                                ars as isize,
                                acs as isize,
                                b.as_ptr().add(j0 * bcs),
                                brs as isize,
                                bcs as isize,
                                0.0,
                                c.0.add(j0),
                                n as isize,
                                1,
                            )
                        }
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use crate::tensor::seeded_uniform;

    #[test]
    fn peers_compute_the_product_without_bias_and_relu_in_both_layouts() {
        for s in ["2x19x5x7:13,relu", "1x40x3x3:20,nhwc", "3x8x6x5:33,nhwc,relu"] {
            let p: Conv1x1Problem = s.parse().unwrap();
            let x = seeded_uniform(p.input_len(), 1);
            let w = seeded_uniform(p.weights_len(), 2);
            let expected = reference::conv1x1(&Peer::computed_problem(&p), &x, &w, None);
            for peer in Peer::ALL {
                for threads in [1, 2, 3] {
                    let mut y = vec![f32::NAN; p.output_len()];
                    crate::measure::with_threads(threads, || peer.run(&p, &x, &w, &mut y, threads)).unwrap();
                    assert!(expected.check(&y).is_ok(), "{} with {threads} threads on {p}", peer.name());
                }
            }
        }
    }

    #[test]
    fn each_peer_names_the_isa_it_runs_and_an_unused_avx512() {
        use crate::simd::cpu_has;
        let gemm = Peer::GemmCrate.isa();
        let mm = Peer::Matrixmultiply.isa();
        if cpu_has(&["avx512f"]) {
            assert!(mm.starts_with("avx512f"), "{mm}");
            assert!(gemm.starts_with("avx512") || gemm.contains("AVX-512 unused"), "{gemm}");
        } else if cpu_has(&["avx2", "fma"]) {
            assert_eq!((gemm.as_str(), mm.as_str()), ("avx2+fma (runtime)", "avx2+fma (runtime)"));
        } else {
            eprintln!("skipped: this CPU has no avx2+fma; the peers say {gemm}, {mm}");
        }
    }
}
