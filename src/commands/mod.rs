//! One module per command. Each resolves its raw CLI arguments once into a validated
//! configuration, builds the objects it needs and runs them.

mod agent;
mod agent_link;
mod baseline;
mod config;
mod detect_setup;
mod docs;
mod geoip;
mod local_agent;
mod privileges;
mod replay;
mod sensor;

use crate::cli::{Cli, Command, LogFormat};
use crate::error::Result;

pub fn run(cli: Cli) -> Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Replay(args) => replay::run(args, quiet),
        Command::Sensor(args) => sensor::run(args, quiet),
        Command::Agent(args) => agent::run(args, quiet),
        Command::Geoip(args) => geoip::run(args),
        Command::Config(args) => config::run(args),
        Command::Baseline(args) => baseline::run(args, quiet),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { dir } => docs::man(dir.as_deref()),
    }
}

/// Logs go to stderr; stdout is reserved for records.
pub fn init_logging(verbose: u8, quiet: bool, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_env("SHELLSIGHT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only on a terminal: a log file or a journal gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour);
    let _ = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().try_init(),
    };
}
