//! `shellsight agent`: resolves its arguments into an [`AgentConfig`] and runs it.

use crate::agent::inventory::ScanConfig;
use crate::agent::AgentConfig;
use crate::cli::AgentArgs;
use crate::error::{Error, Result};
use crate::transport::client::Endpoint;
use crate::transport::tls::ClientTls;
use std::time::Duration;

/// Parses `1s`, `500ms`, `2m`, `1.5s` or a bare number of seconds.
pub fn parse_interval(s: &str) -> Result<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let value: f64 =
        num.parse().map_err(|_| Error::usage(format!("--interval {s:?}: expected e.g. 1s or 500ms")))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(Error::usage(format!("--interval {s:?}: unit must be ms, s or m"))),
    };
    if !(secs.is_finite() && secs >= 0.01) {
        return Err(Error::usage(format!("--interval {s:?}: must be at least 10ms")));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn resolve(args: AgentArgs, quiet: bool) -> Result<AgentConfig> {
    let connect = match (&args.connect, &args.token_file) {
        (Some(addr), Some(path)) => {
            if args.output.is_some() || args.once {
                return Err(Error::usage(
                    "--connect streams to a sensor; it does not go with --output or --once",
                ));
            }
            let tls = match &args.tls_ca {
                Some(ca) => {
                    let identity = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
                    Some(ClientTls::load(ca, identity, args.tls_server_name.as_deref())?)
                }
                None => None,
            };
            Some((Endpoint { addr: addr.clone(), tls }, crate::transport::read_token(path)?))
        }
        (Some(_), None) => {
            return Err(Error::usage("--connect needs --token-file: the sensor authenticates agents"))
        }
        (None, Some(_)) => return Err(Error::usage("--token-file goes with --connect")),
        (None, None) => None,
    };
    let bus = match &args.bus.bus {
        Some(_) if connect.is_some() || args.output.is_some() || args.once => {
            return Err(Error::usage(
                "--bus publishes the inventory; it does not go with --connect, --output or --once",
            ))
        }
        Some(url) => Some(crate::bus::BusConfig::from_args(url, &args.bus)?),
        None => None,
    };
    let interval = parse_interval(&args.interval)?;
    let duration = match args.duration {
        Some(d) if !(d.is_finite() && d >= 0.0) => {
            return Err(Error::usage("--duration must be a number of seconds ≥ 0"))
        }
        Some(d) => Some(Duration::from_secs_f64(d)),
        None => None,
    };
    if !args.proc_root.is_dir() {
        return Err(Error::input(format!("--proc-root {}: not a directory", args.proc_root.display())));
    }
    let live_proc =
        args.proc_root.canonicalize().map(|p| p == std::path::Path::new("/proc")).unwrap_or(false);
    let use_cn_proc = live_proc && std::env::var_os("SHELLSIGHT_NO_CN_PROC").is_none();
    Ok(AgentConfig {
        scan: ScanConfig { proc_root: args.proc_root, host_root: args.host_root },
        once: args.once,
        interval,
        output: args.output,
        duration,
        quiet,
        use_cn_proc,
        connect,
        bus,
    })
}

pub fn run(args: AgentArgs, quiet: bool) -> Result<()> {
    match args.auditd.clone() {
        Some(log) => follow_auditd(&log, args, quiet),
        None => crate::agent::run(resolve(args, quiet)?),
    }
}

/// `agent --auditd LOG`: the audit log instead of /proc, to the same sinks.
fn follow_auditd(log: &std::path::Path, args: AgentArgs, quiet: bool) -> Result<()> {
    let cfg = resolve(args, quiet)?;
    let host = std::fs::read_to_string(cfg.scan.proc_root.join("sys/kernel/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let mut sink: Box<dyn crate::agent::InventorySink> = match &cfg.connect {
        Some((to, token)) => {
            let id = crate::transport::client::Identity {
                token: token.clone(),
                host: host.clone(),
                boot_id: format!("auditd:{host}"),
            };
            Box::new(crate::agent::LinkSink(crate::transport::client::SensorLink::start(to.clone(), id)?))
        }
        None => Box::new(crate::agent::WriterSink::open(cfg.output.as_deref())?),
    };
    let stop = crate::agent::stop_on_signals()?;
    crate::sources::follow::follow_auditd(log, &host, sink.as_mut(), cfg.duration, &stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_interval("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_interval("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_interval("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_interval("3").unwrap(), Duration::from_secs(3));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("1h").is_err());
        assert!(parse_interval("fast").is_err());
        assert!(parse_interval("").is_err());
    }
}
