//! Where results go: ECS JSON lines or a table for alerts, JSON lines for flows, and a
//! one-screen summary on stderr.

pub mod ecs;
pub mod table;

use crate::detect::FlowRecord;
use crate::error::{Error, Result};
use crate::report::Alert;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Table,
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
}

impl AlertSink {
    /// Stdout or a file; the format defaults to JSON lines unless stdout is a terminal.
    pub fn open(path: Option<&Path>, format: Option<Format>, live: bool) -> Result<Self> {
        let line_buffered = live;
        let (out, tty): (Box<dyn Write + Send>, bool) = match path {
            Some(p) => {
                let f = File::create(p).map_err(|e| Error::runtime(format!("{}: {e}", p.display())))?;
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
        })
    }

    pub fn write(&mut self, a: &Alert) -> Result<()> {
        let r = match self.format {
            Format::Json => serde_json::to_writer(&mut self.out, &record(a, self.live))
                .map_err(io::Error::other)
                .and_then(|_| self.out.write_all(b"\n")),
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
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut self.out, record)
                    .map_err(io::Error::other)
                    .and_then(|_| self.out.write_all(b"\n"))
                    .map_err(|e| Error::runtime(format!("writing stats: {e}")))?;
                self.flush()
            }
            Format::Table => {
                eprintln!("stats {}", record["shellsight"]["stats"]);
                Ok(())
            }
        }
    }
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
