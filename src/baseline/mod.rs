//! Host history ("has this host ever done this before"), persisted in an embedded redb
//! file. The pipeline holds one `Baseline`:
//! - detectors score each session against a read-only snapshot (`Arc<History>`), the
//!   state before the session; no lock and no lookup in the store per packet;
//! - finished sessions are recorded in memory, and written in one transaction per commit
//!   (every `commit_every` of packet time, and at the end), after which the detectors get
//!   the new snapshot at the same place in the packet stream whatever the thread count.
//!
//! A session that reached medium or above is counted but never learned as normal, so
//! replaying an attack again scores it the same way. `verdict::weigh_history` turns the
//! facts into reasons; nothing here decides a tier.

pub mod classes;
pub mod model;
pub mod store;

use crate::context::asn::is_global;
use crate::context::resolve::{Context, Placement};
use crate::error::Result;
use crate::flow::key::Endpoint;
use crate::flow::record::FlowRecord;
use crate::time::{Span, Timestamp};
use crate::verdict::{HistoryFacts, Tier};
use classes::{Direction, RemoteNet};
use model::{History, Limits, Observation, Pruned, Query};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use store::Store;

/// How often a live sensor or a replay writes what it learned, in packet time.
pub const COMMIT_EVERY: Span = Span::from_secs(300);

/// Counts for the closing summary.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct BaselineStats {
    /// Host-sessions learned (a session between two internal hosts counts for both).
    pub learned: u64,
    /// Host-sessions that reached medium or above: counted, not learned.
    pub flagged: u64,
    pub commits: u64,
    pub pruned: Pruned,
    pub hosts: u64,
    pub peers: u64,
}

/// The history a pipeline scores against and learns into.
pub struct Baseline {
    store: Store,
    /// The state as learned so far. Shared with the detectors as their snapshot; the
    /// first write after a commit copies it (`Arc::make_mut`), later ones do not.
    history: Arc<History>,
    dirty: BTreeSet<IpAddr>,
    commit_every: Span,
    next_commit: Option<Timestamp>,
    pub stats: BaselineStats,
}

impl Baseline {
    pub fn open(path: &Path, commit_every: Span) -> Result<Self> {
        let store = Store::open_or_create(path)?;
        let history = store.load(Limits::default())?;
        tracing::info!("{}: baseline of {} hosts", path.display(), history.len());
        let stats = BaselineStats {
            hosts: history.len() as u64,
            peers: history.peer_count() as u64,
            ..BaselineStats::default()
        };
        Ok(Baseline {
            store,
            history: Arc::new(history),
            dirty: BTreeSet::new(),
            commit_every,
            next_commit: None,
            stats,
        })
    }

    /// What detectors score against now.
    pub fn snapshot(&self) -> Arc<History> {
        self.history.clone()
    }

    /// Records a finished session. `tier` is the highest tier it was reported at. Only
    /// conversations count: a session without payload both ways (a scan, a flood, a
    /// refused connection) says nothing about what the host talks to.
    pub fn observe(&mut self, ctx: &Context, f: &FlowRecord, tier: Option<Tier>) {
        if f.summary.orig.bytes == 0 || f.summary.resp.bytes == 0 {
            return;
        }
        let normal = tier.is_none_or(|t| t < Tier::Medium);
        for o in observations(ctx, f, normal) {
            if normal {
                self.stats.learned += 1;
            } else {
                self.stats.flagged += 1;
            }
            self.dirty.insert(o.host);
            Arc::make_mut(&mut self.history).record(&o);
        }
    }

    /// Records the process (name and parent) behind a host's socket, from an attributed
    /// alert below medium.
    pub fn observe_process(&mut self, host: IpAddr, name: &str, parent: &str, at: Timestamp) {
        self.dirty.insert(host);
        Arc::make_mut(&mut self.history).record_process(host, name, parent, at.unix_secs());
    }

    /// Whether a commit is due at packet time `now` (the first call starts the clock).
    pub fn commit_due(&mut self, now: Timestamp) -> bool {
        match self.next_commit {
            None => {
                self.next_commit = Some(now + self.commit_every);
                false
            }
            Some(t) => now >= t,
        }
    }

    /// Prunes to the size bounds and writes every changed host in one transaction;
    /// returns the snapshot detectors should use from now on.
    pub fn commit(&mut self, now: Timestamp) -> Result<Arc<History>> {
        self.next_commit = Some(now + self.commit_every);
        let mut touched: Vec<IpAddr> = Vec::new();
        let history = Arc::make_mut(&mut self.history);
        let pruned = history.prune(&mut touched);
        if pruned != Pruned::default() {
            tracing::info!(
                "baseline pruned {} hosts, {} peers, {} processes (oldest and rarest first)",
                pruned.hosts,
                pruned.peers,
                pruned.processes
            );
        }
        self.stats.pruned.hosts += pruned.hosts;
        self.stats.pruned.peers += pruned.peers;
        self.stats.pruned.processes += pruned.processes;
        self.dirty.extend(touched);
        let hosts: Vec<IpAddr> = std::mem::take(&mut self.dirty).into_iter().collect();
        history.tidy(&hosts);
        self.store.write(&self.history, &hosts)?;
        self.stats.commits += 1;
        self.stats.hosts = self.history.len() as u64;
        self.stats.peers = self.history.peer_count() as u64;
        tracing::info!(
            "baseline committed: {} host-sessions learned, {} flagged, {} hosts changed, {} hosts in the store",
            self.stats.learned,
            self.stats.flagged,
            hosts.len(),
            self.stats.hosts
        );
        Ok(self.snapshot())
    }
}

/// An address the history keeps a record for: in the home networks, or not globally
/// routable (lab and link-local addresses are somebody's internal hosts too).
pub fn is_internal(ctx: &Context, ip: IpAddr) -> bool {
    ctx.policy.is_home(ip) || !is_global(ip)
}

/// The remote network of `remote` as the history keys it.
fn remote_net(
    ctx: &Context,
    host: Endpoint,
    remote: Endpoint,
    orig: Endpoint,
    resp: Endpoint,
    at: Timestamp,
) -> RemoteNet {
    if is_internal(ctx, remote.ip) {
        return RemoteNet::Internal;
    }
    let placement = ctx.place(orig, resp, host, remote, false, at);
    net_of(&placement)
}

fn net_of(p: &Placement) -> RemoteNet {
    match &p.remote_network {
        Some(n) if n.asn != 0 => RemoteNet::Asn(n.asn),
        _ => RemoteNet::Unknown,
    }
}

/// What a finished session teaches about each of its internal ends.
fn observations(ctx: &Context, f: &FlowRecord, normal: bool) -> Vec<Observation> {
    let (orig, resp) = (f.source, f.destination);
    let mut out = Vec::with_capacity(2);
    for (host, remote, direction) in [(orig, resp, Direction::Out), (resp, orig, Direction::In)] {
        if !is_internal(ctx, host.ip) {
            continue;
        }
        let net = remote_net(ctx, host, remote, orig, resp, f.start);
        out.push(Observation {
            host: host.ip,
            remote: net,
            port_class: classes::port_class(resp.port),
            direction,
            service: net == RemoteNet::Internal || classes::is_service(net, resp.port),
            interactive: f.interactive,
            start: f.start.unix_secs(),
            end: f.end.unix_secs(),
            normal,
        });
    }
    out
}

/// The peers of a session (or series) being judged, as the history needs them.
#[derive(Debug, Clone, Copy)]
pub struct Peering {
    pub orig: Endpoint,
    pub resp: Endpoint,
    /// The end that hosts the shell.
    pub shell: Endpoint,
    pub interactive: bool,
    pub start: Timestamp,
}

/// The facts for a session being judged: its shell side's history if that end is
/// internal, else the other end's; none when neither end is internal.
pub fn facts_for(
    history: &History,
    ctx: &Context,
    peering: Peering,
    placement: &Placement,
    now: Timestamp,
) -> Option<HistoryFacts> {
    if history.is_empty() {
        return None;
    }
    let Peering { orig, resp, shell, interactive, start } = peering;
    let other = if shell == orig { resp } else { orig };
    let (host, remote) = if is_internal(ctx, shell.ip) {
        (shell, other)
    } else if is_internal(ctx, other.ip) {
        (other, shell)
    } else {
        return None;
    };
    let net = if is_internal(ctx, remote.ip) {
        RemoteNet::Internal
    } else if host == shell {
        net_of(placement)
    } else {
        remote_net(ctx, host, remote, orig, resp, now)
    };
    let q = Query {
        host: host.ip,
        remote: net,
        port_class: classes::port_class(resp.port),
        direction: if host == orig { Direction::Out } else { Direction::In },
        service: net == RemoteNet::Internal || classes::is_service(net, resp.port),
        interactive,
        now: now.unix_secs(),
        age: (now - start).as_secs_f64() as i64,
    };
    Some(history.facts(&q))
}
