//! auditd as a process source: `replay --auditd` joins a capture with the host's audit
//! log, so a shell is named with its parent chain without the agent.
//! - a recorded pair (tests/fixtures/auditd, made by tests/auditd/run.sh) replays anywhere;
//! - as root, tests/auditd/run.sh runs real auditd with deploy/auditd/shellsight.rules,
//!   a php-fpm web shell's reverse shell in a namespace and tcpdump, and the fresh pair is
//!   joined the same way.

mod agent_support;
mod common;

use agent_support::privileged;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The alert for the reverse shell to 198.19.0.66:4444, which must name `bash -i` under
/// `bash -c` < `sh -c` < the php-fpm worker, with the commands typed into it.
fn check_php_fpm_shell(pcap: &Path, audit: &Path) -> Value {
    let alerts = replay(&[pcap], &["--auditd", audit.to_str().unwrap()]);
    let a = alerts
        .iter()
        .filter(|a| a["destination"]["port"] == 4444)
        .max_by_key(|a| tier_rank(a))
        .unwrap_or_else(|| panic!("no alert for the shell: {alerts:?}"))
        .clone();
    assert_eq!(a["shellsight"]["tier"], "high", "{a}");
    assert_eq!(a["process"]["name"], "bash", "{a}");
    assert_eq!(a["process"]["command_line"], "bash -i", "{a}");
    assert_eq!(a["process"]["parent"]["name"], "bash", "{a}");
    let chain: Vec<&str> = a["shellsight"]["process"]["ancestry"]
        .as_array()
        .expect("ancestry")
        .iter()
        .map(|x| x["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(chain.get(..3), Some(&["bash", "sh", "php-fpm8.2"][..]), "{chain:?}");
    let reasons = a["shellsight"]["reasons"].to_string();
    for r in ["exposed-service-parent:php-fpm8.2", "stdio-socket", "suspicious-command-line"] {
        assert!(reasons.contains(r), "{r} missing: {reasons}");
    }
    assert_eq!(a["user"]["id"], "33", "the worker's user, www-data");
    let typed: Vec<String> = a["shellsight"]["process"]["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .map(|c| c["command_line"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(typed.iter().any(|c| c == "id"), "{typed:?}");
    // Without the audit log the same capture names no process.
    let bare = replay(&[pcap], &[]);
    assert!(bare.iter().all(|x| x.get("process").is_none()));
    a
}

#[test]
fn a_recorded_audit_log_names_the_shell_and_its_parents() {
    let dir = root().join("tests/fixtures/auditd");
    check_php_fpm_shell(&dir.join("php-fpm.pcap"), &dir.join("php-fpm.audit.log"));
}

#[test]
fn a_file_that_is_no_audit_log_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("ss-auditd-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("not-audit.log");
    std::fs::write(&bad, "hello\nworld\n").unwrap();
    let pcap = root().join("tests/fixtures/auditd/php-fpm.pcap");
    let out = run(&["replay", pcap.to_str().unwrap(), "--auditd", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not-audit.log") && err.contains("no audit records"), "{err}");
    let out = run(&["replay", pcap.to_str().unwrap(), "--auditd", "/nonexistent/audit.log"]);
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The serial of an audit line (`msg=audit(TIME:SERIAL)`), which groups one event's lines.
fn audit_serial(line: &str) -> Option<&str> {
    let rest = &line[line.find("msg=audit(")? + "msg=audit(".len()..];
    rest.split_once(':')?.1.split_once(')').map(|(serial, _)| serial)
}

/// `agent --auditd` in follow mode: started before the log exists, fed its first half,
/// then the log is rotated (renamed away, a new file put in its place) with the second
/// half. What it sends must be exactly what one read of the whole log gives, and joined
/// offline it must still name the web shell's bash.
#[test]
fn agent_follows_a_growing_and_rotated_audit_log_and_loses_nothing() {
    let fixtures = root().join("tests/fixtures/auditd");
    let whole = std::fs::read_to_string(fixtures.join("php-fpm.audit.log")).unwrap();
    let lines: Vec<&str> = whole.lines().collect();
    // Cut at the first event boundary past the middle, as auditd writes whole events.
    let cut = (lines.len() / 2..lines.len())
        .find(|&i| audit_serial(lines[i]) != audit_serial(lines[i - 1]))
        .expect("no event boundary in the second half");
    let dir = std::env::temp_dir().join(format!("ss-auditd-follow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (log, followed, reference) =
        (dir.join("audit.log"), dir.join("followed.jsonl"), dir.join("ref.jsonl"));
    let agent = |log: &Path, out: &Path, secs: &str| {
        Command::new(bin())
            .args(["agent", "--auditd", log.to_str().unwrap(), "--output", out.to_str().unwrap()])
            .args(["--duration", secs, "-v"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };

    let follower = agent(&log, &followed, "8");
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(&log, lines[..cut].join("\n") + "\n").unwrap();
    // Rotate only once the agent holds the first file open, or it would never see it.
    let fd_dir = format!("/proc/{}/fd", follower.id());
    let holds_log = || {
        std::fs::read_dir(&fd_dir)
            .map(|fds| fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == log)))
            .unwrap_or(false)
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !holds_log() {
        assert!(std::time::Instant::now() < until, "the agent never opened {}", log.display());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::rename(&log, dir.join("audit.log.1")).unwrap();
    let fresh = dir.join("audit.log.new");
    std::fs::write(&fresh, lines[cut..].join("\n") + "\n").unwrap();
    std::fs::rename(&fresh, &log).unwrap();
    let out = follower.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "agent --auditd failed: {err}");
    assert!(err.contains("not there yet") && err.contains("rotated"), "the waits are not said: {err}");

    // One read of the whole log, for comparison.
    let out = agent(&fixtures.join("php-fpm.audit.log"), &reference, "1").wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sorted = |p: &Path| {
        let mut v: Vec<String> = std::fs::read_to_string(p).unwrap().lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let (got, want) = (sorted(&followed), sorted(&reference));
    assert!(want.len() >= 10, "the whole log gave only {} records", want.len());
    assert_eq!(got, want, "following in two pieces across a rotation differs from one read");

    let alerts = replay(&[&fixtures.join("php-fpm.pcap")], &["--inventory", followed.to_str().unwrap()]);
    let shell = alerts
        .iter()
        .filter(|a| a["destination"]["port"] == 4444)
        .max_by_key(|a| tier_rank(a))
        .unwrap_or_else(|| panic!("no alert for the shell: {alerts:?}"));
    assert_eq!(shell["process"]["name"], "bash", "{shell}");
    assert_eq!(shell["shellsight"]["tier"], "high", "{shell}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn real_auditd_records_a_php_fpm_reverse_shell_that_replay_attributes() {
    if !privileged() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ss-auditd-{}", std::process::id()));
    let out = Command::new("bash")
        .arg(root().join("tests/auditd/run.sh"))
        .arg(&dir)
        .output()
        .expect("run tests/auditd/run.sh");
    let log = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) {
        eprintln!("skipped: {log}");
        return;
    }
    assert!(out.status.success(), "tests/auditd/run.sh failed:\n{log}");
    let a = check_php_fpm_shell(&dir.join("capture.pcap"), &dir.join("audit.log"));
    eprintln!("{}", a["shellsight"]["process"]["ancestry"]);
    let _ = std::fs::remove_dir_all(&dir);
}
