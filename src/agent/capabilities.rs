//! What the agent needs beyond an ordinary user's rights, checked at start so that a
//! unit or a pod that grants too little says so at once rather than reporting sockets
//! without their processes.

use std::path::Path;

/// (capability number, name, what is lost without it).
const NEEDED: &[(u32, &str, &str)] = &[
    (2, "CAP_DAC_READ_SEARCH", "other users' /proc/<pid>/fd directories cannot be listed"),
    (
        19,
        "CAP_SYS_PTRACE",
        "other users' fd links, cwd and exe cannot be read: their sockets go unattributed",
    ),
    (12, "CAP_NET_ADMIN", "no proc connector nor taskstats: commands are seen at the next refresh only"),
    (23, "CAP_SYS_NICE", "the exec reader keeps normal priority: short commands may be named without argv"),
];

/// The needed capabilities this process lacks, with what each costs. Empty when the
/// effective set cannot be read (not Linux /proc), so nothing is claimed then.
pub fn missing() -> Vec<(&'static str, &'static str)> {
    let Some(effective) = effective() else { return Vec::new() };
    NEEDED.iter().filter(|(bit, _, _)| effective & (1u64 << bit) == 0).map(|(_, n, why)| (*n, *why)).collect()
}

fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    u64::from_str_radix(status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim(), 16).ok()
}

/// One line per missing capability on stderr.
pub fn warn_missing() {
    for (name, why) in missing() {
        eprintln!("shellsight agent: missing {name}: {why}");
    }
}

/// The inode of the initial pid namespace, fixed by the kernel (`PROC_PID_INIT_INO`).
const INIT_PID_NAMESPACE: u64 = 0xEFFF_FFFC;

/// Whether the pids under `proc_root` are the host's, the ones the proc connector
/// reports. False in a container with its own pid namespace and /proc, where an exec
/// event's pid would name nothing, or the wrong process. None when pid 1's namespace
/// cannot be read (a copied /proc, no ptrace right): nothing is claimed then.
pub fn proc_shows_host_pids(proc_root: &Path) -> Option<bool> {
    let link = std::fs::read_link(proc_root.join("1/ns/pid")).ok()?;
    Some(pid_namespace_inode(link.to_str()?)? == INIT_PID_NAMESPACE)
}

/// `pid:[4026531836]` → 4026531836.
fn pid_namespace_inode(link: &str) -> Option<u64> {
    link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_links_are_read_and_others_refused() {
        assert_eq!(pid_namespace_inode("pid:[4026531836]"), Some(INIT_PID_NAMESPACE));
        assert_eq!(pid_namespace_inode("pid:[4026532175]"), Some(4_026_532_175));
        assert_eq!(pid_namespace_inode("net:[4026531836]"), None);
        assert_eq!(pid_namespace_inode("pid:[]"), None);
    }
}
