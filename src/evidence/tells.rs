//! Cleartext tells: what a shell prints (banners, `uid=` lines, prompts), what its
//! operator types (recon commands, pty upgrades), and stagers that push an executable.
//! Matched on the reassembled first bytes of each direction, so a banner split over two
//! TCP segments is still found (per-packet signatures miss it).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::sync::OnceLock;

/// One kind of tell. Stable numbering: used as bit positions in `TellSet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tell {
    /// `bash: no job control in this shell` (bash -i without a tty).
    NoJobControl = 0,
    /// dash's `can't access tty`, bash's `cannot set terminal process group`.
    NoTty,
    /// `uid=N(name) gid=` — the output of `id`.
    UidOutput,
    /// `uid=0(root)`.
    UidRoot,
    /// cmd.exe banner.
    CmdBanner,
    /// PowerShell banner.
    PowershellBanner,
    /// `PS C:\>` prompt.
    PowershellPrompt,
    /// A pty upgrade typed into a raw shell (`pty.spawn`, `stty raw -echo`, `script -qc`).
    PtyUpgrade,
    /// A shell started interactively (`/bin/sh -i`, `bash -i`).
    ShellSpawn,
    /// Two or more typed lines that start with a shell command.
    ShellCommands,
    /// Typed recon commands (`whoami`, `id`, `uname -a`, `hostname`, `systeminfo`…).
    ReconCommands,
    /// A Unix or cmd.exe prompt at the end of two or more turns.
    ShellPrompt,
    /// A 4-byte length then `MZ` or ELF: a stager receiving its executable.
    StagedExecutable,
    /// A 4-byte length that announces exactly the bytes that follow: a stager.
    LengthPrefixedStage,
}

/// A set of tells, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TellSet(u16);

impl TellSet {
    pub fn insert(&mut self, t: Tell) -> bool {
        let bit = 1 << t as u8;
        let new = self.0 & bit == 0;
        self.0 |= bit;
        new
    }
    pub fn contains(self, t: Tell) -> bool {
        self.0 & (1 << t as u8) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: TellSet) -> TellSet {
        TellSet(self.0 | other.0)
    }
    /// Only the tells read from text (what a shell prints, what its operator types), not
    /// a stager's binary header.
    pub fn text(self) -> TellSet {
        TellSet(self.0 & !((1 << Tell::StagedExecutable as u8) | (1 << Tell::LengthPrefixedStage as u8)))
    }
}

struct Patterns {
    ac: AhoCorasick,
    /// The same patterns with leftmost semantics, which lets the search use a vectorised
    /// prefilter (Teddy): only to ask whether anything matches at all.
    any: AhoCorasick,
    tells: Vec<Tell>,
}

const PATTERNS: &[(&str, Tell)] = &[
    ("no job control in this shell", Tell::NoJobControl),
    ("can't access tty", Tell::NoTty),
    ("cannot set terminal process group", Tell::NoTty),
    ("Microsoft Windows [Version", Tell::CmdBanner),
    ("Microsoft Windows XP [Version", Tell::CmdBanner),
    ("Copyright 1985-2001 Microsoft Corp", Tell::CmdBanner),
    ("(c) Microsoft Corporation. All rights reserved", Tell::CmdBanner),
    ("Windows PowerShell", Tell::PowershellBanner),
    ("PS C:\\", Tell::PowershellPrompt),
    ("uid=", Tell::UidOutput),
    ("pty.spawn", Tell::PtyUpgrade),
    ("stty raw -echo", Tell::PtyUpgrade),
    ("script -qc /bin/", Tell::PtyUpgrade),
    ("/bin/sh -i", Tell::ShellSpawn),
    ("/bin/bash -i", Tell::ShellSpawn),
    ("bash -i", Tell::ShellSpawn),
];

/// The longest pattern, so an incremental scan can overlap the previous chunk by it.
pub const MAX_PATTERN: usize = 48;

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(PATTERNS.iter().map(|(p, _)| p.as_bytes()))
            .expect("static patterns compile");
        let any = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(PATTERNS.iter().map(|(p, _)| p.as_bytes()))
            .expect("static patterns compile");
        Patterns { ac, any, tells: PATTERNS.iter().map(|(_, t)| *t).collect() }
    })
}

/// Scans `buf[from..]` (which the caller overlaps with already-scanned bytes by
/// `MAX_PATTERN`) and adds the tells found to `out`.
pub fn scan(buf: &[u8], from: usize, out: &mut TellSet) {
    let p = patterns();
    let hay = &buf[from.min(buf.len())..];
    // Nearly every scan finds nothing: a prefiltered search says so far faster than
    // walking every byte through the overlapping search below.
    if !p.any.is_match(hay) {
        return;
    }
    for m in p.ac.find_overlapping_iter(hay) {
        let tell = p.tells[m.pattern().as_usize()];
        let at = from + m.start();
        match tell {
            Tell::UidOutput => {
                if let Some(root) = uid_line(&buf[at..]) {
                    out.insert(Tell::UidOutput);
                    if root {
                        out.insert(Tell::UidRoot);
                    }
                }
            }
            t => {
                out.insert(t);
            }
        }
    }
}

/// `uid=<digits>(<name>) gid=` at the start of `s`; returns whether the uid is 0.
fn uid_line(s: &[u8]) -> Option<bool> {
    let rest = s.strip_prefix(b"uid=")?;
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b'(') {
        return None;
    }
    let close = rest[digits..].iter().take(40).position(|&c| c == b')')?;
    let after = &rest[digits + close + 1..];
    if !after.starts_with(b" gid=") {
        return None;
    }
    Some(&rest[..digits] == b"0")
}

/// First words of typed lines that mean someone is driving a shell. Lower case only:
/// protocols such as FTP and SMTP use upper-case verbs (`PWD`, `LIST`).
const COMMANDS: &[&str] = &[
    "ls",
    "cd",
    "pwd",
    "cat",
    "ps",
    "id",
    "whoami",
    "uname",
    "hostname",
    "ifconfig",
    "ip",
    "netstat",
    "ss",
    "wget",
    "curl",
    "sudo",
    "su",
    "echo",
    "env",
    "history",
    "python",
    "python3",
    "perl",
    "nc",
    "chmod",
    "find",
    "head",
    "tail",
    "grep",
    "w",
    "who",
    "last",
    "crontab",
    "mount",
    "df",
    "top",
    "kill",
    "rm",
    "cp",
    "mv",
    "mkdir",
    "touch",
    "tar",
    "base64",
    "export",
    "exit",
    "clear",
    "dir",
    "ipconfig",
    "systeminfo",
    "net",
    "tasklist",
    "type",
    "powershell",
    "cmd",
    "set",
    "ver",
    "getuid",
    "sysinfo",
    "shell",
];
const RECON: &[&str] =
    &["whoami", "id", "uname", "hostname", "systeminfo", "ipconfig", "ifconfig", "getuid", "sysinfo"];

/// The longest word in `COMMANDS` and `RECON`: a longer word is neither.
const LONGEST_WORD: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < COMMANDS.len() {
        if COMMANDS[i].len() > max {
            max = COMMANDS[i].len();
        }
        i += 1;
    }
    let mut i = 0;
    while i < RECON.len() {
        if RECON[i].len() > max {
            max = RECON[i].len();
        }
        i += 1;
    }
    max
};

/// Counts typed command lines in `line` (one line without its terminator).
pub fn classify_line(line: &[u8]) -> LineKind {
    let line = trim(line);
    if line.is_empty() || line.len() > 200 {
        return LineKind::Other;
    }
    let word_end = line.iter().position(|&c| c == b' ' || c == b'\t').unwrap_or(line.len());
    let word = &line[..word_end];
    // The last path component (`/usr/bin/id` is `id`); most lines end here, cheaply.
    let last = memchr::memrchr(b'/', word).map_or(word, |i| &word[i + 1..]);
    // Every listed word is lower-case letters and digits (a test checks): anything else,
    // such as `Host:` or `GET`, is none of them.
    if last.is_empty()
        || last.len() > LONGEST_WORD
        || !last.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return LineKind::Other;
    }
    let kind = if RECON.iter().any(|w| w.as_bytes() == last) {
        LineKind::Recon
    } else if COMMANDS.iter().any(|w| w.as_bytes() == last) {
        LineKind::Command
    } else {
        return LineKind::Other;
    };
    // As before: a first word that is not UTF-8 is not a typed command.
    if std::str::from_utf8(word).is_err() {
        return LineKind::Other;
    }
    kind
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Recon,
    Command,
    Other,
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &s[start..end]
}

/// Whether the last bytes a side sent before going quiet look like a shell prompt.
pub fn ends_with_prompt(tail: &[u8]) -> bool {
    match tail {
        [.., b'$' | b'#' | b'%', b' '] => true,
        // `sh-5.2$`, `C:\Users\x>`, `PS C:\>` and `> ` need context: a bare `>` is HTML.
        [.., b'>', b' '] => true,
        [.., b'\\', b'>'] | [.., b'\\', _, b'>'] => true,
        _ => tail.len() >= 3 && tail.ends_with(b">") && tail.contains(&b'\\'),
    }
}

/// Stager check on the first bytes one side sent: a little-endian length, then either an
/// executable header, or (`announced`) the count of bytes the length promises.
pub fn stage_header(first: &[u8]) -> Option<StageHeader> {
    if first.len() < 4 {
        return None;
    }
    let len = u32::from_le_bytes([first[0], first[1], first[2], first[3]]);
    if !(64..=32 << 20).contains(&len) {
        return None;
    }
    let executable = first.len() >= 6 && (first[4..6] == *b"MZ" || first[4..].starts_with(b"\x7fELF"));
    Some(StageHeader { announced: len, executable })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageHeader {
    pub announced: u32,
    pub executable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tells_of(s: &[u8]) -> TellSet {
        let mut t = TellSet::default();
        scan(s, 0, &mut t);
        t
    }

    #[test]
    fn finds_shell_banners_and_id_output() {
        let t = tells_of(b"bash: cannot set terminal process group (1): Inappropriate ioctl\nbash: no job control in this shell\n");
        assert!(t.contains(Tell::NoTty) && t.contains(Tell::NoJobControl));
        let t = tells_of(b"uid=0(root) gid=0(root) groups=0(root)\n");
        assert!(t.contains(Tell::UidOutput) && t.contains(Tell::UidRoot));
        let t = tells_of(b"uid=33(www-data) gid=33(www-data)");
        assert!(t.contains(Tell::UidOutput) && !t.contains(Tell::UidRoot));
        assert!(!tells_of(b"GET /?uid=5&x=1 HTTP/1.1").contains(Tell::UidOutput));
        let t =
            tells_of(b"Microsoft Windows XP [Version 5.1.2600]\r\n(C) Copyright 1985-2001 Microsoft Corp.");
        assert!(t.contains(Tell::CmdBanner));
        assert!(tells_of(b"python3 -c 'import pty; pty.spawn(\"/bin/bash\")'").contains(Tell::PtyUpgrade));
    }

    #[test]
    fn listed_words_are_lower_case_letters_and_digits() {
        for w in COMMANDS.iter().chain(RECON) {
            assert!(w.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{w}");
            assert!(w.len() <= LONGEST_WORD);
        }
    }

    #[test]
    fn typed_lines_are_classified() {
        assert_eq!(classify_line(b"whoami"), LineKind::Recon);
        assert_eq!(classify_line(b"  uname -a\r"), LineKind::Recon);
        assert_eq!(classify_line(b"ls -la /tmp"), LineKind::Command);
        assert_eq!(classify_line(b"/bin/cat /etc/passwd"), LineKind::Command);
        assert_eq!(classify_line(b"PWD"), LineKind::Other);
        assert_eq!(classify_line(b"JOIN #testing"), LineKind::Other);
        assert_eq!(classify_line(b"hello there, how are you"), LineKind::Other);
    }

    #[test]
    fn prompts() {
        assert!(ends_with_prompt(b"~/src$ "));
        assert!(ends_with_prompt(b"root@x:/# "));
        assert!(ends_with_prompt(b"C:\\WINDOWS\\system32>"));
        assert!(!ends_with_prompt(b"</html>"));
        assert!(!ends_with_prompt(b"done.\n"));
    }

    #[test]
    fn stager_headers() {
        let mut s = 240u32.to_le_bytes().to_vec();
        s.extend([0xfc, 0xe8]);
        assert_eq!(stage_header(&s), Some(StageHeader { announced: 240, executable: false }));
        let mut s = 179_779u32.to_le_bytes().to_vec();
        s.extend(b"MZ\x90\x00");
        assert!(stage_header(&s).unwrap().executable);
        assert_eq!(stage_header(b"GET / HTTP/1.1"), None);
    }
}
