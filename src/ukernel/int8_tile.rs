//! The int8 register tiles: i32 sums of u8 activations times s8 weights over K in groups of 4,
//! on each [`QPath`], in two orientations ([`Vectors`]). The only ISA-specific int8 conv code.
//!
//! One step of K multiplies 4 activations by 4 weights and adds the 4 products into an i32
//! (`vpdpbusd`, or AVX2's `vpmaddubsw` triple), the activations as the instruction's unsigned
//! operand. One operand fills two vectors per group; the other is broadcast, 4 bytes at a time,
//! once per row of the tile:
//! - [`Vectors::Pixels`]: vectors of pixels, from a tile packed per group (`x[g][c][0..4]`, NR
//!   pixels' 4 u8 each), each output channel's 4 weights broadcast. A row of the tile is an
//!   output channel: NCHW's line.
//! - [`Vectors::Channels`]: vectors of output channels, from the weight panel, each pixel's 4
//!   activations broadcast from its own row of bytes (`rows[c][g·stride..]`), which an NHWC
//!   input already is. A row of the tile is a pixel: NHWC's line. A small map wastes no lanes
//!   on it: NIN-ImageNet's 6×6 maps fill 36 of the 48 lanes of a tile and a half of pixels.
//!
//! Weight panels are packed by `crate::qconv` for both: per group of 4 input channels, MR
//! output channels' 4 s8 weights each (`w[g][r][0..4]`), zero past Cin and past Cout, so that
//! every tile runs whole and any activation past Cin multiplies a zero.

use super::int8::{QPath, dpbusd};
use super::requantize::TileBytes;

/// Which operand of an int8 tile fills its vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vectors {
    /// Vectors of pixels, a row of the tile per output channel (NCHW's lines).
    Pixels,
    /// Vectors of output channels, a row of the tile per pixel (NHWC's lines).
    Channels,
}

impl Vectors {
    /// Both orientations.
    pub const ALL: [Vectors; 2] = [Vectors::Pixels, Vectors::Channels];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Vectors::Pixels => "pixel vectors",
            Vectors::Channels => "channel vectors",
        }
    }
}

/// An int8 register tile: a path in one orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QTile {
    /// Its instructions.
    pub path: QPath,
    /// Which operand fills its vectors.
    pub vectors: Vectors,
}

/// The activations a tile reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TilePixels<'a> {
    /// For [`Vectors::Pixels`]: a tile packed per group, NR pixels' 4 bytes each.
    Packed(&'a [u8]),
    /// For [`Vectors::Channels`]: the tile's pixel `c`'s group `g` at `rows[c][g·stride..]`,
    /// one row per pixel the tile computes.
    Rows { rows: &'a [&'a [u8]], stride: usize },
}

/// What a tile does with its sums.
pub(crate) enum TileOut<'o, 'a, 'b> {
    /// Stores them, row `r` at `sums[r·W..][..W]` (W = [`QTile::row_len`]).
    Sums(&'o mut [i32]),
    /// Requantizes them into bytes, over every panel of `w` (see [`TileBytes`]).
    Bytes(&'o mut TileBytes<'a, 'b>),
}

/// The most pixel rows a [`Vectors::Channels`] tile has.
pub(crate) const MAX_PIXEL_ROWS: usize = 8;

impl QTile {
    /// `path` with `vectors`.
    pub fn new(path: QPath, vectors: Vectors) -> Self {
        QTile { path, vectors }
    }

    /// Its size: MR output channels, NR pixels. The vectors of pixels are 2 vectors wide and
    /// their rows as many as the registers allow (16 accumulators on AVX-512 cover
    /// `vpdpbusd`'s latency at two a cycle; 4×32's 8 ran at 42–72% of the peak loop); channel
    /// vectors swap the two.
    pub fn dims(self) -> (usize, usize) {
        let (rows, vectors_wide) = match self.path {
            QPath::Scalar => (4, 8),
            QPath::Avx2 => (4, 16),
            QPath::AvxVnni => (6, 16),
            QPath::Avx512Vnni | QPath::EmulatedVnni => (8, 32),
        };
        match self.vectors {
            Vectors::Pixels => (rows, vectors_wide),
            Vectors::Channels => (vectors_wide, rows),
        }
    }

    /// The values in a row of its stored sums: NR pixels, or MR channels.
    pub fn row_len(self) -> usize {
        let (mr, nr) = self.dims();
        if self.vectors == Vectors::Pixels { nr } else { mr }
    }

    /// Its name, e.g. `8x32 (pixel vectors)`.
    pub fn name(self) -> String {
        let (mr, nr) = self.dims();
        format!("{mr}x{nr} ({})", self.vectors.name())
    }

    /// Sums over `groups` groups of 4 input channels, `acc[channel][pixel]` = `Σ_g Σ_j
    /// w[g][channel][j] · x[g][pixel][j]`, for MR channels and NR pixels, or only the first NR/2
    /// pixels when `half` (a last tile of at most NR/2: NIN-ImageNet's 6×6 maps end on 4 of
    /// 32 pixels, or 4 of 8). With [`TileOut::Sums`], `w` is one panel; with
    /// [`TileOut::Bytes`], as many as the bytes have MR channels, each tile's sums requantized
    /// in registers (the sums' trip through memory and a loop of their own over them took a
    /// sixth of 1x96x54x54:96's time on AVX2, and a call per panel another 7%).
    ///
    /// # Safety
    /// The path is [`available`](QPath::available); with [`QPath::Avx2`] every weight is
    /// 7-bit.
    ///
    /// # Panics
    /// When `x` is not the form its orientation reads, or an operand is too short for the
    /// tile: `w` for its panels, `x` for `groups` groups of its pixels, the sums for its rows,
    /// the bytes' lines for its rows and panels (or `half` with bytes of pixel vectors).
    pub(crate) unsafe fn run(self, groups: usize, w: &[i8], x: TilePixels, out: TileOut, half: bool) {
        let (mr, nr) = self.dims();
        let pixels = if half { nr / 2 } else { nr };
        let panels = match &out {
            TileOut::Sums(acc) => {
                let rows = if self.vectors == Vectors::Pixels { mr } else { pixels };
                assert!(acc.len() >= rows * self.row_len(), "tile sums too short");
                1
            }
            TileOut::Bytes(b) => {
                let channels = b.bias.len();
                let (lines, line_len) = match self.vectors {
                    Vectors::Pixels => (channels, b.at + nr),
                    Vectors::Channels => (pixels, b.at + channels),
                };
                assert!(
                    channels > 0
                        && channels.is_multiple_of(mr)
                        && b.m.len() == channels
                        && b.lines.len() >= lines
                        && b.lines[..lines].iter().all(|line| line.len() >= line_len)
                        && !(half && self.vectors == Vectors::Pixels),
                    "{channels} channels of tile bytes in {} lines",
                    b.lines.len()
                );
                channels / mr
            }
        };
        assert!(w.len() >= panels * groups * mr * 4, "{} bytes of weights for {panels} panels", w.len());
        // The activations' rows: one per pixel row of channel vectors; the packed tile's start
        // (every row after it unused) for pixel vectors.
        let mut rows = [x_start(&x); MAX_PIXEL_ROWS];
        let mut stride = 0;
        match (self.vectors, x) {
            (Vectors::Pixels, TilePixels::Packed(tile)) => {
                assert!(tile.len() >= groups * nr * 4, "packed tile too short")
            }
            (Vectors::Channels, TilePixels::Rows { rows: given, stride: s }) => {
                assert!(given.len() >= pixels && pixels <= MAX_PIXEL_ROWS, "{} rows of pixels", given.len());
                let reach = groups.saturating_sub(1) * s + 4;
                assert!(given[..pixels].iter().all(|row| row.len() >= reach), "a row of pixels too short");
                for (row, given) in rows.iter_mut().zip(given.iter().take(pixels)) {
                    *row = given.as_ptr();
                }
                stride = s;
            }
            (vectors, _) => panic!("tiles of {} read another form of pixels", vectors.name()),
        }
        let args = Operands { groups, w: w.as_ptr(), rows, stride };
        // The x86 tile `$f` with `$rows` rows of pixel vectors, in the orientation and part asked.
        #[cfg(target_arch = "x86_64")]
        macro_rules! on_x86 {
            ($f:ident, $rows:literal) => {
                match (self.vectors, half) {
                    (Vectors::Pixels, false) => x86::$f::<false, $rows, 2>(args, out),
                    (Vectors::Pixels, true) => x86::$f::<false, $rows, 1>(args, out),
                    (Vectors::Channels, false) => x86::$f::<true, $rows, 2>(args, out),
                    (Vectors::Channels, true) => x86::$f::<true, { $rows / 2 }, 2>(args, out),
                }
            };
        }
        match self.path {
            QPath::Scalar => portable::<4, 8>(self.vectors, args, w, out, half),
            QPath::EmulatedVnni => portable::<8, 32>(self.vectors, args, w, out, half),
            // SAFETY (all three): the caller checked the CPU has the path and the weights'
            // range; every operand's length is checked above.
            #[cfg(target_arch = "x86_64")]
            QPath::Avx2 => unsafe { on_x86!(avx2, 4) },
            #[cfg(target_arch = "x86_64")]
            QPath::AvxVnni => unsafe { on_x86!(avxvnni, 6) },
            #[cfg(target_arch = "x86_64")]
            QPath::Avx512Vnni => unsafe { on_x86!(avx512vnni, 8) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("not available off x86-64"),
        }
    }
}

/// Where `x`'s bytes start.
fn x_start(x: &TilePixels) -> *const u8 {
    match *x {
        TilePixels::Packed(tile) => tile.as_ptr(),
        TilePixels::Rows { rows, .. } => rows.first().map_or(std::ptr::null(), |row| row.as_ptr()),
    }
}

/// A tile's operands, checked by [`QTile::run`]: `groups` groups of 4 input channels; the
/// weights' first panel; the activations' rows (for pixel vectors, the packed tile's start in
/// `rows[0]`) and the distance between a row's groups.
#[derive(Clone, Copy)]
struct Operands {
    groups: usize,
    w: *const i8,
    rows: [*const u8; MAX_PIXEL_ROWS],
    stride: usize,
}

/// The tile in plain Rust, one [`dpbusd`] per (channel, pixel, group), on the `MR`×`NR` tile of
/// pixel vectors or its transpose.
#[inline(always)]
fn portable<const ROWS: usize, const WIDE: usize>(
    vectors: Vectors,
    a: Operands,
    w: &[i8],
    mut out: TileOut,
    half: bool,
) {
    let (mr, nr) = match vectors {
        Vectors::Pixels => (ROWS, WIDE),
        Vectors::Channels => (WIDE, ROWS),
    };
    let pixels = if half { nr / 2 } else { nr };
    let panels = match &out {
        TileOut::Sums(_) => 1,
        TileOut::Bytes(out) => out.bias.len() / mr,
    };
    let activations = |c: usize, g: usize| -> [u8; 4] {
        let at = match vectors {
            Vectors::Pixels => (g * nr + c) * 4,
            Vectors::Channels => g * a.stride,
        };
        let row = if vectors == Vectors::Pixels { a.rows[0] } else { a.rows[c] };
        // SAFETY: `run` checked that every row it was given holds `groups` groups from `at`
        // on, and that the packed tile holds `groups·nr·4` bytes.
        unsafe { (row.add(at) as *const [u8; 4]).read_unaligned() }
    };
    for (panel, w) in w.chunks(a.groups * mr * 4).take(panels).enumerate() {
        // sums[channel][pixel], whichever the orientation.
        let mut sums = [[0i32; WIDE]; WIDE];
        for g in 0..a.groups {
            for c in 0..pixels {
                let x4 = activations(c, g);
                for (r, row) in sums.iter_mut().enumerate().take(mr) {
                    row[c] = dpbusd(row[c], x4, w[(g * mr + r) * 4..][..4].try_into().expect("4 bytes"));
                }
            }
        }
        for (r, row) in sums.iter().enumerate().take(mr) {
            for (c, &s) in row.iter().enumerate().take(pixels) {
                match (&mut out, vectors) {
                    (TileOut::Sums(acc), Vectors::Pixels) => acc[r * nr + c] = s,
                    (TileOut::Sums(acc), Vectors::Channels) => acc[c * mr + r] = s,
                    (TileOut::Bytes(out), _) => {
                        let channel = panel * mr + r;
                        let (line, at) = match vectors {
                            Vectors::Pixels => (channel, out.at + c),
                            Vectors::Channels => (c, out.at + channel),
                        };
                        out.lines[line][at] = crate::quant::requantize(s + out.bias[channel], out.m[channel]);
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Operands;
    use super::TileOut;
    use crate::ukernel::requantize::x86::{requantize16_avx2, requantize16_avx512};

    /// The tile of `ROWS` rows × `NV` vectors of `$lanes` i32, written out in the calling
    /// function (no closure, so that every step compiles with its target features). Per group:
    /// the `NV` vectors loaded (pixels from the packed tile, or a panel's channels), then per
    /// row its 4 bytes broadcast (a channel's weights, or a pixel's activations) and `$step` on
    /// each of the row's accumulators, with the activations as `$u8v`. Then each row is stored
    /// as i32 (`acc[r·2·$lanes..]`) or handed to `$to_bytes` with its line, its bias and
    /// multipliers (one for the row, or one per lane with channel vectors).
    macro_rules! tile {
        (
            $vec:ty, $lanes:expr, $zero:expr, $load:ident, $store:ident, $splat:ident,
            |$acc:ident, $u8v:ident, $s8v:ident| $step:expr,
            |$row:ident, $bias:ident, $m:ident, $per_lane:ident, $dst:ident| $to_bytes:expr,
            $args:expr, $out:expr
        ) => {{
            let Operands { groups, w, rows: x_rows, stride: x_stride } = $args;
            // A panel's channels: the rows of pixel vectors, two vectors of channels.
            let mr = if CHANNELS { 2 * $lanes } else { ROWS };
            let mut out = $out;
            let panels = match &out {
                TileOut::Sums(_) => 1,
                TileOut::Bytes(out) => out.bias.len() / mr,
            };
            for panel in 0..panels {
                // SAFETY: `w` holds `panels` panels of groups·mr·4 bytes (checked by `run`).
                let w = unsafe { w.add(panel * groups * mr * 4) } as *const u8;
                // The vectors' operand (a group's 2 vectors 8·lanes bytes after the previous
                // group's), and each row's bytes with the distance between its groups.
                let (vectors, rows, row_stride): (*const u8, [*const u8; ROWS], usize) = if CHANNELS {
                    (w, std::array::from_fn(|r| x_rows[r]), x_stride)
                } else {
                    // SAFETY: channel r's weights are inside the panel (checked by `run`).
                    (x_rows[0], std::array::from_fn(|r| unsafe { w.add(r * 4) }), mr * 4)
                };
                let mut c = [[$zero; NV]; ROWS];
                for g in 0..groups {
                    let mut vs = [$zero; NV];
                    for (v, vv) in vs.iter_mut().enumerate() {
                        // SAFETY: group g's vectors are inside the packed tile or the panel
                        // (checked by `run`), read unaligned.
                        *vv = unsafe { $load((vectors.add(g * 8 * $lanes) as *const $vec).add(v)) };
                    }
                    for (r, c_r) in c.iter_mut().enumerate() {
                        // SAFETY: row r's group g is inside its row (checked by `run`).
                        let b = $splat(unsafe { (rows[r].add(g * row_stride) as *const i32).read_unaligned() });
                        for (acc_v, &vec_v) in c_r.iter_mut().zip(&vs) {
                            let ($acc, $u8v, $s8v) = if CHANNELS { (*acc_v, b, vec_v) } else { (*acc_v, vec_v, b) };
                            *acc_v = $step;
                        }
                    }
                }
                match &mut out {
                    TileOut::Sums(acc) => {
                        for (r, c_r) in c.iter().enumerate() {
                            for (v, &acc_v) in c_r.iter().enumerate() {
                                // SAFETY: `acc` holds a row of 2·lanes values per row (`run`).
                                unsafe { $store((acc.as_mut_ptr().add(r * 2 * $lanes) as *mut $vec).add(v), acc_v) };
                            }
                        }
                    }
                    TileOut::Bytes(out) => {
                        for (r, c_r) in c.iter().enumerate() {
                            // Pixel vectors: row r is channel panel·mr + r's line, its bias and
                            // multiplier broadcast; channel vectors: row r is pixel r's line from
                            // `at + panel·mr` on, a bias and a multiplier per lane.
                            let (line, at, channel) = if CHANNELS {
                                (r, out.at + panel * mr, panel * mr)
                            } else {
                                (panel * mr + r, out.at, panel * mr + r)
                            };
                            // SAFETY: the line holds 2·lanes bytes from `at` on, and `bias` and
                            // `m` a value for each channel from `channel` on (`run`).
                            let ($dst, $bias, $m) = unsafe {
                                (
                                    out.lines.get_unchecked_mut(line).as_mut_ptr().add(at),
                                    out.bias.as_ptr().add(channel),
                                    out.m.as_ptr().add(channel),
                                )
                            };
                            let ($row, $per_lane) = (c_r, CHANNELS);
                            $to_bytes
                        }
                    }
                }
            }
        }};
    }

    /// AVX2, 4 rows × 2 ymm of 8 i32: `vpmaddubsw` → `vpmaddwd` by ones → `vpaddd` per
    /// accumulator: 8 accumulators, 2 vectors, a broadcast, the ones and two temporaries.
    ///
    /// # Safety
    /// AVX2; weights 7-bit; operands as checked by `QTile::run`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2<const CHANNELS: bool, const ROWS: usize, const NV: usize>(args: Operands, out: TileOut) {
        let ones = _mm256_set1_epi16(1);
        tile!(
            __m256i,
            8,
            _mm256_setzero_si256(),
            _mm256_loadu_si256,
            _mm256_storeu_si256,
            _mm256_set1_epi32,
            |c, u8v, s8v| _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(u8v, s8v), ones)),
            // SAFETY: 16 channels' bias and multipliers, or one, and 16 bytes of the line (above).
            |row, bias, m, per_lane, dst| unsafe { store_bytes_avx2(row, bias, m, per_lane, dst) },
            args,
            out
        )
    }

    /// AVX-VNNI, 6 rows × 2 ymm of 8 i32: one `vpdpbusd` per accumulator and group; 12
    /// accumulators, 2 vectors and a broadcast in 16 ymm registers.
    ///
    /// # Safety
    /// AVX2 and AVX-VNNI; operands as checked by `QTile::run`.
    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn avxvnni<const CHANNELS: bool, const ROWS: usize, const NV: usize>(
        args: Operands,
        out: TileOut,
    ) {
        tile!(
            __m256i,
            8,
            _mm256_setzero_si256(),
            _mm256_loadu_si256,
            _mm256_storeu_si256,
            _mm256_set1_epi32,
            |c, u8v, s8v| _mm256_dpbusd_avx_epi32(c, u8v, s8v),
            // SAFETY: as in `avx2`.
            |row, bias, m, per_lane, dst| unsafe { store_bytes_avx2(row, bias, m, per_lane, dst) },
            args,
            out
        )
    }

    /// AVX-512 VNNI, 8 rows × 2 zmm of 16 i32: 16 accumulators, enough to cover
    /// `vpdpbusd`'s latency at two a cycle.
    ///
    /// # Safety
    /// AVX-512F and VNNI; operands as checked by `QTile::run`.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) unsafe fn avx512vnni<const CHANNELS: bool, const ROWS: usize, const NV: usize>(
        args: Operands,
        out: TileOut,
    ) {
        tile!(
            __m512i,
            16,
            _mm512_setzero_si512(),
            _mm512_loadu_si512,
            _mm512_storeu_si512,
            _mm512_set1_epi32,
            |c, u8v, s8v| _mm512_dpbusd_epi32(c, u8v, s8v),
            |row, bias, m, per_lane, dst| {
                // SAFETY: 32 channels' bias and multipliers, or one, and 32 bytes of the line
                // (above).
                unsafe {
                    let (b, m) = if per_lane {
                        (
                            [
                                _mm512_loadu_si512(bias as *const __m512i),
                                _mm512_loadu_si512(bias.add(16) as *const __m512i),
                            ],
                            [_mm512_loadu_ps(m), _mm512_loadu_ps(m.add(16))],
                        )
                    } else {
                        ([_mm512_set1_epi32(*bias); 2], [_mm512_set1_ps(*m); 2])
                    };
                    let (first, second) =
                        (requantize16_avx512(row[0], b[0], m[0]), requantize16_avx512(row[1], b[1], m[1]));
                    _mm256_storeu_si256(dst as *mut __m256i, _mm256_set_m128i(second, first))
                }
            },
            args,
            out
        )
    }

    /// A row's 16 sums requantized to 16 bytes at `dst`, with 16 channels' biases and
    /// multipliers (`per_lane`) or one of each.
    ///
    /// # Safety
    /// AVX2; `bias` and `m` readable for 16 values (`per_lane`) or 1; `dst` writable for 16
    /// bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store_bytes_avx2(row: &[__m256i], bias: *const i32, m: *const f32, per_lane: bool, dst: *mut u8) {
        // SAFETY: the caller's guarantees.
        unsafe {
            let (b, m) = if per_lane {
                (
                    [_mm256_loadu_si256(bias as *const __m256i), _mm256_loadu_si256(bias.add(8) as *const __m256i)],
                    [_mm256_loadu_ps(m), _mm256_loadu_ps(m.add(8))],
                )
            } else {
                ([_mm256_set1_epi32(*bias); 2], [_mm256_set1_ps(*m); 2])
            };
            _mm_storeu_si128(dst as *mut __m128i, requantize16_avx2(row[0], row[1], b, m))
        }
    }
}
