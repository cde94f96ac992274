use crate::cli::ConfigArgs;
use crate::error::{Error, Result};

pub fn run(_args: ConfigArgs) -> Result<()> {
    Err(Error::runtime("`config` is not built yet"))
}
