//! Evidence and context in, score, tier and reasons out. `decide` below is the only place
//! tiers are decided: a reader who wants to know why something is high starts there.
//!
//! Points, not a single threshold. Each kind of evidence has its file and adds points with
//! their reasons: the network (turn-taking, tells, stagers, ports, protocol), the TLS
//! handshake and the remote end's name, where the session sits, the process behind it,
//! and the host's history. The defaults follow the article the project comes from: high
//! for shells that are children of exposed services, medium for unusual outbound shell
//! networking from servers, low for workstations unless the destination, parent or
//! command line is ugly. People typing at a protocol made for it (ssh, telnet, database
//! shells) stay at most low on network evidence alone, and so does a datagram flow whose
//! only evidence is turn-taking.

pub mod context;
pub mod history;
pub mod injection;
pub mod names;
pub mod network;
pub mod process;
pub mod reason;
pub mod remote_exec;
pub mod series;
pub mod webshell;

pub use context::{ContextFacts, RemoteNaming};
pub use history::{HistoryFacts, DORMANT_DAYS};
pub use injection::Injection;
pub use network::{assess_network, is_candidate, NetworkFindings, Ports};
pub use process::ProcessFacts;
pub use reason::Reason;

use crate::evidence::inside::InsideFacts;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Low,
    Medium,
    High,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Medium => "medium",
            Tier::High => "high",
        }
    }
    /// ECS `event.severity`.
    pub fn severity(self) -> u8 {
        match self {
            Tier::Low => 21,
            Tier::Medium => 47,
            Tier::High => 73,
        }
    }
    fn from_score(score: i32) -> Option<Tier> {
        match score {
            s if s >= HIGH_SCORE => Some(Tier::High),
            s if s >= MEDIUM_SCORE => Some(Tier::Medium),
            s if s >= LOW_SCORE => Some(Tier::Low),
            _ => None,
        }
    }
}

pub const LOW_SCORE: i32 = 20;
pub const MEDIUM_SCORE: i32 = 45;
pub const HIGH_SCORE: i32 = 70;
/// The ladder for shells that say little: points for exchanges in the order a reverse shell
/// speaks (the far end types first after quiet, the host answers at once, the line goes
/// quiet). One exchange needs strong context to reach medium (a rented or residential
/// far end, no SNI, a self-signed certificate, a direct-IP callback, an odd port); two
/// need less; from the third, turn-taking statistics take over (`reverse-interactive`).
pub fn exchange_points(exchanges: u8) -> i32 {
    match exchanges {
        0 => 0,
        1 => 30,
        2 => 35,
        _ => 40,
    }
}

/// The most a session may score (below medium) when its network evidence is of a kind
/// that is ordinary: typing at an interactive protocol, turn-taking alone over UDP.
const ORDINARY_CAP: i32 = MEDIUM_SCORE - 1;

/// The decision for one session at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: i32,
    pub tier: Option<Tier>,
    pub reasons: Vec<Reason>,
}

impl Verdict {
    pub fn has(&self, kind: &str) -> bool {
        self.reasons.iter().any(|r| r.kind() == kind)
    }
}

/// Everything known of a session when it is judged.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub network: &'a NetworkFindings,
    pub context: &'a ContextFacts,
    /// From the host agent, auditd or Sysmon, once the socket is attributed.
    pub process: Option<&'a ProcessFacts>,
    /// From the host history (`--baseline`).
    pub history: Option<&'a HistoryFacts>,
    /// The session carried a command injection, or answered one.
    pub injection: Option<&'a Injection>,
    /// What the session's HTTP or SMB exchanges showed.
    pub inside: Option<&'a InsideFacts>,
    /// A series of check-ins (a poller) between the host and the remote end.
    pub series: Option<&'a crate::series::SeriesFacts>,
}

/// Points and reasons as each kind of evidence adds them, and the tier a rule demands.
#[derive(Debug, Default)]
pub(crate) struct Weight {
    points: i32,
    reasons: Vec<Reason>,
    floor: Option<Tier>,
    /// The evidence is of a kind that stays below medium on its own.
    capped: bool,
}

impl Weight {
    pub(crate) fn add(&mut self, reason: Reason, points: i32) {
        self.points += points;
        self.reasons.push(reason);
    }
    pub(crate) fn floor(&mut self, tier: Tier) {
        self.floor = self.floor.max(Some(tier));
    }
    pub(crate) fn cap_low(&mut self) {
        self.capped = true;
    }
}

/// Weighs every fact and decides the tier.
pub fn decide(f: &Facts<'_>) -> Verdict {
    let net = f.network;
    let mut w = Weight { points: net.points, reasons: net.reasons.clone(), floor: None, capped: false };
    context::weigh(net, f.context, &mut w);
    names::weigh(net, f.context, &mut w);
    if let Some(s) = f.series {
        series::weigh(s, f.context, f.history, &mut w);
    }
    if let Some(p) = f.process {
        process::weigh(net, f.context, p, f.series.is_some(), &mut w);
    }
    if let Some(h) = f.history {
        history::weigh(h, &mut w);
    }
    if let Some(i) = f.injection {
        injection::weigh(i, &mut w);
    }
    match f.inside {
        Some(InsideFacts::Web(web)) => webshell::weigh(web, f.context, &mut w),
        Some(InsideFacts::Smb(smb)) => remote_exec::weigh(smb, f.context, &mut w),
        None => {}
    }
    // Ordinary network evidence stays below medium unless the process behind it is a
    // shell wired to the socket or under an exposed service.
    let ordinary = net.service_port.is_some() || net.needs_more || w.capped;
    if ordinary && w.floor != Some(Tier::High) {
        w.points = w.points.min(ORDINARY_CAP);
    }
    let score = w.points.clamp(0, 100);
    let tier = match (Tier::from_score(score), w.floor) {
        (Some(t), Some(floor)) => Some(t.max(floor)),
        (t, floor) => t.or(floor),
    };
    Verdict { score, tier, reasons: w.reasons }
}

#[cfg(test)]
mod tests;
