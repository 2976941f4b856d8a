//! Per-thread scratch buffers for packing and im2col.
//!
//! Kernels need temporary panels on every call. Allocating them each time would put the
//! allocator (and, for large column buffers, page faults) inside the timed region, which no
//! inference engine does: they keep a workspace. Each thread keeps a few aligned buffers here,
//! one per [`Slot`], grown on demand and reused.

use std::cell::RefCell;

use crate::tensor::{AlignedBuf, zeroed};

/// Which buffer: distinct slots can be held at the same time (e.g. an im2col column buffer
/// while the GEMM packs panels).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    /// Packed tile of the direct kernels, or the GEMM's packed A block.
    PackA = 0,
    /// The GEMM's packed B block.
    PackB = 1,
    /// im2col column buffer.
    Columns = 2,
    /// One of the two activation workspaces of an unfused chain.
    ChainA = 3,
    /// The other one.
    ChainB = 4,
    /// A GEMM's output computed transposed, before it is written back (im2col-gemm).
    Transposed = 5,
    /// The int8 kernels' packed pixels.
    PackBytes = 6,
}

thread_local! {
    static SCRATCH: [RefCell<AlignedBuf>; 7] = [
        RefCell::new(zeroed(0)),
        RefCell::new(zeroed(0)),
        RefCell::new(zeroed(0)),
        RefCell::new(zeroed(0)),
        RefCell::new(zeroed(0)),
        RefCell::new(zeroed(0)),
        RefCell::new(zeroed(0)),
    ];
}

/// Calls `f` with this thread's buffer for `slot`, at least `len` elements long. Its contents
/// are whatever the last user left: callers overwrite what they read.
pub(crate) fn with_scratch<R>(slot: Slot, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|slots| {
        let mut buf = slots[slot as usize].borrow_mut();
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        f(&mut buf[..len])
    })
}

/// [`with_scratch`] for bytes: `f` gets this thread's buffer for `slot` as at least `len`
/// bytes (the f32 buffer viewed as bytes, so it is aligned as the f32 buffers are).
pub(crate) fn with_byte_scratch<R>(slot: Slot, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    with_scratch(slot, len.div_ceil(4), |buf| f(&mut bytemuck::cast_slice_mut(buf)[..len]))
}

/// [`with_byte_scratch`] for a buffer that other threads read while `f` runs (a rayon job
/// started inside `f`): the buffer is taken out of this thread's slot for the call and put
/// back after, so no borrow is held while this thread waits in the pool. A job it picks up
/// meanwhile that needs the same slot finds it empty and grows a buffer of its own.
pub(crate) fn with_taken_byte_scratch<R>(slot: Slot, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    let mut buf = SCRATCH.with(|slots| std::mem::replace(&mut *slots[slot as usize].borrow_mut(), zeroed(0)));
    if buf.len() < len.div_ceil(4) {
        buf.resize(len.div_ceil(4), 0.0);
    }
    let result = f(&mut bytemuck::cast_slice_mut(&mut buf[..])[..len]);
    SCRATCH.with(|slots| {
        let mut kept = slots[slot as usize].borrow_mut();
        // Keep the larger of the two, should a job on this thread have grown one meanwhile.
        if kept.len() < buf.len() {
            *kept = buf;
        }
    });
    result
}
