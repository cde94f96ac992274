//! The one pipeline that both `replay` and `sensor` drive: frames in, decode, detect per
//! flow, report, write. Sources differ; everything after them is this code.
//!
//! With one thread the detector runs inline on the reading thread. With more, `parallel`
//! shards flows over worker threads by their symmetric hash; the reporter and the sinks
//! stay on the calling thread. Either way, the events that one packet (or one tick)
//! produces are put in a canonical order (decision time, Community ID, then session), so
//! the output does not depend on the thread count.

mod parallel;
mod series;

use crate::baseline::{Baseline, BaselineStats};
use crate::capture::{PacketSource, RawPacket};
use crate::decode::{self, DecodeStats};
use crate::detect::{DetectStats, Detector, DetectorConfig, Event};
use crate::error::Result;
use crate::flow::community_id::community_id_v1;
use crate::flow::table::TableStats;
use crate::output::{AlertSink, FlowSink};
use crate::report::{ReportStats, Reporter};
use crate::report_html::InvestigationReport;
use crate::time::Timestamp;
use std::sync::Arc;

/// Counts for the closing summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub decode: DecodeStats,
    pub detect: DetectStats,
    pub table: TableStats,
    pub report: ReportStats,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub warnings: Vec<String>,
    pub baseline: Option<BaselineStats>,
    pub series: crate::series::SeriesStats,
}

/// Where detection runs.
enum Engine {
    Inline(Detector),
    Sharded(parallel::Shards),
}

pub struct Pipeline {
    engine: Engine,
    reporter: Reporter,
    alerts: AlertSink,
    flows: Option<FlowSink>,
    events: Vec<Event>,
    alerts_ready: Vec<crate::report::Alert>,
    /// Capture time of the last attribution poll.
    last_poll: Timestamp,
    /// Host history (`--baseline`): learns from finished sessions, feeds the detectors.
    baseline: Option<Baseline>,
    context: Arc<crate::context::resolve::Context>,
    /// The HTML investigation report (`replay --report`), written at the end.
    report: Option<InvestigationReport>,
    summary: Summary,
    /// The first malformed packet (its number and what was wrong), for the closing warning.
    first_malformed: Option<(u64, &'static str)>,
    /// `--max-flows`, for the closing warning when sessions had to be evicted.
    max_flows: usize,
    /// Check-ins grouped into series (pollers), bounded like the session table.
    series: series::SeriesStage,
}

/// How often (in capture time) waiting detections retry attribution.
const POLL_EVERY: crate::time::Span = crate::time::Span::from_millis(100);

impl Pipeline {
    pub fn new(
        config: DetectorConfig,
        context: Arc<crate::context::resolve::Context>,
        reporter: Reporter,
        alerts: AlertSink,
        flows: Option<FlowSink>,
        baseline: Option<Baseline>,
    ) -> Self {
        // The history learns from every finished session, so it needs their records.
        let config = DetectorConfig { flow_records: flows.is_some() || baseline.is_some(), ..config };
        let history = baseline.as_ref().map(Baseline::snapshot);
        let max_flows = config.max_flows;
        let engine = if config.threads <= 1 {
            let mut detector = Detector::new(config, context.clone());
            if let Some(h) = history {
                detector.set_history(h);
            }
            Engine::Inline(detector)
        } else {
            Engine::Sharded(parallel::Shards::start(config, context.clone(), history))
        };
        Pipeline {
            engine,
            reporter,
            alerts,
            flows,
            events: Vec::with_capacity(64),
            alerts_ready: Vec::new(),
            last_poll: Timestamp::ZERO,
            baseline,
            context,
            report: None,
            summary: Summary::default(),
            first_malformed: None,
            max_flows,
            series: series::SeriesStage::new(max_flows),
        }
    }

    /// Also collects every alert and the reported sessions' timelines into an HTML
    /// report, written by `finish`. The detectors must record timelines
    /// (`DetectorConfig::timelines`).
    pub fn with_report(mut self, report: InvestigationReport) -> Self {
        self.report = Some(report);
        self
    }

    /// One frame through the whole pipeline.
    pub fn feed(&mut self, pkt: &RawPacket<'_>) -> Result<()> {
        let s = &mut self.summary;
        s.decode.packets += 1;
        if (pkt.data.len() as u32) < pkt.wire_len {
            s.decode.truncated_frames += 1;
        }
        if s.first_ts.is_none() {
            s.first_ts = Some(pkt.ts);
        }
        s.last_ts = Some(s.last_ts.map_or(pkt.ts, |t| t.max(pkt.ts)));
        let decoded = decode::decode(pkt);
        s.decode.count(&decoded);
        if let Err(decode::Skip::Malformed(why)) = decoded {
            self.first_malformed.get_or_insert((s.decode.packets, why));
        }
        if self.baseline.as_mut().is_some_and(|b| b.commit_due(pkt.ts)) {
            self.commit_history(pkt.ts)?;
        }
        match &mut self.engine {
            Engine::Inline(detector) => {
                if let Ok(seg) = decoded {
                    if let Some(answer) = crate::names::dns::answer(&seg) {
                        detector.learn_names(&answer);
                    }
                    detector.process(&seg, &mut self.events);
                    if let Some(lead) = crate::evidence::injection::lead(&seg) {
                        detector.learn_lead(&Arc::new(lead), &mut self.events);
                    }
                }
                if !self.events.is_empty() {
                    canonical_order(&mut self.events);
                    self.drain(pkt.ts)?;
                }
            }
            Engine::Sharded(shards) => {
                shards.feed(decoded.as_ref().ok(), &mut self.events)?;
                if !self.events.is_empty() {
                    self.drain(pkt.ts)?;
                }
            }
        }
        if pkt.ts - self.last_poll >= POLL_EVERY {
            self.poll(pkt.ts)?;
        }
        Ok(())
    }

    /// Writes what the history learned and hands the detectors the new snapshot, at this
    /// place in the packet stream: every event of earlier packets is recorded first, so
    /// the result does not depend on the thread count.
    fn commit_history(&mut self, now: Timestamp) -> Result<()> {
        if let Engine::Sharded(shards) = &mut self.engine {
            shards.sync(&mut self.events)?;
            self.drain(now)?;
        }
        let Some(baseline) = self.baseline.as_mut() else { return Ok(()) };
        let snapshot = baseline.commit(now)?;
        match &mut self.engine {
            Engine::Inline(detector) => detector.set_history(snapshot),
            Engine::Sharded(shards) => shards.set_history(snapshot),
        }
        Ok(())
    }

    fn poll(&mut self, now: Timestamp) -> Result<()> {
        self.last_poll = now;
        self.reporter.poll(now, &mut self.alerts_ready);
        self.write_ready()
    }

    fn write_ready(&mut self) -> Result<()> {
        for a in self.alerts_ready.drain(..) {
            if let Some(b) = self.baseline.as_mut() {
                learn_process(b, &a);
            }
            if let Some(r) = self.report.as_mut() {
                r.alert(&a);
            }
            self.alerts.write(&a)?;
        }
        Ok(())
    }

    /// Reads a whole source. `progress` is called now and then with the source's progress.
    pub fn run(&mut self, source: &mut dyn PacketSource, progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
        let mut n: u64 = 0;
        while let Some(pkt) = source.next_packet()? {
            self.feed(&pkt)?;
            n += 1;
            if n % 65_536 == 0 {
                if let Some((done, total)) = source.progress() {
                    progress(done, total);
                }
            }
        }
        self.summary.warnings.extend(source.warnings());
        Ok(())
    }

    /// Lets idle sessions expire when no packet has arrived for a while (live capture).
    pub fn tick(&mut self, now: Timestamp) -> Result<()> {
        if self.baseline.as_mut().is_some_and(|b| b.commit_due(now)) {
            self.commit_history(now)?;
        }
        match &mut self.engine {
            Engine::Inline(detector) => {
                detector.tick(now, &mut self.events);
                canonical_order(&mut self.events);
            }
            Engine::Sharded(shards) => shards.tick(now, &mut self.events)?,
        }
        self.drain(now)?;
        self.poll(now)
    }

    fn drain(&mut self, now: Timestamp) -> Result<()> {
        // A session's timeline goes to the report after its alerts, which are written below.
        let mut timelines = Vec::new();
        for ev in self.events.drain(..) {
            match ev {
                Event::Detection(d) => self.reporter.push(*d, now, &mut self.alerts_ready),
                Event::Flow(f) => {
                    if let Some(b) = self.baseline.as_mut() {
                        let tier = f.reported.max(self.reporter.reported_tier(&f.session_id));
                        b.observe(&self.context, &f, tier);
                    }
                    if let Some(sink) = self.flows.as_mut() {
                        sink.write(&f)?;
                    }
                }
                Event::Timeline(t) => timelines.push(t),
                Event::Checkin(c) => {
                    let history = self.baseline.as_ref().map(|b| b.snapshot());
                    if let Some(d) = self.series.checkin(&c, &self.context, history.as_deref()) {
                        self.reporter.push(d, now, &mut self.alerts_ready);
                    }
                }
            }
        }
        self.write_ready()?;
        if let Some(r) = self.report.as_mut() {
            for t in timelines {
                r.timeline(*t);
            }
        }
        Ok(())
    }

    /// Writes a periodic statistics record (live capture counters plus the pipeline's).
    /// `sources` holds the counters of what feeds the pipeline (the capture, the agent
    /// channel), each under its own key.
    pub fn write_stats(
        &mut self,
        now: Timestamp,
        sources: serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let s = &self.summary;
        // Worker threads keep their tables to themselves until the end.
        let sessions = match &self.engine {
            Engine::Inline(d) => serde_json::json!({ "live": d.live_sessions(), "table": d.table_stats() }),
            Engine::Sharded(_) => serde_json::Value::Null,
        };
        let mut stats = sources;
        stats.insert("decode".into(), serde_json::json!(s.decode));
        stats.insert("sessions".into(), sessions);
        stats.insert("report".into(), serde_json::json!(self.reporter.stats));
        let record = serde_json::json!({
            "@timestamp": now.to_rfc3339(),
            "event": { "kind": "metric", "module": "shellsight", "dataset": "shellsight.stats" },
            "shellsight": { "stats": stats },
        });
        self.alerts.write_stats(&record)
    }

    /// Ends all sessions, flushes output and returns the counts.
    pub fn finish(mut self) -> Result<Summary> {
        let engine = std::mem::replace(&mut self.engine, Engine::Sharded(parallel::Shards::empty()));
        let (detect, table) = match engine {
            Engine::Inline(mut detector) => {
                detector.finish(&mut self.events);
                canonical_order(&mut self.events);
                (detector.stats, detector.table_stats())
            }
            Engine::Sharded(shards) => shards.finish(&mut self.events)?,
        };
        let end = self.summary.last_ts.unwrap_or(Timestamp::ZERO);
        self.drain(end)?;
        self.reporter.flush(&mut self.alerts_ready);
        self.write_ready()?;
        if let Some(b) = self.baseline.as_mut() {
            b.commit(end)?;
        }
        self.alerts.flush()?;
        if let Some(f) = self.flows.as_mut() {
            f.flush()?;
        }
        let mut s = self.summary;
        if let Some((n, why)) = self.first_malformed {
            s.warnings.push(format!(
                "{} malformed packets were counted and skipped (the first, packet {n}: {why})",
                s.decode.malformed
            ));
        }
        if table.evicted > 0 {
            s.warnings.push(format!(
                "{} sessions were ended early because the session table was full (--max-flows {}); \
                 each was judged on what it had shown",
                table.evicted, self.max_flows
            ));
        }
        s.detect = detect;
        s.table = table;
        s.series = self.series.table.stats;
        s.report = self.reporter.stats;
        s.baseline = self.baseline.as_ref().map(|b| b.stats);
        if let Some(r) = self.report.take() {
            r.write(&s)?;
        }
        Ok(s)
    }
}

/// The process behind an attributed alert below medium is part of the host's normal.
fn learn_process(b: &mut Baseline, a: &crate::report::Alert) {
    if a.verdict.tier.is_some_and(|t| t >= crate::verdict::Tier::Medium) {
        return;
    }
    let Some(process) = a.enrichment.as_ref().map(|e| &e["process"]) else { return };
    let (Some(name), parent) = (process["name"].as_str(), process["parent"]["name"].as_str().unwrap_or(""))
    else {
        return;
    };
    let d = &a.detection;
    let host = if d.shell_side == crate::evidence::Dir::Orig { d.source.ip } else { d.destination.ip };
    b.observe_process(host, name, parent, d.decided_at);
}

/// Puts the events of one packet (or one tick, or the end of the capture) in the order
/// that does not depend on how flows were spread over threads: decision time, then the
/// Community ID, then detections before the flow record, then report sequence and session.
fn canonical_order(events: &mut [Event]) {
    // Events at strictly increasing times are in order already; the full key (a Community
    // ID hash and two strings per event) is built only when times tie or run backwards.
    if events.windows(2).any(|w| event_time(&w[0]) >= event_time(&w[1])) {
        events.sort_by_cached_key(order_key);
    }
}

/// The first field of `order_key`.
fn event_time(ev: &Event) -> Timestamp {
    match ev {
        Event::Detection(d) => d.decided_at,
        Event::Flow(f) => f.end,
        Event::Timeline(t) => t.end,
        Event::Checkin(c) => c.at,
    }
}

type OrderKey = (Timestamp, String, u8, u16, String);

fn order_key(ev: &Event) -> OrderKey {
    let (community_id, rank, sequence, session_id) = match ev {
        Event::Detection(d) => (
            community_id_v1(
                0,
                d.transport.ip_number(),
                d.source.ip,
                d.source.port,
                d.destination.ip,
                d.destination.port,
            ),
            0,
            d.sequence,
            &d.session_id,
        ),
        Event::Flow(f) => (
            community_id_v1(
                0,
                f.transport.ip_number(),
                f.source.ip,
                f.source.port,
                f.destination.ip,
                f.destination.port,
            ),
            1,
            0,
            &f.session_id,
        ),
        // After the session's detections and flow record; the session id is unique.
        Event::Timeline(t) => (String::new(), 2, 0, &t.session_id),
        // A session hands over its bursts in order, each at a later time than the last.
        Event::Checkin(c) => (String::new(), 3, 0, &c.session_id),
    };
    (event_time(ev), community_id, rank, sequence, session_id.clone())
}
