//! `sensor --local-agent`: the host agent in the sensor's own process (single-host
//! helper mode), feeding the joiner's inventory cache directly.

use crate::agent::inventory::ScanConfig;
use crate::agent::{run_with, AgentConfig, CacheSink};
use crate::error::{Error, Result};
use crate::join::InventoryCache;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the local agent refreshes (the proc connector adds refreshes right after an
/// exec of a process wired to a socket).
const INTERVAL: Duration = Duration::from_secs(1);

pub struct LocalAgent {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LocalAgent {
    pub fn start(cache: Arc<Mutex<InventoryCache>>) -> Result<Self> {
        let cfg = AgentConfig {
            scan: ScanConfig { proc_root: PathBuf::from("/proc"), host_root: PathBuf::from("/") },
            once: false,
            interval: INTERVAL,
            output: None,
            duration: None,
            quiet: true,
            use_cn_proc: std::env::var_os("SHELLSIGHT_NO_CN_PROC").is_none(),
            connect: None,
            bus: None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("local-agent".into())
            .spawn(move || {
                let mut sink = CacheSink(cache);
                if let Err(e) = run_with(&cfg, &mut sink, Some(&flag)) {
                    tracing::error!("local agent stopped: {e}");
                }
            })
            .map_err(|e| Error::runtime(format!("cannot start the local agent: {e}")))?;
        Ok(LocalAgent { stop, thread: Some(thread) })
    }

    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
