//! The host agent: an inventory of every TCP and UDP socket on the host, in every
//! network namespace, attributed to the processes holding it, with their parent chain
//! and container context.
//!
//! - `procfs`: pure parsers for the /proc files read;
//! - `sockets`: per-namespace socket tables;
//! - `tree`: parent chains;
//! - `container`: cgroup → container id and runtime; runtime state → pod metadata;
//! - `inventory`: the scanner, full then incremental;
//! - `cnproc`: the kernel proc connector (exec events), `taskstats`: exit reports that
//!   name the execs it was too late to read, and `sys`: fd-relative /proc access
//!   (`openat`, `readlinkat`); the only unsafe code;
//! - `capabilities`: what the agent needs beyond a user's rights, checked at start;
//! - `exec`: what a process became at exec, read as the event arrives; the scanner turns
//!   execs whose stdio is wired to a TCP socket (directly or through a pty) into
//!   [`ExecRecord`]s, the commands run over that socket.

pub mod capabilities;
pub mod cnproc;
pub mod container;
pub mod exec;
pub mod inventory;
pub mod procfs;
pub mod sockets;
pub mod sys;
pub mod taskstats;
pub mod tree;

use crate::error::{Error, Result};
use crate::inventory::{ExecRecord, InventoryRecord};
use crate::join::conntrack::NatEntry;
use inventory::{ScanConfig, Scanner};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The agent's validated configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub scan: ScanConfig,
    /// Print one snapshot and exit.
    pub once: bool,
    pub interval: Duration,
    /// Append to this file instead of writing to stdout.
    pub output: Option<PathBuf>,
    /// Stop after this long (interval mode).
    pub duration: Option<Duration>,
    /// No summary on stderr.
    pub quiet: bool,
    /// Subscribe to the kernel proc connector (only meaningful on the live /proc).
    pub use_cn_proc: bool,
    /// Stream to a sensor at this address with this token instead of writing lines.
    pub connect: Option<(crate::transport::client::Endpoint, crate::transport::Token)>,
    /// Publish to the fleet bus instead of writing lines.
    pub bus: Option<crate::bus::BusConfig>,
}

/// How soon after the exec of a process whose fds 0-2 include a socket the next
/// refresh runs (execs within that window share it).
const EXEC_REFRESH_DELAY: Duration = Duration::from_millis(50);
/// At most this many such early refreshes between two periodic ones, so a host that
/// execs socket-wired processes all the time (inetd-style services) costs at most
/// three refreshes per interval.
const EARLY_REFRESHES_PER_INTERVAL: u32 = 2;

/// Writes records as JSON lines. A process holding many sockets is serialized once:
/// its `process` object is cached (by identity of the shared `Arc`) and spliced into
/// each of its lines.
fn write_records(out: &mut dyn Write, records: &[Arc<InventoryRecord>]) -> Result<bool> {
    match write_lines(out, records) {
        Ok(()) => Ok(true),
        // The reader went away (`agent --once | head`): stop quietly.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Error::runtime(format!("writing the inventory: {e}"))),
    }
}

fn write_lines(out: &mut dyn Write, records: &[Arc<InventoryRecord>]) -> std::io::Result<()> {
    let mut cache: HashMap<usize, Vec<u8>> = HashMap::new();
    let mut line = Vec::with_capacity(4096);
    for r in records {
        line.clear();
        match &r.process {
            Some(p) => {
                let mut bare = InventoryRecord::clone(r);
                bare.process = None;
                serde_json::to_writer(&mut line, &bare)?;
                let key = Arc::as_ptr(p) as usize;
                let json = match cache.entry(key) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(serde_json::to_vec(&**p)?),
                };
                line.pop(); // the closing brace
                line.extend_from_slice(b",\"process\":");
                line.extend_from_slice(json);
                line.push(b'}');
            }
            None => serde_json::to_writer(&mut line, &**r)?,
        }
        line.push(b'\n');
        out.write_all(&line)?;
    }
    out.flush()
}

fn summary(scanner: &Scanner, quiet: bool) {
    let pids = scanner.unreadable();
    if quiet || pids.is_empty() {
        return;
    }
    let shown: Vec<String> = pids.iter().take(50).map(|p| p.to_string()).collect();
    let more = if pids.len() > 50 { format!(" and {} more", pids.len() - 50) } else { String::new() };
    eprintln!(
        "shellsight agent: could not read the fd tables of {} processes (insufficient rights): pids {}{more}",
        pids.len(),
        shown.join(", ")
    );
}

fn log_stats(scanner: &Scanner) {
    let s = &scanner.last_stats;
    tracing::debug!(
        full = s.full,
        pids = s.pids,
        rescanned = s.rescanned,
        netns = s.netns,
        sockets = s.sockets,
        tables_read = s.tables_read,
        records = s.records,
        elapsed_us = s.elapsed_us as u64,
        "refresh done"
    );
}

/// Where an agent's inventory goes: a JSON-lines file or stdout, a sensor over TCP, or
/// (inside the sensor) the joiner's cache.
pub trait InventorySink {
    /// Takes a full snapshot or the deltas of one refresh; `false` stops the agent.
    fn records(&mut self, records: &[Arc<InventoryRecord>], snapshot: bool) -> Result<bool>;
    /// Conntrack entries of connections this host translates (NAT).
    fn nat(&mut self, _observed_ns: i64, _entries: Vec<NatEntry>) -> Result<()> {
        Ok(())
    }
    /// Execs whose stdio is wired to a connected TCP socket: commands run over it.
    fn execs(&mut self, _records: &[Arc<ExecRecord>]) -> Result<()> {
        Ok(())
    }
    /// The next refresh must be a full snapshot (the sink lost its state, say after a
    /// reconnect).
    fn wants_snapshot(&self) -> bool {
        false
    }
}

/// JSON lines to a file or stdout.
pub struct WriterSink {
    out: Box<dyn Write + Send>,
}

impl WriterSink {
    pub fn open(output: Option<&std::path::Path>) -> Result<Self> {
        let out: Box<dyn Write + Send> = match output {
            Some(path) => Box::new(std::io::BufWriter::with_capacity(
                1 << 18,
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| Error::io(path, e))?,
            )),
            None => Box::new(std::io::BufWriter::with_capacity(1 << 18, std::io::stdout())),
        };
        Ok(WriterSink { out })
    }
}

impl InventorySink for WriterSink {
    fn records(&mut self, records: &[Arc<InventoryRecord>], _snapshot: bool) -> Result<bool> {
        write_records(&mut self.out, records)
    }

    fn nat(&mut self, observed_ns: i64, entries: Vec<NatEntry>) -> Result<()> {
        for nat in entries {
            let line = crate::join::NatLine { observed_ns, nat };
            self.line(&line)?;
        }
        Ok(())
    }

    fn execs(&mut self, records: &[Arc<ExecRecord>]) -> Result<()> {
        for r in records {
            self.line(&**r)?;
        }
        if !records.is_empty() {
            self.out.flush().map_err(|e| Error::runtime(format!("writing the inventory: {e}")))?;
        }
        Ok(())
    }
}

impl WriterSink {
    fn line(&mut self, value: &impl serde::Serialize) -> Result<()> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(std::io::Error::other)
            .and_then(|_| self.out.write_all(b"\n"))
            .map_err(|e| Error::runtime(format!("writing the inventory: {e}")))
    }
}

/// Streams to a sensor (`--connect`).
pub struct LinkSink(pub crate::transport::client::SensorLink);

impl InventorySink for LinkSink {
    fn records(&mut self, records: &[Arc<InventoryRecord>], snapshot: bool) -> Result<bool> {
        if snapshot {
            self.0.send_snapshot(records.to_vec());
        } else {
            self.0.send_delta(records.to_vec());
        }
        Ok(true)
    }

    fn nat(&mut self, observed_ns: i64, entries: Vec<NatEntry>) -> Result<()> {
        self.0.send_nat(observed_ns, entries);
        Ok(())
    }

    fn execs(&mut self, records: &[Arc<ExecRecord>]) -> Result<()> {
        self.0.send_execs(records.to_vec());
        Ok(())
    }

    fn wants_snapshot(&self) -> bool {
        self.0.wants_snapshot()
    }
}

/// Feeds the joiner's cache directly (`sensor --local-agent`).
pub struct CacheSink(pub Arc<std::sync::Mutex<crate::join::InventoryCache>>);

impl InventorySink for CacheSink {
    fn records(&mut self, records: &[Arc<InventoryRecord>], snapshot: bool) -> Result<bool> {
        let Ok(mut cache) = self.0.lock() else { return Ok(false) };
        let started = records.first().map(|r| crate::time::Timestamp::from_nanos(r.observed_ns));
        for r in records {
            cache.ingest(r.clone());
        }
        if let (true, Some(started), Some(r)) = (snapshot, started, records.first()) {
            cache.end_snapshot(&r.host.boot_id, started);
        }
        cache.expire();
        Ok(true)
    }

    fn nat(&mut self, _observed_ns: i64, entries: Vec<NatEntry>) -> Result<()> {
        if let Ok(mut cache) = self.0.lock() {
            for e in &entries {
                cache.ingest_nat(e);
            }
        }
        Ok(())
    }

    fn execs(&mut self, records: &[Arc<ExecRecord>]) -> Result<()> {
        if let (false, Ok(mut cache)) = (records.is_empty(), self.0.lock()) {
            for r in records {
                cache.ingest_exec(r.clone());
            }
        }
        Ok(())
    }
}

/// Connections this host translates, from `<proc>/net/nf_conntrack` when the kernel
/// tracks connections; empty otherwise.
fn read_nat(proc_root: &std::path::Path) -> Vec<NatEntry> {
    let Ok(text) = std::fs::read_to_string(proc_root.join("net/nf_conntrack")) else { return Vec::new() };
    text.lines().filter_map(crate::join::conntrack::parse_line).filter(|e| e.is_translated()).collect()
}

/// A flag that SIGINT or SIGTERM sets: the agent then ends its loop and closes its sink
/// (sending what is queued) instead of dying with it, as under `systemctl stop`.
pub fn stop_on_signals() -> Result<Arc<std::sync::atomic::AtomicBool>> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Error::runtime(format!("cannot install a signal handler: {e}")))?;
    }
    Ok(stop)
}

pub fn run(cfg: AgentConfig) -> Result<()> {
    if !cfg.quiet && cfg.scan.proc_root == std::path::Path::new("/proc") {
        capabilities::warn_missing();
    }
    let stop = stop_on_signals()?;
    if let Some(bus) = &cfg.bus {
        let probe = Scanner::new(cfg.scan.clone());
        let (host, boot_id) = (probe.host().name.clone(), probe.host().boot_id.clone());
        let mut sink = crate::bus::agent::BusSink::start(bus.clone(), host, boot_id)?;
        let result = run_with(&cfg, &mut sink, Some(&stop));
        let counters = sink.counters.clone();
        sink.close();
        if !cfg.quiet {
            eprintln!("shellsight agent: bus {}", counters.json());
        }
        return result;
    }
    let mut sink: Box<dyn InventorySink> = match &cfg.connect {
        Some((to, token)) => {
            let probe = Scanner::new(cfg.scan.clone());
            let id = crate::transport::client::Identity {
                token: token.clone(),
                host: probe.host().name.clone(),
                boot_id: probe.host().boot_id.clone(),
            };
            Box::new(LinkSink(crate::transport::client::SensorLink::start(to.clone(), id)?))
        }
        None => Box::new(WriterSink::open(cfg.output.as_deref())?),
    };
    run_with(&cfg, sink.as_mut(), Some(&stop))
}

/// The scan loop: a full snapshot, then deltas every interval (and soon after an exec of
/// a process wired to a socket), until the duration ends or `stop` is set.
pub fn run_with(
    cfg: &AgentConfig,
    sink: &mut dyn InventorySink,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Result<()> {
    let scan_err = |e: std::io::Error| Error::runtime(format!("{}: {e}", cfg.scan.proc_root.display()));
    let mut scanner = Scanner::new(cfg.scan.clone());
    let stopped = || stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));

    if cfg.once {
        let records = scanner.snapshot().map_err(scan_err)?;
        log_stats(&scanner);
        sink.records(&records, true)?;
        summary(&scanner, cfg.quiet);
        return Ok(());
    }

    let mut events = None;
    let host_pids = capabilities::proc_shows_host_pids(&cfg.scan.proc_root);
    if cfg.use_cn_proc && host_pids == Some(false) {
        tracing::warn!(
            "{} shows a container's own pid namespace, but the proc connector names host pids: \
             new execs are seen at the next refresh only (run the agent in the host's pid \
             namespace: hostPID, docker --pid=host)",
            cfg.scan.proc_root.display()
        );
    } else if cfg.use_cn_proc {
        let proc_root = cfg.scan.proc_root.clone();
        let capture = move |pid| exec::capture(&proc_root, pid, crate::time::Timestamp::wall_clock());
        match cnproc::listen(capture) {
            Ok(rx) => {
                scanner.verify_identity = false;
                events = Some(rx);
            }
            Err(e) => tracing::warn!(
                "proc connector unavailable ({e}); new execs are seen at the next refresh only"
            ),
        }
    }
    let deadline = cfg.duration.map(|d| Instant::now() + d);
    let records = scanner.snapshot().map_err(scan_err)?;
    log_stats(&scanner);
    if !sink.records(&records, true)? {
        return Ok(());
    }
    sink.execs(&scanner.take_execs())?;
    sink.nat(crate::time::Timestamp::wall_clock().as_nanos(), read_nat(&cfg.scan.proc_root))?;
    summary(&scanner, cfg.quiet);
    let mut periodic = Instant::now() + cfg.interval;
    let mut next = periodic;
    let mut early_left = EARLY_REFRESHES_PER_INTERVAL;
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || stopped() {
            break;
        }
        if now >= next {
            let snapshot = sink.wants_snapshot();
            let records = if snapshot { scanner.snapshot() } else { scanner.deltas() }.map_err(scan_err)?;
            log_stats(&scanner);
            if !sink.records(&records, snapshot)? {
                return Ok(());
            }
            sink.execs(&scanner.take_execs())?;
            if now >= periodic {
                sink.nat(crate::time::Timestamp::wall_clock().as_nanos(), read_nat(&cfg.scan.proc_root))?;
                periodic = Instant::now() + cfg.interval;
                early_left = EARLY_REFRESHES_PER_INTERVAL;
            }
            next = periodic;
            continue;
        }
        let wake = deadline.map_or(next, |d| d.min(next));
        // Wake at least every quarter second so a stop request is seen promptly.
        let wait = wake.saturating_duration_since(now).min(Duration::from_millis(250));
        let Some(rx) = &events else {
            std::thread::sleep(wait);
            continue;
        };
        match rx.recv_timeout(wait) {
            Ok(cnproc::ProcEvent::Exec { pid, image }) => {
                let soon = Instant::now() + EXEC_REFRESH_DELAY;
                if scanner.on_exec(pid, image.map(|b| *b)) && early_left > 0 && soon < next {
                    next = soon;
                    early_left -= 1;
                }
            }
            Ok(cnproc::ProcEvent::Exit { pid }) => scanner.on_exit(pid),
            Ok(cnproc::ProcEvent::Fork { .. }) => {}
            Ok(cnproc::ProcEvent::Lost) => {
                tracing::debug!("proc connector dropped events; rescanning everything");
                scanner.invalidate();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                tracing::warn!("proc connector closed; polling only from now on");
                scanner.verify_identity = true;
                events = None;
            }
        }
    }
    summary(&scanner, cfg.quiet);
    Ok(())
}
