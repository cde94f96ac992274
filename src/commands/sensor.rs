use crate::cli::SensorArgs;
use crate::error::{Error, Result};

pub fn run(_args: SensorArgs, _quiet: bool) -> Result<()> {
    Err(Error::runtime("`sensor` is not built yet"))
}
