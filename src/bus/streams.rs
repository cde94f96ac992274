//! The JetStream streams, and their limits. Whoever connects first creates them; a
//! stream that already exists keeps the configuration it has (an operator may have
//! tuned it).

use async_nats::jetstream::{self, stream};
use std::time::Duration;

/// Each host's current socket state: one message per subject.
pub const INVENTORY: &str = "SHELLSIGHT_INVENTORY";
pub const INVENTORY_SUBJECTS: &str = "shellsight.inventory.>";
/// Commands run over sockets: events, kept long enough for a sensor that restarts to
/// attach them to the alerts it re-raises.
pub const EXECS: &str = "SHELLSIGHT_EXECS";
pub const EXECS_SUBJECTS: &str = "shellsight.execs.>";
/// Every sensor's alerts, for the shipper to the search cluster.
pub const ALERTS: &str = "SHELLSIGHT_ALERTS";
pub const ALERTS_SUBJECTS: &str = "shellsight.alerts.>";
/// Sensors' periodic stats records.
pub const STATS: &str = "SHELLSIGHT_STATS";
pub const STATS_SUBJECTS: &str = "shellsight.stats.>";

const GIB: i64 = 1 << 30;

fn configs(replicas: usize) -> Vec<stream::Config> {
    let base = |name: &str, subject: &str, max_age: Duration, max_bytes: i64| stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        max_age,
        max_bytes,
        discard: stream::DiscardPolicy::Old,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    vec![
        stream::Config {
            // A host whose agent has been silent for a day is gone.
            max_messages_per_subject: 1,
            ..base(INVENTORY, INVENTORY_SUBJECTS, Duration::from_secs(24 * 3600), 4 * GIB)
        },
        stream::Config {
            max_messages_per_subject: 10_000,
            ..base(EXECS, EXECS_SUBJECTS, Duration::from_secs(600), GIB)
        },
        base(ALERTS, ALERTS_SUBJECTS, Duration::from_secs(7 * 24 * 3600), 4 * GIB),
        stream::Config {
            max_messages_per_subject: 8_640, // a day at one record per 10 s
            ..base(STATS, STATS_SUBJECTS, Duration::from_secs(24 * 3600), GIB / 4)
        },
    ]
}

/// Creates the streams that are missing. Retries until it succeeds: the cluster may be
/// electing a leader, or away.
pub async fn ensure(js: &jetstream::Context, replicas: usize) {
    let mut backoff = super::BACKOFF_MIN;
    for config in configs(replicas) {
        let name = config.name.clone();
        loop {
            match js.get_or_create_stream(config.clone()).await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!("bus: stream {name}: {e}; retrying in {:.1} s", backoff.as_secs_f64());
                    tokio::time::sleep(backoff).await;
                    backoff = super::next_backoff(backoff);
                }
            }
        }
    }
}
