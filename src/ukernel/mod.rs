//! The microkernels: the only ISA-specific code of the crate's kernels.
//!
//! - [`gemm`]: the MR×NR register tile every GEMM and direct conv kernel is built on, on pulp
//!   (AVX2+FMA, or the scalar fallback, chosen at run time), with its tile constants and the
//!   vector loads and stores they share.
//! - [`wide`]: the same tile on `wide::f32x8`, whose instructions the build chooses.
//! - [`gap`]: the inner loops of global average pooling and their horizontal sums.
//! - [`int8`]: the int8 paths (AVX2's `vpmaddubsw` triple, AVX-VNNI and AVX-512 VNNI's
//!   `vpdpbusd`, and VNNI's arithmetic emulated in portable code); [`int8_tile`]: their
//!   register tiles, with vectors of pixels or of output channels; [`interleave`]: NCHW's
//!   packing for them.
//! - [`requantize`]: int8 sums to u8 outputs, over stored rows or in a tile's registers.
//! - [`edges`]: f32 activations to u8 and back, at the edges of a network's int8 runs.
//! - [`l1_tile`]: the register tile driven on data that stays in L1, the ceiling the report
//!   measures a layer's share of the peak against.
//!
//! The kernels outside hold loops over blocks and regions, generic over the microkernel. Their
//! `pulp::WithSimd` structs are generic over any `Simd` and hold no intrinsics: they only enter
//! pulp's dispatch, so that the microkernel inlines compiled for the ISA chosen. A new ISA is a
//! new microkernel here (and its path in [`crate::simd`]).

pub(crate) mod edges;
pub(crate) mod gap;
pub(crate) mod gemm;
pub(crate) mod int8;
pub(crate) mod int8_peak;
pub(crate) mod int8_tile;
pub(crate) mod interleave;
pub(crate) mod l1_tile;
pub(crate) mod qgap;
pub(crate) mod requantize;
pub(crate) mod wide;
