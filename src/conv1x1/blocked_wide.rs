//! `blocked-wide`: the direct channel-blocked algorithm on `wide::f32x8`, compile-time SIMD.
//!
//! What `wide` compiles to depends on the build's target features, not on the CPU it runs on:
//! with `-C target-cpu=native` (or `-C target-feature=+avx2,+fma`) on this project's machines an
//! f32x8 is one ymm register and `mul_add` one FMA; in a default x86-64 build it is two SSE
//! halves and `mul_add` a separate multiply and add. [`BlockedWide::compiled_isa`] says which,
//! and the registry shows it, so reports never confuse the two.

use wide::f32x8;

use super::direct::{self, OutPtr, TileRows};
use super::{Conv1x1Kernel, ConvArgs, KernelInfo, PreparedWeights};
use crate::gemm::microkernel::{BiasAlong, Epilogue, MR, Microkernel, relu};
use crate::kernel::{Kernel, Op, Threads};
use crate::problem::Conv1x1Problem;
use crate::scratch::{Slot, with_scratch};
use crate::tensor::Layout;

/// Tile width: two f32x8 per row, as the pulp kernel on AVX2.
const NR: usize = 16;

/// The direct kernel with the `wide` crate's 8-lane vectors.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockedWide;

impl BlockedWide {
    /// The instruction set this build compiled `f32x8` for.
    pub fn compiled_isa() -> &'static str {
        if cfg!(all(target_feature = "avx", target_feature = "fma")) {
            "avx+fma (compile-time, fused mul_add)"
        } else if cfg!(target_feature = "avx") {
            "avx (compile-time, mul_add unfused)"
        } else if cfg!(target_feature = "sse2") {
            "sse2 (compile-time: two 128-bit halves, mul_add unfused)"
        } else {
            "portable (compile-time, no x86 SIMD)"
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct WideMicrokernel;

impl Microkernel for WideMicrokernel {
    #[inline(always)]
    fn nr(self) -> usize {
        NR
    }

    #[inline(always)]
    unsafe fn tile(
        self,
        kc: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        epilogue: Epilogue,
    ) {
        let mut acc = [[f32x8::ZERO; 2]; MR];
        if epilogue.accumulate {
            for (r, acc_row) in acc.iter_mut().enumerate().take(rows) {
                let mut values = [0.0; NR];
                // SAFETY: r < rows and cols ≤ NR: this row of C is readable for `cols` values.
                values[..cols].copy_from_slice(unsafe { core::slice::from_raw_parts(c.add(r * ldc), cols) });
                let (lo, hi) = values.split_at(8);
                *acc_row =
                    [f32x8::from(<[f32; 8]>::try_from(lo).unwrap()), f32x8::from(<[f32; 8]>::try_from(hi).unwrap())];
            }
        }
        for k in 0..kc {
            // SAFETY: the caller guarantees b + k·ldb readable for NR values and `a` for
            // kc·MR values; f32x8 is plain data, read unaligned.
            let (bk, ak) = unsafe { (b.add(k * ldb), a.add(k * MR)) };
            let bv = unsafe { [(bk as *const f32x8).read_unaligned(), (bk.add(8) as *const f32x8).read_unaligned()] };
            for (r, acc_row) in acc.iter_mut().enumerate() {
                // SAFETY: r < MR, inside the packed panel.
                let av = f32x8::splat(unsafe { *ak.add(r) });
                acc_row[0] = av.mul_add(bv[0], acc_row[0]);
                acc_row[1] = av.mul_add(bv[1], acc_row[1]);
            }
        }
        // The epilogue is O(tile) against the O(tile·Cin) loop above: plain scalar code.
        for (r, acc_row) in acc.iter().enumerate().take(rows) {
            let values: [f32; NR] = row_to_array(acc_row);
            // SAFETY: r < rows and cols ≤ NR: this row of C is writable for `cols` values.
            let dst = unsafe { core::slice::from_raw_parts_mut(c.add(r * ldc), cols) };
            for (j, (d, &v)) in dst.iter_mut().zip(&values).enumerate() {
                let x = v + match epilogue.bias {
                    BiasAlong::None => 0.0,
                    // SAFETY: bias pointers are readable for MR (rows) or NR (cols) values.
                    BiasAlong::Rows(p) => unsafe { *p.add(r) },
                    BiasAlong::Cols(p) => unsafe { *p.add(j) },
                };
                *d = if epilogue.relu { relu(x) } else { x };
            }
        }
    }
}

fn row_to_array(row: &[f32x8; 2]) -> [f32; NR] {
    let mut out = [0.0; NR];
    out[..8].copy_from_slice(&row[0].to_array());
    out[8..].copy_from_slice(&row[1].to_array());
    out
}

impl Kernel for BlockedWide {
    fn name(&self) -> &'static str {
        "blocked-wide"
    }

    fn isa(&self) -> &str {
        Self::compiled_isa()
    }

    fn info(&self) -> KernelInfo {
        KernelInfo {
            name: self.name(),
            op: Op::Conv1x1,
            layouts: Layout::ALL.to_vec(),
            isa: self.isa().to_string(),
            tile: Some(format!("{MR}x{NR}")),
            threads: Threads::Single,
            description: "the same on `wide::f32x8`: the ISA is fixed at compile time, and `list` says which",
        }
    }
}

impl Conv1x1Kernel for BlockedWide {
    fn pack(&self, problem: &Conv1x1Problem, weights: &[f32], bias: Option<&[f32]>) -> PreparedWeights {
        let (w, b) = direct::pack_weights(problem, weights, bias, NR, TileRows::best_fill(problem, NR));
        PreparedWeights::new(self.name(), self.isa().to_string(), *problem, w, b)
    }

    fn execute(&self, args: ConvArgs<'_>) {
        let out = OutPtr(args.output.as_mut_ptr());
        with_scratch(Slot::PackA, direct::region_scratch_len(args.problem, NR), |scratch| {
            let mut scratch = direct::RegionScratch::new(scratch);
            for region in direct::regions(args.problem, NR) {
                // SAFETY: `out` is the checked output of the problem; regions are disjoint and
                // written one after another; the weights were packed with NR = 16.
                unsafe {
                    direct::run_region(
                        WideMicrokernel,
                        args.problem,
                        args.input,
                        args.prepared.weights(),
                        args.prepared.bias(),
                        out,
                        &region,
                        &mut scratch,
                    )
                };
            }
        });
    }
}
