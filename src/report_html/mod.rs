//! The HTML investigation report (`replay --report FILE`): one self-contained page (inline
//! CSS, script and SVG) with the capture summary, counts per tier, a sortable table of
//! every alert and, for the top sessions, a timeline chart of their packets with the
//! evidence marked.
//!
//! The interface is `InvestigationReport`: the pipeline hands it each alert as it is
//! written and each reported session's timeline as the session ends (`timeline.rs`
//! records them, only when a report was asked for); `write` renders the page at the end.
//! Memory stays bounded: a small row per alert, and timelines for the top sessions only.

mod chart;
mod page;
pub mod timeline;

use crate::error::{Error, Result};
use crate::evidence::Dir;
use crate::pipeline::Summary;
use crate::report::Alert;
use crate::time::Timestamp;
use crate::verdict::Tier;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use timeline::SessionTimeline;

/// Sessions that get a chart unless `--report-top` says otherwise.
pub const DEFAULT_TOP: usize = 25;

/// One alert record, as the table shows it.
#[derive(Debug, Clone)]
struct AlertRow {
    event_id: String,
    session_id: String,
    decided_at: Timestamp,
    tier: Option<Tier>,
    score: i32,
    rule: &'static str,
    transport: &'static str,
    source: String,
    destination: String,
    /// The remote end's network (`AS7922 Comcast …`), when known.
    remote_network: Option<String>,
    shell_side: Dir,
    reasons: Vec<String>,
    /// The attributed process in one line, when an inventory was joined.
    process: Option<String>,
    /// Commands run over the socket (argv joined), when an inventory was joined.
    commands: Vec<String>,
    excluded: bool,
}

/// How a session ranks for a chart: highest tier, then highest score.
type Rank = (Option<Tier>, i32);

/// Collects what the report shows while the capture is read; renders it at the end.
pub struct InvestigationReport {
    path: PathBuf,
    file: File,
    top: usize,
    inputs: Vec<String>,
    rows: Vec<AlertRow>,
    /// Each alerted session's best rank so far.
    ranks: HashMap<String, Rank>,
    /// Timelines of the best-ranked finished sessions, at most `top`.
    timelines: Vec<(Rank, SessionTimeline)>,
}

impl InvestigationReport {
    /// Creates the file now, so that a bad path fails before the capture is read.
    /// `inputs` names the capture files in the summary; `top` sessions get a chart.
    pub fn create(path: &Path, top: usize, inputs: &[PathBuf]) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::runtime(format!("{}: {e}", path.display())))?;
        Ok(InvestigationReport {
            path: path.to_path_buf(),
            file,
            top,
            inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
            rows: Vec::new(),
            ranks: HashMap::new(),
            timelines: Vec::new(),
        })
    }

    /// Takes one alert record as it is written.
    pub fn alert(&mut self, a: &Alert) {
        let d = &a.detection;
        let remote = d.placement.remote_network.as_ref().map(|n| format!("AS{} {}", n.asn, n.organization));
        let process = a.enrichment.as_ref().and_then(process_line).or_else(|| a.process_line.clone());
        let commands = a.enrichment.as_ref().map(commands_of).unwrap_or_default();
        let row = AlertRow {
            event_id: a.event_id.clone(),
            session_id: d.session_id.clone(),
            decided_at: d.decided_at,
            tier: a.verdict.tier,
            score: a.verdict.score,
            rule: crate::output::ecs::rule_name(&a.verdict.reasons, d.shell_side),
            transport: d.transport.as_str(),
            source: format!("{}:{}", d.source.ip, d.source.port),
            destination: format!("{}:{}", d.destination.ip, d.destination.port),
            remote_network: remote,
            shell_side: d.shell_side,
            reasons: crate::verdict::reason::strings(&a.verdict.reasons),
            process,
            commands,
            excluded: a.excluded.is_some(),
        };
        let rank = self.ranks.entry(row.session_id.clone()).or_insert((None, i32::MIN));
        *rank = (*rank).max((row.tier, row.score));
        self.rows.push(row);
    }

    /// Takes a reported session's timeline as the session ends; keeps the `top` best.
    pub fn timeline(&mut self, t: SessionTimeline) {
        let Some(&rank) = self.ranks.get(&t.session_id) else { return };
        if self.top == 0 {
            return;
        }
        self.timelines.push((rank, t));
        if self.timelines.len() > self.top {
            // Drop the lowest rank; among equals the latest session (so the earliest stay).
            let worst = (0..self.timelines.len())
                .min_by(|&a, &b| {
                    let (ra, ta) = &self.timelines[a];
                    let (rb, tb) = &self.timelines[b];
                    ra.cmp(rb).then(tb.start.cmp(&ta.start)).then(tb.session_id.cmp(&ta.session_id))
                })
                .expect("not empty");
            self.timelines.swap_remove(worst);
        }
    }

    /// Renders the page and writes it.
    pub fn write(mut self, summary: &Summary) -> Result<()> {
        let mut charts = std::mem::take(&mut self.timelines);
        charts.sort_by(|(ra, ta), (rb, tb)| {
            rb.cmp(ra).then(ta.start.cmp(&tb.start)).then(ta.session_id.cmp(&tb.session_id))
        });
        let html = page::render(&self, summary, &charts);
        self.file
            .write_all(html.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::runtime(format!("{}: {e}", self.path.display())))
    }
}

/// `name (pid N) ← parent, user U`: the attributed process in one line.
fn process_line(e: &serde_json::Value) -> Option<String> {
    let p = &e["process"];
    let name = p["name"].as_str()?;
    let mut line = format!("{name} (pid {})", p["pid"]);
    if let Some(parent) = p["parent"]["name"].as_str() {
        line.push_str(&format!(" ← {parent}"));
    }
    if let Some(user) = e["user"]["name"].as_str() {
        line.push_str(&format!(", user {user}"));
    }
    if let Some(c) = e["shellsight"]["process"]["connector"]["name"].as_str() {
        line.push_str(&format!(", via {c}"));
    }
    Some(line)
}

/// The commands run over the socket, each as its argv joined by spaces.
fn commands_of(e: &serde_json::Value) -> Vec<String> {
    let Some(list) = e["shellsight"]["process"]["commands"].as_array() else { return Vec::new() };
    // A command known only from its exit report has a name and no argv.
    list.iter()
        .map(|c| match c["command_line"].as_str() {
            Some(line) if !line.is_empty() => line.to_string(),
            _ => c["name"].as_str().unwrap_or("?").to_string(),
        })
        .collect()
}
