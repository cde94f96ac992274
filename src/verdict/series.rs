//! A series of check-ins (`crate::series`): a poller of the far end. A regular beacon
//! alone is at most low, unless its context is ugly (a new destination for the host, a
//! rented or residential far end reached by address or through a dynamic-DNS or tunnel
//! name, no SNI, a self-signed certificate, a TLS library's default client, an unusual
//! port); an operator's tasks over it make it medium; the process behind it (a shell or
//! an interpreter, a child of an exposed service, a binary in /tmp or deleted) makes it
//! high (`process`).

use super::context::{ContextFacts, RemoteNaming};
use super::history::HistoryFacts;
use super::reason::Reason;
use super::Weight;
use crate::context::AsnClass;
use crate::series::SeriesFacts;

pub(super) fn weigh(s: &SeriesFacts, ctx: &ContextFacts, history: Option<&HistoryFacts>, w: &mut Weight) {
    if let Some(b) = &s.beacon {
        let interval_s = b.interval_s.round() as u32;
        let jitter_pct = (b.jitter * 100.0).round().min(255.0) as u8;
        w.add(Reason::Beacon { interval_s, jitter_pct, checkins: b.checkins }, 20);
    }
    if s.long_poll() {
        w.add(Reason::LongPoll, 5);
    }
    // Tasks count over a poller: regular check-ins, or mostly answers the server held.
    let poller = s.beacon.is_some() || s.long_poll();
    if let Some(o) = s.operator.as_ref().filter(|_| poller) {
        // More tasks raise it, as more exchanges do for a shell.
        let points = match o.tasks {
            1 => 30,
            2 => 35,
            _ => 40,
        };
        w.add(Reason::OperatorTasks(o.tasks), points);
        if o.fast_checkins >= 2 {
            w.add(Reason::CheckinsSpedUp, 5);
        }
    }
    // What makes a quiet beacon worth more than low.
    let rented =
        matches!(ctx.remote_class, Some(AsnClass::Hosting | AsnClass::Residential | AsnClass::Mobile));
    let by_address_or_throwaway_name =
        matches!(ctx.remote_naming, RemoteNaming::DirectIp | RemoteNaming::Named(Some(_)));
    let mut ugly = 0;
    if rented && by_address_or_throwaway_name {
        ugly += 1;
    }
    if let RemoteNaming::Named(Some(service)) = ctx.remote_naming {
        w.add(Reason::NameService(service), 10);
        ugly += 1;
    }
    if s.tls.no_sni {
        w.add(Reason::TlsNoSni, 5);
        ugly += 1;
    }
    if s.tls.self_signed {
        w.add(Reason::TlsSelfSigned, 5);
        ugly += 1;
    }
    if s.tls.library {
        w.add(Reason::TlsLibraryClient, 5);
        ugly += 1;
    }
    if s.unusual_port {
        w.add(Reason::HighPort, 5);
        ugly += 1;
    }
    if history.is_some_and(|h| h.established && h.new_grain.is_some() && h.peer_sessions == 0) {
        ugly += 1;
    }
    if !(poller && s.operator.is_some()) && ugly < 2 {
        w.cap_low();
    }
}
