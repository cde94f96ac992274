//! Without rights over other users' processes the agent still succeeds: their sockets
//! are listed unattributed, and a summary on stderr names the processes it could not
//! read. Runs the binary as `nobody` (needs root to switch).

mod agent_support;
use agent_support::*;
use shellsight::inventory::InventoryRecord;
use std::process::Command;

#[test]
fn unprivileged_run_reports_unreadable_processes() {
    if !privileged() {
        return;
    }
    require_tool("setpriv", "util-linux");
    let (_l, port) = listener(); // held by this (root) test process
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "agent", "--once"])
        .output()
        .expect("run setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "agent as nobody failed: {stderr}");
    let recs: Vec<InventoryRecord> = parse_lines(&String::from_utf8(out.stdout).unwrap());
    let mine = recs
        .iter()
        .find(|r| r.source.port == port && r.socket.state == "LISTEN")
        .expect("the root-owned listener is still inventoried");
    assert!(mine.process.is_none(), "not attributable without rights: {mine:?}");
    let line = stderr.lines().find(|l| l.contains("could not read")).expect("summary on stderr");
    assert!(line.contains("insufficient rights"), "{line}");
    let me = std::process::id().to_string();
    let listed = line.split("pids ").nth(1).unwrap_or("");
    assert!(
        listed.split([',', ' ']).any(|p| p == me) || line.contains(" more"),
        "this root process ({me}) should be among the unreadable: {line}"
    );
    // With rights, the same socket is attributed to this process and no summary appears.
    let out = Command::new(BIN).args(["agent", "--once"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("could not read"));
    let recs = parse_lines(&String::from_utf8(out.stdout).unwrap());
    let mine = recs.iter().find(|r| r.source.port == port && r.socket.state == "LISTEN").unwrap();
    assert_eq!(mine.process.as_ref().map(|p| p.pid), Some(std::process::id() as i32));
}
