//! Without rights over other users' processes the agent still succeeds: their sockets
//! are listed unattributed, and a summary on stderr names the processes it could not
//! read. Runs the binary as `nobody` (needs root to switch).

mod agent_support;
use agent_support::*;
use shellsight::inventory::InventoryRecord;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn unprivileged_run_reports_unreadable_processes() {
    if !privileged() {
        return;
    }
    require_tool("setpriv", "util-linux");
    // The listener is held by this (root) test process.
    let (_l, port) = listener();
    // nobody runs a copy outside the checkout, which may be private (0700) to it.
    let dir = std::env::temp_dir().join(format!("ss-unpriv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("shellsight");
    std::fs::copy(BIN, &bin).unwrap();
    for p in [&dir, &bin] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["agent", "--once"])
        .current_dir(&dir)
        .output()
        .expect("run setpriv");
    std::fs::remove_dir_all(&dir).ok();
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
