//! The sensor's side of host agents: a local agent in this process (`--local-agent`),
//! agents streaming over TCP (`--agent-listen`), or the fleet bus (`--bus`). All fill the
//! inventory cache the joiner reads.

use super::detect_setup::DetectSetup;
use crate::cli::SensorArgs;
use crate::error::{Error, Result};
use crate::join::InventoryCache;
use crate::transport::server::{AgentServer, ServerAuth};
use crate::transport::tls::ServerTls;
use std::sync::{Arc, Mutex};

/// Running agent links; `shutdown` stops them.
pub struct AgentLinks {
    server: Option<AgentServer>,
    local: Option<super::local_agent::LocalAgent>,
    pub bus: Option<crate::bus::sensor::SensorBus>,
}

impl AgentLinks {
    /// The agent listener's counters, for the sensor's stats record.
    pub fn channel_stats(&self) -> Option<serde_json::Value> {
        self.server.as_ref().map(|s| s.counters.json())
    }

    /// Call after the pipeline has finished: the bus publishes its last alerts then.
    pub fn shutdown(self) {
        if let Some(b) = self.bus {
            b.shutdown();
        }
        if let Some(s) = self.server {
            s.shutdown();
        }
        if let Some(l) = self.local {
            l.shutdown();
        }
    }
}

pub fn start(args: &SensorArgs, setup: &mut DetectSetup) -> Result<Option<AgentLinks>> {
    if !args.local_agent && args.agent_listen.is_none() && args.bus.bus.is_none() {
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
            let tls = match (&args.agent_tls_cert, &args.agent_tls_key) {
                (Some(cert), Some(key)) => {
                    Some(ServerTls::load(cert, key, args.agent_tls_client_ca.as_deref())?)
                }
                _ => None,
            };
            let auth = ServerAuth { token, tls, any_host: args.agent_tls_any_host };
            Some(AgentServer::start(addr, auth, cache.clone())?)
        }
        None => None,
    };
    let bus = match &args.bus.bus {
        Some(url) => {
            let cfg = crate::bus::BusConfig::from_args(url, &args.bus)?;
            let name = args.bus_name.clone().unwrap_or_else(host_name);
            Some(crate::bus::sensor::SensorBus::start(cfg, &name, cache.clone())?)
        }
        None => None,
    };
    let local = if args.local_agent { Some(super::local_agent::LocalAgent::start(cache)?) } else { None };
    Ok(Some(AgentLinks { server, local, bus }))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "sensor".to_string())
}
