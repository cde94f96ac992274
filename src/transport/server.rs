//! The sensor's listener for agents. It runs on its own thread with a small tokio
//! runtime; every authenticated agent's records go into the shared inventory cache.
//! Every peer that is turned away is counted by why, so the sensor's stats record shows
//! a scan, a misconfigured agent or an expired certificate without reading logs.

use super::tls::ServerTls;
use super::{read_message, read_message_within, token_matches, write_message, ChannelIo, Message};
use super::{MAX_HELLO, PROTOCOL_VERSION};
use crate::error::{Error, Result};
use crate::join::InventoryCache;
use crate::time::Timestamp;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};

/// An agent must finish the TLS handshake and say hello within this.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// More agents than this at once are turned away.
const MAX_AGENTS: usize = 4096;

/// What the listener has seen; read by the sensor's stats record.
#[derive(Debug, Default)]
pub struct ChannelCounters {
    pub connections: AtomicU64,
    pub authenticated: AtomicU64,
    pub active: AtomicUsize,
    pub rejected_token: AtomicU64,
    pub rejected_version: AtomicU64,
    /// Mutual TLS: the host an agent named in its hello is not on its certificate.
    pub rejected_host: AtomicU64,
    /// Handshakes that failed: no or a wrong client certificate, not TLS at all.
    pub rejected_tls: AtomicU64,
    /// No handshake or hello within [`HELLO_TIMEOUT`] (silent or slow peers).
    pub hello_timeouts: AtomicU64,
    /// Frames that were not messages, or over the size limit; the peer is dropped.
    pub malformed: AtomicU64,
    pub turned_away: AtomicU64,
    /// Connected and closed without a hello: port probes, health checks.
    pub closed_early: AtomicU64,
    pub messages: AtomicU64,
    pub records: AtomicU64,
}

impl ChannelCounters {
    pub fn json(&self) -> serde_json::Value {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "connections": n(&self.connections),
            "authenticated": n(&self.authenticated),
            "active": self.active.load(Ordering::Relaxed),
            "rejected_token": n(&self.rejected_token),
            "rejected_version": n(&self.rejected_version),
            "rejected_host": n(&self.rejected_host),
            "rejected_tls": n(&self.rejected_tls),
            "hello_timeouts": n(&self.hello_timeouts),
            "malformed": n(&self.malformed),
            "turned_away": n(&self.turned_away),
            "closed_early": n(&self.closed_early),
            "messages": n(&self.messages),
            "records": n(&self.records),
        })
    }
}

/// How the listener authenticates agents.
pub struct ServerAuth {
    pub token: super::Token,
    pub tls: Option<ServerTls>,
    /// With mutual TLS, accept whatever host name an agent reports, not only one its
    /// certificate names (a fleet that shares one certificate).
    pub any_host: bool,
}

/// A running listener.
pub struct AgentServer {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub local_addr: SocketAddr,
    pub counters: Arc<ChannelCounters>,
}

struct Shared {
    auth: ServerAuth,
    cache: Arc<Mutex<InventoryCache>>,
    counters: Arc<ChannelCounters>,
}

impl AgentServer {
    /// Binds `addr` and starts accepting agents that authenticate with `auth`.
    pub fn start(addr: &str, auth: ServerAuth, cache: Arc<Mutex<InventoryCache>>) -> Result<Self> {
        let std_listener = std::net::TcpListener::bind(addr)
            .map_err(|e| Error::runtime(format!("--agent-listen {addr}: {e}")))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| Error::runtime(format!("--agent-listen {addr}: {e}")))?;
        let local_addr = std_listener.local_addr().map_err(|e| Error::runtime(e.to_string()))?;
        let (stop, mut stopped) = watch::channel(false);
        let counters = Arc::new(ChannelCounters::default());
        let tls = match &auth.tls {
            Some(t) if t.mutual => "mutual TLS",
            Some(_) => "TLS",
            None => "plain TCP",
        };
        let shared = Arc::new(Shared { auth, cache, counters: counters.clone() });
        let thread = std::thread::Builder::new()
            .name("agent-listen".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!("agent listener: cannot start its runtime: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("agent listener: {e}");
                            return;
                        }
                    };
                    loop {
                        tokio::select! {
                            _ = stopped.changed() => break,
                            accepted = listener.accept() => {
                                let Ok((stream, peer)) = accepted else { continue };
                                shared.counters.connections.fetch_add(1, Ordering::Relaxed);
                                if shared.counters.active.load(Ordering::Relaxed) >= MAX_AGENTS {
                                    shared.counters.turned_away.fetch_add(1, Ordering::Relaxed);
                                    tracing::warn!("agent from {peer} turned away: {MAX_AGENTS} agents already connected");
                                    continue;
                                }
                                shared.counters.active.fetch_add(1, Ordering::Relaxed);
                                let shared = shared.clone();
                                tokio::spawn(async move {
                                    serve(stream, peer, &shared).await;
                                    shared.counters.active.fetch_sub(1, Ordering::Relaxed);
                                });
                            }
                        }
                    }
                });
            })
            .map_err(|e| Error::runtime(format!("cannot start the agent listener: {e}")))?;
        tracing::info!("listening for agents on {local_addr} ({tls})");
        Ok(AgentServer { stop, thread: Some(thread), local_addr, counters })
    }

    pub fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One peer, from accept to disconnect. The handshake and the hello share one deadline,
/// so a peer that sends nothing, or a byte at a time, holds a slot for at most
/// [`HELLO_TIMEOUT`].
async fn serve(tcp: TcpStream, peer: SocketAddr, shared: &Shared) {
    let _ = tcp.set_nodelay(true);
    let deadline = Instant::now() + HELLO_TIMEOUT;
    let outcome = match &shared.auth.tls {
        None => serve_stream(tcp, peer, shared, deadline, None).await,
        Some(tls) => match timeout_at(deadline, tls.acceptor().accept(tcp)).await {
            Ok(Ok(stream)) => {
                // The names the agent's certificate vouches for; its hello must use one.
                let names = (tls.mutual && !shared.auth.any_host).then(|| {
                    let leaf = stream.get_ref().1.peer_certificates().and_then(|c| c.first());
                    leaf.map(|der| super::tls::certificate_host_names(der)).unwrap_or_default()
                });
                serve_stream(stream, peer, shared, deadline, names.as_deref()).await
            }
            // A port probe or a health check: connected and closed without a byte.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                shared.counters.closed_early.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("agent from {peer} closed before its handshake");
                return;
            }
            Ok(Err(e)) => {
                shared.counters.rejected_tls.fetch_add(1, Ordering::Relaxed);
                Err(format!("rejected: TLS handshake failed: {e}"))
            }
            Err(_) => {
                shared.counters.hello_timeouts.fetch_add(1, Ordering::Relaxed);
                Err("rejected: no TLS handshake in time".to_string())
            }
        },
    };
    if let Err(why) = outcome {
        tracing::warn!("agent from {peer} {why}");
    }
}

/// `cert_names`: with mutual TLS, the host names the agent's certificate vouches for.
async fn serve_stream<S: ChannelIo>(
    mut stream: S,
    peer: SocketAddr,
    shared: &Shared,
    deadline: Instant,
    cert_names: Option<&[String]>,
) -> std::result::Result<(), String> {
    let counters = &shared.counters;
    let mut buf = BytesMut::new();
    let hello = timeout_at(deadline, read_message_within(&mut stream, &mut buf, MAX_HELLO)).await;
    let (host, boot_id) = match hello {
        Ok(Ok(Some(Message::Hello { version, token: got, host, boot_id }))) => {
            if !token_matches(&shared.auth.token, &got) {
                counters.rejected_token.fetch_add(1, Ordering::Relaxed);
                return reject(&mut stream, "bad token").await;
            }
            if version != PROTOCOL_VERSION {
                counters.rejected_version.fetch_add(1, Ordering::Relaxed);
                let why = format!("protocol version {version}, expected {PROTOCOL_VERSION}");
                return reject(&mut stream, &why).await;
            }
            // Without this, any enrolled agent could report sockets as another host's.
            if let Some(names) = cert_names.filter(|names| !super::tls::host_is_named(&host, names)) {
                counters.rejected_host.fetch_add(1, Ordering::Relaxed);
                let why =
                    format!("host {host:?} is not named on the client certificate ({})", names.join(", "));
                return reject(&mut stream, &why).await;
            }
            (host, boot_id)
        }
        Ok(Ok(None)) => {
            counters.closed_early.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("agent from {peer} closed before its hello");
            return Ok(());
        }
        Ok(Ok(_)) => {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            return reject(&mut stream, "no hello").await;
        }
        Ok(Err(e)) => {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            return reject(&mut stream, &format!("unreadable hello: {e}")).await;
        }
        Err(_) => {
            counters.hello_timeouts.fetch_add(1, Ordering::Relaxed);
            return reject(&mut stream, "no hello in time").await;
        }
    };
    write_message(&mut stream, &Message::Welcome).await.map_err(|e| e.to_string())?;
    counters.authenticated.fetch_add(1, Ordering::Relaxed);
    tracing::info!("agent {host} connected from {peer}");
    let mut snapshot_started: Option<Timestamp> = None;
    loop {
        let msg = match read_message(&mut stream, &mut buf).await {
            Ok(Some(msg)) => msg,
            Ok(None) => break,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                return Err(format!("({host}) dropped: {e}"));
            }
            Err(e) => return Err(format!("({host}): {e}")),
        };
        counters.messages.fetch_add(1, Ordering::Relaxed);
        let Ok(mut c) = shared.cache.lock() else { break };
        match msg {
            Message::Snapshot { records, last } => {
                counters.records.fetch_add(records.len() as u64, Ordering::Relaxed);
                let started = *snapshot_started.get_or_insert_with(|| {
                    records.first().map_or(Timestamp::ZERO, |r| Timestamp::from_nanos(r.observed_ns))
                });
                for r in records {
                    c.ingest(r);
                }
                if last {
                    c.end_snapshot(&boot_id, started);
                    c.expire();
                    snapshot_started = None;
                }
            }
            Message::Delta { records } => {
                counters.records.fetch_add(records.len() as u64, Ordering::Relaxed);
                for r in records {
                    c.ingest(r);
                }
            }
            Message::Nat { entries, .. } => {
                for e in &entries {
                    c.ingest_nat(e);
                }
            }
            Message::Execs { records } => {
                for r in records {
                    c.ingest_exec(r);
                }
            }
            Message::Hello { .. } | Message::Welcome | Message::Rejected { .. } => {}
        }
    }
    tracing::info!("agent {host} ({peer}) disconnected");
    Ok(())
}

/// Tells the peer why (it may be a misconfigured agent), then closes.
async fn reject<S: ChannelIo>(stream: &mut S, reason: &str) -> std::result::Result<(), String> {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        write_message(stream, &Message::Rejected { reason: reason.to_string() }),
    )
    .await;
    Err(format!("rejected: {reason}"))
}
