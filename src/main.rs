//! Thin entry point: parse the command line, run one command, map its error to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = shellsight::cli::Cli::parse();
    shellsight::commands::init_logging(cli.verbose, cli.quiet, cli.log_format);
    match shellsight::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shellsight: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
