//! A flood of spoofed SYNs must not push a real shell out of the bounded flow table: the
//! table evicts half-open sessions first, reports that it did, and the shell that shares
//! the capture is still detected at its tier.

mod common;

use common::*;
use std::process::Command;

fn gencap() -> &'static str {
    env!("CARGO_BIN_EXE_shellsight-gencap")
}

#[test]
fn a_syn_flood_is_evicted_and_the_shell_is_still_found() {
    let dir = std::env::temp_dir().join(format!("shellsight-synflood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("flood.pcap");
    let shell = fixture("captures/shell_01_bash_devtcp.pcap");
    let out = Command::new(gencap())
        .args(["--packets", "20000", "--seed", "3", "--syn-flood", "200000", "--merge"])
        .arg(&shell)
        .arg("-o")
        .arg(&cap)
        .output()
        .expect("run shellsight-gencap");
    assert!(out.status.success(), "gencap failed: {}", String::from_utf8_lossy(&out.stderr));

    for threads in ["1", "2"] {
        let out = Command::new(bin())
            .args(["replay", "--format", "json", "--max-flows", "50000", "--threads", threads])
            .arg(&cap)
            .output()
            .expect("run shellsight");
        assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
        let alerts = json_lines(&out.stdout);
        let shell_alerts: Vec<_> = alerts
            .iter()
            .filter(|a| a["destination"]["ip"] == "198.19.0.66" && a["destination"]["port"] == 4444)
            .collect();
        assert!(!shell_alerts.is_empty(), "threads {threads}: the shell was not detected under the flood");
        let best = shell_alerts.iter().map(|a| tier_rank(a)).max().unwrap();
        assert_eq!(best, 3, "threads {threads}: the shell reached only tier {best}");

        let stderr = String::from_utf8_lossy(&out.stderr);
        let sessions = stderr.lines().find(|l| l.starts_with("sessions")).expect("summary line");
        let evicted: u64 = sessions
            .split(", ")
            .find_map(|part| part.strip_suffix(" evicted"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no eviction count in {sessions:?}"));
        assert!(evicted >= 100_000, "threads {threads}: only {evicted} evictions reported: {sessions}");
        let peak: u64 = sessions
            .rsplit("peak ")
            .next()
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("peak");
        assert!(peak <= 50_000, "threads {threads}: the table held {peak} sessions, above --max-flows");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
