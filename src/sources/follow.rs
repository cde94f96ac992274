//! `agent --auditd FILE`: follows an audit log as it grows, by name like `tail -F` (a
//! rotated or truncated log is reopened from its start), and sends what it tells to the
//! agent's sink (a file, stdout or a sensor).

use super::auditd::AuditReader;
use super::SourceRecord;
use crate::agent::InventorySink;
use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long to wait for the log to grow before looking again.
const POLL: Duration = Duration::from_millis(200);

/// The open log: the reader and which file (inode) it is.
struct Open {
    lines: BufReader<std::fs::File>,
    inode: u64,
    pos: u64,
}

fn open(path: &Path) -> Option<Open> {
    let f = std::fs::File::open(path).ok()?;
    let inode = f.metadata().ok()?.ino();
    Some(Open { lines: BufReader::new(f), inode, pos: 0 })
}

/// Reads the log from its start, then follows it until `duration` has passed (forever
/// without one) or `stop` is set. A missing log is waited for.
pub fn follow_auditd(
    path: &Path,
    host: &str,
    sink: &mut dyn InventorySink,
    duration: Option<Duration>,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<()> {
    let deadline = duration.map(|d| Instant::now() + d);
    let mut reader = AuditReader::new(host);
    let mut log = open(path);
    if log.is_none() {
        tracing::warn!("{}: not there yet; waiting for it", path.display());
    }
    let mut line = Vec::new();
    while deadline.is_none_or(|d| Instant::now() < d) && !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let Some(cur) = log.as_mut() else {
            std::thread::sleep(POLL);
            log = open(path);
            continue;
        };
        let n = cur.lines.read_until(b'\n', &mut line).map_err(|e| Error::io(path, e))?;
        if n > 0 && line.ends_with(b"\n") {
            cur.pos += line.len() as u64;
            reader.line(&String::from_utf8_lossy(&line));
            line.clear();
            continue;
        }
        // At the end (a half-written line stays in `line` until the rest comes).
        if n > 0 {
            cur.pos += n as u64;
        }
        reader.flush();
        send(sink, reader.take())?;
        std::thread::sleep(POLL);
        let replaced = match std::fs::metadata(path) {
            Ok(m) => m.ino() != cur.inode || m.len() < cur.pos,
            Err(_) => false, // rotated away and not yet recreated: keep reading the old one
        };
        if replaced {
            tracing::info!("{}: rotated or truncated; reading the new one from its start", path.display());
            line.clear();
            log = open(path);
            if let Some(l) = log.as_mut() {
                l.pos = l.lines.seek(SeekFrom::Start(0)).unwrap_or(0);
            }
        }
    }
    reader.flush();
    send(sink, reader.take())
}

fn send(sink: &mut dyn InventorySink, records: Vec<SourceRecord>) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let (mut sockets, mut execs) = (Vec::new(), Vec::new());
    for r in records {
        match r {
            SourceRecord::Socket(s) => sockets.push(s),
            SourceRecord::Exec(e) => execs.push(e),
        }
    }
    if !sockets.is_empty() && !sink.records(&sockets, false)? {
        return Err(Error::runtime("the inventory's reader went away"));
    }
    sink.execs(&execs)
}
