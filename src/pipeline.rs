//! The one pipeline that both `replay` and `sensor` drive: frames in, decode, detect per
//! flow, report, write. Sources differ; everything after them is this code.

use crate::capture::{PacketSource, RawPacket};
use crate::decode::{self, DecodeStats};
use crate::detect::{DetectStats, Detector, DetectorConfig, Event};
use crate::error::Result;
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

pub struct Pipeline {
    detector: Detector,
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
        Pipeline {
            detector: Detector::new(config, context),
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
        if let Ok(seg) = decoded {
            self.detector.process(&seg, &mut self.events);
        }
        if !self.events.is_empty() {
            self.drain(pkt.ts)?;
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
        self.detector.tick(now, &mut self.events);
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
        let record = serde_json::json!({
            "@timestamp": now.to_rfc3339(),
            "event": { "kind": "metric", "module": "shellsight", "dataset": "shellsight.stats" },
            "shellsight": { "stats": {
                "capture": capture,
                "decode": s.decode,
                "sessions": { "live": self.detector.live_sessions(), "table": self.detector.table_stats() },
                "report": self.reporter.stats,
            }},
        });
        self.alerts.write_stats(&record)
    }

    /// Ends all sessions, flushes output and returns the counts.
    pub fn finish(mut self) -> Result<Summary> {
        self.detector.finish(&mut self.events);
        let end = self.summary.last_ts.unwrap_or(Timestamp::ZERO);
        self.drain(end)?;
        self.reporter.flush(&mut self.alerts_ready);
        self.write_ready()?;
        self.alerts.flush()?;
        if let Some(f) = self.flows.as_mut() {
            f.flush()?;
        }
        let mut s = self.summary;
        s.detect = self.detector.stats;
        s.table = self.detector.table_stats();
        s.report = self.reporter.stats;
        Ok(s)
    }
}
