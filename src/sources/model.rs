//! The process model every source feeds: processes (keyed by pid, or by Sysmon's
//! ProcessGuid), their parents, their images and the sockets on their fds. Each change that
//! matters for attribution turns into the records the /proc agent emits: an
//! [`InventoryRecord`] per (socket, holding process), and an [`ExecRecord`] per exec whose
//! stdio is a socket. The joiner keeps the newest record per (socket, pid), so emitting
//! again after each change leaves it with the final picture.

use super::SourceRecord;
use crate::inventory::{
    Action, AncestorInfo, Endpoint, EventInfo, ExecAction, ExecEventInfo, ExecProcess, ExecRecord,
    ExecSource, HostInfo, InventoryRecord, IpVersion, NetworkInfo, ParentInfo, PreviousImage, ProcessInfo,
    SocketInfo, StdSockets, StdTtys, Transport, UserInfo,
};
use crate::time::Timestamp;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// At most this many ancestors are named (a fork bomb must not make records huge).
const MAX_ANCESTORS: usize = 32;

/// How a source names a process: a pid (auditd) or a GUID (Sysmon, which survives pid reuse).
pub type ProcKey = String;

/// What a source knows about a process at one event.
#[derive(Debug, Clone, Default)]
pub struct ProcessSighting {
    pub key: ProcKey,
    pub pid: i32,
    pub ppid: i32,
    /// The parent's key, when the source names it (Sysmon's ParentProcessGuid).
    pub parent_key: Option<ProcKey>,
    /// Short name (`comm`, or the image's file name).
    pub name: String,
    pub executable: Option<String>,
    /// The command line split into arguments, when the event carries it.
    pub args: Option<Vec<String>>,
    pub cwd: Option<String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
}

/// One connection a process opened or accepted.
#[derive(Debug, Clone)]
pub struct SocketSighting {
    /// The local end, when the source says (Sysmon does, auditd's connect does not).
    pub local: Option<(IpAddr, u16)>,
    pub remote: (IpAddr, u16),
    pub transport: Transport,
    /// The fd it sits on (auditd), so dup2 and fork can carry it to a shell.
    pub fd: Option<i32>,
}

#[derive(Debug, Clone)]
struct Proc {
    pid: i32,
    ppid: i32,
    parent: Option<ProcKey>,
    name: String,
    executable: Option<String>,
    args: Vec<String>,
    cwd: Option<String>,
    uid: u32,
    user: Option<String>,
    start: Option<Timestamp>,
    /// Its image came from an exec record (argv as exec'd), not from a title it may
    /// rewrite later (`php-fpm: pool www`).
    exec_seen: bool,
    exec_from: Option<PreviousImage>,
    /// fd → socket id; sources without fds put each socket on a negative pseudo-fd.
    fds: BTreeMap<i32, u64>,
}

#[derive(Debug, Clone)]
struct Socket {
    local: Option<(IpAddr, u16)>,
    remote: (IpAddr, u16),
    transport: Transport,
}

/// The model for one host's log.
#[derive(Debug)]
pub struct HostModel {
    host: HostInfo,
    procs: HashMap<ProcKey, Proc>,
    sockets: HashMap<u64, Socket>,
    next_socket: u64,
    out: Vec<SourceRecord>,
}

impl HostModel {
    /// `host` names the machine; `source` tells the logs apart (it stands in for the boot
    /// id, which pids and socket ids are unique within).
    pub fn new(host: &str, source: &str) -> Self {
        HostModel {
            host: HostInfo { name: host.to_string(), boot_id: source.to_string() },
            procs: HashMap::new(),
            sockets: HashMap::new(),
            next_socket: 1,
            out: Vec::new(),
        }
    }

    pub fn set_host_name(&mut self, name: &str) {
        if self.host.name != name {
            self.host.name = name.to_string();
        }
    }

    /// The records completed since the last call.
    pub fn take(&mut self) -> Vec<SourceRecord> {
        std::mem::take(&mut self.out)
    }

    /// A process did something at `at`: learn (or refresh) what it is. A pid never seen
    /// before inherits its parent's fds 0-2 (fork keeps them, and dup2 clears
    /// close-on-exec, so they survive the child's exec too).
    /// Returns whether this is a process not seen before.
    pub fn sighting(&mut self, at: Timestamp, s: &ProcessSighting) -> bool {
        let parent_key = s.parent_key.clone().or_else(|| (s.ppid > 0).then(|| s.ppid.to_string()));
        let known = self.procs.get(&s.key).map(|p| p.ppid);
        // The same pid under another parent is a new process (pid reuse), unless it was
        // handed to init when its parent exited, or the event does not name the parent
        // (ppid 0). Sources keyed by GUID never reuse a key.
        let fresh = match known {
            None => true,
            Some(ppid) => ppid != s.ppid && s.ppid > 1 && s.parent_key.is_none(),
        };
        if fresh {
            let inherited: BTreeMap<i32, u64> = parent_key
                .as_ref()
                .and_then(|k| self.procs.get(k))
                .map(|p| p.fds.range(0..=2).map(|(fd, id)| (*fd, *id)).collect())
                .unwrap_or_default();
            self.procs.insert(
                s.key.clone(),
                Proc {
                    pid: s.pid,
                    ppid: s.ppid,
                    parent: parent_key,
                    name: s.name.clone(),
                    executable: s.executable.clone(),
                    args: s.args.clone().unwrap_or_default(),
                    cwd: s.cwd.clone(),
                    uid: s.uid.unwrap_or(u32::MAX),
                    user: s.user.clone(),
                    start: Some(at),
                    exec_seen: false,
                    exec_from: None,
                    fds: inherited,
                },
            );
            self.emit_holdings(at, &s.key);
            return true;
        }
        let p = self.procs.get_mut(&s.key).expect("known");
        if let (false, Some(args)) = (p.exec_seen, &s.args) {
            p.args = args.clone();
        }
        if p.executable.is_none() {
            p.executable = s.executable.clone();
        }
        if let Some(uid) = s.uid {
            p.uid = uid;
        }
        if s.user.is_some() {
            p.user = s.user.clone();
        }
        false
    }

    /// The process exec'd a new image (`s` describes it). Its fds stay; the image before
    /// is kept as `exec_from` (`nc -e /bin/sh` becomes `sh` in place).
    pub fn exec(&mut self, at: Timestamp, s: &ProcessSighting) {
        let before =
            self.procs.get(&s.key).map(|p| PreviousImage { name: p.name.clone(), args: p.args.clone() });
        let existed = !self.sighting(at, s);
        let p = self.procs.get_mut(&s.key).expect("just seen");
        p.exec_seen = true;
        if existed {
            p.exec_from = before;
            p.name = s.name.clone();
            p.executable = s.executable.clone();
            p.args = s.args.clone().unwrap_or_default();
            if s.cwd.is_some() {
                p.cwd = s.cwd.clone();
            }
            p.start = Some(at);
        }
        let stdio: Vec<u64> = [0, 1].iter().filter_map(|fd| p.fds.get(fd).copied()).collect();
        if !stdio.is_empty() {
            let mut inodes = stdio;
            inodes.dedup();
            let rec = ExecRecord {
                timestamp: at.to_rfc3339(),
                observed_ns: at.as_nanos(),
                event: ExecEventInfo { action: ExecAction::Exec, source: ExecSource::Scan },
                host: self.host.clone(),
                process: ExecProcess {
                    pid: p.pid,
                    ppid: p.ppid,
                    name: p.name.clone(),
                    args: p.args.clone(),
                    executable: p.executable.clone(),
                    user: UserInfo { id: p.uid, name: p.user.clone() },
                },
                stdio_sockets: inodes,
                stdio_pty: None,
            };
            self.out.push(SourceRecord::Exec(Arc::new(rec)));
        }
        if existed {
            self.emit_holdings(at, &s.key);
        }
    }

    /// The process opened (connect) or accepted a connection.
    pub fn socket(&mut self, at: Timestamp, key: &ProcKey, s: &SocketSighting) {
        let id = self.next_socket;
        self.next_socket += 1;
        self.sockets.insert(id, Socket { local: s.local, remote: s.remote, transport: s.transport });
        if let Some(p) = self.procs.get_mut(key) {
            // Without an fd (Sysmon) each socket gets a pseudo-fd of its own, below zero.
            p.fds.insert(s.fd.unwrap_or(-(id.min(i32::MAX as u64) as i32)), id);
            self.emit_holdings(at, key);
        }
    }

    /// `dup2(old, new)`: fd `new` now refers to what `old` did (a socket or not).
    pub fn dup(&mut self, at: Timestamp, key: &ProcKey, old: i32, new: i32) {
        let Some(p) = self.procs.get_mut(key) else { return };
        match p.fds.get(&old).copied() {
            Some(id) => {
                p.fds.insert(new, id);
                self.emit_holdings(at, key);
            }
            None => {
                p.fds.remove(&new);
            }
        }
    }

    /// One inventory record for each socket the process holds, as it is now.
    fn emit_holdings(&mut self, at: Timestamp, key: &ProcKey) {
        let Some(p) = self.procs.get(key) else { return };
        let mut ids: Vec<u64> = p.fds.values().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return;
        }
        let info = Arc::new(self.process_info(p));
        for id in ids {
            let Some(sock) = self.sockets.get(&id) else { continue };
            let fds: Vec<u32> =
                p.fds.iter().filter(|(fd, s)| **s == id && **fd >= 0).map(|(fd, _)| *fd as u32).collect();
            let mut info = (*info).clone();
            let on = |fd: i32| p.fds.get(&fd) == Some(&id);
            info.std_sockets = StdSockets {
                stdin: on(0),
                stdout: on(1),
                stderr: on(2),
                stdin_inode: on(0).then_some(id),
                stdout_inode: on(1).then_some(id),
                stderr_inode: on(2).then_some(id),
            };
            let (local_ip, local_port) = sock.local.unwrap_or((unspecified_like(sock.remote.0), 0));
            let rec = InventoryRecord {
                timestamp: at.to_rfc3339(),
                observed_ns: at.as_nanos(),
                event: EventInfo { action: Action::Opened },
                host: self.host.clone(),
                network: NetworkInfo {
                    transport: sock.transport,
                    ip_version: if sock.remote.0.to_canonical().is_ipv4() {
                        IpVersion::Ipv4
                    } else {
                        IpVersion::Ipv6
                    },
                    netns: 0,
                },
                source: Endpoint { ip: local_ip, port: local_port },
                destination: Endpoint { ip: sock.remote.0, port: sock.remote.1 },
                socket: SocketInfo { inode: id, state: "ESTABLISHED".into(), uid: p.uid, fds, pty: None },
                process: Some(Arc::new(info)),
                container: None,
                orchestrator: None,
            };
            self.out.push(SourceRecord::Socket(Arc::new(rec)));
        }
    }

    fn process_info(&self, p: &Proc) -> ProcessInfo {
        let mut ancestors = Vec::new();
        let mut next = p.parent.as_ref();
        while let Some(k) = next {
            let Some(a) = self.procs.get(k) else { break };
            if ancestors.len() >= MAX_ANCESTORS || ancestors.iter().any(|x: &AncestorInfo| x.pid == a.pid) {
                break;
            }
            ancestors.push(AncestorInfo { pid: a.pid, name: a.name.clone(), args: a.args.clone() });
            next = a.parent.as_ref();
        }
        let parent = p.parent.as_ref().and_then(|k| self.procs.get(k)).map(|a| ParentInfo {
            pid: a.pid,
            name: a.name.clone(),
            command_line: a.args.join(" "),
        });
        ProcessInfo {
            pid: p.pid,
            name: p.name.clone(),
            executable: p.executable.clone(),
            exe_deleted: false,
            args: p.args.clone(),
            command_line: p.args.join(" "),
            working_directory: p.cwd.clone(),
            start: p.start.map(Timestamp::to_rfc3339),
            tty: None,
            user: UserInfo { id: p.uid, name: p.user.clone() },
            std_sockets: StdSockets::default(),
            std_ttys: StdTtys::default(),
            pty_masters: Vec::new(),
            group_leader: None,
            session_leader: None,
            exec_from: p.exec_from.clone(),
            parent,
            ancestors,
        }
    }
}

/// The local address a source could not see: the unspecified address of the remote's family.
pub fn unspecified_like(remote: IpAddr) -> IpAddr {
    if remote.to_canonical().is_ipv4() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    }
}
