//! The host history in memory: per internal host, when it was first and last seen, how
//! many sessions (and interactive ones) it had, with whom, and what share of them went to
//! internal peers or known services. Times are packet times, in whole seconds.
//!
//! One `HostRecord` is one row of the store and one line of `baseline export`, in the
//! same JSON shape.

use super::classes::{Direction, RemoteNet};
use crate::verdict::HistoryFacts;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;

/// A host's history counts for first-seen raises once it has this many sessions …
pub const MIN_HOST_SESSIONS: u64 = 20;
/// … spread over at least this much packet time.
pub const MIN_HOST_SPAN_SECS: i64 = 86_400;
/// At least this share (percent) of internal or known-service sessions makes a host's
/// history "internal-only".
pub const INTERNAL_ONLY_PERCENT: u64 = 95;
/// An interactive session to the outside this long is "long".
pub const LONG_INTERACTIVE_SECS: i64 = 120;

/// When and how often something was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    #[serde(with = "rfc3339_secs")]
    pub first_seen: i64,
    #[serde(with = "rfc3339_secs")]
    pub last_seen: i64,
    pub sessions: u64,
    /// Distinct days (UTC) it was seen on, counted as sessions arrive.
    pub days: u32,
}

impl Seen {
    fn new(start: i64, end: i64) -> Self {
        Seen { first_seen: start, last_seen: end.max(start), sessions: 1, days: 1 }
    }

    fn add(&mut self, start: i64, end: i64) {
        if start.div_euclid(86_400) > self.last_seen.div_euclid(86_400) {
            self.days += 1;
        }
        self.first_seen = self.first_seen.min(start);
        self.last_seen = self.last_seen.max(end);
        self.sessions += 1;
    }

    fn merge(&mut self, o: &Seen) {
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.sessions += o.sessions;
        self.days = self.days.max(o.days);
    }
}

/// One peer of a host at the finest grain: remote network, port class, direction.
/// Coarser grains (all peers in one ASN, all `db` sessions, all inbound) are sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    #[serde(with = "remote_text")]
    pub remote: RemoteNet,
    pub port_class: String,
    pub direction: Direction,
    #[serde(flatten)]
    pub seen: Seen,
}

/// A process identity seen behind the host's sockets (from the agent): name + parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub name: String,
    pub parent: String,
    #[serde(flatten)]
    pub seen: Seen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub host: IpAddr,
    #[serde(flatten)]
    pub seen: Seen,
    pub interactive_sessions: u64,
    /// Sessions to internal peers or to known service classes.
    pub service_sessions: u64,
    /// Sessions that reached medium or above: counted here, never learned as normal.
    pub flagged_sessions: u64,
    pub peers: Vec<Peer>,
    #[serde(default)]
    pub processes: Vec<Process>,
}

impl HostRecord {
    fn new(host: IpAddr, start: i64, end: i64) -> Self {
        HostRecord {
            host,
            seen: Seen { sessions: 0, ..Seen::new(start, end) },
            interactive_sessions: 0,
            service_sessions: 0,
            flagged_sessions: 0,
            peers: Vec::new(),
            processes: Vec::new(),
        }
    }

    /// Internal or known-service share, in percent.
    pub fn service_percent(&self) -> u64 {
        self.service_sessions * 100 / self.seen.sessions.max(1)
    }

    fn established(&self) -> bool {
        self.seen.sessions >= MIN_HOST_SESSIONS
            && self.seen.last_seen - self.seen.first_seen >= MIN_HOST_SPAN_SECS
    }

    /// Adds another record of the same host (import).
    pub fn merge(&mut self, o: &HostRecord) {
        if self.seen.sessions == 0 {
            self.seen = o.seen;
        } else if o.seen.sessions > 0 {
            self.seen.merge(&o.seen);
        }
        self.interactive_sessions += o.interactive_sessions;
        self.service_sessions += o.service_sessions;
        self.flagged_sessions += o.flagged_sessions;
        for p in &o.peers {
            match self.peers.iter_mut().find(|q| same_peer(q, p.remote, &p.port_class, p.direction)) {
                Some(q) => q.seen.merge(&p.seen),
                None => self.peers.push(p.clone()),
            }
        }
        for p in &o.processes {
            match self.processes.iter_mut().find(|q| q.name == p.name && q.parent == p.parent) {
                Some(q) => q.seen.merge(&p.seen),
                None => self.processes.push(p.clone()),
            }
        }
        self.sort();
    }

    fn sort(&mut self) {
        self.peers.sort_by(|a, b| {
            (a.remote, &a.port_class, a.direction).cmp(&(b.remote, &b.port_class, b.direction))
        });
        self.processes.sort_by(|a, b| (&a.name, &a.parent).cmp(&(&b.name, &b.parent)));
    }
}

fn same_peer(p: &Peer, remote: RemoteNet, port_class: &str, direction: Direction) -> bool {
    p.remote == remote && p.port_class == port_class && p.direction == direction
}

/// What one finished session tells about one of its internal ends.
#[derive(Debug, Clone)]
pub struct Observation {
    pub host: IpAddr,
    pub remote: RemoteNet,
    pub port_class: &'static str,
    pub direction: Direction,
    /// To an internal peer or a known service class.
    pub service: bool,
    pub interactive: bool,
    pub start: i64,
    pub end: i64,
    /// False for a session that reached medium or above: it is counted, not learned.
    pub normal: bool,
}

/// The session being judged, as the history is asked about it.
#[derive(Debug, Clone)]
pub struct Query {
    pub host: IpAddr,
    pub remote: RemoteNet,
    pub port_class: &'static str,
    pub direction: Direction,
    pub service: bool,
    pub interactive: bool,
    /// Packet time now and the session's age, in seconds.
    pub now: i64,
    pub age: i64,
}

/// What pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub hosts: u64,
    pub peers: u64,
    pub processes: u64,
}

/// Bounds on the history's size.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_hosts: usize,
    pub max_peers_per_host: usize,
    pub max_processes_per_host: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_hosts: 100_000, max_peers_per_host: 256, max_processes_per_host: 32 }
    }
}

/// Every host's record.
#[derive(Debug, Clone, Default)]
pub struct History {
    hosts: HashMap<IpAddr, HostRecord>,
    limits: Limits,
    /// Pruned since the last `prune` call, while recording.
    pending: Pruned,
}

/// Keeps the `keep` most frequent (then most recent) entries; returns how many went.
fn drop_rarest<T>(v: &mut Vec<T>, keep: usize, seen: impl Fn(&T) -> &Seen) -> u64 {
    if v.len() <= keep {
        return 0;
    }
    let extra = v.len() - keep;
    v.sort_by_key(|x| (seen(x).sessions, seen(x).last_seen));
    v.drain(..extra);
    extra as u64
}

impl History {
    pub fn with_limits(limits: Limits) -> Self {
        History { limits, ..History::default() }
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn host(&self, ip: IpAddr) -> Option<&HostRecord> {
        self.hosts.get(&ip)
    }

    /// All records, ordered by host address (stable output for show and export).
    pub fn records(&self) -> Vec<&HostRecord> {
        let mut v: Vec<_> = self.hosts.values().collect();
        v.sort_by_key(|r| r.host);
        v
    }

    pub fn peer_count(&self) -> usize {
        self.hosts.values().map(|h| h.peers.len()).sum()
    }

    /// Puts each of these hosts' peers and processes in key order (before writing them).
    pub fn tidy(&mut self, hosts: &[IpAddr]) {
        for ip in hosts {
            if let Some(h) = self.hosts.get_mut(ip) {
                h.sort();
            }
        }
    }

    /// Puts a record in as it is (loading the store).
    pub fn insert(&mut self, r: HostRecord) {
        self.hosts.insert(r.host, r);
    }

    /// Adds a record to what is there (import).
    pub fn merge(&mut self, r: HostRecord) {
        match self.hosts.get_mut(&r.host) {
            Some(h) => h.merge(&r),
            None => self.insert(r),
        }
    }

    pub fn remove(&mut self, ip: IpAddr) -> bool {
        self.hosts.remove(&ip).is_some()
    }

    /// Records one session for one host.
    pub fn record(&mut self, o: &Observation) {
        let h = self.hosts.entry(o.host).or_insert_with(|| HostRecord::new(o.host, o.start, o.end));
        if !o.normal {
            h.flagged_sessions += 1;
            return;
        }
        if h.seen.sessions == 0 {
            h.seen = Seen::new(o.start, o.end);
        } else {
            h.seen.add(o.start, o.end);
        }
        h.interactive_sessions += u64::from(o.interactive);
        h.service_sessions += u64::from(o.service);
        match h.peers.iter_mut().find(|p| same_peer(p, o.remote, o.port_class, o.direction)) {
            Some(p) => p.seen.add(o.start, o.end),
            None => {
                // Bounded between commits too: many new peers must not grow one host
                // without end. The newcomer itself is kept.
                let max = self.limits.max_peers_per_host;
                if h.peers.len() + 1 >= 2 * max {
                    self.pending.peers += drop_rarest(&mut h.peers, max.saturating_sub(1), |p| &p.seen);
                }
                h.peers.push(Peer {
                    remote: o.remote,
                    port_class: o.port_class.to_string(),
                    direction: o.direction,
                    seen: Seen::new(o.start, o.end),
                });
            }
        }
    }

    /// Records the process behind a host's socket (an attributed session below medium).
    pub fn record_process(&mut self, host: IpAddr, name: &str, parent: &str, at: i64) {
        let h = self.hosts.entry(host).or_insert_with(|| HostRecord::new(host, at, at));
        match h.processes.iter_mut().find(|p| p.name == name && p.parent == parent) {
            Some(p) => p.seen.add(at, at),
            None => {
                let max = self.limits.max_processes_per_host;
                if h.processes.len() + 1 >= 2 * max {
                    self.pending.processes +=
                        drop_rarest(&mut h.processes, max.saturating_sub(1), |p| &p.seen);
                }
                h.processes.push(Process {
                    name: name.to_string(),
                    parent: parent.to_string(),
                    seen: Seen::new(at, at),
                });
            }
        }
    }

    /// What the history says about a session, before the session itself is recorded.
    pub fn facts(&self, q: &Query) -> HistoryFacts {
        let Some(h) = self.hosts.get(&q.host) else { return HistoryFacts::default() };
        let established = h.established();
        let peer = h.peers.iter().find(|p| same_peer(p, q.remote, q.port_class, q.direction));
        let new_grain = match peer {
            Some(_) => None,
            None if !h.peers.iter().any(|p| p.remote == q.remote) => Some(q.remote.to_string()),
            None if !h.peers.iter().any(|p| p.port_class == q.port_class) => {
                Some(format!("port:{}", q.port_class))
            }
            None if !h.peers.iter().any(|p| p.direction == q.direction) => {
                Some(format!("direction:{}", q.direction.as_str()))
            }
            None => Some(format!("{}/{}/{}", q.remote, q.port_class, q.direction.as_str())),
        };
        HistoryFacts {
            established,
            peer_sessions: peer.map_or(0, |p| p.seen.sessions),
            peer_days: peer.map_or(0, |p| p.seen.days),
            peer_idle_days: peer.map(|p| ((q.now - p.seen.last_seen).max(0) / 86_400) as u32),
            new_grain,
            internal_only_host: established && h.service_percent() >= INTERNAL_ONLY_PERCENT,
            long_interactive_outside: q.interactive
                && q.remote != RemoteNet::Internal
                && !q.service
                && q.age >= LONG_INTERACTIVE_SECS,
        }
    }

    /// Keeps the history within `limits`: drops the rarest, then oldest, peers and
    /// processes of a host, and the longest-unseen hosts. Returns what went and the
    /// hosts removed outright; `touched` gets every host changed.
    pub fn prune(&mut self, touched: &mut Vec<IpAddr>) -> Pruned {
        let limits = self.limits;
        let mut pruned = std::mem::take(&mut self.pending);
        for h in self.hosts.values_mut() {
            let peers = drop_rarest(&mut h.peers, limits.max_peers_per_host, |p| &p.seen);
            let processes = drop_rarest(&mut h.processes, limits.max_processes_per_host, |p| &p.seen);
            if peers + processes > 0 {
                pruned.peers += peers;
                pruned.processes += processes;
                touched.push(h.host);
            }
        }
        if self.hosts.len() > limits.max_hosts {
            let mut order: Vec<_> =
                self.hosts.values().map(|h| (h.seen.last_seen, h.seen.sessions, h.host)).collect();
            order.sort();
            for (_, _, ip) in order.into_iter().take(self.hosts.len() - limits.max_hosts) {
                self.hosts.remove(&ip);
                pruned.hosts += 1;
                touched.push(ip);
            }
        }
        pruned
    }

    /// Drops peers, processes and hosts last seen before `cutoff` (seconds); `touched`
    /// gets every host changed or removed.
    pub fn forget_before(&mut self, cutoff: i64, touched: &mut Vec<IpAddr>) -> Pruned {
        let mut gone = Pruned::default();
        self.hosts.retain(|ip, h| {
            let (peers, procs) = (h.peers.len(), h.processes.len());
            h.peers.retain(|p| p.seen.last_seen >= cutoff);
            h.processes.retain(|p| p.seen.last_seen >= cutoff);
            gone.peers += (peers - h.peers.len()) as u64;
            gone.processes += (procs - h.processes.len()) as u64;
            let keep = h.seen.last_seen >= cutoff;
            if !keep {
                gone.hosts += 1;
            }
            if !keep || peers != h.peers.len() || procs != h.processes.len() {
                touched.push(*ip);
            }
            keep
        });
        gone
    }

    /// The newest packet time in the history (seconds), if any.
    pub fn newest(&self) -> Option<i64> {
        self.hosts.values().map(|h| h.seen.last_seen).max()
    }
}

/// Times as RFC 3339 text (whole seconds) in the store and the export.
mod rfc3339_secs {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secs: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::time::Timestamp::from_nanos(secs.saturating_mul(1_000_000_000)).to_rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time: {e}")))
    }
}

/// A remote network as `internal`, `unknown-net` or `asn:N`.
mod remote_text {
    use super::RemoteNet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &RemoteNet, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&r.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RemoteNet, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(remote: RemoteNet, start: i64, normal: bool) -> Observation {
        Observation {
            host: "10.0.0.5".parse().unwrap(),
            remote,
            port_class: "web",
            direction: Direction::Out,
            service: remote == RemoteNet::Internal,
            interactive: false,
            start,
            end: start + 10,
            normal,
        }
    }

    fn query(remote: RemoteNet, now: i64) -> Query {
        Query {
            host: "10.0.0.5".parse().unwrap(),
            remote,
            port_class: "web",
            direction: Direction::Out,
            service: false,
            interactive: true,
            now,
            age: 600,
        }
    }

    #[test]
    fn a_host_learns_peers_and_flagged_sessions_teach_nothing() {
        let mut h = History::default();
        for day in 0..3 {
            for i in 0..10 {
                h.record(&obs(RemoteNet::Internal, day * 86_400 + i * 60, true));
            }
        }
        h.record(&obs(RemoteNet::Asn(7922), 3 * 86_400, false));
        let r = h.host("10.0.0.5".parse().unwrap()).unwrap();
        assert_eq!((r.seen.sessions, r.flagged_sessions, r.peers.len()), (30, 1, 1));
        assert_eq!(r.peers[0].seen.days, 3);
        let f = h.facts(&query(RemoteNet::Asn(7922), 4 * 86_400));
        assert!(f.established && f.internal_only_host && f.long_interactive_outside);
        assert_eq!((f.peer_sessions, f.new_grain.as_deref()), (0, Some("asn:7922")));
        let f = h.facts(&query(RemoteNet::Internal, 40 * 86_400));
        assert_eq!((f.peer_sessions, f.peer_idle_days), (30, Some(37)));
    }

    #[test]
    fn pruning_drops_the_rarest_and_oldest() {
        let mut h = History::with_limits(Limits { max_peers_per_host: 4, ..Limits::default() });
        for asn in 1..=10 {
            for _ in 0..asn {
                h.record(&obs(RemoteNet::Asn(asn), i64::from(asn) * 100, true));
            }
        }
        let mut touched = Vec::new();
        let p = h.prune(&mut touched);
        assert_eq!(p.peers, 6);
        h.tidy(&touched);
        let r = h.host("10.0.0.5".parse().unwrap()).unwrap();
        let kept: Vec<_> = r.peers.iter().map(|p| p.remote).collect();
        assert_eq!(kept, (7..=10).map(RemoteNet::Asn).collect::<Vec<_>>());
    }

    #[test]
    fn records_round_trip_through_json() {
        let mut h = History::default();
        h.record(&obs(RemoteNet::Asn(16509), 1_700_000_000, true));
        h.record_process("10.0.0.5".parse().unwrap(), "bash", "sshd", 1_700_000_100);
        let r = h.host("10.0.0.5".parse().unwrap()).unwrap();
        let text = serde_json::to_string(r).unwrap();
        assert!(text.contains("\"first_seen\":\"2023-11-14T22:13:20.000Z\""), "{text}");
        let back: HostRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, r);
    }
}
