//! The detector for one shard of flows: updates each session's evidence per packet in
//! O(1), judges a session again only when its evidence changed (a turn ended, a tell
//! appeared), and reports a detection each time a session's tier rises. It decides
//! while the session is still open; closing only finishes the record.

use crate::baseline::model::History;
use crate::context::resolve::{Context, Placement};
use crate::decode::{Transport, TransportSegment};
use crate::evidence::injection::{Lead, Leads};
use crate::evidence::inside::InsideFacts;
use crate::evidence::{Dir, Evidence, PrefixBudget, Segment};
use crate::flow::key::{Endpoint, FlowKey, Side};
pub use crate::flow::record::{FlowRecord, SessionSummary};
use crate::flow::table::{infer_initiator, EndReason, FlowTable, Lifecycle, SessionState, Timeouts};
use crate::names::{services, DnsAnswer, NameCache};
use crate::report_html::timeline::{SessionTimeline, Timeline, TimelineBudget};
use crate::series::{Checkin, TlsHints};
use crate::time::Timestamp;
use crate::verdict::{
    self, Facts, HistoryFacts, Injection, NetworkFindings, Ports, Reason, RemoteNaming, Tier, Verdict,
};
use std::sync::Arc;

/// One TCP or UDP session in the table.
#[derive(Debug)]
pub struct Session {
    pub key: FlowKey,
    pub initiator: Side,
    /// The initiator was taken from the ports, not the handshake (picked up mid-stream).
    pub direction_inferred: bool,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    fin: [bool; 2],
    rst: bool,
    established: bool,
    pub evidence: Evidence,
    /// The highest tier reported so far, and how many reports.
    pub reported: Option<Tier>,
    pub reports: u16,
    /// The packet timeline, recorded only for `replay --report`.
    timeline: Option<Box<Timeline>>,
    /// The session carried a command injection, or is the callback one asked for.
    pub injection: Option<Box<Injection>>,
}

impl Session {
    fn new(key: FlowKey, seg: &TransportSegment<'_>, sender: Side) -> Self {
        let (initiator, inferred) = match seg.transport {
            Transport::Tcp => {
                infer_initiator(sender, seg.flags.syn(), seg.flags.ack(), seg.src_port, seg.dst_port)
            }
            // No handshake: the first datagram seen opens the session, as in Zeek.
            Transport::Udp => (sender, false),
        };
        let mut evidence = Evidence::default();
        if inferred {
            evidence.turns.begin_mid_stream();
        }
        Session {
            key,
            initiator,
            direction_inferred: inferred,
            first_ts: seg.ts,
            last_ts: seg.ts,
            fin: [false; 2],
            rst: false,
            established: false,
            evidence,
            reported: None,
            reports: 0,
            timeline: None,
            injection: None,
        }
    }

    pub fn orig(&self) -> Endpoint {
        self.key.endpoint(self.initiator)
    }

    pub fn resp(&self) -> Endpoint {
        self.key.endpoint(self.initiator.other())
    }

    /// The session's transport and ports, for protocol identification.
    pub fn place(&self) -> crate::protocols::Place {
        crate::protocols::Place::new(self.key.transport, self.orig().port, self.resp().port)
    }

    pub fn endpoint(&self, dir: Dir) -> Endpoint {
        match dir {
            Dir::Orig => self.orig(),
            Dir::Resp => self.resp(),
        }
    }

    /// A stable id for this session: its key hash mixed with its start time.
    pub fn session_id(&self) -> String {
        format!("{:016x}", self.key.shard_hash() ^ self.first_ts.as_nanos() as u64)
    }
}

impl Lifecycle for Session {
    fn last_seen(&self) -> Timestamp {
        self.last_ts
    }
    fn state(&self) -> SessionState {
        if self.key.transport == Transport::Udp {
            // A datagram flow is worth keeping once both sides have spoken more than once;
            // a lone query and its answer (DNS) leaves on the short half-open timeout.
            let d = &self.evidence.dirs;
            return if d[0].payload_packets >= 2 && d[1].payload_packets >= 2 {
                SessionState::Datagram
            } else {
                SessionState::HalfOpen
            };
        }
        if self.rst || (self.fin[0] && self.fin[1]) {
            SessionState::Closed
        } else if self.established {
            SessionState::Established
        } else {
            SessionState::HalfOpen
        }
    }
}

/// A session whose tier rose: everything later stages need to report, join and re-judge.
#[derive(Debug, Clone)]
pub struct Detection {
    pub session_id: String,
    pub transport: Transport,
    /// Which report this is for the session (1, 2, …).
    pub sequence: u16,
    pub decided_at: Timestamp,
    pub session_start: Timestamp,
    pub source: Endpoint,
    pub destination: Endpoint,
    pub direction_inferred: bool,
    pub shell_side: Dir,
    pub findings: NetworkFindings,
    pub placement: Placement,
    pub verdict: Verdict,
    /// What the host history said (with `--baseline`), for re-judging with process facts.
    pub history: Option<HistoryFacts>,
    pub summary: SessionSummary,
    /// The TLS handshake, when the session had one.
    pub tls: Option<Box<crate::evidence::TlsFacts>>,
    /// The command injection the session carried or answered.
    pub injection: Option<Injection>,
    /// What the session's HTTP or SMB exchanges showed (a webshell, remote execution).
    pub inside: Option<Box<InsideFacts>>,
    /// For a series of check-ins (a poller), what the series shows.
    pub series: Option<Box<crate::series::SeriesFacts>>,
}

impl SessionSummary {
    pub fn of(s: &Session) -> Self {
        let e = &s.evidence;
        SessionSummary {
            duration_s: (s.last_ts - s.first_ts).as_secs_f64(),
            orig: e.dirs[0],
            resp: e.dirs[1],
            orig_turns: e.turns.by[0],
            resp_turns: e.turns.by[1],
            protocol: e.identity.session(s.place()).and_then(|(p, _)| p.ecs_name()),
            protocol_orig: e.protocol[0].as_str(),
            protocol_resp: e.protocol[1].as_str(),
            typed_lines_orig: e.lines[0],
            typed_lines_resp: e.lines[1],
            prompts: e.prompts,
        }
    }
}

/// What the detector hands downstream.
#[derive(Debug, Clone)]
pub enum Event {
    Detection(Box<Detection>),
    Flow(Box<FlowRecord>),
    /// A burst of a session (a poller's check-in), for the series (`crate::series`).
    Checkin(Box<Checkin>),
    /// The packet timeline of a finished session that was reported (`--report` only).
    Timeline(Box<SessionTimeline>),
}

impl Event {
    /// The capture time the event belongs to, for ordering output.
    pub fn time(&self) -> Timestamp {
        match self {
            Event::Detection(d) => d.decided_at,
            Event::Flow(f) => f.end,
            Event::Checkin(c) => c.at,
            Event::Timeline(t) => t.end,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct DetectStats {
    pub segments: u64,
    pub judged: u64,
    pub detections: u64,
    pub prefix_refused: u64,
    /// Segments whose bytes had all been seen before (retransmitted, perhaps with other
    /// bytes): the first copy is the one judged.
    pub retransmits: u64,
}

impl DetectStats {
    /// Adds another shard's counts.
    pub fn merge(&mut self, o: &DetectStats) {
        self.segments += o.segments;
        self.judged += o.judged;
        self.detections += o.detections;
        self.prefix_refused += o.prefix_refused;
        self.retransmits += o.retransmits;
    }
}

/// Settings for a detector.
#[derive(Debug, Clone, Copy)]
pub struct DetectorConfig {
    pub max_flows: usize,
    pub timeouts: Timeouts,
    pub prefix_budget_bytes: usize,
    pub flow_records: bool,
    /// Record each session's packet timeline, for the HTML report.
    pub timelines: bool,
    /// Worker threads of the pipeline (1: detect inline on the reading thread).
    pub threads: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            max_flows: 1_000_000,
            timeouts: Timeouts::default(),
            prefix_budget_bytes: 64 << 20,
            flow_records: false,
            timelines: false,
            threads: 1,
        }
    }
}

pub struct Detector {
    table: FlowTable<Session>,
    budget: PrefixBudget,
    context: Arc<Context>,
    names: NameCache,
    /// Requests that asked a server to call back, for the sessions that answer them.
    leads: Leads,
    /// The host history sessions are scored against (`--baseline`), read-only.
    history: Option<Arc<History>>,
    ended: Vec<(Session, EndReason)>,
    flow_records: bool,
    /// Points the packet timelines may hold (`None`: no timelines, the usual fast path).
    timelines: Option<TimelineBudget>,
    pub stats: DetectStats,
}

impl Detector {
    pub fn new(config: DetectorConfig, context: Arc<Context>) -> Self {
        Detector {
            table: FlowTable::new(config.max_flows, config.timeouts),
            budget: PrefixBudget::new(config.prefix_budget_bytes),
            context,
            names: NameCache::default(),
            leads: Leads::default(),
            history: None,
            ended: Vec::new(),
            flow_records: config.flow_records,
            timelines: config
                .timelines
                .then(|| TimelineBudget::new(TimelineBudget::TOTAL_POINTS / config.threads.max(1))),
            stats: DetectStats::default(),
        }
    }

    /// Scores sessions against this history from now on (the pipeline calls it at the
    /// same place in the packet stream for every shard).
    pub fn set_history(&mut self, history: Arc<History>) {
        self.history = Some(history);
    }

    pub fn table_stats(&self) -> crate::flow::table::TableStats {
        self.table.stats
    }

    pub fn live_sessions(&self) -> usize {
        self.table.len()
    }

    /// Takes a DNS answer seen on the wire, so that sessions to the answered addresses are
    /// known by name. Every shard is given every answer at the same place in the stream.
    pub fn learn_names(&mut self, answer: &DnsAnswer) {
        self.names.learn(answer);
    }

    /// Takes a request that carries a callback payload (every shard is given every lead at
    /// the same place in the stream). The shard that holds the request's session reports
    /// it; later sessions from its target to the named end are its callback.
    pub fn learn_lead(&mut self, lead: &Arc<Lead>, out: &mut Vec<Event>) {
        self.leads.learn(lead.clone());
        let (key, _) = FlowKey::new(
            Transport::Tcp,
            Endpoint { ip: lead.attacker.ip(), port: lead.attacker.port() },
            Endpoint { ip: lead.target.ip(), port: lead.target.port() },
        );
        if let Some(session) = self.table.get_mut(&key) {
            if session.injection.is_none() {
                session.injection = Some(Box::new(Injection::Request(lead.clone())));
                self.stats.judged += 1;
                if let Some(d) = judge(session, &self.context, &self.names, self.history.as_deref(), lead.at)
                {
                    self.stats.detections += 1;
                    out.push(Event::Detection(Box::new(d)));
                }
            }
        }
    }

    /// Feeds one TCP segment; events go to `out`. Idle sessions are swept on the
    /// detector's own schedule (every `sweep_every` of capture time).
    pub fn process(&mut self, seg: &TransportSegment<'_>, out: &mut Vec<Event>) {
        self.table.maybe_sweep(seg.ts, &mut self.ended);
        self.process_unswept(seg, out);
    }

    /// Feeds one TCP segment without sweeping: for a shard whose sweeps are driven by
    /// the reader (`sweep_at`), so that every shard expires sessions at the same capture
    /// times as a single detector would.
    pub fn process_unswept(&mut self, seg: &TransportSegment<'_>, out: &mut Vec<Event>) {
        self.stats.segments += 1;
        let src = Endpoint { ip: seg.src, port: seg.src_port };
        let dst = Endpoint { ip: seg.dst, port: seg.dst_port };
        let (key, sender) = FlowKey::new(seg.transport, src, dst);
        let session = match self.table.get_mut(&key) {
            Some(s) => s,
            None => {
                if seg.flags.rst() {
                    // A reset for a session we never saw: nothing to track.
                    self.flush_ended(out);
                    return;
                }
                let mut session = Session::new(key, seg, sender);
                let (orig, resp) = (session.orig(), session.resp());
                let callback = std::net::SocketAddr::new(resp.ip, resp.port);
                if let Some(lead) = self.leads.callback(orig.ip, callback, seg.ts) {
                    session.injection = Some(Box::new(Injection::Callback(lead)));
                }
                self.table.insert(key, session, seg.ts, &mut self.ended)
            }
        };
        session.last_ts = seg.ts;
        let dir = if sender == session.initiator { Dir::Orig } else { Dir::Resp };
        if seg.flags.rst() {
            session.rst = true;
        }
        if seg.flags.fin() {
            session.fin[dir.idx()] = true;
        }
        if !session.established && (seg.payload_len > 0 || (seg.flags.ack() && !seg.flags.syn())) {
            session.established = true;
        }
        let ev_seg = Segment {
            ts: seg.ts,
            dir,
            seq: seg.seq,
            flags: seg.flags,
            datagram: seg.transport == Transport::Udp,
            place: crate::protocols::Place::new(seg.transport, session.orig().port, session.resp().port),
            payload_len: seg.payload_len,
            payload: seg.payload,
        };
        let new_payload = session.evidence.dirs[dir.idx()].payload_packets;
        let observed = session.evidence.observe(&ev_seg, &mut self.budget);
        let judge_again = observed.judge;
        if let Some(burst) = observed.burst.filter(|_| pollable(session)) {
            out.push(Event::Checkin(Box::new(checkin(session, burst, &self.names, seg.ts))));
        }
        if let Some(budget) = self.timelines.as_mut() {
            if session.evidence.dirs[dir.idx()].payload_packets != new_payload {
                let t = session.timeline.get_or_insert_with(Box::default);
                t.record(seg.ts, dir, seg.payload_len, seg.payload, budget);
            }
        }
        if judge_again {
            self.stats.judged += 1;
            if let Some(d) = judge(session, &self.context, &self.names, self.history.as_deref(), seg.ts) {
                self.stats.detections += 1;
                if let (Some(t), Some(budget)) = (session.timeline.as_mut(), self.timelines.as_mut()) {
                    t.mark_decision(budget);
                }
                out.push(Event::Detection(Box::new(d)));
            }
        }
        self.flush_ended(out);
    }

    /// Expires idle sessions at capture time `now` (the live sensor calls this when the
    /// wire is quiet, so that sessions still end).
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        self.table.maybe_sweep(now, &mut self.ended);
        self.flush_ended(out);
    }

    /// Expires idle sessions at `now` unconditionally (the reader decided a sweep is due).
    pub fn sweep_at(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        self.table.sweep_now(now, &mut self.ended);
        self.flush_ended(out);
    }

    /// Ends every session (end of capture, or shutdown).
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        while self.table.drain_some(4096, &mut self.ended) {
            self.flush_ended(out);
        }
        self.flush_ended(out);
        self.stats.prefix_refused = self.budget.refused;
    }

    fn flush_ended(&mut self, out: &mut Vec<Event>) {
        for (mut s, reason) in self.ended.drain(..) {
            // A last look: evidence that arrived with the final segments still counts.
            let last = s.last_ts;
            if let Some(d) = judge(&mut s, &self.context, &self.names, self.history.as_deref(), last) {
                self.stats.detections += 1;
                out.push(Event::Detection(Box::new(d)));
            }
            if let Some(burst) = s.evidence.turns.open_burst().filter(|_| pollable(&s)) {
                let mut c = checkin(&s, burst, &self.names, last);
                c.closing = burst.start - s.first_ts >= crate::evidence::exchanges::QUIET;
                out.push(Event::Checkin(Box::new(c)));
            }
            s.evidence.release(&mut self.budget);
            self.stats.retransmits += s.evidence.dirs.iter().map(|d| d.retransmits as u64).sum::<u64>();
            if let (Some(t), Some(budget)) = (s.timeline.take(), self.timelines.as_mut()) {
                t.release(budget);
                if s.reported.is_some() {
                    out.push(Event::Timeline(Box::new(SessionTimeline {
                        session_id: s.session_id(),
                        start: s.first_ts,
                        end: s.last_ts,
                        timeline: *t,
                    })));
                }
            }
            if self.flow_records {
                out.push(Event::Flow(Box::new(FlowRecord {
                    session_id: s.session_id(),
                    transport: s.key.transport,
                    start: s.first_ts,
                    end: s.last_ts,
                    source: s.orig(),
                    destination: s.resp(),
                    direction_inferred: s.direction_inferred,
                    end_reason: reason,
                    reported: s.reported,
                    interactive: s.evidence.turns.interactivity().is_some(),
                    summary: SessionSummary::of(&s),
                })));
            }
        }
    }
}

/// Judges a session now; returns a detection when its tier rose.
fn judge(
    s: &mut Session,
    ctx: &Context,
    names: &NameCache,
    history: Option<&History>,
    now: Timestamp,
) -> Option<Detection> {
    let ev = &s.evidence;
    let carried = ev.has_inside_facts();
    if !verdict::is_candidate(ev) && s.injection.is_none() && !carried {
        return None;
    }
    let ports = Ports { orig: s.orig().port, resp: s.resp().port };
    let transport = s.key.transport;
    let mut findings = verdict::assess_network(ev, ports, transport);
    let inside = if carried { ev.inside_facts() } else { None };
    if findings.points <= 0 && s.injection.is_none() && inside.is_none() {
        return None;
    }
    // A webshell runs on the web server, an exec pipe's process on the SMB server: the
    // side that accepted the connection.
    if inside.is_some() {
        findings.shell_side = Dir::Resp;
    }
    // The request's target hosts the shell the payload asks for; a callback's opener does.
    match s.injection.as_deref() {
        Some(Injection::Request(_)) => findings.shell_side = Dir::Resp,
        Some(Injection::Callback(_)) => findings.shell_side = Dir::Orig,
        None => {}
    }
    let shell = s.endpoint(findings.shell_side);
    let remote_dir = findings.shell_side.other();
    let remote = s.endpoint(remote_dir);
    // The remote end speaks what its port is for (TLS on 443): what most traffic to a
    // cloud's service ports is. A silent remote is judged by what the shell side speaks.
    let remote_speaks = crate::protocols::service(transport, remote.port).is_some_and(|svc| {
        let p = match ev.protocol[remote_dir.idx()] {
            crate::protocols::Protocol::Unseen => ev.protocol[findings.shell_side.idx()],
            p => p,
        };
        svc.protocol == p
    });
    let mut placement = ctx.place(s.orig(), s.resp(), shell, remote, remote_speaks, now);
    name_remote(s, &findings, ctx, names, &mut placement);
    let peering = crate::baseline::Peering {
        orig: s.orig(),
        resp: s.resp(),
        shell,
        interactive: findings.interactivity.is_some(),
        start: s.first_ts,
    };
    let history = history.and_then(|h| crate::baseline::facts_for(h, ctx, peering, &placement, now));
    let mut v = verdict::decide(&Facts {
        network: &findings,
        context: &placement.facts,
        process: None,
        history: history.as_ref(),
        injection: s.injection.as_deref(),
        inside: inside.as_ref(),
        series: None,
    });
    let tier = v.tier?;
    if s.reported.is_some_and(|r| r >= tier) {
        return None;
    }
    s.reported = Some(tier);
    s.reports += 1;
    if s.direction_inferred {
        v.reasons.push(Reason::DirectionInferred);
    }
    Some(Detection {
        session_id: s.session_id(),
        transport: s.key.transport,
        sequence: s.reports,
        decided_at: now,
        session_start: s.first_ts,
        source: s.orig(),
        destination: s.resp(),
        direction_inferred: s.direction_inferred,
        shell_side: findings.shell_side,
        findings,
        placement,
        verdict: v,
        history,
        summary: SessionSummary::of(s),
        tls: s.evidence.tls.clone(),
        injection: s.injection.as_deref().cloned(),
        inside: inside.map(Box::new),
        series: None,
    })
}

/// Whether a session's bursts can be a poller's check-ins (`series::pollable`).
fn pollable(s: &Session) -> bool {
    crate::series::pollable(s.key.transport, s.evidence.identity.session(s.place()).map(|(p, _)| p))
}

/// A session's burst as a check-in of its series: the initiator polls the responder.
fn checkin(s: &Session, burst: crate::evidence::turns::Burst, names: &NameCache, at: Timestamp) -> Checkin {
    let (client, server) = (s.orig(), s.resp());
    let tls = s.evidence.tls.as_deref();
    let sni = tls.and_then(|t| t.client.as_ref()).and_then(|c| c.server_name());
    let name = sni.map(Arc::from).or_else(|| names.lookup(client.ip, server.ip, s.first_ts));
    let hints = tls.map_or(TlsHints::default(), |t| TlsHints {
        seen: t.client.is_some() || t.offer.is_some(),
        no_sni: t.client.as_ref().is_some_and(|c| c.server_name().is_none()),
        self_signed: t.certificate.as_ref().is_some_and(|c| c.self_signed),
        library: t.offer.is_some_and(|o| o.library_default()),
    });
    Checkin {
        at,
        session_id: s.session_id(),
        transport: s.key.transport,
        client,
        server,
        start: burst.start,
        request: burst.bytes[0],
        response: burst.bytes[1],
        held: burst.first == Dir::Resp,
        closing: false,
        name,
        tls: hints,
        protocol: s.evidence.identity.session(s.place()).map(|(p, _)| p),
        session_reported: s.reported,
    }
}

/// How the shell host named the remote end it called: the SNI it sent, else the name a
/// DNS answer gave it for that address before the session began. Only for sessions the
/// shell host opened, to outside its home networks, whose start was seen.
fn name_remote(s: &Session, findings: &NetworkFindings, ctx: &Context, names: &NameCache, p: &mut Placement) {
    if findings.shell_side != Dir::Orig || s.direction_inferred {
        return;
    }
    let (shell, remote) = (s.orig(), s.resp());
    if ctx.is_home(remote.ip) {
        return;
    }
    let sni = s.evidence.tls.as_deref().and_then(|t| t.client.as_ref()).and_then(|c| c.server_name());
    let name: Option<Arc<str>> = sni.map(Arc::from).or_else(|| names.lookup(shell.ip, remote.ip, s.first_ts));
    p.facts.remote_naming = match &name {
        Some(n) => RemoteNaming::Named(services::classify(n)),
        None => RemoteNaming::DirectIp,
    };
    p.remote_domain = name;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_flow_state_is_compact() {
        let size = size_of::<Session>();
        println!("size_of::<Session>() = {size} bytes");
        assert!(size <= 512, "per-flow state is {size} bytes");
    }
}
