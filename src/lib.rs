//! # nin-bench
//!
//! Benchmarks of the two kernels Network in Network (Lin, Chen & Yan, ICLR 2014) is built on:
//! the **1×1 convolution** (the "mlpconv" micro-network: for one NCHW image exactly the GEMM
//! `Y[Cout, HW] = W[Cout, Cin] · X[Cin, HW]`) and **global average pooling**, which replaces
//! the fully-connected classifier head.
//!
//! - [`problem`]: problems and their compact strings (`1x192x28x28:32,relu`, `1x1000x6x6`).
//! - [`reference`](mod@reference): the f64 reference and the error bound every kernel is checked with.
//! - [`conv1x1`] and [`gap`]: the kernels, each behind one trait.
//! - [`mlpconv`]: fused kernels for a chain of 1×1 convolutions (NIN's micro-network) and for
//!   the conv + GAP head, beside the unfused chain they are measured against.
//! - [`registry`]: the one list of kernels that tests, benches, CLI and report iterate over.
//!
//! ```
//! use nin_bench::{registry, reference, tensor, Conv1x1Problem};
//!
//! let p: Conv1x1Problem = "1x192x28x28:32,relu".parse()?;
//! let x = tensor::seeded_uniform(p.input_len(), 1);
//! let w = tensor::seeded_uniform(p.weights_len(), 2);
//! let b = tensor::seeded_uniform(p.cout, 3);
//! let expected = reference::conv1x1(&p, &x, &w, Some(&b));
//! for kernel in registry::conv1x1_kernels() {
//!     let prepared = kernel.prepare(&p, &w, Some(&b))?;
//!     let mut y = tensor::zeroed(p.output_len());
//!     kernel.run(&p, &x, &prepared, &mut y)?;
//!     assert!(expected.check(&y).is_ok(), "{} disagrees", kernel.name());
//! }
//! # Ok::<(), nin_bench::NinError>(())
//! ```

pub mod blocking;
pub mod budget;
pub mod cli;
pub mod conv1x1;
pub mod error;
pub mod files;
pub mod format;
pub mod forward;
pub mod gap;
pub mod gate;
pub(crate) mod gemm;
pub mod kernel;
pub mod machine;
pub mod measure;
pub mod mlpconv;
pub mod model;
pub mod npy;
pub mod peers;
pub mod problem;
pub mod qconv;
pub mod qgap;
pub mod quant;
pub mod reference;
pub mod registry;
pub mod report;
mod scratch;
pub mod simd;
pub mod suite;
pub mod tensor;
pub mod timing;
pub(crate) mod ukernel;

pub use conv1x1::{Conv1x1Kernel, PreparedWeights};
pub use error::{NinError, Result};
pub use gap::GapKernel;
pub use kernel::{Kernel, KernelInfo, Op, Threads};
pub use mlpconv::MlpconvKernel;
pub use problem::{Conv1x1Problem, Conv1x1Shape, GapProblem, MlpconvProblem, Problem};
pub use simd::SimdPolicy;
pub use tensor::Layout;
pub use ukernel::gemm::relu;
