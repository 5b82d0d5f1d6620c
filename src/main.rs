//! The `cartferry` binary: parses the command line and runs the command.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: conversions allocate a few dozen small strings per document on one thread and
/// free them on another; glibc's malloc spent a third of a conversion on that (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cartferry::cli::Cli::parse();
    cartferry::logging::init(cli.log_format);
    cartferry::cli::execute(cli)
}
