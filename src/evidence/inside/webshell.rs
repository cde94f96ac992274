//! Webshells, read from HTTP exchanges. Evidence comes from a request and its own answer
//! taken together, never from one string:
//! - the request carries a typed shell command in a parameter (query, form, multipart,
//!   JSON, a cookie or a non-standard header) or as its whole body, plain, URL-encoded,
//!   base64 or hex;
//! - the answer to that request holds that command's output (`id` gives `uid=…`, `ls -l`
//!   a listing, `whoami` on a server `www-data` or `iis apppool\…`), and is mostly output;
//! - or the request carries a known family's marker and its answer that family's wrapper.
//!
//! A documentation page that quotes `$ id` and `uid=0(root)` is not a webshell: the
//! command did not come from the client in the request. A search for "id" answered with a
//! page of prose that quotes output is not one either: the answer is not mostly output.

use super::http::{cut, Listener, RequestHead, ResponseHead};
use super::markers::{self, Families};
use super::output::{self, Kind, Kinds};
use crate::evidence::injection;
use crate::evidence::tells::{self, LineKind};
use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::{alphabet, Engine};
use std::borrow::Cow;

/// Exchanges kept for the alert.
const MAX_EXCHANGES: usize = 8;
/// Parameters read per request.
const MAX_PARAMS: usize = 48;
/// A parameter value longer than this is no typed command (code payloads are still read
/// for markers).
const COMMAND_MAX: usize = 2048;
/// The most of a command quoted.
const QUOTE_MAX: usize = 160;

/// How a command reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As sent (after the URL decoding every parameter gets).
    Plain,
    Base64,
    Hex,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Plain => "plain",
            Encoding::Base64 => "base64",
            Encoding::Hex => "hex",
        }
    }
}

/// A typed command found in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The parameter that carried it (`cmd`, `z2`; `(body)` for a whole raw body).
    pub parameter: String,
    /// Where the parameter was: `query`, `form`, `multipart`, `json`, `cookie`, `header`,
    /// `body`.
    pub place: &'static str,
    pub encoding: Encoding,
    /// The command line as decoded, cut to `QUOTE_MAX` bytes.
    pub text: String,
    /// The command words, lower case without `.exe` (`whoami`, `cat`, `head`).
    pub words: Vec<String>,
}

/// One request/response exchange with webshell evidence, as the alert names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub method: String,
    /// The request target as sent.
    pub uri: String,
    pub path: String,
    pub query: Option<String>,
    pub command: Option<Command>,
    pub status: u16,
    /// The kind of output the answer held for the command (`id`, `listing`, …).
    pub output: Option<Kind>,
    /// A family whose request and response markers were both there.
    pub family: Option<&'static str>,
}

impl Exchange {
    /// The command's output was of a kind only a command prints.
    pub fn strong(&self) -> bool {
        self.output.is_some_and(Kind::strong)
    }
}

/// What a session's HTTP exchanges showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebFacts {
    /// The first exchanges with evidence (paired commands, family exchanges).
    pub exchanges: Vec<Exchange>,
    /// Requests whose command's output came back in their answer.
    pub paired: u16,
    /// Of those, answers with output only a command prints.
    pub strong: u16,
    /// Requests whose family markers came back in their answer.
    pub family_exchanges: u16,
    /// Requests with a command whose answer did not hold its output.
    pub unanswered_commands: u16,
    /// Distinct commands among the paired exchanges (by text).
    pub distinct_commands: u16,
    revision: u32,
}

impl WebFacts {
    pub fn notable(&self) -> bool {
        self.paired > 0 || self.family_exchanges > 0
    }

    pub(crate) fn version(&self) -> u64 {
        self.revision as u64
    }

    /// The exchange to name in the alert: the first with a strong pairing, else the
    /// first with any.
    pub fn headline(&self) -> Option<&Exchange> {
        self.exchanges.iter().find(|e| e.strong()).or_else(|| self.exchanges.first())
    }

    /// The first commands, as decoded.
    pub fn commands(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in self.exchanges.iter().filter_map(|e| e.command.as_ref()) {
            if !out.contains(&c.text) {
                out.push(c.text.clone());
            }
        }
        out
    }

    /// The family named by markers on both sides, if any.
    pub fn family(&self) -> Option<&'static str> {
        self.exchanges.iter().find_map(|e| e.family)
    }
}

/// What a request showed, kept until its answer arrives.
#[derive(Debug, Clone)]
struct Clues {
    method: String,
    uri: String,
    commands: Vec<Command>,
    families: Families,
}

/// The HTTP listener that reads requests for commands and markers, and answers for
/// output. It owns the facts of the session.
#[derive(Debug, Default)]
pub struct WebReader {
    /// Clues of complete requests whose answers are still to come, oldest first (only
    /// requests the HTTP reader was told are worth an answer are queued).
    waiting: std::collections::VecDeque<Clues>,
    facts: WebFacts,
    seen_commands: Vec<String>,
    dirty: bool,
}

impl WebReader {
    /// Whether the facts changed since the last call.
    pub fn changed(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn facts(&self) -> Option<WebFacts> {
        self.facts.notable().then(|| self.facts.clone())
    }
}

impl Listener for WebReader {
    fn request(&mut self, head: &RequestHead, body: &[u8]) -> bool {
        let Some(clues) = read_request(head, body) else { return false };
        if self.waiting.len() >= 16 {
            return false;
        }
        self.waiting.push_back(clues);
        true
    }

    fn response(&mut self, head: &ResponseHead, body: &[u8]) {
        let Some(clues) = self.waiting.pop_front() else { return };
        let Some(exchange) = pair(&clues, head, body) else {
            if !clues.commands.is_empty() {
                self.facts.unanswered_commands = self.facts.unanswered_commands.saturating_add(1);
            }
            return;
        };
        let f = &mut self.facts;
        if exchange.output.is_some() {
            f.paired = f.paired.saturating_add(1);
            if exchange.strong() {
                f.strong = f.strong.saturating_add(1);
            }
            if let Some(c) = &exchange.command {
                if !self.seen_commands.contains(&c.text) && self.seen_commands.len() < 64 {
                    self.seen_commands.push(c.text.clone());
                    f.distinct_commands = f.distinct_commands.saturating_add(1);
                }
            }
        }
        if exchange.family.is_some() {
            f.family_exchanges = f.family_exchanges.saturating_add(1);
        }
        if f.exchanges.len() < MAX_EXCHANGES {
            f.exchanges.push(exchange);
        }
        f.revision = f.revision.wrapping_add(1);
        self.dirty = true;
    }
}

/// A request's commands and markers; `None` when it has neither (its answer is not read).
fn read_request(head: &RequestHead, body: &[u8]) -> Option<Clues> {
    let query = head.target.split_once('?').map(|(_, q)| q);
    let mut params: Vec<Param<'_>> = Vec::new();
    if let Some(q) = query {
        form_pairs(q.as_bytes(), "query", &mut params);
    }
    let ct = head.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
    if !body.is_empty() {
        if ct.starts_with("application/x-www-form-urlencoded") || (ct.is_empty() && looks_like_form(body)) {
            form_pairs(body, "form", &mut params);
        } else if ct.starts_with("multipart/form-data") {
            multipart(body, &ct, &mut params);
        } else if ct.contains("json") {
            json_strings(body, "json", &mut params);
        } else if body.len() <= COMMAND_MAX {
            params.push(Param { name: "(body)".into(), place: "body", value: Cow::Borrowed(body) });
        }
    }
    for (name, value) in &head.extra {
        if name.eq_ignore_ascii_case("cookie") {
            for pair in value.split(';') {
                if let Some((n, v)) = pair.split_once('=') {
                    let value = injection::url_decoded(v.trim().as_bytes());
                    params.push(Param { name: n.trim().into(), place: "cookie", value });
                }
            }
        } else {
            params.push(Param { name: name.into(), place: "header", value: Cow::Borrowed(value.as_bytes()) });
        }
    }
    params.truncate(MAX_PARAMS);

    // Markers: in the target and body as sent and URL-decoded, and in decoded values.
    let mut families = Families::default();
    for raw in [head.target.as_bytes(), body] {
        if raw.is_empty() {
            continue;
        }
        families = families.or(markers::find(markers::Side::Request, raw));
        if let Cow::Owned(decoded) = injection::url_decoded(raw) {
            families = families.or(markers::find(markers::Side::Request, &decoded));
        }
    }
    let mut commands = Vec::new();
    for p in &params {
        let (plain, decoded) = decodings(&p.value);
        let decoded = decoded.map(|(encoding, text)| (encoding, Cow::Owned(text)));
        for (encoding, text) in std::iter::once((Encoding::Plain, plain)).chain(decoded) {
            if encoding != Encoding::Plain {
                families = families.or(markers::find(markers::Side::Request, text.as_bytes()));
            }
            if commands.len() < 4 {
                if let Some((line, words)) = typed_command(&text) {
                    commands.push(Command {
                        parameter: cut(&p.name, 64),
                        place: p.place,
                        encoding,
                        text: cut(line.trim(), QUOTE_MAX),
                        words,
                    });
                    break;
                }
            }
        }
    }
    if commands.is_empty() && families.is_empty() {
        return None;
    }
    Some(Clues { method: cut(&head.method, 16), uri: head.target.clone(), commands, families })
}

/// The exchange a request and its answer make, when the answer holds the output of the
/// request's command, or the family marker that answers the request's.
fn pair(clues: &Clues, head: &ResponseHead, body: &[u8]) -> Option<Exchange> {
    let texts = answer_views(body);
    let mut summary = output::Summary::default();
    let mut best_share = false;
    for t in &texts {
        let s = output::read(t);
        summary.kinds = summary.kinds.or(s.kinds);
        best_share |= s.mostly_output() && !s.kinds.is_empty();
    }
    // The command's output: a kind that command prints, in an answer that is mostly output.
    let mut matched: Option<(Kind, &Command)> = None;
    if best_share {
        for c in &clues.commands {
            let mut expected = Kinds::default();
            for w in &c.words {
                expected = expected.or(output::expected(w));
            }
            if let Some(k) = summary.kinds.and(expected).iter().next() {
                if matched.is_none_or(|(m, _)| !m.strong() && k.strong()) {
                    matched = Some((k, c));
                }
            }
        }
    }
    // A family's marker on both sides (or, for a family that wraps nothing, an answer).
    let mut answered = Families::default();
    for t in &texts {
        answered = answered.or(markers::find(markers::Side::Response, t.as_bytes()));
    }
    answered = answered.or(markers::find(markers::Side::Response, body));
    let ok = (200..300).contains(&head.status) && !body.is_empty();
    let mut family = clues.families.and(answered);
    if family.is_empty() && ok {
        family = clues.families.without_response_marker();
    }
    let family = family.first();
    if matched.is_none() && family.is_none() {
        return None;
    }
    let (path, query) = match clues.uri.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (clues.uri.clone(), None),
    };
    let command = matched.map(|(_, c)| c.clone()).or_else(|| clues.commands.first().cloned());
    Some(Exchange {
        method: clues.method.clone(),
        uri: cut(&clues.uri, 2048),
        path: cut(&path, 1024),
        query: query.map(|q| cut(&q, 1024)),
        command,
        status: head.status,
        output: matched.map(|(k, _)| k),
        family,
    })
}

/// The ways an answer's body may hold output: as sent, its visible text (HTML tags and
/// entities removed; family wrappers such as Chopper's `->|…|<-` taken as line breaks),
/// the string values of a JSON answer, and any of these base64-decoded.
fn answer_views(body: &[u8]) -> Vec<String> {
    let raw = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).into_owned();
    let mut views = Vec::new();
    let visible = if raw.contains('<') { visible_text(&raw) } else { raw.clone() };
    let visible = unwrap_framing(&visible);
    let trimmed = visible.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut strings = Vec::new();
        json_strings(trimmed.as_bytes(), "json", &mut strings);
        let mut joined = String::new();
        for p in &strings {
            let s = String::from_utf8_lossy(&p.value);
            match decode_base64(&s) {
                Some(d) => joined.push_str(&d),
                None => joined.push_str(&s),
            }
            joined.push('\n');
        }
        views.push(joined);
    }
    if let Some(d) = decode_base64(trimmed) {
        views.push(d);
    }
    views.push(visible);
    views
}

/// Output wrappers of the families in `markers` (Chopper's `->|` and `|<-`, b374k's
/// `{[|b374k|]}`): read as line breaks, so the output inside is lines of its own.
fn unwrap_framing(s: &str) -> String {
    if s.contains("->|") || s.contains("|<-") || s.contains("{[|b374k|]}") {
        s.replace("->|", "\n").replace("|<-", "\n").replace("{[|b374k|]}", "\n")
    } else {
        s.to_string()
    }
}

/// The text of an HTML page: tags removed (block tags and `<br>` as line breaks),
/// scripts and styles dropped, the usual entities decoded.
fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt..];
        let Some(gt) = after.find('>') else {
            out.push_str(after);
            rest = "";
            break;
        };
        let tag = after[1..gt].trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        rest = &after[gt + 1..];
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            match rest.to_ascii_lowercase().find(&close) {
                Some(end) => rest = &rest[end..],
                None => rest = "",
            }
            continue;
        }
        if matches!(
            name.as_str(),
            "br" | "p"
                | "div"
                | "pre"
                | "tr"
                | "li"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "table"
                | "textarea"
                | "td"
        ) {
            out.push('\n');
        }
    }
    out.push_str(rest);
    if out.contains('&') {
        out = out
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#039;", "'")
            .replace("&nbsp;", " ")
            .replace("&amp;", "&");
    }
    out
}

/// One request parameter: its name, where it was, and its value (URL-decoded where it
/// is URL-encoded; borrowed from the request when there was nothing to decode, as for
/// most values).
struct Param<'a> {
    name: Cow<'a, str>,
    place: &'static str,
    value: Cow<'a, [u8]>,
}

/// `name=value&…` pairs, URL-decoded.
fn form_pairs<'a>(s: &'a [u8], place: &'static str, out: &mut Vec<Param<'a>>) {
    for pair in s.split(|&c| c == b'&') {
        if out.len() >= MAX_PARAMS {
            return;
        }
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (&pair[..0], pair),
        };
        let name = match injection::url_decoded(name) {
            Cow::Borrowed(b) => String::from_utf8_lossy(b),
            Cow::Owned(v) => Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
        };
        out.push(Param { name, place, value: injection::url_decoded(value) });
    }
}

/// A body without a content type that reads as `name=value&name=value`.
fn looks_like_form(body: &[u8]) -> bool {
    let head = &body[..body.len().min(64)];
    let eq = memchr::memchr(b'=', head);
    eq.is_some_and(|i| i > 0 && head[..i].iter().all(|c| c.is_ascii_alphanumeric() || b"_-.[]".contains(c)))
}

/// The text parts of a multipart form (files up to a few KiB are read too: a command may
/// be uploaded as one).
fn multipart<'a>(body: &'a [u8], ct: &str, out: &mut Vec<Param<'a>>) {
    let Some(b) = ct.split(';').find_map(|p| p.trim().strip_prefix("boundary=")) else { return };
    let boundary = format!("--{}", b.trim_matches('"'));
    let finder = memchr::memmem::Finder::new(boundary.as_bytes());
    let starts: Vec<usize> = finder.find_iter(body).take(MAX_PARAMS + 1).collect();
    for w in starts.windows(2) {
        let part = &body[w[0] + boundary.len()..w[1]];
        let Some(split) = memchr::memmem::find(part, b"\r\n\r\n") else { continue };
        let headers = String::from_utf8_lossy(&part[..split]);
        let content = &part[split + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let name = headers
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name="))
            .map(|n| n.trim().trim_matches('"').to_string())
            .unwrap_or_default();
        if content.len() <= COMMAND_MAX {
            out.push(Param { name: name.into(), place: "multipart", value: Cow::Borrowed(content) });
        }
    }
}

/// String values of a JSON text (keys as names), unescaped; enough of JSON for this and
/// no more: nesting is walked through, numbers and literals skipped.
fn json_strings(s: &[u8], place: &'static str, out: &mut Vec<Param<'_>>) {
    let mut i = 0;
    let mut key: Option<String> = None;
    while i < s.len() && out.len() < MAX_PARAMS {
        match s[i] {
            b'"' => {
                let (text, end) = json_string(s, i + 1);
                i = end;
                // A string followed by `:` is a key.
                let mut j = i;
                while j < s.len() && s[j].is_ascii_whitespace() {
                    j += 1;
                }
                if s.get(j) == Some(&b':') {
                    key = Some(text);
                    i = j + 1;
                } else {
                    let name = key.take().unwrap_or_default().into();
                    out.push(Param { name, place, value: Cow::Owned(text.into_bytes()) });
                }
            }
            _ => i += 1,
        }
    }
}

/// A JSON string starting after its opening quote; returns it and the index after it.
fn json_string(s: &[u8], mut i: usize) -> (String, usize) {
    let mut out = Vec::new();
    while i < s.len() {
        match s[i] {
            b'"' => return (String::from_utf8_lossy(&out).into_owned(), i + 1),
            b'\\' if i + 1 < s.len() => {
                i += 1;
                match s[i] {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let hex = s.get(i + 1..i + 5).and_then(|h| std::str::from_utf8(h).ok());
                        if let Some(c) =
                            hex.and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32)
                        {
                            let mut b = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                            i += 4;
                        }
                    }
                    c => out.push(c),
                }
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
        if out.len() > 64 * 1024 {
            break;
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), i)
}

/// A value as sent, and base64- or hex-decoded when it reads as such.
fn decodings(value: &[u8]) -> (Cow<'_, str>, Option<(Encoding, String)>) {
    let text = String::from_utf8_lossy(value);
    let decoded = match decode_base64(&text) {
        Some(d) => Some((Encoding::Base64, d)),
        None => decode_hex(&text).map(|d| (Encoding::Hex, d)),
    };
    (text, decoded)
}

/// Decoding accepts a value with or without its padding.
const ANY_PADDING: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, ANY_PADDING);
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, ANY_PADDING);

/// Base64 (standard or URL-safe, padded or not) that decodes to mostly printable text.
pub fn decode_base64(s: &str) -> Option<String> {
    let t = s.trim();
    if t.len() < 4
        || t.len() > 64 * 1024
        || !t.bytes().all(|c| c.is_ascii_alphanumeric() || b"+/=-_\r\n".contains(&c))
        || t.bytes().all(|c| c.is_ascii_alphabetic())
        // A number is a number: ids, sizes, timestamps.
        || t.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let compact: Cow<'_, str> = if t.contains(['\r', '\n']) {
        Cow::Owned(t.chars().filter(|c| !c.is_ascii_whitespace()).collect())
    } else {
        Cow::Borrowed(t)
    };
    // The two alphabets differ in `+/` against `-_`; a value holds one pair or neither.
    let engine = if compact.contains(['-', '_']) { &URL_SAFE_ANY_PADDING } else { &STANDARD_ANY_PADDING };
    let bytes = engine.decode(compact.as_bytes()).ok()?;
    printable(&bytes).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

fn decode_hex(s: &str) -> Option<String> {
    let t = s.trim();
    if t.len() < 8 || t.len() % 2 != 0 || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> =
        (0..t.len()).step_by(2).filter_map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok()).collect();
    printable(&bytes).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// Mostly printable text (what a command or its output is).
fn printable(b: &[u8]) -> bool {
    if b.is_empty() {
        return false;
    }
    let ok = b
        .iter()
        .filter(|&&c| (0x20..0x7f).contains(&c) || matches!(c, b'\r' | b'\n' | b'\t') || c >= 0x80)
        .count();
    ok * 10 >= b.len() * 9
}

/// Interpreters that run the rest of their line as a command.
const WRAPPERS: &[&str] = &["cmd", "powershell", "pwsh", "sh", "bash", "dash", "zsh"];

/// The command line a value holds, with its command words: some segment (split at `;`,
/// `|`, `&` and line ends) starts with a shell command (as `tells::classify_line` reads a
/// typed line; Windows names without `.exe`, any case), and `cmd /c …`, `sh -c …` and
/// `powershell -c …` are read inside.
pub fn typed_command(value: &str) -> Option<(String, Vec<String>)> {
    // Every command has a letter in it: numbers and punctuation are never one.
    if !value.bytes().any(|c| c.is_ascii_alphabetic())
        || value.len() > COMMAND_MAX
        || !printable(value.as_bytes())
    {
        return None;
    }
    let normal = injection::normalise(value);
    let mut words: Vec<String> = Vec::new();
    for segment in normal.split([';', '|', '&', '\n', '\r']).take(16) {
        collect_words(segment, &mut words, 0);
    }
    (!words.is_empty()).then(|| (value.to_string(), words))
}

fn collect_words(segment: &str, words: &mut Vec<String>, depth: u8) {
    let seg = segment.trim().trim_start_matches(['(', '{', '`', '$', '@']);
    let mut parts = seg.splitn(2, char::is_whitespace);
    let first = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("").trim();
    let word = command_word(first);
    if word.is_empty() {
        return;
    }
    let line = if rest.is_empty() { word.clone() } else { format!("{word} {rest}") };
    if tells::classify_line(line.as_bytes()) == LineKind::Other {
        return;
    }
    if words.len() < 16 && !words.contains(&word) {
        words.push(word.clone());
    }
    // `cmd /c whoami`, `sh -c 'id'`, `powershell -c whoami`: the command inside counts.
    if depth == 0 && WRAPPERS.contains(&word.as_str()) {
        let inner = rest
            .split_whitespace()
            .skip_while(|a| a.starts_with('/') && a.len() <= 3 || a.starts_with('-'))
            .collect::<Vec<_>>()
            .join(" ");
        collect_words(inner.trim_matches(['"', '\'']), words, 1);
    }
}

/// A first word as the command tables list it: its last path component, lower case,
/// without a Windows executable suffix.
fn command_word(first: &str) -> String {
    let last = first.rsplit(['/', '\\']).next().unwrap_or(first);
    let lower = last.to_ascii_lowercase();
    let stem = lower
        .strip_suffix(".exe")
        .or_else(|| lower.strip_suffix(".com"))
        .or_else(|| lower.strip_suffix(".bat"))
        .unwrap_or(&lower);
    stem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, target: &str, ct: Option<&str>) -> RequestHead {
        RequestHead {
            method: method.into(),
            target: target.into(),
            content_type: ct.map(str::to_string),
            ..Default::default()
        }
    }

    fn ok(ct: &str) -> ResponseHead {
        ResponseHead { status: 200, content_type: Some(ct.into()), content_encoding: None }
    }

    fn exchange(req: &RequestHead, body: &[u8], answer: &[u8]) -> Option<Exchange> {
        let clues = read_request(req, body)?;
        pair(&clues, &ok("text/html"), answer)
    }

    #[test]
    fn commands_are_read_in_their_wrappings() {
        let words = |v: &str| typed_command(v).map(|(_, w)| w);
        assert_eq!(words("id"), Some(vec!["id".to_string()]));
        assert_eq!(words("cat /etc/passwd | head"), Some(vec!["cat".to_string(), "head".to_string()]));
        assert_eq!(words("cmd.exe /c whoami"), Some(vec!["cmd".to_string(), "whoami".to_string()]));
        assert_eq!(words("cd \"/var/www\";whoami;echo [S];pwd;echo [E]").unwrap()[1], "whoami");
        assert_eq!(words("127.0.0.1; uname -a"), Some(vec!["uname".to_string()]));
        assert_eq!(words("status"), None);
        assert_eq!(words("cleanup-tmp"), None);
        assert_eq!(words("@eval(base64_decode($_POST['z0']));"), None);
        let req = head("POST", "/u/cache.php", Some("application/x-www-form-urlencoded"));
        let clues = read_request(&req, b"c=d2hvYW1p").unwrap();
        assert_eq!(clues.commands[0].encoding, Encoding::Base64);
        assert_eq!(clues.commands[0].text, "whoami");
        assert_eq!(clues.commands[0].parameter, "c");
    }

    #[test]
    fn a_command_and_its_output_pair() {
        let req = head("GET", "/uploads/img.php?cmd=id", None);
        let e = exchange(&req, b"", b"<pre>uid=33(www-data) gid=33(www-data) groups=33(www-data)\n</pre>")
            .unwrap();
        assert_eq!(e.output, Some(Kind::Uid));
        assert_eq!(e.command.as_ref().unwrap().parameter, "cmd");
        assert_eq!(e.path, "/uploads/img.php");
        let req = head("GET", "/x.php?cmd=whoami", None);
        assert_eq!(exchange(&req, b"", b"d3d3LWRhdGEK").unwrap().output, Some(Kind::ServiceIdentity));
        // The command's output must be what came back: `id` answered with a listing is not.
        let req = head("GET", "/x.php?cmd=id", None);
        assert!(exchange(&req, b"", b"drwxr-xr-x 2 a a 1 Jan 1 x\n-rw-r--r-- 1 a a 1 Jan 1 y\n").is_none());
    }

    #[test]
    fn a_search_answered_with_prose_is_no_pairing() {
        let req = head("GET", "/search?q=id", None);
        let mut page = String::from("<html><body><h1>Results</h1>");
        for i in 0..30 {
            page += &format!("<p>Result {i}: the id command prints user and group ids.</p>");
        }
        page += "<pre>$ id\nuid=0(root) gid=0(root) groups=0(root)</pre></body></html>";
        assert!(exchange(&req, b"", page.as_bytes()).is_none());
        // A REST API whose parameter values are words, answered with JSON.
        let req = head("GET", "/api/run?cmd=status", None);
        assert!(read_request(&req, b"").is_none());
        let req = head("GET", "/api/items?sort=id", None);
        assert!(exchange(&req, b"", b"{\"items\":[{\"id\":1,\"name\":\"a\"}]}").is_none());
    }

    #[test]
    fn a_family_pairs_by_its_markers() {
        let req = head("POST", "/conn.php", Some("application/x-www-form-urlencoded"));
        let body = b"caidao=%40eval%28base64_decode%28%24_POST%5B%27z0%27%5D%29%29%3B&z0=QGluaV9zZXQo";
        let e = exchange(&req, body, b"->|/var/www\tLinux\t|<-").unwrap();
        assert_eq!(e.family, Some("china-chopper"));
    }

    #[test]
    fn json_answers_with_base64_values_are_read() {
        let req = head("POST", "/shell.php?feature=shell", Some("application/x-www-form-urlencoded"));
        let e = exchange(
            &req,
            b"cmd=id&cwd=%2Fvar%2Fwww",
            b"{\"stdout\":\"dWlkPTMzKHd3dy1kYXRhKSBnaWQ9MzMod3d3LWRhdGEpCg==\",\"cwd\":\"L3Zhci93d3c=\"}",
        )
        .unwrap();
        assert_eq!(e.output, Some(Kind::Uid));
    }
}
