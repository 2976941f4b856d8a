//! The register tile and the cache blocks the kernels are built around, in one public place so
//! that tests choose their edge shapes from them (below, at and above each block) instead of
//! repeating numbers that would go stale when a block is retuned.

use crate::simd::SimdPolicy;

/// Rows of the register tile: output channels (NCHW) or pixels (NHWC and pixel rows).
pub const MR: usize = crate::ukernel::gemm::MR;

/// Vectors per row of the register tile.
pub const NV: usize = crate::ukernel::gemm::NV;

/// Columns of the register tile under `policy`: `NV` vectors, 16 floats with AVX2, 2 with the
/// scalar fallback.
pub fn nr(policy: SimdPolicy) -> usize {
    NV * policy.f32_lanes()
}

/// The GEMM's K block, also the direct kernels' in pixel rows.
pub const KC: usize = crate::gemm::KC;

/// The GEMM's M block (rows of C).
pub const MC: usize = crate::gemm::MC;

/// The GEMM's N block (columns of C).
pub const NC: usize = crate::gemm::NC;

/// The direct kernels' largest K block in channel rows: Cin is cut into equal blocks of at
/// most this many channels.
pub const DIRECT_KC_MAX: usize = crate::conv1x1::direct::CHANNEL_ROWS_KC_MAX;

/// Output channels of one region of an NCHW direct problem in channel rows, with AVX2's tile.
pub const DIRECT_NCHW_REGION_CHANNELS: usize = crate::conv1x1::direct::NCHW_PANELS_PER_REGION * MR;

/// Fewest output channels (panels of `MR`) for which the direct kernels copy a large map's
/// pixel rows into a panel instead of reading them in place.
pub const DIRECT_PACK_MIN_CHANNELS: usize = crate::conv1x1::direct::PACK_MIN_PANELS * MR;
