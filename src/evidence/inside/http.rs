//! HTTP/1.x messages of one session, read as the bytes arrive: the head with `httparse`,
//! then the body by its framing (Content-Length, chunked, or until the connection closes),
//! as Zeek and Suricata read it. Requests and responses are paired in order (HTTP/1.1
//! answers in the order it was asked). Bodies are kept only up to a cap, and a response
//! body only when its request gave a reason to read it; the rest is skipped without a copy.
//! Gzip and deflate bodies are inflated (bounded) before anyone reads them.

use super::{Budget, Held};
use std::collections::VecDeque;
use std::io::Read;

/// A head longer than this is not HTTP we read (httparse needs it whole).
pub const HEAD_MAX: usize = 16 * 1024;
/// The most of a request body kept (forms, multipart parts, a raw body).
pub const REQUEST_BODY_CAP: usize = 16 * 1024;
/// The most of a response body kept, when its request asked something worth checking.
pub const RESPONSE_BODY_CAP: usize = 32 * 1024;
/// The most an inflated body may grow to.
pub const INFLATED_MAX: usize = 64 * 1024;
/// Requests read per session; a longer keep-alive session is judged on its first ones.
pub const MAX_REQUESTS: u32 = 256;
/// Requests waiting for their answers (pipelining) at most.
const MAX_PENDING: usize = 16;
/// Headers httparse is given room for.
const MAX_HEADERS: usize = 64;
/// A chunk-size line (size, extensions) longer than this is not one.
const CHUNK_LINE_MAX: usize = 256;
/// The most of a request target kept.
const TARGET_MAX: usize = 4096;

/// The parts of a request head the webshell reader uses.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    pub method: String,
    /// The request target as sent (`/uploads/img.php?cmd=id`), cut to 4 KiB.
    pub target: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// `Cookie` and headers no standard names: where some webshells take their input.
    pub extra: Vec<(String, String)>,
}

/// The parts of a response head the pairing uses.
#[derive(Debug, Clone, Default)]
pub struct ResponseHead {
    pub status: u16,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
}

/// What the session's owner does with complete messages: it says whether a request's
/// response is worth reading, and reads the responses it asked for.
pub trait Listener {
    fn request(&mut self, head: &RequestHead, body: &[u8]) -> bool;
    fn response(&mut self, head: &ResponseHead, body: &[u8]);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Fixed(u64),
    Chunked,
    /// Until the connection closes (a response with neither length nor chunking).
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the size line; bytes of it so far.
    Size(usize),
    Data(u64),
    /// The CRLF after a chunk's data: bytes of it still to come.
    DataEnd(u8),
    /// Trailer lines after the last chunk; bytes of the current line so far.
    Trailer(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Fixed(u64),
    Chunked(Chunk),
    UntilClose,
    /// Not HTTP we can follow any further (a parse error, a protocol switch, a hole).
    Failed,
}

/// One direction's reader.
#[derive(Debug)]
struct Reader {
    side: Side,
    state: State,
    /// A head (or a chunk-size line) that spans segments.
    head: Held,
    body: Held,
    /// How much of the current body to keep.
    cap: usize,
    /// The framing the last head declared (`None`: the side's default).
    framing: Option<Framing>,
    request: RequestHead,
    response: ResponseHead,
}

impl Reader {
    fn new(side: Side) -> Self {
        Reader {
            side,
            state: State::Head,
            head: Held::default(),
            body: Held::default(),
            cap: 0,
            framing: None,
            request: RequestHead::default(),
            response: ResponseHead::default(),
        }
    }

    /// Keeps body bytes up to the cap.
    fn keep(&mut self, data: &[u8], budget: &mut Budget) {
        let room = self.cap.saturating_sub(self.body.len());
        if room > 0 {
            self.body.extend(&data[..data.len().min(room)], budget);
        }
    }

    /// Parses a head from `buf`: the bytes it took, `Ok(None)` for more, `Err` when it is
    /// not HTTP.
    fn parse_head(&mut self, buf: &[u8]) -> Result<Option<usize>, ()> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match self.side {
            Side::Request => {
                let mut r = httparse::Request::new(&mut headers);
                match r.parse(buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        self.request = RequestHead {
                            method: r.method.unwrap_or("").to_string(),
                            target: cut(r.path.unwrap_or(""), TARGET_MAX),
                            ..Default::default()
                        };
                        let (framing, ct, ce) = read_headers(r.headers, Some(&mut self.request.extra));
                        self.request.content_type = ct;
                        self.request.content_encoding = ce;
                        self.framing = framing;
                        Ok(Some(n))
                    }
                    Ok(httparse::Status::Partial) => Ok(None),
                    Err(_) => Err(()),
                }
            }
            Side::Response => {
                let mut r = httparse::Response::new(&mut headers);
                match r.parse(buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let (framing, ct, ce) = read_headers(r.headers, None);
                        self.response = ResponseHead {
                            status: r.code.unwrap_or(0),
                            content_type: ct,
                            content_encoding: ce,
                        };
                        self.framing = framing;
                        Ok(Some(n))
                    }
                    Ok(httparse::Status::Partial) => Ok(None),
                    Err(_) => Err(()),
                }
            }
        }
    }
}

/// Headers every client or server sends for its own reasons: never a webshell's input.
const STANDARD_HEADERS: &[&str] = &[
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-charset",
    "referer",
    "connection",
    "keep-alive",
    "content-length",
    "content-type",
    "content-encoding",
    "content-range",
    "content-disposition",
    "transfer-encoding",
    "authorization",
    "proxy-authorization",
    "origin",
    "cache-control",
    "pragma",
    "if-modified-since",
    "if-none-match",
    "if-match",
    "if-range",
    "if-unmodified-since",
    "upgrade",
    "upgrade-insecure-requests",
    "dnt",
    "te",
    "range",
    "via",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
    "x-requested-with",
    "expect",
    "priority",
    "purpose",
    "date",
];

/// Reads the framing, content type and encoding; collects `Cookie` and non-standard
/// header values into `extra` (requests only).
fn read_headers(
    headers: &[httparse::Header<'_>],
    mut extra: Option<&mut Vec<(String, String)>>,
) -> (Option<Framing>, Option<String>, Option<String>) {
    let (mut length, mut chunked, mut ct, mut ce) = (None, false, None, None);
    for h in headers {
        let value = String::from_utf8_lossy(h.value);
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<u64>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.rsplit(',').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("content-type") {
            ct = Some(cut(value.trim(), 256));
        } else if name.eq_ignore_ascii_case("content-encoding") {
            ce = Some(value.trim().to_ascii_lowercase());
        } else if let Some(extra) = extra.as_deref_mut() {
            let standard = name.len() > 4 && name[..4].eq_ignore_ascii_case("sec-")
                || STANDARD_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s));
            if !standard && extra.len() < 16 {
                extra.push((cut(name, 64), cut(&value, 1024)));
            }
        }
    }
    let framing = if chunked { Some(Framing::Chunked) } else { length.map(Framing::Fixed) };
    (framing, ct, ce)
}

/// What the session learned from a request head: how to frame its answer and whether the
/// answer is worth reading.
#[derive(Debug, Clone, Copy)]
struct Pending {
    head_request: bool,
    /// The request's body has arrived (its worth is known).
    complete: bool,
    /// Its response is worth reading (the request carried a command or a marker).
    wanted: bool,
}

/// The HTTP side of a session: both readers and the requests awaiting their answers.
#[derive(Debug)]
pub struct HttpSession {
    readers: [Reader; 2],
    pending: VecDeque<Pending>,
    requests: u32,
}

impl Default for HttpSession {
    fn default() -> Self {
        HttpSession {
            readers: [Reader::new(Side::Request), Reader::new(Side::Response)],
            pending: VecDeque::new(),
            requests: 0,
        }
    }
}

impl HttpSession {
    /// Neither direction can be followed any further.
    pub fn finished(&self) -> bool {
        self.readers.iter().all(|r| r.state == State::Failed)
    }

    /// Gives up on direction `d`.
    pub fn fail(&mut self, d: usize, budget: &mut Budget) {
        let r = &mut self.readers[d];
        r.state = State::Failed;
        r.head.clear(budget);
        r.body.clear(budget);
    }

    /// `n` bytes of direction `d` were not captured (a snaplen cut): skipped inside a
    /// body of known length or one framed by the close; anywhere else the direction can
    /// no longer be followed.
    pub fn skip_unknown(&mut self, d: usize, n: u64, listener: &mut dyn Listener, budget: &mut Budget) {
        match self.readers[d].state {
            State::Fixed(left) if n <= left => {
                self.readers[d].state = State::Fixed(left - n);
                if left == n {
                    self.complete(d, listener, budget);
                }
            }
            State::UntilClose | State::Failed => {}
            _ => self.fail(d, budget),
        }
    }

    /// The direction's sender closed it: a body framed by the close is complete.
    pub fn end(&mut self, d: usize, listener: &mut dyn Listener, budget: &mut Budget) {
        if self.readers[d].state == State::UntilClose {
            self.complete(d, listener, budget);
        }
        self.fail(d, budget);
    }

    /// Feeds in-order bytes of direction `d` (0: from the client).
    pub fn feed(&mut self, d: usize, mut data: &[u8], listener: &mut dyn Listener, budget: &mut Budget) {
        while !data.is_empty() {
            let used = match self.readers[d].state {
                State::Failed => return,
                State::Head => self.read_head(d, data, listener, budget),
                State::Fixed(left) => {
                    let take = left.min(data.len() as u64) as usize;
                    let r = &mut self.readers[d];
                    r.keep(&data[..take], budget);
                    r.state = State::Fixed(left - take as u64);
                    if left == take as u64 {
                        self.complete(d, listener, budget);
                    }
                    take
                }
                State::UntilClose => {
                    self.readers[d].keep(data, budget);
                    data.len()
                }
                State::Chunked(c) => self.read_chunked(d, c, data, listener, budget),
            };
            data = &data[used.min(data.len())..];
        }
    }

    /// Reads a head from `data` after what is buffered; returns the bytes of `data` used.
    fn read_head(
        &mut self,
        d: usize,
        data: &[u8],
        listener: &mut dyn Listener,
        budget: &mut Budget,
    ) -> usize {
        let r = &mut self.readers[d];
        let buffered = r.head.len();
        if buffered == 0 {
            // Most heads arrive whole in one segment: parsed in place, never copied.
            match r.parse_head(data) {
                Ok(Some(n)) => {
                    self.begin_body(d, listener, budget);
                    return n;
                }
                Ok(None) if data.len() <= HEAD_MAX => {
                    if !r.head.extend(data, budget) {
                        self.fail(d, budget);
                    }
                    return data.len();
                }
                _ => {
                    self.fail(d, budget);
                    return data.len();
                }
            }
        }
        let take = data.len().min(HEAD_MAX - buffered.min(HEAD_MAX));
        if take == 0 || !r.head.extend(&data[..take], budget) {
            self.fail(d, budget);
            return data.len();
        }
        let head = std::mem::take(&mut r.head);
        let parsed = r.parse_head(head.bytes());
        r.head = head;
        match parsed {
            Ok(Some(n)) => {
                r.head.clear(budget);
                self.begin_body(d, listener, budget);
                n.saturating_sub(buffered)
            }
            Ok(None) if take == data.len() && r.head.len() < HEAD_MAX => take,
            _ => {
                self.fail(d, budget);
                data.len()
            }
        }
    }

    /// A head was read: pairs it, decides the body's framing and how much of it to keep.
    fn begin_body(&mut self, d: usize, listener: &mut dyn Listener, budget: &mut Budget) {
        match self.readers[d].side {
            Side::Request => {
                self.requests += 1;
                if self.requests > MAX_REQUESTS || self.pending.len() >= MAX_PENDING {
                    self.fail(0, budget);
                    self.fail(1, budget);
                    return;
                }
                let r = &mut self.readers[d];
                let head_request = r.request.method.eq_ignore_ascii_case("HEAD");
                self.pending.push_back(Pending { head_request, complete: false, wanted: false });
                r.cap = REQUEST_BODY_CAP;
                // A request without a length has no body (RFC 9112 6.3).
                let framing = r.framing.unwrap_or(Framing::Fixed(0));
                self.start(d, framing, listener, budget);
            }
            Side::Response => {
                let status = self.readers[d].response.status;
                if status == 101 {
                    // The connection now speaks another protocol (WebSocket, h2c).
                    self.fail(0, budget);
                    self.fail(1, budget);
                    return;
                }
                if (100..200).contains(&status) {
                    // An interim answer: the request still waits for its real one.
                    return;
                }
                let front = self.pending.front().copied();
                let r = &mut self.readers[d];
                r.cap = match front {
                    Some(p) if p.complete && p.wanted => RESPONSE_BODY_CAP,
                    _ => 0,
                };
                let bodiless = status == 204 || status == 304 || front.is_some_and(|p| p.head_request);
                let framing =
                    if bodiless { Framing::Fixed(0) } else { r.framing.unwrap_or(Framing::UntilClose) };
                self.start(d, framing, listener, budget);
            }
        }
    }

    fn start(&mut self, d: usize, framing: Framing, listener: &mut dyn Listener, budget: &mut Budget) {
        self.readers[d].state = match framing {
            Framing::Fixed(0) => {
                self.complete(d, listener, budget);
                return;
            }
            Framing::Fixed(n) => State::Fixed(n),
            Framing::Chunked => State::Chunked(Chunk::Size(0)),
            Framing::UntilClose => State::UntilClose,
        };
    }

    /// Reads chunked framing; returns the bytes of `data` used.
    fn read_chunked(
        &mut self,
        d: usize,
        c: Chunk,
        data: &[u8],
        listener: &mut dyn Listener,
        budget: &mut Budget,
    ) -> usize {
        let r = &mut self.readers[d];
        match c {
            Chunk::Size(seen) => {
                let Some(nl) = memchr::memchr(b'\n', data) else {
                    // The size line goes on in the next segment: keep it in the head
                    // buffer, unused during a body.
                    if seen + data.len() > CHUNK_LINE_MAX || !r.head.extend(data, budget) {
                        self.fail(d, budget);
                    } else {
                        r.state = State::Chunked(Chunk::Size(seen + data.len()));
                    }
                    return data.len();
                };
                let size = if seen > 0 {
                    let ok = r.head.extend(&data[..nl], budget);
                    let v = if ok { chunk_size(r.head.bytes()) } else { None };
                    r.head.clear(budget);
                    v
                } else {
                    chunk_size(&data[..nl])
                };
                match size {
                    Some(0) => r.state = State::Chunked(Chunk::Trailer(0)),
                    Some(n) => r.state = State::Chunked(Chunk::Data(n)),
                    None => self.fail(d, budget),
                }
                nl + 1
            }
            Chunk::Data(left) => {
                let take = left.min(data.len() as u64) as usize;
                r.keep(&data[..take], budget);
                r.state = State::Chunked(if left == take as u64 {
                    Chunk::DataEnd(2)
                } else {
                    Chunk::Data(left - take as u64)
                });
                take
            }
            Chunk::DataEnd(left) => {
                // CRLF after the data (a lone LF is tolerated).
                r.state = match (left, data[0]) {
                    (2, b'\r') => State::Chunked(Chunk::DataEnd(1)),
                    (_, b'\n') => State::Chunked(Chunk::Size(0)),
                    _ => State::Failed,
                };
                1
            }
            Chunk::Trailer(line) => {
                let Some(nl) = memchr::memchr(b'\n', data) else {
                    if line + data.len() > HEAD_MAX {
                        self.fail(d, budget);
                    } else {
                        r.state = State::Chunked(Chunk::Trailer(line + data.len()));
                    }
                    return data.len();
                };
                // An empty line (only its CR, if any) ends the trailers and the message.
                let before = &data[..nl];
                let empty = line + nl == 0 || (before == b"\r" && line == 0) || (nl == 0 && line == 1);
                if empty {
                    self.complete(d, listener, budget);
                } else {
                    r.state = State::Chunked(Chunk::Trailer(0));
                }
                nl + 1
            }
        }
    }

    /// A message is complete: hands it over and gets ready for the next.
    fn complete(&mut self, d: usize, listener: &mut dyn Listener, budget: &mut Budget) {
        let r = &mut self.readers[d];
        let mut body = std::mem::take(&mut r.body);
        match r.side {
            Side::Request => {
                let decoded = inflate(body.bytes(), r.request.content_encoding.as_deref());
                let bytes = decoded.as_deref().unwrap_or(body.bytes());
                let wanted = listener.request(&r.request, bytes);
                if let Some(p) = self.pending.iter_mut().rev().find(|p| !p.complete) {
                    p.complete = true;
                    p.wanted = wanted;
                }
            }
            Side::Response => {
                let front = self.pending.pop_front();
                if front.is_some_and(|p| p.complete && p.wanted) {
                    let decoded = inflate(body.bytes(), r.response.content_encoding.as_deref());
                    let bytes = decoded.as_deref().unwrap_or(body.bytes());
                    listener.response(&r.response, bytes);
                }
            }
        }
        body.clear(budget);
        let r = &mut self.readers[d];
        r.state = State::Head;
        r.cap = 0;
    }

    /// Frees every buffer.
    pub fn release(&mut self, budget: &mut Budget) {
        for r in &mut self.readers {
            r.head.clear(budget);
            r.body.clear(budget);
        }
    }
}

/// The size of a chunk-size line (hex digits, then extensions after `;`).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.split(|&c| c == b';').next()?;
    let digits = std::str::from_utf8(digits).ok()?.trim();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// A gzip or deflate body inflated (up to `INFLATED_MAX`); `None` when it is not encoded
/// or not one we read. A body cut short inflates as far as it goes.
pub fn inflate(body: &[u8], encoding: Option<&str>) -> Option<Vec<u8>> {
    let encoding = encoding?.trim();
    if body.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let limit = INFLATED_MAX as u64;
    if encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip") {
        let _ = flate2::read::GzDecoder::new(body).take(limit).read_to_end(&mut out);
    } else if encoding.eq_ignore_ascii_case("deflate") {
        // "deflate" is zlib-wrapped by the RFC, raw by some servers.
        if flate2::read::ZlibDecoder::new(body).take(limit).read_to_end(&mut out).is_err() && out.is_empty() {
            let _ = flate2::read::DeflateDecoder::new(body).take(limit).read_to_end(&mut out);
        }
    } else {
        return None;
    }
    (!out.is_empty()).then_some(out)
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn cut(s: &str, max: usize) -> String {
    crate::evidence::injection::head(s, max).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Seen {
        requests: Vec<(String, Vec<u8>)>,
        responses: Vec<(u16, Vec<u8>)>,
        want: bool,
    }

    impl Listener for Seen {
        fn request(&mut self, head: &RequestHead, body: &[u8]) -> bool {
            self.requests.push((format!("{} {}", head.method, head.target), body.to_vec()));
            self.want
        }
        fn response(&mut self, head: &ResponseHead, body: &[u8]) {
            self.responses.push((head.status, body.to_vec()));
        }
    }

    fn run(segments: &[(usize, &[u8])]) -> Seen {
        let mut s = HttpSession::default();
        let mut seen = Seen { want: true, ..Default::default() };
        let mut budget = Budget::new(1 << 20);
        for (d, bytes) in segments {
            s.feed(*d, bytes, &mut seen, &mut budget);
        }
        s.release(&mut budget);
        assert_eq!(budget.held(), 0, "every buffer returned");
        seen
    }

    #[test]
    fn requests_and_chunked_answers_pair_in_order() {
        let seen = run(&[
            (0, b"GET /a.php?cmd=id HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nc=ls"),
            (0, b"x"),
            (1, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nuid="),
            (1, b"\r\n3;ext=1\r\n0(r\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
        ]);
        assert_eq!(seen.requests[0].0, "GET /a.php?cmd=id");
        assert_eq!(seen.requests[1].1, b"c=lsx");
        assert_eq!(seen.responses, vec![(200, b"uid=0(r".to_vec()), (200, b"abc".to_vec())]);
    }

    #[test]
    fn a_head_split_over_segments_and_gzip_bodies_are_read() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"uid=33(www-data) gid=33(www-data)\n").unwrap();
        let body = gz.finish().unwrap();
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", body.len());
        let seen = run(&[
            (0, b"GET /x?c=id HTT"),
            (0, b"P/1.1\r\nHost: a\r\n\r\n"),
            (1, &head.as_bytes()[..10]),
            (1, &head.as_bytes()[10..]),
            (1, &body),
        ]);
        assert_eq!(seen.requests.len(), 1);
        assert_eq!(seen.responses[0].1, b"uid=33(www-data) gid=33(www-data)\n");
    }

    #[test]
    fn interim_answers_and_bodies_framed_by_the_close() {
        let mut s = HttpSession::default();
        let mut seen = Seen { want: true, ..Default::default() };
        let mut budget = Budget::new(1 << 20);
        s.feed(
            0,
            b"POST /u HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
            &mut seen,
            &mut budget,
        );
        s.feed(1, b"HTTP/1.1 100 Continue\r\n\r\n", &mut seen, &mut budget);
        s.feed(0, b"ok", &mut seen, &mut budget);
        s.feed(1, b"HTTP/1.0 200 OK\r\n\r\nwww-data\n", &mut seen, &mut budget);
        assert!(seen.responses.is_empty());
        s.end(1, &mut seen, &mut budget);
        assert_eq!(seen.responses, vec![(200, b"www-data\n".to_vec())]);
        s.release(&mut budget);
    }

    #[test]
    fn what_is_not_http_stops_the_reader() {
        let mut s = HttpSession::default();
        let mut seen = Seen::default();
        let mut budget = Budget::new(1 << 20);
        s.feed(0, b"GET / HTTP/1.1\r\n\r\n", &mut seen, &mut budget);
        s.feed(1, &[0x16, 0x03, 0x01, 0, 5, 1, 2, 3, 4, 5], &mut seen, &mut budget);
        s.feed(0, b"\x00\x01garbage", &mut seen, &mut budget);
        assert!(s.finished());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 1u32;
        for round in 0..300 {
            let mut s = HttpSession::default();
            let mut seen = Seen { want: round % 2 == 0, ..Default::default() };
            let mut budget = Budget::new(1 << 16);
            for _ in 0..20 {
                let mut seg = Vec::new();
                for _ in 0..(x % 97) {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let alphabet =
                        b"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n0a;\x00\x7f";
                    seg.push(alphabet[x as usize % alphabet.len()]);
                }
                s.feed((x % 2) as usize, &seg, &mut seen, &mut budget);
                if x % 11 == 0 {
                    s.skip_unknown((x % 2) as usize, (x % 3000) as u64, &mut seen, &mut budget);
                }
            }
            s.release(&mut budget);
            assert_eq!(budget.held(), 0);
        }
    }
}
