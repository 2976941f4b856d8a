//! Packing matrices into the panel formats the microkernel reads.
//!
//! - A panels: `MR` rows at a time (the tile's), k-major: `panel[k·MR + r]`, rows past the end zero.
//! - B panels: `NR` columns at a time, k-major: `panel[k·NR + j]`, columns past the end zero.
//!
//! Zero padding lets the microkernel always run a full tile; the padded rows and columns are
//! computed and then never stored.

use std::ops::Range;

use crate::ukernel::gemm::{AVX2_TILE, AVX512_TILE};

/// A strided view of a matrix: element (i, j) is `data[i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A view of `data`; panics if the last element lies outside it (an internal invariant:
    /// callers build views from validated problems).
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(rows >= 1 && cols >= 1 && (rows - 1) * rs + (cols - 1) * cs < data.len());
        Self { data, rows, cols, rs, cs }
    }

    /// The transposed view (no copy).
    pub(crate) fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, data: self.data }
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// Number of `width`-wide panels needed for `len` rows or columns.
pub(crate) fn panels(len: usize, width: usize) -> usize {
    len.div_ceil(width)
}

/// Packs rows `rows` × columns `ks` of `src` into `mr`-row A panels in `dst`
/// (`panels(rows.len(), mr) · ks.len() · mr` values).
pub(crate) fn pack_a(src: &MatRef, rows: Range<usize>, ks: Range<usize>, mr: usize, dst: &mut [f32]) {
    // The kernels' tiles get fixed-size copies; any other height (a tile under trial) the
    // general loop.
    if mr == AVX2_TILE.rows {
        pack_a_rows::<{ AVX2_TILE.rows }>(src, rows, ks, dst)
    } else if mr == AVX512_TILE.rows {
        pack_a_rows::<{ AVX512_TILE.rows }>(src, rows, ks, dst)
    } else {
        pack_a_any(src, rows, ks, mr, dst)
    }
}

/// [`pack_a`] for `MR`-row panels.
fn pack_a_rows<const MR: usize>(src: &MatRef, rows: Range<usize>, ks: Range<usize>, dst: &mut [f32]) {
    let kc = ks.len();
    for (panel, chunk) in dst.chunks_exact_mut(kc * MR).take(panels(rows.len(), MR)).enumerate() {
        let i0 = rows.start + panel * MR;
        if src.rs == 1 && i0 + MR <= rows.end {
            // A transposed view (a pixel-rows im2col): the panel's MR rows are adjacent in
            // memory, one fixed-size copy per k.
            for (k, out) in ks.clone().zip(chunk.chunks_exact_mut(MR)) {
                let from: &[f32; MR] = src.data[k * src.cs + i0..][..MR].try_into().expect("MR values");
                let to: &mut [f32; MR] = out.try_into().expect("MR values");
                *to = *from;
            }
            continue;
        }
        for (k, out) in ks.clone().zip(chunk.chunks_exact_mut(MR)) {
            for (r, o) in out.iter_mut().enumerate() {
                *o = if i0 + r < rows.end { src.at(i0 + r, k) } else { 0.0 };
            }
        }
    }
}

/// [`pack_a`] for any panel height.
fn pack_a_any(src: &MatRef, rows: Range<usize>, ks: Range<usize>, mr: usize, dst: &mut [f32]) {
    let kc = ks.len();
    for (panel, chunk) in dst.chunks_exact_mut(kc * mr).take(panels(rows.len(), mr)).enumerate() {
        let i0 = rows.start + panel * mr;
        for (k, out) in ks.clone().zip(chunk.chunks_exact_mut(mr)) {
            for (r, o) in out.iter_mut().enumerate() {
                *o = if i0 + r < rows.end { src.at(i0 + r, k) } else { 0.0 };
            }
        }
    }
}

/// Packs rows `ks` × columns `cols` of `src` into `nr`-wide B panels in `dst`
/// (`panels(cols.len(), nr) · ks.len() · nr` values).
pub(crate) fn pack_b(src: &MatRef, ks: Range<usize>, cols: Range<usize>, nr: usize, dst: &mut [f32]) {
    let kc = ks.len();
    for (panel, chunk) in dst.chunks_exact_mut(kc * nr).take(panels(cols.len(), nr)).enumerate() {
        let j0 = cols.start + panel * nr;
        let width = nr.min(cols.end - j0);
        if src.cs == 1 && width == nr && nr == 16 {
            // Whole panels of the common width: fixed-size copies compile to a few vector
            // moves, where a `copy_from_slice` of a run-time length is a `memcpy` call per
            // row, which cost im2col-gemm more than its FMAs on short reductions.
            for (k, out) in ks.clone().zip(chunk.chunks_exact_mut(16)) {
                let start = k * src.rs + j0;
                let from: &[f32; 16] = src.data[start..start + 16].try_into().expect("16 values");
                let to: &mut [f32; 16] = out.try_into().expect("16 values");
                *to = *from;
            }
            continue;
        }
        for (k, out) in ks.clone().zip(chunk.chunks_exact_mut(nr)) {
            if src.cs == 1 {
                let start = k * src.rs + j0;
                out[..width].copy_from_slice(&src.data[start..start + width]);
            } else {
                for (j, o) in out[..width].iter_mut().enumerate() {
                    *o = src.at(k, j0 + j);
                }
            }
            out[width..].fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_a_zero_pads_the_last_panel() {
        // 7×3 matrix, value 10·i + j.
        let data: Vec<f32> = (0..7).flat_map(|i| (0..3).map(move |j| (10 * i + j) as f32)).collect();
        let m = MatRef::new(&data, 7, 3, 3, 1);
        const MR: usize = 6;
        let mut dst = vec![f32::NAN; 2 * 3 * MR];
        pack_a(&m, 0..7, 0..3, MR, &mut dst);
        assert_eq!(&dst[..MR], &[0.0, 10.0, 20.0, 30.0, 40.0, 50.0]);
        // Second panel, k = 2: row 6 then zeros.
        assert_eq!(&dst[3 * MR + 2 * MR..3 * MR + 3 * MR], &[62.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // Any height packs the same values: one panel of 7 rows and one of 5 (4 of them zero).
        for mr in [7, 5] {
            let mut any = vec![f32::NAN; panels(7, mr) * 3 * mr];
            pack_a(&m, 0..7, 0..3, mr, &mut any);
            for (i, j) in (0..7).flat_map(|i| (0..3).map(move |j| (i, j))) {
                assert_eq!(any[(i / mr) * 3 * mr + j * mr + i % mr], (10 * i + j) as f32, "mr {mr}");
            }
            assert!(any.iter().all(|v| !v.is_nan()), "mr {mr}: every value written");
        }
    }

    #[test]
    fn pack_b_reads_strided_and_transposed_views() {
        let data: Vec<f32> = (0..12).map(|v| v as f32).collect(); // 3×4 row-major
        let m = MatRef::new(&data, 3, 4, 4, 1);
        let mut direct = vec![f32::NAN; 2 * 3 * 2];
        pack_b(&m, 0..3, 1..4, 2, &mut direct);
        assert_eq!(direct, vec![1.0, 2.0, 5.0, 6.0, 9.0, 10.0, 3.0, 0.0, 7.0, 0.0, 11.0, 0.0]);
        // The same matrix stored column-major, viewed through a transpose.
        let col_major: Vec<f32> = (0..4).flat_map(|j| (0..3).map(move |i| (4 * i + j) as f32)).collect();
        let t = MatRef::new(&col_major, 4, 3, 3, 1).t();
        let mut via_t = vec![f32::NAN; 12];
        pack_b(&t, 0..3, 1..4, 2, &mut via_t);
        assert_eq!(via_t, direct);
    }
}
