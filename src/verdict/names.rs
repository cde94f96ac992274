//! The TLS handshake and the remote end's name: a library's default client that names no
//! server, a self-signed certificate, a direct-IP callback or a dynamic-DNS name are how a
//! catcher on a rented server looks; a browser-like client that names its server and
//! offers HTTP is not. They corroborate a session that already looks typed into; they
//! make none.

use super::context::{ContextFacts, RemoteNaming};
use super::network::NetworkFindings;
use super::reason::Reason;
use super::Weight;

pub(super) fn weigh(net: &NetworkFindings, ctx: &ContextFacts, w: &mut Weight) {
    if let Some(h) = net.handshake {
        if h.no_sni {
            w.add(Reason::TlsNoSni, 5);
        } else if h.browser_like {
            w.add(Reason::TlsBrowserLike, -10);
        }
        if h.self_signed {
            w.add(Reason::TlsSelfSigned, 10);
        }
        if h.library {
            w.add(Reason::TlsLibraryClient, 5);
        }
    }
    // Hobbyists run MQTT to dynamic-DNS names all day: the name weighs only on sessions
    // whose own evidence already looks like a shell.
    if !net.corroborated {
        return;
    }
    match ctx.remote_naming {
        RemoteNaming::DirectIp if !net.ssh => w.add(Reason::DirectIp, 5),
        RemoteNaming::Named(Some(service)) => w.add(Reason::NameService(service), 15),
        RemoteNaming::DirectIp | RemoteNaming::Named(None) | RemoteNaming::Unknown => {}
    }
}
