use crate::cli::ReplayArgs;
use crate::error::{Error, Result};

pub fn run(_args: ReplayArgs, _quiet: bool) -> Result<()> {
    Err(Error::runtime("`replay` is not built yet"))
}
