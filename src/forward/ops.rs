//! The whole-network operations that are not 1×1 convolutions or GAP: spatial convolution and
//! fully-connected layers through the crate's GEMM, pooling, LRN, ReLU and softmax. NCHW, f32.
//!
//! The GEMM layers pack their weights once ([`SpatialConv::new`], [`FullyConnected::new`]) into
//! the GEMM's panel format, as the 1×1 kernels do, so a forward pass never repacks them. Work
//! is split with rayon over whatever pool the caller runs in: images and groups first, then
//! output-channel blocks (convolution) or output-column blocks (FC) when a batch has too few
//! images to keep every thread busy. The cheap element-wise layers split over channel planes.

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use crate::conv1x1::direct::{TileRows, pack_weights};
use crate::conv1x1::im2col_gemm::transpose_into;
use crate::gemm::pack::{MatRef, pack_b, panels};
use crate::gemm::{GemmBias, Operand, gemm, gemm_scratch_len};
use crate::problem::{Conv1x1Problem, Conv1x1Shape};
use crate::scratch::{Slot, with_scratch};
use crate::simd::SimdPolicy;
use crate::tensor::{AlignedBuf, OutPtr, zeroed};
use crate::ukernel::gemm::{Tile, tile_dims, with_kernel_tile};

/// LRN's α, β and k: Caffe's `bvlc_alexnet` (`alpha: 0.0001`, `beta: 0.75`, and k = 1, Caffe's
/// default), the only model here with LRN.
pub const LRN_ALPHA: f32 = 1e-4;
/// See [`LRN_ALPHA`].
pub const LRN_BETA: f32 = 0.75;
/// See [`LRN_ALPHA`].
pub const LRN_K: f32 = 1.0;

/// A convolution's geometry on one image: Caffe's floor rounding, zero padding, channel groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input channels.
    pub cin: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub cout: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub pad: usize,
    /// Channel groups.
    pub groups: usize,
}

impl ConvGeometry {
    /// Output height.
    pub fn hout(&self) -> usize {
        (self.h + 2 * self.pad - self.kernel) / self.stride + 1
    }

    /// Output width.
    pub fn wout(&self) -> usize {
        (self.w + 2 * self.pad - self.kernel) / self.stride + 1
    }

    /// Input channels of one group.
    pub fn cin_group(&self) -> usize {
        self.cin / self.groups
    }

    /// Output channels of one group.
    pub fn cout_group(&self) -> usize {
        self.cout / self.groups
    }

    /// The reduction length of one output: a group's input channels times the window.
    pub fn reduction(&self) -> usize {
        self.cin_group() * self.kernel * self.kernel
    }

    /// Output pixels of one image.
    pub fn pixels_out(&self) -> usize {
        self.hout() * self.wout()
    }

    /// Weights, `cout × (cin / groups) × kernel × kernel` (OIHW, as Caffe and ONNX store them).
    pub fn weights_len(&self) -> usize {
        self.cout * self.reduction()
    }

    /// The input pixel row `ih` or column `iw` that output `o` reads at window offset `k`, or
    /// `None` in the padding.
    fn source(&self, o: usize, k: usize, len: usize) -> Option<usize> {
        (o * self.stride + k).checked_sub(self.pad).filter(|&i| i < len)
    }
}

/// Writes the im2col matrix of one group of one image straight into the GEMM's panels of
/// width `nr` (`[panel][k][nr]`, see `gemm::pack`), so that the GEMM reads it as an operand
/// packed ahead and no second copy is made: row `k = (ci·kernel + kh)·kernel + kw` holds, for
/// each output pixel, the input value its window reads at that offset (0 in the padding). The
/// lanes past the last pixel are left as they are: the GEMM computes them and never stores them.
///
/// Panel by panel, in parallel when `parallel` (a panel is one contiguous K×nr block, so the
/// panels split into disjoint slices).
fn im2col_panels(g: &ConvGeometry, group_input: &[f32], nr: usize, dst: &mut [f32], parallel: bool) {
    let panel_len = g.reduction() * nr;
    let panels = panels(g.pixels_out(), nr);
    let dst = &mut dst[..panels * panel_len];
    if parallel {
        dst.par_chunks_mut(panel_len).enumerate().for_each(|(j, panel)| im2col_panel(g, group_input, nr, j, panel));
    } else {
        dst.chunks_mut(panel_len).enumerate().for_each(|(j, panel)| im2col_panel(g, group_input, nr, j, panel));
    }
}

/// Most pieces one panel's pixels fall into: a piece per output row it touches, at most one per
/// pixel of the widest panel (2·16 lanes at AVX-512's NR).
const MAX_PIECES: usize = 33;

/// Fills panel `panel` (pixels `panel·nr ..`, K rows of `nr` lanes) of [`im2col_panels`]. Its
/// pixels are cut where output rows end, so each (row k, piece) is one contiguous run of lanes:
/// zeros where the window reads padding, and between them one slice copy at stride 1 or a
/// strided gather.
fn im2col_panel(g: &ConvGeometry, group_input: &[f32], nr: usize, panel: usize, dst: &mut [f32]) {
    let (k, wout, s, pad) = (g.kernel, g.wout(), g.stride, g.pad);
    let hw = g.h * g.w;
    // The panel's pieces: (output row, first output column, length, first lane).
    let mut pieces = [(0usize, 0usize, 0usize, 0usize); MAX_PIECES];
    let mut count = 0;
    let (first, end) = (panel * nr, ((panel + 1) * nr).min(g.pixels_out()));
    let mut p = first;
    while p < end {
        let (oh, ow) = (p / wout, p % wout);
        let len = (wout - ow).min(end - p);
        pieces[count] = (oh, ow, len, p - first);
        count += 1;
        p += len;
    }
    for ci in 0..g.cin_group() {
        let plane = &group_input[ci * hw..][..hw];
        for kh in 0..k {
            for kw in 0..k {
                let row = &mut dst[((ci * k + kh) * k + kw) * nr..][..nr];
                // Output columns whose window reads inside the map at this kw.
                let ow_lo = pad.saturating_sub(kw).div_ceil(s).min(wout);
                let ow_hi = (g.w + pad).saturating_sub(kw).div_ceil(s).min(wout);
                for &(oh, ow, len, lane) in &pieces[..count] {
                    let out = &mut row[lane..][..len];
                    let Some(ih) = g.source(oh, kh, g.h) else {
                        out.fill(0.0);
                        continue;
                    };
                    // Zeros left and right of the columns that read the map.
                    let a = ow_lo.clamp(ow, ow + len) - ow;
                    let b = ow_hi.clamp(ow + a, ow + len) - ow;
                    out[..a].fill(0.0);
                    out[b..].fill(0.0);
                    if a == b {
                        continue; // no column of this piece reads the map (a wide stride)
                    }
                    let line = &plane[ih * g.w..][..g.w];
                    let start = (ow + a) * s + kw - pad;
                    if s == 1 {
                        out[a..b].copy_from_slice(&line[start..][..b - a]);
                    } else {
                        for (j, o) in out[a..b].iter_mut().enumerate() {
                            *o = line[start + j * s];
                        }
                    }
                }
            }
        }
    }
}

/// One call of the crate's GEMM with an A operand packed over its whole K, compiled inside
/// pulp's dispatch (a closure there would lose the selected target features).
struct GemmCall<'a> {
    dims: (usize, usize, usize),
    a: Operand<'a>,
    b: Operand<'a>,
    c: &'a mut [f32],
    ldc: usize,
    bias: GemmBias<'a>,
    relu: bool,
    a_buf: &'a mut [f32],
    b_buf: &'a mut [f32],
}

impl WithSimd for GemmCall<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let GemmCall { dims, a, b, c, ldc, bias, relu, a_buf, b_buf } = self;
        with_kernel_tile!(simd, S, mk => gemm(mk, dims, a, b, c, ldc, bias, relu, a_buf, b_buf));
    }
}

/// Runs `C[m×n] = A·B (+ bias, ReLU)` on this thread with its own packing buffers.
#[allow(clippy::too_many_arguments)]
fn gemm_on_this_thread(
    policy: SimdPolicy,
    tile: Tile,
    dims: (usize, usize, usize),
    a: Operand,
    b: Operand,
    c: &mut [f32],
    ldc: usize,
    bias: GemmBias,
    relu: bool,
) {
    let (a_len, b_len) = gemm_scratch_len(dims, tile);
    with_scratch(Slot::PackA, a_len, |a_buf| {
        with_scratch(Slot::PackB, b_len, |b_buf| {
            policy.dispatch(GemmCall { dims, a, b, c, ldc, bias, relu, a_buf, b_buf })
        })
    });
}

/// How many pieces to cut `work_items` independent items into so that every thread of the
/// current pool gets about two.
fn pieces_per_item(work_items: usize) -> usize {
    let wanted = 2 * rayon::current_num_threads();
    if work_items >= wanted { 1 } else { wanted.div_ceil(work_items) }
}

/// A spatial convolution (any window, stride, padding, groups) with bias and optional ReLU, as
/// im2col + the crate's GEMM, per image and group, the weights packed once and the columns
/// written by im2col directly in the GEMM's panel format. Oriented like the 1×1 kernels
/// (`TileRows::best_fill`): `Y_g[Cout_g × P] = W_g · cols` with channels along the tile's
/// rows, or, where pixels fill the tiles better (conv4 of NIN-ImageNet: 36 output pixels are 6
/// rows of 6, but 75% of three 16-wide columns), `Y_gᵀ[P × Cout_g] = colsᵀ · W_gᵀ` written back
/// transposed.
#[derive(Debug, Clone)]
pub struct SpatialConv {
    geometry: ConvGeometry,
    relu: bool,
    policy: SimdPolicy,
    rows: TileRows,
    /// Per group: W_g as A panels (channel rows) or W_gᵀ as B panels (pixel rows), whole K.
    packed: Vec<AlignedBuf>,
    /// Per group: bias padded to whole panels.
    bias: Vec<AlignedBuf>,
}

impl SpatialConv {
    /// Packs `weights` (OIHW) and `bias` (Cout). Lengths are the caller's invariant (the
    /// network builds both from the same geometry).
    pub fn new(geometry: ConvGeometry, weights: &[f32], bias: &[f32], relu: bool, policy: SimdPolicy) -> Self {
        assert_eq!((weights.len(), bias.len()), (geometry.weights_len(), geometry.cout));
        let (k_len, cout_g) = (geometry.reduction(), geometry.cout_group());
        let tile = tile_dims(policy);
        // The GEMM of one group is a 1×1 convolution of K "channels" on the output map.
        let as_pointwise = Conv1x1Problem::new(Conv1x1Shape::new(1, k_len, geometry.hout(), geometry.wout(), cout_g))
            .expect("a validated layer's GEMM is a valid problem");
        let rows = TileRows::best_fill(&as_pointwise, tile);
        let (packed, bias) = (0..geometry.groups)
            .map(|g| {
                let w_g = &weights[g * cout_g * k_len..][..cout_g * k_len];
                pack_weights(&as_pointwise, w_g, Some(&bias[g * cout_g..][..cout_g]), tile, rows)
            })
            .unzip();
        Self { geometry, relu, policy, rows, packed, bias }
    }

    /// The geometry.
    pub fn geometry(&self) -> &ConvGeometry {
        &self.geometry
    }

    /// Convolves `input` (N×Cin×H×W) into `output` (N×Cout×Hout×Wout).
    pub fn run(&self, input: &[f32], output: &mut [f32]) {
        let g = &self.geometry;
        let (k_len, cout_g, pixels) = (g.reduction(), g.cout_group(), g.pixels_out());
        let in_group = g.cin_group() * g.h * g.w;
        let out_group = cout_g * pixels;
        let images = input.len() / (g.cin * g.h * g.w);
        assert_eq!((input.len(), output.len()), (images * g.cin * g.h * g.w, images * g.cout * pixels));
        let tile = tile_dims(self.policy);
        // Channels come in panels of MR (channel rows) or NR (pixel rows); pixels in the other.
        let (channel_unit, pixel_unit) = match self.rows {
            TileRows::Channels => (tile.mr, tile.nr),
            TileRows::Pixels => (tile.nr, tile.mr),
        };
        let items = images * g.groups;
        let pieces = pieces_per_item(items).min(panels(cout_g, channel_unit));
        // Channels of one piece: whole panels, so that each piece reads whole packed panels.
        let piece_channels = panels(panels(cout_g, channel_unit), pieces) * channel_unit;
        let group_of = |item: usize| item % g.groups;
        let columns_len = panels(pixels, pixel_unit) * k_len * pixel_unit;
        let run_piece = |group: usize, columns: &[f32], channel0: usize, y: &mut [f32]| {
            let channels = y.len() / pixels;
            let weights = &self.packed[group][(channel0 / channel_unit) * k_len * channel_unit..]
                [..panels(channels, channel_unit) * k_len * channel_unit];
            let bias = &self.bias[group][channel0..];
            match self.rows {
                TileRows::Channels => gemm_on_this_thread(
                    self.policy,
                    tile,
                    (channels, pixels, k_len),
                    Operand::Packed(weights),
                    Operand::Packed(columns),
                    y,
                    pixels,
                    GemmBias::Rows(bias),
                    self.relu,
                ),
                TileRows::Pixels => with_scratch(Slot::Transposed, pixels * channels, |transposed| {
                    gemm_on_this_thread(
                        self.policy,
                        tile,
                        (pixels, channels, k_len),
                        Operand::Packed(columns),
                        Operand::Packed(weights),
                        transposed,
                        channels,
                        GemmBias::Cols(bias),
                        self.relu,
                    );
                    transpose_into(transposed, pixels, channels, y);
                }),
            }
        };
        if pieces == 1 {
            // Enough images × groups for every thread: one task each, im2col included.
            output.par_chunks_mut(out_group).enumerate().for_each(|(item, y)| {
                let x = &input[item * in_group..][..in_group];
                with_scratch(Slot::Columns, columns_len, |columns| {
                    im2col_panels(g, x, pixel_unit, columns, false);
                    run_piece(group_of(item), columns, 0, y);
                });
            });
            return;
        }
        // Too few: per image and group, one shared im2col (its panels filled in parallel), then
        // blocks of output channels in parallel, all reading the same packed columns.
        with_scratch(Slot::Columns, columns_len, |columns| {
            for (item, y_item) in output.chunks_exact_mut(out_group).enumerate() {
                im2col_panels(g, &input[item * in_group..][..in_group], pixel_unit, columns, true);
                let columns = &*columns;
                y_item.par_chunks_mut(piece_channels * pixels).enumerate().for_each(|(piece, y)| {
                    run_piece(group_of(item), columns, piece * piece_channels, y);
                });
            }
        });
    }
}

/// A fully-connected layer with bias and optional ReLU: `Y[N × out] = X[N × in] · Wᵀ + b`,
/// `X` each image's NCHW tensor flattened (Caffe's and ONNX's `Flatten` order), Wᵀ packed once
/// as the GEMM's B panels. With one image it streams the weights once, the memory-bound
/// GEMV it then is.
#[derive(Debug, Clone)]
pub struct FullyConnected {
    inputs: usize,
    outputs: usize,
    relu: bool,
    policy: SimdPolicy,
    nr: usize,
    packed: AlignedBuf,
    bias: AlignedBuf,
}

impl FullyConnected {
    /// Packs `weights` (out × in, row-major) and `bias` (out).
    pub fn new(inputs: usize, outputs: usize, weights: &[f32], bias: &[f32], relu: bool, policy: SimdPolicy) -> Self {
        assert_eq!((weights.len(), bias.len()), (inputs * outputs, outputs));
        let nr = tile_dims(policy).nr;
        let w = MatRef::new(weights, outputs, inputs, inputs, 1);
        let mut packed = zeroed(panels(outputs, nr) * inputs * nr);
        pack_b(&w.t(), 0..inputs, 0..outputs, nr, &mut packed);
        let mut padded = zeroed(panels(outputs, nr) * nr);
        padded[..outputs].copy_from_slice(bias);
        Self { inputs, outputs, relu, policy, nr, packed, bias: padded }
    }

    /// Outputs per image.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Computes `output` (N × out) from `input` (N × in).
    pub fn run(&self, input: &[f32], output: &mut [f32]) {
        let (k, n_out, nr) = (self.inputs, self.outputs, self.nr);
        let images = input.len() / k;
        assert_eq!((input.len(), output.len()), (images * k, images * n_out));
        let total_panels = panels(n_out, nr);
        let pieces = (2 * rayon::current_num_threads()).min(total_panels);
        let piece_cols = panels(total_panels, pieces) * nr;
        let x = MatRef::new(input, images, k, k, 1);
        let out = OutPtr(output.as_mut_ptr());
        (0..panels(n_out, piece_cols)).into_par_iter().for_each(|piece| {
            let col0 = piece * piece_cols;
            let cols = piece_cols.min(n_out - col0);
            let b = &self.packed[(col0 / nr) * k * nr..][..panels(cols, nr) * k * nr];
            with_scratch(Slot::Transposed, images * cols, |y| {
                gemm_on_this_thread(
                    self.policy,
                    tile_dims(self.policy),
                    (images, cols, k),
                    Operand::Strided(x),
                    Operand::Packed(b),
                    y,
                    cols,
                    GemmBias::Cols(&self.bias[col0..]),
                    self.relu,
                );
                for (image, row) in y.chunks_exact(cols).enumerate() {
                    let at = image * n_out + col0;
                    // SAFETY: `out` points at `output`, images·n_out values, borrowed
                    // mutably for this whole call; this piece writes only its own columns
                    // col0..col0 + cols of each row (in bounds: col0 + cols ≤ n_out), which no
                    // other piece writes, and nothing reads `output` until all pieces end.
                    unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), out.at(at), cols) };
                }
            });
        });
    }
}

/// Max or average pooling with Caffe's rounding (see [`crate::model`]): output size
/// `ceil((in + 2·pad − k) / stride) + 1`, no window starting in the right padding; an average
/// divides by the window clipped to the padded input (Caffe's `pool_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pooling {
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Padding.
    pub pad: usize,
    /// Average (true) or max (false).
    pub average: bool,
}

/// One pooling window, clipped: the input rows and columns it reads, and Caffe's divisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Input rows.
    pub rows: std::ops::Range<usize>,
    /// Input columns.
    pub cols: std::ops::Range<usize>,
    /// The divisor of an average: the window clipped to the padded input, padding included.
    pub divisor: usize,
}

impl Pooling {
    /// Output height.
    pub fn hout(&self) -> usize {
        crate::model::pooled(self.h, self.kernel, self.stride, self.pad).expect("validated by the model")
    }

    /// Output width.
    pub fn wout(&self) -> usize {
        crate::model::pooled(self.w, self.kernel, self.stride, self.pad).expect("validated by the model")
    }

    /// The input rows (or columns) output row (or column) `o` reads, clipped to the map, and
    /// the window's extent clipped to the padded map (Caffe's divisor along that axis).
    fn span(&self, o: usize, len: usize) -> (std::ops::Range<usize>, usize) {
        let start = o * self.stride; // in padded coordinates
        let end = (start + self.kernel).min(len + 2 * self.pad);
        (start.saturating_sub(self.pad)..end.saturating_sub(self.pad).min(len), end - start)
    }

    /// The window of output pixel (oh, ow).
    pub fn window(&self, oh: usize, ow: usize) -> Window {
        let (rows, dh) = self.span(oh, self.h);
        let (cols, dw) = self.span(ow, self.w);
        Window { rows, cols, divisor: dh * dw }
    }

    /// Pools `input` (N×C×H×W) into `output` (N×C×Hout×Wout).
    pub fn run(&self, input: &[f32], output: &mut [f32]) {
        let (hw, wout) = (self.h * self.w, self.wout());
        let out_plane = self.hout() * wout;
        let rows: Vec<_> = (0..self.hout()).map(|oh| self.span(oh, self.h)).collect();
        let cols: Vec<_> = (0..wout).map(|ow| self.span(ow, self.w)).collect();
        output.par_chunks_mut(out_plane).zip(input.par_chunks(hw)).for_each(|(y, x)| {
            for (y_row, (row_span, dh)) in y.chunks_exact_mut(wout).zip(&rows) {
                for (v, (col_span, dw)) in y_row.iter_mut().zip(&cols) {
                    let lines = row_span.clone().map(|ih| &x[ih * self.w..][col_span.clone()]);
                    *v = if self.average {
                        lines.map(|l| l.iter().sum::<f32>()).sum::<f32>() / (dh * dw) as f32
                    } else {
                        lines.fold(f32::NEG_INFINITY, |m, l| {
                            l.iter().fold(m, |m, &v| if v > m || v.is_nan() { v } else { m })
                        })
                    };
                }
            }
        });
    }
}

/// Local response normalisation across `size` channels, Caffe's `ACROSS_CHANNELS`:
/// `y = x · (k + α/size · Σ x_j²)^(−β)`, the sum over the `size` channels centred on x's
/// (clipped at the ends). Runs pixel-plane by image.
pub fn lrn(c: usize, hw: usize, size: usize, input: &[f32], output: &mut [f32]) {
    let half = (size - 1) / 2;
    let scale = LRN_ALPHA / size as f32;
    output.par_chunks_mut(c * hw).zip(input.par_chunks(c * hw)).for_each(|(y, x)| {
        let mut sums = vec![0.0f32; hw];
        for ch in 0..c {
            sums.fill(0.0);
            for j in ch.saturating_sub(half)..(ch + half + 1).min(c) {
                for (s, &v) in sums.iter_mut().zip(&x[j * hw..][..hw]) {
                    *s += v * v;
                }
            }
            for ((o, &v), &s) in y[ch * hw..][..hw].iter_mut().zip(&x[ch * hw..][..hw]).zip(&sums) {
                *o = v * inverse_three_quarter_power(LRN_K + scale * s);
            }
        }
    });
}

/// `s^(−3/4)` (LRN's β = 0.75) as `1 / (√s · √√s)`: square roots vectorise where `powf` is a
/// library call per value, and the four roundings (each root within half an ulp, the product
/// and the division one rounding each) stay inside the 2 ulp the reference allows `powf`.
#[inline(always)]
fn inverse_three_quarter_power(s: f32) -> f32 {
    const _: () = assert!(LRN_BETA == 0.75, "inverse_three_quarter_power is s^-0.75");
    let root = s.sqrt();
    1.0 / (root * root.sqrt())
}

/// ReLU in place.
pub fn relu_in_place(values: &mut [f32]) {
    values.par_chunks_mut(1 << 14).for_each(|chunk| {
        for v in chunk {
            *v = crate::relu(*v);
        }
    });
}

/// Softmax across the `c` channels at each of the `hw` pixels of every image, subtracting the
/// maximum first so that no exponential overflows.
pub fn softmax(c: usize, hw: usize, input: &[f32], output: &mut [f32]) {
    output.par_chunks_mut(c * hw).zip(input.par_chunks(c * hw)).for_each(|(y, x)| {
        for p in 0..hw {
            let max = (0..c).map(|ch| x[ch * hw + p]).fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for ch in 0..c {
                let e = (x[ch * hw + p] - max).exp();
                y[ch * hw + p] = e;
                sum += e;
            }
            for ch in 0..c {
                y[ch * hw + p] /= sum;
            }
        }
    });
}
