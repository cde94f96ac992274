//! The sensor's side of host agents: a local agent in this process (`--local-agent`) or
//! agents streaming over TCP (`--agent-listen`). Both fill the inventory cache the joiner
//! reads.

use super::detect_setup::DetectSetup;
use crate::cli::SensorArgs;
use crate::error::{Error, Result};

/// Running agent links; `shutdown` stops them.
pub struct AgentLinks {}

impl AgentLinks {
    pub fn shutdown(self) {}
}

pub fn start(args: &SensorArgs, _setup: &mut DetectSetup) -> Result<Option<AgentLinks>> {
    if args.local_agent || args.agent_listen.is_some() {
        return Err(Error::usage("--local-agent and --agent-listen are not supported yet"));
    }
    Ok(None)
}
