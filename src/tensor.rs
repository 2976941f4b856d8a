//! Tensor storage: layouts, 64-byte aligned buffers, seeded random fill.
//!
//! Tensors are plain `f32` slices in one of two memory layouts; the problem types know the
//! dimensions. Buffers are 64-byte aligned so SIMD loads never split a cache line at the start of
//! a row, and they are filled from a seeded generator so every run sees the same numbers.

use aligned_vec::{AVec, ConstAlign};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

/// Alignment of every buffer the crate allocates, in bytes (one cache line).
pub const ALIGN: usize = 64;

/// A 64-byte aligned vector of `f32`.
pub type AlignedBuf = AVec<f32, ConstAlign<ALIGN>>;

/// Memory layout of an N×C×H×W tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Channels outermost: `x[n][c][h][w]` (PyTorch's default, Caffe's only layout).
    Nchw,
    /// Channels innermost: `x[n][h][w][c]` (TensorFlow's default, most inference engines).
    Nhwc,
}

impl Layout {
    /// Both layouts, for iteration.
    pub const ALL: [Layout; 2] = [Layout::Nchw, Layout::Nhwc];

    /// Lower-case name as used in problem strings.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Nchw => "nchw",
            Layout::Nhwc => "nhwc",
        }
    }

    /// Flat index of element (n, c, h, w) of a tensor with `channels` channels and an
    /// `height`×`width` map.
    #[inline]
    pub fn index(self, dims: [usize; 4], n: usize, c: usize, h: usize, w: usize) -> usize {
        let [_, channels, height, width] = dims;
        match self {
            Layout::Nchw => ((n * channels + c) * height + h) * width + w,
            Layout::Nhwc => ((n * height + h) * width + w) * channels + c,
        }
    }
}

/// A zero-filled aligned buffer of `len` elements.
pub fn zeroed(len: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::new(ALIGN);
    buf.resize(len, 0.0);
    buf
}

/// [`zeroed`] that reports a failed allocation as `None` instead of aborting the process: for
/// buffers whose size comes from the user.
pub fn try_zeroed(len: usize) -> Option<AlignedBuf> {
    let mut buf = AlignedBuf::new(ALIGN);
    buf.try_reserve_exact(len).ok()?;
    buf.resize(len, 0.0);
    Some(buf)
}

/// An aligned copy of `data`.
pub fn aligned_copy(data: &[f32]) -> AlignedBuf {
    AlignedBuf::from_slice(ALIGN, data)
}

/// `len` values drawn uniformly from [-1, 1) by a generator seeded with `seed`.
///
/// The generator is Xoshiro256++, whose output is fixed by its definition, so a seed names the
/// same data in every build and on every machine.
pub fn seeded_uniform(len: usize, seed: u64) -> AlignedBuf {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    AlignedBuf::from_iter(ALIGN, (0..len).map(|_| rng.random_range(-1.0f32..1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_uniform_is_reproducible_aligned_and_in_range() {
        let a = seeded_uniform(1000, 7);
        let b = seeded_uniform(1000, 7);
        assert_eq!(a.as_slice(), b.as_slice());
        assert_ne!(a.as_slice(), seeded_uniform(1000, 8).as_slice());
        assert_eq!(a.as_ptr() as usize % ALIGN, 0);
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
    }

    #[test]
    fn layout_index_matches_hand_computed_offsets() {
        let dims = [2, 3, 4, 5];
        assert_eq!(Layout::Nchw.index(dims, 1, 2, 3, 4), 60 + 40 + 15 + 4);
        assert_eq!(Layout::Nhwc.index(dims, 1, 2, 3, 4), (20 + 15 + 4) * 3 + 2);
    }
}

/// The output pointer the parallel pieces of one call share, each piece writing only elements
/// no other piece writes (a region of a convolution's output, a block of columns): the crate's
/// one raw pointer sent across threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutPtr(pub *mut f32);
// SAFETY: every user writes disjoint elements from tasks that all end before the output's
// `&mut` borrow does (the parallel loop joins inside the call that holds the borrow).
unsafe impl Send for OutPtr {}
// SAFETY: as above: shared only to hand the same base pointer to every task.
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer to element `at`; a method, so that closures capture the whole wrapper and
    /// not its raw-pointer field.
    pub(crate) fn at(self, at: usize) -> *mut f32 {
        self.0.wrapping_add(at)
    }
}
