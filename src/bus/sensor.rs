//! The sensor's side of the bus: follows every host's state and the execs into the
//! joiner's cache, and publishes the sensor's alerts and stats ([`BusTap`]).
//!
//! Both inventories and execs are read with ordered consumers: on a reconnect, or when
//! the node it was reading from goes away, the client recreates the consumer from the
//! last sequence it saw, so nothing is read twice or skipped. When the consumer reports
//! an error instead (a missed heartbeat: it stopped sending and the client does not
//! recreate it), the sensor makes a new one and reads every host's current state
//! again. A state replaces the host's previous one whole, and execs are deduplicated by
//! the cache, so a full re-read is harmless.

use super::{streams, subject_token, BusConfig, BusCounters, HostState};
use crate::error::Result;
use crate::inventory::ExecRecord;
use crate::join::InventoryCache;
use crate::output::RecordTap;
use crate::time::Timestamp;
use async_nats::jetstream::{self, consumer};
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Alerts waiting for the bus; more are dropped and counted.
const ALERT_QUEUE: usize = 10_000;
const STATS_QUEUE: usize = 64;
/// A state announcing more parts than this is not read.
const MAX_PARTS: u32 = 4096;

/// One record on its way to a stream.
struct Outgoing {
    subject: String,
    id: String,
    body: Bytes,
}

/// The running bus connection of a sensor.
pub struct SensorBus {
    tap: Option<BusTap>,
    pub counters: Arc<BusCounters>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SensorBus {
    /// Starts following inventories into `cache`; returns at once.
    pub fn start(cfg: BusConfig, sensor: &str, cache: Arc<Mutex<InventoryCache>>) -> Result<SensorBus> {
        let counters = Arc::new(BusCounters::default());
        let (alerts, alerts_rx) = mpsc::channel(ALERT_QUEUE);
        let (stats, stats_rx) = mpsc::channel(STATS_QUEUE);
        let token = subject_token(sensor);
        let tap = BusTap {
            alerts,
            stats,
            alert_subject: format!("shellsight.alerts.{token}"),
            stats_subject: format!("shellsight.stats.{token}"),
            sensor: token,
            counters: counters.clone(),
        };
        let c = counters.clone();
        let name = format!("shellsight-sensor {sensor}");
        let thread = super::spawn_runtime("sensor-bus", async move {
            let Some(js) = cfg.jetstream(&name, c.clone()).await else { return };
            let publishers = async {
                tokio::join!(publish_queue(&js, alerts_rx, &c), publish_queue(&js, stats_rx, &c));
            };
            let followers = async {
                tokio::join!(follow_inventory(&js, &cache, &c), follow_execs(&js, &cache, &c));
            };
            // The publishers end once the pipeline has written its last record and its
            // queues are empty; the followers run until then.
            tokio::select! {
                _ = publishers => {}
                _ = followers => {}
            }
        })?;
        Ok(SensorBus { tap: Some(tap), counters, thread: Some(thread) })
    }

    /// The tap that publishes the pipeline's alerts and stats (once).
    pub fn take_tap(&mut self) -> Option<BusTap> {
        self.tap.take()
    }

    /// Waits (a bounded time) for queued alerts and stats to be published. Call it after
    /// the pipeline has finished, so its last records are in the queue.
    pub fn shutdown(mut self) {
        self.tap = None;
        if let Some(t) = self.thread.take() {
            if !super::join_drained(t) {
                tracing::warn!("bus: alerts still queued at exit were not published");
            }
        }
        tracing::info!("bus: {}", self.counters.json());
    }
}

/// Publishes a sensor's alert and stats records, besides its local output.
pub struct BusTap {
    alerts: mpsc::Sender<Outgoing>,
    stats: mpsc::Sender<Outgoing>,
    alert_subject: String,
    stats_subject: String,
    sensor: String,
    counters: Arc<BusCounters>,
}

impl BusTap {
    fn queue(&self, to: &mpsc::Sender<Outgoing>, subject: &str, id: String, record: &serde_json::Value) {
        let Ok(body) = serde_json::to_vec(record) else { return };
        let out = Outgoing { subject: subject.to_string(), id, body: Bytes::from(body) };
        if to.try_send(out).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl RecordTap for BusTap {
    fn alert(&mut self, record: &serde_json::Value) {
        // `event.id` names one record (session and sequence), so it is the message id
        // that lets the server store a retried publish once.
        let id = match record["event"]["id"].as_str() {
            Some(id) => format!("{}-{id}", self.sensor),
            None => format!("{}-{}", self.sensor, Timestamp::wall_clock().as_nanos()),
        };
        self.queue(&self.alerts, &self.alert_subject, id, record);
    }

    fn stats(&mut self, record: &mut serde_json::Value) {
        record["shellsight"]["stats"]["bus"] = self.counters.json();
        let id = format!("{}-stats-{}", self.sensor, record["@timestamp"].as_str().unwrap_or(""));
        self.queue(&self.stats, &self.stats_subject, id, record);
    }
}

async fn publish_queue(js: &jetstream::Context, mut queue: mpsc::Receiver<Outgoing>, counters: &BusCounters) {
    while let Some(o) = queue.recv().await {
        super::publish_reliably(js, o.subject, &o.id, o.body, counters).await;
    }
}

/// Creates an ordered consumer on `stream`, retrying until the server answers.
async fn ordered(
    js: &jetstream::Context,
    stream: &str,
    filter: &str,
    deliver_policy: consumer::DeliverPolicy,
) -> consumer::push::Ordered {
    let mut backoff = super::BACKOFF_MIN;
    loop {
        let attempt = async {
            let s = js.get_stream(stream).await.map_err(|e| e.to_string())?;
            let c = s
                .create_consumer(consumer::push::OrderedConfig {
                    deliver_subject: js.client().new_inbox(),
                    filter_subject: filter.to_string(),
                    deliver_policy,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            c.messages().await.map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(messages) => return messages,
            Err(e) => {
                tracing::warn!("bus: reading {stream}: {e}; retrying in {:.1} s", backoff.as_secs_f64());
                tokio::time::sleep(backoff).await;
                backoff = super::next_backoff(backoff);
            }
        }
    }
}

async fn follow_inventory(js: &jetstream::Context, cache: &Mutex<InventoryCache>, counters: &BusCounters) {
    let mut hosts = Hosts::default();
    loop {
        // Last per subject: every host's current state first, then each new one.
        let mut messages = ordered(
            js,
            streams::INVENTORY,
            streams::INVENTORY_SUBJECTS,
            consumer::DeliverPolicy::LastPerSubject,
        )
        .await;
        loop {
            let m = tokio::select! {
                m = messages.next() => m,
                // States published while the connection was down, or while the stream
                // moved to a new leader, may never reach the old consumer: after a
                // reconnect, read every host's current state afresh.
                _ = counters.reconnected.notified() => {
                    tracing::info!("bus: reconnected; reading every host's state again");
                    break;
                }
            };
            match m {
                None => break,
                Some(Ok(m)) => {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    match serde_json::from_slice::<HostState>(&m.message.payload) {
                        Ok(state) => hosts.add(state, cache, counters),
                        Err(e) => {
                            counters.malformed.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!("bus: {}: not a host state: {e}", m.message.subject);
                        }
                    }
                }
                Some(Err(e)) => {
                    // The client does not recreate a consumer that stopped sending (its
                    // node or the stream's leader changed): a missed heartbeat would
                    // repeat for ever while states go unread. Read every host's state
                    // afresh instead, which a state-per-host stream makes harmless.
                    tracing::warn!("bus: inventory consumer: {e}; reading every host's state again");
                    break;
                }
            }
        }
        tokio::time::sleep(super::BACKOFF_MIN).await;
    }
}

async fn follow_execs(js: &jetstream::Context, cache: &Mutex<InventoryCache>, counters: &BusCounters) {
    loop {
        let mut messages =
            ordered(js, streams::EXECS, streams::EXECS_SUBJECTS, consumer::DeliverPolicy::All).await;
        while let Some(m) = messages.next().await {
            match m {
                Ok(m) => {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    match serde_json::from_slice::<ExecRecord>(&m.message.payload) {
                        Ok(rec) => {
                            if let Ok(mut c) = cache.lock() {
                                c.ingest_exec(Arc::new(rec));
                            }
                        }
                        Err(e) => {
                            counters.malformed.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!("bus: {}: not an exec record: {e}", m.message.subject);
                        }
                    }
                }
                Err(e) => {
                    // As for the inventory: a new consumer rather than a silent one. The
                    // cache deduplicates the execs read again.
                    tracing::warn!("bus: exec consumer: {e}; reading the stream again");
                    break;
                }
            }
        }
        tokio::time::sleep(super::BACKOFF_MIN).await;
    }
}

/// Puts host states together from their parts and applies each complete one.
#[derive(Default)]
struct Hosts {
    hosts: HashMap<String, Assembly>,
}

#[derive(Default)]
struct Assembly {
    /// The newest state applied.
    applied: i64,
    /// The state being put together: its generation and parts.
    generation: i64,
    parts: Vec<Option<HostState>>,
}

impl Hosts {
    fn add(&mut self, state: HostState, cache: &Mutex<InventoryCache>, counters: &BusCounters) {
        if state.parts == 0 || state.parts > MAX_PARTS || state.part >= state.parts {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !self.hosts.contains_key(&state.host) {
            counters.hosts.store(self.hosts.len() as u64 + 1, Ordering::Relaxed);
        }
        let a = self.hosts.entry(state.host.clone()).or_default();
        if state.observed_ns <= a.applied || state.observed_ns < a.generation {
            return; // older than what we have (a part left over from a bigger state)
        }
        if state.observed_ns > a.generation || a.parts.len() != state.parts as usize {
            a.generation = state.observed_ns;
            a.parts = (0..state.parts).map(|_| None).collect();
        }
        let slot = state.part as usize;
        a.parts[slot] = Some(state);
        if a.parts.iter().any(Option::is_none) {
            return;
        }
        let parts: Vec<HostState> = a.parts.drain(..).flatten().collect();
        a.applied = a.generation;
        apply(parts, cache);
    }
}

/// Replaces a host's sockets with a complete state: what it restates is seen now, what
/// it no longer lists closed.
fn apply(parts: Vec<HostState>, cache: &Mutex<InventoryCache>) {
    let Some(first) = parts.first() else { return };
    let seen = Timestamp::from_nanos(first.observed_ns);
    let boot_id = first.boot_id.clone();
    let Ok(mut c) = cache.lock() else { return };
    for part in parts {
        for e in &part.nat {
            c.ingest_nat(e);
        }
        for r in part.records {
            c.ingest_seen(r, seen);
        }
    }
    c.end_snapshot(&boot_id, seen);
    c.expire();
}
