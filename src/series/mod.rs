//! Series, not sessions: an implant checks in over short requests or long-polls, every
//! few seconds to minutes, with jitter, and never holds one interactive session. Each
//! burst of activity (a connection's request and answer, one exchange on a keep-alive
//! connection, a long-poll's held answer) between one internal host and one remote end
//! is a check-in; the check-ins of that pair form a series.
//!
//! The series are kept in packet time, in the pipeline's single ordered stream of events
//! (every shard hands its check-ins over in capture order), so that they come out the same
//! in replay and live and under any `--threads`. Memory is bounded: a table of at most
//! `max_series` series (the least recently seen leave first), each keeping its last
//! `RING` check-ins; and a series that falls silent leaves (a one-off connection after
//! `ONE_OFF_IDLE`, any series after `SERIES_IDLE`), so that a sensor that runs for weeks
//! holds what is polling now, not every pair it ever saw.
//!
//! Facts only, as elsewhere: `beacon` and `operator` describe the series; the verdict
//! (`verdict::series`) weighs them.

use crate::decode::Transport;
use crate::flow::key::{Endpoint, FxBuildHasher};
use crate::protocols::Protocol;
use crate::time::{Span, Timestamp};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

/// One check-in, as a shard hands it over.
#[derive(Debug, Clone)]
pub struct Checkin {
    /// When the check-in was handed over (the packet that ended it, or the session's end).
    pub at: Timestamp,
    /// The session it belongs to.
    pub session_id: String,
    pub transport: Transport,
    /// The host that opened the session (the poller) and the end it polls.
    pub client: Endpoint,
    pub server: Endpoint,
    pub start: Timestamp,
    /// Bytes the client sent in the burst, and the server.
    pub request: u32,
    pub response: u32,
    /// The server spoke first in the burst: it answered a request it had held.
    pub held: bool,
    /// The last burst of a session that had others: its close (close frames, alerts) is
    /// no check-in of the kind a task rides on.
    pub closing: bool,
    /// The name the client used for the server (SNI, else a DNS answer), if any.
    pub name: Option<Arc<str>>,
    /// What the session's TLS handshake showed, if it had one.
    pub tls: TlsHints,
    pub protocol: Option<Protocol>,
    /// The tier the session itself was reported at, if it was.
    pub session_reported: Option<crate::verdict::Tier>,
}

/// The parts of a TLS handshake that make a poller's far end look rented and hasty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TlsHints {
    pub seen: bool,
    pub no_sni: bool,
    pub self_signed: bool,
    pub library: bool,
}

/// Whether sessions of this kind can carry a poller of the kind implants are: they poll
/// over HTTP, TLS (h2 included), QUIC (HTTP/3), or a TCP stream of their own; other
/// protocols' periodic chatter (VPN keepalives, SIP, DNS, NTP) is theirs.
pub fn pollable(transport: Transport, protocol: Option<Protocol>) -> bool {
    matches!(
        (transport, protocol),
        (_, Some(Protocol::Http | Protocol::Tls | Protocol::Quic)) | (Transport::Tcp, None)
    )
}

/// Check-ins kept per series (the newest).
pub const RING: usize = 48;
/// A series of one check-in that sees no second within this long was a one-off
/// connection (a poller's interval is seconds to an hour or two).
pub const ONE_OFF_IDLE: Span = Span::from_secs(6 * 3600);
/// Any series silent this long has stopped: RITA, too, judges a day of connections.
pub const SERIES_IDLE: Span = Span::from_secs(24 * 3600);
/// How often, in capture time, silent series are looked for (a pass over the table).
const EXPIRE_EVERY: Span = Span::from_secs(60);
/// Check-ins before a series is judged at all.
pub const MIN_CHECKINS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub transport: Transport,
    pub client: IpAddr,
    pub server: IpAddr,
    pub port: u16,
}

impl SeriesKey {
    /// A stable id for the series' alerts (their supersedes chain).
    pub fn id(&self) -> String {
        let mut h = std::hash::DefaultHasher::new();
        self.hash(&mut h);
        format!("series-{:016x}", h.finish())
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Timestamp,
    request: u32,
    response: u32,
    held: bool,
    closing: bool,
}

/// One series.
#[derive(Debug)]
pub struct Series {
    pub first: Timestamp,
    pub last: Timestamp,
    pub count: u32,
    pub bytes: [u64; 2],
    /// The latest check-in's client end (its socket, for attribution).
    pub latest_client: Endpoint,
    pub name: Option<Arc<str>>,
    pub tls: TlsHints,
    pub protocol: Option<Protocol>,
    /// Sessions the check-ins came over (counted as the session changes), and the last.
    pub sessions: u32,
    last_session: u64,
    ring: VecDeque<Entry>,
    /// The highest tier reported, and how many reports.
    pub reported: Option<crate::verdict::Tier>,
    pub reports: u16,
}

/// What a series shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesFacts {
    pub first: Timestamp,
    pub last: Timestamp,
    pub count: u32,
    /// Sessions the check-ins came over (a poller that reconnects each time has as many).
    pub sessions: u32,
    pub bytes: [u64; 2],
    pub name: Option<Arc<str>>,
    pub tls: TlsHints,
    pub beacon: Option<Beacon>,
    pub operator: Option<Operator>,
    /// Check-ins whose answer the server held (long-polls), among `kept` (the ring's),
    /// and the median time before them.
    pub held: u32,
    pub kept: u32,
    pub held_after_s: f64,
    /// The far end's port is no known service's and a high one.
    pub unusual_port: bool,
}

impl SeriesFacts {
    /// Most check-ins are answers the server held for seconds: a long-poll (a server's
    /// pings every second or two, answered at once, are a keepalive).
    pub fn long_poll(&self) -> bool {
        self.held >= 3 && self.held * 2 >= self.kept && self.held_after_s >= LONG_POLL_MIN_S
    }
}

/// Regular check-ins, RITA-style: the median interval, the dispersion of intervals about
/// it (median absolute deviation, as a share of the interval: the jitter), Bowley's skew
/// of the intervals, and how often the request and answer sizes repeat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Beacon {
    pub interval_s: f64,
    pub jitter: f64,
    pub skew: f64,
    pub checkins: u32,
    /// Share of check-ins whose request (answer) has the most common size.
    pub request_repeat: f64,
    pub response_repeat: f64,
}

/// The operator arriving: answers that grow (commands arrive) followed by a larger next
/// request (output leaves), and check-ins that speed up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Operator {
    /// Answers larger than the idle answer, followed by a request larger than the idle
    /// request by more than the answer grew.
    pub tasks: u32,
    /// When the first of them arrived.
    #[serde(skip)]
    pub first_task: Timestamp,
    /// Check-ins much faster than the idle interval.
    pub fast_checkins: u32,
}

impl Series {
    fn new(c: &Checkin) -> Self {
        Series {
            first: c.start,
            last: c.start,
            count: 0,
            bytes: [0, 0],
            latest_client: c.client,
            name: None,
            tls: TlsHints::default(),
            protocol: None,
            sessions: 0,
            last_session: 0,
            ring: VecDeque::new(),
            reported: None,
            reports: 0,
        }
    }

    fn add(&mut self, c: &Checkin) {
        self.count += 1;
        self.last = self.last.max(c.start);
        self.bytes[0] += c.request as u64;
        self.bytes[1] += c.response as u64;
        self.latest_client = c.client;
        if c.name.is_some() {
            self.name = c.name.clone();
        }
        if c.tls.seen {
            self.tls = c.tls;
        }
        self.protocol = c.protocol.or(self.protocol);
        let session = {
            let mut h = std::hash::DefaultHasher::new();
            c.session_id.hash(&mut h);
            h.finish() | 1
        };
        if session != self.last_session {
            self.sessions += 1;
            self.last_session = session;
        }
        if self.ring.len() == RING {
            self.ring.pop_front();
        }
        // A long-poll's held answer is followed by the client's next ask in the same burst;
        // a server's unasked message (a ping, a close) is not one.
        let held = c.held && c.request > 0;
        self.ring.push_back(Entry {
            at: c.start,
            request: c.request,
            response: c.response,
            held,
            closing: c.closing,
        });
    }

    pub fn facts(&self, key: &SeriesKey) -> SeriesFacts {
        // Bursts are handed over when they end: a long-poll's ends later than a request
        // that began after it on another connection. Judge them in the order they began.
        let mut entries: Vec<Entry> = self.ring.iter().copied().collect();
        entries.sort_by_key(|e| e.at);
        let beacon = beacon(&entries, self.count);
        SeriesFacts {
            first: self.first,
            last: self.last,
            count: self.count,
            sessions: self.sessions,
            bytes: self.bytes,
            name: self.name.clone(),
            tls: self.tls,
            operator: operator(&entries, beacon.as_ref()),
            beacon,
            held: entries.iter().filter(|e| e.held).count() as u32,
            kept: entries.len() as u32,
            held_after_s: {
                let mut gaps: Vec<f64> = entries
                    .windows(2)
                    .filter(|w| w[1].held)
                    .map(|w| (w[1].at - w[0].at).as_secs_f64())
                    .collect();
                gaps.sort_by(f64::total_cmp);
                if gaps.is_empty() {
                    0.0
                } else {
                    median(&gaps)
                }
            },
            unusual_port: key.port >= crate::protocols::HIGH_PORT
                && crate::protocols::service(key.transport, key.port).is_none(),
        }
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

/// The most common value's share.
fn repeat_share(values: impl Iterator<Item = u32>) -> f64 {
    let mut counts: HashMap<u32, u32> = HashMap::new();
    let mut n = 0;
    for v in values {
        *counts.entry(v).or_default() += 1;
        n += 1;
    }
    counts.values().max().map_or(0.0, |m| *m as f64 / n.max(1) as f64)
}

/// Jitter of the intervals up to which a series is regular (a share of the interval; C2
/// frameworks jitter a sleep by up to 30-50 %).
pub const REGULAR_JITTER: f64 = 0.35;
/// Bursts closer than this are one stream of activity (a chat, a game, a download in
/// pieces), not a poller's check-ins; implants sleep seconds between them.
pub const MIN_INTERVAL_S: f64 = 2.5;
/// A long-poll holds a request at least this long (typically tens of seconds).
pub const LONG_POLL_MIN_S: f64 = 5.0;
/// |Bowley skew| up to which intervals are symmetric enough for a beacon.
pub const REGULAR_SKEW: f64 = 0.6;

/// Regularity of the check-in times, from `MIN_CHECKINS` check-ins on.
fn beacon(entries: &[Entry], count: u32) -> Option<Beacon> {
    if count < MIN_CHECKINS || entries.len() < MIN_CHECKINS as usize {
        return None;
    }
    let mut gaps: Vec<f64> = entries.windows(2).map(|w| (w[1].at - w[0].at).as_secs_f64()).collect();
    gaps.sort_by(f64::total_cmp);
    let mid = median(&gaps);
    if mid < MIN_INTERVAL_S {
        return None;
    }
    let (low, high) = (quantile(&gaps, 0.25), quantile(&gaps, 0.75));
    let skew =
        if high > low && mid > low && mid < high { (low + high - 2.0 * mid) / (high - low) } else { 0.0 };
    let mut devs: Vec<f64> = gaps.iter().map(|g| (g - mid).abs()).collect();
    devs.sort_by(f64::total_cmp);
    let jitter = median(&devs) / mid;
    if jitter > REGULAR_JITTER || skew.abs() > REGULAR_SKEW {
        return None;
    }
    Some(Beacon {
        interval_s: mid,
        jitter,
        skew,
        checkins: count,
        request_repeat: repeat_share(entries.iter().map(|e| e.request)),
        response_repeat: repeat_share(entries.iter().map(|e| e.response)),
    })
}

/// Bytes an answer must grow by over the idle answer to carry a task, and a request over
/// the idle request to carry output (a few bytes of framing jitter are no task).
const GROWTH: u32 = 24;
/// Identical idle check-ins that must come before the first task: the poller was
/// established, asking the same and told the same, before the operator arrived.
const IDLE_BEFORE: usize = 2;

/// The operator's traces over an established poller: its idle check-in (the same request
/// and the same answer, again and again) seen `IDLE_BEFORE` times first; then tasks, an
/// answer larger than the idle one whose output leaves in a request, in the same burst
/// (a long-poll) or the next check-in, that grew by more than the task did (output
/// outweighs the command, as at a shell); and check-ins that come much faster than the
/// idle interval while the operator types.
fn operator(entries: &[Entry], beacon: Option<&Beacon>) -> Option<Operator> {
    if entries.len() < MIN_CHECKINS as usize {
        return None;
    }
    let idle = {
        let mut counts: HashMap<(u32, u32), u32> = HashMap::new();
        for e in entries {
            *counts.entry((e.request, e.response)).or_default() += 1;
        }
        counts.into_iter().max_by_key(|(pair, n)| (*n, std::cmp::Reverse(*pair)))?.0
    };
    let (idle_request, idle_response) = idle;
    // A poller asks: a server's unasked pings are no idle check-in.
    if idle_request == 0 {
        return None;
    }
    // The idle check-in is the poller's habit: a good share of all of them.
    if entries.iter().filter(|e| (e.request, e.response) == idle).count() * 10 < entries.len() * 3 {
        return None;
    }
    let mut idle_seen = 0;
    let mut tasks = 0;
    let mut first_task = Timestamp::ZERO;
    let mut i = 0;
    while i < entries.len() {
        let e = entries[i];
        if (e.request, e.response) == idle {
            idle_seen += 1;
            i += 1;
            continue;
        }
        let task = e.response.saturating_sub(idle_response);
        let output_with = |request: u32| {
            let output = request.saturating_sub(idle_request);
            output >= GROWTH && output >= task
        };
        // The output leaves in the same burst (a long-poll asks again with it), else in
        // the next check-in, which is then used up.
        let step = if output_with(e.request) {
            1
        } else if entries.get(i + 1).is_some_and(|n| output_with(n.request)) {
            2
        } else {
            0
        };
        if idle_seen >= IDLE_BEFORE && task >= GROWTH && step > 0 && !e.closing {
            if tasks == 0 {
                first_task = e.at;
            }
            tasks += 1;
            i += step;
            continue;
        }
        i += 1;
    }
    let fast_checkins = match beacon {
        Some(b) => {
            entries.windows(2).filter(|w| (w[1].at - w[0].at).as_secs_f64() < b.interval_s / 3.0).count()
                as u32
        }
        None => 0,
    };
    (tasks > 0).then_some(Operator { tasks, first_task, fast_checkins })
}

/// The series of a pipeline, bounded.
pub struct SeriesTable {
    series: HashMap<SeriesKey, Series, FxBuildHasher>,
    max: usize,
    /// When to look for silent series next (capture time).
    next_expiry: Option<Timestamp>,
    pub stats: SeriesStats,
}

/// What the series table held, for the closing summary.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SeriesStats {
    /// Check-ins handed over, and the series they started.
    pub checkins: u64,
    pub created: u64,
    /// The most series held at once, those that left to make room, and those that left
    /// silent.
    pub peak: u64,
    pub evicted: u64,
    pub expired: u64,
    /// The table's bound (`--max-flows`).
    pub max: u64,
}

impl SeriesTable {
    pub fn new(max: usize) -> Self {
        let max = max.max(16);
        SeriesTable {
            series: HashMap::default(),
            max,
            next_expiry: None,
            stats: SeriesStats { max: max as u64, ..Default::default() },
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Adds a check-in; returns its series when it has enough check-ins to be judged.
    pub fn add(&mut self, c: &Checkin) -> Option<(SeriesKey, &mut Series)> {
        let key = SeriesKey {
            transport: c.transport,
            client: c.client.ip,
            server: c.server.ip,
            port: c.server.port,
        };
        if self.next_expiry.is_none_or(|t| c.at >= t) {
            self.expire(c.at);
            self.next_expiry = Some(c.at + EXPIRE_EVERY);
        }
        if !self.series.contains_key(&key) && self.series.len() >= self.max {
            self.evict(c.start);
        }
        self.stats.checkins += 1;
        if !self.series.contains_key(&key) {
            self.stats.created += 1;
            self.stats.peak = self.stats.peak.max(self.series.len() as u64 + 1);
        }
        let s = self.series.entry(key).or_insert_with(|| Series::new(c));
        s.add(c);
        (s.count >= MIN_CHECKINS).then_some((key, s))
    }

    /// Drops the series that have fallen silent by `now`.
    fn expire(&mut self, now: Timestamp) {
        let before = self.series.len();
        self.series.retain(|_, s| {
            let limit = if s.count <= 1 { ONE_OFF_IDLE } else { SERIES_IDLE };
            now - s.last < limit
        });
        self.stats.expired += (before - self.series.len()) as u64;
    }

    /// Makes room, an eighth of the table at a time (so a flood of one-off connections
    /// costs a sort per eighth, not a scan per connection): the series silent longest.
    fn evict(&mut self, _now: Timestamp) {
        let mut by_age: Vec<(Timestamp, u32, SeriesKey)> =
            self.series.iter().map(|(k, s)| (s.last, s.count, *k)).collect();
        let cut = (by_age.len() / 8).max(1);
        by_age.select_nth_unstable_by(cut - 1, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, _, key) in &by_age[..cut] {
            self.series.remove(key);
        }
        self.stats.evicted += cut as u64;
    }
}

#[cfg(test)]
mod tests;
