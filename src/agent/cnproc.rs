//! The kernel proc connector (netlink `NETLINK_CONNECTOR`, `CN_IDX_PROC`): fork, exec
//! and exit events as they happen, so a shell that execs between two refreshes is
//! rescanned at once. Needs `CAP_NET_ADMIN` in the initial network namespace; where
//! that is missing `listen` fails and the agent goes on polling only.
//!
//! Unsafe code lives here, in `taskstats` and in `sys`: a few syscalls on raw netlink sockets.
//! Message parsing (`parse_messages`) is safe and pure.
#![allow(unsafe_code)]

use super::exec::ExecImage;
use super::taskstats;
use crate::time::Timestamp;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcEvent {
    Fork {
        parent: i32,
        child: i32,
    },
    /// A thread-group leader (or one of its threads) called execve; `pid` is the tgid.
    /// `image` is what the listener's capture read right away (None if it was gone).
    /// A missed exec comes again once its exit report names it, with an image that has
    /// its name, parent and user but no argv.
    Exec {
        pid: i32,
        image: Option<Box<ExecImage>>,
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
                PROC_EVENT_EXEC => {
                    u32_at(msg, data + 4).map(|tgid| ProcEvent::Exec { pid: tgid as i32, image: None })
                }
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

/// Subscribes to the proc connector and forwards events from a background thread, which
/// calls `capture` on each exec before forwarding it (the process may be gone soon).
pub fn listen(
    capture: impl Fn(i32) -> Option<ExecImage> + Send + 'static,
) -> io::Result<mpsc::Receiver<ProcEvent>> {
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

    // Execs whose process was gone before `capture` could read it wait here for their
    // exit report, which names them.
    let exits = match taskstats::open() {
        Ok(ts) => Some(ts),
        Err(e) => {
            tracing::warn!(
                "task exit reports unavailable ({e}); a command that exits at once may go unnamed"
            );
            None
        }
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new().name("cn_proc".into()).spawn(move || {
        // The capture races the process it reads: a typed `uname -a` is gone within a
        // millisecond or two, `nc -e` execs the shell sooner. This thread does little
        // per event (a few small /proc reads) and sleeps in poll otherwise, so it runs
        // at the lowest real-time priority to be scheduled at once on a busy host (the
        // kernel's real-time throttling still bounds it); failing that, at nice -20.
        // Both need CAP_SYS_NICE; without it the thread keeps the default priority, and
        // the exit reports name what it missed.
        // SAFETY: plain syscalls on this thread's own id with a valid sched_param;
        // failure is harmless.
        unsafe {
            let param = libc::sched_param { sched_priority: 1 };
            if libc::sched_setscheduler(0, libc::SCHED_RR, &param) != 0 {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, tid, -20);
            }
        }
        let mut reader = Reader { events: fd, exits, missed: HashMap::new(), buf: vec![0u8; 64 * 1024] };
        while reader.step(&capture, &tx) {}
    })?;
    Ok(rx)
}

/// How long a missed exec waits for its exit report.
const MISSED_EXEC_TTL: Duration = Duration::from_secs(5);
/// Bounds the missed execs kept (a fork bomb of instant exits must not grow it).
const MISSED_EXECS_MAX: usize = 4096;

struct Reader {
    events: OwnedFd,
    /// The taskstats socket and its family id.
    exits: Option<(OwnedFd, u16)>,
    /// pid → when its exec was seen, for execs whose capture found the process gone.
    missed: HashMap<i32, (Timestamp, Instant)>,
    buf: Vec<u8>,
}

impl Reader {
    /// Waits for and forwards one batch of events; false once it should stop.
    fn step(&mut self, capture: &impl Fn(i32) -> Option<ExecImage>, tx: &mpsc::Sender<ProcEvent>) -> bool {
        let mut fds = [
            libc::pollfd { fd: self.events.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd {
                fd: self.exits.as_ref().map_or(-1, |(f, _)| f.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of pollfd of the length passed (a negative fd
        // is ignored by poll).
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 1000) };
        if rc < 0 {
            return io::Error::last_os_error().raw_os_error() == Some(libc::EINTR);
        }
        if fds[0].revents != 0 && !self.read_events(capture, tx) {
            return false;
        }
        if fds[1].revents != 0 && !self.read_exits(tx) {
            return false;
        }
        let now = Instant::now();
        self.missed.retain(|_, (_, seen)| now.duration_since(*seen) < MISSED_EXEC_TTL);
        true
    }

    fn read_events(
        &mut self,
        capture: &impl Fn(i32) -> Option<ExecImage>,
        tx: &mpsc::Sender<ProcEvent>,
    ) -> bool {
        // SAFETY: the pointer and length describe `buf`, owned by this reader.
        let n = unsafe {
            libc::recv(
                self.events.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::ENOBUFS) => tx.send(ProcEvent::Lost).is_ok(),
                Some(libc::EINTR | libc::EAGAIN) => true,
                _ => {
                    tracing::warn!("proc connector stopped: {err}");
                    let _ = tx.send(ProcEvent::Lost);
                    false
                }
            };
        }
        for mut ev in parse_messages(&self.buf[..n as usize]) {
            if let ProcEvent::Exec { pid, image } = &mut ev {
                *image = capture(*pid).map(Box::new);
                if image.is_none() && self.exits.is_some() && self.missed.len() < MISSED_EXECS_MAX {
                    self.missed.insert(*pid, (Timestamp::wall_clock(), Instant::now()));
                }
            }
            if tx.send(ev).is_err() {
                return false;
            }
        }
        true
    }

    /// Names the missed execs among the exits reported, and forwards them.
    fn read_exits(&mut self, tx: &mpsc::Sender<ProcEvent>) -> bool {
        let Some((fd, family)) = &self.exits else { return true };
        let n = match taskstats::recv(fd, &mut self.buf) {
            Ok(n) => n,
            // ENOBUFS: reports were dropped; the missed execs they named stay unnamed.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::EINTR | libc::EAGAIN)) => {
                return true
            }
            Err(e) => {
                tracing::warn!("task exit reports stopped: {e}");
                self.exits = None;
                return true;
            }
        };
        if self.missed.is_empty() {
            return true;
        }
        for exit in taskstats::parse_exits(&self.buf[..n], *family) {
            let Some((at, _)) = self.missed.remove(&exit.pid) else { continue };
            let image = ExecImage::from_exit(exit, at);
            if tx.send(ProcEvent::Exec { pid: image.pid, image: Some(Box::new(image)) }).is_err() {
                return false;
            }
        }
        true
    }
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
                ProcEvent::Exec { pid: 11, image: None },
                ProcEvent::Exit { pid: 11 }
            ]
        );
        assert!(parse_messages(&buf[..20]).is_empty());
        assert!(parse_messages(&[]).is_empty());
    }
}
