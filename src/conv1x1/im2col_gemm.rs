//! `im2col-gemm`: lower the convolution to a GEMM the way Caffe does, then run the crate's own
//! BLIS-style GEMM (`crate::gemm`).
//!
//! For a 1×1 window, im2col at stride 1 is the identity, so (like Caffe's `is_1x1_` shortcut)
//! the input is handed to the GEMM as it is. At stride > 1 it is a real gather of the strided
//! pixels into a column buffer. The GEMM then packs that operand block by block; the weights
//! were packed into the GEMM's panel format by `prepare`.
//!
//! On NCHW maps whose pixels fill the register tiles better as rows (6×6: 36 pixels are 6
//! rows of 6, but 75% of three 16-wide columns; the same choice as the direct kernels'), the
//! GEMM computes the transposed product `Y_nᵀ = colsᵀ · Wᵀ` into a workspace, which is then
//! written to Y_n transposed, the way an NHWC GEMM feeds an NCHW framework.

use pulp::{Simd, WithSimd};

use super::direct::{self, TileRows};
use super::{Conv1x1Kernel, ConvArgs, PreparedWeights};
use crate::gemm::pack::MatRef;
use crate::gemm::{GemmBias, Operand, gemm, gemm_scratch_len};
use crate::kernel::{Kernel, KernelDecl, Op, Role, Threads};
use crate::problem::Conv1x1Problem;
use crate::scratch::{Slot, with_scratch};
use crate::simd::SimdPolicy;
use crate::tensor::Layout;
use crate::ukernel::gemm::{Microkernel, tile_dims, tile_name, with_kernel_tile};

/// `im2col-gemm`'s declaration.
pub static IM2COL_GEMM: KernelDecl = KernelDecl {
    name: "im2col-gemm",
    op: Op::Conv1x1,
    threads: Threads::Single,
    roles: &[Role::Gemm],
    layouts: &Layout::ALL,
    description: "im2col (identity at stride 1) + the crate's BLIS-style GEMM: packed panels, KC/MC/NC cache blocks, the ISA's FMA register tile",
};

/// im2col (a gather only when strided) + the crate's cache-blocked GEMM.
#[derive(Debug, Clone)]
pub struct Im2colGemm {
    policy: SimdPolicy,
}

impl Im2colGemm {
    /// The kernel with the instruction set `policy` selects.
    pub fn new(policy: SimdPolicy) -> Self {
        Self { policy }
    }
}

struct Im2colOp<'a> {
    problem: &'a Conv1x1Problem,
    input: &'a [f32],
    prepared: &'a PreparedWeights,
    output: &'a mut [f32],
    /// Column buffer (Cin × P for NCHW, P × Cin for NHWC), used only when strided.
    columns: &'a mut [f32],
    /// One image's output, P × Cout, when an NCHW problem is computed transposed.
    transposed: &'a mut [f32],
    /// The GEMM's packing buffers.
    a_buf: &'a mut [f32],
    b_buf: &'a mut [f32],
}

impl WithSimd for Im2colOp<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        with_kernel_tile!(simd, S, mk => self.run(mk))
    }
}

impl Im2colOp<'_> {
    /// The im2col and GEMM of every image, on the microkernel `mk`.
    #[inline(always)]
    fn run<K: Microkernel>(self, mk: K) {
        let Im2colOp { problem: p, input, prepared, output, columns, transposed, a_buf, b_buf } = self;
        let rows = TileRows::best_fill(p, mk.dims());
        let (cin, cout, hw_in, pixels) = (p.cin, p.cout, p.pixels_in(), p.pixels_out());
        let bias = if p.bias { Some(prepared.bias()) } else { None };
        let strided = p.stride > 1;
        for (x_n, y_n) in input.chunks_exact(cin * hw_in).zip(output.chunks_exact_mut(cout * pixels)) {
            match p.layout {
                Layout::Nchw => {
                    let cols = if strided {
                        for (k, row) in columns.chunks_exact_mut(pixels).enumerate() {
                            let x_row = &x_n[k * hw_in..][..hw_in];
                            for (q, v) in row.iter_mut().enumerate() {
                                *v = x_row[p.input_pixel(q)];
                            }
                        }
                        MatRef::new(columns, cin, pixels, pixels, 1)
                    } else {
                        MatRef::new(x_n, cin, pixels, hw_in, 1)
                    };
                    if rows == TileRows::Pixels {
                        // Y_nᵀ[P × Cout] = colsᵀ[P × Cin] · Wᵀ[Cin × Cout], then Y_n is written
                        // as its transpose.
                        gemm(
                            mk,
                            (pixels, cout, cin),
                            Operand::Strided(cols.t()),
                            Operand::Packed(prepared.weights()),
                            transposed,
                            cout,
                            bias.map_or(GemmBias::None, GemmBias::Cols),
                            p.relu,
                            a_buf,
                            b_buf,
                        );
                        transpose_into(transposed, pixels, cout, y_n);
                        continue;
                    }
                    // Y_n[Cout × P] = W[Cout × Cin] · cols[Cin × P]
                    gemm(
                        mk,
                        (cout, pixels, cin),
                        Operand::Packed(prepared.weights()),
                        Operand::Strided(cols),
                        y_n,
                        pixels,
                        bias.map_or(GemmBias::None, GemmBias::Rows),
                        p.relu,
                        a_buf,
                        b_buf,
                    );
                }
                // Y_n[P × Cout] = cols[P × Cin] · Wᵀ[Cin × Cout]
                Layout::Nhwc => {
                    let cols = if strided {
                        for (q, row) in columns.chunks_exact_mut(cin).enumerate() {
                            row.copy_from_slice(&x_n[p.input_pixel(q) * cin..][..cin]);
                        }
                        MatRef::new(columns, pixels, cin, cin, 1)
                    } else {
                        MatRef::new(x_n, pixels, cin, cin, 1)
                    };
                    gemm(
                        mk,
                        (pixels, cout, cin),
                        Operand::Strided(cols),
                        Operand::Packed(prepared.weights()),
                        y_n,
                        cout,
                        bias.map_or(GemmBias::None, GemmBias::Cols),
                        p.relu,
                        a_buf,
                        b_buf,
                    );
                }
            }
        }
    }
}

/// `dst[j·m + i] = src[i·n + j]`: an m×n row-major matrix written as its n×m transpose, in
/// square blocks so that both sides are read and written a few cache lines at a time.
#[inline(always)]
pub(crate) fn transpose_into(src: &[f32], m: usize, n: usize, dst: &mut [f32]) {
    const BLOCK: usize = 16;
    for i0 in (0..m).step_by(BLOCK) {
        for j0 in (0..n).step_by(BLOCK) {
            for j in j0..(j0 + BLOCK).min(n) {
                let out = &mut dst[j * m + i0..][..BLOCK.min(m - i0)];
                for (di, o) in out.iter_mut().enumerate() {
                    *o = src[(i0 + di) * n + j];
                }
            }
        }
    }
}

impl Kernel for Im2colGemm {
    fn decl(&self) -> &'static KernelDecl {
        &IM2COL_GEMM
    }

    fn isa(&self) -> &'static str {
        self.policy.isa_name()
    }

    fn tile(&self) -> Option<String> {
        let (kc, mc, nc) = (crate::gemm::KC, crate::gemm::MC, crate::gemm::NC);
        Some(format!("{} (KC {kc}, MC {mc}, NC {nc})", tile_name(self.policy)))
    }
}

impl Conv1x1Kernel for Im2colGemm {
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights {
        // The direct kernels' packing is exactly the GEMM's panel format over the whole K:
        // W as A panels (channel rows) or Wᵀ as B panels (pixel rows: NHWC, and NCHW on the
        // maps where pixel rows fill the tiles better).
        let tile = tile_dims(self.policy);
        let (w, b) = direct::pack_weights(problem, weights, bias, tile, TileRows::best_fill(problem, tile));
        PreparedWeights::new(self.name(), self.isa().to_string(), *problem, w, b)
    }

    fn execute(&self, args: ConvArgs<'_>) {
        let p = args.problem;
        let tile = tile_dims(self.policy);
        let rows = TileRows::best_fill(p, tile);
        let (m, n) = match rows {
            TileRows::Channels => (p.cout, p.pixels_out()),
            TileRows::Pixels => (p.pixels_out(), p.cout),
        };
        let transposed_len =
            if p.layout == Layout::Nchw && rows == TileRows::Pixels { p.cout * p.pixels_out() } else { 0 };
        let (a_len, b_len) = gemm_scratch_len((m, n, p.cin), tile);
        let columns_len = if p.stride > 1 { p.cin * p.pixels_out() } else { 0 };
        // Scratch is taken before the dispatch: closures inside it would be compiled without
        // the selected target features.
        with_scratch(Slot::Columns, columns_len, |columns| {
            with_scratch(Slot::Transposed, transposed_len, |transposed| {
                with_scratch(Slot::PackA, a_len, |a_buf| {
                    with_scratch(Slot::PackB, b_len, |b_buf| {
                        self.policy.dispatch(Im2colOp {
                            problem: p,
                            input: args.input,
                            prepared: args.prepared,
                            output: args.output,
                            columns,
                            transposed,
                            a_buf,
                            b_buf,
                        })
                    })
                })
            })
        });
    }
}
