//! The host agent: an inventory of every TCP and UDP socket on the host, in every
//! network namespace, attributed to the processes holding it, with their parent chain
//! and container context.
//!
//! - `procfs`: pure parsers for the /proc files read;
//! - `sockets`: per-namespace socket tables;
//! - `tree`: parent chains;
//! - `container`: cgroup → container id and runtime; runtime state → pod metadata;
//! - `inventory`: the scanner, full then incremental;
//! - `cnproc`: the kernel proc connector (exec events), and `sys`: fd-relative /proc
//!   access (`openat`, `readlinkat`); the only unsafe code.

pub mod cnproc;
pub mod container;
pub mod inventory;
pub mod procfs;
pub mod sockets;
pub mod sys;
pub mod tree;

use crate::error::{Error, Result};
use crate::inventory::InventoryRecord;
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

pub fn run(cfg: AgentConfig) -> Result<()> {
    let mut out: Box<dyn Write> = match &cfg.output {
        Some(path) => Box::new(std::io::BufWriter::with_capacity(
            1 << 18,
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?,
        )),
        None => Box::new(std::io::BufWriter::with_capacity(1 << 18, std::io::stdout().lock())),
    };
    let scan_err = |e: std::io::Error| Error::runtime(format!("{}: {e}", cfg.scan.proc_root.display()));
    let mut scanner = Scanner::new(cfg.scan.clone());

    if cfg.once {
        let records = scanner.snapshot().map_err(scan_err)?;
        log_stats(&scanner);
        write_records(&mut out, &records)?;
        summary(&scanner, cfg.quiet);
        return Ok(());
    }

    let mut events = None;
    if cfg.use_cn_proc {
        match cnproc::listen() {
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
    if !write_records(&mut out, &records)? {
        return Ok(());
    }
    summary(&scanner, cfg.quiet);
    let mut periodic = Instant::now() + cfg.interval;
    let mut next = periodic;
    let mut early_left = EARLY_REFRESHES_PER_INTERVAL;
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        if now >= next {
            let records = scanner.deltas().map_err(scan_err)?;
            log_stats(&scanner);
            if !write_records(&mut out, &records)? {
                return Ok(());
            }
            if now >= periodic {
                periodic = Instant::now() + cfg.interval;
                early_left = EARLY_REFRESHES_PER_INTERVAL;
            }
            next = periodic;
            continue;
        }
        let wake = deadline.map_or(next, |d| d.min(next));
        let wait = wake.saturating_duration_since(now);
        let Some(rx) = &events else {
            std::thread::sleep(wait);
            continue;
        };
        match rx.recv_timeout(wait) {
            Ok(cnproc::ProcEvent::Exec { pid }) => {
                let soon = Instant::now() + EXEC_REFRESH_DELAY;
                if scanner.on_exec(pid) && early_left > 0 && soon < next {
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
