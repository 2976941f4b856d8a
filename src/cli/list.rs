//! `nin-bench list`: the registered kernels and the ISA paths of this CPU.

use super::common::{CommandResult, to_json};
use crate::registry::Registry;
use crate::simd::{Isa, SimdPolicy};

pub(super) fn list(registry: &Registry, json: bool, markdown: bool) -> CommandResult {
    let kernels = registry.info();
    if json {
        println!("{}", to_json(&kernels));
        return Ok(());
    }
    if markdown {
        print!("{}", kernel_table_markdown(&kernels));
        return Ok(());
    }
    let isa_width = kernels.iter().map(|k| k.isa.chars().count()).max().unwrap_or(0);
    let roles_of = |k: &crate::KernelInfo| match k.roles.as_slice() {
        [] => "-".to_string(),
        roles => roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(","),
    };
    let roles_width = kernels.iter().map(|k| roles_of(k).len()).max().unwrap_or(0).max("roles".len());
    let row = |cells: [&str; 7]| {
        let [name, op, layouts, threads, roles, isa, tile] = cells;
        println!("{name:<15} {op:<8} {layouts:<10} {threads:<7} {roles:<roles_width$} {isa:<isa_width$} {tile}");
    };
    row(["name", "op", "layouts", "threads", "roles", "isa", "tile"]);
    for k in &kernels {
        let layouts = k.layouts.iter().map(|l| l.name()).collect::<Vec<_>>().join(",");
        let tile = k.tile.clone().unwrap_or_else(|| "-".to_string());
        let (op, threads) = (k.op.to_string(), k.threads.to_string());
        row([k.name, &op, &layouts, &threads, &roles_of(k), &k.isa, &tile]);
    }
    let names = |isas: Vec<Isa>| isas.iter().map(|i| i.name()).collect::<Vec<_>>().join(", ");
    let check_path = match Isa::Emu512.check() {
        Ok(()) => ", and emu512 to check the 16-lane code of avx512, emulated (slow)",
        Err(_) => "",
    };
    println!(
        "\nISA paths on this CPU: {} (select with --isa or {}){check_path}; the kernels run {}",
        names(Isa::available_hardware()),
        crate::simd::ISA_ENV,
        SimdPolicy::from_env().isa_name()
    );
    for isa in Isa::ALL {
        if let Err(why) = isa.check() {
            println!("not here: {} ({why})", isa.name());
        }
    }
    Ok(())
}

/// The registry as README.md's kernel table: one row per kernel with its threads, roles and
/// description.
pub fn kernel_table_markdown(kernels: &[crate::KernelInfo]) -> String {
    let mut out = String::from("| name | op | threads | roles | what it is |\n| --- | --- | --- | --- | --- |\n");
    for k in kernels {
        let roles = k.roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ");
        out.push_str(&format!("| `{}` | {} | {} | {roles} | {} |\n", k.name, k.op, k.threads, k.description));
    }
    out
}
