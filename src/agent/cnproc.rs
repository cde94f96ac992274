//! The kernel proc connector (netlink `NETLINK_CONNECTOR`, `CN_IDX_PROC`): fork, exec
//! and exit events as they happen, so a shell that execs between two refreshes is
//! rescanned at once. Needs `CAP_NET_ADMIN` in the initial network namespace; where
//! that is missing `listen` fails and the agent goes on polling only.
//!
//! The only unsafe code of the crate is here: four syscalls on a raw netlink socket.
//! Message parsing (`parse_messages`) is safe and pure.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcEvent {
    Fork {
        parent: i32,
        child: i32,
    },
    /// A thread-group leader (or one of its threads) called execve; `pid` is the tgid.
    Exec {
        pid: i32,
    },
    /// A whole process exited (thread exits are dropped).
    Exit {
        pid: i32,
    },
    /// The socket buffer overflowed: events were dropped, caches may be stale.
    Lost,
}

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4).map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses one datagram of netlink messages carrying `proc_event`s.
pub fn parse_messages(buf: &[u8]) -> Vec<ProcEvent> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let Some(len) = u32_at(buf, off).map(|l| l as usize) else { break };
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            break;
        }
        let msg = &buf[off..off + len];
        // cn_msg header, then struct proc_event: what, cpu, timestamp_ns (u64), data.
        let ev = NLMSG_HDRLEN + CN_MSG_LEN;
        let data = ev + 16;
        if let Some(what) = u32_at(msg, ev) {
            let event = match what {
                PROC_EVENT_FORK => {
                    match (u32_at(msg, data + 4), u32_at(msg, data + 8), u32_at(msg, data + 12)) {
                        (Some(ptgid), Some(cpid), Some(ctgid)) if cpid == ctgid => {
                            Some(ProcEvent::Fork { parent: ptgid as i32, child: ctgid as i32 })
                        }
                        _ => None, // a new thread, not a process
                    }
                }
                PROC_EVENT_EXEC => u32_at(msg, data + 4).map(|tgid| ProcEvent::Exec { pid: tgid as i32 }),
                PROC_EVENT_EXIT => match (u32_at(msg, data), u32_at(msg, data + 4)) {
                    (Some(pid), Some(tgid)) if pid == tgid => Some(ProcEvent::Exit { pid: tgid as i32 }),
                    _ => None,
                },
                _ => None,
            };
            out.extend(event);
        }
        off += (len + 3) & !3;
    }
    out
}

/// Subscribes to the proc connector and forwards events from a background thread.
pub fn listen() -> io::Result<mpsc::Receiver<ProcEvent>> {
    // SAFETY: plain socket(2) call with constant arguments; the result is checked.
    let raw =
        unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, NETLINK_CONNECTOR) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a freshly created, valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };

    // SAFETY: sockaddr_nl is plain old data for which all-zero bytes are valid.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = CN_IDX_PROC;
    addr.nl_pid = 0;
    // SAFETY: `addr` is a valid sockaddr_nl and the length passed is its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            std::ptr::addr_of!(addr).cast::<libc::sockaddr>(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }

    let mut msg = Vec::with_capacity(NLMSG_HDRLEN + CN_MSG_LEN + 4);
    msg.extend_from_slice(&((NLMSG_HDRLEN + CN_MSG_LEN + 4) as u32).to_ne_bytes());
    msg.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
    msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&std::process::id().to_ne_bytes());
    msg.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    msg.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&0u32.to_ne_bytes()); // ack
    msg.extend_from_slice(&4u16.to_ne_bytes()); // len
    msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
    msg.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    // SAFETY: the pointer and length describe `msg`, which outlives the call.
    let sent = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }

    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new().name("cn_proc".into()).spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: the pointer and length describe `buf`, owned by this thread.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::ENOBUFS) => {
                        if tx.send(ProcEvent::Lost).is_err() {
                            return;
                        }
                        continue;
                    }
                    Some(libc::EINTR) => continue,
                    _ => {
                        tracing::warn!("proc connector stopped: {err}");
                        let _ = tx.send(ProcEvent::Lost);
                        return;
                    }
                }
            }
            for ev in parse_messages(&buf[..n as usize]) {
                if tx.send(ev).is_err() {
                    return;
                }
            }
        }
    })?;
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(what: u32, data: &[u32]) -> Vec<u8> {
        let mut m = Vec::new();
        let len = NLMSG_HDRLEN + CN_MSG_LEN + 16 + data.len() * 4;
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&[0u8; 12]);
        m.extend_from_slice(&[0u8; CN_MSG_LEN]);
        m.extend_from_slice(&what.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&0u64.to_ne_bytes());
        for d in data {
            m.extend_from_slice(&d.to_ne_bytes());
        }
        m
    }

    #[test]
    fn parses_fork_exec_exit_and_drops_threads() {
        let mut buf = message(PROC_EVENT_FORK, &[10, 10, 11, 11]);
        buf.extend(message(PROC_EVENT_FORK, &[10, 10, 12, 10])); // thread
        buf.extend(message(PROC_EVENT_EXEC, &[11, 11]));
        buf.extend(message(PROC_EVENT_EXIT, &[12, 10, 0, 17]));
        buf.extend(message(PROC_EVENT_EXIT, &[11, 11, 0, 17]));
        assert_eq!(
            parse_messages(&buf),
            vec![
                ProcEvent::Fork { parent: 10, child: 11 },
                ProcEvent::Exec { pid: 11 },
                ProcEvent::Exit { pid: 11 }
            ]
        );
        assert!(parse_messages(&buf[..20]).is_empty());
        assert!(parse_messages(&[]).is_empty());
    }
}
