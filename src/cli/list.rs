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
    println!("{:<15} {:<8} {:<10} {:<7} {:<58} tile", "name", "op", "layouts", "threads", "isa");
    for k in kernels {
        let layouts = k.layouts.iter().map(|l| l.name()).collect::<Vec<_>>().join(",");
        let tile = k.tile.unwrap_or_else(|| "-".to_string());
        println!("{:<15} {:<8} {:<10} {:<7} {:<58} {tile}", k.name, k.op, layouts, k.threads, k.isa);
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

/// The registry as README.md's kernel table: one row per kernel with its description.
pub fn kernel_table_markdown(kernels: &[crate::KernelInfo]) -> String {
    let mut out = String::from("| name | op | what it is |\n| --- | --- | --- |\n");
    for k in kernels {
        out.push_str(&format!("| `{}` | {} | {} |\n", k.name, k.op, k.description));
    }
    out
}
