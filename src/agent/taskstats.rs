//! Per-task exit statistics (generic netlink family `TASKSTATS`, registered for every
//! CPU): the kernel sends one message per exiting task, with its name, pid, parent and
//! user, before the parent can reap it. A typed `uname -a` may exit before the proc
//! connector's reader gets to /proc; this is how its exec is still named.
//!
//! Like `cnproc`, this needs `CAP_NET_ADMIN` in the initial network namespace; where the
//! family is missing (a kernel without `CONFIG_TASKSTATS`) `open` fails and such execs
//! stay unnamed. The syscalls are unsafe; parsing (`parse_exits`) is safe and pure.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// One task's exit, as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskExit {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    /// The name after its last exec (`comm`, at most 15 bytes).
    pub comm: String,
}

const NETLINK_GENERIC: i32 = 16;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const TASKSTATS_CMD_GET: u8 = 1;
const TASKSTATS_CMD_ATTR_REGISTER_CPUMASK: u16 = 3;
const TASKSTATS_TYPE_PID: u16 = 1;
const TASKSTATS_TYPE_STATS: u16 = 3;
const TASKSTATS_TYPE_AGGR_PID: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
const NLA_HDRLEN: usize = 4;
/// Offsets in `struct taskstats`, unchanged since version 1 (linux/taskstats.h).
const AC_COMM: usize = 80;
const TS_COMM_LEN: usize = 32;
const AC_UID: usize = 120;
const AC_PID: usize = 128;
const AC_PPID: usize = 132;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off + 2).map(|s| u16::from_ne_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4).map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// The netlink attributes in `b`, as (type, payload); stops at the first malformed one.
fn attributes(b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(b, off)?);
        let kind = u16_at(b, off + 2)? & 0x3fff; // without the nested/byte-order flags
        if len < NLA_HDRLEN {
            return None;
        }
        let payload = b.get(off + NLA_HDRLEN..off + len)?;
        off += (len + 3) & !3;
        Some((kind, payload))
    })
}

/// The netlink messages in one datagram, as (type, payload after the header).
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let len = u32_at(buf, off)? as usize;
        let kind = u16_at(buf, off + 4)?;
        if len < NLMSG_HDRLEN {
            return None;
        }
        let payload = buf.get(off + NLMSG_HDRLEN..off + len)?;
        off += (len + 3) & !3;
        Some((kind, payload))
    })
}

fn task_exit(stats: &[u8]) -> Option<TaskExit> {
    let comm = stats.get(AC_COMM..AC_COMM + TS_COMM_LEN)?;
    let comm = &comm[..comm.iter().position(|&c| c == 0).unwrap_or(comm.len())];
    Some(TaskExit {
        pid: u32_at(stats, AC_PID)? as i32,
        ppid: u32_at(stats, AC_PPID)? as i32,
        uid: u32_at(stats, AC_UID)?,
        comm: String::from_utf8_lossy(comm).into_owned(),
    })
}

/// Parses one datagram of taskstats messages into the tasks that exited. A thread's
/// exit is reported too (its own pid); a process's last thread adds its tgid's totals,
/// which are skipped, since the leader's own record names it.
pub fn parse_exits(buf: &[u8], family: u16) -> Vec<TaskExit> {
    let mut out = Vec::new();
    for (kind, payload) in messages(buf) {
        if kind != family {
            continue;
        }
        let Some(attrs) = payload.get(GENL_HDRLEN..) else { continue };
        for (kind, nested) in attributes(attrs) {
            if kind != TASKSTATS_TYPE_AGGR_PID {
                continue;
            }
            let mut pid = None;
            let mut exit = None;
            for (kind, value) in attributes(nested) {
                match kind {
                    TASKSTATS_TYPE_PID => pid = u32_at(value, 0),
                    TASKSTATS_TYPE_STATS => exit = task_exit(value),
                    _ => {} // TASKSTATS_TYPE_NULL padding on newer kernels
                }
            }
            if let (Some(pid), Some(mut exit)) = (pid, exit) {
                exit.pid = pid as i32;
                out.push(exit);
            }
        }
    }
    out
}

fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(NLA_HDRLEN + value.len() + 3);
    a.extend_from_slice(&((NLA_HDRLEN + value.len()) as u16).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(value);
    a.resize((a.len() + 3) & !3, 0);
    a
}

fn request(kind: u16, flags: u16, cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(NLMSG_HDRLEN + GENL_HDRLEN + attrs.len());
    m.extend_from_slice(&((NLMSG_HDRLEN + GENL_HDRLEN + attrs.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // the kernel fills in our port
    m.extend_from_slice(&[cmd, 1, 0, 0]); // genlmsghdr: cmd, version 1, reserved
    m.extend_from_slice(attrs);
    m
}

fn send(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `msg`, which outlives the call.
    let sent = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads one datagram into `buf`; returns its length.
pub fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, which the caller owns.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// The `NLMSG_ERROR` reply in `buf`, if any: Ok for an ack, else its errno.
fn check_reply(buf: &[u8]) -> Option<io::Result<()>> {
    messages(buf).find(|(kind, _)| *kind == NLMSG_ERROR).map(|(_, payload)| {
        match u32_at(payload, 0).map_or(0, |e| e as i32) {
            0 => Ok(()),
            errno => Err(io::Error::from_raw_os_error(-errno)),
        }
    })
}

/// A socket registered for the exits of tasks on every CPU, and the family id its
/// messages carry.
pub fn open() -> io::Result<(OwnedFd, u16)> {
    // SAFETY: plain socket(2) call with constant arguments; the result is checked.
    let raw =
        unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, NETLINK_GENERIC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a freshly created, valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // Every exit on the host comes through here: room for bursts (as root, past
    // rmem_max). Failure only means the default buffer.
    let size: libc::c_int = 4 << 20;
    // SAFETY: `size` is a valid c_int and the length passed is its size.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            std::ptr::addr_of!(size).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }

    let name = attribute(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0");
    send(&fd, &request(GENL_ID_CTRL, NLM_F_REQUEST, CTRL_CMD_GETFAMILY, &name))?;
    let mut buf = vec![0u8; 8192];
    let n = recv(&fd, &mut buf)?;
    check_reply(&buf[..n]).transpose()?;
    let family = messages(&buf[..n])
        .filter(|(kind, _)| *kind == GENL_ID_CTRL)
        .filter_map(|(_, p)| p.get(GENL_HDRLEN..))
        .flat_map(attributes)
        .find(|(kind, _)| *kind == CTRL_ATTR_FAMILY_ID)
        .and_then(|(_, v)| u16_at(v, 0))
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no TASKSTATS netlink family"))?;

    let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let mut mask = cpus.trim().as_bytes().to_vec();
    mask.push(0);
    let register = attribute(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, &mask);
    send(&fd, &request(family, NLM_F_REQUEST | NLM_F_ACK, TASKSTATS_CMD_GET, &register))?;
    // The ack is queued as the request is handled, possibly after an exit or two.
    for _ in 0..64 {
        let n = recv(&fd, &mut buf)?;
        if let Some(reply) = check_reply(&buf[..n]) {
            return reply.map(|()| (fd, family));
        }
    }
    Err(io::Error::new(io::ErrorKind::TimedOut, "no reply to the TASKSTATS registration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit_message(family: u16, pid: u32, ppid: u32, uid: u32, comm: &[u8]) -> Vec<u8> {
        let mut stats = vec![0u8; 416];
        stats[AC_COMM..AC_COMM + comm.len()].copy_from_slice(comm);
        stats[AC_UID..AC_UID + 4].copy_from_slice(&uid.to_ne_bytes());
        stats[AC_PID..AC_PID + 4].copy_from_slice(&pid.to_ne_bytes());
        stats[AC_PPID..AC_PPID + 4].copy_from_slice(&ppid.to_ne_bytes());
        let mut nested = attribute(TASKSTATS_TYPE_PID, &pid.to_ne_bytes());
        nested.extend(attribute(6, &[])); // TASKSTATS_TYPE_NULL
        nested.extend(attribute(TASKSTATS_TYPE_STATS, &stats));
        let mut attrs = attribute(TASKSTATS_TYPE_AGGR_PID | 0x8000, &nested);
        attrs.extend(attribute(5, &attribute(2, &pid.to_ne_bytes()))); // AGGR_TGID
        request(family, 0, 3, &attrs)
    }

    #[test]
    fn parses_exits_and_skips_other_families_and_garbage() {
        let mut buf = exit_message(0x1f, 4242, 100, 0, b"uname");
        buf.extend(exit_message(0x20, 1, 1, 1, b"other-family"));
        buf.extend(exit_message(0x1f, 4243, 4242, 1000, b"cat"));
        let exits = parse_exits(&buf, 0x1f);
        assert_eq!(
            exits,
            vec![
                TaskExit { pid: 4242, ppid: 100, uid: 0, comm: "uname".into() },
                TaskExit { pid: 4243, ppid: 4242, uid: 1000, comm: "cat".into() },
            ]
        );
        for cut in 0..buf.len() {
            assert!(parse_exits(&buf[..cut], 0x1f).len() <= 2);
        }
        assert!(parse_exits(&[0xff; 64], 0x1f).is_empty());
    }

    #[test]
    fn errors_in_replies_are_reported() {
        let mut m = Vec::new();
        m.extend_from_slice(&20u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&[0u8; 10]);
        m.extend_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(check_reply(&m).unwrap().unwrap_err().raw_os_error(), Some(libc::EPERM));
        m[16..20].copy_from_slice(&0i32.to_ne_bytes());
        assert!(check_reply(&m).unwrap().is_ok());
        assert!(check_reply(&m[..8]).is_none());
    }

    /// The kernel names a child that has already exited (needs CAP_NET_ADMIN and a
    /// kernel with taskstats; skipped otherwise).
    #[test]
    fn a_real_exit_is_reported() {
        let Ok((fd, family)) = open() else { return };
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        let mut child = child;
        child.wait().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..10_000 {
            let n = recv(&fd, &mut buf).unwrap();
            if let Some(e) = parse_exits(&buf[..n], family).into_iter().find(|e| e.pid == pid) {
                assert_eq!(e.comm, "true");
                assert_eq!(e.ppid, std::process::id() as i32);
                return;
            }
        }
        panic!("no exit reported for pid {pid}");
    }
}
