//! `sensor --local-agent`: the host agent in the sensor's own process (single-host
//! helper mode), feeding the inventory cache directly.

use crate::error::{Error, Result};
use crate::join::InventoryCache;
use std::sync::{Arc, Mutex};

pub struct LocalAgent {}

impl LocalAgent {
    pub fn start(_cache: Arc<Mutex<InventoryCache>>) -> Result<Self> {
        Err(Error::usage("--local-agent is not supported yet"))
    }

    pub fn shutdown(self) {}
}
