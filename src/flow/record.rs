//! What a finished session leaves behind: its counters (`SessionSummary`, also in every
//! alert) and its record (`--flows`, and what the host history learns from).

use super::key::Endpoint;
use super::table::EndReason;
use crate::decode::Transport;
use crate::time::Timestamp;
use crate::verdict::Tier;

/// The counters behind a decision, reported in `shellsight.session`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SessionSummary {
    pub duration_s: f64,
    pub orig: crate::evidence::DirStats,
    pub resp: crate::evidence::DirStats,
    pub orig_turns: crate::evidence::turns::TurnStats,
    pub resp_turns: crate::evidence::turns::TurnStats,
    /// What the session speaks (ECS `network.protocol`), when a protocol was identified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
    pub protocol_orig: &'static str,
    pub protocol_resp: &'static str,
    pub typed_lines_orig: crate::evidence::Lines,
    pub typed_lines_resp: crate::evidence::Lines,
    pub prompts: [u16; 2],
}

/// A finished session, for `--flows`.
#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub session_id: String,
    pub transport: Transport,
    pub start: Timestamp,
    pub end: Timestamp,
    pub source: Endpoint,
    pub destination: Endpoint,
    pub direction_inferred: bool,
    pub end_reason: EndReason,
    pub reported: Option<Tier>,
    /// A person typed into it (for the host history's interactive-session count).
    pub interactive: bool,
    pub summary: SessionSummary,
}
