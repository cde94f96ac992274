//! The last stage before output: joins a detection with process context (when an
//! attributor is present), re-judges it with that context, applies site exclusions and
//! reports each session again only when its tier rises.

use crate::config::{ExclusionOutcome, ExclusionQuery};
use crate::context::resolve::Context;
use crate::detect::Detection;
use crate::evidence::Dir;
use crate::verdict::{self, ProcessFacts, Tier, Verdict};
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
}

pub struct Reporter {
    context: Arc<Context>,
    attributor: Option<Box<dyn Attributor>>,
    /// Per session: the tier last reported and that record's id.
    last: HashMap<String, (Tier, String, u16)>,
    show_excluded: bool,
    warned_expired: Vec<usize>,
    pub stats: ReportStats,
}

impl Reporter {
    pub fn new(context: Arc<Context>, attributor: Option<Box<dyn Attributor>>, show_excluded: bool) -> Self {
        Reporter {
            context,
            attributor,
            last: HashMap::new(),
            show_excluded,
            warned_expired: Vec::new(),
            stats: ReportStats::default(),
        }
    }

    /// Turns a detection into the alert to print, or `None` when it is excluded (and
    /// excluded alerts are not shown) or does not raise the session's reported tier.
    pub fn handle(&mut self, d: Detection) -> Option<Alert> {
        let attribution = self.attributor.as_mut().and_then(|a| a.attribute(&d));
        let verdict = match &attribution {
            Some(a) => verdict::decide(&d.findings, &d.placement.facts, Some(&a.facts)),
            None => d.verdict.clone(),
        };
        let mut verdict = verdict;
        if d.direction_inferred && !verdict.reasons.iter().any(|r| r == "direction-inferred") {
            verdict.reasons.push("direction-inferred".into());
        }
        let tier = verdict.tier?;
        let previous = self.last.get(&d.session_id).cloned();
        if previous.as_ref().is_some_and(|(t, _, _)| *t >= tier) {
            return None;
        }
        let seq = previous.as_ref().map_or(1, |p| p.2 + 1);
        let event_id = format!("{}-{seq}", d.session_id);
        let supersedes = previous.map(|p| p.1);
        if supersedes.is_some() {
            self.stats.upgrades += 1;
        }
        self.last.insert(d.session_id.clone(), (tier, event_id.clone(), seq));

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
                verdict.reasons.push(format!("exclusion-expired:{index}"));
                if !self.warned_expired.contains(&index) {
                    self.warned_expired.push(index);
                    tracing::warn!(
                        "exclusion[{index}] ({reason}; owner {owner}) expired on {expired_on}; it matched a session and no longer applies"
                    );
                }
            }
        }
        if excluded.is_some() {
            self.stats.excluded += 1;
            if !self.show_excluded {
                return None;
            }
        } else {
            self.stats.alerts += 1;
        }
        if attribution.is_some() {
            self.stats.attributed += 1;
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
            attribution_pending: false,
        })
    }
}
