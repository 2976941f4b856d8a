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

/// `lines[r][at + c] = rows[c][r]` for every row `c` and the first `channels` lines `r`: the
/// bytes of a tile of channel vectors (a row of channels per pixel) written to NCHW's lines (a
/// line per channel), a pixel per row. With 4 or 8 rows and 16 or 32 channels (every whole tile
/// of the VNNI and AVX2 paths), SSE2's byte, word and dword unpacks on x86-64, 16 channels at a
/// time; a byte at a time otherwise. A byte at a time on AVX2's 16×4 tile, 1x512x7x7:512 ran at
/// 64–66% of the int8 peak on channel vectors against 75% on pixel vectors (Zen 4, AVX2 forced);
/// with SSE2 at 70–78% against 77–79%.
///
/// # Panics
/// When `channels` exceeds 32, or there are fewer lines or one is shorter than `at` plus the
/// rows.
pub fn transpose_rows(rows: &[[u8; 32]], channels: usize, lines: &mut [&mut [u8]], at: usize) {
    let n = rows.len();
    assert!(
        channels <= 32 && lines.len() >= channels && lines[..channels].iter().all(|line| line.len() >= at + n),
        "{channels} lines of {n} bytes from {at}"
    );
    #[cfg(target_arch = "x86_64")]
    if matches!(n, 4 | 8) && channels.is_multiple_of(16) {
        for half in 0..channels / 16 {
            x86::transpose16_sse2(rows, half, &mut lines[16 * half..16 * half + 16], at);
        }
        return;
    }
    for (r, line) in lines.iter_mut().enumerate().take(channels) {
        for (out, row) in line[at..at + n].iter_mut().zip(rows) {
            *out = row[r];
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

    /// [`super::transpose_rows`] on channels 16·half.. of 4 or 8 rows, checked by it:
    /// `punpck{l,h}bw` pairs rows 0/1, 2/3 (, 4/5, 6/7), `punpck{l,h}wd` joins them into 4 rows
    /// per channel, four channels per register; with 8 rows `punpck{l,h}dq` joins the two
    /// fours, two channels per register. Each channel's bytes are one 4- or 8-byte store.
    pub(super) fn transpose16_sse2(rows: &[[u8; 32]], half: usize, lines: &mut [&mut [u8]], at: usize) {
        let n = rows.len();
        debug_assert!(matches!(n, 4 | 8) && lines.len() >= 16);
        // SAFETY: SSE2 is part of x86-64; each row holds 32 bytes, so 16 from 16·half; the
        // caller checked 16 lines of at least at + n bytes.
        unsafe {
            let r: [__m128i; 8] =
                std::array::from_fn(|c| _mm_loadu_si128(rows[c % n][16 * half..].as_ptr() as *const __m128i));
            // Channels 8·k.. of rows 4·q..4·q + 4, 4 bytes per channel: [channels 0-3, 4-7].
            let fours = |k: usize, q: usize| {
                let pair = |c: usize| {
                    if k == 0 { _mm_unpacklo_epi8(r[c], r[c + 1]) } else { _mm_unpackhi_epi8(r[c], r[c + 1]) }
                };
                let (a, b) = (pair(4 * q), pair(4 * q + 2));
                [_mm_unpacklo_epi16(a, b), _mm_unpackhi_epi16(a, b)]
            };
            let lines: [*mut u8; 16] = std::array::from_fn(|ch| lines[ch].as_mut_ptr().add(at));
            let line = |ch: usize| lines[ch];
            for k in 0..2 {
                let first = fours(k, 0);
                if n == 4 {
                    for (j, four) in first.into_iter().enumerate() {
                        let words: [u32; 4] = std::mem::transmute(four);
                        for (i, word) in words.into_iter().enumerate() {
                            (line(8 * k + 4 * j + i) as *mut u32).write_unaligned(word);
                        }
                    }
                    continue;
                }
                let second = fours(k, 1);
                for j in 0..2 {
                    let (lo, hi) = (_mm_unpacklo_epi32(first[j], second[j]), _mm_unpackhi_epi32(first[j], second[j]));
                    for (i, two) in [lo, hi].into_iter().enumerate() {
                        let ch = 8 * k + 4 * j + 2 * i;
                        _mm_storel_epi64(line(ch) as *mut __m128i, two);
                        _mm_storel_epi64(line(ch + 1) as *mut __m128i, _mm_unpackhi_epi64(two, two));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_rows_writes_each_channels_pixels_to_its_line_and_nothing_else() {
        // Every tile's shape (4 and 8 rows in SIMD, the rest a byte at a time), 16 and 32
        // channels, and channels that are not a multiple of 16.
        for (n, channels) in [(8, 32), (4, 32), (8, 16), (4, 16), (2, 16), (3, 16), (6, 16), (8, 20), (1, 1)] {
            let rows: Vec<[u8; 32]> = (0..n).map(|c| std::array::from_fn(|r| (r * 8 + c) as u8)).collect();
            let at = 3;
            let mut lines = vec![vec![0xAAu8; at + n + 2]; channels + 1];
            let mut out: Vec<&mut [u8]> = lines.iter_mut().map(|l| l.as_mut_slice()).collect();
            transpose_rows(&rows, channels, &mut out, at);
            for (r, line) in lines.iter().enumerate().take(channels) {
                let want: Vec<u8> = (0..n).map(|c| (r * 8 + c) as u8).collect();
                assert_eq!(&line[at..at + n], &want[..], "{n} rows, {channels} channels: line {r}");
                assert!(line[..at].iter().chain(&line[at + n..]).all(|&b| b == 0xAA), "line {r}: wrote outside");
            }
            assert!(lines[channels].iter().all(|&b| b == 0xAA), "{n} rows: wrote past {channels} lines");
        }
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
