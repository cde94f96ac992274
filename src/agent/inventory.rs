//! The scanner: walks `/proc` once in full, then incrementally, and turns the socket
//! tables of every network namespace plus the fd tables of every process into
//! [`InventoryRecord`]s.
//!
//! Incremental refresh (after the first full scan), per pid:
//! - a pid not seen before is scanned in full (stat, netns, fd table);
//! - a known pid costs one `stat(2)` of `/proc/<pid>/fd`, whose size is the number of
//!   open fds on Linux ≥ 6.2 (on older kernels the size is 0 and never changes, so
//!   the fallback below does the work); a changed count rescans its fd table;
//! - without the proc connector, `/proc/<pid>/stat` is read too, and a changed start
//!   time (pid reuse) or name (exec) rescans the pid and drops its cached details;
//!   with it, exec events mark pids dirty instead;
//! - a socket inode in the tables that no cached fd table explains (an fd closed and
//!   another opened, same count) rescans the fd tables of that namespace's pids once;
//!   inodes still unexplained after that are not chased again (no rights, or a socket
//!   no process holds).
//!
//! Per network namespace, the socket tables (whose read is a walk of the kernel's
//! whole TCP hash, the same cost through `sock_diag`) are re-read only when a process
//! of that namespace gained or lost a socket inode, appeared or went away holding
//! sockets, or exec'd; when the namespace's `sockstat` `inuse` counts moved (a connect,
//! listen, bind or close); on every full refresh; and at least every
//! `FORCE_TABLES_EVERY` refreshes, which bounds how long an open and a close that
//! cancel out in both fd count and `inuse` can go unseen. Otherwise the last read
//! stands, and the refresh costs one directory listing plus one `stat(2)` per pid.
//!
//! Details (argv, exe, cwd, uid, cgroup) are read only for processes that hold a socket
//! or are ancestors of one, and cached per (pid, start time).

use super::container::{self, ContainerRef};
use super::exec::{ExecImage, StdioTarget};
use super::procfs::{self, parse_socket_link};
use super::sockets::{read_netns_tables, SocketEntry};
use super::{sys, tree};
use crate::inventory::*;
use crate::time::Timestamp;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Linux `USER_HZ`: the unit of `starttime` in `/proc/<pid>/stat`. It is 100 on every
/// architecture Linux exports to user space, whatever `CONFIG_HZ` is.
const USER_HZ: i64 = 100;

#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub proc_root: PathBuf,
    pub host_root: PathBuf,
}

/// One cached process.
#[derive(Debug, Clone, Default)]
struct ProcEntry {
    starttime: u64,
    comm: String,
    ppid: i32,
    pgrp: i32,
    session: i32,
    tty_nr: u32,
    netns: Option<u64>,
    /// `st_size` of `/proc/<pid>/fd` when the table was read.
    fd_count: Option<u64>,
    /// (fd, socket inode) pairs.
    sockets: Vec<(u32, u64)>,
    /// What fds 0-2 are, when they are sockets or ptys.
    stdio: [Option<StdioTarget>; 3],
    /// Slave numbers of the ptys whose master this process has open.
    pty_masters: Vec<u32>,
    /// Mount namespace, read for processes on or driving a pty only: a pty number means
    /// something only within one devpts, and containers have their own.
    mnt_ns: Option<u64>,
    /// The fd table could be read.
    fds_ok: bool,
    details: Option<Arc<Details>>,
    /// argv as captured at exec (proc connector), for `exec_from` of the next exec.
    exec_args: Option<Arc<Vec<String>>>,
    /// What this pid ran before its last exec.
    exec_from: Option<PreviousImage>,
    /// Changes when the pid is reused or execs: part of the record key, so an exec
    /// (e.g. `nc -e` becoming `sh`) closes the old record and opens a new one.
    generation: u64,
}

impl ProcEntry {
    /// The first pty among fds 0-2.
    fn stdio_pty(&self) -> Option<u32> {
        self.stdio.iter().find_map(|t| match t {
            Some(StdioTarget::Pty(n)) => Some(*n),
            _ => None,
        })
    }

    fn on_pty(&self) -> bool {
        self.stdio_pty().is_some() || !self.pty_masters.is_empty()
    }

    /// fds 0-2 include a socket or a pty.
    fn stdio_wired(&self) -> bool {
        self.stdio.iter().any(Option::is_some)
    }

    /// What it runs now, as the `exec_from` of its next exec.
    fn image(&self) -> PreviousImage {
        let args = match (&self.exec_args, &self.details) {
            (Some(a), _) => a.as_ref().clone(),
            (None, Some(d)) => d.args.clone(),
            (None, None) => Vec::new(),
        };
        PreviousImage { name: self.comm.clone(), args }
    }
}

/// An exec waiting for the next refresh, which decides whether its stdio is wired to a
/// connected TCP socket (the tables and the pty masters are current then).
#[derive(Debug)]
struct PendingExec {
    image: ExecImage,
    source: ExecSource,
    /// Refreshes it has waited for the master of its pty to show up.
    tries: u8,
}

/// How many refreshes an exec on a pty waits for its master's holder to be known.
const PTY_RESOLVE_TRIES: u8 = 3;

#[derive(Debug, Clone)]
struct Details {
    args: Vec<String>,
    exe: Option<String>,
    exe_deleted: bool,
    cwd: Option<String>,
    uid: Option<u32>,
    container: Option<ContainerRef>,
}

/// What one refresh did, for logs and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct ScanStats {
    pub full: bool,
    pub pids: usize,
    pub rescanned: usize,
    pub netns: usize,
    pub sockets: usize,
    /// Namespaces whose tables were read (the others were unchanged).
    pub tables_read: usize,
    pub records: usize,
    pub elapsed_us: u128,
}

type ContainerCtx = (Arc<ContainerInfo>, Option<Arc<OrchestratorInfo>>);
/// The keys of one refresh, with records for the keys that need one.
type Keyed = Vec<(RecordKey, Option<Arc<InventoryRecord>>)>;
/// A record to build: namespace, socket, holder (pid, fds).
type ToBuild = (u64, SocketEntry, Option<(i32, Vec<u32>)>, Option<PtyLink>);
type ProcCtx = (Arc<ProcessInfo>, Option<Arc<ContainerCtx>>);

/// Record identity across refreshes: (netns, transport, socket inode, pid or 0,
/// process generation).
type RecordKey = (u64, Transport, u64, i32, u64);

/// A namespace's socket tables as last read, and the sockstat signature they match.
#[derive(Debug)]
struct NsTables {
    sockets: Arc<Vec<SocketEntry>>,
    sockstat: Vec<(String, u64)>,
}

/// Socket tables are re-read at least every this many refreshes even when nothing
/// points to a change (bounds what an open and a close that cancel out can hide).
const FORCE_TABLES_EVERY: u32 = 5;

#[derive(Debug)]
pub struct Scanner {
    cfg: ScanConfig,
    host: HostInfo,
    passwd: HashMap<u32, String>,
    /// Boot time, unix nanoseconds.
    btime: Option<i64>,
    procs: HashMap<i32, ProcEntry>,
    containers: HashMap<ContainerRef, Option<Arc<ContainerCtx>>>,
    gave_up: HashSet<u64>,
    /// Read `/proc/<pid>/stat` of every known pid on each refresh (no proc connector).
    pub verify_identity: bool,
    unreadable: BTreeSet<i32>,
    previous: HashMap<RecordKey, Arc<InventoryRecord>>,
    tables: HashMap<u64, NsTables>,
    /// Namespaces whose tables must be re-read at the next refresh.
    dirty_ns: HashSet<u64>,
    since_forced: u32,
    next_generation: u64,
    scanned_once: bool,
    threads: usize,
    /// Execs to resolve at the next refresh.
    pending_execs: Vec<PendingExec>,
    /// The last exec recorded per pid (start time, argv hash), so a process is recorded
    /// once however it is seen (exec event, then scans; full rescans).
    recorded_execs: HashMap<i32, (u64, u64)>,
    pub last_stats: ScanStats,
}

fn first_line(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

enum PidScan {
    Gone,
    Entry(ProcEntry),
}

/// Reads one process's stat, netns and fd table. Vanished processes are `Gone`.
fn scan_pid(proc_root: &Path, pid: i32) -> PidScan {
    let Ok(dir) = sys::Dir::open(&proc_root.join(pid.to_string())) else { return PidScan::Gone };
    let mut buf = Vec::with_capacity(512);
    if dir.read(c"stat", &mut buf).is_err() {
        return PidScan::Gone;
    }
    let Some(stat) = procfs::parse_stat(&String::from_utf8_lossy(&buf)) else { return PidScan::Gone };
    let netns =
        dir.readlink(c"ns/net").ok().and_then(|b| procfs::parse_ns_link(&String::from_utf8_lossy(&b)));
    let mut entry = ProcEntry {
        starttime: stat.starttime,
        comm: stat.comm,
        ppid: stat.ppid,
        pgrp: stat.pgrp,
        session: stat.session,
        tty_nr: stat.tty_nr,
        netns,
        ..ProcEntry::default()
    };
    read_fds(&dir, &mut entry);
    if entry.on_pty() {
        entry.mnt_ns =
            dir.readlink(c"ns/mnt").ok().and_then(|b| procfs::parse_ns_link(&String::from_utf8_lossy(&b)));
    }
    // Socket holders and processes on a pty need their details for the records: read
    // them while the directory is open, in the same parallel pass.
    if !entry.sockets.is_empty() || entry.stdio_wired() {
        entry.details = Some(Arc::new(load_details_in(&dir)));
    }
    PidScan::Entry(entry)
}

/// Reads `fd/` below a process directory: the socket inodes, what fds 0-2 are, the ptys
/// whose master it holds, and the fd count.
fn read_fds(dir: &sys::Dir, entry: &mut ProcEntry) {
    entry.sockets.clear();
    entry.stdio = [None; 3];
    entry.pty_masters.clear();
    let Ok(fd_dir) = dir.open_dir(c"fd") else {
        entry.fds_ok = false;
        entry.fd_count = None;
        return;
    };
    entry.fd_count = fd_dir.size().ok();
    let (sockets, stdio) = (&mut entry.sockets, &mut entry.stdio);
    let mut masters = Vec::new();
    let listed = fd_dir.for_each_entry(|name| {
        let Some(fd) = std::str::from_utf8(name.to_bytes()).ok().and_then(|n| n.parse::<u32>().ok()) else {
            return;
        };
        let Ok(target) = fd_dir.readlink(name) else { return };
        let Ok(target) = std::str::from_utf8(&target) else { return };
        if let Some(inode) = parse_socket_link(target) {
            sockets.push((fd, inode));
        } else if procfs::is_ptmx_link(target) {
            masters.push(fd);
        }
        if fd <= 2 {
            stdio[fd as usize] = StdioTarget::from_link(target);
        }
    });
    entry.fds_ok = listed.is_ok();
    entry.sockets.sort_unstable();
    // A master fd says which slave it drives in its fdinfo (rare: terminals, sshd, tmux).
    let mut buf = Vec::new();
    for fd in masters {
        let Ok(path) = std::ffi::CString::new(format!("fdinfo/{fd}")) else { continue };
        if dir.read(&path, &mut buf).is_ok() {
            if let Some(n) = procfs::parse_fdinfo_tty_index(&String::from_utf8_lossy(&buf)) {
                entry.pty_masters.push(n);
            }
        }
    }
    entry.pty_masters.sort_unstable();
    entry.pty_masters.dedup();
}

fn read_sockstat(proc_root: &Path, pid: i32) -> Option<Vec<(String, u64)>> {
    let dir = proc_root.join(pid.to_string()).join("net");
    let mut s = std::fs::read_to_string(dir.join("sockstat")).ok()?;
    s.push_str(&std::fs::read_to_string(dir.join("sockstat6")).unwrap_or_default());
    Some(procfs::sockstat_signature(&s))
}

fn no_details() -> Details {
    Details { args: Vec::new(), exe: None, exe_deleted: false, cwd: None, uid: None, container: None }
}

fn load_details(proc_root: &Path, pid: i32) -> Details {
    match sys::Dir::open(&proc_root.join(pid.to_string())) {
        Ok(dir) => load_details_in(&dir),
        Err(_) => no_details(),
    }
}

/// argv, exe, cwd, uid and container of the process whose directory `dir` is.
fn load_details_in(dir: &sys::Dir) -> Details {
    let mut d = no_details();
    let link =
        |name: &std::ffi::CStr| dir.readlink(name).ok().map(|b| String::from_utf8_lossy(&b).into_owned());
    let mut buf = Vec::with_capacity(1024);
    if dir.read(c"cmdline", &mut buf).is_ok() {
        d.args = procfs::parse_cmdline(&buf);
    }
    if let Some(exe) = link(c"exe") {
        let (p, deleted) = procfs::parse_exe_link(&exe);
        d.exe = Some(p);
        d.exe_deleted = deleted;
    }
    d.cwd = link(c"cwd");
    if dir.read(c"status", &mut buf).is_ok() {
        d.uid = procfs::parse_status(&String::from_utf8_lossy(&buf)).uid;
    }
    if dir.read(c"cgroup", &mut buf).is_ok() {
        d.container = container::container_from_cgroup(&procfs::parse_cgroup(&String::from_utf8_lossy(&buf)));
    }
    d
}

/// Runs `f` over `items` on up to `threads` threads, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    par_map_min(items, threads, 64, f)
}

fn par_map_min<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    min: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 || items.len() < min.max(2) {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

impl Scanner {
    pub fn new(cfg: ScanConfig) -> Self {
        let name = first_line(&cfg.proc_root.join("sys/kernel/hostname"))
            .or_else(|| first_line(&cfg.host_root.join("etc/hostname")))
            .unwrap_or_else(|| "unknown".into());
        let boot_id =
            first_line(&cfg.proc_root.join("sys/kernel/random/boot_id")).unwrap_or_else(|| "unknown".into());
        let passwd = std::fs::read_to_string(cfg.host_root.join("etc/passwd"))
            .map(|s| procfs::parse_passwd(&s))
            .unwrap_or_default();
        let btime = std::fs::read_to_string(cfg.proc_root.join("stat"))
            .ok()
            .and_then(|s| procfs::parse_btime(&s))
            .map(|b| b as i64 * 1_000_000_000);
        // `btime` is whole seconds; now minus uptime is the same instant to 10 ms, which
        // orders a process found by a scan among execs timed by the proc connector.
        let uptime = std::fs::read_to_string(cfg.proc_root.join("uptime"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|u| u.parse::<f64>().ok()));
        let precise = uptime.map(|u| now().as_nanos() - (u * 1e9) as i64);
        let btime = match (btime, precise) {
            (Some(b), Some(p)) if (p - b).abs() < 2_000_000_000 => Some(p),
            (b, _) => b,
        };
        let threads = std::thread::available_parallelism().map(|n| n.get().min(4)).unwrap_or(1);
        Scanner {
            cfg,
            host: HostInfo { name, boot_id },
            passwd,
            btime,
            procs: HashMap::new(),
            containers: HashMap::new(),
            gave_up: HashSet::new(),
            verify_identity: true,
            unreadable: BTreeSet::new(),
            previous: HashMap::new(),
            tables: HashMap::new(),
            dirty_ns: HashSet::new(),
            since_forced: 0,
            next_generation: 1,
            scanned_once: false,
            threads,
            pending_execs: Vec::new(),
            recorded_execs: HashMap::new(),
            last_stats: ScanStats::default(),
        }
    }

    pub fn host(&self) -> &HostInfo {
        &self.host
    }

    /// Pids whose fd tables could not be read at the last refresh.
    pub fn unreadable(&self) -> &BTreeSet<i32> {
        &self.unreadable
    }

    /// Whether a change to this process can change the records: it holds sockets, drives
    /// a pty, or is the first process on a pty (the shell a pty record names).
    fn touches_records(&self, e: &ProcEntry) -> bool {
        if !e.sockets.is_empty() || !e.pty_masters.is_empty() {
            return true;
        }
        e.stdio_pty().is_some_and(|n| self.procs.get(&e.ppid).and_then(ProcEntry::stdio_pty) != Some(n))
    }

    /// Caches a process seen for the first time (or again after exec / pid reuse). Its
    /// namespace's tables are re-read only if it can change the records: a process
    /// without sockets or ptys cannot have changed them.
    fn insert_new(&mut self, pid: i32, mut e: ProcEntry) {
        e.generation = self.next_generation;
        self.next_generation += 1;
        if let (Some(ns), true) = (e.netns, self.touches_records(&e)) {
            self.dirty_ns.insert(ns);
        }
        self.procs.insert(pid, e);
    }

    fn forget(&mut self, pid: i32) {
        if let Some(e) = self.procs.get(&pid) {
            if let (Some(ns), true) = (e.netns, self.touches_records(e)) {
                self.dirty_ns.insert(ns);
            }
            self.procs.remove(&pid);
        }
    }

    /// A pid exec'd (proc connector): forget what we know and rescan it now, so its new
    /// argv is captured even if it exits before the next refresh. `image` is what the
    /// connector's thread read at once. Returns whether one of its fds 0-2 is a socket
    /// or a pty, the shape of a command run over a socket (the caller may then refresh
    /// early).
    pub fn on_exec(&mut self, pid: i32, mut image: Option<ExecImage>) -> bool {
        // What it ran before, unless the pid was reused (another start time) or the
        // capture came too late to see the earlier image (the same argv twice).
        let before = self.procs.get(&pid).map(|old| (old.starttime, old.image()));
        let wired = match scan_pid(&self.cfg.proc_root, pid) {
            PidScan::Gone => {
                self.forget(pid);
                image.as_ref().is_some_and(ExecImage::wired)
            }
            PidScan::Entry(mut e) => {
                if let Some(img) = &mut image {
                    // Read in the middle of a further exec, the argv is empty: the
                    // scan, a little later, has it.
                    if img.args.is_empty() && img.starttime == e.starttime {
                        if let Some(d) = &e.details {
                            img.args = d.args.clone();
                            img.name = e.comm.clone();
                        }
                    }
                    e.exec_args = Some(Arc::new(img.args.clone()));
                }
                let now = e.image();
                e.exec_from = before
                    .filter(|(start, old)| {
                        *start == e.starttime && (old.name != now.name || old.args != now.args)
                    })
                    .map(|(_, old)| old);
                let wired = e.stdio_wired() || image.as_ref().is_some_and(ExecImage::wired);
                self.insert_new(pid, e);
                wired
            }
        };
        if let Some(img) = image.filter(ExecImage::wired) {
            self.queue_exec(img, ExecSource::ProcConnector);
        }
        wired
    }

    /// Queues an exec for the next refresh, once per (pid, start time, argv).
    fn queue_exec(&mut self, image: ExecImage, source: ExecSource) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        image.args.hash(&mut h);
        let seen = (image.starttime, h.finish());
        if self.recorded_execs.insert(image.pid, seen) == Some(seen) {
            // A scan found it first: the connector's capture has the better time.
            if source == ExecSource::ProcConnector {
                let queued = self.pending_execs.iter_mut().find(|p| {
                    p.image.pid == image.pid
                        && p.image.starttime == image.starttime
                        && p.source == ExecSource::Scan
                });
                if let Some(p) = queued {
                    p.image.at = image.at;
                    p.source = source;
                }
            }
            return;
        }
        self.pending_execs.push(PendingExec { image, source, tries: 0 });
    }

    /// A process a scan found (new, or changed by an exec without the proc connector)
    /// whose stdio is a socket or a pty: it may be a command run over a socket.
    fn queue_scanned(&mut self, pid: i32) {
        let Some(e) = self.procs.get(&pid) else { return };
        if !e.stdio_wired() {
            return;
        }
        let d = e.details.clone();
        let image = ExecImage {
            pid,
            at: self.start_time(e.starttime).unwrap_or_else(now),
            name: e.comm.clone(),
            ppid: e.ppid,
            starttime: e.starttime,
            args: d.as_ref().map(|d| d.args.clone()).unwrap_or_default(),
            exe: d.as_ref().and_then(|d| d.exe.clone()),
            uid: d.as_ref().and_then(|d| d.uid),
            stdio: e.stdio,
            stdio_unread: false,
        };
        self.queue_exec(image, ExecSource::Scan);
    }

    fn start_time(&self, starttime: u64) -> Option<Timestamp> {
        self.btime.map(|b| Timestamp::from_nanos(b + starttime as i64 * (1_000_000_000 / USER_HZ)))
    }

    /// The execs queued since the last call whose stdio is wired to a connected TCP
    /// socket, directly or through a pty whose master a holder of the socket has open.
    /// Call after a refresh, so the tables and the fd tables are current. Execs on a
    /// pty whose master's holder is not known yet wait a few refreshes.
    pub fn take_execs(&mut self) -> Vec<Arc<ExecRecord>> {
        if self.pending_execs.is_empty() {
            return Vec::new();
        }
        let connected: HashSet<u64> = self
            .tables
            .values()
            .flat_map(|t| t.sockets.iter())
            .filter(|s| s.transport == Transport::Tcp && s.line.remote.port() != 0)
            .map(|s| s.line.inode)
            .collect();
        let mut masters: HashMap<u32, Vec<i32>> = HashMap::new();
        for (&pid, e) in &self.procs {
            for &n in &e.pty_masters {
                masters.entry(n).or_default().push(pid);
            }
        }
        let mut out = Vec::new();
        let mut waiting = Vec::new();
        for mut p in std::mem::take(&mut self.pending_execs) {
            let mut sockets: Vec<u64> = Vec::new();
            let mut pty = None;
            let stdio = match (p.image.stdio_unread, self.procs.get(&p.image.ppid)) {
                (true, Some(parent)) => parent.stdio,
                _ => p.image.stdio,
            };
            for t in stdio.iter().flatten() {
                match *t {
                    StdioTarget::Socket(inode) if connected.contains(&inode) => sockets.push(inode),
                    StdioTarget::Pty(n) => pty = pty.or(Some(n)),
                    StdioTarget::Socket(_) => {}
                }
            }
            let mut via = None;
            if let (true, Some(n)) = (sockets.is_empty(), pty) {
                let mnt = self.procs.get(&p.image.pid).and_then(|e| e.mnt_ns);
                for m in masters.get(&n).into_iter().flatten() {
                    let Some(holder) = self.procs.get(m) else { continue };
                    if mnt.is_some() && holder.mnt_ns.is_some() && mnt != holder.mnt_ns {
                        continue; // the same number in another devpts
                    }
                    sockets.extend(holder.sockets.iter().map(|(_, i)| *i).filter(|i| connected.contains(i)));
                }
                if !sockets.is_empty() {
                    via = Some(format!("pts/{n}"));
                }
            }
            sockets.sort_unstable();
            sockets.dedup();
            if sockets.is_empty() {
                if pty.is_some() && p.tries + 1 < PTY_RESOLVE_TRIES {
                    p.tries += 1;
                    waiting.push(p);
                }
                continue;
            }
            let img = p.image;
            let uid = img.uid.unwrap_or(u32::MAX);
            out.push(Arc::new(ExecRecord {
                timestamp: img.at.to_rfc3339(),
                observed_ns: img.at.as_nanos(),
                event: ExecEventInfo { action: ExecAction::Exec, source: p.source },
                host: self.host.clone(),
                process: ExecProcess {
                    pid: img.pid,
                    ppid: img.ppid,
                    name: img.name,
                    args: img.args,
                    executable: img.exe,
                    user: UserInfo { id: uid, name: self.passwd.get(&uid).cloned() },
                },
                stdio_sockets: sockets,
                stdio_pty: via,
            }));
        }
        self.pending_execs = waiting;
        let procs = &self.procs;
        self.recorded_execs.retain(|pid, _| procs.contains_key(pid));
        out.sort_by_key(|r| r.observed_ns);
        out
    }

    pub fn on_exit(&mut self, pid: i32) {
        self.forget(pid);
    }

    /// Events were lost: the next refresh rescans every process and table.
    pub fn invalidate(&mut self) {
        self.procs.clear();
        self.tables.clear();
    }

    fn list_pids(&self) -> io::Result<Vec<i32>> {
        let mut pids: Vec<i32> = std::fs::read_dir(&self.cfg.proc_root)?
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Brings the process cache up to date. Returns the number of pids (re)scanned.
    fn refresh_procs(&mut self, full: bool) -> io::Result<usize> {
        let pids = self.list_pids()?;
        let root = self.cfg.proc_root.clone();
        let verify = self.verify_identity;
        let live: HashSet<i32> = pids.iter().copied().collect();
        let gone: Vec<i32> = self.procs.keys().copied().filter(|p| !live.contains(p)).collect();
        for pid in gone {
            self.forget(pid);
        }

        // Decide, per pid, whether it needs a scan; known pids are checked cheaply.
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Check {
            Keep,
            Fds,
            Full,
        }
        let procs = &self.procs;
        let checks: Vec<Check> = par_map(&pids, self.threads, |&pid| {
            let Some(known) = procs.get(&pid) else { return Check::Full };
            if full {
                return Check::Full;
            }
            let dir = root.join(pid.to_string());
            if verify {
                match std::fs::read_to_string(dir.join("stat")).ok().and_then(|s| procfs::parse_stat(&s)) {
                    None => return Check::Full,
                    Some(s) if s.starttime != known.starttime || s.comm != known.comm => return Check::Full,
                    Some(_) => {}
                }
            }
            if !known.fds_ok {
                return Check::Keep; // no rights: do not retry each tick
            }
            match std::fs::metadata(dir.join("fd")) {
                Err(_) => Check::Full,
                Ok(m) if Some(m.len()) != known.fd_count => Check::Fds,
                Ok(_) => Check::Keep,
            }
        });
        let todo: Vec<(i32, Check)> =
            pids.iter().zip(&checks).filter(|(_, c)| **c != Check::Keep).map(|(&p, &c)| (p, c)).collect();
        let results = par_map(&todo, self.threads, |&(pid, _)| scan_pid(&root, pid));
        let rescanned = todo.len();
        for ((pid, check), res) in todo.into_iter().zip(results) {
            match res {
                PidScan::Gone => self.forget(pid),
                PidScan::Entry(mut e) => {
                    let same = self
                        .procs
                        .get(&pid)
                        .filter(|old| check == Check::Fds && old.starttime == e.starttime);
                    match same {
                        Some(old) => {
                            if old.details.is_some() {
                                e.details = old.details.clone();
                            }
                            e.generation = old.generation;
                            e.exec_args = old.exec_args.clone();
                            e.exec_from = old.exec_from.clone();
                            e.mnt_ns = e.mnt_ns.or(old.mnt_ns);
                            if old.sockets != e.sockets || old.pty_masters != e.pty_masters {
                                if let Some(ns) = e.netns.or(old.netns) {
                                    self.dirty_ns.insert(ns);
                                }
                            }
                            self.procs.insert(pid, e);
                        }
                        None => {
                            // Same start time, other name: an exec seen by polling.
                            let before = self
                                .procs
                                .get(&pid)
                                .filter(|old| old.starttime == e.starttime && old.comm != e.comm);
                            e.exec_from = before.map(ProcEntry::image);
                            self.forget(pid);
                            self.insert_new(pid, e);
                            self.queue_scanned(pid);
                        }
                    }
                }
            }
        }
        Ok(rescanned)
    }

    /// Brings the socket tables of every namespace a known process lives in up to
    /// date. A namespace's tables are re-read when a process in it changed (new, gone,
    /// fd count, exec), when its sockstat counts moved, on every full refresh, and at
    /// least every `FORCE_TABLES_EVERY` refreshes; otherwise the last read stands.
    /// Returns the namespaces whose tables were read.
    fn refresh_tables(&mut self, full: bool) -> HashSet<u64> {
        let mut by_ns: HashMap<u64, Vec<i32>> = HashMap::new();
        for (&pid, e) in &self.procs {
            if let Some(ns) = e.netns {
                by_ns.entry(ns).or_default().push(pid);
            }
        }
        self.tables.retain(|ns, _| by_ns.contains_key(ns));
        let force = full || self.since_forced + 1 >= FORCE_TABLES_EVERY;
        self.since_forced = if force { 0 } else { self.since_forced + 1 };
        let mut namespaces: Vec<(u64, Vec<i32>)> = by_ns.into_iter().collect();
        namespaces.sort_unstable_by_key(|(ns, _)| *ns);
        for (_, pids) in namespaces.iter_mut() {
            pids.sort_unstable();
        }
        let root = self.cfg.proc_root.clone();
        let tables = &self.tables;
        let dirty = &self.dirty_ns;
        // One job per namespace: check its sockstat, read its tables if needed.
        let results = par_map_min(&namespaces, self.threads, 2, |(ns, pids)| {
            let mut buf = String::with_capacity(1 << 16);
            for &pid in pids {
                let Some(sig) = read_sockstat(&root, pid) else { continue };
                let unchanged =
                    !force && !dirty.contains(ns) && tables.get(ns).is_some_and(|t| t.sockstat == sig);
                if unchanged {
                    return None;
                }
                if let Ok(t) = read_netns_tables(&root, pid, &mut buf) {
                    return Some(NsTables { sockets: Arc::new(t), sockstat: sig });
                }
            }
            // No member pid readable (fixture trees without sockstat): tables alone.
            let unchanged = !force && !dirty.contains(ns) && tables.contains_key(ns);
            if unchanged {
                return None;
            }
            pids.iter()
                .find_map(|&pid| read_netns_tables(&root, pid, &mut buf).ok())
                .map(|t| NsTables { sockets: Arc::new(t), sockstat: Vec::new() })
        });
        let mut read = HashSet::new();
        for ((ns, _), res) in namespaces.into_iter().zip(results) {
            if let Some(t) = res {
                self.tables.insert(ns, t);
                read.insert(ns);
            }
        }
        self.dirty_ns.clear();
        read
    }

    /// The first processes on each pty: those whose parent is not on the same pty (the
    /// shell that `pty.spawn` or `socat ...,pty` started, not the commands run in it),
    /// with their mount namespace.
    fn pty_entries(&self) -> HashMap<u32, Vec<(i32, Option<u64>)>> {
        let mut map: HashMap<u32, Vec<(i32, Option<u64>)>> = HashMap::new();
        for (&pid, e) in &self.procs {
            let Some(n) = e.stdio_pty() else { continue };
            if self.procs.get(&e.ppid).and_then(ProcEntry::stdio_pty) != Some(n) {
                map.entry(n).or_default().push((pid, e.mnt_ns));
            }
        }
        for v in map.values_mut() {
            v.sort_unstable();
        }
        map
    }

    fn owners(&self) -> HashMap<u64, Vec<(i32, Vec<u32>)>> {
        let mut map: HashMap<u64, Vec<(i32, Vec<u32>)>> = HashMap::new();
        for (&pid, e) in &self.procs {
            for &(fd, inode) in &e.sockets {
                let v = map.entry(inode).or_default();
                match v.iter_mut().find(|(p, _)| *p == pid) {
                    Some((_, fds)) => fds.push(fd),
                    None => v.push((pid, vec![fd])),
                }
            }
        }
        for v in map.values_mut() {
            v.sort_unstable_by_key(|(p, _)| *p);
        }
        map
    }

    /// Inodes in freshly read tables that no cached fd table explains: rescan the fd
    /// tables of those namespaces' processes once. Returns the pids rescanned.
    fn chase_unexplained(
        &mut self,
        read: &HashSet<u64>,
        owners: &mut HashMap<u64, Vec<(i32, Vec<u32>)>>,
    ) -> usize {
        let mut stale_ns: HashSet<u64> = HashSet::new();
        for ns in read {
            if let Some(t) = self.tables.get(ns) {
                if t.sockets
                    .iter()
                    .any(|s| !owners.contains_key(&s.line.inode) && !self.gave_up.contains(&s.line.inode))
                {
                    stale_ns.insert(*ns);
                }
            }
        }
        if stale_ns.is_empty() {
            return 0;
        }
        let pids: Vec<i32> = self
            .procs
            .iter()
            .filter(|(_, e)| e.fds_ok && e.netns.is_some_and(|n| stale_ns.contains(&n)))
            .map(|(&p, _)| p)
            .collect();
        let root = self.cfg.proc_root.clone();
        let results = par_map(&pids, self.threads, |&pid| {
            let mut e = ProcEntry::default();
            if let Ok(dir) = sys::Dir::open(&root.join(pid.to_string())) {
                read_fds(&dir, &mut e);
            }
            e
        });
        for (&pid, fresh) in pids.iter().zip(results) {
            if let Some(e) = self.procs.get_mut(&pid) {
                if fresh.fds_ok {
                    e.fd_count = fresh.fd_count;
                    e.sockets = fresh.sockets;
                    e.stdio = fresh.stdio;
                    e.pty_masters = fresh.pty_masters;
                }
            }
        }
        *owners = self.owners();
        pids.len()
    }

    /// One refresh. Returns the keys of the current inventory, each with the record
    /// built for it when `build_all`, or when it is not in `self.previous`; or None
    /// when no table was re-read, which means no key can have changed (every change of
    /// socket ownership marks its namespace for a re-read).
    fn collect(&mut self, full: bool, build_all: bool) -> io::Result<Option<Keyed>> {
        let started = std::time::Instant::now();
        let mut rescanned = self.refresh_procs(full)?;
        let t_procs = started.elapsed();
        let read = self.refresh_tables(full);
        let t_tables = started.elapsed();
        if read.is_empty() && !build_all && self.scanned_once {
            self.unreadable = self.procs.iter().filter(|(_, e)| !e.fds_ok).map(|(&p, _)| p).collect();
            self.last_stats = ScanStats {
                full,
                pids: self.procs.len(),
                rescanned,
                netns: self.tables.len(),
                sockets: self.tables.values().map(|t| t.sockets.len()).sum(),
                tables_read: 0,
                records: self.previous.len(),
                elapsed_us: started.elapsed().as_micros(),
            };
            return Ok(None);
        }
        let mut owners = self.owners();
        if !full {
            rescanned += self.chase_unexplained(&read, &mut owners);
        }
        // Forget unexplained inodes that are gone; remember those still unexplained.
        let mut gave_up = HashSet::new();
        for t in self.tables.values() {
            for s in t.sockets.iter() {
                if !owners.contains_key(&s.line.inode) {
                    gave_up.insert(s.line.inode);
                }
            }
        }
        self.gave_up = gave_up;
        self.unreadable = self.procs.iter().filter(|(_, e)| !e.fds_ok).map(|(&p, _)| p).collect();

        // The keys, and which of them need a record built.
        let mut namespaces: Vec<(u64, Arc<Vec<SocketEntry>>)> =
            self.tables.iter().map(|(ns, t)| (*ns, t.sockets.clone())).collect();
        namespaces.sort_unstable_by_key(|(ns, _)| *ns);
        let mut keys: Vec<(RecordKey, Option<ToBuild>)> = Vec::new();
        let mut nsockets = 0;
        let pty_entries = self.pty_entries();
        for (ns, table) in &namespaces {
            for s in table.iter() {
                nsockets += 1;
                let holders = owners.get(&s.line.inode);
                if holders.is_none_or(|h| h.is_empty()) {
                    let key = (*ns, s.transport, s.line.inode, 0, 0);
                    let build = build_all || !self.previous.contains_key(&key);
                    keys.push((key, build.then_some((*ns, *s, None, None))));
                    continue;
                }
                let holders = holders.map(Vec::as_slice).unwrap_or_default();
                for (pid, fds) in holders {
                    let generation = self.procs.get(pid).map_or(0, |e| e.generation);
                    let key = (*ns, s.transport, s.line.inode, *pid, generation);
                    let build = build_all || !self.previous.contains_key(&key);
                    keys.push((key, build.then(|| (*ns, *s, Some((*pid, fds.clone())), None))));
                }
                // The shells on the ptys a holder of a connected TCP socket drives: the
                // socket is their stdio, one pty away.
                if s.transport != Transport::Tcp || s.line.remote.port() == 0 {
                    continue;
                }
                for (master, _) in holders {
                    let Some(m) = self.procs.get(master) else { continue };
                    for n in &m.pty_masters {
                        for (shell, mnt) in pty_entries.get(n).into_iter().flatten() {
                            if holders.iter().any(|(p, _)| p == shell)
                                || (mnt.is_some() && m.mnt_ns.is_some() && *mnt != m.mnt_ns)
                            {
                                continue;
                            }
                            let generation = self.procs.get(shell).map_or(0, |e| e.generation);
                            let key = (*ns, s.transport, s.line.inode, *shell, generation);
                            let build = build_all || !self.previous.contains_key(&key);
                            let link = || PtyLink { name: format!("pts/{n}"), master_pid: *master };
                            keys.push((
                                key,
                                build.then(|| (*ns, *s, Some((*shell, Vec::new())), Some(link()))),
                            ));
                        }
                    }
                }
            }
        }

        // Load the details of every process a new record needs (and their ancestors) in parallel.
        let mut need: Vec<i32> = Vec::new();
        let mut seen = HashSet::new();
        for (_, b) in &keys {
            let Some((_, _, Some((pid, _)), _)) = b else { continue };
            let mut p = *pid;
            while p > 0 && seen.insert(p) {
                let Some(e) = self.procs.get(&p) else { break };
                if e.details.is_none() {
                    need.push(p);
                }
                p = e.ppid;
            }
        }
        let root = self.cfg.proc_root.clone();
        let loaded = par_map(&need, self.threads, |&pid| load_details(&root, pid));
        for (pid, d) in need.into_iter().zip(loaded) {
            if let Some(e) = self.procs.get_mut(&pid) {
                e.details = Some(Arc::new(d));
            }
        }

        let now = now();
        let stamp = now.to_rfc3339();
        let host = self.host.clone();
        let mut per_pid: HashMap<i32, Option<ProcCtx>> = HashMap::new();
        let mut out = Vec::with_capacity(keys.len());
        let mut built = 0;
        for (key, build) in keys {
            let Some((ns, s, holder, pty)) = build else {
                out.push((key, None));
                continue;
            };
            built += 1;
            let mut rec = InventoryRecord {
                timestamp: stamp.clone(),
                observed_ns: now.as_nanos(),
                event: EventInfo { action: Action::Snapshot },
                host: host.clone(),
                network: NetworkInfo {
                    transport: s.transport,
                    ip_version: if s.line.local.is_ipv4() { IpVersion::Ipv4 } else { IpVersion::Ipv6 },
                    netns: ns,
                },
                source: Endpoint { ip: s.line.local.ip(), port: s.line.local.port() },
                destination: Endpoint { ip: s.line.remote.ip(), port: s.line.remote.port() },
                socket: SocketInfo {
                    inode: s.line.inode,
                    state: procfs::tcp_state_name(s.line.state).to_string(),
                    uid: s.line.uid,
                    fds: Vec::new(),
                    pty,
                },
                process: None,
                container: None,
                orchestrator: None,
            };
            if let Some((pid, fds)) = holder {
                rec.socket.fds = fds;
                let ctx = match per_pid.get(&pid) {
                    Some(c) => c.clone(),
                    None => {
                        let c = self.process_info(pid);
                        per_pid.insert(pid, c.clone());
                        c
                    }
                };
                if let Some((proc_info, container)) = ctx {
                    rec.process = Some(proc_info);
                    if let Some(c) = container {
                        rec.container = Some(c.0.clone());
                        rec.orchestrator = c.1.clone();
                    }
                }
            }
            out.push((key, Some(Arc::new(rec))));
        }
        tracing::trace!(
            procs_us = t_procs.as_micros() as u64,
            tables_us = (t_tables - t_procs).as_micros() as u64,
            rest_us = (started.elapsed() - t_tables).as_micros() as u64,
            built,
            "refresh phases"
        );
        self.last_stats = ScanStats {
            full,
            pids: self.procs.len(),
            rescanned,
            netns: self.tables.len(),
            sockets: nsockets,
            tables_read: read.len(),
            records: out.len(),
            elapsed_us: started.elapsed().as_micros(),
        };
        Ok(Some(out))
    }

    fn details(&mut self, pid: i32) -> Option<Arc<Details>> {
        let e = self.procs.get(&pid)?;
        if let Some(d) = &e.details {
            return Some(d.clone());
        }
        let d = Arc::new(load_details(&self.cfg.proc_root, pid));
        self.procs.get_mut(&pid)?.details = Some(d.clone());
        Some(d)
    }

    fn process_info(&mut self, pid: i32) -> Option<ProcCtx> {
        let d = self.details(pid)?;
        let e = self.procs.get(&pid)?.clone();
        let chain = tree::ancestors(pid, |p| {
            let entry = self.procs.get(&p)?;
            let (ppid, name) = (entry.ppid, entry.comm.clone());
            let args = self.details(p).map(|d| d.args.clone()).unwrap_or_default();
            Some(tree::Node { ppid, name, args })
        });
        let fd_inode = |n: u32| e.sockets.iter().find(|(fd, _)| *fd == n).map(|(_, i)| *i);
        let std_sockets = StdSockets {
            stdin: fd_inode(0).is_some(),
            stdout: fd_inode(1).is_some(),
            stderr: fd_inode(2).is_some(),
            stdin_inode: fd_inode(0),
            stdout_inode: fd_inode(1),
            stderr_inode: fd_inode(2),
        };
        let start = self.start_time(e.starttime).map(Timestamp::to_rfc3339);
        let tty_of = |fd: usize| match e.stdio[fd] {
            Some(StdioTarget::Pty(n)) => Some(format!("pts/{n}")),
            _ => None,
        };
        let leader = |id: i32| {
            (id > 0).then(|| LeaderInfo { pid: id, name: self.procs.get(&id).map(|l| l.comm.clone()) })
        };
        let uid = d.uid.unwrap_or(u32::MAX);
        let parent = chain.first().map(|(p, n)| ParentInfo {
            pid: *p,
            name: n.name.clone(),
            command_line: n.args.join(" "),
        });
        let info = ProcessInfo {
            pid,
            name: e.comm.clone(),
            executable: d.exe.clone(),
            exe_deleted: d.exe_deleted,
            args: d.args.clone(),
            command_line: d.args.join(" "),
            working_directory: d.cwd.clone(),
            start,
            tty: procfs::tty_name(e.tty_nr),
            user: UserInfo { id: uid, name: self.passwd.get(&uid).cloned() },
            std_sockets,
            std_ttys: StdTtys { stdin: tty_of(0), stdout: tty_of(1), stderr: tty_of(2) },
            pty_masters: e.pty_masters.iter().map(|n| format!("pts/{n}")).collect(),
            group_leader: leader(e.pgrp),
            session_leader: leader(e.session),
            exec_from: e.exec_from.clone(),
            parent,
            ancestors: chain
                .into_iter()
                .map(|(p, n)| AncestorInfo { pid: p, name: n.name, args: n.args })
                .collect(),
        };
        let container = d.container.as_ref().and_then(|c| self.container_ctx(c));
        Some((Arc::new(info), container))
    }

    fn container_ctx(&mut self, cref: &ContainerRef) -> Option<Arc<ContainerCtx>> {
        if let Some(c) = self.containers.get(cref) {
            return c.clone();
        }
        let (runtime, meta) = container::lookup(&self.cfg.host_root, cref);
        let info = ContainerInfo {
            id: cref.id.clone(),
            runtime: runtime.as_str().to_string(),
            name: meta.container_name.clone(),
            image: meta.image.clone().map(|name| ImageInfo { name }),
        };
        let orch = (meta.pod_name.is_some() || meta.pod_uid.is_some()).then(|| OrchestratorInfo {
            namespace: meta.pod_namespace.clone(),
            resource: ResourceInfo {
                kind: "pod".into(),
                name: meta.pod_name.clone(),
                uid: meta.pod_uid.clone(),
            },
            service_account: meta.service_account.clone(),
        });
        let ctx = Some(Arc::new((Arc::new(info), orch.map(Arc::new))));
        self.containers.insert(cref.clone(), ctx.clone());
        ctx
    }

    /// A full inventory: every record with action `snapshot`. Also the baseline for
    /// the deltas that [`Scanner::deltas`] returns afterwards.
    pub fn snapshot(&mut self) -> io::Result<Vec<Arc<InventoryRecord>>> {
        let current = self.collect(true, true)?.unwrap_or_default();
        self.scanned_once = true;
        self.previous = current.into_iter().filter_map(|(k, r)| r.map(|r| (k, r))).collect();
        let mut out: Vec<Arc<InventoryRecord>> = self.previous.values().cloned().collect();
        sort_records(&mut out);
        Ok(out)
    }

    /// An incremental refresh: records that appeared (`opened`) or went away
    /// (`closed`) since the previous refresh. Records are built only for new keys.
    pub fn deltas(&mut self) -> io::Result<Vec<Arc<InventoryRecord>>> {
        if !self.scanned_once {
            return self.snapshot();
        }
        let Some(current) = self.collect(false, false)? else { return Ok(Vec::new()) };
        let now = now();
        let stamp = now.to_rfc3339();
        let mut out = Vec::new();
        let mut next = HashMap::with_capacity(current.len());
        for (k, rec) in current {
            match rec {
                Some(rec) => {
                    let mut r = InventoryRecord::clone(&rec);
                    r.event.action = Action::Opened;
                    out.push(Arc::new(r));
                    next.insert(k, rec);
                }
                None => {
                    if let Some(prev) = self.previous.remove(&k) {
                        next.insert(k, prev);
                    }
                }
            }
        }
        for rec in self.previous.values() {
            let mut r = InventoryRecord::clone(rec);
            r.event.action = Action::Closed;
            r.timestamp = stamp.clone();
            r.observed_ns = now.as_nanos();
            out.push(Arc::new(r));
        }
        sort_records(&mut out);
        self.previous = next;
        Ok(out)
    }
}

fn now() -> Timestamp {
    Timestamp::from_nanos(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0),
    )
}

/// Orders records by socket and pid; for one process's hold on a socket, a `closed`
/// (of the image before an exec) comes before the `opened` of the new one.
fn sort_records(v: &mut [Arc<InventoryRecord>]) {
    v.sort_by_key(|r| {
        (
            r.network.netns,
            r.socket.inode,
            r.process.as_ref().map(|p| p.pid).unwrap_or(0),
            r.event.action != Action::Closed,
        )
    });
}
