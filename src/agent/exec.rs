//! What a process became at exec, read at once: the proc connector's thread calls
//! [`capture`] as each exec event arrives, because a command typed into a shell (`id`,
//! `uname -a`) may exit a millisecond later, long before the next refresh.

use super::procfs;
use super::sys;
use super::taskstats::TaskExit;
use crate::time::Timestamp;
use std::path::Path;

/// What fds 0-2 of a process point at, when it matters for wiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioTarget {
    /// A socket (its inode).
    Socket(u64),
    /// A pty slave, `/dev/pts/N`.
    Pty(u32),
}

impl StdioTarget {
    pub fn from_link(target: &str) -> Option<StdioTarget> {
        procfs::parse_socket_link(target)
            .map(StdioTarget::Socket)
            .or_else(|| procfs::parse_pts_link(target).map(StdioTarget::Pty))
    }
}

/// One exec as captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecImage {
    pub pid: i32,
    pub at: Timestamp,
    pub name: String,
    pub ppid: i32,
    pub starttime: u64,
    pub args: Vec<String>,
    /// Read only when the stdio is wired (a socket or a pty): the rest is kept for
    /// `exec_from` only, which needs the name and argv.
    pub exe: Option<String>,
    pub uid: Option<u32>,
    pub stdio: [Option<StdioTarget>; 3],
    /// None of fds 0-2 could be read: the process was exiting (its files go after its
    /// argv). A command inherits its shell's stdio, so the parent's stands in.
    pub stdio_unread: bool,
}

impl ExecImage {
    /// A process that exited before its exec could be read, as its exit report names
    /// it: no argv, and its stdio is its parent's (a command inherits its shell's).
    pub fn from_exit(exit: TaskExit, at: Timestamp) -> ExecImage {
        ExecImage {
            pid: exit.pid,
            at,
            name: exit.comm,
            ppid: exit.ppid,
            starttime: 0,
            args: Vec::new(),
            exe: None,
            uid: Some(exit.uid),
            stdio: [None; 3],
            stdio_unread: true,
        }
    }

    /// fds 0-2 include a socket or a pty (or were gone): the exec may be a command run
    /// over a socket.
    pub fn wired(&self) -> bool {
        self.stdio_unread || self.stdio.iter().any(Option::is_some)
    }
}

/// Reads the argv, name, parent and stdio of `pid` right after it exec'd; None when it
/// is already gone. The argv comes first: a short command may be exiting already, and
/// its argv is gone before its fds. An empty argv means it came too late for it.
pub fn capture(proc_root: &Path, pid: i32, at: Timestamp) -> Option<ExecImage> {
    let dir = sys::Dir::open(&proc_root.join(pid.to_string())).ok()?;
    let mut buf = Vec::with_capacity(512);
    dir.read(c"cmdline", &mut buf).ok()?;
    let args = procfs::parse_cmdline(&buf);
    let mut stdio = [None; 3];
    let mut unread = 0;
    for (fd, name) in [c"fd/0", c"fd/1", c"fd/2"].into_iter().enumerate() {
        match dir.readlink(name) {
            Ok(t) => stdio[fd] = std::str::from_utf8(&t).ok().and_then(StdioTarget::from_link),
            Err(_) => unread += 1,
        }
    }
    dir.read(c"stat", &mut buf).ok()?;
    let stat = procfs::parse_stat(&String::from_utf8_lossy(&buf))?;
    let mut image = ExecImage {
        pid,
        at,
        name: stat.comm,
        ppid: stat.ppid,
        starttime: stat.starttime,
        args,
        exe: None,
        uid: None,
        stdio,
        stdio_unread: unread == 3,
    };
    if image.wired() {
        if dir.read(c"status", &mut buf).is_ok() {
            image.uid = procfs::parse_status(&String::from_utf8_lossy(&buf)).uid;
        }
        if let Ok(t) = dir.readlink(c"exe") {
            image.exe = Some(procfs::parse_exe_link(&String::from_utf8_lossy(&t)).0);
        }
    }
    Some(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdio_targets_from_links() {
        assert_eq!(StdioTarget::from_link("socket:[42]"), Some(StdioTarget::Socket(42)));
        assert_eq!(StdioTarget::from_link("/dev/pts/3"), Some(StdioTarget::Pty(3)));
        assert_eq!(StdioTarget::from_link("/dev/null"), None);
        assert_eq!(StdioTarget::from_link("pipe:[7]"), None);
    }

    #[test]
    fn captures_this_process() {
        let me = std::process::id() as i32;
        let img = capture(Path::new("/proc"), me, Timestamp::ZERO).expect("own /proc entry");
        assert_eq!(img.pid, me);
        assert!(!img.args.is_empty());
        assert!(!img.name.is_empty());
        assert!(capture(Path::new("/proc"), i32::MAX, Timestamp::ZERO).is_none());
    }
}
