//! Sysmon events as a process source: EVTX files (the `evtx` crate), and JSON, as
//! Winlogbeat ships it (`winlog.event_id`, `winlog.event_data`) or as EVTX/XML converted
//! to JSON (`Event.System.EventID`, `Event.EventData`, which is also what Sysmon for Linux's
//! XML becomes), one object per line or a JSON array.
//!
//! - Event ID 1 (process create): ProcessGuid and ParentProcessGuid give the tree (GUIDs,
//!   so pid reuse does not confuse it); Image, CommandLine, User, CurrentDirectory, and
//!   ParentImage / ParentCommandLine name the parent even when its own creation is not in
//!   the log.
//! - Event ID 3 (network connection): SourceIp/Port, DestinationIp/Port, Protocol and
//!   Initiated, held by the ProcessGuid that made it. Source is the end that initiated the
//!   connection: with `Initiated=true` it is this host's end, else the destination is.
//!
//! Sysmon does not say which fds a socket sits on, so the process that made the connection
//! is its holder and the joiner names it (a PowerShell reverse shell's powershell.exe).

use super::model::{HostModel, ProcessSighting, SocketSighting};
use super::SourceRecord;
use crate::error::{Error, Result};
use crate::inventory::Transport;
use crate::time::Timestamp;
use serde_json::Value;
use std::net::IpAddr;
use std::path::Path;

/// The first bytes of an EVTX file.
const EVTX_MAGIC: &[u8] = b"ElfFile\0";

/// One Sysmon event, whatever the shape it came in.
#[derive(Debug, Clone)]
struct Event {
    id: u64,
    at: Timestamp,
    computer: String,
    data: serde_json::Map<String, Value>,
}

impl Event {
    fn text(&self, key: &str) -> Option<String> {
        match self.data.get(key)? {
            Value::String(s) if s.is_empty() || s == "-" => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.text(key)?.trim().parse().ok()
    }
}

/// `"C:\Windows\System32\cmd.exe"` → `cmd.exe`.
fn file_name(image: &str) -> String {
    image.rsplit(['\\', '/']).next().unwrap_or(image).to_string()
}

/// A command line split the way Windows programs split theirs: spaces separate, double
/// quotes group (and are dropped).
pub fn split_command_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Sysmon's `UtcTime` (`2026-12-01 21:06:22.217`) or an RFC 3339 time.
fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(Timestamp::from_nanos(t.as_nanosecond() as i64));
    }
    // Sysmon writes UTC without a zone: make it RFC 3339.
    let t: jiff::Timestamp = format!("{}Z", s.replacen(' ', "T", 1)).parse().ok()?;
    Some(Timestamp::from_nanos(t.as_nanosecond() as i64))
}

/// A number that may come as `1`, `"1"` or `{"#text": 1}` (EVTX with attributes).
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => o.get("#text").and_then(number),
        _ => None,
    }
}

/// Reads one event object in either shape; `None` when it is not one.
fn event(v: &Value) -> Option<Event> {
    let (id, data, computer, system_time) = if let Some(w) = v.get("winlog") {
        let id = number(w.get("event_id")?)?;
        let data = w.get("event_data")?.as_object()?.clone();
        let computer = w.get("computer_name").or_else(|| v.pointer("/host/name")).and_then(Value::as_str);
        (
            id,
            data,
            computer.map(str::to_string),
            v.get("@timestamp").and_then(Value::as_str).map(str::to_string),
        )
    } else {
        let e = v.get("Event").unwrap_or(v);
        let sys = e.get("System")?;
        let id = number(sys.get("EventID")?)?;
        let data = match e.get("EventData")? {
            Value::Object(o) => o.clone(),
            _ => return None,
        };
        let time =
            sys.pointer("/TimeCreated/#attributes/SystemTime").and_then(Value::as_str).map(str::to_string);
        (id, data, sys.get("Computer").and_then(Value::as_str).map(str::to_string), time)
    };
    let utc = data.get("UtcTime").and_then(Value::as_str).and_then(parse_time);
    let at = utc.or_else(|| system_time.as_deref().and_then(parse_time))?;
    Some(Event { id, at, computer: computer.unwrap_or_default(), data })
}

/// The events of an EVTX file, or of a JSON file (lines, an array, or one object).
fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut values = Vec::new();
    if bytes.starts_with(EVTX_MAGIC) {
        let mut parser = evtx::EvtxParser::from_buffer(bytes)
            .map_err(|e| Error::input(format!("{}: not a readable EVTX file: {e}", path.display())))?;
        let mut bad = 0u64;
        for r in parser.records_json_value() {
            match r {
                Ok(r) => values.push(r.data),
                Err(_) => bad += 1,
            }
        }
        if bad > 0 {
            tracing::warn!("{}: {bad} EVTX records could not be read and were skipped", path.display());
        }
    } else {
        let text = String::from_utf8_lossy(&bytes);
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') {
            let v: Value = serde_json::from_str(trimmed)
                .map_err(|e| Error::input(format!("{}: not a JSON array of events: {e}", path.display())))?;
            values.extend(v.as_array().cloned().unwrap_or_default());
        } else {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(line).map_err(|e| {
                    Error::input(format!(
                        "{}:{}: not a JSON event (EVTX or JSON lines): {e}",
                        path.display(),
                        i + 1
                    ))
                })?;
                values.push(v);
            }
        }
    }
    // In the log's own order, which is the order Sysmon wrote them: its UtcTime can jump
    // (a connection event carries the time the connection was first seen).
    let events: Vec<Event> = values.iter().filter_map(event).collect();
    if events.is_empty() && !values.is_empty() {
        return Err(Error::input(format!(
            "{}: {} records, none a Sysmon event (no winlog.event_id / Event.System.EventID)",
            path.display(),
            values.len()
        )));
    }
    Ok(events)
}

fn sighting(ev: &Event, prefix: &str) -> Option<ProcessSighting> {
    let key = ev.text(&format!("{prefix}ProcessGuid"))?;
    let image = ev.text(&format!("{prefix}Image")).unwrap_or_default();
    Some(ProcessSighting {
        key,
        pid: ev.int(&format!("{prefix}ProcessId")).unwrap_or(0) as i32,
        ppid: 0,
        parent_key: None,
        name: file_name(&image),
        executable: (!image.is_empty()).then_some(image),
        args: ev.text(&format!("{prefix}CommandLine")).map(|c| split_command_line(&c)),
        cwd: None,
        uid: None,
        user: ev.text(&format!("{prefix}User")),
    })
}

fn apply(model: &mut HostModel, ev: &Event) -> bool {
    if !ev.computer.is_empty() {
        model.set_host_name(&ev.computer);
    }
    match ev.id {
        1 => {
            let Some(mut child) = sighting(ev, "") else { return false };
            if let Some(parent) = sighting(ev, "Parent") {
                child.ppid = parent.pid;
                child.parent_key = Some(parent.key.clone());
                model.sighting(ev.at, &parent);
            }
            child.cwd = ev.text("CurrentDirectory");
            model.exec(ev.at, &child);
            true
        }
        3 => {
            let Some(who) = sighting(ev, "") else { return false };
            let end = |ip: &str, port: &str| -> Option<(IpAddr, u16)> {
                Some((ev.text(ip)?.parse::<IpAddr>().ok()?.to_canonical(), ev.int(port)?.try_into().ok()?))
            };
            let (Some(src), Some(dst)) =
                (end("SourceIp", "SourcePort"), end("DestinationIp", "DestinationPort"))
            else {
                return false;
            };
            let initiated = ev.text("Initiated").is_none_or(|s| s.eq_ignore_ascii_case("true"));
            let (local, remote) = if initiated { (src, dst) } else { (dst, src) };
            let transport = match ev.text("Protocol").as_deref() {
                Some(p) if p.eq_ignore_ascii_case("udp") => Transport::Udp,
                _ => Transport::Tcp,
            };
            model.sighting(ev.at, &who);
            model.socket(
                ev.at,
                &who.key,
                &SocketSighting { local: Some(local), remote, transport, fd: None },
            );
            true
        }
        _ => false,
    }
}

/// Reads a whole Sysmon log (EVTX or JSON).
pub fn read_file(path: &Path) -> Result<Vec<SourceRecord>> {
    let events = read_events(path)?;
    let mut model = HostModel::new("", &format!("sysmon:{}", path.display()));
    let used = events.iter().filter(|e| apply(&mut model, e)).count();
    tracing::info!(
        "{}: {} Sysmon events, {used} process creations and connections",
        path.display(),
        events.len()
    );
    Ok(model.take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_like_windows() {
        assert_eq!(
            split_command_line(r#""C:\Windows\system32\cmd.exe" /c "whoami /all"  x"#),
            [r"C:\Windows\system32\cmd.exe", "/c", "whoami /all", "x"]
        );
        assert_eq!(split_command_line(r#"a "" b"#), ["a", "", "b"]);
        assert!(split_command_line("   ").is_empty());
    }

    #[test]
    fn times_in_sysmon_and_rfc3339_form() {
        let t = parse_time("2026-12-01 21:06:22.217").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T21:06:22.217Z");
        assert_eq!(parse_time("2026-12-01T21:06:22.217Z"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn both_json_shapes_give_the_same_event() {
        let beat: Value = serde_json::json!({
            "@timestamp": "2026-12-01T21:06:22.300Z",
            "winlog": {"event_id": "3", "computer_name": "WEB01",
                       "event_data": {"ProcessGuid": "{g}", "ProcessId": "4242", "Image": "C:\\x\\powershell.exe",
                                      "SourceIp": "198.18.0.10", "SourcePort": "49812", "DestinationIp": "198.19.0.66",
                                      "DestinationPort": "4444", "Initiated": "true", "Protocol": "tcp",
                                      "UtcTime": "2026-12-01 21:06:22.217"}}
        });
        let evtx: Value = serde_json::json!({"Event": {"System": {"EventID": {"#text": 3}, "Computer": "WEB01"},
            "EventData": beat["winlog"]["event_data"].clone()}});
        for v in [&beat, &evtx] {
            let e = event(v).expect("an event");
            assert_eq!((e.id, e.computer.as_str(), e.int("ProcessId")), (3, "WEB01", Some(4242)));
            assert_eq!(e.at.to_rfc3339(), "2026-12-01T21:06:22.217Z");
        }
        assert!(event(&serde_json::json!({"message": "hello"})).is_none());
    }
}

#[cfg(test)]
mod sample_tests {
    use super::*;

    /// The `evtx` crate's published Sysmon sample (samples/sysmon.evtx, MIT/Apache-2.0),
    /// gzipped in tests/fixtures/sysmon (see fixtures/README.md).
    fn sample() -> std::path::PathBuf {
        let gz = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysmon/sysmon.evtx.gz");
        let out = std::process::Command::new("gzip").arg("-dc").arg(&gz).output().expect("gzip");
        assert!(out.status.success());
        let path = std::env::temp_dir().join(format!("ss-sysmon-{}.evtx", std::process::id()));
        std::fs::write(&path, out.stdout).unwrap();
        path
    }

    #[test]
    fn the_published_evtx_sample_gives_process_trees_and_connections() {
        let path = sample();
        let events = read_events(&path).expect("readable");
        let _ = std::fs::remove_file(&path);
        let count = |id| events.iter().filter(|e| e.id == id).count();
        assert_eq!((events.len(), count(1), count(3)), (358, 227, 2));
        let mut model = HostModel::new("", "sysmon:sample");
        for e in &events {
            apply(&mut model, e);
        }
        let sockets: Vec<_> = model
            .take()
            .into_iter()
            .filter_map(|r| match r {
                SourceRecord::Socket(s) => Some(s),
                _ => None,
            })
            .collect();
        let mut seen: Vec<(u16, u16)> = sockets.iter().map(|s| (s.source.port, s.destination.port)).collect();
        seen.dedup();
        assert_eq!(seen, [(59344, 443), (59345, 80)]);
        let last = sockets.last().unwrap();
        assert!(!last.host.name.is_empty(), "the Computer field names the host");
        assert_eq!(last.source.ip, "192.168.2.128".parse::<IpAddr>().unwrap());
        let p = last.process.as_ref().unwrap();
        assert_eq!(p.name, "installer.exe");
        let chain: Vec<&str> = p.ancestors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(chain, ["launcher.exe", "opera_autoupdate.exe", "launcher.exe", "svchost.exe"]);
        assert!(p.command_line.contains("installer.exe"), "{}", p.command_line);
        assert_eq!(last.socket.state, "ESTABLISHED");
    }
}
