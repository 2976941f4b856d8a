//! `nin-bench`: the command line of the suite (see `nin_bench::cli`).

fn main() -> std::process::ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`| head`)
    // instead of panicking on the broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    nin_bench::cli::main()
}
