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
//! Details (argv, exe, cwd, uid, cgroup) are read only for processes that hold a socket
//! or are ancestors of one, and cached per (pid, start time).

use super::container::{self, ContainerRef};
use super::procfs::{self, parse_socket_link};
use super::sockets::{read_netns_tables, SocketEntry};
use super::tree;
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
#[derive(Debug, Clone)]
struct ProcEntry {
    starttime: u64,
    comm: String,
    ppid: i32,
    tty_nr: u32,
    netns: Option<u64>,
    /// `st_size` of `/proc/<pid>/fd` when the table was read.
    fd_count: Option<u64>,
    /// (fd, socket inode) pairs.
    sockets: Vec<(u32, u64)>,
    /// The fd table could be read.
    fds_ok: bool,
    details: Option<Arc<Details>>,
}

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
    pub records: usize,
    pub elapsed_us: u128,
}

type ContainerCtx = (ContainerInfo, Option<OrchestratorInfo>);
type ProcCtx = (ProcessInfo, Option<Arc<ContainerCtx>>);

/// Record identity across refreshes: (netns, transport, socket inode, pid or 0).
type RecordKey = (u64, Transport, u64, i32);

#[derive(Debug)]
pub struct Scanner {
    cfg: ScanConfig,
    host: HostInfo,
    passwd: HashMap<u32, String>,
    btime: Option<i64>,
    procs: HashMap<i32, ProcEntry>,
    containers: HashMap<ContainerRef, Option<Arc<ContainerCtx>>>,
    gave_up: HashSet<u64>,
    /// Read `/proc/<pid>/stat` of every known pid on each refresh (no proc connector).
    pub verify_identity: bool,
    unreadable: BTreeSet<i32>,
    previous: HashMap<RecordKey, InventoryRecord>,
    scanned_once: bool,
    threads: usize,
    pub last_stats: ScanStats,
}

fn read_link_string(p: &Path) -> io::Result<String> {
    std::fs::read_link(p).map(|t| t.to_string_lossy().into_owned())
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
    let dir = proc_root.join(pid.to_string());
    let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else { return PidScan::Gone };
    let Some(stat) = procfs::parse_stat(&stat) else { return PidScan::Gone };
    let netns = read_link_string(&dir.join("ns/net")).ok().and_then(|s| procfs::parse_ns_link(&s));
    let mut entry = ProcEntry {
        starttime: stat.starttime,
        comm: stat.comm,
        ppid: stat.ppid,
        tty_nr: stat.tty_nr,
        netns,
        fd_count: None,
        sockets: Vec::new(),
        fds_ok: false,
        details: None,
    };
    read_fds(&dir, &mut entry);
    PidScan::Entry(entry)
}

fn read_fds(dir: &Path, entry: &mut ProcEntry) {
    let fd_dir = dir.join("fd");
    entry.sockets.clear();
    entry.fd_count = std::fs::metadata(&fd_dir).ok().map(|m| m.len());
    let Ok(rd) = std::fs::read_dir(&fd_dir) else {
        entry.fds_ok = false;
        return;
    };
    entry.fds_ok = true;
    let mut path = fd_dir.clone();
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(fd) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        path.push(&name);
        if let Ok(target) = std::fs::read_link(&path) {
            if let Some(inode) = target.to_str().and_then(parse_socket_link) {
                entry.sockets.push((fd, inode));
            }
        }
        path.pop();
    }
    entry.sockets.sort_unstable();
}

fn load_details(proc_root: &Path, pid: i32) -> Details {
    let dir = proc_root.join(pid.to_string());
    let args = std::fs::read(dir.join("cmdline")).map(|b| procfs::parse_cmdline(&b)).unwrap_or_default();
    let (exe, exe_deleted) = match read_link_string(&dir.join("exe")) {
        Ok(s) => {
            let (p, d) = procfs::parse_exe_link(&s);
            (Some(p), d)
        }
        Err(_) => (None, false),
    };
    let cwd = read_link_string(&dir.join("cwd")).ok();
    let uid = std::fs::read_to_string(dir.join("status")).ok().and_then(|s| procfs::parse_status(&s).uid);
    let container = std::fs::read_to_string(dir.join("cgroup"))
        .ok()
        .and_then(|s| container::container_from_cgroup(&procfs::parse_cgroup(&s)));
    Details { args, exe, exe_deleted, cwd, uid, container }
}

/// Runs `f` over `items` on up to `threads` threads, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() < 64 {
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
            .map(|b| b as i64);
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
            scanned_once: false,
            threads,
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

    /// A pid exec'd (proc connector): forget what we know and rescan it now, so its new
    /// argv is captured even if it exits before the next refresh. Returns whether it
    /// holds sockets (the caller may then refresh early).
    pub fn on_exec(&mut self, pid: i32) -> bool {
        match scan_pid(&self.cfg.proc_root, pid) {
            PidScan::Gone => {
                self.procs.remove(&pid);
                false
            }
            PidScan::Entry(mut e) => {
                let has_sockets = !e.sockets.is_empty();
                if has_sockets {
                    e.details = Some(Arc::new(load_details(&self.cfg.proc_root, pid)));
                }
                self.procs.insert(pid, e);
                has_sockets
            }
        }
    }

    pub fn on_exit(&mut self, pid: i32) {
        self.procs.remove(&pid);
    }

    /// Events were lost: the next refresh is a full one.
    pub fn invalidate(&mut self) {
        self.procs.clear();
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
        self.procs.retain(|pid, _| live.contains(pid));

        // Decide, per pid, whether it needs a scan; known pids are checked cheaply.
        enum Check {
            Keep,
            Fds,
            Full,
            Gone,
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
                    None => return Check::Gone,
                    Some(s) if s.starttime != known.starttime || s.comm != known.comm => return Check::Full,
                    Some(_) => {}
                }
            }
            if !known.fds_ok {
                return Check::Keep; // no rights: do not retry each tick
            }
            match std::fs::metadata(dir.join("fd")) {
                Err(_) => Check::Gone,
                Ok(m) if Some(m.len()) != known.fd_count => Check::Fds,
                Ok(_) => Check::Keep,
            }
        });
        let todo: Vec<(i32, bool)> = pids
            .iter()
            .zip(&checks)
            .filter_map(|(&pid, c)| match c {
                Check::Keep => None,
                Check::Fds => Some((pid, false)),
                Check::Full => Some((pid, true)),
                Check::Gone => Some((pid, true)),
            })
            .collect();
        let results = par_map(&todo, self.threads, |&(pid, _)| scan_pid(&root, pid));
        let rescanned = todo.len();
        for ((pid, full_rescan), res) in todo.into_iter().zip(results) {
            match res {
                PidScan::Gone => {
                    self.procs.remove(&pid);
                }
                PidScan::Entry(mut e) => {
                    if !full_rescan {
                        if let Some(old) = self.procs.get(&pid) {
                            if old.starttime == e.starttime {
                                e.details = old.details.clone();
                            }
                        }
                    }
                    self.procs.insert(pid, e);
                }
            }
        }
        Ok(rescanned)
    }

    /// Reads the socket tables of every namespace a known process lives in.
    fn read_tables(&self) -> Vec<(u64, Vec<SocketEntry>)> {
        let mut by_ns: HashMap<u64, Vec<i32>> = HashMap::new();
        for (&pid, e) in &self.procs {
            if let Some(ns) = e.netns {
                by_ns.entry(ns).or_default().push(pid);
            }
        }
        let mut out = Vec::with_capacity(by_ns.len());
        let mut buf = String::new();
        let mut namespaces: Vec<_> = by_ns.into_iter().collect();
        namespaces.sort_unstable_by_key(|(ns, _)| *ns);
        for (ns, mut pids) in namespaces {
            pids.sort_unstable();
            // Any member pid shows the namespace's tables; try the next if one vanished.
            for pid in pids {
                if let Ok(t) = read_netns_tables(&self.cfg.proc_root, pid, &mut buf) {
                    out.push((ns, t));
                    break;
                }
            }
        }
        out
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

    /// One refresh: the whole current inventory, keyed for diffing.
    fn collect(&mut self, full: bool) -> io::Result<HashMap<RecordKey, InventoryRecord>> {
        let started = std::time::Instant::now();
        let mut rescanned = self.refresh_procs(full)?;
        let tables = self.read_tables();
        let mut owners = self.owners();

        // Inodes that no cached fd table explains: rescan that namespace's fd tables once.
        if !full {
            let mut stale_ns: HashSet<u64> = HashSet::new();
            for (ns, t) in &tables {
                if t.iter()
                    .any(|s| !owners.contains_key(&s.line.inode) && !self.gave_up.contains(&s.line.inode))
                {
                    stale_ns.insert(*ns);
                }
            }
            if !stale_ns.is_empty() {
                let pids: Vec<i32> = self
                    .procs
                    .iter()
                    .filter(|(_, e)| e.fds_ok && e.netns.is_some_and(|n| stale_ns.contains(&n)))
                    .map(|(&p, _)| p)
                    .collect();
                let root = self.cfg.proc_root.clone();
                let results = par_map(&pids, self.threads, |&pid| {
                    let mut e = ProcEntry {
                        starttime: 0,
                        comm: String::new(),
                        ppid: 0,
                        tty_nr: 0,
                        netns: None,
                        fd_count: None,
                        sockets: Vec::new(),
                        fds_ok: false,
                        details: None,
                    };
                    read_fds(&root.join(pid.to_string()), &mut e);
                    (e.fds_ok, e.fd_count, e.sockets)
                });
                rescanned += pids.len();
                for (pid, (ok, count, sockets)) in pids.into_iter().zip(results) {
                    if let Some(e) = self.procs.get_mut(&pid) {
                        if ok {
                            e.fd_count = count;
                            e.sockets = sockets;
                        }
                    }
                }
                owners = self.owners();
            }
        }
        let present: HashSet<u64> = tables.iter().flat_map(|(_, t)| t.iter().map(|s| s.line.inode)).collect();
        self.gave_up = present.iter().copied().filter(|i| !owners.contains_key(i)).collect();
        self.unreadable = self.procs.iter().filter(|(_, e)| !e.fds_ok).map(|(&p, _)| p).collect();

        let now = Timestamp::from_nanos(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0),
        );
        let stamp = now.to_rfc3339();
        let mut per_pid: HashMap<i32, Option<ProcCtx>> = HashMap::new();
        let mut records = HashMap::new();
        let mut nsockets = 0;
        let host = self.host.clone();
        for (ns, table) in &tables {
            for s in table {
                nsockets += 1;
                let base = |pid: Option<(i32, &Vec<u32>)>| InventoryRecord {
                    timestamp: stamp.clone(),
                    observed_ns: now.as_nanos(),
                    event: EventInfo { action: Action::Snapshot },
                    host: host.clone(),
                    network: NetworkInfo {
                        transport: s.transport,
                        ip_version: if s.line.local.is_ipv4() { IpVersion::Ipv4 } else { IpVersion::Ipv6 },
                        netns: *ns,
                    },
                    source: Endpoint { ip: s.line.local.ip(), port: s.line.local.port() },
                    destination: Endpoint { ip: s.line.remote.ip(), port: s.line.remote.port() },
                    socket: SocketInfo {
                        inode: s.line.inode,
                        state: procfs::tcp_state_name(s.line.state).to_string(),
                        uid: s.line.uid,
                        fds: pid.map(|(_, f)| f.clone()).unwrap_or_default(),
                    },
                    process: None,
                    container: None,
                    orchestrator: None,
                };
                let holders: Vec<(i32, Vec<u32>)> = owners.get(&s.line.inode).cloned().unwrap_or_default();
                if holders.is_empty() {
                    records.insert((*ns, s.transport, s.line.inode, 0), base(None));
                    continue;
                }
                for (pid, fds) in &holders {
                    let ctx = match per_pid.get(pid) {
                        Some(c) => c.clone(),
                        None => {
                            let c = self.process_info(*pid);
                            per_pid.insert(*pid, c.clone());
                            c
                        }
                    };
                    let mut rec = base(Some((*pid, fds)));
                    if let Some((proc_info, container)) = ctx {
                        rec.process = Some(proc_info);
                        if let Some(c) = container {
                            rec.container = Some(c.0.clone());
                            rec.orchestrator = c.1.clone();
                        }
                    }
                    records.insert((*ns, s.transport, s.line.inode, *pid), rec);
                }
            }
        }
        self.last_stats = ScanStats {
            full,
            pids: self.procs.len(),
            rescanned,
            netns: tables.len(),
            sockets: nsockets,
            records: records.len(),
            elapsed_us: started.elapsed().as_micros(),
        };
        Ok(records)
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
        let start = self.btime.map(|b| {
            Timestamp::from_nanos(b * 1_000_000_000 + e.starttime as i64 * (1_000_000_000 / USER_HZ))
                .to_rfc3339()
        });
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
            parent,
            ancestors: chain
                .into_iter()
                .map(|(p, n)| AncestorInfo { pid: p, name: n.name, args: n.args })
                .collect(),
        };
        let container = d.container.as_ref().and_then(|c| self.container_ctx(c));
        Some((info, container))
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
        let ctx = Some(Arc::new((info, orch)));
        self.containers.insert(cref.clone(), ctx.clone());
        ctx
    }

    /// A full inventory: every record with action `snapshot`. Also the baseline for
    /// the deltas that [`Scanner::deltas`] returns afterwards.
    pub fn snapshot(&mut self) -> io::Result<Vec<InventoryRecord>> {
        let current = self.collect(true)?;
        self.scanned_once = true;
        let mut out: Vec<InventoryRecord> = current.values().cloned().collect();
        sort_records(&mut out);
        self.previous = current;
        Ok(out)
    }

    /// An incremental refresh: records that appeared (`opened`) or went away
    /// (`closed`) since the previous refresh.
    pub fn deltas(&mut self) -> io::Result<Vec<InventoryRecord>> {
        if !self.scanned_once {
            return self.snapshot();
        }
        let current = self.collect(false)?;
        let mut out = Vec::new();
        let (stamp, ns) =
            current.values().next().map(|r| (r.timestamp.clone(), r.observed_ns)).unwrap_or_else(|| {
                let now = Timestamp::from_nanos(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos() as i64)
                        .unwrap_or(0),
                );
                (now.to_rfc3339(), now.as_nanos())
            });
        for (k, rec) in &current {
            if !self.previous.contains_key(k) {
                let mut r = rec.clone();
                r.event.action = Action::Opened;
                out.push(r);
            }
        }
        for (k, rec) in &self.previous {
            if !current.contains_key(k) {
                let mut r = rec.clone();
                r.event.action = Action::Closed;
                r.timestamp = stamp.clone();
                r.observed_ns = ns;
                out.push(r);
            }
        }
        sort_records(&mut out);
        self.previous = current;
        Ok(out)
    }
}

fn sort_records(v: &mut [InventoryRecord]) {
    v.sort_by_key(|r| (r.network.netns, r.socket.inode, r.process.as_ref().map(|p| p.pid).unwrap_or(0)));
}
