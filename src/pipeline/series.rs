//! The series stage of the pipeline: check-ins from every shard, in capture order, into
//! the bounded series table; a series is judged at each check-in once it has enough, and
//! reported as one alert updated as it grows (its id is the series', so each report
//! supersedes the last).

use crate::baseline::model::History;
use crate::baseline::Peering;
use crate::context::resolve::Context;
use crate::detect::{Detection, SessionSummary};
use crate::evidence::Dir;
use crate::names::services;
use crate::protocols;
use crate::series::{Checkin, SeriesTable};
use crate::verdict::{self, Facts, NetworkFindings, RemoteNaming};

pub(super) struct SeriesStage {
    pub table: SeriesTable,
}

impl SeriesStage {
    pub fn new(max_series: usize) -> Self {
        SeriesStage { table: SeriesTable::new(max_series) }
    }

    /// Adds a check-in; returns a detection when its series' tier rose.
    pub fn checkin(&mut self, c: &Checkin, ctx: &Context, history: Option<&History>) -> Option<Detection> {
        // Shards hand over only pollable sessions' bursts; the protocol may have been
        // named since.
        if !crate::series::pollable(c.transport, c.protocol) {
            return None;
        }
        // An implant checks out from the host it runs on; requests from outside to a home
        // server (a webshell driven page by page, an uptime monitor) are that server's
        // visitors, judged as sessions.
        if ctx.is_home(c.server.ip) && !ctx.is_home(c.client.ip) {
            return None;
        }
        let (key, series) = self.table.add(c)?;
        let facts = series.facts(&key);
        if facts.beacon.is_none() && facts.operator.is_none() {
            return None;
        }
        let (client, server) = (series.latest_client, c.server);
        let operator = facts.operator.is_some();
        let mut network = NetworkFindings::none(Dir::Orig);
        network.someone_typing = operator;
        network.corroborated = operator;
        // The far end speaks what its port is for: a cloud service on its usual port.
        let remote_speaks = series.protocol.is_some_and(|p| {
            protocols::service(c.transport, server.port).is_some_and(|svc| svc.protocol == p)
        });
        let mut placement = ctx.place(client, server, client, server, remote_speaks, c.at);
        if !ctx.is_home(server.ip) {
            placement.facts.remote_naming = match &series.name {
                Some(n) => RemoteNaming::Named(services::classify(n)),
                None => RemoteNaming::DirectIp,
            };
            placement.remote_domain = series.name.clone();
        }
        let peering =
            Peering { orig: client, resp: server, shell: client, interactive: false, start: facts.first };
        let history = history.and_then(|h| crate::baseline::facts_for(h, ctx, peering, &placement, c.at));
        let v = verdict::decide(&Facts {
            network: &network,
            context: &placement.facts,
            process: None,
            history: history.as_ref(),
            injection: None,
            inside: None,
            series: Some(&facts),
        });
        let tier = v.tier?;
        // A check-in whose session was already reported at this tier or above is told by
        // that session's own, more specific alert: a held reverse shell's turns read like
        // a long-poll, a webshell's requests like check-ins.
        if c.session_reported.is_some_and(|r| r >= tier) {
            return None;
        }
        if series.reported.is_some_and(|r| r >= tier) {
            return None;
        }
        series.reported = Some(tier);
        series.reports += 1;
        Some(Detection {
            session_id: key.id(),
            transport: c.transport,
            sequence: series.reports,
            decided_at: c.at,
            session_start: facts.first,
            source: client,
            destination: server,
            direction_inferred: false,
            shell_side: Dir::Orig,
            findings: network,
            placement,
            verdict: v,
            history,
            summary: SessionSummary::default(),
            tls: None,
            injection: None,
            inside: None,
            series: Some(Box::new(facts)),
        })
    }
}
