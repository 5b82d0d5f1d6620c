//! The `cartferry` binary: parses the command line and runs the command.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: conversions allocate a few dozen small strings per document on one thread and
/// free them on another; glibc's malloc spent a third of a conversion on that (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Reads the crash points a test chose (`FAILPOINTS`), in test builds only.
    #[cfg(feature = "failpoints")]
    let _crash_points = fail::FailScenario::setup();
    let cli = cartferry::cli::Cli::parse();
    cartferry::logging::init(cli.log_format);
    cartferry::cli::execute(cli)
}
