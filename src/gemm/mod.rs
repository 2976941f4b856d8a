//! The crate's own cache-blocked GEMM, `C = A·B (+ bias, then ReLU)`, in the BLIS structure.
//!
//! Five loops around the microkernel, labelled as in matrixmultiply's `src/gemm.rs`:
//! LOOP 5 splits N into NC-wide column blocks (B block lives in L3), LOOP 4 splits K into KC
//! blocks and packs the KC×NC block of B into NR-wide panels, LOOP 3 splits M into MC-row
//! blocks and packs the MC×KC block of A into MR-row panels (it lives in L2), LOOP 2 walks the
//! NR-wide panels of B (one panel, KC×NR, lives in L1), LOOP 1 walks the MR-row panels of A,
//! and the microkernel computes one MR×NR tile in registers.
//!
//! Either operand may instead be packed ahead of time over its whole K ([`Operand::Packed`]):
//! that is how the conv kernels hand over weights prepared once per layer, so `run` never
//! repacks them. When C has at most [`SMALL_M`] rows, a B with contiguous rows is read in place
//! (only a last, partial panel is packed): up to seven A panels reuse a packed B panel too
//! little to repay copying it.

pub(crate) mod pack;

use crate::ukernel::gemm::{AVX2_TILE, AVX512_TILE, BiasAlong, Epilogue, Microkernel, Tile, TileArgs};
use pack::{MatRef, pack_a, pack_b, panels};

/// K block: a KC×NR panel of B is 16 KiB at NR = 16, half of Zen 3's 32 KiB L1d, leaving room
/// for the A panel streaming through.
pub(crate) const KC: usize = 256;
/// M block: MC×KC of packed A is 96 KiB, inside the 512 KiB L2 with room for C. A multiple of
/// every ISA's MR (checked below).
pub(crate) const MC: usize = 96;
const _: () = assert!(MC.is_multiple_of(AVX2_TILE.rows) && MC.is_multiple_of(AVX512_TILE.rows));
/// B is read in place, not packed, when C has at most this many MR-row panels: packing copies
/// all of B, repaid only when enough panels of A reuse each packed panel (the direct kernels
/// copy their tiles only from 8 panels up, `PACK_MIN_PANELS`): in place measured 1.35×
/// packing on 1x192x8x8:10 (docs/tuning.md).
const SMALL_M_PANELS: usize = 7;
/// N block: KC×NC of packed B is 2 MiB, a slice of the L3. A multiple of every NR (2 to 32).
pub(crate) const NC: usize = 2048;

/// Lengths of the A and B packing buffers for an m×n×k product (the blocks, or the whole
/// matrix where it is smaller), register tile `t`.
pub(crate) fn gemm_scratch_len((m, n, k): (usize, usize, usize), t: Tile) -> (usize, usize) {
    (MC.min(panels(m, t.mr) * t.mr) * KC.min(k), KC.min(k) * NC.min(panels(n, t.nr) * t.nr))
}

/// One GEMM operand.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operand<'a> {
    /// A strided matrix, packed block by block during the call.
    Strided(MatRef<'a>),
    /// Already packed over the whole K: A panels `[panel][k][MR]`, or B panels `[panel][k][NR]`.
    Packed(&'a [f32]),
}

/// Bias of the GEMM's epilogue, padded to whole panels.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GemmBias<'a> {
    /// No bias.
    None,
    /// One value per row of C (at least `panels(m, MR)·MR` values).
    Rows(&'a [f32]),
    /// One value per column of C (at least `panels(n, NR)·NR` values).
    Cols(&'a [f32]),
}

/// `C[m×n] (row stride ldc) = A[m×k]·B[k×n]`, then bias and ReLU.
///
/// `a_buf` and `b_buf` are the packing buffers, at least [`gemm_scratch_len`] long. Panics only
/// on violated internal invariants (operand sizes), never on data.
///
/// `#[inline(always)]`, and free of closures, so that inside pulp's dispatch the whole loop nest
/// is compiled with the selected target features and the microkernel's intrinsics inline.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn gemm<K: Microkernel>(
    mk: K,
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    c: &mut [f32],
    ldc: usize,
    bias: GemmBias,
    relu: bool,
    a_buf: &mut [f32],
    b_buf: &mut [f32],
) {
    let Tile { mr, nr } = mk.dims();
    assert!(NC.is_multiple_of(nr) && MC.is_multiple_of(mr));
    assert!(m >= 1 && n >= 1 && k >= 1 && ldc >= n && c.len() >= (m - 1) * ldc + n);
    if let Operand::Packed(p) = a {
        assert_eq!(p.len(), panels(m, mr) * k * mr);
    }
    if let Operand::Packed(p) = b {
        assert_eq!(p.len(), panels(n, nr) * k * nr);
    }
    match bias {
        GemmBias::Rows(v) => assert!(v.len() >= panels(m, mr) * mr),
        GemmBias::Cols(v) => assert!(v.len() >= panels(n, nr) * nr),
        GemmBias::None => {}
    }
    let (a_len, b_len) = gemm_scratch_len((m, n, k), mk.dims());
    assert!(a_buf.len() >= a_len && b_buf.len() >= b_len);
    // B read in place (see SMALL_M): contiguous rows and few rows of C.
    let in_place = match b {
        Operand::Strided(view) => view.cs == 1 && m <= SMALL_M_PANELS * mr,
        Operand::Packed(_) => false,
    };
    // LOOP 5: column blocks of C and B.
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        // LOOP 4: K blocks; pack this KC×NC block of B.
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let last_k = pc + kc == k;
            let (b_panels, b_step): (&[f32], usize) = match b {
                Operand::Strided(view) if in_place => {
                    // Full panels are read in place below; a last, partial panel is packed
                    // here (reading past its columns could leave the matrix).
                    let partial = nc % nr;
                    if partial > 0 {
                        pack_b(&view, pc..pc + kc, jc + nc - partial..jc + nc, nr, b_buf);
                    }
                    (&b_buf[..], 0)
                }
                Operand::Strided(view) => {
                    pack_b(&view, pc..pc + kc, jc..jc + nc, nr, b_buf);
                    (&b_buf[..], kc * nr)
                }
                Operand::Packed(p) => (&p[(jc / nr) * k * nr + pc * nr..], k * nr),
            };
            // LOOP 3: row blocks of C and A; pack this MC×KC block of A.
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                let (a_panels, a_step): (&[f32], usize) = match a {
                    Operand::Strided(view) => {
                        pack_a(&view, ic..ic + mc, pc..pc + kc, mr, a_buf);
                        (&a_buf[..], kc * mr)
                    }
                    Operand::Packed(p) => (&p[(ic / mr) * k * mr + pc * mr..], k * mr),
                };
                // LOOP 2: NR-wide panels of B.
                for jr in (0..nc).step_by(nr) {
                    let cols = nr.min(nc - jr);
                    let (b_panel, ldb) = match b {
                        Operand::Strided(view) if in_place && cols == nr => {
                            (&view.data[pc * view.rs + jc + jr..][..(kc - 1) * view.rs + nr], view.rs)
                        }
                        Operand::Strided(_) if in_place => (&b_panels[..kc * nr], nr),
                        _ => (&b_panels[(jr / nr) * b_step..][..(kc - 1) * nr + nr], nr),
                    };
                    // LOOP 1: mr-row panels of A.
                    for ir in (0..mc).step_by(mr) {
                        let rows = mr.min(mc - ir);
                        let a_panel = &a_panels[(ir / mr) * a_step..][..kc * mr];
                        let tile_bias = match (bias, last_k) {
                            (GemmBias::Rows(v), true) => BiasAlong::Rows(v[ic + ir..][..mr].as_ptr()),
                            (GemmBias::Cols(v), true) => BiasAlong::Cols(v[jc + jr..][..nr].as_ptr()),
                            _ => BiasAlong::None,
                        };
                        let epilogue = Epilogue { accumulate: pc > 0, bias: tile_bias, relu: relu && last_k };
                        let c_tile = &mut c[(ic + ir) * ldc + jc + jr..][..(rows - 1) * ldc + cols];
                        // SAFETY: a_panel holds kc·mr values and b_panel kc rows of nr
                        // (both sliced with bounds checks above); c_tile covers `rows`
                        // rows of `cols` values ldc apart; bias slices hold mr or nr.
                        unsafe {
                            mk.tile(TileArgs {
                                kc,
                                a: a_panel.as_ptr(),
                                b: b_panel.as_ptr(),
                                ldb,
                                c: c_tile.as_mut_ptr(),
                                ldc,
                                rows,
                                cols,
                                epilogue,
                            });
                        }
                    }
                }
            }
        }
    }
}
