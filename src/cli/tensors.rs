//! `conv1x1` and `gap` on the user's own tensors, read from and written to `.npy` files.

use std::path::{Path, PathBuf};

use clap::Args;

use super::common::CommandResult;
use crate::budget::MemoryBudget;
use crate::error::{NinError, Result};
use crate::format::{dims, format_bytes};
use crate::kernel::Op;
use crate::npy::{self, open_f32, write_f32};
use crate::problem::{Conv1x1Problem, Conv1x1Shape, GapProblem, Problem, QConv1x1Problem, QGapProblem};
use crate::quant::QLayer;
use crate::registry::{AnyKernel, Registry};
use crate::tensor::{AlignedBuf, Layout, try_zeroed};

/// Arguments of `nin-bench conv1x1`.
#[derive(Debug, Args)]
pub(crate) struct ConvArgs {
    /// Kernel (default: the one `nin-bench list` marks `default` for the input's dtype).
    #[arg(long, value_name = "K")]
    kernel: Option<String>,
    /// Input, N×Cin×H×W: float32, or uint8 for the int8 convolution.
    #[arg(long, value_name = "X.npy")]
    input: PathBuf,
    /// Weights, Cout×Cin or Cout×Cin×1×1: float32, or int8 with a uint8 input.
    #[arg(long, value_name = "W.npy")]
    weights: PathBuf,
    /// Bias, Cout: float32, or int32 (in the accumulators' scale) with a uint8 input.
    #[arg(long, value_name = "B.npy")]
    bias: Option<PathBuf>,
    /// With a uint8 input: the requantization multipliers, Cout float32 values (input scale ·
    /// weight scale / output scale); the output is uint8, ReLU included.
    #[arg(long, value_name = "M.npy")]
    multipliers: Option<PathBuf>,
    /// Spatial stride.
    #[arg(long, default_value_t = 1, value_name = "S")]
    stride: usize,
    /// Apply ReLU after the bias.
    #[arg(long)]
    relu: bool,
    /// Where to write the output, N×Cout×Hout×Wout.
    #[arg(long, value_name = "Y.npy")]
    output: PathBuf,
}

/// Arguments of `nin-bench gap`.
#[derive(Debug, Args)]
pub(crate) struct GapArgs {
    /// Kernel (default: the one `nin-bench list` marks `default`).
    #[arg(long, value_name = "K")]
    kernel: Option<String>,
    /// Input, N×C×H×W: float32, or uint8 for the int8 GAP (its output uint8 means, rounded).
    #[arg(long, value_name = "X.npy")]
    input: PathBuf,
    /// Where to write the output, N×C.
    #[arg(long, value_name = "Y.npy")]
    output: PathBuf,
}

fn shape_error(what: &str, reason: String) -> NinError {
    NinError::Shape { what: what.to_string(), reason }
}

fn nchw(what: &str, shape: &[usize]) -> Result<[usize; 4]> {
    <[usize; 4]>::try_from(shape)
        .map_err(|_| shape_error(what, format!("shape {} has rank {}, expected 4 (N×C×H×W)", echo(shape), shape.len())))
}

/// A shape from a file as it may be echoed in an error: cut to a readable length.
fn echo(shape: &[usize]) -> String {
    crate::error::shorten(&format!("{shape:?}"))
}

/// A zeroed output buffer, allocated with `try_reserve`: a typed error instead of an abort.
fn output_buffer(len: usize) -> Result<AlignedBuf> {
    try_zeroed(len).ok_or_else(|| NinError::Shape {
        what: "output".into(),
        reason: format!("cannot allocate {}", format_bytes(4 * len as u64)),
    })
}

/// Whether `input` holds uint8 values (the int8 path) rather than float32, from its header;
/// any other dtype is an error naming both.
fn is_u8(input: &Path) -> Result<bool> {
    match npy::dtype(input)?.as_str() {
        "|u1" => Ok(true),
        "<f4" | ">f4" => Ok(false),
        other => Err(NinError::file(
            input,
            format!("dtype is {other}: the input is float32 (<f4), or uint8 (|u1) for the int8 kernels"),
        )),
    }
}

/// The kernel of `op` called `name` (or `op`'s default); a kernel of the other precision's
/// operation is refused with what the input would have to be.
fn kernel_for<'r>(registry: &'r Registry, op: Op, name: Option<&str>, dtype: &str) -> Result<AnyKernel<'r>> {
    registry.named_or_default(op, name).map_err(|e| match name.map(|n| registry.kernel(n)) {
        Some(Ok(other)) => NinError::Shape {
            what: "input".into(),
            reason: format!("is {dtype}, and `{}` is a {} kernel", other.name(), other.info().op.name()),
        },
        _ => e,
    })
}

/// The layer the shapes of the input, weights and bias describe, checked against each other.
fn conv_shape(args: &ConvArgs, x: &[usize], w: &[usize], bias: Option<&[usize]>) -> Result<Conv1x1Shape> {
    let [n, cin, h, wd] = nchw("input", x)?;
    let cout = weights_cout(w, cin)?;
    if let Some(b) = bias {
        per_channel("bias", b, cout)?;
    }
    let (stride, relu, layout) = (args.stride, args.relu, Layout::Nchw);
    Ok(Conv1x1Shape { n, cin, h, w: wd, cout, stride, bias: bias.is_some(), relu, layout })
}

/// Cout from the weights' shape, checked against the input's Cin.
fn weights_cout(shape: &[usize], cin: usize) -> Result<usize> {
    match *shape {
        [cout, c] | [cout, c, 1, 1] if c == cin => Ok(cout),
        [_, c] | [_, c, 1, 1] => {
            Err(shape_error("weights", format!("shape {} has Cin = {c}, the input has {cin} channels", echo(shape))))
        }
        _ => Err(shape_error("weights", format!("shape {} is not Cout×Cin or Cout×Cin×1×1", echo(shape)))),
    }
}

/// Checks that a per-output-channel vector (`what`) holds Cout values.
fn per_channel(what: &str, shape: &[usize], cout: usize) -> Result<()> {
    if shape != [cout] {
        return Err(shape_error(what, format!("shape {}, expected [{cout}] (one per output channel)", echo(shape))));
    }
    Ok(())
}

/// A zeroed byte output, allocated with `try_reserve`: a typed error instead of an abort.
fn byte_buffer(len: usize) -> Result<Vec<u8>> {
    let mut y = Vec::new();
    y.try_reserve_exact(len)
        .map_err(|_| shape_error("output", format!("cannot allocate {}", format_bytes(len as u64))))?;
    y.resize(len, 0);
    Ok(y)
}

pub(crate) fn conv1x1(args: ConvArgs, budget: &MemoryBudget) -> CommandResult {
    if is_u8(&args.input)? {
        return qconv1x1(args, budget);
    }
    if args.multipliers.is_some() {
        return Err(shape_error("multipliers", "are for a uint8 input; the input is float32".into()).into());
    }
    let registry = Registry::from_env();
    let kernel = kernel_for(&registry, Op::Conv1x1, args.kernel.as_deref(), "float32")?;
    let kernel = kernel.as_conv1x1().expect("a conv kernel");
    // Headers first: the shapes say what the command will allocate before any data is read.
    let x = open_f32(&args.input)?;
    let w = open_f32(&args.weights)?;
    let b = args.bias.as_deref().map(open_f32).transpose()?;
    let shape = conv_shape(&args, x.shape(), w.shape(), b.as_ref().map(|b| b.shape()))?;
    let p = Conv1x1Problem::new(shape)?;
    budget.check(
        format!("conv1x1 {p} (input, weights, packed weights, output)"),
        crate::budget::timing_bytes(&Problem::Conv1x1(p), 1),
    )?;
    let (x, w, b) = (x.read()?, w.read()?, b.map(|b| b.read()).transpose()?);
    let prepared = kernel.prepare(&p, &w.data, b.as_ref().map(|b| &b.data[..]))?;
    let mut y = output_buffer(p.output_len())?;
    kernel.run(&p, &x.data, &prepared, &mut y)?;
    write_f32(&args.output, &p.output_dims(), &y)?;
    eprintln!("{}: {p} -> {} ({})", kernel.name(), args.output.display(), dims(&p.output_dims()));
    Ok(())
}

/// `conv1x1` on a uint8 input: int8 weights, int32 bias, float32 multipliers, uint8 output.
fn qconv1x1(args: ConvArgs, budget: &MemoryBudget) -> CommandResult {
    let registry = Registry::from_env();
    let kernel = kernel_for(&registry, Op::QConv1x1, args.kernel.as_deref(), "uint8")?;
    let kernel = kernel.as_qconv1x1().expect("an int8 conv kernel");
    let Some(multipliers) = &args.multipliers else {
        return Err(shape_error(
            "multipliers",
            "are needed with a uint8 input (--multipliers M.npy: Cout float32 values)".into(),
        )
        .into());
    };
    let x = npy::open::<u8>(&args.input)?;
    let w = npy::open::<i8>(&args.weights)?;
    let b = args.bias.as_deref().map(npy::open::<i32>).transpose()?;
    let m = open_f32(multipliers)?;
    let shape = conv_shape(&args, x.shape(), w.shape(), b.as_ref().map(|b| b.shape()))?;
    per_channel("multipliers", m.shape(), shape.cout)?;
    let p = QConv1x1Problem::new(shape)?;
    budget.check(format!("conv1x1 {p} (input, weights, packed weights, output)"), p.bytes() + w.bytes())?;
    let layer = QLayer {
        weights: w.read()?.data,
        bias: b.map(|b| b.read()).transpose()?.map_or_else(|| vec![0; shape.cout], |b| b.data),
        multipliers: m.read()?.data,
    };
    let x = x.read()?;
    let prepared = kernel.prepare(&p, &layer)?;
    let mut y = byte_buffer(p.conv().output_len())?;
    kernel.run(&p, &x.data, &prepared, None, &mut y)?;
    npy::write(&args.output, &p.conv().output_dims(), &y)?;
    eprintln!("{}: {p} -> {} ({})", kernel.name(), args.output.display(), dims(&p.conv().output_dims()));
    Ok(())
}

pub(crate) fn gap(args: GapArgs, budget: &MemoryBudget) -> CommandResult {
    if is_u8(&args.input)? {
        return qgap(args, budget);
    }
    let registry = Registry::from_env();
    let kernel = kernel_for(&registry, Op::Gap, args.kernel.as_deref(), "float32")?;
    let kernel = kernel.as_gap().expect("a GAP kernel");
    let x = open_f32(&args.input)?;
    let [n, c, h, w] = nchw("input", x.shape())?;
    let p = GapProblem::new(n, c, h, w, Layout::Nchw)?;
    budget.check(format!("gap {p} (input, output)"), crate::budget::timing_bytes(&Problem::Gap(p), 1))?;
    let x = x.read()?;
    let mut y = output_buffer(p.output_len())?;
    kernel.run(&p, &x.data, &mut y)?;
    write_f32(&args.output, &[n, c], &y)?;
    eprintln!("{}: {p} -> {} ({})", kernel.name(), args.output.display(), dims(&[n, c]));
    Ok(())
}

/// `gap` on a uint8 input: each channel's mean, requantized in the input's scale, as uint8.
fn qgap(args: GapArgs, budget: &MemoryBudget) -> CommandResult {
    let registry = Registry::from_env();
    let kernel = kernel_for(&registry, Op::QGap, args.kernel.as_deref(), "uint8")?;
    let kernel = kernel.as_qgap().expect("an int8 GAP kernel");
    let x = npy::open::<u8>(&args.input)?;
    let [n, c, h, w] = nchw("input", x.shape())?;
    let p = QGapProblem::new(GapProblem::new(n, c, h, w, Layout::Nchw)?)?;
    budget.check(format!("gap {p} (input, output)"), p.bytes())?;
    let x = x.read()?;
    let mut y = byte_buffer(p.gap().output_len())?;
    kernel.run(&p, &x.data, None, &mut y)?;
    npy::write(&args.output, &[n, c], &y)?;
    eprintln!("{}: {p} -> {} ({})", kernel.name(), args.output.display(), dims(&[n, c]));
    Ok(())
}
