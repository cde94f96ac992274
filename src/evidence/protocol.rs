//! What protocol a direction speaks, judged from its first captured bytes. Used to tell
//! an interactive protocol on its own port (ordinary) from a shell hiding on a
//! well-known port (protocol mismatch).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// No payload seen yet, or none captured (snaplen).
    #[default]
    Unseen,
    Tls,
    Ssh,
    Http,
    Dns,
    Postgres,
    Mysql,
    Redis,
    Irc,
    Telnet,
    Rdp,
    Vnc,
    Smb,
    Smtp,
    /// Mostly printable text that is none of the above.
    Text,
    /// Anything else.
    Binary,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Unseen => "unseen",
            Protocol::Tls => "tls",
            Protocol::Ssh => "ssh",
            Protocol::Http => "http",
            Protocol::Dns => "dns",
            Protocol::Postgres => "postgres",
            Protocol::Mysql => "mysql",
            Protocol::Redis => "redis",
            Protocol::Irc => "irc",
            Protocol::Telnet => "telnet",
            Protocol::Rdp => "rdp",
            Protocol::Vnc => "vnc",
            Protocol::Smb => "smb",
            Protocol::Smtp => "smtp",
            Protocol::Text => "text",
            Protocol::Binary => "binary",
        }
    }

    /// Encrypted transports: payload tells are meaningless inside them.
    pub fn is_encrypted(self) -> bool {
        matches!(self, Protocol::Tls | Protocol::Ssh)
    }
}

const HTTP_STARTS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"HTTP/1.",
    b"HTTP/2",
    b"PRI * HTTP/2",
];
const IRC_STARTS: &[&[u8]] = &[b"NICK ", b"USER ", b"PASS ", b"CAP LS", b"CAP REQ", b"PING :", b"JOIN "];

/// Identifies the protocol from the first payload bytes one side sent. `wire_len` is the
/// segment's true payload length (the bytes may be cut by the snaplen).
pub fn identify(first: &[u8], wire_len: u32) -> Protocol {
    if first.is_empty() {
        return Protocol::Unseen;
    }
    let b = first;
    if b.len() >= 3 && matches!(b[0], 0x14..=0x17) && b[1] == 0x03 && b[2] <= 0x04 {
        return Protocol::Tls;
    }
    if b.starts_with(b"SSH-") {
        return Protocol::Ssh;
    }
    if HTTP_STARTS.iter().any(|p| b.starts_with(p)) {
        return Protocol::Http;
    }
    if b.starts_with(b"RFB ") {
        return Protocol::Vnc;
    }
    if b.len() >= 2 && b[0] == 0xff && (0xfb..=0xfe).contains(&b[1]) {
        return Protocol::Telnet;
    }
    if b.len() >= 8 && b[0] == 0 && (b[4..8] == *b"\xffSMB" || b[4..8] == *b"\xfeSMB") {
        return Protocol::Smb;
    }
    if b.len() >= 4 && b[0] == 0x03 && b[1] == 0x00 && u16::from_be_bytes([b[2], b[3]]) as u32 == wire_len {
        return Protocol::Rdp;
    }
    if is_postgres(b, wire_len) {
        return Protocol::Postgres;
    }
    if b.len() >= 5 && b[3] == 0 && b[4] == 0x0a && u32::from_le_bytes([b[0], b[1], b[2], 0]) + 4 == wire_len
    {
        return Protocol::Mysql;
    }
    if is_redis(b) {
        return Protocol::Redis;
    }
    if is_dns_over_tcp(b, wire_len) {
        return Protocol::Dns;
    }
    if IRC_STARTS.iter().any(|p| b.starts_with(p)) || (b[0] == b':' && contains(b, b" NOTICE ")) {
        return Protocol::Irc;
    }
    if b.starts_with(b"220 ") || b.starts_with(b"220-") || b.starts_with(b"EHLO ") || b.starts_with(b"HELO ")
    {
        return Protocol::Smtp;
    }
    let printable =
        b.iter().filter(|&&c| (0x20..0x7f).contains(&c) || matches!(c, b'\r' | b'\n' | b'\t')).count();
    if printable * 4 >= b.len() * 3 {
        Protocol::Text
    } else {
        Protocol::Binary
    }
}

fn is_postgres(b: &[u8], wire_len: u32) -> bool {
    if b.len() < 8 {
        // A server's one-byte answer to SSLRequest is 'S' or 'N'; too weak alone.
        return false;
    }
    let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let code = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    if len == wire_len && matches!(code, 0x0003_0000 | 80_877_103 | 80_877_104 | 80_877_102) {
        return true;
    }
    // Server authentication request: 'R', length, auth type.
    b[0] == b'R' && u32::from_be_bytes([b[1], b[2], b[3], b[4]]) >= 8 && b.len() >= 9
}

fn is_redis(b: &[u8]) -> bool {
    let simple = [b"+OK".as_slice(), b"+PONG", b"-ERR", b"-NOAUTH", b"-WRONGTYPE"];
    if simple.iter().any(|p| b.starts_with(p)) {
        return true;
    }
    // *<n>\r\n$<len>\r\n — an array of bulk strings, the way every client sends commands.
    b.len() >= 6 && b[0] == b'*' && b[1].is_ascii_digit() && contains(&b[..b.len().min(8)], b"\r\n$")
}

fn is_dns_over_tcp(b: &[u8], wire_len: u32) -> bool {
    if b.len() < 14 {
        return false;
    }
    let len = u16::from_be_bytes([b[0], b[1]]) as u32;
    let qdcount = u16::from_be_bytes([b[6], b[7]]);
    let opcode = (b[4] >> 3) & 0x0f;
    len + 2 == wire_len && (1..=4).contains(&qdcount) && opcode <= 5
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_common_protocols_by_their_first_bytes() {
        assert_eq!(identify(&[0x16, 0x03, 0x01, 0x02, 0x00], 517), Protocol::Tls);
        assert_eq!(identify(b"SSH-2.0-OpenSSH_9.2p1\r\n", 23), Protocol::Ssh);
        assert_eq!(identify(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), Protocol::Http);
        assert_eq!(identify(b"*1\r\n$4\r\nPING\r\n", 14), Protocol::Redis);
        assert_eq!(identify(&[0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20], 6), Protocol::Telnet);
        assert_eq!(identify(b"NICK joe\r\nUSER joe 0 * :Joe\r\n", 30), Protocol::Irc);
        let mut pg = 8u32.to_be_bytes().to_vec();
        pg.extend(80_877_103u32.to_be_bytes());
        assert_eq!(identify(&pg, 8), Protocol::Postgres);
        let mut dns = vec![0, 30, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        dns.extend([0u8; 16]);
        assert_eq!(identify(&dns, 32), Protocol::Dns);
    }

    #[test]
    fn shell_output_is_text_not_a_known_protocol() {
        assert_eq!(identify(b"bash: no job control in this shell\n", 35), Protocol::Text);
        assert_eq!(identify(b"uid=0(root) gid=0(root) groups=0(root)\n", 39), Protocol::Text);
        assert_eq!(identify(&[0xf0, 0x00, 0x00, 0x00, 0x4d, 0x5a, 0x90, 0x00], 4), Protocol::Binary);
        assert_eq!(identify(b"", 0), Protocol::Unseen);
    }
}
