//! Per-host socket inventories with time: which process held which connection when, and
//! which commands ran over it.

use super::conntrack::NatEntry;
use crate::inventory::{Action, ExecRecord, InventoryRecord, Transport};
use crate::sources::model::unspecified_like;
use crate::time::{Span, Timestamp};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// (local ip, local port, remote ip, remote port) of a TCP socket.
pub type SocketKey = (IpAddr, u16, IpAddr, u16);

/// One process's hold on one socket, and when the agent saw it.
#[derive(Debug, Clone)]
pub struct Holding {
    pub record: Arc<InventoryRecord>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub closed_at: Option<Timestamp>,
}

/// At most this many commands are kept per socket; the rest are only counted.
pub const MAX_COMMANDS: usize = 64;

/// The commands run over one socket: the first [`MAX_COMMANDS`] in time order, and how
/// many more there were.
#[derive(Debug, Clone, Default)]
pub struct CommandLog {
    pub first: Vec<Arc<ExecRecord>>,
    pub more: u64,
    last_at: Timestamp,
}

impl CommandLog {
    pub fn total(&self) -> u64 {
        self.first.len() as u64 + self.more
    }

    fn add(&mut self, rec: Arc<ExecRecord>) {
        let at = rec.observed_ns;
        self.last_at = self.last_at.max(Timestamp::from_nanos(at));
        let same = |r: &Arc<ExecRecord>| r.observed_ns == at && r.process.pid == rec.process.pid;
        if self.first.iter().any(same) {
            return; // the same exec again (a file replayed twice, a resent batch)
        }
        if self.first.len() >= MAX_COMMANDS {
            self.more += 1;
            return;
        }
        let at_or_after = self.first.partition_point(|r| r.observed_ns <= at);
        self.first.insert(at_or_after, rec);
    }
}

/// Sockets from every agent, kept `retention` after they close.
#[derive(Debug)]
pub struct InventoryCache {
    sockets: HashMap<SocketKey, Vec<Holding>>,
    /// (host boot id, socket inode) → the commands run over that socket.
    commands: HashMap<(String, u64), CommandLog>,
    /// Wire-side (node) tuple → the socket's own tuple, from conntrack.
    nat: HashMap<SocketKey, SocketKey>,
    retention: Span,
    newest: Timestamp,
    pub records: u64,
}

impl Default for InventoryCache {
    fn default() -> Self {
        Self::new(Span::from_secs(300))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl InventoryCache {
    pub fn new(retention: Span) -> Self {
        InventoryCache {
            sockets: HashMap::new(),
            commands: HashMap::new(),
            nat: HashMap::new(),
            retention,
            newest: Timestamp::ZERO,
            records: 0,
        }
    }

    /// Adds one inventory line (snapshot, opened or closed).
    pub fn ingest(&mut self, rec: Arc<InventoryRecord>) {
        let at = Timestamp::from_nanos(rec.observed_ns);
        self.ingest_seen(rec, at);
    }

    /// Adds one inventory line that an agent restated at `seen` (a host's whole state
    /// from the bus, whose records keep the time they were first observed).
    pub fn ingest_seen(&mut self, rec: Arc<InventoryRecord>, seen: Timestamp) {
        if rec.network.transport != Transport::Tcp || rec.destination.port == 0 {
            return; // listeners and UDP do not carry sessions
        }
        self.records += 1;
        let first = Timestamp::from_nanos(rec.observed_ns);
        let at = seen.max(first);
        self.newest = self.newest.max(at);
        let key =
            (canonical(rec.source.ip), rec.source.port, canonical(rec.destination.ip), rec.destination.port);
        let pid = rec.process.as_ref().map(|p| p.pid);
        let holdings = self.sockets.entry(key).or_default();
        let existing = holdings.iter_mut().find(|h| {
            h.record.socket.inode == rec.socket.inode && h.record.process.as_ref().map(|p| p.pid) == pid
        });
        match (existing, rec.event.action) {
            (Some(h), Action::Closed) => {
                h.last_seen = h.last_seen.max(at);
                h.closed_at = Some(at);
            }
            (Some(h), _) => {
                h.last_seen = h.last_seen.max(at);
                h.closed_at = None;
                h.record = rec;
            }
            (None, Action::Closed) => {
                holdings.push(Holding { record: rec, first_seen: at, last_seen: at, closed_at: Some(at) });
            }
            (None, _) => {
                holdings.push(Holding { record: rec, first_seen: first, last_seen: at, closed_at: None })
            }
        }
    }

    /// Adds one exec whose stdio is wired to sockets: a command run over each of them.
    pub fn ingest_exec(&mut self, rec: Arc<ExecRecord>) {
        let at = Timestamp::from_nanos(rec.observed_ns);
        self.newest = self.newest.max(at);
        for inode in &rec.stdio_sockets {
            self.commands.entry((rec.host.boot_id.clone(), *inode)).or_default().add(rec.clone());
        }
    }

    /// The commands run over the socket `inode` of the host with `boot_id`.
    pub fn commands(&self, boot_id: &str, inode: u64) -> Option<&CommandLog> {
        self.commands.get(&(boot_id.to_string(), inode))
    }

    /// Adds a conntrack entry from an agent behind NAT.
    pub fn ingest_nat(&mut self, e: &NatEntry) {
        if !e.is_translated() {
            return;
        }
        let (wire_ip, wire_port) = e.wire_local();
        let wire = (canonical(wire_ip), wire_port, canonical(e.reply.src), e.reply.sport);
        let own = (canonical(e.original.src), e.original.sport, canonical(e.original.dst), e.original.dport);
        self.nat.insert(wire, own);
    }

    /// A full snapshot of a host ended: its sockets that the snapshot (which began at
    /// `started`) did not restate closed while nobody was watching (the agent was away).
    pub fn end_snapshot(&mut self, boot_id: &str, started: Timestamp) {
        for h in self.sockets.values_mut().flatten() {
            if h.closed_at.is_none() && h.last_seen < started && h.record.host.boot_id == boot_id {
                h.closed_at = Some(h.last_seen);
            }
        }
    }

    /// Drops sockets closed longer than the retention ago, and the commands of sockets
    /// no longer known (unless they are recent: the socket may be reported soon).
    pub fn expire(&mut self) {
        let horizon = self.newest - self.retention;
        self.sockets.retain(|_, hs| {
            hs.retain(|h| h.closed_at.unwrap_or(h.last_seen.max(horizon)) >= horizon);
            !hs.is_empty()
        });
        if self.commands.is_empty() {
            return;
        }
        let known: std::collections::HashSet<(&str, u64)> = self
            .sockets
            .values()
            .flatten()
            .map(|h| (h.record.host.boot_id.as_str(), h.record.socket.inode))
            .collect();
        self.commands
            .retain(|(boot, inode), log| log.last_at >= horizon || known.contains(&(boot.as_str(), *inode)));
    }

    /// Holdings of the socket `local`↔`remote` alive at some point in `[from, to]`, after
    /// undoing NAT when the node translated the connection.
    pub fn lookup(
        &self,
        local: (IpAddr, u16),
        remote: (IpAddr, u16),
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<&Holding> {
        let mut key = (canonical(local.0), local.1, canonical(remote.0), remote.1);
        if !self.sockets.contains_key(&key) {
            if let Some(own) = self.nat.get(&key) {
                key = *own;
            }
        }
        let alive = |h: &&Holding| {
            h.first_seen <= to && h.closed_at.unwrap_or(Timestamp::from_nanos(i64::MAX)) >= from
        };
        if let Some(hs) = self.sockets.get(&key) {
            return hs.iter().filter(alive).collect();
        }
        // A source that saw only the remote end (auditd's connect and accept) keys the
        // socket with an unspecified local end: it matches when it was made within the
        // session's span, so an older connection to the same peer does not.
        let remote_only = (unspecified_like(key.2), 0, key.2, key.3);
        let Some(hs) = self.sockets.get(&remote_only) else { return Vec::new() };
        let mut made: HashMap<u64, Timestamp> = HashMap::new();
        for h in hs {
            let t = made.entry(h.record.socket.inode).or_insert(h.first_seen);
            *t = (*t).min(h.first_seen);
        }
        hs.iter()
            .filter(|h| made.get(&h.record.socket.inode).is_some_and(|t| *t >= from && *t <= to))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }
}
