//! What the agent needs beyond an ordinary user's rights, checked at start so that a
//! unit or a pod that grants too little says so at once rather than reporting sockets
//! without their processes.

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
