//! `nin-bench`: the command line of the suite.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nin_bench::registry;

/// Benchmarks of Network in Network's kernels: 1×1 convolution and global average pooling.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the registered kernels (name, operation, layouts, ISA, tile).
    ///
    /// Example: `nin-bench list --json`
    List {
        /// Print a JSON array of objects instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::List { json } => {
            let kernels = registry::all_kernel_info();
            if json {
                println!("{}", serde_json::to_string_pretty(&kernels).map_err(|e| e.to_string())?);
            } else {
                println!("{:<13} {:<8} {:<10} {:<7} {:<56} tile", "name", "op", "layouts", "threads", "isa");
                for k in kernels {
                    let layouts = k.layouts.iter().map(|l| l.name()).collect::<Vec<_>>().join(",");
                    let tile = k.tile.unwrap_or_else(|| "-".to_string());
                    println!("{:<13} {:<8} {:<10} {:<7} {:<56} {tile}", k.name, k.op, layouts, k.threads, k.isa);
                }
            }
            Ok(())
        }
    }
}
