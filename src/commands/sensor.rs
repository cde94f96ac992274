//! `shellsight sensor --interface IF`: watches a live interface (a SPAN port, or the
//! host's own interface) with the same pipeline as `replay`.

use super::detect_setup::{self, DetectSetup};
use crate::capture::live::{LiveCapture, LiveOptions};
use crate::cli::SensorArgs;
use crate::error::{Error, Result};
use crate::output::RecordTap;
use crate::time::{Span, Timestamp};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STATS_EVERY: Duration = Duration::from_secs(10);
const IDLE_WAIT: Duration = Duration::from_millis(250);

pub fn run(args: SensorArgs, quiet: bool) -> Result<()> {
    if !(0.0..=600.0).contains(&args.attribution_delay) {
        return Err(Error::usage("--attribution-delay must be between 0 and 600 seconds"));
    }
    if args.snaplen < 64 {
        return Err(Error::usage("--snaplen must be at least 64"));
    }
    if args.user.is_some() && args.local_agent {
        return Err(Error::usage(
            "--user does not go with --local-agent: the agent needs root to read /proc",
        ));
    }
    let mut setup = DetectSetup::resolve(&args.detect, true)?;
    if args.baseline {
        std::fs::create_dir_all(&args.state_dir).map_err(|e| Error::io(&args.state_dir, e))?;
        setup.baseline = Some((args.state_dir.join("baseline.redb"), crate::baseline::COMMIT_EVERY));
    }
    let mut agents = super::agent_link::start(&args, &mut setup)?;
    if agents.is_some() {
        setup.attribution_delay = Span::from_secs_f64(args.attribution_delay);
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Error::runtime(format!("cannot install a signal handler: {e}")))?;
    }
    let opts = LiveOptions {
        interface: args.interface.clone(),
        snaplen: args.snaplen,
        bpf: args.bpf.clone(),
        promiscuous: true,
    };
    let mut live = LiveCapture::start(&opts, stop.clone())?;
    tracing::info!("capturing on {} (link type {})", args.interface, live.link.0);
    let tap = agents.as_mut().and_then(|a| a.bus.as_mut()).and_then(|b| b.take_tap());
    let mut pipeline = setup.build_pipeline_with_tap(tap.map(|t| Box::new(t) as Box<dyn RecordTap>))?;
    // The capture, the output files and the history are open: nothing else needs root.
    if let Some(user) = &args.user {
        super::privileges::drop_to(user)?;
    }
    let started = Instant::now();
    let deadline = args.duration.map(Duration::from_secs_f64);
    let mut last_stats = Instant::now();
    loop {
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            stop.store(true, Ordering::SeqCst);
        }
        match live.next_batch(IDLE_WAIT) {
            Ok(Some(batch)) => {
                for p in batch.packets() {
                    pipeline.feed(&p)?;
                }
                live.give_back(batch);
            }
            Ok(None) => pipeline.tick(Timestamp::wall_clock())?,
            Err(_ended) => break,
        }
        if last_stats.elapsed() >= STATS_EVERY {
            last_stats = Instant::now();
            pipeline.write_stats(Timestamp::wall_clock(), capture_stats(&live, agents.as_ref()))?;
        }
    }
    let counters = capture_stats(&live, agents.as_ref());
    live.stop()?;
    pipeline.write_stats(Timestamp::wall_clock(), counters)?;
    let summary = pipeline.finish()?;
    if let Some(a) = agents {
        a.shutdown();
    }
    for w in &summary.warnings {
        tracing::warn!("{w}");
    }
    if !quiet {
        detect_setup::print_summary(&summary, started.elapsed());
    }
    Ok(())
}

/// The capture's counters, and the agent listener's when there is one.
fn capture_stats(
    live: &LiveCapture,
    agents: Option<&super::agent_link::AgentLinks>,
) -> serde_json::Map<String, serde_json::Value> {
    let c = &live.counters;
    let capture = json!({
        "received": c.received.load(Ordering::Relaxed),
        "queue_dropped": c.queue_dropped.load(Ordering::Relaxed),
        "kernel_received": c.kernel_received.load(Ordering::Relaxed),
        "kernel_dropped": c.kernel_dropped.load(Ordering::Relaxed),
        "interface_dropped": c.interface_dropped.load(Ordering::Relaxed),
    });
    let mut stats = serde_json::Map::new();
    stats.insert("capture".into(), capture);
    if let Some(channel) = agents.and_then(|a| a.channel_stats()) {
        stats.insert("agent_channel".into(), channel);
    }
    stats
}
