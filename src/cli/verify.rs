//! `nin-bench verify`: every kernel (or those named) against the f64 reference.

use super::common::{CommandResult, Failure};
use crate::budget::MemoryBudget;
use crate::error::NinError;
use crate::measure::check_all;
use crate::problem::Problem;
use crate::registry::Registry;

pub(super) fn verify(
    registry: &Registry,
    problems: Vec<Problem>,
    only: &[String],
    budget: &MemoryBudget,
) -> CommandResult {
    // A kernel named but given no problem of its operation would make a run that checks
    // nothing and passes.
    for name in only {
        let op = registry.kernel(name)?.info().op;
        if !problems.iter().any(|p| p.op() == op) {
            let given: Vec<&str> =
                problems.iter().map(|p| p.op().name()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            return Err(NinError::Empty {
                what: format!("--kernel {name}"),
                reason: format!("it is a {op} kernel, and no {op} problem was given (only {})", given.join(", ")),
            }
            .into());
        }
    }
    for p in &problems {
        budget.check(p, crate::budget::verify_bytes(p))?;
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|k| k == name);
    let (mut checks, mut failures) = (0, 0);
    println!("{:<6} {:<15} {:<26} worst |error| / bound", "status", "kernel", "problem");
    for (i, problem) in problems.iter().enumerate() {
        for (name, outcome) in check_all(registry, problem, 1000 + i as u64, wanted) {
            checks += 1;
            match outcome {
                Ok(ratio) => println!("{:<6} {:<15} {:<26} {ratio:.3}", "ok", name, problem.to_string()),
                Err(why) => {
                    failures += 1;
                    println!("{:<6} {:<15} {:<26} {why}", "FAIL", name, problem.to_string());
                }
            }
        }
    }
    println!("{checks} checks, {failures} failed");
    if failures > 0 { Err(Failure::Mismatch) } else { Ok(()) }
}
