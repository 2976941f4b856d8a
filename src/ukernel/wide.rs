//! The `wide` crate's microkernel: the register tile of `blocked-wide` on `wide::f32x8`,
//! whose instructions the build's target features choose at compile time.

use wide::f32x8;

use super::gemm::{AVX2_TILE, BiasAlong, Microkernel, Tile, TileArgs, relu};

/// Tile rows: AVX2's tile, as the pulp kernel on AVX2.
pub(crate) const MR: usize = AVX2_TILE.rows;
/// Tile width: two f32x8 per row, as the pulp kernel on AVX2.
pub(crate) const NR: usize = 16;
/// The tile, MR × NR.
pub(crate) const TILE: Tile = Tile { mr: MR, nr: NR };

/// The MR×NR tile on `wide::f32x8`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WideMicrokernel;

impl Microkernel for WideMicrokernel {
    const MR: usize = MR;

    #[inline(always)]
    fn nr(self) -> usize {
        NR
    }

    #[inline(always)]
    unsafe fn tile(self, t: TileArgs) {
        let TileArgs { kc, a, b, ldb, c, ldc, rows, cols, epilogue } = t;
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
