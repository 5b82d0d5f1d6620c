//! The `cartferry` binary: parses the command line and runs the command.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cartferry::cli::Cli::parse();
    cartferry::logging::init(cli.log_format);
    cartferry::cli::execute(cli)
}
