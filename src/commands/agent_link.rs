//! The sensor's side of host agents: a local agent in this process (`--local-agent`) or
//! agents streaming over TCP (`--agent-listen`). Both fill the inventory cache the joiner
//! reads.

use super::detect_setup::DetectSetup;
use crate::cli::SensorArgs;
use crate::error::{Error, Result};
use crate::join::InventoryCache;
use crate::transport::server::AgentServer;
use std::sync::{Arc, Mutex};

/// Running agent links; `shutdown` stops them.
pub struct AgentLinks {
    server: Option<AgentServer>,
    local: Option<super::local_agent::LocalAgent>,
}

impl AgentLinks {
    pub fn shutdown(self) {
        if let Some(s) = self.server {
            s.shutdown();
        }
        if let Some(l) = self.local {
            l.shutdown();
        }
    }
}

pub fn start(args: &SensorArgs, setup: &mut DetectSetup) -> Result<Option<AgentLinks>> {
    if !args.local_agent && args.agent_listen.is_none() {
        if args.token_file.is_some() {
            return Err(Error::usage("--token-file goes with --agent-listen"));
        }
        return Ok(None);
    }
    let cache =
        setup.inventory.get_or_insert_with(|| Arc::new(Mutex::new(InventoryCache::default()))).clone();
    let server = match &args.agent_listen {
        Some(addr) => {
            let Some(path) = &args.token_file else {
                return Err(Error::usage("--agent-listen needs --token-file: agents must authenticate"));
            };
            let token = crate::transport::read_token(path)?;
            Some(AgentServer::start(addr, token, cache.clone())?)
        }
        None => None,
    };
    let local = if args.local_agent { Some(super::local_agent::LocalAgent::start(cache)?) } else { None };
    Ok(Some(AgentLinks { server, local }))
}
