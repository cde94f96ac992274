//! The agent's side of the bus: [`BusSink`] keeps the host's current sockets (the ones
//! the joiner reads: connected TCP) and hands the whole state to the bus thread after
//! every refresh that changed it. Only the newest state waits to be sent, so a bus
//! that is slow or down never grows a queue; execs are events and go through a bounded
//! queue that counts what it drops.

use super::{subject_token, BusConfig, BusCounters, HostState, PART_BUDGET, RECORDS_PER_PART};
use crate::agent::InventorySink;
use crate::batch::split_to_fit;
use crate::error::Result;
use crate::inventory::{Action, ExecRecord, InventoryRecord, Transport};
use crate::join::conntrack::NatEntry;
use async_nats::jetstream;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The state is published again this often even when nothing changed, so it outlives
/// the stream's age limit while the agent runs.
const REPUBLISH_EVERY: Duration = Duration::from_secs(300);
/// Exec batches waiting for the bus.
const EXEC_QUEUE: usize = 1024;

/// One state, serialized: (subject, payload) per part.
type StateParts = Arc<Vec<(String, Bytes)>>;

/// One exec on its way to the bus; `id` makes a publish retried after a failover count
/// once.
struct Exec {
    subject: String,
    id: String,
    body: Bytes,
}

pub struct BusSink {
    host: String,
    boot_id: String,
    subject: String,
    /// (socket inode, pid) → the record.
    sockets: HashMap<(u64, i32), Arc<InventoryRecord>>,
    nat: Vec<NatEntry>,
    changed: bool,
    last_sent: Option<Instant>,
    states: watch::Sender<Option<StateParts>>,
    execs: mpsc::Sender<Exec>,
    pub counters: Arc<BusCounters>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BusSink {
    /// Starts the bus thread; returns at once (the connection is made in the background).
    pub fn start(cfg: BusConfig, host: String, boot_id: String) -> Result<BusSink> {
        let counters = Arc::new(BusCounters::default());
        let (states, states_rx) = watch::channel(None);
        let (execs, execs_rx) = mpsc::channel(EXEC_QUEUE);
        let name = format!("shellsight-agent {host}");
        let c = counters.clone();
        let thread = super::spawn_runtime("agent-bus", async move {
            let Some(js) = cfg.jetstream(&name, c.clone()).await else { return };
            tokio::join!(publish_states(&js, states_rx, &c), publish_execs(&js, execs_rx, &c));
        })?;
        Ok(BusSink {
            subject: format!("shellsight.inventory.{}", subject_token(&host)),
            host,
            boot_id,
            sockets: HashMap::new(),
            nat: Vec::new(),
            changed: true,
            last_sent: None,
            states,
            execs,
            counters,
            thread: Some(thread),
        })
    }

    fn publish_state(&mut self) -> Result<()> {
        let observed_ns = crate::time::Timestamp::wall_clock().as_nanos();
        let items: Vec<Item> = (self.sockets.values().cloned().map(Item::Socket))
            .chain(self.nat.iter().cloned().map(Item::Nat))
            .collect();
        let state = |run: &[Item], part: u32, parts: u32| {
            let mut msg = HostState {
                host: self.host.clone(),
                boot_id: self.boot_id.clone(),
                observed_ns,
                part,
                parts,
                records: Vec::new(),
                nat: Vec::new(),
            };
            for item in run {
                match item {
                    Item::Socket(r) => msg.records.push(r.clone()),
                    Item::Nat(e) => msg.nat.push(e.clone()),
                }
            }
            serde_json::to_vec(&msg).map_err(std::io::Error::other)
        };
        // Every part carries the part count, so the runs are found first (with a
        // placeholder count as wide as any real one) and then encoded for real.
        let sized = split_to_fit(&items, RECORDS_PER_PART, PART_BUDGET, |run, _| state(run, 0, u32::MAX))
            .map_err(|e| crate::error::Error::runtime(format!("bus: encoding the state: {e}")))?;
        if sized.left_out > 0 {
            self.counters.dropped.fetch_add(sized.left_out as u64, Ordering::Relaxed);
            tracing::warn!(
                "bus: {} inventory records over the {PART_BUDGET}-byte part limit left out",
                sized.left_out
            );
        }
        let parts = sized.runs.len() as u32;
        let mut out = Vec::with_capacity(sized.runs.len());
        for (i, (run, _)) in sized.runs.iter().enumerate() {
            let body = state(&items[run.clone()], i as u32, parts)
                .map_err(|e| crate::error::Error::runtime(format!("bus: encoding the state: {e}")))?;
            out.push((format!("{}.{i}", self.subject), Bytes::from(body)));
        }
        self.states.send_replace(Some(Arc::new(out)));
        self.changed = false;
        self.last_sent = Some(Instant::now());
        Ok(())
    }

    /// Waits (a bounded time) for the newest state and the queued execs to be sent.
    pub fn close(mut self) {
        let (tx, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.execs, tx));
        let (states, _) = watch::channel(None);
        drop(std::mem::replace(&mut self.states, states));
        if let Some(t) = self.thread.take() {
            if !super::join_drained(t) {
                tracing::warn!("bus: unsent messages dropped at exit");
            }
        }
    }
}

/// Only what the joiner reads goes on the bus: connected TCP sockets.
fn joinable(r: &InventoryRecord) -> bool {
    r.network.transport == Transport::Tcp && r.destination.port != 0
}

impl InventorySink for BusSink {
    fn records(&mut self, records: &[Arc<InventoryRecord>], snapshot: bool) -> Result<bool> {
        if snapshot {
            let before = self.sockets.len();
            self.sockets.clear();
            self.changed |= before != 0;
        }
        for r in records.iter().filter(|r| joinable(r)) {
            let key = (r.socket.inode, r.process.as_ref().map_or(0, |p| p.pid));
            match r.event.action {
                Action::Closed => {
                    self.sockets.remove(&key);
                }
                Action::Snapshot | Action::Opened => {
                    self.sockets.insert(key, r.clone());
                }
            }
            self.changed = true;
        }
        let stale = self.last_sent.is_none_or(|t| t.elapsed() >= REPUBLISH_EVERY);
        if self.changed || stale {
            self.publish_state()?;
        }
        Ok(true)
    }

    fn nat(&mut self, _observed_ns: i64, entries: Vec<NatEntry>) -> Result<()> {
        if entries != self.nat {
            self.nat = entries;
            self.changed = true;
        }
        Ok(())
    }

    fn execs(&mut self, records: &[Arc<ExecRecord>]) -> Result<()> {
        let subject = format!("shellsight.execs.{}", subject_token(&self.host));
        for r in records {
            let Ok(body) = serde_json::to_vec(&**r) else { continue };
            let id = format!("{}-{}-{}", r.host.boot_id, r.process.pid, r.observed_ns);
            let exec = Exec { subject: subject.clone(), id, body: Bytes::from(body) };
            if self.execs.try_send(exec).is_err() {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// What a host state is made of: its sockets and, on a node that translates its pods'
/// connections, its NAT entries. Both are cut into parts the same way.
enum Item {
    Socket(Arc<InventoryRecord>),
    Nat(NatEntry),
}

async fn publish_states(
    js: &jetstream::Context,
    mut states: watch::Receiver<Option<StateParts>>,
    counters: &BusCounters,
) {
    let mut sent: Option<StateParts> = None;
    loop {
        let ending = tokio::select! {
            changed = states.changed() => changed.is_err(),
            // The server may have lost it (a new cluster): send the state again.
            _ = counters.reconnected.notified() => {
                sent = None;
                false
            }
        };
        let newest = states.borrow_and_update().clone();
        if let Some(mut parts) = newest.filter(|p| !sent.as_ref().is_some_and(|s| Arc::ptr_eq(s, p))) {
            let mut backoff = super::BACKOFF_MIN;
            while let Err(e) = publish_parts(js, &parts, counters).await {
                counters.retried.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("bus: publishing the state: {e}; retrying in {:.1} s", backoff.as_secs_f64());
                tokio::time::sleep(backoff).await;
                backoff = super::next_backoff(backoff);
                // A newer state replaces this one while we wait.
                if let Some(n) = states.borrow_and_update().clone() {
                    if !Arc::ptr_eq(&n, &parts) {
                        counters.superseded.fetch_add(1, Ordering::Relaxed);
                        parts = n;
                    }
                }
            }
            sent = Some(parts);
        }
        if ending {
            return;
        }
    }
}

async fn publish_parts(
    js: &jetstream::Context,
    parts: &StateParts,
    counters: &BusCounters,
) -> std::result::Result<(), String> {
    for (subject, body) in parts.iter() {
        js.publish(subject.clone(), body.clone())
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
    }
    counters.published.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn publish_execs(js: &jetstream::Context, mut execs: mpsc::Receiver<Exec>, counters: &BusCounters) {
    while let Some(exec) = execs.recv().await {
        super::publish_reliably(js, exec.subject, &exec.id, exec.body, counters).await;
    }
}
