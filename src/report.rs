//! The last stage before output: joins a detection with process context (when an
//! attributor is present), re-judges it with that context, applies site exclusions and
//! reports each session again only when its tier rises.

use crate::config::{ExclusionOutcome, ExclusionQuery};
use crate::context::resolve::Context;
use crate::detect::Detection;
use crate::evidence::Dir;
use crate::time::{Span, Timestamp};
use crate::verdict::{self, Facts, ProcessFacts, Reason, Tier, Verdict};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Process context for the shell side of a session, from a host agent's inventory.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    pub facts: ProcessFacts,
    /// ECS fields to merge into the alert (`process`, `user`, `host`, `container`, …).
    pub ecs: Value,
    /// One line for the table view.
    pub summary: String,
    pub process_name: Option<String>,
    pub parent_name: Option<String>,
    pub command_line: Option<String>,
    /// Commands run over the socket so far (a live sensor reports again when it grows).
    pub commands_seen: u64,
}

/// Finds the process behind a detection's shell-side socket.
pub trait Attributor: Send {
    fn attribute(&mut self, d: &Detection) -> Option<Attribution>;
}

/// An exclusion that matched.
#[derive(Debug, Clone)]
pub struct Excluded {
    pub index: usize,
    pub reason: String,
    pub owner: String,
}

/// A detection as reported.
#[derive(Debug, Clone)]
pub struct Alert {
    /// Unique per record: `<session id>-<n>`.
    pub event_id: String,
    /// The record this one upgrades (same session, lower tier or no attribution yet).
    pub supersedes: Option<String>,
    pub detection: Detection,
    pub verdict: Verdict,
    pub excluded: Option<Excluded>,
    pub enrichment: Option<Value>,
    pub process_line: Option<String>,
    /// Emitted before attribution arrived; an upgrade may follow.
    pub attribution_pending: bool,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ReportStats {
    pub alerts: u64,
    pub excluded: u64,
    pub expired_exclusion_hits: u64,
    pub upgrades: u64,
    pub attributed: u64,
    pub unattributed: u64,
}

/// How long a detection waits for its session's tier to settle before it is reported.
pub const SETTLE: Span = Span::from_millis(300);

/// A detection waiting for its tier to settle or for its process context.
struct Pending {
    detection: Detection,
    since: Timestamp,
    /// Already reported without attribution; only an attributed upgrade may follow.
    reported: bool,
}

/// What was last reported for a session.
#[derive(Clone)]
struct Reported {
    tier: Tier,
    event_id: String,
    seq: u32,
    attributed: bool,
    /// Commands run over the socket as of that record.
    commands: u64,
}

/// A live session reported with attribution, watched for commands run over its socket
/// since: each time more have run, an upgrade that supersedes the previous record.
struct Watched {
    detection: Detection,
    /// Capture time of the last check, and of the last new command (or the report).
    checked: Timestamp,
    active: Timestamp,
}

/// How often a watched session's commands are looked at.
const COMMANDS_EVERY: Span = Span::from_secs(1);

pub struct Reporter {
    context: Arc<Context>,
    attributor: Option<Box<dyn Attributor>>,
    /// How long to hold a detection for attribution before reporting it without.
    delay: Span,
    /// How long after that to keep trying, for an attributed upgrade.
    keep_trying: Span,
    last: HashMap<String, Reported>,
    pending: Vec<Pending>,
    watched: Vec<Watched>,
    show_excluded: bool,
    warned_expired: Vec<usize>,
    pub stats: ReportStats,
}

impl Reporter {
    /// `delay` is how long a live sensor waits for an agent to report the socket; offline
    /// (a recorded inventory) it is zero.
    pub fn new(
        context: Arc<Context>,
        attributor: Option<Box<dyn Attributor>>,
        show_excluded: bool,
        delay: Span,
    ) -> Self {
        Reporter {
            context,
            attributor,
            delay,
            keep_trying: Span::from_secs(120),
            last: HashMap::new(),
            pending: Vec::new(),
            watched: Vec::new(),
            show_excluded,
            warned_expired: Vec::new(),
            stats: ReportStats::default(),
        }
    }

    /// Takes a detection at capture time `now`. Replay reports it at once (so output is
    /// the same whatever the thread count). A live sensor with agents holds it for
    /// `SETTLE`, so that a tier that rises again at once is reported once, and up to the
    /// attribution delay for the agent to report the socket; `poll` reports it then.
    pub fn push(&mut self, d: Detection, now: Timestamp, out: &mut Vec<Alert>) {
        if !self.is_live() {
            let attribution = self.attributor.as_mut().and_then(|a| a.attribute(&d));
            self.finish_one(d, attribution, false, out);
            return;
        }
        if let Some(w) = self.watched.iter_mut().find(|w| w.detection.session_id == d.session_id) {
            w.detection = d.clone();
        }
        match self.pending.iter_mut().find(|p| p.detection.session_id == d.session_id && !p.reported) {
            Some(p) => p.detection = d,
            None => self.pending.push(Pending { detection: d, since: now, reported: false }),
        }
    }

    /// A live sensor whose agents may still report a socket.
    fn is_live(&self) -> bool {
        self.attributor.is_some() && self.delay > Span::ZERO
    }

    /// Reports detections whose wait is over; retries attribution for those reported
    /// without it, for an attributed upgrade.
    pub fn poll(&mut self, now: Timestamp, out: &mut Vec<Alert>) {
        self.poll_commands(now, out);
        if self.pending.is_empty() {
            return;
        }
        let live = self.is_live();
        let mut waiting = std::mem::take(&mut self.pending);
        waiting.retain_mut(|p| {
            let waited = now - p.since;
            if !p.reported && waited < SETTLE {
                return true;
            }
            let attribution = self.attributor.as_mut().and_then(|a| a.attribute(&p.detection));
            if let Some(a) = attribution {
                self.finish_one(p.detection.clone(), Some(a), false, out);
                if live {
                    self.watch(&p.detection, now);
                }
                return false;
            }
            if !p.reported && (!live || waited >= self.delay) {
                self.finish_one(p.detection.clone(), None, live, out);
                p.reported = true;
            }
            // Keep trying for an attributed upgrade only where an agent may still report.
            live && (!p.reported || waited < self.delay + self.keep_trying)
        });
        self.pending.extend(waiting);
    }

    fn watch(&mut self, d: &Detection, now: Timestamp) {
        match self.watched.iter_mut().find(|w| w.detection.session_id == d.session_id) {
            Some(w) => w.detection = d.clone(),
            None => self.watched.push(Watched { detection: d.clone(), checked: now, active: now }),
        }
    }

    /// Re-attributes watched sessions once a `COMMANDS_EVERY`; reports again those over
    /// whose socket more commands ran. A session is watched until `keep_trying` passes
    /// without a new command.
    fn poll_commands(&mut self, now: Timestamp, out: &mut Vec<Alert>) {
        let mut watched = std::mem::take(&mut self.watched);
        watched.retain_mut(|w| {
            if now - w.checked < COMMANDS_EVERY {
                return true;
            }
            w.checked = now;
            if self.report_new_commands(&w.detection, out) {
                w.active = now;
            }
            now - w.active < self.keep_trying
        });
        self.watched.extend(watched);
    }

    /// Reports the session again when more commands ran over its socket than its last
    /// record shows. Returns whether it did.
    fn report_new_commands(&mut self, d: &Detection, out: &mut Vec<Alert>) -> bool {
        let Some(shown) = self.last.get(&d.session_id).map(|r| r.commands) else { return false };
        let Some(a) = self.attributor.as_mut().and_then(|a| a.attribute(d)) else { return false };
        if a.commands_seen <= shown {
            return false;
        }
        let before = out.len();
        self.finish_one(d.clone(), Some(a), false, out);
        out.len() > before
    }

    /// Reports everything still waiting (end of capture or shutdown).
    pub fn flush(&mut self, out: &mut Vec<Alert>) {
        for w in std::mem::take(&mut self.watched) {
            self.report_new_commands(&w.detection, out);
        }
        for p in std::mem::take(&mut self.pending) {
            if p.reported {
                continue;
            }
            let attribution = self.attributor.as_mut().and_then(|a| a.attribute(&p.detection));
            let pending = attribution.is_none() && self.is_live();
            self.finish_one(p.detection, attribution, pending, out);
        }
    }

    fn finish_one(
        &mut self,
        d: Detection,
        attribution: Option<Attribution>,
        pending: bool,
        out: &mut Vec<Alert>,
    ) {
        if let Some(a) = self.judge(d, attribution, pending) {
            out.push(a);
        }
    }

    /// The highest tier reported for a session so far (the host history learns only
    /// sessions below medium).
    pub fn reported_tier(&self, session_id: &str) -> Option<Tier> {
        self.last.get(session_id).map(|r| r.tier)
    }

    /// Re-judges with process context, applies exclusions, and reports only a rise in
    /// tier (or the first attribution of a session already reported without one).
    fn judge(&mut self, d: Detection, attribution: Option<Attribution>, pending: bool) -> Option<Alert> {
        let mut verdict = match &attribution {
            Some(a) => verdict::decide(&Facts {
                network: &d.findings,
                context: &d.placement.facts,
                process: Some(&a.facts),
                history: d.history.as_ref(),
                injection: d.injection.as_ref(),
                inside: d.inside.as_deref(),
                series: d.series.as_deref(),
            }),
            None => d.verdict.clone(),
        };
        if d.direction_inferred && !verdict.reasons.contains(&Reason::DirectionInferred) {
            verdict.reasons.push(Reason::DirectionInferred);
        }
        let tier = verdict.tier?;
        let attributed = attribution.is_some();
        let commands = attribution.as_ref().map_or(0, |a| a.commands_seen);
        let previous = self.last.get(&d.session_id).cloned();
        if let Some(p) = &previous {
            let rises = tier > p.tier;
            let newly_attributed = attributed && !p.attributed && tier >= p.tier;
            let more_commands = attributed && commands > p.commands && tier >= p.tier;
            if !rises && !newly_attributed && !more_commands {
                return None;
            }
        }
        let seq = previous.as_ref().map_or(1, |p| p.seq + 1);
        let event_id = format!("{}-{seq}", d.session_id);
        let supersedes = previous.as_ref().map(|p| p.event_id.clone());
        if supersedes.is_some() {
            self.stats.upgrades += 1;
        }
        self.last.insert(
            d.session_id.clone(),
            Reported {
                tier,
                event_id: event_id.clone(),
                seq,
                attributed: attributed || previous.as_ref().is_some_and(|p| p.attributed),
                commands: commands.max(previous.as_ref().map_or(0, |p| p.commands)),
            },
        );
        let remote_asn = d.placement.remote_network.as_ref().map(|n| n.asn);
        let destination_asn = if d.shell_side == Dir::Orig { remote_asn } else { None };
        let q = ExclusionQuery {
            source: d.source.ip,
            destination: d.destination.ip,
            destination_port: d.destination.port,
            destination_asn,
            process_name: attribution.as_ref().and_then(|a| a.process_name.as_deref()),
            command_line: attribution.as_ref().and_then(|a| a.command_line.as_deref()),
            parent_name: attribution.as_ref().and_then(|a| a.parent_name.as_deref()),
        };
        let mut excluded = None;
        match self.context.exclusion(&q, d.decided_at) {
            ExclusionOutcome::None => {}
            ExclusionOutcome::Excluded { index, reason, owner } => {
                excluded = Some(Excluded { index, reason: reason.to_string(), owner: owner.to_string() });
            }
            ExclusionOutcome::Expired { index, reason, owner, expired_on } => {
                self.stats.expired_exclusion_hits += 1;
                verdict.reasons.push(Reason::ExclusionExpired(index));
                if !self.warned_expired.contains(&index) {
                    self.warned_expired.push(index);
                    tracing::warn!(
                        "exclusion[{index}] ({reason}; owner {owner}) expired on {expired_on}; it matched a session and no longer applies"
                    );
                }
            }
        }
        if excluded.is_some() {
            // Counted once per session, however often its tier rose.
            if previous.is_none() {
                self.stats.excluded += 1;
            }
            if !self.show_excluded {
                return None;
            }
        } else {
            self.stats.alerts += 1;
        }
        if attribution.is_some() {
            self.stats.attributed += 1;
        } else if pending {
            self.stats.unattributed += 1;
        }
        let (enrichment, process_line) = match attribution {
            Some(a) => (Some(a.ecs), Some(a.summary)),
            None => (None, None),
        };
        Some(Alert {
            event_id,
            supersedes,
            detection: d,
            verdict,
            excluded,
            enrichment,
            process_line,
            attribution_pending: pending,
        })
    }
}
