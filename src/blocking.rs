//! The register tile and the cache blocks the kernels are built around, in one public place so
//! that tests choose their edge shapes from them (below, at and above each block) instead of
//! repeating numbers that would go stale when a block is retuned.

use crate::simd::SimdPolicy;

pub use crate::ukernel::gemm::{AVX2_TILE, AVX512_TILE, TileShape};

/// The register tile the kernels run under `policy`: [`AVX512_TILE`] with 16 lanes (AVX-512,
/// emu512), [`AVX2_TILE`] otherwise.
pub fn tile(policy: SimdPolicy) -> TileShape {
    crate::ukernel::gemm::kernel_tile(policy.f32_lanes())
}

/// Rows of the register tile under `policy` (MR): output channels (NCHW) or pixels (NHWC and
/// pixel rows).
pub fn mr(policy: SimdPolicy) -> usize {
    tile(policy).rows
}

/// Columns of the register tile under `policy` (NR): 16 floats with AVX2, 2 with the scalar
/// fallback, the AVX-512 tile's vectors × 16 with AVX-512.
pub fn nr(policy: SimdPolicy) -> usize {
    tile(policy).columns(policy.f32_lanes())
}

/// Vector registers of the ISA `policy` runs (32 with AVX-512 and emu512, 16 with AVX2, 0 for
/// the scalar path): the register file a candidate tile must fit.
pub fn vector_registers(policy: SimdPolicy) -> usize {
    crate::ukernel::l1_tile::vector_registers(policy.f32_lanes())
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

/// Output channels of one region of an NCHW direct problem in channel rows under `policy`.
pub fn direct_nchw_region_channels(policy: SimdPolicy) -> usize {
    crate::conv1x1::direct::NCHW_PANELS_PER_REGION * mr(policy)
}

/// Fewest output channels (panels of MR) for which the direct kernels copy a large map's pixel
/// rows into a panel instead of reading them in place, under `policy`.
pub fn direct_pack_min_channels(policy: SimdPolicy) -> usize {
    crate::conv1x1::direct::PACK_MIN_PANELS * mr(policy)
}
