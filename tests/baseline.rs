//! The host history (`--baseline`, `shellsight baseline …`), run through the real binary
//! against real captures.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory for one test, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("shellsight-baseline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn join(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(args: &[&str]) -> std::process::Output {
    let out = run(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn reasons(a: &Value) -> Vec<String> {
    a["shellsight"]["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

/// The highest tier reported for each session, keyed by its endpoints.
fn tiers(alerts: &[Value]) -> BTreeMap<String, u8> {
    let mut m = BTreeMap::new();
    for a in alerts {
        let key = format!(
            "{}:{}-{}:{}",
            a["source"]["ip"], a["source"]["port"], a["destination"]["ip"], a["destination"]["port"]
        );
        let t = m.entry(key).or_insert(0);
        *t = (*t).max(tier_rank(a));
    }
    m
}

fn ssh_2200() -> PathBuf {
    root().join("tests/fixtures/baseline/ssh_port2200.pcap")
}

fn host_sessions(store: &Path) -> u64 {
    let out = ok(&["baseline", "show", "--baseline", s(store), "--format", "json"]);
    json_lines(&out.stdout).iter().map(|h| h["sessions"].as_u64().unwrap()).sum()
}

#[test]
fn a_benign_alert_is_first_seen_then_learned() {
    let dir = TempDir::new("learned");
    let store = dir.join("h.redb");
    let cap = ssh_2200();
    let plain = replay(&[&cap], &[]);
    let first = replay(&[&cap], &["--baseline", s(&store)]);
    let second = replay(&[&cap], &["--baseline", s(&store)]);
    assert_eq!(first.len(), 1, "the benign session on port 2200 raises one low alert: {first:?}");
    // An empty history changes nothing.
    assert_eq!(first, plain);
    assert_eq!(first[0]["shellsight"]["tier"], "low");
    assert!(!reasons(&first[0]).iter().any(|r| r.starts_with("seen-before")));
    let r2 = reasons(&second[0]);
    assert!(r2.contains(&"seen-before:1-sessions".to_string()), "{r2:?}");
    let (s1, s2) = (first[0]["shellsight"]["score"].as_i64(), second[0]["shellsight"]["score"].as_i64());
    assert!(s2 < s1, "score did not drop once learned: {s1:?} -> {s2:?}");
    // A third run has seen it twice.
    let third = replay(&[&cap], &["--baseline", s(&store)]);
    assert!(reasons(&third[0]).contains(&"seen-before:2-sessions".to_string()), "{third:?}");
}

#[test]
fn a_shell_replayed_twice_keeps_its_tier() {
    let dir = TempDir::new("twice");
    for (i, cap) in [fixture("captures/shell_01_bash_devtcp.pcap"), fixture("demo.pcap")].iter().enumerate() {
        let store = dir.join(&format!("h{i}.redb"));
        let first = replay(&[cap], &["--baseline", s(&store)]);
        let second = replay(&[cap], &["--baseline", s(&store)]);
        assert!(!first.is_empty());
        assert_eq!(tiers(&first), tiers(&second), "{}: tiers changed on the second replay", cap.display());
        // The shells were counted, not learned as normal.
        let out = ok(&["baseline", "show", "--baseline", s(&store), "--format", "json"]);
        let flagged: u64 =
            json_lines(&out.stdout).iter().map(|h| h["flagged_sessions"].as_u64().unwrap()).sum();
        assert!(flagged >= 2, "{}: {flagged} flagged host-sessions", cap.display());
    }
}

#[test]
fn learning_benign_traffic_takes_no_tier_from_a_shell() {
    let dir = TempDir::new("mixed");
    let store = dir.join("h.redb");
    let mut learn: Vec<String> =
        ["baseline", "learn", "--baseline", s(&store)].iter().map(|x| x.to_string()).collect();
    for entry in std::fs::read_dir(root().join("fixtures/captures")).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap().to_str().unwrap().starts_with("benign_") {
            learn.push(p.display().to_string());
        }
    }
    // The demo itself too: its benign sessions are learned, its shells are not.
    learn.push(fixture("demo.pcap").display().to_string());
    let out = Command::new(bin()).args(&learn).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "learn printed alerts");
    assert!(host_sessions(&store) >= 8);
    let demo = fixture("demo.pcap");
    let before = tiers(&replay(&[&demo], &[]));
    let after = tiers(&replay(&[&demo], &["--baseline", s(&store)]));
    let labels: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("demo.labels.json")).unwrap()).unwrap();
    let shells = labels["files"]["demo.pcap"]["shells"].as_array().unwrap();
    for (session, tier) in &before {
        let is_shell = shells.iter().any(|sh| session.contains(sh["victim"].as_str().unwrap()));
        if is_shell {
            assert!(
                after.get(session).copied().unwrap_or(0) >= *tier,
                "{session} lost its tier: {before:?} -> {after:?}"
            );
        }
    }
    assert!(before.len() >= 4);
}

#[test]
fn an_established_internal_only_host_raises_a_new_peer() {
    let dir = TempDir::new("established");
    let store = dir.join("h.redb");
    // 10.20.1.13 (the demo's ncat-ssl victim) has talked only to its database for a month.
    let history = dir.join("history.jsonl");
    std::fs::write(
        &history,
        r#"{"host":"10.20.1.13","first_seen":"2026-10-01T00:00:00.000Z","last_seen":"2026-11-01T00:00:00.000Z","sessions":400,"days":31,"interactive_sessions":0,"service_sessions":400,"flagged_sessions":0,"peers":[{"remote":"internal","port_class":"db","direction":"out","first_seen":"2026-10-01T00:00:00.000Z","last_seen":"2026-11-01T00:00:00.000Z","sessions":400,"days":31}],"processes":[]}
"#,
    )
    .unwrap();
    ok(&["baseline", "import", "--baseline", s(&store), s(&history)]);
    let demo = fixture("demo.pcap");
    let plain = replay(&[&demo], &[]);
    let with = replay(&[&demo], &["--baseline", s(&store)]);
    let a = about(&plain, "10.20.1.13", "76.103.58.200", 8443);
    let b = about(&with, "10.20.1.13", "76.103.58.200", 8443);
    // The first record of each: later ones are written only when the tier rises, which
    // the raised score may have made happen sooner.
    let (a, b) = (a.first().unwrap(), b.first().unwrap());
    assert!(reasons(b).contains(&"first-seen:asn:7922".to_string()), "{:?}", reasons(b));
    assert!(b["shellsight"]["score"].as_i64() > a["shellsight"]["score"].as_i64());
    // Other hosts have no history: their alerts are as without a baseline.
    assert_eq!(
        about(&plain, "10.20.1.11", "73.162.44.21", 4444),
        about(&with, "10.20.1.11", "73.162.44.21", 4444)
    );
}

#[test]
fn export_and_import_round_trip() {
    let dir = TempDir::new("export");
    let (a, b) = (dir.join("a.redb"), dir.join("b.redb"));
    ok(&["baseline", "learn", "--baseline", s(&a), s(&fixture("demo.pcap")), s(&ssh_2200())]);
    let first = ok(&["baseline", "export", "--baseline", s(&a)]).stdout;
    let lines = json_lines(&first);
    assert!(lines.len() >= 8, "{} hosts exported", lines.len());
    assert!(lines
        .iter()
        .all(|h| h["host"].is_string() && h["peers"].is_array() && h["first_seen"].is_string()));
    let file = dir.join("export.jsonl");
    std::fs::write(&file, &first).unwrap();
    ok(&["baseline", "import", "--baseline", s(&b), s(&file)]);
    let again = ok(&["baseline", "export", "--baseline", s(&b)]).stdout;
    assert!(first == again, "the export of the imported store differs");
    // A bad line fails the import, names the line, and writes nothing.
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, format!("{}\n{{\"host\":\"not an ip\"}}\n", lines[0])).unwrap();
    let out = run(&["baseline", "import", "--baseline", s(&b), s(&bad)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl:2:"), "{err}");
    assert!(ok(&["baseline", "export", "--baseline", s(&b)]).stdout == first);
}

#[test]
fn forget_drops_a_host_or_the_old() {
    let dir = TempDir::new("forget");
    let store = dir.join("h.redb");
    ok(&["baseline", "learn", "--baseline", s(&store), s(&fixture("demo.pcap"))]);
    let hosts =
        || json_lines(&ok(&["baseline", "show", "--baseline", s(&store), "--format", "json"]).stdout).len();
    let n = hosts();
    ok(&["baseline", "forget", "--baseline", s(&store), "--host", "10.20.1.22"]);
    assert_eq!(hosts(), n - 1);
    let out = run(&["baseline", "show", "--baseline", s(&store), "--host", "10.20.1.22"]);
    assert!(!out.status.success());
    // Everything in the demo is within a minute of the newest record.
    ok(&["baseline", "forget", "--baseline", s(&store), "--older-than", "90d"]);
    assert_eq!(hosts(), n - 1);
    let out = run(&["baseline", "forget", "--baseline", s(&store), "--older-than", "ninety"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not a duration"));
}

#[test]
fn the_table_shows_the_three_grains() {
    let dir = TempDir::new("show");
    let store = dir.join("h.redb");
    ok(&["baseline", "learn", "--baseline", s(&store), s(&fixture("demo.pcap"))]);
    let out = ok(&["baseline", "show", "--baseline", s(&store), "--host", "10.20.1.22"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("10.20.1.22 "), "{text}");
    assert!(text.contains("  remote     asn:54113=5"), "{text}");
    assert!(text.contains("  port       web=5"), "{text}");
    assert!(text.contains("  direction  out=5"), "{text}");
    assert!(text.contains("internal/service 100%"), "Fastly-fronted mirrors are a known service: {text}");
}

#[test]
fn a_store_in_use_or_of_another_version_is_refused_clearly() {
    let dir = TempDir::new("versions");
    let store = dir.join("h.redb");
    ok(&["baseline", "learn", "--baseline", s(&store), s(&ssh_2200())]);
    {
        // Another process holds the store open (as a running sensor would).
        let _held = redb::Database::create(&store).unwrap();
        let out = run(&["baseline", "show", "--baseline", s(&store)]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("in use"), "{err}");
    }
    assert!(host_sessions(&store) > 0, "the store was damaged by the refused reader");

    let old = dir.join("old.redb");
    {
        let db = redb::Database::create(&old).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut meta = w.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap();
            meta.insert("format_version", 0).unwrap();
        }
        w.commit().unwrap();
    }
    for args in [
        vec!["baseline", "show", "--baseline", s(&old)],
        vec!["replay", s(&ssh_2200()), "--baseline", s(&old), "--format", "json"],
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("format version 0") && err.contains("reads version 1"), "{err}");
    }
    let junk = dir.join("junk.redb");
    std::fs::write(&junk, b"this is not a database at all, just some text\n".repeat(200)).unwrap();
    let out = run(&["baseline", "show", "--baseline", s(&junk)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a shellsight baseline store"));
    assert_eq!(std::fs::read(&junk).unwrap(), b"this is not a database at all, just some text\n".repeat(200));
}

#[test]
fn learning_is_the_same_for_any_thread_count() {
    let dir = TempDir::new("threads");
    let cap = dir.join("gen.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_shellsight-gencap"))
        .args(["--packets", "100000", "--seed", "12", "-o"])
        .arg(&cap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut exports = Vec::new();
    for threads in ["1", "3"] {
        let store = dir.join(&format!("t{threads}.redb"));
        // Commits every 200 ms of packet time: the shards take each new snapshot at the
        // same place in the stream.
        ok(&[
            "baseline",
            "learn",
            "--baseline",
            s(&store),
            s(&cap),
            "--threads",
            threads,
            "--commit-every",
            "200ms",
        ]);
        // Replaying against what was learned: identical alerts too.
        let alerts = replay(&[&cap], &["--baseline", s(&store), "--threads", threads]);
        exports.push((ok(&["baseline", "export", "--baseline", s(&store)]).stdout, alerts));
    }
    assert!(!exports[0].0.is_empty());
    assert!(exports[0].0 == exports[1].0, "--threads 3 learned a different history");
    assert!(exports[0].1 == exports[1].1, "--threads 3 gave different alerts");
}

#[test]
fn a_learn_killed_mid_write_leaves_every_commit_readable() {
    let dir = TempDir::new("kill");
    let cap = dir.join("flood.pcap");
    // Ordinary traffic plus a SYN flood: about a million sessions keep learn busy for
    // seconds, committing every 100 ms of packet time.
    let out = Command::new(env!("CARGO_BIN_EXE_shellsight-gencap"))
        .args(["--packets", "100000", "--syn-flood", "1000000", "--seed", "13", "-o"])
        .arg(&cap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let store = dir.join("h.redb");
    let mut child = Command::new(bin())
        .args(["-v", "baseline", "learn", "--baseline", s(&store), s(&cap), "--commit-every", "100ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut committed = 0u64;
    let mut commits = 0;
    let started = Instant::now();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while (commits < 5 || committed == 0) && started.elapsed() < Duration::from_secs(120) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.split("baseline committed: ").nth(1) {
            committed = rest.split(' ').next().unwrap().parse().unwrap();
            commits += 1;
        }
    }
    assert!(commits >= 5 && committed > 0, "learn ended before it was killed ({commits} commits seen)");
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "learn finished before the kill landed");
    drop(lines);
    // Reopens (redb repairs what the kill interrupted), with at least every commit seen.
    let after = host_sessions(&store);
    println!(
        "killed after {commits} commits: {committed} host-sessions committed, {after} in the reopened store"
    );
    assert!(after >= committed && committed > 0, "{after} host-sessions in the store, {committed} committed");
    // And keeps working: learning the rest finishes and adds to it.
    ok(&["baseline", "learn", "--baseline", s(&store), s(&ssh_2200())]);
    assert!(host_sessions(&store) > after);
}

#[test]
fn with_an_inventory_the_process_identity_is_learned() {
    let dir = TempDir::new("process");
    let store = dir.join("h.redb");
    let inv = root().join("tests/fixtures/baseline/ssh_port2200.inventory.jsonl");
    let alerts = replay(&[&ssh_2200()], &["--inventory", s(&inv), "--baseline", s(&store)]);
    assert_eq!(alerts[0]["process"]["name"], "sshd", "{alerts:?}");
    let out = ok(&["baseline", "show", "--baseline", s(&store), "--host", "198.18.0.10", "--format", "json"]);
    let host = &json_lines(&out.stdout)[0];
    let procs = host["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 1, "{host}");
    assert_eq!((procs[0]["name"].as_str(), procs[0]["parent"].as_str()), (Some("sshd"), Some("sshd")));
}

#[test]
fn a_live_sensor_keeps_its_history_in_the_state_dir() {
    let dir = TempDir::new("sensor");
    let state = dir.join("state");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sensor = Command::new(bin())
        .args(["sensor", "--interface", "lo", "--bpf", &format!("tcp port {port}"), "--duration", "5"])
        .args([
            "--format",
            "json",
            "-o",
            s(&dir.join("alerts.jsonl")),
            "--baseline",
            "--state-dir",
            s(&state),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // One conversation on loopback.
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = [0u8; 16];
        let n = c.read(&mut buf).unwrap();
        c.write_all(&buf[..n]).unwrap();
    });
    {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).unwrap();
    }
    server.join().unwrap();
    // While the sensor holds the store, a reader is told so.
    let store = state.join("baseline.redb");
    let out = run(&["baseline", "show", "--baseline", s(&store)]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = sensor.wait_with_output().unwrap();
    assert!(done.status.success(), "sensor failed: {}", String::from_utf8_lossy(&done.stderr));
    let out = ok(&["baseline", "show", "--baseline", s(&store), "--host", "127.0.0.1", "--format", "json"]);
    let host = &json_lines(&out.stdout)[0];
    assert_eq!(host["sessions"], 2, "both ends of the loopback session: {host}");
    assert_eq!(host["grains"]["direction"], serde_json::json!({"in": 1, "out": 1}));
}
