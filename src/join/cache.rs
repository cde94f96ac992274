//! Per-host socket inventories with time: which process held which connection when.

use super::conntrack::NatEntry;
use crate::inventory::{Action, InventoryRecord, Transport};
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

/// Sockets from every agent, kept `retention` after they close.
#[derive(Debug)]
pub struct InventoryCache {
    sockets: HashMap<SocketKey, Vec<Holding>>,
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
            nat: HashMap::new(),
            retention,
            newest: Timestamp::ZERO,
            records: 0,
        }
    }

    /// Adds one inventory line (snapshot, opened or closed).
    pub fn ingest(&mut self, rec: Arc<InventoryRecord>) {
        if rec.network.transport != Transport::Tcp || rec.destination.port == 0 {
            return; // listeners and UDP do not carry sessions
        }
        self.records += 1;
        let at = Timestamp::from_nanos(rec.observed_ns);
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
                holdings.push(Holding { record: rec, first_seen: at, last_seen: at, closed_at: None })
            }
        }
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

    /// Drops sockets closed longer than the retention ago.
    pub fn expire(&mut self) {
        let horizon = self.newest - self.retention;
        self.sockets.retain(|_, hs| {
            hs.retain(|h| h.closed_at.unwrap_or(h.last_seen.max(horizon)) >= horizon);
            !hs.is_empty()
        });
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
        self.sockets
            .get(&key)
            .map(|hs| {
                hs.iter()
                    .filter(|h| {
                        h.first_seen <= to && h.closed_at.unwrap_or(Timestamp::from_nanos(i64::MAX)) >= from
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }
}
