//! `nin-bench`: the command line of the suite (see `nin_bench::cli`).

fn main() -> std::process::ExitCode {
    nin_bench::cli::main()
}
