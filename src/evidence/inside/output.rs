//! What command output looks like, line by line: `id`'s `uid=…(…) gid=`, `/etc/passwd`
//! and shadow lines, `ls -l` and `dir` listings, `ps` and `tasklist` tables, `uname -a`,
//! `ipconfig`/`ifconfig`/`ip addr`, `net user`/`net localgroup`, `systeminfo`, `netstat`,
//! `env`, hosts files; and the one-line answers of `whoami`, `hostname` and `pwd`, which
//! only mean something in a short answer to that very command. The formats are the tools'
//! own (coreutils, procps, net-tools, iproute2, Windows' cmd.exe utilities, English
//! locale); nothing here is tuned to any one capture.

/// One kind of command output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// `uid=33(www-data) gid=33(www-data)`.
    Uid = 0,
    /// `/etc/passwd` or shadow lines.
    Passwd,
    /// `ls -l` lines (`drwxr-xr-x 2 root root …`) or `total N`.
    Listing,
    /// cmd.exe `dir`: ` Volume in drive C`, ` Directory of C:\…`, `<DIR>` lines.
    WinDir,
    /// `ps` or `tasklist` tables.
    Processes,
    /// `uname -a`: `Linux host 6.1.0-… #1 SMP … GNU/Linux`.
    Uname,
    /// `ipconfig`, `ifconfig`, `ip addr`.
    Interfaces,
    /// `net user`, `net localgroup`: `User accounts for \\HOST`, `Alias name`.
    Accounts,
    /// `systeminfo`: `Host Name:`, `OS Name:`.
    SystemInfo,
    /// `netstat`, `ss`.
    Sockets,
    /// `env`/`set`: several `NAME=value` lines with the usual names.
    Environment,
    /// A hosts file: `127.0.0.1 localhost`.
    Hosts,
    /// A short answer naming a service account or a `domain\user` (`www-data`,
    /// `nt authority\system`, `iis apppool\defaultapppool`): `whoami` on a server.
    ServiceIdentity,
    /// A short one-word answer that could be a user name.
    Identity,
    /// A short one-word answer that could be a host name.
    HostName,
    /// A short answer that is one absolute path (`pwd`, cmd's `cd`).
    Path,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Uid => "id",
            Kind::Passwd => "passwd",
            Kind::Listing => "listing",
            Kind::WinDir => "dir",
            Kind::Processes => "processes",
            Kind::Uname => "uname",
            Kind::Interfaces => "interfaces",
            Kind::Accounts => "accounts",
            Kind::SystemInfo => "systeminfo",
            Kind::Sockets => "sockets",
            Kind::Environment => "environment",
            Kind::Hosts => "hosts",
            Kind::ServiceIdentity => "service-identity",
            Kind::Identity => "identity",
            Kind::HostName => "hostname",
            Kind::Path => "path",
        }
    }

    /// Output that only a command prints (not a one-word answer that anything could give).
    pub fn strong(self) -> bool {
        !matches!(self, Kind::Identity | Kind::HostName | Kind::Path)
    }
}

/// A set of kinds, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kinds(u32);

impl Kinds {
    pub fn insert(&mut self, k: Kind) {
        self.0 |= 1 << k as u8;
    }
    pub fn contains(self, k: Kind) -> bool {
        self.0 & (1 << k as u8) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn and(self, o: Kinds) -> Kinds {
        Kinds(self.0 & o.0)
    }
    pub fn or(self, o: Kinds) -> Kinds {
        Kinds(self.0 | o.0)
    }
    pub fn of(kinds: &[Kind]) -> Kinds {
        let mut s = Kinds::default();
        for k in kinds {
            s.insert(*k);
        }
        s
    }
    /// The members, strongest (lowest numbered) first.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        ALL.iter().copied().filter(move |k| self.contains(*k))
    }
}

const ALL: [Kind; 16] = [
    Kind::Uid,
    Kind::Passwd,
    Kind::Listing,
    Kind::WinDir,
    Kind::Processes,
    Kind::Uname,
    Kind::Interfaces,
    Kind::Accounts,
    Kind::SystemInfo,
    Kind::Sockets,
    Kind::Environment,
    Kind::Hosts,
    Kind::ServiceIdentity,
    Kind::Identity,
    Kind::HostName,
    Kind::Path,
];

/// What a text held: the kinds of output, and how much of it is output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub kinds: Kinds,
    /// Lines that are output of one of the kinds.
    pub output_lines: u32,
    /// Lines that are not blank.
    pub lines: u32,
}

impl Summary {
    /// Most of the text is output: what a webshell's answer is (a page that quotes a
    /// command's output among its prose and navigation is not). Short texts pass.
    pub fn mostly_output(&self) -> bool {
        self.lines <= 15 || self.output_lines * 10 >= self.lines * 3
    }
}

/// Lines read at most (a long answer is judged on its start).
const MAX_LINES: usize = 400;
/// A short answer: at most this many non-blank lines and bytes.
const SHORT_LINES: usize = 4;
const SHORT_BYTES: usize = 256;

/// Accounts web servers and services run as, which `whoami` on a compromised server
/// prints: Debian/Ubuntu, RHEL, SUSE, Arch, BSD, Alpine web server users, and the
/// Windows built-in service principals.
const SERVICE_ACCOUNTS: &[&str] = &[
    "www-data", "apache", "apache2", "httpd", "nginx", "www", "wwwrun", "http", "nobody", "daemon",
    "lighttpd", "tomcat", "tomcat8", "tomcat9", "tomcat10", "jetty", "iusr", "root", "system",
];

/// Reads `text` for command output.
pub fn read(text: &str) -> Summary {
    let mut s = Summary::default();
    let mut listing_lines = 0u32;
    let mut passwd_lines = 0u32;
    let mut env_lines = 0u32;
    let mut host_lines = 0u32;
    let mut interface_lines = 0u32;
    let mut socket_rows = 0u32;
    let mut process_header = false;
    let mut process_rows = 0u32;
    let mut nonblank = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        let t = line.trim_end_matches('\r');
        if t.trim().is_empty() {
            continue;
        }
        s.lines += 1;
        if nonblank.len() <= SHORT_LINES {
            nonblank.push(t.trim());
        }
        let mut out = true;
        if uid_line(t) {
            s.kinds.insert(Kind::Uid);
        } else if passwd_line(t) {
            passwd_lines += 1;
        } else if ls_line(t) {
            listing_lines += 1;
        } else if windir_line(t) {
            s.kinds.insert(Kind::WinDir);
        } else if process_header_line(t) {
            process_header = true;
        } else if process_header && process_row(t) {
            process_rows += 1;
        } else if uname_line(t) {
            s.kinds.insert(Kind::Uname);
        } else if interface_line(t) {
            interface_lines += 1;
        } else if accounts_line(t) {
            s.kinds.insert(Kind::Accounts);
        } else if systeminfo_line(t) {
            s.kinds.insert(Kind::SystemInfo);
        } else if socket_line(t) {
            socket_rows += 1;
        } else if env_line(t) {
            env_lines += 1;
        } else if hosts_line(t) {
            host_lines += 1;
        } else {
            out = false;
        }
        if out {
            s.output_lines += 1;
        }
    }
    if passwd_lines >= 2 {
        s.kinds.insert(Kind::Passwd);
    }
    if listing_lines >= 2 {
        s.kinds.insert(Kind::Listing);
    }
    if process_header && process_rows >= 1 {
        s.kinds.insert(Kind::Processes);
    }
    if interface_lines >= 2 {
        s.kinds.insert(Kind::Interfaces);
    }
    if socket_rows >= 2 {
        s.kinds.insert(Kind::Sockets);
    }
    if env_lines >= 3 {
        s.kinds.insert(Kind::Environment);
    }
    if host_lines >= 1 && host_lines * 2 >= s.lines {
        s.kinds.insert(Kind::Hosts);
    }
    // One-word answers mean something only when the answer is that short.
    if (1..=SHORT_LINES as u32).contains(&s.lines) && text.trim().len() <= SHORT_BYTES {
        for w in &nonblank {
            if let Some(k) = short_answer(w) {
                s.kinds.insert(k);
                s.output_lines += 1;
            }
        }
    }
    s
}

fn short_answer(w: &str) -> Option<Kind> {
    let word = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._$-".contains(&c))
            && s.bytes().any(|c| c.is_ascii_alphanumeric())
    };
    if let Some((domain, user)) = w.split_once('\\') {
        // `domain\user`: Windows `whoami` (a domain or machine name may hold spaces:
        // `nt authority\system`, `iis apppool\defaultapppool`).
        let spaced = |s: &str| !s.trim().is_empty() && s.split(' ').all(word);
        if spaced(domain) && spaced(user) {
            return Some(Kind::ServiceIdentity);
        }
        // `C:\inetpub\wwwroot`: a path.
        if domain.len() == 2 && domain.as_bytes()[1] == b':' && domain.as_bytes()[0].is_ascii_alphabetic() {
            return Some(Kind::Path);
        }
        return None;
    }
    if w.starts_with('/') && !w.contains(' ') && w.len() > 1 && w.len() <= 200 {
        return Some(Kind::Path);
    }
    if word(w) {
        let lower = w.to_ascii_lowercase();
        if SERVICE_ACCOUNTS.contains(&lower.as_str()) {
            return Some(Kind::ServiceIdentity);
        }
        if w.contains('.') || w.bytes().any(|c| c.is_ascii_uppercase()) {
            return Some(Kind::HostName);
        }
        return Some(Kind::Identity);
    }
    None
}

/// `uid=N(name) gid=`.
fn uid_line(t: &str) -> bool {
    let Some(at) = t.find("uid=") else { return false };
    let rest = &t.as_bytes()[at + 4..];
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b'(') {
        return false;
    }
    let Some(close) = rest[digits..].iter().take(64).position(|&c| c == b')') else { return false };
    rest[digits + close + 1..].starts_with(b" gid=")
}

/// `name:x:0:0:gecos:/home:/bin/sh` (passwd) or `name:$6$…:19000:0:99999:7:::` (shadow).
fn passwd_line(t: &str) -> bool {
    let f: Vec<&str> = t.split(':').collect();
    let name_ok = |n: &str| {
        !n.is_empty() && n.len() <= 32 && n.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.-$".contains(&c))
    };
    let num = |n: &str| !n.is_empty() && n.len() <= 10 && n.bytes().all(|c| c.is_ascii_digit());
    match f.len() {
        7 => name_ok(f[0]) && num(f[2]) && num(f[3]) && (f[6].is_empty() || f[6].starts_with('/')),
        9 => name_ok(f[0]) && (f[2].is_empty() || num(f[2])) && !f[1].contains(' '),
        _ => false,
    }
}

/// `drwxr-xr-x  2 root root 4096 Jan  1 00:00 name`, or `total 12` before such lines.
fn ls_line(t: &str) -> bool {
    let b = t.as_bytes();
    if let Some(n) = t.strip_prefix("total ") {
        return !n.is_empty()
            && n.bytes().all(|c| c.is_ascii_digit() || c == b'.' || c.is_ascii_alphabetic());
    }
    if b.len() < 12 || !b"-dlcbps".contains(&b[0]) {
        return false;
    }
    let perms = &b[1..10];
    let ok = perms.iter().enumerate().all(|(i, &c)| match i % 3 {
        0 => c == b'r' || c == b'-',
        1 => c == b'w' || c == b'-',
        _ => b"xsStT-".contains(&c),
    });
    ok && matches!(b[10], b' ' | b'.' | b'+' | b'@')
}

/// cmd.exe `dir`.
fn windir_line(t: &str) -> bool {
    let s = t.trim_start();
    s.starts_with("Volume in drive ")
        || s.starts_with("Volume Serial Number is ")
        || s.starts_with("Directory of ")
        || (t.contains("<DIR>") && t.as_bytes().first().is_some_and(u8::is_ascii_digit))
        || (s.contains(" File(s) ") && s.ends_with("bytes"))
        || (s.contains(" Dir(s) ") && s.ends_with("bytes free"))
}

/// A `ps` header (`USER PID %CPU …`, `PID TTY TIME CMD`) or `tasklist`'s.
fn process_header_line(t: &str) -> bool {
    let words: Vec<&str> = t.split_whitespace().collect();
    let has = |w: &str| words.contains(&w);
    (has("PID") && (has("%CPU") || (has("TTY") && (has("CMD") || has("COMMAND")))))
        || (t.trim_start().starts_with("Image Name") && t.contains("PID") && t.contains("Session Name"))
}

/// A row of a process table: a name or user, a pid, then more columns.
fn process_row(t: &str) -> bool {
    let words: Vec<&str> = t.split_whitespace().take(4).collect();
    words.len() >= 3
        && (words[1].bytes().all(|c| c.is_ascii_digit()) || words[0].bytes().all(|c| c.is_ascii_digit()))
        || t.starts_with("====")
}

/// `Linux web01 6.1.0-18-amd64 #1 SMP …` (kernel name, host, release).
fn uname_line(t: &str) -> bool {
    const KERNELS: &[&str] =
        &["Linux", "Darwin", "FreeBSD", "OpenBSD", "NetBSD", "SunOS", "AIX", "DragonFly"];
    let mut w = t.split_whitespace();
    let (Some(kernel), Some(_host), Some(release)) = (w.next(), w.next(), w.next()) else { return false };
    (KERNELS.contains(&kernel) || kernel.starts_with("CYGWIN_") || kernel.starts_with("MINGW"))
        && release.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// `ipconfig`, `ifconfig` and `ip addr` lines.
fn interface_line(t: &str) -> bool {
    let s = t.trim_start();
    s.starts_with("Windows IP Configuration")
        || (s.contains(" . . . ") && s.contains(':'))
        || s.starts_with("inet ")
            && (s.contains("netmask") || s.contains(" brd ") || s.contains(" scope ") || s.contains('/'))
        || s.starts_with("inet6 ") && (s.contains("prefixlen") || s.contains(" scope "))
        || (s.contains(": flags=") && s.contains("mtu"))
        || s.starts_with("link/ether ")
        || (s.starts_with("ether ") && s.contains("txqueuelen"))
        || (t.as_bytes().first().is_some_and(u8::is_ascii_digit) && s.contains(": <") && s.contains("mtu"))
}

/// `net user`, `net localgroup`.
fn accounts_line(t: &str) -> bool {
    let s = t.trim_start();
    s.starts_with("User accounts for \\\\")
        || s.starts_with("Alias name ")
        || s.starts_with("Aliases for \\\\")
        || s.starts_with("Group Accounts for \\\\")
        || (s.starts_with("User name ") && s.len() > 10)
        || s == "The command completed successfully."
}

/// `systeminfo`.
fn systeminfo_line(t: &str) -> bool {
    const KEYS: &[&str] = &[
        "Host Name:",
        "OS Name:",
        "OS Version:",
        "System Boot Time:",
        "Registered Owner:",
        "System Manufacturer:",
        "Hotfix(s):",
    ];
    KEYS.iter().any(|k| t.starts_with(k))
}

/// `netstat`/`ss` headers and rows.
fn socket_line(t: &str) -> bool {
    let s = t.trim_start();
    if s.starts_with("Active Internet connections")
        || s.starts_with("Active Connections")
        || s.starts_with("Proto Recv-Q Send-Q")
        || (s.starts_with("Proto ") && s.contains("Local Address"))
        || (s.starts_with("Netid ") && s.contains("State"))
    {
        return true;
    }
    let mut w = s.split_whitespace();
    let proto = w.next().unwrap_or("");
    matches!(proto, "tcp" | "tcp6" | "udp" | "udp6" | "TCP" | "UDP")
        && w.next().is_some_and(|x| x.contains(':') || x.bytes().all(|c| c.is_ascii_digit()))
}

/// `NAME=value` with a name `env` and `set` print on every system.
fn env_line(t: &str) -> bool {
    const NAMES: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "SHELL",
        "PWD",
        "HOSTNAME",
        "LANG",
        "TERM",
        "LOGNAME",
        "SHLVL",
        "OLDPWD",
        "MAIL",
        "COMSPEC",
        "ComSpec",
        "USERNAME",
        "USERDOMAIN",
        "COMPUTERNAME",
        "SystemRoot",
        "windir",
        "TEMP",
        "TMP",
        "PATHEXT",
        "PROCESSOR_ARCHITECTURE",
        "OS",
        "APPDATA",
        "USERPROFILE",
    ];
    t.split_once('=').is_some_and(|(name, _)| NAMES.contains(&name))
}

/// `127.0.0.1   localhost` (an address, then names).
fn hosts_line(t: &str) -> bool {
    let s = t.trim_start();
    if s.starts_with('#') {
        return false;
    }
    let mut w = s.split_whitespace();
    let (Some(addr), Some(name)) = (w.next(), w.next()) else { return false };
    addr.parse::<std::net::IpAddr>().is_ok()
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || b".-_".contains(&c))
        && name.bytes().any(|c| c.is_ascii_alphabetic())
}

/// The kinds of output a command prints, by its first word (lower case, no `.exe`).
pub fn expected(word: &str) -> Kinds {
    use Kind::*;
    match word {
        "id" => Kinds::of(&[Uid]),
        "whoami" => Kinds::of(&[ServiceIdentity, Identity]),
        "uname" => Kinds::of(&[Uname, HostName]),
        "ls" | "dir" | "ll" => Kinds::of(&[Listing, WinDir]),
        "cat" | "type" | "head" | "tail" | "more" | "less" | "grep" => {
            Kinds::of(&[Passwd, Hosts, Environment, Uid])
        }
        "ps" | "tasklist" => Kinds::of(&[Processes]),
        "ipconfig" | "ifconfig" | "ip" => Kinds::of(&[Interfaces]),
        "net" => Kinds::of(&[Accounts]),
        "systeminfo" => Kinds::of(&[SystemInfo]),
        "netstat" | "ss" => Kinds::of(&[Sockets]),
        "env" | "set" | "printenv" | "export" => Kinds::of(&[Environment]),
        "hostname" => Kinds::of(&[HostName, Identity]),
        "pwd" | "cd" => Kinds::of(&[Path]),
        _ => Kinds::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(t: &str) -> Vec<&'static str> {
        read(t).kinds.iter().map(Kind::as_str).collect()
    }

    #[test]
    fn unix_tool_output() {
        assert_eq!(kinds("<pre>uid=33(www-data) gid=33(www-data) groups=33(www-data)\n</pre>"), ["id"]);
        assert_eq!(
            kinds("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"),
            ["passwd"]
        );
        assert_eq!(
            kinds("total 12\ndrwxr-xr-x 2 www-data www-data 4096 Dec  6 15:54 .\n-rw-r--r-- 1 root root 220 Dec  6 15:54 a.php\n"),
            ["listing"]
        );
        assert_eq!(
            kinds("USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\nroot         1  0.0  0.1  18000  3000 ?        Ss   15:50   0:00 nginx\n"),
            ["processes"]
        );
        assert_eq!(kinds("Linux web01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\n"), ["uname"]);
        assert_eq!(
            kinds("eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n        inet 10.0.0.5  netmask 255.255.255.0  broadcast 10.0.0.255\n"),
            ["interfaces"]
        );
    }

    #[test]
    fn windows_tool_output() {
        assert_eq!(
            kinds("\r\nWindows IP Configuration\r\n\r\nEthernet adapter Ethernet0:\r\n   IPv4 Address. . . . . . . . . . . : 10.1.2.3\r\n"),
            ["interfaces"]
        );
        assert_eq!(
            kinds(" Volume in drive C has no label.\r\n Directory of C:\\Users\r\n\r\n12/01/2023  09:14 AM    <DIR>          Public\r\n"),
            ["dir"]
        );
        assert_eq!(kinds("\r\nUser accounts for \\\\SRV01\r\n---\r\nAdministrator  Guest\r\n"), ["accounts"]);
        assert_eq!(kinds("iis apppool\\defaultapppool\r\n"), ["service-identity"]);
        assert_eq!(kinds("nt authority\\system"), ["service-identity"]);
    }

    #[test]
    fn one_word_answers_only_count_when_short() {
        assert_eq!(kinds("www-data\n"), ["service-identity"]);
        assert_eq!(kinds("alice\n"), ["identity"]);
        assert_eq!(kinds("/var/www/html\n"), ["path"]);
        let page = "www-data\n".to_string() + &"some prose line\n".repeat(10);
        assert!(kinds(&page).is_empty());
        assert!(kinds("{\"status\":\"ok\",\"version\":\"1.4.2\"}").is_empty());
        assert!(kinds("No results found for your search.").is_empty());
    }

    #[test]
    fn prose_that_quotes_output_is_not_mostly_output() {
        let mut page = String::new();
        for i in 0..40 {
            page += &format!("Paragraph {i} explains how the id command reports identities.\n");
        }
        page += "uid=0(root) gid=0(root) groups=0(root)\n";
        let s = read(&page);
        assert!(s.kinds.contains(Kind::Uid));
        assert!(!s.mostly_output());
    }
}
