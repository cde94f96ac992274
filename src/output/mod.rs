//! Where results go: ECS JSON lines or a table for alerts, JSON lines for flows, and a
//! one-screen summary on stderr.

pub mod ecs;
pub mod table;

use crate::detect::FlowRecord;
use crate::error::{Error, Result};
use crate::report::Alert;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Table,
}

/// Somewhere alert and stats records go besides the local output (the fleet bus). It
/// must not block: the pipeline calls it for every record.
pub trait RecordTap: Send {
    fn alert(&mut self, record: &serde_json::Value);
    /// May add its own counters to the record before it is written anywhere.
    fn stats(&mut self, record: &mut serde_json::Value);
}

/// Writes alerts in the chosen format.
pub struct AlertSink {
    out: Box<dyn Write + Send>,
    format: Format,
    wrote_header: bool,
    /// Flush after every alert (live sensor, or a terminal) rather than at the end.
    line_buffered: bool,
    /// A live sensor: stamp `event.created`.
    live: bool,
    tap: Option<Box<dyn RecordTap>>,
    /// One JSON record is serialised here first, then written with a single `write_all`:
    /// a killed sensor leaves whole lines behind it, never half of one.
    line: Vec<u8>,
}

impl AlertSink {
    /// Stdout or a file; the format defaults to JSON lines unless stdout is a terminal.
    /// A live sensor appends to its file (a restart keeps what the last run wrote), after
    /// cutting off a torn last line that a killed run may have left.
    pub fn open(path: Option<&Path>, format: Option<Format>, live: bool) -> Result<Self> {
        let line_buffered = live;
        let (out, tty): (Box<dyn Write + Send>, bool) = match path {
            Some(p) => {
                let opened = if live { open_for_append(p) } else { File::create(p) };
                let f = opened.map_err(|e| Error::runtime(format!("{}: {e}", p.display())))?;
                (Box::new(BufWriter::new(f)), false)
            }
            None => (Box::new(BufWriter::new(io::stdout())), io::stdout().is_terminal()),
        };
        let format = format.unwrap_or(if tty { Format::Table } else { Format::Json });
        Ok(AlertSink {
            out,
            format,
            wrote_header: false,
            line_buffered: line_buffered || tty,
            live: line_buffered,
            tap: None,
            line: Vec::with_capacity(4096),
        })
    }

    /// Also hands every alert and stats record to `tap`.
    pub fn with_tap(mut self, tap: Option<Box<dyn RecordTap>>) -> Self {
        self.tap = tap;
        self
    }

    pub fn write(&mut self, a: &Alert) -> Result<()> {
        let json = (self.format == Format::Json || self.tap.is_some()).then(|| record(a, self.live));
        if let (Some(tap), Some(json)) = (&mut self.tap, &json) {
            tap.alert(json);
        }
        let r = match self.format {
            Format::Json => {
                self.line.clear();
                let json = json.unwrap_or_else(|| record(a, self.live));
                serde_json::to_writer(&mut self.line, &json)
                    .map_err(|e| Error::runtime(format!("writing alerts: {e}")))?;
                self.line.push(b'\n');
                self.out.write_all(&self.line)
            }
            Format::Table => {
                let header = if self.wrote_header { Ok(()) } else { table::header(&mut self.out) };
                self.wrote_header = true;
                header.and_then(|_| table::row(&mut self.out, a))
            }
        };
        r.map_err(|e| Error::runtime(format!("writing alerts: {e}")))?;
        if self.line_buffered {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::runtime(format!("writing alerts: {e}")))
    }

    /// A periodic statistics record: a JSON line in JSON mode, a line on stderr for tables.
    pub fn write_stats(&mut self, record: &serde_json::Value) -> Result<()> {
        let mut tapped;
        let record = match &mut self.tap {
            Some(tap) => {
                tapped = record.clone();
                tap.stats(&mut tapped);
                &tapped
            }
            None => record,
        };
        match self.format {
            Format::Json => {
                self.line.clear();
                serde_json::to_writer(&mut self.line, record)
                    .map_err(|e| Error::runtime(format!("writing stats: {e}")))?;
                self.line.push(b'\n');
                self.out.write_all(&self.line).map_err(|e| Error::runtime(format!("writing stats: {e}")))?;
                self.flush()
            }
            Format::Table => {
                eprintln!("stats {}", record["shellsight"]["stats"]);
                Ok(())
            }
        }
    }
}

/// Opens `path` for appending; when it ends inside a line (a run killed mid-write),
/// that partial line is cut off first, so every line in the file stays a whole record.
fn open_for_append(path: &Path) -> io::Result<File> {
    let mut f = OpenOptions::new().read(true).append(true).create(true).open(path)?;
    let len = f.metadata()?.len();
    let keep = whole_lines_len(&mut f, len)?;
    if keep < len {
        tracing::warn!(
            "{}: removed a torn last line ({} bytes) left by an earlier run that was stopped mid-write",
            path.display(),
            len - keep
        );
        f.set_len(keep)?;
    }
    Ok(f)
}

/// The length of `f` up to and including its last newline (0 when it has none).
fn whole_lines_len(f: &mut File, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut chunk = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(buf)?;
        if let Some(i) = memchr::memrchr(b'\n', buf) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// The ECS record; a live sensor also stamps `event.created`, when it wrote the alert
/// (replay leaves it out so that its output stays deterministic).
fn record(a: &Alert, live: bool) -> serde_json::Value {
    let mut r = ecs::alert(a);
    if live {
        r["event"]["created"] = serde_json::Value::String(crate::time::Timestamp::wall_clock().to_rfc3339());
    }
    r
}

/// Writes flow records as ECS JSON lines.
pub struct FlowSink {
    out: BufWriter<File>,
}

impl FlowSink {
    pub fn create(path: &Path) -> Result<Self> {
        let f = File::create(path).map_err(|e| Error::runtime(format!("{}: {e}", path.display())))?;
        Ok(FlowSink { out: BufWriter::with_capacity(1 << 20, f) })
    }

    pub fn write(&mut self, f: &FlowRecord) -> Result<()> {
        serde_json::to_writer(&mut self.out, &ecs::flow(f))
            .map_err(io::Error::other)
            .and_then(|_| self.out.write_all(b"\n"))
            .map_err(|e| Error::runtime(format!("writing flows: {e}")))
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::runtime(format!("writing flows: {e}")))
    }
}
