//! Names for remote ends. A client that connects to a name first asks DNS for it, and a
//! TLS client usually says the name again in its SNI; a callback to an address that no
//! answer and no SNI named is a direct-IP callback. Names that belong to dynamic-DNS and
//! tunnelling services (`services`) are where throwaway callbacks live.
//!
//! The cache is fed the DNS answers seen on the wire (`dns`) in stream order and is asked
//! about a session's remote end when the session is judged, as of the session's start;
//! every detector shard keeps its own copy, fed the same answers at the same stream
//! positions, so lookups give the same result whatever the thread count.

pub mod dns;
pub mod services;

use crate::time::{Span, Timestamp};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

/// A DNS response: the client that asked, the name it asked for, and the addresses (with
/// their TTLs) the answer gave for it, CNAME chains followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    pub client: IpAddr,
    pub at: Timestamp,
    pub name: Arc<str>,
    pub addresses: Vec<(IpAddr, u32)>,
}

/// Clients keep using an address a little past its TTL (connection reuse, stub caches).
pub const TTL_SLACK: Span = Span::from_secs(300);
/// Answers kept at most, across all clients; the oldest go first.
pub const DEFAULT_CAPACITY: usize = 200_000;

#[derive(Debug, Clone)]
struct Entry {
    name: Arc<str>,
    answered: Timestamp,
    expires: Timestamp,
}

/// A bounded map from (client, answered address) to the name the client asked for.
#[derive(Debug)]
pub struct NameCache {
    entries: HashMap<(IpAddr, IpAddr), Entry>,
    /// Insertion order, for eviction: (key, answered) so a refreshed entry is not evicted
    /// by its stale place in the queue.
    order: VecDeque<((IpAddr, IpAddr), Timestamp)>,
    /// Clients whose DNS this sensor sees: only for them is "no answer" a fact.
    clients: HashMap<IpAddr, u32>,
    capacity: usize,
    pub evicted: u64,
}

impl Default for NameCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl NameCache {
    pub fn new(capacity: usize) -> Self {
        NameCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            clients: HashMap::new(),
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    pub fn learn(&mut self, a: &DnsAnswer) {
        *self.clients.entry(a.client).or_default() += 1;
        for &(addr, ttl) in &a.addresses {
            let key = (a.client, addr);
            let expires = a.at + Span::from_secs(ttl as i64) + TTL_SLACK;
            self.entries.insert(key, Entry { name: a.name.clone(), answered: a.at, expires });
            self.order.push_back((key, a.at));
        }
        while self.order.len() > self.capacity {
            let Some((key, answered)) = self.order.pop_front() else { break };
            if self.entries.get(&key).is_some_and(|e| e.answered == answered) {
                self.entries.remove(&key);
                self.evicted += 1;
                if let Some(n) = self.clients.get_mut(&key.0) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    }

    /// The name `client` resolved to `server` before `at`, if that answer still held then.
    pub fn lookup(&self, client: IpAddr, server: IpAddr, at: Timestamp) -> Option<Arc<str>> {
        let e = self.entries.get(&(client, server))?;
        (e.answered <= at && at <= e.expires).then(|| e.name.clone())
    }

    /// Whether DNS answers for `client` have been seen at all.
    pub fn sees_client(&self, client: IpAddr) -> bool {
        self.clients.get(&client).is_some_and(|n| *n > 0)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn t(s: i64) -> Timestamp {
        Timestamp::from_nanos(s * 1_000_000_000)
    }
    fn answer(client: &str, name: &str, addr: &str, at: i64, ttl: u32) -> DnsAnswer {
        DnsAnswer { client: ip(client), at: t(at), name: name.into(), addresses: vec![(ip(addr), ttl)] }
    }

    #[test]
    fn a_name_holds_for_its_ttl_plus_slack_and_only_for_the_client_that_asked() {
        let mut c = NameCache::default();
        c.learn(&answer("10.0.0.5", "c2.duckdns.org", "159.89.210.33", 100, 60));
        let (me, srv) = (ip("10.0.0.5"), ip("159.89.210.33"));
        assert_eq!(c.lookup(me, srv, t(101)).as_deref(), Some("c2.duckdns.org"));
        assert_eq!(c.lookup(me, srv, t(99)), None, "not before it was answered");
        assert!(c.lookup(me, srv, t(100 + 60 + 300)).is_some());
        assert_eq!(c.lookup(me, srv, t(100 + 60 + 301)), None, "expired");
        assert_eq!(c.lookup(ip("10.0.0.6"), srv, t(101)), None, "another client");
        assert!(c.sees_client(me) && !c.sees_client(ip("10.0.0.6")));
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_oldest() {
        let mut c = NameCache::new(2);
        c.learn(&answer("10.0.0.5", "a.example", "192.0.2.1", 1, 600));
        c.learn(&answer("10.0.0.5", "b.example", "192.0.2.2", 2, 600));
        c.learn(&answer("10.0.0.5", "c.example", "192.0.2.3", 3, 600));
        assert_eq!(c.len(), 2);
        assert_eq!(c.evicted, 1);
        assert_eq!(c.lookup(ip("10.0.0.5"), ip("192.0.2.1"), t(4)), None);
        assert!(c.lookup(ip("10.0.0.5"), ip("192.0.2.3"), t(4)).is_some());
    }
}
