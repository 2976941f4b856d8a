//! Packing for the int8 tiles (`crate::ukernel::int8`): K in groups of 4, zero-padded.

use crate::problem::QConv1x1Problem;
use crate::quant::index;

/// Groups of 4 input channels: ⌈Cin / 4⌉.
pub(super) fn groups(cin: usize) -> usize {
    cin.div_ceil(4)
}

/// Weights (Cout×Cin) into panels of `nr` output channels: panel `j`, group `g`, channel `c`,
/// byte `t` at `((j·G + g)·nr + c)·4 + t` = `w[j·nr + c][4g + t]`, zero past Cout and Cin.
pub(super) fn pack_weights(weights: &[i8], cin: usize, cout: usize, nr: usize) -> Vec<i8> {
    let g_len = groups(cin);
    let panels = cout.div_ceil(nr);
    let mut out = vec![0i8; panels * g_len * nr * 4];
    for (co, row) in weights.chunks_exact(cin).enumerate().take(cout) {
        let (j, c) = (co / nr, co % nr);
        for (ci, &w) in row.iter().enumerate() {
            let (g, t) = (ci / 4, ci % 4);
            out[((j * g_len + g) * nr + c) * 4 + t] = w;
        }
    }
    out
}

/// The A tile of `mr` output pixels starting at `q0` of image `n`: group `g`, pixel `r`, byte
/// `t` at `(g·mr + r)·4 + t` = `x[n][4g + t][input pixel of q0 + r]`, zero past Cin and past
/// the last pixel.
pub(super) fn pack_pixels(p: &QConv1x1Problem, x: &[u8], n: usize, q0: usize, mr: usize, a: &mut [u8]) {
    let c = p.conv();
    let (pixels_in, pixels_out) = (c.pixels_in(), c.pixels_out());
    a.fill(0);
    for r in 0..mr.min(pixels_out - q0) {
        let pixel = c.input_pixel(q0 + r);
        for ci in 0..c.cin {
            a[((ci / 4) * mr + r) * 4 + ci % 4] = x[index(c.layout, c.cin, pixels_in, n, ci, pixel)];
        }
    }
}
