//! The bounded session table. Sessions leave it when they close, when they sit idle past
//! their timeout, or when the table is full (idle and half-open sessions first). Every
//! departure is counted and handed back to the caller, never dropped silently.

use super::key::{FlowKey, FxBuildHasher, Side};
use crate::time::{Span, Timestamp};
use std::collections::HashMap;

/// How long a session may sit idle, by state.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Handshake never completed, no payload.
    pub half_open: Span,
    /// After FIN from both sides or RST.
    pub closed: Span,
    /// An established session. Shells sit silent for a long time, so this is long; Linux
    /// sends its first keepalive after two hours.
    pub established: Span,
    /// A UDP flow in which both sides have spoken repeatedly (no close to wait for).
    pub datagram: Span,
    /// How often to look for expired sessions (capture time).
    pub sweep_every: Span,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            half_open: Span::from_secs(30),
            closed: Span::from_secs(5),
            established: Span::from_secs(2 * 3600 + 300),
            datagram: Span::from_secs(30 * 60),
            sweep_every: Span::from_secs(5),
        }
    }
}

/// What the table needs to know about a session to manage its life.
pub trait Lifecycle {
    fn last_seen(&self) -> Timestamp;
    fn state(&self) -> SessionState;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    HalfOpen,
    Established,
    Closed,
    /// UDP: both sides have spoken more than once.
    Datagram,
}

/// Why a session left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Closed,
    IdleTimeout,
    Evicted,
    EndOfCapture,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Closed => "closed",
            EndReason::IdleTimeout => "idle-timeout",
            EndReason::Evicted => "evicted",
            EndReason::EndOfCapture => "end-of-capture",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct TableStats {
    pub created: u64,
    pub closed: u64,
    pub timed_out: u64,
    pub evicted: u64,
    pub peak: usize,
}

impl TableStats {
    /// Adds another shard's counts (peaks add up: the shards' tables coexist).
    pub fn merge(&mut self, o: &TableStats) {
        self.created += o.created;
        self.closed += o.closed;
        self.timed_out += o.timed_out;
        self.evicted += o.evicted;
        self.peak += o.peak;
    }
}

/// Sessions keyed by their canonical key. The sessions live densely in one vector and the
/// hash map holds only key → slot: a hash table sized for a million flows then costs
/// ~48 bytes a bucket instead of a whole session a bucket, and sweeps walk dense memory.
pub struct FlowTable<F> {
    index: HashMap<FlowKey, u32, FxBuildHasher>,
    slots: Vec<(FlowKey, F)>,
    max: usize,
    timeouts: Timeouts,
    next_sweep: Option<Timestamp>,
    pub stats: TableStats,
}

impl<F: Lifecycle> FlowTable<F> {
    pub fn new(max: usize, timeouts: Timeouts) -> Self {
        FlowTable {
            index: HashMap::with_capacity_and_hasher(max.min(1 << 10), FxBuildHasher::default()),
            slots: Vec::with_capacity(max.min(1 << 10)),
            max: max.max(1),
            timeouts,
            next_sweep: None,
            stats: TableStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut F> {
        let i = *self.index.get(key)? as usize;
        Some(&mut self.slots[i].1)
    }

    /// Inserts a new session, first making room if the table is full. Sessions pushed
    /// out to make room go to `ended`.
    pub fn insert(
        &mut self,
        key: FlowKey,
        flow: F,
        now: Timestamp,
        ended: &mut Vec<(F, EndReason)>,
    ) -> &mut F {
        if self.slots.len() >= self.max {
            self.sweep(now, ended);
            if self.slots.len() >= self.max {
                self.evict_batch(ended);
            }
        }
        self.stats.created += 1;
        let len = self.slots.len() + 1;
        self.stats.peak = self.stats.peak.max(len);
        let i = match self.index.get(&key) {
            Some(&i) => i as usize,
            None => {
                self.index.insert(key, self.slots.len() as u32);
                self.slots.push((key, flow));
                self.slots.len() - 1
            }
        };
        &mut self.slots[i].1
    }

    /// Removes a session (it closed and its linger time passed, say).
    pub fn remove(&mut self, key: &FlowKey) -> Option<F> {
        let i = self.index.remove(key)? as usize;
        let (_, flow) = self.slots.swap_remove(i);
        if let Some((moved, _)) = self.slots.get(i) {
            self.index.insert(*moved, i as u32);
        }
        Some(flow)
    }

    /// Expires idle sessions when a sweep is due at capture time `now`.
    pub fn maybe_sweep(&mut self, now: Timestamp, ended: &mut Vec<(F, EndReason)>) {
        match self.next_sweep {
            Some(t) if now < t => {}
            _ => {
                self.sweep(now, ended);
                self.next_sweep = Some(now + self.timeouts.sweep_every);
            }
        }
    }

    /// Expires idle sessions at `now`, due or not, and restarts the sweep schedule.
    pub fn sweep_now(&mut self, now: Timestamp, ended: &mut Vec<(F, EndReason)>) {
        self.sweep(now, ended);
        self.next_sweep = Some(now + self.timeouts.sweep_every);
    }

    fn sweep(&mut self, now: Timestamp, ended: &mut Vec<(F, EndReason)>) {
        let t = self.timeouts;
        let expired: Vec<FlowKey> = self
            .slots
            .iter()
            .filter(|(_, f)| {
                let limit = match f.state() {
                    SessionState::HalfOpen => t.half_open,
                    SessionState::Established => t.established,
                    SessionState::Closed => t.closed,
                    SessionState::Datagram => t.datagram,
                };
                now - f.last_seen() >= limit
            })
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(f) = self.remove(&k) {
                let reason = if f.state() == SessionState::Closed {
                    self.stats.closed += 1;
                    EndReason::Closed
                } else {
                    self.stats.timed_out += 1;
                    EndReason::IdleTimeout
                };
                ended.push((f, reason));
            }
        }
    }

    /// Makes room by evicting about 1 % of the table: half-open and closed sessions
    /// first, then the longest idle. Linear in the table size, once per batch.
    fn evict_batch(&mut self, ended: &mut Vec<(F, EndReason)>) {
        let batch = (self.max / 100).clamp(1, 65_536);
        let mut order: Vec<(u8, Timestamp, FlowKey)> = self
            .slots
            .iter()
            .map(|(k, f)| {
                let rank = match f.state() {
                    SessionState::HalfOpen | SessionState::Closed => 0,
                    SessionState::Established | SessionState::Datagram => 1,
                };
                (rank, f.last_seen(), *k)
            })
            .collect();
        let n = batch.min(order.len());
        if n < order.len() {
            order.select_nth_unstable_by(n, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        }
        for (_, _, k) in order.into_iter().take(n) {
            if let Some(f) = self.remove(&k) {
                self.stats.evicted += 1;
                ended.push((f, EndReason::Evicted));
            }
        }
    }

    /// Ends up to `n` sessions at the end of a capture; false once the table is empty.
    /// Draining in parts keeps a million ended sessions from being held at once.
    pub fn drain_some(&mut self, n: usize, ended: &mut Vec<(F, EndReason)>) -> bool {
        for _ in 0..n {
            let Some((key, flow)) = self.slots.pop() else { return false };
            self.index.remove(&key);
            ended.push((flow, EndReason::EndOfCapture));
        }
        !self.slots.is_empty()
    }

    /// Empties the table at the end of a capture.
    pub fn drain(&mut self, ended: &mut Vec<(F, EndReason)>) {
        self.index.clear();
        ended.extend(self.slots.drain(..).map(|(_, f)| (f, EndReason::EndOfCapture)));
    }
}

/// Which side opened the session, from the handshake or, mid-stream, from the ports.
pub fn infer_initiator(sender: Side, syn: bool, ack: bool, src_port: u16, dst_port: u16) -> (Side, bool) {
    if syn && !ack {
        return (sender, false);
    }
    if syn && ack {
        return (sender.other(), false);
    }
    // Mid-stream: the side on a well-known or lower, non-ephemeral port is the server.
    let sender_is_server = match (is_ephemeral(src_port), is_ephemeral(dst_port)) {
        (true, false) => false,
        (false, true) => true,
        _ => src_port < dst_port,
    };
    (if sender_is_server { sender.other() } else { sender }, true)
}

/// Client ports as operating systems hand them out (Linux 32768–60999, Windows 49152+).
fn is_ephemeral(port: u16) -> bool {
    port >= 32_768
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::Endpoint;

    struct F(Timestamp, SessionState);
    impl Lifecycle for F {
        fn last_seen(&self) -> Timestamp {
            self.0
        }
        fn state(&self) -> SessionState {
            self.1
        }
    }

    fn key(port: u16) -> FlowKey {
        let a = Endpoint { ip: "198.18.0.10".parse().unwrap(), port };
        let b = Endpoint { ip: "198.19.0.66".parse().unwrap(), port: 4444 };
        FlowKey::new(crate::decode::Transport::Tcp, a, b).0
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_nanos(s * 1_000_000_000)
    }

    #[test]
    fn a_full_table_evicts_half_open_sessions_before_established_ones() {
        let mut table = FlowTable::new(100, Timeouts::default());
        let mut ended = Vec::new();
        table.insert(key(1), F(t(0), SessionState::Established), t(0), &mut ended);
        for p in 2..=100 {
            table.insert(key(p), F(t(1), SessionState::HalfOpen), t(1), &mut ended);
        }
        table.insert(key(1000), F(t(2), SessionState::HalfOpen), t(2), &mut ended);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, EndReason::Evicted);
        assert_eq!(ended[0].0 .1, SessionState::HalfOpen);
        assert!(table.get_mut(&key(1)).is_some(), "the established session survives");
        assert_eq!(table.stats.evicted, 1);
    }

    #[test]
    fn idle_sessions_time_out_by_state() {
        let mut table = FlowTable::new(100, Timeouts::default());
        let mut ended = Vec::new();
        table.insert(key(1), F(t(0), SessionState::HalfOpen), t(0), &mut ended);
        table.insert(key(2), F(t(0), SessionState::Established), t(0), &mut ended);
        table.maybe_sweep(t(3600), &mut ended);
        assert_eq!(ended.len(), 1, "an hour of silence does not end an established session");
        assert_eq!(ended[0].1, EndReason::IdleTimeout);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn mid_stream_direction_from_ports() {
        // A packet from the ephemeral port to 7777: the sender opened the session.
        assert_eq!(infer_initiator(Side::Lo, false, true, 42280, 7777), (Side::Lo, true));
        assert_eq!(infer_initiator(Side::Lo, false, true, 7777, 42280), (Side::Hi, true));
        assert_eq!(infer_initiator(Side::Hi, true, false, 1, 2), (Side::Hi, false));
        assert_eq!(infer_initiator(Side::Hi, true, true, 1, 2), (Side::Lo, false));
    }
}
