//! The fleet bus: agents and sensors meet on NATS with JetStream instead of (or beside)
//! the direct TCP link.
//!
//! - An agent keeps its host's current socket state and publishes all of it to
//!   `shellsight.inventory.<host>.<part>` whenever it changed (latest wins, so a bus that
//!   is slow or down costs nothing but staleness), and its execs to
//!   `shellsight.execs.<host>`.
//! - The inventory stream keeps one message per subject: a sensor that starts late or
//!   reconnects reads every host's current state (last-per-subject delivery), then
//!   follows the changes.
//! - A sensor publishes alerts to `shellsight.alerts.<sensor>` (message id = the alert's
//!   `event.id`, so a publish retried after a failover is stored once) and stats to
//!   `shellsight.stats.<sensor>`.
//! - Every stream has limits (age, bytes, messages per subject); see [`streams`].
//!
//! `agent.rs` is the agent's side ([`agent::BusSink`]), `sensor.rs` the sensor's
//! ([`sensor::SensorBus`]); `config.rs` turns `--bus`, `--bus-creds` and `--bus-ca` into
//! connect options.

pub mod agent;
pub mod config;
pub mod sensor;
mod streams;

pub use config::BusConfig;

use crate::inventory::InventoryRecord;
use crate::join::conntrack::NatEntry;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Records per inventory message at most; fewer when records are large.
pub const RECORDS_PER_PART: usize = 400;
/// The largest inventory message: below the NATS server's default 1 MiB payload limit
/// (`max_payload`), with room for the headers.
pub const PART_BUDGET: usize = 960 << 10;
/// A bus thread given this long to send what is queued when its process ends.
const DRAIN_ON_EXIT: Duration = Duration::from_secs(5);

/// Joins a bus thread once it has sent what was queued, waiting at most
/// [`DRAIN_ON_EXIT`]; false when it was still busy (it is left to end with the process).
fn join_drained(t: std::thread::JoinHandle<()>) -> bool {
    let until = std::time::Instant::now() + DRAIN_ON_EXIT;
    while !t.is_finished() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    t.is_finished() && t.join().is_ok()
}
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// One part of a host's state: its sockets (and translated connections) as of
/// `observed_ns`. A state is complete when all `parts` of the same `observed_ns` are in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostState {
    pub host: String,
    pub boot_id: String,
    /// When the agent published this state (unix ns): the state's generation.
    pub observed_ns: i64,
    pub part: u32,
    pub parts: u32,
    pub records: Vec<Arc<InventoryRecord>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nat: Vec<NatEntry>,
}

/// A subject token from a host or sensor name: NATS subjects split on `.` and treat
/// `*`, `>` and whitespace specially, so those become `_`.
pub fn subject_token(name: &str) -> String {
    let t: String = name
        .chars()
        .map(
            |c| if c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control() { '_' } else { c },
        )
        .collect();
    if t.is_empty() {
        "_".to_string()
    } else {
        t
    }
}

/// What a bus connection did, for stats records and the exit summary.
#[derive(Debug, Default)]
pub struct BusCounters {
    pub connected: AtomicU64,
    /// Successful connections: the first one, then one per reconnect.
    pub connections: AtomicU64,
    pub published: AtomicU64,
    /// Publishes that failed and were retried (the server was away or electing a leader).
    pub retried: AtomicU64,
    /// Messages dropped because a bounded queue was full, or still queued at exit.
    pub dropped: AtomicU64,
    /// States replaced by a newer one before they were sent (agent).
    pub superseded: AtomicU64,
    pub received: AtomicU64,
    /// Hosts whose state this sensor holds (sensor).
    pub hosts: AtomicU64,
    /// Received messages that could not be read.
    pub malformed: AtomicU64,
    /// Woken at every (re)connect: the agent republishes its state then, in case the
    /// server lost it.
    pub reconnected: tokio::sync::Notify,
}

impl BusCounters {
    pub fn json(&self) -> serde_json::Value {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "connected": g(&self.connected) == 1,
            "reconnects": g(&self.connections).saturating_sub(1),
            "published": g(&self.published),
            "retried": g(&self.retried),
            "dropped": g(&self.dropped),
            "superseded": g(&self.superseded),
            "received": g(&self.received),
            "hosts": g(&self.hosts),
            "malformed": g(&self.malformed),
        })
    }
}

/// Publishes one message to a stream, retrying with backoff until the server stores it.
/// The message id lets the server drop a copy that a retry sends after a lost ack.
async fn publish_reliably(
    js: &async_nats::jetstream::Context,
    subject: String,
    id: &str,
    body: bytes::Bytes,
    counters: &BusCounters,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let publish =
            async_nats::jetstream::message::PublishMessage::build().payload(body.clone()).message_id(id);
        let result = match js.send_publish(subject.clone(), publish).await {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => {
                counters.published.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                counters.retried.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    "bus: publishing to {subject}: {e}; retrying in {:.1} s",
                    backoff.as_secs_f64()
                );
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
            }
        }
    }
}

fn next_backoff(d: Duration) -> Duration {
    (d * 2).min(BACKOFF_MAX)
}

/// Starts the thread that runs a bus connection on its own small tokio runtime.
fn spawn_runtime<F>(name: &str, task: F) -> crate::error::Result<std::thread::JoinHandle<()>>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(task),
            Err(e) => tracing::error!("bus: cannot start its runtime: {e}"),
        })
        .map_err(|e| crate::error::Error::runtime(format!("cannot start the bus thread: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_single_subject_tokens() {
        assert_eq!(subject_token("web-1.prod.example.com"), "web-1_prod_example_com");
        assert_eq!(subject_token("a b*>"), "a_b__");
        assert_eq!(subject_token(""), "_");
    }
}
