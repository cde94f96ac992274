//! The socket inventory record: one socket as seen by the host agent, with the process
//! behind it and its container context. ECS-shaped JSON, one record per line.
//!
//! Shared between the agent (producer, `shellsight agent`) and the sensor's joiner
//! (consumer, `serde_json::from_str::<InventoryRecord>`).
//!
//! One record per (socket, pid): a socket whose inode appears in the fd tables of
//! several processes (inherited across fork, or passed) yields one record for each of
//! them, so the joiner sees every candidate and can prefer e.g. the one whose fds 0-2 are
//! the socket. A socket whose owner could not be found (no rights, or a kernel-owned
//! socket) yields one record without `process`.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// What kind of line this is in a snapshot + deltas stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Part of a full inventory (the first one of a run, or `--once`).
    Snapshot,
    /// The socket (or this process's hold on it) appeared since the previous refresh.
    Opened,
    /// The socket (or this process's hold on it) disappeared since the previous refresh.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpVersion {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryRecord {
    /// RFC 3339, UTC, when the refresh that produced this line ran.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// The same instant as unix nanoseconds, for machines.
    pub observed_ns: i64,
    pub event: EventInfo,
    pub host: HostInfo,
    pub network: NetworkInfo,
    /// The local end of the socket.
    pub source: Endpoint,
    /// The remote end (`0.0.0.0:0` / `:::0` for listeners and unconnected UDP).
    pub destination: Endpoint,
    pub socket: SocketInfo,
    /// Shared (`Arc`) because one process holds many sockets; reads like a plain field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Arc<ProcessInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Arc<ContainerInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<Arc<OrchestratorInfo>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    pub name: String,
    /// `/proc/sys/kernel/random/boot_id`: pids and netns inodes are only unique within it.
    pub boot_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub transport: Transport,
    #[serde(rename = "type")]
    pub ip_version: IpVersion,
    /// Inode of the network namespace (`/proc/<pid>/ns/net`).
    pub netns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketInfo {
    pub inode: u64,
    /// Kernel state name: `ESTABLISHED`, `LISTEN`, `SYN_SENT`, ... (`CLOSE` for unconnected UDP).
    pub state: String,
    /// Owner uid of the socket as the kernel reports it.
    pub uid: u32,
    /// The fd numbers under which `process` holds this socket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds: Vec<u32>,
    /// `process` does not hold the socket: its stdio is a pty whose master a holder of the
    /// socket has open (`python -c 'pty.spawn(...)'`, `socat ... exec:bash,pty`, `script`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty: Option<PtyLink>,
}

/// How a process on a pty is wired to a socket: through the pty's master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtyLink {
    /// The slave the process has on its stdio, e.g. `pts/3`.
    pub name: String,
    /// The socket holder that has the master open (it relays between the two).
    pub master_pid: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: i32,
    /// Thread-group leader's name (`comm`, at most 15 bytes).
    pub name: String,
    /// Target of `/proc/<pid>/exe`, without the " (deleted)" suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// The executable was deleted (or replaced) after the process started.
    #[serde(default)]
    pub exe_deleted: bool,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub command_line: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// RFC 3339 start time (boot time + start ticks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Controlling terminal, e.g. `pts/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    pub user: UserInfo,
    pub std_sockets: StdSockets,
    /// The terminals fds 0, 1 and 2 are open on, when they are ttys (`pts/3`).
    #[serde(default, skip_serializing_if = "StdTtys::is_empty")]
    pub std_ttys: StdTtys,
    /// The ptys whose master side this process has open (`pts/3`): it drives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pty_masters: Vec<String>,
    /// The leader of its process group (`pgid`) and of its session (`sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_leader: Option<LeaderInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_leader: Option<LeaderInfo>,
    /// What this pid ran before its last exec, when the agent saw it (`nc -e /bin/sh`
    /// becomes `sh` in place: this is the `nc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_from: Option<PreviousImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentInfo>,
    /// Parent first, then its parent, ... up to pid 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<AncestorInfo>,
}

/// Terminal names of fds 0, 1, 2 (None: not a tty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StdTtys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
}

impl StdTtys {
    pub fn is_empty(&self) -> bool {
        self.stdin.is_none() && self.stdout.is_none() && self.stderr.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    pub pid: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousImage {
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
}

/// One exec (or a process first seen by a scan) whose stdio is wired to a connected TCP
/// socket, directly or through a pty whose master a holder of the socket has open: a
/// command run over that socket. Separate lines in the same stream as the socket records
/// (`event.action: exec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecRecord {
    /// RFC 3339, UTC: when the exec happened (proc connector), or when the process
    /// started (found by a scan).
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    pub observed_ns: i64,
    pub event: ExecEventInfo,
    pub host: HostInfo,
    pub process: ExecProcess,
    /// Inodes of the sockets the stdio is wired to.
    pub stdio_sockets: Vec<u64>,
    /// The pty in between, when the wiring goes through one (`pts/3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdio_pty: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecAction {
    Exec,
}

/// Where the agent learnt of the exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecSource {
    /// The kernel's proc connector reported the exec as it happened.
    ProcConnector,
    /// A refresh found the process (no proc connector, or it was already running).
    Scan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecEventInfo {
    pub action: ExecAction,
    pub source: ExecSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecProcess {
    pub pid: i32,
    pub ppid: i32,
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    pub user: UserInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Real uid.
    pub id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Which of fds 0, 1, 2 are sockets, and which socket inodes they are. A shell with all
/// three wired to a socket is the strongest host-side tell of a reverse shell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StdSockets {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin_inode: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_inode: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_inode: Option<u64>,
}

impl StdSockets {
    /// All three std fds are sockets.
    pub fn all(&self) -> bool {
        self.stdin && self.stdout && self.stderr
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentInfo {
    pub pid: i32,
    pub name: String,
    #[serde(default)]
    pub command_line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AncestorInfo {
    pub pid: i32,
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Full 64-hex container id.
    pub id: String,
    /// `containerd`, `cri-o`, `docker`, `podman`, or `unknown`.
    pub runtime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrchestratorInfo {
    /// Kubernetes namespace of the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub resource: ResourceInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceInfo {
    /// Always `pod`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_record_round_trips_and_skips_absent_fields() {
        let rec = InventoryRecord {
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            observed_ns: 1,
            event: EventInfo { action: Action::Opened },
            host: HostInfo { name: "h".into(), boot_id: "b".into() },
            network: NetworkInfo { transport: Transport::Tcp, ip_version: IpVersion::Ipv6, netns: 7 },
            source: Endpoint { ip: "::1".parse().unwrap(), port: 1 },
            destination: Endpoint { ip: "::1".parse().unwrap(), port: 2 },
            socket: SocketInfo { inode: 9, state: "ESTABLISHED".into(), uid: 0, fds: vec![], pty: None },
            process: None,
            container: None,
            orchestrator: None,
        };
        let line = serde_json::to_string(&rec).unwrap();
        assert!(line.contains("\"@timestamp\""));
        assert!(line.contains("\"action\":\"opened\""));
        assert!(line.contains("\"type\":\"ipv6\""));
        assert!(!line.contains("process"));
        assert!(!line.contains("fds"));
        let back: InventoryRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, rec);
    }
}
