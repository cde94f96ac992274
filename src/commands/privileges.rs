//! `sensor --user NAME`: once the capture is open, become an unprivileged user. The
//! supplementary groups, then the gid, then the uid are set (in that order: each step
//! needs the privilege the next one removes); leaving uid 0 clears every capability, and
//! `no_new_privs` keeps the process from getting any back. The result is checked, not
//! assumed. One of the unsafe modules (libc calls only).
#![allow(unsafe_code)]

use crate::error::{Error, Result};
use std::ffi::CString;

/// The user's ids, from the password database.
struct Account {
    uid: libc::uid_t,
    gid: libc::gid_t,
}

fn lookup(name: &str) -> Result<Account> {
    let c = CString::new(name).map_err(|_| Error::usage(format!("--user {name:?}: not a user name")))?;
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to memory that lives for the call; the reentrant
    // variant writes only into `pw` and `buf`.
    let rc = unsafe { libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return Err(Error::usage(format!("--user {name}: no such user")));
    }
    Ok(Account { uid: pw.pw_uid, gid: pw.pw_gid })
}

/// Drops to `name` for good, or fails with a sentence saying which step did not work.
pub fn drop_to(name: &str) -> Result<()> {
    let account = lookup(name)?;
    if account.uid == 0 {
        return Err(Error::usage(format!("--user {name}: that is root; name an unprivileged user")));
    }
    let c = CString::new(name).map_err(|_| Error::usage("--user: not a user name"))?;
    let failed =
        |step: &str| Error::runtime(format!("--user {name}: {step}: {}", std::io::Error::last_os_error()));
    // SAFETY: plain system calls on integers and a valid C string.
    unsafe {
        if libc::initgroups(c.as_ptr(), account.gid) != 0 {
            return Err(failed("setting its groups"));
        }
        if libc::setgid(account.gid) != 0 {
            return Err(failed("setgid"));
        }
        if libc::setuid(account.uid) != 0 {
            return Err(failed("setuid"));
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(failed("no_new_privs"));
        }
        // Going back must be impossible now.
        if libc::setuid(0) == 0 {
            return Err(Error::runtime(format!("--user {name}: could become root again")));
        }
    }
    let caps = effective_capabilities();
    if caps != Some(0) {
        return Err(Error::runtime(format!("--user {name}: capabilities left after the switch: {caps:?}")));
    }
    tracing::info!("running as {name} (uid {}, gid {}), no capabilities", account.uid, account.gid);
    Ok(())
}

/// `CapEff` of this process, from /proc/self/status.
pub fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}
