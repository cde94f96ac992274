//! The agent's side: streams snapshots and deltas to a sensor. The agent's scan loop is
//! synchronous and hands batches to a tokio thread through a bounded queue; the thread
//! keeps the connection, reconnects with backoff, and asks the scan loop for a full
//! snapshot after every (re)connect, since deltas mean nothing without one.

use super::tls::ClientTls;
use super::{
    encode_body, read_message, write_body, ChannelIo, Message, MAX_FRAME, PROTOCOL_VERSION, RECORDS_PER_FRAME,
};
use crate::inventory::{ExecRecord, InventoryRecord};
use bytes::BytesMut;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const QUEUE: usize = 64;
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A sensor that takes no bytes for this long is treated as gone: the link reconnects
/// instead of waiting on a full socket buffer for ever (and `close` stays bounded).
const WRITE_STALL: Duration = Duration::from_secs(30);

/// One batch from the scan loop.
enum Outgoing {
    Snapshot(Vec<Arc<InventoryRecord>>),
    Delta(Vec<Arc<InventoryRecord>>),
    Execs(Vec<Arc<ExecRecord>>),
    Nat { observed_ns: i64, entries: Vec<crate::join::conntrack::NatEntry> },
}

/// Handle held by the scan loop.
pub struct SensorLink {
    tx: mpsc::Sender<Outgoing>,
    need_snapshot: Arc<AtomicBool>,
    pub dropped_batches: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
pub struct Identity {
    pub token: super::Token,
    pub host: String,
    pub boot_id: String,
}

/// Where and how to reach the sensor.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `HOST:PORT`.
    pub addr: String,
    /// TLS, with the agent's certificate when the sensor wants mutual TLS; plain TCP
    /// without.
    pub tls: Option<ClientTls>,
}

/// An open, authenticated channel to a sensor.
pub type Channel = Box<dyn ChannelIo>;

impl SensorLink {
    pub fn start(to: Endpoint, id: Identity) -> crate::error::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let need_snapshot = Arc::new(AtomicBool::new(true));
        let flag = need_snapshot.clone();
        let thread = std::thread::Builder::new()
            .name("sensor-link".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    tracing::error!("sensor link: cannot start its runtime");
                    return;
                };
                rt.block_on(run(to, id, rx, flag));
            })
            .map_err(|e| crate::error::Error::runtime(format!("cannot start the sensor link: {e}")))?;
        Ok(SensorLink {
            tx,
            need_snapshot,
            dropped_batches: Arc::new(AtomicU64::new(0)),
            thread: Some(thread),
        })
    }

    /// True after a (re)connect: the next batch must be a full snapshot.
    pub fn wants_snapshot(&self) -> bool {
        self.need_snapshot.load(Ordering::SeqCst)
    }

    pub fn send_snapshot(&self, records: Vec<Arc<InventoryRecord>>) {
        self.need_snapshot.store(false, Ordering::SeqCst);
        self.push(Outgoing::Snapshot(records));
    }

    pub fn send_delta(&self, records: Vec<Arc<InventoryRecord>>) {
        if !records.is_empty() {
            self.push(Outgoing::Delta(records));
        }
    }

    /// Execs are events, not state: they are sent whether or not a snapshot is due.
    pub fn send_execs(&self, records: Vec<Arc<ExecRecord>>) {
        if !records.is_empty() {
            self.push(Outgoing::Execs(records));
        }
    }

    pub fn send_nat(&self, observed_ns: i64, entries: Vec<crate::join::conntrack::NatEntry>) {
        if !entries.is_empty() {
            self.push(Outgoing::Nat { observed_ns, entries });
        }
    }

    fn push(&self, o: Outgoing) {
        // A full queue means the sensor is not keeping up: drop, count, and resync with
        // a snapshot once it has room again.
        if self.tx.try_send(o).is_err() {
            self.dropped_batches.fetch_add(1, Ordering::Relaxed);
            self.need_snapshot.store(true, Ordering::SeqCst);
        }
    }

    /// Closes the queue and waits for queued batches to be sent (or the link to fail).
    pub fn close(self) {
        drop(self);
    }
}

/// Dropping the link (the agent ending, say on SIGTERM) sends what is queued first; the
/// wait is bounded, since every write is.
impl Drop for SensorLink {
    fn drop(&mut self) {
        let (tx, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn run(to: Endpoint, id: Identity, mut rx: mpsc::Receiver<Outgoing>, need_snapshot: Arc<AtomicBool>) {
    let addr = &to.addr;
    let mut backoff = BACKOFF_MIN;
    loop {
        let mut stream = match open(&to, &id).await {
            Ok(s) => {
                backoff = BACKOFF_MIN;
                s
            }
            Err(e) => {
                // Closed by the scan loop and the sensor is unreachable: what is still
                // queued cannot be delivered, and waiting for it would hang the caller.
                if rx.is_closed() {
                    let unsent = rx.len();
                    tracing::warn!("sensor {addr}: {e}; closing with {unsent} batches unsent");
                    return;
                }
                tracing::warn!("sensor {addr}: {e}; retrying in {:.1} s", backoff.as_secs_f64());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        tracing::info!("connected to sensor {addr}");
        need_snapshot.store(true, Ordering::SeqCst);
        let mut synced = false;
        loop {
            let Some(batch) = rx.recv().await else { return };
            let result = match batch {
                Outgoing::Snapshot(records) => {
                    synced = true;
                    send_split(&mut stream, &records, |run, last| Message::Snapshot {
                        records: run.to_vec(),
                        last,
                    })
                    .await
                }
                // Deltas queued before the snapshot that follows a reconnect are stale.
                Outgoing::Delta(_) if !synced => Ok(()),
                Outgoing::Delta(records) => {
                    send_split(&mut stream, &records, |run, _| Message::Delta { records: run.to_vec() }).await
                }
                Outgoing::Execs(records) => {
                    send_split(&mut stream, &records, |run, _| Message::Execs { records: run.to_vec() }).await
                }
                Outgoing::Nat { observed_ns, entries } => {
                    send_split(&mut stream, &entries, |run, _| Message::Nat {
                        observed_ns,
                        entries: run.to_vec(),
                    })
                    .await
                }
            };
            if let Err(e) = result {
                tracing::warn!("sensor {addr}: {e}; reconnecting");
                break;
            }
        }
    }
}

/// Connects, runs the TLS handshake when configured, says hello and waits for the
/// sensor's welcome.
pub async fn open(to: &Endpoint, id: &Identity) -> std::io::Result<Channel> {
    let tcp = TcpStream::connect(&to.addr).await?;
    tcp.set_nodelay(true)?;
    let mut stream: Channel = match &to.tls {
        None => Box::new(tcp),
        Some(tls) => {
            let name = tls.name_for(&to.addr)?;
            let handshake = tls.connector.connect(name, tcp);
            match tokio::time::timeout(Duration::from_secs(10), handshake).await {
                Ok(Ok(s)) => Box::new(s),
                Ok(Err(e)) => return Err(std::io::Error::new(e.kind(), format!("TLS handshake: {e}"))),
                Err(_) => return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no TLS handshake")),
            }
        }
    };
    let hello = Message::Hello {
        version: PROTOCOL_VERSION,
        token: id.token.clone(),
        host: id.host.clone(),
        boot_id: id.boot_id.clone(),
    };
    write_bounded(&mut stream, &encode_body(&hello)?).await?;
    let mut buf = BytesMut::new();
    match tokio::time::timeout(Duration::from_secs(10), read_message(&mut stream, &mut buf)).await {
        Ok(Ok(Some(Message::Welcome))) => Ok(stream),
        Ok(Ok(Some(Message::Rejected { reason }))) => {
            Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, format!("rejected: {reason}")))
        }
        Ok(Ok(_)) => Err(std::io::Error::other("unexpected answer to hello")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer to hello")),
    }
}

/// Sends a batch as frames that each fit the frame limit. A record too large for a frame
/// on its own is left out with a warning: it must not cost the link every other record.
async fn send_split<T>(
    stream: &mut Channel,
    items: &[T],
    message: impl Fn(&[T], bool) -> Message,
) -> std::io::Result<()> {
    let parts = crate::batch::split_to_fit(items, RECORDS_PER_FRAME, MAX_FRAME, |run, last| {
        encode_body(&message(run, last))
    })?;
    if parts.left_out > 0 {
        tracing::warn!("{} records over the {MAX_FRAME}-byte frame limit were left out", parts.left_out);
    }
    for body in parts.bodies() {
        write_bounded(stream, body).await?;
    }
    Ok(())
}

/// One message, or an error when the sensor has taken nothing for [`WRITE_STALL`].
async fn write_bounded(stream: &mut Channel, body: &[u8]) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_STALL, write_body(stream, body)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the sensor took nothing for {} s", WRITE_STALL.as_secs()),
        )),
    }
}
