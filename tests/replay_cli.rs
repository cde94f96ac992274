//! The replay command's contract: formats, errors, truncated input, determinism.

mod common;

use common::*;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ss-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_file_that_is_not_a_capture_fails_with_one_clear_sentence() {
    let p = tmp("notes.txt");
    std::fs::write(&p, "these are notes, not packets\n").unwrap();
    let out = run(&["replay", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a pcap or pcapng"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = run(&["replay", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_truncated_capture_is_processed_up_to_the_cut_with_a_warning() {
    let full = std::fs::read(fixture("captures/shell_02_nc_e.pcap")).unwrap();
    let p = tmp("cut.pcap");
    std::fs::write(&p, &full[..full.len() * 3 / 4 + 7]).unwrap();
    let out = run(&["replay", p.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated"), "{err}");
    assert!(!json_lines(&out.stdout).is_empty(), "alerts before the cut were lost");
}

#[test]
fn replay_is_deterministic_and_writes_flow_records() {
    let f = fixture("demo.pcap");
    let flows = tmp("flows.jsonl");
    let a = run(&["replay", f.to_str().unwrap(), "--format", "json", "--flows", flows.to_str().unwrap()]);
    let b = run(&["replay", f.to_str().unwrap(), "--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
    let records = json_lines(&std::fs::read(&flows).unwrap());
    assert!(records.len() >= 8);
    for r in &records {
        assert_eq!(r["event"]["kind"], "event");
        assert!(r["network"]["community_id"].as_str().unwrap().starts_with("1:"));
    }
    // Alerts and flow records name a session by the same Community ID.
    let alerts = json_lines(&a.stdout);
    let cid = alerts[0]["network"]["community_id"].as_str().unwrap();
    assert!(records.iter().any(|r| r["network"]["community_id"] == cid));
}

#[test]
fn alerts_are_ecs_shaped() {
    let alerts = replay(&[&fixture("captures/shell_01_bash_devtcp.pcap")], &[]);
    let a = alerts.last().unwrap();
    assert_eq!(a["event"]["kind"], "alert");
    assert_eq!(a["event"]["severity"], 73);
    assert_eq!(a["shellsight"]["tier"], "high");
    assert!(a["shellsight"]["score"].as_i64().unwrap() >= 70);
    assert_eq!(a["network"]["transport"], "tcp");
    assert_eq!(a["source"]["ip"], "198.18.0.10");
    assert_eq!(a["destination"]["port"], 4444);
    let reasons: Vec<&str> =
        a["shellsight"]["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(reasons.contains(&"no-job-control"), "{reasons:?}");
    assert_eq!(a["rule"]["name"], "Reverse shell");
    // An upgrade names the record it supersedes.
    if alerts.len() > 1 {
        assert_eq!(a["shellsight"]["supersedes"], alerts[alerts.len() - 2]["event"]["id"]);
    }
}

#[test]
fn table_format_is_readable() {
    let f = fixture("demo.pcap");
    let out = run(&["replay", f.to_str().unwrap(), "--format", "table"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("DECIDED"), "{text}");
    assert!(text.contains("high"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("packets") && err.contains("packets/s"), "{err}");
}
