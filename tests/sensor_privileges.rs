//! Privileges: `sensor --user nobody` captures as root, then runs as nobody with no
//! capability left (read from /proc while it runs), still writing its output; the agent
//! names the capabilities it lacks at start, and says when its /proc is a container's own
//! pid namespace, where exec events cannot be used. Needs root; set SHELLSIGHT_SKIP_PRIVILEGED=1
//! to skip when not root.

mod agent_support;
mod common;

use agent_support::{privileged, require_tool};
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn status_field(pid: u32, key: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string())
}

#[test]
fn sensor_user_drops_to_an_unprivileged_user_after_opening_the_capture() {
    if !privileged() {
        return;
    }
    // nobody's output goes to a file root opened in a temp dir of its own.
    let dir = std::env::temp_dir().join(format!("ss-sensor-user-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("alerts.jsonl");
    let sensor = Command::new(bin())
        .current_dir(&dir)
        .args(["sensor", "--interface", "lo", "--bpf", "tcp port 9", "--user", "nobody", "--duration", "4"])
        .args(["--format", "json", "-o", out.to_str().unwrap(), "-v"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = sensor.id();
    let until = Instant::now() + Duration::from_secs(3);
    let mut seen = None;
    while Instant::now() < until {
        let uid = status_field(pid, "Uid:");
        if uid.as_deref().is_some_and(|u| u.split_whitespace().all(|x| x == "65534")) {
            seen = Some((uid.unwrap(), status_field(pid, "CapEff:"), status_field(pid, "CapPrm:")));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (uid, eff, prm) = seen.expect("the sensor never ran as nobody (uid 65534)");
    assert_eq!(eff.as_deref(), Some("0000000000000000"), "effective capabilities left (uid {uid})");
    assert_eq!(prm.as_deref(), Some("0000000000000000"), "permitted capabilities left");
    assert_eq!(status_field(pid, "NoNewPrivs:").as_deref(), Some("1"));
    let output = sensor.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sensor failed: {err}");
    assert!(err.contains("running as nobody"), "{err}");
    // The stats record written at the end, after the switch, is there.
    let records = json_lines(&std::fs::read(&out).unwrap());
    assert!(records.iter().any(|r| r["event"]["kind"] == "metric"), "no stats record after the switch");

    let refused = run(&["sensor", "--interface", "lo", "--user", "no-such-user-here", "--duration", "1"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no such user"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_agent_names_the_capabilities_it_lacks() {
    if !privileged() {
        return;
    }
    require_tool("setpriv", "util-linux");
    // Root, but without ptrace and netlink admin rights in its bounding set.
    let out = Command::new("setpriv")
        .args(["--bounding-set", "-sys_ptrace,-net_admin", "--inh-caps", "-all"])
        .arg(bin())
        .args(["agent", "--once"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "agent failed: {err}");
    assert!(err.contains("missing CAP_SYS_PTRACE"), "{err}");
    assert!(err.contains("missing CAP_NET_ADMIN"), "{err}");
    assert!(!err.contains("missing CAP_DAC_READ_SEARCH"), "{err}");

    let full = Command::new(bin()).args(["agent", "--once"]).stdout(Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(!err.contains("missing CAP_"), "root with every capability was told it lacks one: {err}");
}

#[test]
fn an_agent_in_a_containers_pid_namespace_does_not_trust_host_pids() {
    if !privileged() {
        return;
    }
    require_tool("unshare", "util-linux");
    let warning = "proc connector names host pids";
    // Its own pid namespace and /proc, as in a container without hostPID.
    let contained = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(bin())
        .args(["agent", "--duration", "1", "--output", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&contained.stderr);
    assert!(contained.status.success(), "agent failed: {err}");
    assert!(err.contains(warning), "no word of the pid namespace: {err}");

    let on_the_host =
        Command::new(bin()).args(["agent", "--duration", "1", "--output", "/dev/null"]).output().unwrap();
    let err = String::from_utf8_lossy(&on_the_host.stderr);
    assert!(on_the_host.status.success(), "agent failed: {err}");
    assert!(!err.contains(warning), "warned in the host's pid namespace: {err}");
}
