//! `shellsight geoip import` (CSV → MaxMind DB) and `shellsight geoip lookup`.

use crate::cli::{GeoipArgs, GeoipCommand};
use crate::context::asn::AsnDb;
use crate::context::mmdb_writer::{AsnMmdbWriter, MmdbMetadata};
use crate::error::{Error, Result};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

pub fn run(args: GeoipArgs) -> Result<()> {
    match args.command {
        GeoipCommand::Import { csv, output, build_epoch } => import(&csv, &output, build_epoch),
        GeoipCommand::Lookup { ips, geoip, config } => lookup(&ips, geoip.as_deref(), config.as_deref()),
    }
}

fn import(csv: &[PathBuf], output: &Path, build_epoch: Option<u64>) -> Result<()> {
    let started = Instant::now();
    let build_epoch = match build_epoch {
        Some(e) => e,
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) => v
                .trim()
                .parse()
                .map_err(|_| Error::usage(format!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds")))?,
            Err(_) => newest_mtime(csv)?,
        },
    };
    let mut writer = AsnMmdbWriter::new();
    for path in csv {
        let rows = writer.read_csv(path)?;
        tracing::info!("{}: {rows} ranges", path.display());
    }
    let meta = MmdbMetadata {
        database_type: "shellsight-ASN".into(),
        description: vec![(
            "en".into(),
            "IP to ASN data by RouteViews and DB-IP, CC BY 4.0 (ip-location-db), built by shellsight".into(),
        )],
        languages: vec!["en".into()],
        build_epoch,
    };
    let (bytes, stats) = writer.build(&meta)?;
    std::fs::write(output, &bytes).map_err(|e| Error::io(output, e))?;
    eprintln!(
        "{}: {} ranges ({} after merging, {} overlaps clipped) → {} prefixes, {} nodes, {} records, record size {}, {} bytes in {:.1}s",
        output.display(),
        stats.ranges,
        stats.merged_ranges,
        stats.overlaps_clipped,
        stats.prefixes,
        stats.nodes,
        stats.records,
        stats.record_size,
        stats.file_bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn newest_mtime(files: &[PathBuf]) -> Result<u64> {
    let mut newest = 0;
    for f in files {
        let meta = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
        if let Ok(t) = meta.modified() {
            if let Ok(d) = t.duration_since(UNIX_EPOCH) {
                newest = newest.max(d.as_secs());
            }
        }
    }
    Ok(newest)
}

/// Looks addresses up as `replay` would: the site's `[[asn_class]]` overrides from
/// `--config` beat every other source of a class.
fn lookup(ips: &[String], geoip: Option<&Path>, config: Option<&Path>) -> Result<()> {
    let overrides = match config {
        Some(path) => crate::config::SitePolicy::load(path)?.asn_class_overrides(),
        None => Default::default(),
    };
    let db = match geoip {
        Some(p) => AsnDb::open(p)?,
        None => AsnDb::bundled()?,
    }
    .with_overrides(overrides);
    let mut parsed = Vec::with_capacity(ips.len());
    for s in ips {
        let ip: IpAddr = s.trim().parse().map_err(|_| Error::usage(format!("`{s}` is not an IP address")))?;
        parsed.push(ip);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for ip in parsed {
        let line = match db.lookup(ip) {
            Some(info) => format!(
                "{ip}  AS{}  {}  {} ({})",
                info.asn,
                if info.organization.is_empty() { "-" } else { &info.organization },
                info.class,
                info.class_source
            ),
            None => format!("{ip}  no ASN (private or unrouted)"),
        };
        writeln!(out, "{line}").map_err(|e| Error::runtime(format!("stdout: {e}")))?;
    }
    Ok(())
}
