//! Byte transpositions for the int8 tiles (`crate::ukernel::int8_tile`) on NCHW: four channel
//! rows of u8 activations interleaved into the groups of 4 input channels the tiles read, and a
//! tile of channel vectors' output bytes (a row per pixel) turned into channel lines.

/// `out[4·q + k] = rows[k][q]` for every pixel `q < out.len() / 4`: four channel rows of one
/// image interleaved into the groups of 4 the tiles read, 16 pixels per step with SSE2's byte
/// and word unpacks on x86-64 (part of its baseline), the rest one byte at a time.
///
/// # Panics
/// When a row is shorter than `out.len() / 4`.
pub fn interleave4(rows: [&[u8]; 4], out: &mut [u8]) {
    let len = out.len() / 4;
    let rows = rows.map(|r| &r[..len]);
    #[cfg(target_arch = "x86_64")]
    let done = x86::interleave4_sse2(rows, out);
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for q in done..len {
        for (k, row) in rows.iter().enumerate() {
            out[4 * q + k] = row[q];
        }
    }
}

/// `lines[r][at + c] = rows[c][r]` for the 8 rows `c` and the 32 lines `r`: the bytes of a
/// tile of 32 channel vectors × 8 pixels (a row per pixel) written to NCHW's lines (a line per
/// channel), 8 bytes each. SSE2's byte, word and dword unpacks on x86-64, 16 channels at a
/// time; a byte at a time elsewhere.
///
/// # Panics
/// When there are fewer than 32 lines or one is shorter than `at + 8`.
pub fn transpose_8x32(rows: &[[u8; 32]; 8], lines: &mut [&mut [u8]], at: usize) {
    assert!(lines.len() >= 32 && lines[..32].iter().all(|line| line.len() >= at + 8), "32 lines of 8 bytes from {at}");
    #[cfg(target_arch = "x86_64")]
    x86::transpose_8x32_sse2(rows, lines, at);
    #[cfg(not(target_arch = "x86_64"))]
    for (r, line) in lines.iter_mut().enumerate().take(32) {
        for (c, row) in rows.iter().enumerate() {
            line[at + c] = row[r];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// [`super::interleave4`]'s whole steps of 16 pixels; returns how many pixels it wrote.
    /// Each step: four 16-byte loads, `punpck{l,h}bw` pairs channels 0/1 and 2/3, then
    /// `punpck{l,h}wd` joins the pairs into 4 bytes per pixel, four 16-byte stores.
    pub(super) fn interleave4_sse2(rows: [&[u8]; 4], out: &mut [u8]) -> usize {
        let len = rows[0].len();
        debug_assert!(rows.iter().all(|r| r.len() == len) && out.len() >= 4 * len);
        let mut q = 0;
        while q + 16 <= len {
            // SAFETY: SSE2 is part of x86-64; pixels q..q+16 are inside every row and bytes
            // 4q..4q+64 inside `out` (checked above and by the loop condition).
            unsafe {
                let [a, b, c, d] = rows.map(|r| _mm_loadu_si128(r.as_ptr().add(q) as *const __m128i));
                let (ab_lo, ab_hi) = (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b));
                let (cd_lo, cd_hi) = (_mm_unpacklo_epi8(c, d), _mm_unpackhi_epi8(c, d));
                let dst = out.as_mut_ptr().add(4 * q) as *mut __m128i;
                _mm_storeu_si128(dst, _mm_unpacklo_epi16(ab_lo, cd_lo));
                _mm_storeu_si128(dst.add(1), _mm_unpackhi_epi16(ab_lo, cd_lo));
                _mm_storeu_si128(dst.add(2), _mm_unpacklo_epi16(ab_hi, cd_hi));
                _mm_storeu_si128(dst.add(3), _mm_unpackhi_epi16(ab_hi, cd_hi));
            }
            q += 16;
        }
        q
    }

    /// [`super::transpose_8x32`], checked by it: per half of 16 channels, `punpck{l,h}bw` pairs
    /// rows 0/1, 2/3, 4/5 and 6/7, `punpck{l,h}wd` joins them into 4 rows per channel, and
    /// `punpck{l,h}dq` into 8, two channels per register, each stored as 8 bytes.
    pub(super) fn transpose_8x32_sse2(rows: &[[u8; 32]; 8], lines: &mut [&mut [u8]], at: usize) {
        for half in 0..2 {
            // SAFETY: SSE2 is part of x86-64; each row holds 32 bytes, so 16 from 16·half; the
            // caller checked 32 lines of at least at + 8 bytes.
            unsafe {
                let r: [__m128i; 8] =
                    std::array::from_fn(|c| _mm_loadu_si128(rows[c][16 * half..].as_ptr() as *const __m128i));
                let pairs = |lo: bool, c: usize| {
                    if lo { _mm_unpacklo_epi8(r[c], r[c + 1]) } else { _mm_unpackhi_epi8(r[c], r[c + 1]) }
                };
                let mut channels = [_mm_setzero_si128(); 8];
                for (eighth, lo) in [true, false].into_iter().enumerate() {
                    // Channels 8·eighth.. of this half, rows 0-3 and 4-7: 4 bytes per channel.
                    let (a01, a23, a45, a67) = (pairs(lo, 0), pairs(lo, 2), pairs(lo, 4), pairs(lo, 6));
                    let fours = [
                        (_mm_unpacklo_epi16(a01, a23), _mm_unpacklo_epi16(a45, a67)),
                        (_mm_unpackhi_epi16(a01, a23), _mm_unpackhi_epi16(a45, a67)),
                    ];
                    for (k, (first, second)) in fours.into_iter().enumerate() {
                        channels[4 * eighth + 2 * k] = _mm_unpacklo_epi32(first, second);
                        channels[4 * eighth + 2 * k + 1] = _mm_unpackhi_epi32(first, second);
                    }
                }
                // Register j holds channels 2j and 2j + 1 of the half, 8 bytes each.
                for (j, &two) in channels.iter().enumerate() {
                    let line = 16 * half + 2 * j;
                    _mm_storel_epi64(lines[line].as_mut_ptr().add(at) as *mut __m128i, two);
                    _mm_storel_epi64(
                        lines[line + 1].as_mut_ptr().add(at) as *mut __m128i,
                        _mm_unpackhi_epi64(two, two),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_8x32_writes_each_channels_8_pixels_to_its_line_and_nothing_else() {
        let rows: [[u8; 32]; 8] = std::array::from_fn(|c| std::array::from_fn(|r| (r * 8 + c) as u8));
        let at = 3;
        let mut lines = vec![vec![0xAAu8; at + 8 + 2]; 33];
        let mut out: Vec<&mut [u8]> = lines.iter_mut().map(|l| l.as_mut_slice()).collect();
        transpose_8x32(&rows, &mut out, at);
        for (r, line) in lines.iter().enumerate().take(32) {
            let want: Vec<u8> = (0..8).map(|c| (r * 8 + c) as u8).collect();
            assert_eq!(&line[at..at + 8], &want[..], "line {r}");
            assert!(line[..at].iter().chain(&line[at + 8..]).all(|&b| b == 0xAA), "line {r}: wrote outside");
        }
        assert!(lines[32].iter().all(|&b| b == 0xAA), "wrote past the 32 lines");
    }

    #[test]
    fn interleave4_puts_each_pixels_four_channels_side_by_side_for_every_length() {
        for len in 0..50usize {
            let rows: Vec<Vec<u8>> = (0..4).map(|k| (0..len + 3).map(|q| (q * 4 + k) as u8).collect()).collect();
            let mut out = vec![0xAAu8; 4 * len + 2];
            interleave4([&rows[0], &rows[1], &rows[2], &rows[3]], &mut out[..4 * len]);
            let want: Vec<u8> = (0..4 * len).map(|i| i as u8).collect();
            assert_eq!(&out[..4 * len], &want[..], "len {len}");
            assert_eq!(&out[4 * len..], &[0xAA, 0xAA], "len {len}: wrote past its end");
        }
    }
}
