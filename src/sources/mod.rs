//! Process sources beyond the /proc agent: a host's audit log (auditd) or its exported
//! event log (Sysmon). Each source parses its own format and feeds the same
//! [`model::HostModel`], which emits the records the agent emits, so the joiner and every
//! tier rule treat them alike.
//!
//! The one interface: a source turns a file into [`SourceRecord`]s
//! ([`auditd::read_file`], [`sysmon::read_file`]), and [`ingest`] puts them in the cache.

pub mod auditd;
pub mod follow;
pub mod model;
pub mod sysmon;

use crate::error::Result;
use crate::inventory::{ExecRecord, InventoryRecord};
use crate::join::InventoryCache;
use std::path::Path;
use std::sync::Arc;

/// What a source yields: the agent's own two kinds of line.
#[derive(Debug, Clone)]
pub enum SourceRecord {
    /// A process holding a connection.
    Socket(Arc<InventoryRecord>),
    /// An exec whose stdio is a connection: a command run over it.
    Exec(Arc<ExecRecord>),
}

/// Which log format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Auditd,
    /// Sysmon: EVTX, or Winlogbeat / converted JSON.
    Sysmon,
}

/// Reads a whole log into the cache; returns the number of records it made.
pub fn load(kind: SourceKind, path: &Path, cache: &mut InventoryCache) -> Result<u64> {
    let records = match kind {
        SourceKind::Auditd => auditd::read_file(path)?,
        SourceKind::Sysmon => sysmon::read_file(path)?,
    };
    Ok(ingest(records, cache))
}

/// Puts records in the joiner's cache.
pub fn ingest(records: Vec<SourceRecord>, cache: &mut InventoryCache) -> u64 {
    let n = records.len() as u64;
    for r in records {
        match r {
            SourceRecord::Socket(s) => cache.ingest(s),
            SourceRecord::Exec(e) => cache.ingest_exec(e),
        }
    }
    n
}
