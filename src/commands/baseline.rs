//! `shellsight baseline learn|show|export|import|forget`: the host history's care.

use super::detect_setup::DetectSetup;
use crate::baseline::model::{History, HostRecord, Limits};
use crate::baseline::store::Store;
use crate::cli::{BaselineArgs, BaselineCommand, DetectArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::time::Span;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub fn run(args: BaselineArgs, quiet: bool) -> Result<()> {
    match args.command {
        BaselineCommand::Learn { baseline, files, config, geoip, inventory, commit_every, threads } => {
            let every = parse_span(&commit_every, "--commit-every")?;
            let detect = DetectArgs {
                format: Some(OutputFormat::Json),
                output: Some(PathBuf::from("/dev/null")),
                flows: None,
                config,
                geoip,
                show_excluded: false,
                inventory,
                max_flows: 1_000_000,
                threads,
            };
            let mut setup = DetectSetup::resolve(&detect, false)?;
            setup.baseline = Some((baseline, every));
            super::replay::read_captures(&setup, &files, quiet)
        }
        BaselineCommand::Show { baseline, host, format } => {
            let history = Store::open_existing(&baseline)?.load(Limits::default())?;
            let records = select(&history, host.as_deref())?;
            let mut out = std::io::stdout().lock();
            let r = match format {
                OutputFormat::Json => records.iter().try_for_each(|r| {
                    let line = serde_json::to_string(&show_json(r)).map_err(std::io::Error::other)?;
                    writeln!(out, "{line}")
                }),
                OutputFormat::Table => show_table(&mut out, &records),
            };
            r.map_err(|e| Error::runtime(format!("writing the history: {e}")))
        }
        BaselineCommand::Export { baseline, output } => {
            let history = Store::open_existing(&baseline)?.load(Limits::default())?;
            let mut out: Box<dyn Write> = match &output {
                Some(p) => {
                    Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(|e| Error::io(p, e))?))
                }
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let mut n = 0;
            for r in history.records() {
                let line = serde_json::to_string(r).map_err(|e| Error::runtime(e.to_string()))?;
                writeln!(out, "{line}").map_err(|e| Error::runtime(format!("writing the export: {e}")))?;
                n += 1;
            }
            out.flush().map_err(|e| Error::runtime(format!("writing the export: {e}")))?;
            if !quiet {
                eprintln!("exported {n} hosts");
            }
            Ok(())
        }
        BaselineCommand::Import { baseline, file } => {
            // Parse everything first: a bad line fails the import with nothing written.
            let records = read_export(&file)?;
            let store = Store::open_or_create(&baseline)?;
            let mut history = store.load(Limits::default())?;
            let hosts: Vec<IpAddr> = records.iter().map(|r| r.host).collect();
            for r in records {
                history.merge(r);
            }
            store.write(&history, &hosts)?;
            if !quiet {
                eprintln!("imported {} host records into {}", hosts.len(), baseline.display());
            }
            Ok(())
        }
        BaselineCommand::Forget { baseline, host, older_than } => {
            let store = Store::open_existing(&baseline)?;
            let mut history = store.load(Limits::default())?;
            let mut touched = Vec::new();
            let message = match (host, older_than) {
                (Some(h), _) => {
                    let ip = parse_ip(&h)?;
                    if !history.remove(ip) {
                        return Err(Error::input(format!(
                            "{}: no host {ip} in the history",
                            baseline.display()
                        )));
                    }
                    touched.push(ip);
                    format!("forgot host {ip}")
                }
                (None, Some(age)) => {
                    let span = parse_span(&age, "--older-than")?;
                    let newest = history.newest().unwrap_or(0);
                    let cutoff = newest - span.as_nanos() / 1_000_000_000;
                    let gone = history.forget_before(cutoff, &mut touched);
                    format!(
                        "forgot {} hosts, {} peers, {} processes last seen more than {age} before the newest record",
                        gone.hosts, gone.peers, gone.processes
                    )
                }
                (None, None) => {
                    return Err(Error::usage("baseline forget needs --host IP or --older-than AGE"))
                }
            };
            store.write(&history, &touched)?;
            if !quiet {
                eprintln!("{message}");
            }
            Ok(())
        }
    }
}

fn select<'h>(history: &'h History, host: Option<&str>) -> Result<Vec<&'h HostRecord>> {
    match host {
        None => Ok(history.records()),
        Some(h) => {
            let ip = parse_ip(h)?;
            history
                .host(ip)
                .map(|r| vec![r])
                .ok_or_else(|| Error::input(format!("no host {ip} in the history")))
        }
    }
}

fn parse_ip(s: &str) -> Result<IpAddr> {
    s.parse().map_err(|_| Error::usage(format!("`{s}` is not an IP address")))
}

/// `90d`, `12h`, `30m`, `45s`, `200ms`.
fn parse_span(s: &str, what: &str) -> Result<Span> {
    let bad = || Error::usage(format!("{what}: `{s}` is not a duration (like 90d, 12h, 30m, 45s or 200ms)"));
    let text = s.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return match ms.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Span::from_millis(n)),
            _ => Err(bad()),
        };
    }
    let Some((at, _)) = text.char_indices().last() else { return Err(bad()) };
    let (num, unit) = text.split_at(at);
    let n: i64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(bad());
    }
    Ok(Span::from_secs(n.saturating_mul(secs)))
}

/// Reads `baseline export` lines; errors name the file and line.
fn read_export(path: &Path) -> Result<Vec<HostRecord>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: HostRecord = serde_json::from_str(&line).map_err(|e| {
            Error::input(format!("{}:{}: not a host history record: {e}", path.display(), i + 1))
        })?;
        out.push(r);
    }
    Ok(out)
}

/// A host's record plus its peers summed at each grain.
fn show_json(r: &HostRecord) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    let (by_remote, by_port, by_dir) = grains(r);
    v["service_percent"] = r.service_percent().into();
    v["grains"] = serde_json::json!({ "remote": by_remote, "port_class": by_port, "direction": by_dir });
    v
}

type Grain = BTreeMap<String, u64>;

fn grains(r: &HostRecord) -> (Grain, Grain, Grain) {
    let (mut a, mut b, mut c) = (Grain::new(), Grain::new(), Grain::new());
    for p in &r.peers {
        *a.entry(p.remote.to_string()).or_default() += p.seen.sessions;
        *b.entry(p.port_class.clone()).or_default() += p.seen.sessions;
        *c.entry(p.direction.as_str().to_string()).or_default() += p.seen.sessions;
    }
    (a, b, c)
}

fn show_table(out: &mut impl Write, records: &[&HostRecord]) -> std::io::Result<()> {
    let t = |s: i64| crate::time::Timestamp::from_nanos(s.saturating_mul(1_000_000_000)).to_rfc3339();
    for r in records {
        writeln!(
            out,
            "{}  first {}  last {}  sessions {} ({} interactive, {} flagged)  internal/service {}%",
            r.host,
            t(r.seen.first_seen),
            t(r.seen.last_seen),
            r.seen.sessions,
            r.interactive_sessions,
            r.flagged_sessions,
            r.service_percent()
        )?;
        let (by_remote, by_port, by_dir) = grains(r);
        let list = |g: &Grain| {
            if g.is_empty() {
                return "(none learned)".to_string();
            }
            g.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(" ")
        };
        writeln!(out, "  remote     {}", list(&by_remote))?;
        writeln!(out, "  port       {}", list(&by_port))?;
        writeln!(out, "  direction  {}", list(&by_dir))?;
        for p in &r.peers {
            writeln!(
                out,
                "  peer  {:<14} {:<14} {:<3}  {:>6} sessions  {:>3} days  last {}",
                p.remote.to_string(),
                p.port_class,
                p.direction.as_str(),
                p.seen.sessions,
                p.seen.days,
                t(p.seen.last_seen)
            )?;
        }
        for p in &r.processes {
            writeln!(out, "  process  {} <- {}  {} sessions", p.name, p.parent, p.seen.sessions)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_or_say_why() {
        assert_eq!(parse_span("90d", "x").unwrap(), Span::from_secs(90 * 86_400));
        assert_eq!(parse_span("5m", "x").unwrap(), Span::from_secs(300));
        assert_eq!(parse_span("200ms", "x").unwrap(), Span::from_millis(200));
        for bad in ["", "d", "90", "-3d", "3w", "ninety", "9é", "0ms", "xms"] {
            assert!(parse_span(bad, "--older-than").is_err(), "{bad}");
        }
    }
}
