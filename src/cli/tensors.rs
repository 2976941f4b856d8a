//! `conv1x1` and `gap` on the user's own tensors, read from and written to `.npy` files.

use std::path::PathBuf;

use clap::Args;

use super::common::CommandResult;
use crate::budget::MemoryBudget;
use crate::error::{NinError, Result};
use crate::format::{dims, format_bytes};
use crate::kernel::Op;
use crate::npy::{open_f32, write_f32};
use crate::problem::{Conv1x1Problem, Conv1x1Shape, GapProblem, Problem};
use crate::registry::Registry;
use crate::tensor::{AlignedBuf, Layout, try_zeroed};

/// Arguments of `nin-bench conv1x1`.
#[derive(Debug, Args)]
pub(crate) struct ConvArgs {
    /// Kernel (default: the one `nin-bench list` marks `default`, the fastest on all cores).
    #[arg(long, value_name = "K")]
    kernel: Option<String>,
    /// Input, N×Cin×H×W.
    #[arg(long, value_name = "X.npy")]
    input: PathBuf,
    /// Weights, Cout×Cin or Cout×Cin×1×1.
    #[arg(long, value_name = "W.npy")]
    weights: PathBuf,
    /// Bias, Cout.
    #[arg(long, value_name = "B.npy")]
    bias: Option<PathBuf>,
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
    /// Input, N×C×H×W.
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

pub(crate) fn conv1x1(args: ConvArgs, budget: &MemoryBudget) -> CommandResult {
    let registry = Registry::from_env();
    let kernel = registry.named_or_default(Op::Conv1x1, args.kernel.as_deref())?.as_conv1x1().expect("a conv kernel");
    // Headers first: the shapes say what the command will allocate before any data is read.
    let x = open_f32(&args.input)?;
    let w = open_f32(&args.weights)?;
    let b = args.bias.as_deref().map(open_f32).transpose()?;
    let [n, cin, h, wd] = nchw("input", x.shape())?;
    let cout = match *w.shape() {
        [cout, c] | [cout, c, 1, 1] if c == cin => cout,
        [_, c] | [_, c, 1, 1] => {
            return Err(shape_error(
                "weights",
                format!("shape {} has Cin = {c}, the input has {cin} channels", echo(w.shape())),
            )
            .into());
        }
        _ => {
            return Err(
                shape_error("weights", format!("shape {} is not Cout×Cin or Cout×Cin×1×1", echo(w.shape()))).into()
            );
        }
    };
    if let Some(b) = &b
        && b.shape() != [cout]
    {
        return Err(shape_error(
            "bias",
            format!("shape {}, expected [{cout}] (one per output channel)", echo(b.shape())),
        )
        .into());
    }
    let shape = Conv1x1Shape {
        n,
        cin,
        h,
        w: wd,
        cout,
        stride: args.stride,
        bias: b.is_some(),
        relu: args.relu,
        layout: Layout::Nchw,
    };
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

pub(crate) fn gap(args: GapArgs, budget: &MemoryBudget) -> CommandResult {
    let registry = Registry::from_env();
    let kernel = registry.named_or_default(Op::Gap, args.kernel.as_deref())?.as_gap().expect("a GAP kernel");
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
