//! Helpers shared by the integration tests: run the real binary, read its JSON lines.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_shellsight")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

pub fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run shellsight")
}

/// Replays captures and returns the alert records.
pub fn replay(files: &[&Path], extra: &[&str]) -> Vec<Value> {
    let mut args: Vec<String> = vec!["replay".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--format".into(), "json".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = Command::new(bin()).args(&args).output().expect("run shellsight");
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    json_lines(&out.stdout)
}

pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

pub fn tier_rank(a: &Value) -> u8 {
    match a["shellsight"]["tier"].as_str() {
        Some("low") => 1,
        Some("medium") => 2,
        Some("high") => 3,
        _ => 0,
    }
}

/// Alerts about the session between `a` and `b` on `port` (either direction).
pub fn about<'v>(alerts: &'v [Value], a: &str, b: &str, port: u64) -> Vec<&'v Value> {
    alerts
        .iter()
        .filter(|x| {
            let (s, d) =
                (x["source"]["ip"].as_str().unwrap_or(""), x["destination"]["ip"].as_str().unwrap_or(""));
            let (sp, dp) = (x["source"]["port"].as_u64(), x["destination"]["port"].as_u64());
            ((s == a && d == b) || (s == b && d == a)) && (sp == Some(port) || dp == Some(port))
        })
        .collect()
}

/// A person at a reverse shell's listener: accepts one connection, types recon commands
/// with varied think time (reading what comes back), then `exit`.
pub fn operator(listener: TcpListener) {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut sink = [0u8; 4096];
    for (cmd, think_ms) in [
        ("id", 1500),
        ("whoami", 2300),
        ("uname -a", 1200),
        ("hostname", 3100),
        ("pwd", 1700),
        ("ls /", 2600),
    ] {
        std::thread::sleep(Duration::from_millis(think_ms));
        s.write_all(format!("{cmd}\n").as_bytes()).unwrap();
        let _ = s.read(&mut sink);
    }
    std::thread::sleep(Duration::from_millis(800));
    let _ = s.write_all(b"exit\n");
}

/// Seconds since the epoch of an ECS `@timestamp` (`2026-11-28T02:58:31.993Z`).
pub fn epoch_seconds(ts: &str) -> f64 {
    let field =
        |r: std::ops::Range<usize>| -> i64 { ts[r].parse().unwrap_or_else(|_| panic!("bad time {ts}")) };
    let (y, m, d) = (field(0..4), field(5..7), field(8..10));
    let (hh, mm) = (field(11..13), field(14..16));
    let secs: f64 = ts[17..ts.len() - 1].parse().unwrap();
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + hh * 3_600 + mm * 60) as f64 + secs
}
