//! The joiner: attributes a flagged session to the process behind its socket, using the
//! socket inventories host agents send (live) or recorded (`agent --output`, offline).
//!
//! Agents fill a cache; detections read it. The cache keeps sockets for a while after
//! they close, so a shell that already exited still attributes.

pub mod attribute;
pub mod cache;
pub mod conntrack;

pub use attribute::InventoryAttributor;
pub use cache::InventoryCache;

use crate::error::{Error, Result};
use crate::inventory::{ExecRecord, InventoryRecord};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

/// One line of an agent's stream or `--output` file that is not a socket: a conntrack
/// entry from a node that translates its pods' connections.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NatLine {
    pub observed_ns: i64,
    pub nat: conntrack::NatEntry,
}

/// Loads an inventory recorded by `agent --output` into the cache. Returns the number
/// of lines read; a line that is not an inventory record names the file and line.
pub fn load_inventory(path: &Path, cache: &mut InventoryCache) -> Result<u64> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut n = 0;
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |e: serde_json::Error| {
            Error::input(format!("{}:{}: not an inventory record: {e}", path.display(), i + 1))
        };
        // Keys and string values are told apart by their quotes: inside a JSON string
        // every `"` is escaped, so these cannot match an argv.
        if line.contains("\"action\":\"exec\"") {
            let rec: ExecRecord = serde_json::from_str(&line).map_err(bad)?;
            cache.ingest_exec(Arc::new(rec));
        } else if line.contains("\"nat\":") {
            let nat: NatLine = serde_json::from_str(&line).map_err(bad)?;
            cache.ingest_nat(&nat.nat);
        } else {
            let rec: InventoryRecord = serde_json::from_str(&line).map_err(bad)?;
            cache.ingest(Arc::new(rec));
        }
        n += 1;
    }
    Ok(n)
}
