//! The host's own history (`--baseline`): "has this host ever done this before". A peer
//! it talks to every day lowers the score; a new one, or one silent for a month, raises
//! it. Never below a tier that process facts floored.

use super::reason::Reason;
use super::Weight;

/// What the host history says about the internal host of a session and its peer (the
/// remote network, the service port's class and the direction), from the state before the
/// session. Filled by `baseline`; weighed only here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryFacts {
    /// The host has enough history (sessions over at least a day) for novelty to mean
    /// something.
    pub established: bool,
    /// Earlier sessions with this exact peer, and on how many distinct days.
    pub peer_sessions: u64,
    pub peer_days: u32,
    /// Days since the peer was last seen, when it was seen at all.
    pub peer_idle_days: Option<u32>,
    /// The grain at which the peer is new (`asn:7922`, `port:high`, `direction:in`).
    pub new_grain: Option<String>,
    /// The host's history is (nearly) all internal or known-service traffic.
    pub internal_only_host: bool,
    /// This session is interactive, long, and goes outside to no known service.
    pub long_interactive_outside: bool,
}

/// A peer unseen for this many days counts as new again.
pub const DORMANT_DAYS: u32 = 30;

pub(super) fn weigh(h: &HistoryFacts, w: &mut Weight) {
    let dormant = h.peer_idle_days.filter(|d| *d >= DORMANT_DAYS);
    if let Some(days) = dormant {
        w.add(Reason::PeerDormant(days), 10);
    } else if h.peer_sessions > 0 {
        // RITA-like: prevalence (sessions) and persistence (distinct days) both lower it.
        let by_count = match h.peer_sessions {
            1..=4 => 5,
            5..=19 => 10,
            _ => 15,
        };
        let by_days = if h.peer_days >= 3 { 5 } else { 0 };
        w.add(Reason::SeenBefore(h.peer_sessions), -(by_count + by_days));
    } else if let (true, Some(grain)) = (h.established, &h.new_grain) {
        w.add(Reason::FirstSeen(grain.clone()), 10);
    }
    if h.internal_only_host && h.long_interactive_outside {
        w.add(Reason::InternalOnlyHost, 15);
    }
}
