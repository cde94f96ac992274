//! `shellsight completions SHELL` and `shellsight man`: generated from the clap
//! definitions in `cli.rs`, so they never drift from the real options.

use crate::cli::Cli;
use crate::error::{Error, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;
use std::path::Path;

pub fn completions(shell: Shell) -> Result<()> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "shellsight", &mut out);
    write_stdout(&out)
}

/// The main page on stdout, or with `dir` one page per command and subcommand there.
pub fn man(dir: Option<&Path>) -> Result<()> {
    let cmd = Cli::command();
    match dir {
        Some(dir) => clap_mangen::generate_to(cmd, dir)
            .map_err(|e| Error::runtime(format!("{}: writing man pages: {e}", dir.display()))),
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|e| Error::runtime(format!("rendering the man page: {e}")))?;
            write_stdout(&out)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::runtime(format!("writing to stdout: {e}")))
}
