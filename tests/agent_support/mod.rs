//! Helpers shared by the `agent_*` integration tests: run the real binary, start real
//! processes, clean them up.
#![allow(dead_code)]

use shellsight::inventory::InventoryRecord;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_shellsight");

/// Fails the test with a clear message when a tool it needs is missing.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "`{tool}` not found on PATH: install the `{package}` package (CI installs it)");
}

/// True when the test may run; false (skip) only when not root and
/// SHELLSIGHT_SKIP_PRIVILEGED=1. Without that variable a non-root run fails loudly.
pub fn privileged() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Uid:").map(|v| v.split_whitespace().nth(1) == Some("0")))
        })
        .unwrap_or(false);
    if root {
        return true;
    }
    if std::env::var("SHELLSIGHT_SKIP_PRIVILEGED").as_deref() == Ok("1") {
        eprintln!("skipping: needs root (SHELLSIGHT_SKIP_PRIVILEGED=1)");
        return false;
    }
    panic!("this test needs root (netns); run as root or set SHELLSIGHT_SKIP_PRIVILEGED=1 to skip it");
}

/// A process group killed when dropped.
pub struct Group(pub Child);

impl Group {
    /// Starts `cmd` as the leader of a new session, and so of a new process group, as a
    /// login or a service manager would. The tests then see the same group and session
    /// leaders whatever session the test runner sits in: under a CI runner that never
    /// calls setsid(2), every process is in session 0, which /proc reports as no leader.
    /// `setsid` execs in place (the child is not a group leader), so the pid is `cmd`'s.
    pub fn spawn(cmd: &mut Command) -> Group {
        let mut in_new_session = Command::new("setsid");
        in_new_session.arg(cmd.get_program()).args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => in_new_session.env(key, value),
                None => in_new_session.env_remove(key),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            in_new_session.current_dir(dir);
        }
        let child = in_new_session
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        Group(child)
    }
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

pub fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Accepts one connection within `secs` seconds.
pub fn accept_within(l: &TcpListener, secs: u64) -> TcpStream {
    l.set_nonblocking(true).unwrap();
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("no reverse shell connected within {secs}s: {e}"),
        }
    }
}

/// Runs `shellsight agent --once` with extra args and parses every line.
pub fn agent_once(extra: &[&str]) -> Vec<InventoryRecord> {
    let out = Command::new(BIN).args(["agent", "--once"]).args(extra).output().expect("run shellsight");
    assert!(out.status.success(), "agent failed: {}", String::from_utf8_lossy(&out.stderr));
    parse_lines(&String::from_utf8(out.stdout).expect("utf-8"))
}

/// A real record to copy: a loopback connection of this test process, as the agent
/// sees it (its process and ancestry included).
pub fn own_connection_record() -> InventoryRecord {
    let (l, port) = listener();
    let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _server = l.accept().unwrap();
    agent_once(&[])
        .into_iter()
        .find(|r| r.destination.port == port)
        .expect("the agent does not see the test's connection")
}

/// The socket records of an agent's output; exec lines (commands run over a socket,
/// `"action":"exec"`) are another record type and are skipped.
pub fn parse_lines(s: &str) -> Vec<InventoryRecord> {
    s.lines()
        .filter(|l| !l.contains("\"action\":\"exec\""))
        .map(|l| serde_json::from_str::<InventoryRecord>(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

/// Polls `agent --once` until `pred` picks a record, or fails after `secs` seconds.
pub fn wait_for_record(secs: u64, pred: impl Fn(&InventoryRecord) -> bool) -> InventoryRecord {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let recs = agent_once(&[]);
        if let Some(r) = recs.into_iter().find(|r| pred(r)) {
            return r;
        }
        assert!(Instant::now() < until, "no matching inventory record within {secs}s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Direct children of `pid`, read from /proc independently of the agent.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        if rest.split_whitespace().nth(1).and_then(|p| p.parse::<i32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// Waits until `pid` has exactly one child whose comm is `name`; returns it.
pub fn wait_child(pid: i32, name: &str, secs: u64) -> i32 {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let found: Vec<i32> =
            children_of(pid).into_iter().filter(|c| comm(*c).as_deref() == Some(name)).collect();
        if found.len() == 1 {
            return found[0];
        }
        assert!(Instant::now() < until, "pid {pid} has no `{name}` child after {secs}s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_string())
}

pub fn netns_inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect("netns").ino()
}

/// Sends a command through the shell's socket and reads until `want` shows up.
pub fn shell_answers(stream: &mut TcpStream, cmd: &str, want: &str) {
    use std::io::Write;
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    stream.write_all(cmd.as_bytes()).unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        if let Ok(n) = stream.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&got).contains(want) {
                return;
            }
        }
    }
    panic!("shell did not answer {want:?}; got {:?}", String::from_utf8_lossy(&got));
}

/// The wire and the host recorded together, as an investigation would for a later
/// `replay --inventory`: `tcpdump` on loopback for one TCP port and `agent --output`
/// for `agent_secs`.
pub struct Recording {
    tcpdump: Child,
    pub agent: Child,
}

impl Recording {
    /// Starts both and gives them time to be listening before the traffic starts.
    pub fn start(pcap: &Path, inventory: &Path, port: u16, agent_secs: u32) -> Recording {
        let tcpdump = Command::new("tcpdump")
            .args(["-i", "lo", "-U", "-s", "256", "-w", pcap.to_str().unwrap(), &format!("tcp port {port}")])
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump (CI installs it)");
        let agent = Command::new(BIN)
            .args(["agent", "--interval", "500ms", "--output", inventory.to_str().unwrap()])
            .args(["--duration", &agent_secs.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        Recording { tcpdump, agent }
    }

    /// Ends the capture as ^C would, so that tcpdump writes out what it holds.
    pub fn stop_capture(mut self) {
        let _ = Command::new("kill").args(["-INT", &self.tcpdump.id().to_string()]).status();
        let _ = self.tcpdump.wait();
    }
}
