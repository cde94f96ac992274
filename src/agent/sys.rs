//! `/proc/<pid>` access relative to a directory fd (`openat`, `readlinkat`,
//! `fdopendir`), so each file or link costs one path component lookup instead of a
//! full walk of `/proc/<pid>/...` (the kernel revalidates the pid at every walk).
//! With ~10 fds per process this is most of the fd walk's kernel time.
//!
//! One of the three unsafe modules (with `cnproc` and `taskstats`); everything it returns is
//! owned, safe data.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// An open directory.
#[derive(Debug)]
pub struct Dir(OwnedFd);

fn cstring(p: &[u8]) -> io::Result<CString> {
    CString::new(p).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

fn open_at(dirfd: libc::c_int, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid NUL-terminated string; the result is checked.
    let fd = unsafe { libc::openat(dirfd, name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by openat and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Dir {
    pub fn open(path: &Path) -> io::Result<Dir> {
        let c = cstring(path.as_os_str().as_bytes())?;
        open_at(libc::AT_FDCWD, &c, libc::O_RDONLY | libc::O_DIRECTORY).map(Dir)
    }

    pub fn open_dir(&self, name: &CStr) -> io::Result<Dir> {
        open_at(self.0.as_raw_fd(), name, libc::O_RDONLY | libc::O_DIRECTORY).map(Dir)
    }

    /// Reads a whole file below this directory into `buf` (cleared first).
    pub fn read(&self, name: &CStr, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        let fd = open_at(self.0.as_raw_fd(), name, libc::O_RDONLY)?;
        File::from(fd).read_to_end(buf).map(|_| ())
    }

    /// The target of a symbolic link below this directory.
    pub fn readlink(&self, name: &CStr) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 256];
        loop {
            // SAFETY: the pointer and length describe `buf`; `name` is NUL-terminated.
            let n = unsafe {
                libc::readlinkat(self.0.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n < buf.len() {
                buf.truncate(n);
                return Ok(buf);
            }
            if buf.len() >= 1 << 16 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "link target too long"));
            }
            buf.resize(buf.len() * 4, 0);
        }
    }

    /// `st_size` of this directory (for `/proc/<pid>/fd`: the number of open fds).
    pub fn size(&self) -> io::Result<u64> {
        let dup = self.0.try_clone()?;
        File::from(dup).metadata().map(|m| m.len())
    }

    /// Calls `f` with the name of each entry (without `.` and `..`).
    pub fn for_each_entry(&self, mut f: impl FnMut(&CStr)) -> io::Result<()> {
        let fd = self.0.try_clone()?;
        // SAFETY: fdopendir takes ownership of a valid directory fd we own (released
        // from the OwnedFd here); the DIR* is closed below, which closes the fd.
        let dirp = unsafe { libc::fdopendir(fd.into_raw_fd()) };
        if dirp.is_null() {
            return Err(io::Error::last_os_error());
        }
        // The duplicate shares the file offset with `self`: start from the beginning.
        // SAFETY: `dirp` is a valid, open DIR*.
        unsafe { libc::rewinddir(dirp) };
        loop {
            // SAFETY: `dirp` is valid; readdir returns null at the end or on error.
            let ent = unsafe { libc::readdir(dirp) };
            if ent.is_null() {
                break;
            }
            // SAFETY: `ent` points to a dirent valid until the next readdir call; its
            // d_name is NUL-terminated. The CStr does not outlive this iteration.
            let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
            let b = name.to_bytes();
            if b != b"." && b != b".." {
                f(name);
            }
        }
        // SAFETY: `dirp` is valid and closed exactly once.
        unsafe { libc::closedir(dirp) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc_entries() {
        let me = Dir::open(Path::new("/proc/self")).unwrap();
        let mut buf = Vec::new();
        me.read(c"stat", &mut buf).unwrap();
        assert!(buf.starts_with(std::process::id().to_string().as_bytes()));
        assert!(me.readlink(c"ns/net").unwrap().starts_with(b"net:["));
        let fd = me.open_dir(c"fd").unwrap();
        let mut names = Vec::new();
        fd.for_each_entry(|n| names.push(n.to_bytes().to_vec())).unwrap();
        assert!(names.iter().any(|n| n == b"0"));
        // Twice: the shared offset is rewound.
        let mut again = 0;
        fd.for_each_entry(|_| again += 1).unwrap();
        assert!(again >= names.len() - 1);
        assert!(me.read(c"no-such-file", &mut buf).is_err());
    }
}
