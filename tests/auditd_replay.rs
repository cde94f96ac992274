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
