//! What `replay` and `sensor` share: resolving the detection options into a validated
//! setup, building the pipeline, and the closing summary.

use crate::baseline::Baseline;
use crate::cli::{DetectArgs, OutputFormat};
use crate::config::SitePolicy;
use crate::context::asn::AsnDb;
use crate::context::resolve::Context;
use crate::detect::DetectorConfig;
use crate::error::{Error, Result};
use crate::join::{load_inventory, InventoryAttributor, InventoryCache};
use crate::output::{AlertSink, FlowSink, Format, RecordTap};
use crate::pipeline::{Pipeline, Summary};
use crate::report::{Attributor, Reporter};
use crate::time::Span;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Detection options, checked and loaded.
pub struct DetectSetup {
    pub context: Arc<Context>,
    pub detector: DetectorConfig,
    pub format: Option<Format>,
    pub output: Option<PathBuf>,
    pub flows: Option<PathBuf>,
    pub show_excluded: bool,
    pub live: bool,
    /// Socket inventories (recorded, or streamed in by agents) for attribution.
    pub inventory: Option<Arc<Mutex<InventoryCache>>>,
    pub attribution_delay: Span,
    /// Host history file (`--baseline`), and how often to write it (packet time).
    pub baseline: Option<(PathBuf, Span)>,
    /// The HTML report (`replay --report`): its path, and how many sessions get a chart.
    pub report: Option<(PathBuf, usize)>,
}

impl DetectSetup {
    pub fn resolve(args: &DetectArgs, live: bool) -> Result<Self> {
        if args.max_flows == 0 {
            return Err(Error::usage("--max-flows must be at least 1"));
        }
        if args.threads == 0 || args.threads > 256 {
            return Err(Error::usage("--threads must be between 1 and 256"));
        }
        let policy = match &args.config {
            Some(p) => SitePolicy::load(p)?,
            None => SitePolicy::default(),
        };
        let asn = match &args.geoip {
            Some(p) => AsnDb::open(p)?,
            None => AsnDb::bundled()?,
        }
        .with_overrides(policy.asn_class_overrides());
        let context = Arc::new(Context::new(policy, Some(Box::new(asn))));
        let detector =
            DetectorConfig { max_flows: args.max_flows, threads: args.threads, ..DetectorConfig::default() };
        let inventory = if args.inventory.is_empty() {
            None
        } else {
            let mut cache = InventoryCache::default();
            for path in &args.inventory {
                let n = load_inventory(path, &mut cache)?;
                tracing::info!("{}: {n} inventory lines", path.display());
            }
            Some(Arc::new(Mutex::new(cache)))
        };
        Ok(DetectSetup {
            context,
            detector,
            format: args.format.map(|f| match f {
                OutputFormat::Json => Format::Json,
                OutputFormat::Table => Format::Table,
            }),
            output: args.output.clone(),
            flows: args.flows.clone(),
            show_excluded: args.show_excluded,
            live,
            inventory,
            attribution_delay: Span::ZERO,
            baseline: None,
            report: None,
        })
    }

    pub fn build_pipeline(&self) -> Result<Pipeline> {
        self.build_pipeline_with_tap(None)
    }

    /// The pipeline, whose alerts and stats also go to `tap` (the fleet bus).
    pub fn build_pipeline_with_tap(&self, tap: Option<Box<dyn RecordTap>>) -> Result<Pipeline> {
        let alerts = AlertSink::open(self.output.as_deref(), self.format, self.live)?.with_tap(tap);
        let flows = self.flows.as_deref().map(FlowSink::create).transpose()?;
        let attributor = self.inventory.as_ref().map(|cache| {
            Box::new(InventoryAttributor::new(cache.clone(), self.context.clone())) as Box<dyn Attributor>
        });
        let reporter =
            Reporter::new(self.context.clone(), attributor, self.show_excluded, self.attribution_delay);
        let baseline = match &self.baseline {
            Some((path, every)) => Some(Baseline::open(path, *every)?),
            None => None,
        };
        Ok(Pipeline::new(self.detector, self.context.clone(), reporter, alerts, flows, baseline))
    }
}

/// The one-screen summary on stderr.
pub fn print_summary(s: &Summary, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let span = match (s.first_ts, s.last_ts) {
        (Some(a), Some(b)) => format!("{} .. {} ({:.1} s)", a, b, (b - a).as_secs_f64()),
        _ => "empty".to_string(),
    };
    let d = &s.decode;
    eprintln!(
        "packets   {} ({} tcp, {} udp, {} other, {} malformed, {} unknown link type, {} cut by snaplen)",
        d.packets,
        d.tcp,
        d.udp,
        d.not_ip + d.other_transport + d.fragments,
        d.malformed,
        d.unknown_link,
        d.truncated_frames
    );
    eprintln!(
        "sessions  {} ({} closed, {} timed out, {} evicted, peak {} at once; {} segments retransmitted, first copy judged)",
        s.table.created, s.table.closed, s.table.timed_out, s.table.evicted, s.table.peak, s.detect.retransmits
    );
    eprintln!(
        "series    {} ({} check-ins; peak {} at once of {} allowed, {} evicted, {} expired silent)",
        s.series.created, s.series.checkins, s.series.peak, s.series.max, s.series.evicted, s.series.expired
    );
    eprintln!(
        "alerts    {} ({} upgrades, {} excluded by site policy)",
        s.report.alerts, s.report.upgrades, s.report.excluded
    );
    if let Some(b) = &s.baseline {
        eprintln!(
            "baseline  {} host-sessions learned, {} not learned (medium or above), {} hosts, {} peers, {} commits, pruned {} hosts {} peers",
            b.learned, b.flagged, b.hosts, b.peers, b.commits, b.pruned.hosts, b.pruned.peers
        );
    }
    eprintln!("capture   {span}");
    eprintln!("elapsed   {:.3} s, {:.0} packets/s", secs, d.packets as f64 / secs);
}
