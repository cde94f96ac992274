//! A polling implant joined to its process (issue 25): a real long-poll implant
//! (`fixtures/lib/c2_implant.py`) checks in over loopback with a scripted operator
//! (`fixtures/lib/c2_server.py`) while `tcpdump` records the wire and `agent --output`
//! records the host. The capture alone gives the series at medium or above (operator tasks
//! over a long-poll); joined with the inventory, the series names the python interpreter
//! behind it and is high. Needs root (set SHELLSIGHT_SKIP_PRIVILEGED=1 to skip).

mod agent_support;
mod common;

use agent_support::{privileged, require_tool, Recording};
use common::*;
use serde_json::Value;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn series_alerts(alerts: &[Value], port: u16) -> Vec<&Value> {
    alerts
        .iter()
        .filter(|a| a["destination"]["port"] == port && a["shellsight"]["series"].is_object())
        .collect()
}

#[test]
fn a_long_poll_implant_is_reported_as_a_series_and_joined_to_its_interpreter() {
    if !privileged() {
        return;
    }
    require_tool("tcpdump", "tcpdump");
    require_tool("python3", "python3");
    let dir = std::env::temp_dir().join(format!("ss-poller-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pcap, inventory, done) = (dir.join("cap.pcap"), dir.join("inventory.jsonl"), dir.join("done"));
    let _ = std::fs::remove_file(&done);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The implant runs from a copy, as a dropped file would.
    let implant = dir.join("c2_implant.py");
    std::fs::copy(fixture("lib/c2_implant.py"), &implant).unwrap();

    let mut recording = Recording::start(&pcap, &inventory, port, 110);
    let mut server = Command::new("python3")
        .arg(fixture("lib/c2_server.py"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--profile", "longpoll", "--hold", "5"])
        .args(["--operator-after", "4", "--cmd", "id", "--cmd", "whoami", "--cmd", "uname -a", "--tail", "3"])
        .args(["--done-file", done.to_str().unwrap(), "--max-seconds", "100"])
        .stderr(Stdio::null())
        .spawn()
        .expect("c2_server.py");
    std::thread::sleep(Duration::from_millis(500));
    let mut poller = Command::new("python3")
        .arg(&implant)
        .args(["--url", &format!("http://127.0.0.1:{port}"), "--profile", "longpoll", "--mode", "longpoll"])
        .args(["--max-seconds", "95"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("c2_implant.py");
    let started = Instant::now();
    while !done.exists() && started.elapsed() < Duration::from_secs(100) {
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = poller.kill();
    let _ = poller.wait();
    let _ = server.kill();
    let _ = server.wait();
    std::thread::sleep(Duration::from_millis(800));
    let _ = recording.agent.kill();
    let _ = recording.agent.wait();
    recording.stop_capture();
    assert!(done.exists(), "the operator never finished: the implant did not poll");

    let capture_only = replay(&[&pcap], &[]);
    let series = series_alerts(&capture_only, port);
    let best = series.iter().map(|a| tier_rank(a)).max().unwrap_or(0);
    assert!(
        best >= 2,
        "operator tasks over a long-poll are at least medium from the wire alone: {capture_only:?}"
    );
    assert!(series.iter().any(|a| a["shellsight"]["reasons"].to_string().contains("operator-tasks")));

    let joined = replay(&[&pcap], &["--inventory", inventory.to_str().unwrap()]);
    let series = series_alerts(&joined, port);
    let high = series
        .iter()
        .find(|a| tier_rank(a) == 3)
        .unwrap_or_else(|| panic!("the joined series is not high: {series:?}"));
    assert!(high["process"]["name"].as_str().unwrap_or("").starts_with("python"), "{high}");
    let command_line = high["process"]["command_line"].as_str().unwrap_or("");
    assert!(command_line.contains("c2_implant.py"), "{command_line}");
    assert!(high["shellsight"]["reasons"].to_string().contains("poller-process"), "{high}");
}
