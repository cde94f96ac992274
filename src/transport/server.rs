//! The sensor's listener for agents. It runs on its own thread with a small tokio
//! runtime; every authenticated agent's records go into the shared inventory cache.

use super::{read_message, token_matches, write_message, Message, PROTOCOL_VERSION};
use crate::error::{Error, Result};
use crate::join::InventoryCache;
use crate::time::Timestamp;
use bytes::BytesMut;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// An agent must say hello within this.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// More agents than this at once are turned away.
const MAX_AGENTS: usize = 4096;

/// A running listener.
pub struct AgentServer {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub local_addr: std::net::SocketAddr,
}

impl AgentServer {
    /// Binds `addr` and starts accepting agents that present `token`.
    pub fn start(addr: &str, token: String, cache: Arc<Mutex<InventoryCache>>) -> Result<Self> {
        let std_listener = std::net::TcpListener::bind(addr)
            .map_err(|e| Error::runtime(format!("--agent-listen {addr}: {e}")))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| Error::runtime(format!("--agent-listen {addr}: {e}")))?;
        let local_addr = std_listener.local_addr().map_err(|e| Error::runtime(e.to_string()))?;
        let (stop, mut stopped) = watch::channel(false);
        let token = Arc::new(token);
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
                    let active = Arc::new(AtomicUsize::new(0));
                    loop {
                        tokio::select! {
                            _ = stopped.changed() => break,
                            accepted = listener.accept() => {
                                let Ok((stream, peer)) = accepted else { continue };
                                if active.load(Ordering::Relaxed) >= MAX_AGENTS {
                                    tracing::warn!("agent from {peer} turned away: {MAX_AGENTS} agents already connected");
                                    continue;
                                }
                                active.fetch_add(1, Ordering::Relaxed);
                                let (token, cache, active) = (token.clone(), cache.clone(), active.clone());
                                tokio::spawn(async move {
                                    if let Err(e) = serve_agent(stream, &token, &cache).await {
                                        tracing::warn!("agent {peer}: {e}");
                                    }
                                    active.fetch_sub(1, Ordering::Relaxed);
                                });
                            }
                        }
                    }
                });
            })
            .map_err(|e| Error::runtime(format!("cannot start the agent listener: {e}")))?;
        tracing::info!("listening for agents on {local_addr}");
        Ok(AgentServer { stop, thread: Some(thread), local_addr })
    }

    pub fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve_agent(
    mut stream: TcpStream,
    token: &str,
    cache: &Mutex<InventoryCache>,
) -> std::io::Result<()> {
    let peer = stream.peer_addr()?;
    let mut buf = BytesMut::new();
    let hello = tokio::time::timeout(HELLO_TIMEOUT, read_message(&mut stream, &mut buf)).await;
    let (host, boot_id) = match hello {
        Ok(Ok(Some(Message::Hello { version, token: got, host, boot_id }))) => {
            if !token_matches(token, &got) {
                return reject(&mut stream, peer, "bad token").await;
            }
            if version != PROTOCOL_VERSION {
                return reject(
                    &mut stream,
                    peer,
                    &format!("protocol version {version}, expected {PROTOCOL_VERSION}"),
                )
                .await;
            }
            (host, boot_id)
        }
        Ok(Ok(_)) => return reject(&mut stream, peer, "no hello").await,
        Ok(Err(e)) => return reject(&mut stream, peer, &format!("unreadable hello: {e}")).await,
        Err(_) => return reject(&mut stream, peer, "no hello in time").await,
    };
    write_message(&mut stream, &Message::Welcome).await?;
    tracing::info!("agent {host} connected from {peer}");
    let mut snapshot_started: Option<Timestamp> = None;
    while let Some(msg) = read_message(&mut stream, &mut buf).await? {
        let Ok(mut c) = cache.lock() else { break };
        match msg {
            Message::Snapshot { records, last } => {
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
                for r in records {
                    c.ingest(r);
                }
            }
            Message::Nat { entries, .. } => {
                for e in &entries {
                    c.ingest_nat(e);
                }
            }
            Message::Hello { .. } | Message::Welcome | Message::Rejected { .. } => {}
        }
    }
    tracing::info!("agent {host} ({peer}) disconnected");
    Ok(())
}

async fn reject(stream: &mut TcpStream, peer: std::net::SocketAddr, reason: &str) -> std::io::Result<()> {
    tracing::warn!("agent from {peer} rejected: {reason}");
    let _ = write_message(stream, &Message::Rejected { reason: reason.to_string() }).await;
    Ok(())
}
