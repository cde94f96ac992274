//! Pure parsers for the procfs files the agent reads. No file access here: every
//! function takes the file's content, so each can be unit-tested and fuzzed.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The fields of `/proc/<pid>/stat` the agent uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    /// `comm`: may hold spaces and parentheses, e.g. `(sd-pam)` or `a) b`.
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    /// Process group and session ids (fields 5 and 6).
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: u32,
    /// Clock ticks since boot at which the process started.
    pub starttime: u64,
}

/// Parses `/proc/<pid>/stat`. The comm field sits between the first `(` and the
/// *last* `)`, because the name itself may contain `)`.
pub fn parse_stat(s: &str) -> Option<Stat> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    if close < open {
        return None;
    }
    let pid = s[..open].trim().parse().ok()?;
    let comm = s[open + 1..close].to_string();
    // Fields after comm, numbered from 3 (state) as in proc(5).
    let mut rest = s[close + 1..].split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?; // 4
    let pgrp = rest.next()?.parse().ok()?; // 5
    let session = rest.next()?.parse().ok()?; // 6
    let tty_nr = rest.next()?.parse::<i64>().ok()? as u32; // 7
                                                           // Skip 8..=21 (14 fields) to reach 22 starttime.
    let starttime = rest.nth(14)?.parse().ok()?;
    Some(Stat { pid, comm, state, ppid, pgrp, session, tty_nr, starttime })
}

/// The fields of `/proc/<pid>/status` the agent uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub tgid: Option<i32>,
    /// Real uid.
    pub uid: Option<u32>,
    /// Effective uid.
    pub euid: Option<u32>,
}

pub fn parse_status(s: &str) -> Status {
    let mut st = Status::default();
    for line in s.lines() {
        if let Some(v) = line.strip_prefix("Tgid:") {
            st.tgid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("Uid:") {
            let mut it = v.split_ascii_whitespace();
            st.uid = it.next().and_then(|x| x.parse().ok());
            st.euid = it.next().and_then(|x| x.parse().ok());
        }
    }
    st
}

/// The most of one process's argv that is kept. A record carries the argv of its process
/// and of every ancestor, and some services have command lines of hundreds of kilobytes
/// (a Java classpath); what identifies a shell or a connector is at the start.
pub const ARGV_BUDGET: usize = 8 << 10;

/// Splits `/proc/<pid>/cmdline` (NUL-separated, usually NUL-terminated) into argv.
/// Invalid UTF-8 is replaced, not rejected. Past [`ARGV_BUDGET`] bytes the rest is cut,
/// and the last argument kept says how much: `…[cut 91234 bytes]`.
pub fn parse_cmdline(b: &[u8]) -> Vec<String> {
    // Processes that rewrite their title in place (php-fpm, postgres, nginx) leave the
    // rest of the old argv area as NULs: trailing empty arguments are not arguments.
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    let cut = end.saturating_sub(ARGV_BUDGET);
    let b = &b[..end - cut];
    if b.is_empty() {
        return Vec::new();
    }
    let mut args: Vec<String> =
        b.split(|&c| c == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    if cut > 0 {
        if let Some(last) = args.last_mut() {
            last.push_str(&format!("…[cut {cut} bytes]"));
        }
    }
    args
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine {
    pub hierarchy: u32,
    pub controllers: String,
    pub path: String,
}

pub fn parse_cgroup(s: &str) -> Vec<CgroupLine> {
    s.lines()
        .filter_map(|line| {
            let mut it = line.splitn(3, ':');
            let hierarchy = it.next()?.parse().ok()?;
            let controllers = it.next()?.to_string();
            let path = it.next()?.to_string();
            Some(CgroupLine { hierarchy, controllers, path })
        })
        .collect()
}

/// `socket:[12345]` → 12345 (the target of a `/proc/<pid>/fd/N` link).
pub fn parse_socket_link(s: &str) -> Option<u64> {
    s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// `/dev/pts/3` → 3 (an fd open on a pseudo-terminal's slave side). Inside a container
/// the path is the container's own devpts, so the index is only meaningful together with
/// the mount namespace.
pub fn parse_pts_link(s: &str) -> Option<u32> {
    s.strip_prefix("/dev/pts/")?.parse().ok()
}

/// An fd open on the pseudo-terminal multiplexer: a pty's master side.
pub fn is_ptmx_link(s: &str) -> bool {
    s == "/dev/ptmx" || s == "/dev/pts/ptmx"
}

/// `tty-index` of `/proc/<pid>/fdinfo/<fd>` for a ptmx fd (Linux ≥ 4.19): the number of
/// the slave (`/dev/pts/N`) this master drives.
pub fn parse_fdinfo_tty_index(s: &str) -> Option<u32> {
    s.lines().find_map(|l| l.strip_prefix("tty-index:")).and_then(|v| v.trim().parse().ok())
}

/// `net:[4026531840]` → 4026531840 (the target of `/proc/<pid>/ns/net`).
pub fn parse_ns_link(s: &str) -> Option<u64> {
    let (_, rest) = s.split_once(":[")?;
    rest.strip_suffix(']')?.parse().ok()
}

/// `btime` (boot time, unix seconds) from `/proc/stat`.
pub fn parse_btime(s: &str) -> Option<u64> {
    s.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

/// `/etc/passwd` → uid → user name. The first entry for a uid wins.
pub fn parse_passwd(s: &str) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    for line in s.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut it = line.split(':');
        let (Some(name), Some(_pw), Some(uid)) = (it.next(), it.next(), it.next()) else { continue };
        if let Ok(uid) = uid.parse() {
            map.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    map
}

/// Splits the target of `/proc/<pid>/exe` into the path and whether it was deleted.
pub fn parse_exe_link(s: &str) -> (String, bool) {
    match s.strip_suffix(" (deleted)") {
        Some(p) => (p.to_string(), true),
        None => (s.to_string(), false),
    }
}

/// Names the terminal from `tty_nr` (stat field 7): `pts/N`, `ttyN`, `ttySN`, or None.
pub fn tty_name(tty_nr: u32) -> Option<String> {
    if tty_nr == 0 {
        return None;
    }
    // Linux dev_t encoding: major = bits 8..19, minor = bits 0..7 and 20..31.
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    Some(match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 1 => "console".to_string(),
        _ => format!("{major}:{minor}"),
    })
}

/// One row of `/proc/<pid>/net/{tcp,tcp6,udp,udp6}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetLine {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Kernel state number (`TCP_ESTABLISHED` = 1, ... `TCP_LISTEN` = 10).
    pub state: u8,
    pub uid: u32,
    /// 0 for sockets without a file (TIME_WAIT, request sockets).
    pub inode: u64,
}

/// Parses one data line of a `/proc/net/{tcp,udp}{,6}` table; None for the header or
/// a malformed line. Addresses are the kernel's `__be32` words printed as native-endian
/// hex; ports are host-order hex.
pub fn parse_net_line(line: &str) -> Option<NetLine> {
    let mut it = line.split_ascii_whitespace();
    let sl = it.next()?;
    if !sl.ends_with(':') {
        return None; // header
    }
    let local = parse_hex_sockaddr(it.next()?)?;
    let remote = parse_hex_sockaddr(it.next()?)?;
    let state = u8::from_str_radix(it.next()?, 16).ok()?;
    // tx:rx, tr:when, retrnsmt
    let mut it = it.skip(3);
    let uid = it.next()?.parse().ok()?;
    let _timeout = it.next()?;
    let inode = it.next()?.parse().ok()?;
    Some(NetLine { local, remote, state, uid, inode })
}

fn parse_hex_sockaddr(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(addr, 16).ok()?.to_ne_bytes())),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                // `get`, not indexing: a non-ASCII byte may sit across a word boundary.
                let word = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The per-namespace socket counts of `/proc/<pid>/net/sockstat{,6}`: the `inuse`
/// figure of each TCP/UDP line (the other fields are global or churn with TIME_WAIT).
/// Equal signatures between two refreshes mean no socket was hashed or unhashed in that
/// namespace, bar an open and a close that cancel out.
pub fn sockstat_signature(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for line in s.lines() {
        let Some((proto, rest)) = line.split_once(':') else { continue };
        if !matches!(proto, "TCP" | "UDP" | "TCP6" | "UDP6" | "UDPLITE" | "UDPLITE6" | "RAW" | "RAW6") {
            continue;
        }
        let mut it = rest.split_ascii_whitespace();
        while let Some(k) = it.next() {
            let v = it.next().and_then(|v| v.parse().ok());
            if let (Some(v), "inuse") = (v, k) {
                out.push((proto.to_string(), v));
            }
        }
    }
    out
}

/// Kernel TCP state names, as `ss` prints them (uppercase with underscores).
pub fn tcp_state_name(state: u8) -> &'static str {
    match state {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `procfs` fuzz target: a 32-character address whose word boundary
    /// falls inside a multi-byte character panicked on slicing.
    #[test]
    fn a_v6_address_with_a_multibyte_char_is_malformed_not_a_panic() {
        let line = "  0: 0500000\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}A:0016 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 1234";
        assert!(parse_net_line(line).is_none());
    }

    const STAT_BASH: &str = "4242 (bash) S 4200 4242 4200 34816 4242 4194304 1234 0 0 0 3 1 0 0 20 0 1 0 987654 9146368 1203 18446744073709551615 1 1 0 0 0 0 65536 3670020 1266777851 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn stat_plain() {
        let s = parse_stat(STAT_BASH).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "bash");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 4200);
        assert_eq!((s.pgrp, s.session), (4242, 4200));
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.starttime, 987654);
        assert_eq!(tty_name(s.tty_nr).as_deref(), Some("pts/0"));
    }

    #[test]
    fn stat_comm_with_parens_and_spaces() {
        let s =
            parse_stat("1337 ((sd-pam)) S 1336 1336 1336 0 -1 1077936448 47 0 0 0 0 0 0 0 20 0 1 0 555 0 0")
                .unwrap();
        assert_eq!(s.comm, "(sd-pam)");
        assert_eq!(s.ppid, 1336);
        assert_eq!(s.starttime, 555);
        assert_eq!(s.tty_nr, 0);
        assert_eq!(tty_name(s.tty_nr), None);

        let s = parse_stat("77 (a) b) R 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12 0 0").unwrap();
        assert_eq!(s.comm, "a) b");
        assert_eq!(s.state, 'R');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.starttime, 12);

        let s = parse_stat("9 (x y z (1)) Z 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4 0 0").unwrap();
        assert_eq!(s.comm, "x y z (1)");
        assert_eq!(s.state, 'Z');
    }

    #[test]
    fn stat_rejects_truncated() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("12 (bash"), None);
        assert_eq!(parse_stat("12 (bash) S 1 2"), None);
    }

    #[test]
    fn status_uids_and_tgid() {
        let s = "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t4200\nUid:\t1000\t1001\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n";
        let st = parse_status(s);
        assert_eq!(st.tgid, Some(4242));
        assert_eq!(st.uid, Some(1000));
        assert_eq!(st.euid, Some(1001));
        assert_eq!(parse_status("garbage"), Status::default());
    }

    #[test]
    fn cmdline_splits_on_nul() {
        assert_eq!(parse_cmdline(b"bash\0-c\0sleep 5; wait\0"), vec!["bash", "-c", "sleep 5; wait"]);
        assert_eq!(parse_cmdline(b"nginx: worker process"), vec!["nginx: worker process"]);
        assert_eq!(parse_cmdline(b"a\0\0b\0"), vec!["a", "", "b"]);
        assert_eq!(parse_cmdline(b"php-fpm: pool www\0\0\0\0\0\0"), vec!["php-fpm: pool www"]);
        assert!(parse_cmdline(b"").is_empty());
        assert_eq!(parse_cmdline(b"x\xff\0"), vec!["x\u{fffd}"]);
    }

    #[test]
    fn a_huge_cmdline_is_cut_at_the_budget_and_says_so() {
        let mut b = b"java\0-cp\0".to_vec();
        b.extend(std::iter::repeat_n(b'a', 3 * ARGV_BUDGET));
        b.extend(b"\0com.example.Main\0");
        let args = parse_cmdline(&b);
        assert_eq!(&args[..2], ["java", "-cp"]);
        assert_eq!(args.len(), 3, "the arguments past the budget are dropped");
        let cut = b.len() - 1 - ARGV_BUDGET;
        assert!(args[2].ends_with(&format!("…[cut {cut} bytes]")), "{} bytes", args[2].len());
        assert_eq!(
            args.iter().map(|a| a.len()).sum::<usize>() + 2,
            ARGV_BUDGET + format!("…[cut {cut} bytes]").len()
        );
    }

    #[test]
    fn cgroup_v1_and_v2() {
        let v2 = "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c_3d.slice/cri-containerd-abc.scope\n";
        let l = parse_cgroup(v2);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].hierarchy, 0);
        assert_eq!(l[0].controllers, "");
        assert!(l[0].path.ends_with("cri-containerd-abc.scope"));
        let v1 = "12:pids:/docker/0123\n11:cpu,cpuacct:/docker/0123\n1:name=systemd:/docker/0123\n";
        let l = parse_cgroup(v1);
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].controllers, "cpu,cpuacct");
        assert_eq!(l[2].controllers, "name=systemd");
        assert_eq!(l[2].path, "/docker/0123");
    }

    #[test]
    fn links() {
        assert_eq!(parse_socket_link("socket:[123456]"), Some(123456));
        assert_eq!(parse_socket_link("pipe:[123456]"), None);
        assert_eq!(parse_socket_link("/dev/null"), None);
        assert_eq!(parse_ns_link("net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link("net:[]"), None);
        assert_eq!(parse_exe_link("/usr/bin/bash"), ("/usr/bin/bash".into(), false));
        assert_eq!(parse_exe_link("/tmp/x (deleted)"), ("/tmp/x".into(), true));
        assert_eq!(parse_pts_link("/dev/pts/12"), Some(12));
        assert_eq!(parse_pts_link("/dev/pts/ptmx"), None);
        assert_eq!(parse_pts_link("/dev/tty1"), None);
        assert!(is_ptmx_link("/dev/ptmx") && is_ptmx_link("/dev/pts/ptmx") && !is_ptmx_link("/dev/pts/1"));
        let fdinfo = "pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t91\ntty-index:\t7\n";
        assert_eq!(parse_fdinfo_tty_index(fdinfo), Some(7));
        assert_eq!(parse_fdinfo_tty_index("pos:\t0\n"), None);
    }

    #[test]
    fn btime_and_passwd() {
        assert_eq!(parse_btime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), Some(1_700_000_000));
        assert_eq!(parse_btime("cpu 1"), None);
        let p = parse_passwd("# comment\nroot:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nbad line\n");
        assert_eq!(p.get(&0).map(String::as_str), Some("root"));
        assert_eq!(p.get(&33).map(String::as_str), Some("www-data"));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn tty_names() {
        assert_eq!(tty_name(0x8803).as_deref(), Some("pts/3"));
        assert_eq!(tty_name((4 << 8) | 1).as_deref(), Some("tty1"));
        assert_eq!(tty_name((4 << 8) | 65).as_deref(), Some("ttyS1"));
        // pts/300: major 137, minor 44.
        assert_eq!(tty_name((137 << 8) | 44).as_deref(), Some("pts/300"));
    }

    #[test]
    fn sockstat_keeps_inuse_only() {
        let a = "sockets: used 1234\nTCP: inuse 10 orphan 0 tw 50 alloc 12 mem 3\nUDP: inuse 2 mem 1\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n";
        let b = "sockets: used 1300\nTCP: inuse 10 orphan 1 tw 80 alloc 19 mem 9\nUDP: inuse 2 mem 4\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n";
        assert_eq!(sockstat_signature(a), sockstat_signature(b));
        assert_eq!(sockstat_signature(a)[0], ("TCP".to_string(), 10));
        let c = a.replace("TCP: inuse 10", "TCP: inuse 11");
        assert_ne!(sockstat_signature(a), sockstat_signature(&c));
        let v6 = "TCP6: inuse 3\nUDP6: inuse 1\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n";
        assert_eq!(sockstat_signature(v6).len(), 4);
    }

    #[test]
    fn tcp4_lines() {
        let hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
        assert_eq!(parse_net_line(hdr), None);
        let l = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 37415 1 0000000000000000 100 0 0 10 0";
        let n = parse_net_line(l).unwrap();
        assert_eq!(n.local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(n.remote, "0.0.0.0:0".parse().unwrap());
        assert_eq!(n.state, 10);
        assert_eq!(tcp_state_name(n.state), "LISTEN");
        assert_eq!(n.uid, 0);
        assert_eq!(n.inode, 37415);
        let l = "   5: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 99887 1 0000000000000000 20 4 30 10 -1";
        let n = parse_net_line(l).unwrap();
        assert_eq!(n.local.port(), 0xA1B2);
        assert_eq!(n.remote, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(n.uid, 1000);
        assert_eq!(tcp_state_name(n.state), "ESTABLISHED");
        // TIME_WAIT: no inode.
        let l = "  12: 0101A8C0:C350 08080808:0035 06 00000000:00000000 03:000016F1 00000000     0        0 0 3 0000000000000000";
        let n = parse_net_line(l).unwrap();
        assert_eq!(n.local, "192.168.1.1:50000".parse().unwrap());
        assert_eq!(n.remote, "8.8.8.8:53".parse().unwrap());
        assert_eq!(n.inode, 0);
    }

    #[test]
    fn tcp6_and_udp_lines() {
        let l = "   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22069 1 0000000000000000 100 0 0 10 0";
        let n = parse_net_line(l).unwrap();
        assert_eq!(n.local, "[::1]:22".parse().unwrap());
        assert_eq!(n.remote, "[::]:0".parse().unwrap());
        // v4-mapped ::ffff:127.0.0.1 and a global address 2001:db8::1.
        let l = "   1: 0000000000000000FFFF00000100007F:D431 B80D0120000000000000000001000000:01BB 01 00000000:00000000 02:000A0B7B 00000000  1000        0 51234 2 0000000000000000 20 4 0 10 -1";
        let n = parse_net_line(l).unwrap();
        assert_eq!(n.local, "[::ffff:127.0.0.1]:54321".parse().unwrap());
        assert_eq!(n.remote, "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(n.inode, 51234);
        let udp = "  245: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 19876 2 0000000000000000 0";
        let n = parse_net_line(udp).unwrap();
        assert_eq!(n.local, "127.0.0.53:53".parse().unwrap());
        assert_eq!(n.uid, 101);
        assert_eq!(tcp_state_name(n.state), "CLOSE");
        assert_eq!(parse_net_line("   0: 0100007F:ZZZZ 00000000:0000 0A 0 0 0 0 0 1"), None);
        assert_eq!(parse_net_line("   0: 0100:0016 00000000:0000 0A 0 0 0 0 0 1"), None);
    }
}
