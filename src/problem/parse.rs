//! What parsing and validating every problem shares: format strings, flags, checked lengths,
//! shape files.

use std::fmt;
use std::str::FromStr;

use crate::error::{NinError, Result, shorten};

pub(super) const CONV_FORMAT: &str = "NxCxHxW:K[,sS][,relu][,nobias][,nhwc], e.g. 1x192x28x28:32,relu";
pub(super) const GAP_FORMAT: &str = "NxCxHxW[,nhwc], e.g. 1x1000x6x6";
pub(super) const MLPCONV_FORMAT: &str = "NxCxHxW:K1:K2[:K3...][,gap] or NxCxHxW:K,gap, e.g. 1x192x32x32:160:96";

/// `a · b · ...` with overflow reported as an error, also checking that the byte size of an f32
/// buffer of that length fits in `isize` (the limit Rust places on any allocation).
pub(super) fn checked_len(dims: &[usize], what: &'static str) -> Result<usize> {
    let len = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match len {
        Some(len) if len.checked_mul(4).is_some_and(|b| b <= isize::MAX as usize) => Ok(len),
        _ => Err(NinError::Overflow { what }),
    }
}

/// The first `(what, expected, actual)` length that differs, as an error naming `problem`.
pub(super) fn check_lengths(problem: &dyn fmt::Display, lengths: [(&'static str, usize, usize); 2]) -> Result<()> {
    match lengths.into_iter().find(|(_, expected, actual)| expected != actual) {
        Some((what, expected, actual)) => {
            Err(NinError::BufferLength { what, problem: problem.to_string(), expected, actual })
        }
        None => Ok(()),
    }
}

pub(super) fn check_nonzero(dims: &[(&'static str, usize)]) -> Result<()> {
    match dims.iter().find(|(_, v)| *v == 0) {
        Some((name, _)) => Err(NinError::ZeroDimension { name }),
        None => Ok(()),
    }
}

pub(super) fn parse_error(input: &str, reason: impl Into<String>, expected: &'static str) -> NinError {
    NinError::Parse { input: shorten(input), reason: reason.into(), expected }
}

/// The flags of one problem string seen so far, by the setting each one sets: a second flag
/// for the same setting is an error naming both, so that a string has one meaning (`s2,s3`
/// and `relu,relu` are refused, not resolved by the last one).
pub(super) struct SeenFlags<'a> {
    input: &'a str,
    expected: &'static str,
    seen: Vec<(&'static str, &'a str)>,
}

impl<'a> SeenFlags<'a> {
    pub(super) fn new(input: &'a str, expected: &'static str) -> Self {
        Self { input, expected, seen: Vec::new() }
    }

    /// Records that `flag` sets `setting`; an error if another flag already did.
    pub(super) fn claim(&mut self, setting: &'static str, flag: &'a str) -> Result<()> {
        if let Some((_, first)) = self.seen.iter().find(|(s, _)| *s == setting) {
            let reason = if *first == flag {
                format!("flag '{}' is given twice", shorten(flag))
            } else {
                format!("flags '{}' and '{}' both set the {setting}", shorten(first), shorten(flag))
            };
            return Err(parse_error(self.input, reason, self.expected));
        }
        self.seen.push((setting, flag));
        Ok(())
    }
}

/// Parses `NxCxHxW` into four dimensions.
pub(super) fn parse_dims(input: &str, dims: &str, expected: &'static str) -> Result<[usize; 4]> {
    let parts: Vec<&str> = dims.split('x').collect();
    if parts.len() != 4 {
        return Err(parse_error(
            input,
            format!("'{}' has {} dimensions, not 4 (N, C, H, W)", shorten(dims), parts.len()),
            expected,
        ));
    }
    let mut out = [0usize; 4];
    for (slot, (part, name)) in out.iter_mut().zip(parts.iter().zip(["N", "C", "H", "W"])) {
        *slot = part.trim().parse().map_err(|_| {
            parse_error(input, format!("{name} = '{}' is not a non-negative integer", shorten(part)), expected)
        })?;
    }
    Ok(out)
}

/// The problem strings of a shape file with their 1-based line numbers: one problem per line,
/// `#` starts a comment, blank lines are ignored.
pub fn shape_file_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or_default().trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

/// Parses every problem of a shape file; an error names the line.
pub fn parse_shape_file<P: FromStr<Err = NinError>>(text: &str) -> Result<Vec<P>> {
    shape_file_lines(text)
        .map(|(line_no, line)| {
            line.parse().map_err(|e| match e {
                NinError::Parse { input, reason, expected } => {
                    NinError::Parse { input, reason: format!("line {line_no}: {reason}"), expected }
                }
                other => other,
            })
        })
        .collect()
}
