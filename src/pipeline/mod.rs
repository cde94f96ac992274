//! The one pipeline that both `replay` and `sensor` drive: frames in, decode, detect per
//! flow, report, write. Sources differ; everything after them is this code.
//!
//! With one thread the detector runs inline on the reading thread. With more, `parallel`
//! shards flows over worker threads by their symmetric hash; the reporter and the sinks
//! stay on the calling thread. Either way, the events that one packet (or one tick)
//! produces are put in a canonical order (decision time, Community ID, then session), so
//! the output does not depend on the thread count.

mod parallel;

use crate::capture::{PacketSource, RawPacket};
use crate::decode::{self, DecodeStats};
use crate::detect::{DetectStats, Detector, DetectorConfig, Event};
use crate::error::Result;
use crate::flow::community_id::community_id_v1;
use crate::flow::table::TableStats;
use crate::output::{AlertSink, FlowSink};
use crate::report::{ReportStats, Reporter};
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
    summary: Summary,
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
    ) -> Self {
        let config = DetectorConfig { flow_records: flows.is_some(), ..config };
        let engine = if config.threads <= 1 {
            Engine::Inline(Detector::new(config, context))
        } else {
            Engine::Sharded(parallel::Shards::start(config, context))
        };
        Pipeline {
            engine,
            reporter,
            alerts,
            flows,
            events: Vec::with_capacity(64),
            alerts_ready: Vec::new(),
            last_poll: Timestamp::ZERO,
            summary: Summary::default(),
        }
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
        match &mut self.engine {
            Engine::Inline(detector) => {
                if let Ok(seg) = decoded {
                    detector.process(&seg, &mut self.events);
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

    fn poll(&mut self, now: Timestamp) -> Result<()> {
        self.last_poll = now;
        self.reporter.poll(now, &mut self.alerts_ready);
        self.write_ready()
    }

    fn write_ready(&mut self) -> Result<()> {
        for a in self.alerts_ready.drain(..) {
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
        for ev in self.events.drain(..) {
            match ev {
                Event::Detection(d) => self.reporter.push(*d, now, &mut self.alerts_ready),
                Event::Flow(f) => {
                    if let Some(sink) = self.flows.as_mut() {
                        sink.write(&f)?;
                    }
                }
            }
        }
        self.write_ready()
    }

    /// Writes a periodic statistics record (live capture counters plus the pipeline's).
    pub fn write_stats(&mut self, now: Timestamp, capture: serde_json::Value) -> Result<()> {
        let s = &self.summary;
        // Worker threads keep their tables to themselves until the end.
        let sessions = match &self.engine {
            Engine::Inline(d) => serde_json::json!({ "live": d.live_sessions(), "table": d.table_stats() }),
            Engine::Sharded(_) => serde_json::Value::Null,
        };
        let record = serde_json::json!({
            "@timestamp": now.to_rfc3339(),
            "event": { "kind": "metric", "module": "shellsight", "dataset": "shellsight.stats" },
            "shellsight": { "stats": {
                "capture": capture,
                "decode": s.decode,
                "sessions": sessions,
                "report": self.reporter.stats,
            }},
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
        self.alerts.flush()?;
        if let Some(f) = self.flows.as_mut() {
            f.flush()?;
        }
        let mut s = self.summary;
        s.detect = detect;
        s.table = table;
        s.report = self.reporter.stats;
        Ok(s)
    }
}

/// Puts the events of one packet (or one tick, or the end of the capture) in the order
/// that does not depend on how flows were spread over threads: decision time, then the
/// Community ID, then detections before the flow record, then report sequence and session.
fn canonical_order(events: &mut [Event]) {
    if events.len() > 1 {
        events.sort_by_cached_key(order_key);
    }
}

type OrderKey = (Timestamp, String, u8, u16, String);

fn order_key(ev: &Event) -> OrderKey {
    match ev {
        Event::Detection(d) => (
            d.decided_at,
            community_id_v1(0, d.source.ip, d.source.port, d.destination.ip, d.destination.port),
            0,
            d.sequence,
            d.session_id.clone(),
        ),
        Event::Flow(f) => (
            f.end,
            community_id_v1(0, f.source.ip, f.source.port, f.destination.ip, f.destination.port),
            1,
            0,
            f.session_id.clone(),
        ),
    }
}
