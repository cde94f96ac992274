use crate::cli::AgentArgs;
use crate::error::{Error, Result};

pub fn run(_args: AgentArgs) -> Result<()> {
    Err(Error::runtime("`agent` is not built yet"))
}
