//! TLS handshake facts, read from the reassembled first bytes of one direction of a TCP
//! session: from the client's ClientHello the SNI, ALPN, offered versions and the JA4
//! fingerprint; from the server's first flight the chosen version and cipher and, on
//! TLS 1.2 and older where it is still in clear, the first certificate's subject, issuer
//! and whether it is self-issued. Facts only: `verdict` weighs them.
//!
//! Records and handshake messages are parsed with rusticata's `tls-parser`, the
//! certificate with `x509-parser`. This module only joins the handshake bytes of
//! consecutive records (a message may span records) and decides, when the bytes end,
//! whether more could complete the message (`NeedMore`) or the stream is not a TLS
//! handshake at all (`NotTls`). It is called once per session per direction on at most a
//! few KiB, so it allocates freely; it never panics on any input.

use serde::Serialize;
use sha2::{Digest, Sha256};
use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_extension_unknown, parse_tls_message_handshake,
    parse_tls_record_header, parse_tls_server_hello_extension, SNIType, TlsClientHelloContents, TlsExtension,
    TlsMessage, TlsMessageHandshake, TlsRecordType, MAX_RECORD_LEN,
};
use x509_parser::parse_x509_certificate;

/// What the client offered in its ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientHello {
    /// The first host_name of the server_name extension.
    pub sni: Option<String>,
    /// The ALPN protocol names in the order offered (lossy UTF-8).
    pub alpn: Vec<String>,
    /// Offered versions: the supported_versions extension without GREASE, in the order
    /// offered, or else the legacy ClientHello version alone.
    pub versions: Vec<u16>,
    /// FoxIO's JA4 TLS client fingerprint, e.g. `t13d1516h2_8daaf6152771_b186095e22b6`.
    pub ja4: String,
    /// Cipher suites offered, GREASE excluded (JA4 caps its own copy at 99).
    pub cipher_count: u16,
    /// Extensions present, GREASE excluded, SNI and ALPN included.
    pub extension_count: u16,
}

impl ClientHello {
    /// The server name the client asked for, if it is a name: some clients (socat, older
    /// libraries) put the IP literal they connect to in the SNI, which names nothing.
    pub fn server_name(&self) -> Option<&str> {
        self.sni.as_deref().filter(|n| n.parse::<std::net::IpAddr>().is_err())
    }
}

/// What the server chose in its ServerHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServerHello {
    /// The negotiated version: the supported_versions extension when present (TLS 1.3
    /// keeps 0x0303 in the legacy field), else the legacy version.
    pub version: u16,
    pub cipher: u16,
}

/// The server's first (leaf) certificate, as far as the sensor cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerCertificate {
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
    /// Subject DN equals issuer DN byte for byte (self-issued): what `openssl req -x509`
    /// and the listeners of most shell tools produce.
    pub self_signed: bool,
}

/// The answer for one direction's first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A TLS handshake so far, cut before the message ended: call again with more bytes.
    NeedMore,
    /// Not a TLS handshake (or one too malformed to read).
    NotTls,
    Done(T),
}

const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const HANDSHAKE_SERVER_HELLO: u8 = 2;
const HANDSHAKE_CERTIFICATE: u8 = 11;
const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;
const TLS13: u16 = 0x0304;

/// What a ClientHello offers, read even when the snaplen cut it after its cipher suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// Cipher suites offered (from the list's length: GREASE values included).
    pub ciphers: u16,
    /// A GREASE value among the suites that are visible (browsers send one; TLS libraries'
    /// defaults do not).
    pub grease: bool,
}

impl Offer {
    /// A TLS library's default offer (OpenSSL's dozens of suites, no GREASE), as tools such
    /// as ncat, socat, openssl s_client and python's `ssl` send it, rather than a browser's.
    pub fn library_default(&self) -> bool {
        self.ciphers >= 25 && !self.grease
    }
}

/// Reads the cipher suites of the ClientHello at the start of `buf`, which may end
/// anywhere after the suites' length (a snaplen of 256 keeps it).
pub fn client_offer(buf: &[u8]) -> Option<Offer> {
    // Record header (5), handshake header (4), version (2), random (32), session id.
    if buf.first() != Some(&0x16) || buf.get(1) != Some(&3) || buf.get(5) != Some(&HANDSHAKE_CLIENT_HELLO) {
        return None;
    }
    let sid = *buf.get(43)? as usize;
    let at = 44 + sid;
    let len = u16::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?]);
    if len % 2 != 0 || len == 0 {
        return None;
    }
    let visible = buf.get(at + 2..).unwrap_or_default();
    let visible = &visible[..visible.len().min(len as usize) & !1];
    let grease = visible.chunks_exact(2).any(|c| c[0] == c[1] && c[0] & 0x0f == 0x0a);
    Some(Offer { ciphers: len / 2, grease })
}

/// Reads the ClientHello at the start of the client's bytes.
///
/// `NeedMore` while the ClientHello is cut by the end of `buf`; a caller whose buffer is
/// already full (a ClientHello longer than the cap) treats that as no answer.
pub fn parse_client(buf: &[u8]) -> Parsed<ClientHello> {
    let stream = match handshake_stream(buf) {
        Some(stream) => stream,
        None => return Parsed::NotTls,
    };
    let whole = match next_message(&stream.bytes, HANDSHAKE_CLIENT_HELLO) {
        Next::Message { whole, .. } => whole,
        Next::Cut if stream.open => return Parsed::NeedMore,
        Next::Cut | Next::Other => return Parsed::NotTls,
    };
    match parse_tls_message_handshake(whole) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)))) => {
            Parsed::Done(client_hello_facts(&hello))
        }
        _ => Parsed::NotTls,
    }
}

/// Reads the server's first flight: the ServerHello and, on TLS <= 1.2, the first
/// certificate of the Certificate message that follows it when that is inside `buf`.
///
/// `complete` says `buf` holds all this direction will ever give (the session ended or
/// the capture cap was reached). It decides what a flight cut after the ServerHello
/// gives: `NeedMore` while more may come, else `Done` with no certificate. The
/// certificate is also `None` on TLS 1.3 (encrypted), when the server sends none
/// (resumption, anonymous suites) or when it cannot be parsed.
pub fn parse_server(buf: &[u8], complete: bool) -> Parsed<(ServerHello, Option<ServerCertificate>)> {
    let stream = match handshake_stream(buf) {
        Some(stream) => stream,
        None => return Parsed::NotTls,
    };
    let (whole, rest) = match next_message(&stream.bytes, HANDSHAKE_SERVER_HELLO) {
        Next::Message { whole, rest } => (whole, rest),
        Next::Cut if stream.open => return Parsed::NeedMore,
        Next::Cut | Next::Other => return Parsed::NotTls,
    };
    let hello = match server_hello_facts(whole) {
        Some(hello) => hello,
        None => return Parsed::NotTls,
    };
    if is_tls13(hello.version) {
        return Parsed::Done((hello, None));
    }
    match first_certificate(rest, stream.open) {
        FirstCertificate::Der(der) => Parsed::Done((hello, certificate_facts(der))),
        FirstCertificate::Cut if !complete => Parsed::NeedMore,
        FirstCertificate::Cut | FirstCertificate::Absent => Parsed::Done((hello, None)),
    }
}

/// The ECS `tls.version` text of a version number ("1.3"); SSL 3.0 is "3.0".
pub fn version_name(version: u16) -> &'static str {
    match version {
        0x0304 => "1.3",
        0x0303 => "1.2",
        0x0302 => "1.1",
        0x0301 => "1.0",
        0x0300 => "3.0",
        0x0002 => "2.0",
        _ => "unknown",
    }
}

/// The IANA name of a cipher suite (ECS `tls.cipher`), or its number in hex.
pub fn cipher_name(id: u16) -> String {
    match tls_parser::TlsCipherSuite::from_id(id) {
        Some(c) => c.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa. Clients sprinkle them into
/// every list so servers keep tolerating unknown values; JA4 ignores them everywhere.
fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

fn is_tls13(version: u16) -> bool {
    // 0x7fxx: the TLS 1.3 drafts, which some old servers still answer with.
    version == TLS13 || version >> 8 == 0x7f
}

/// The handshake-protocol bytes of the leading handshake records, joined.
struct HandshakeStream {
    bytes: Vec<u8>,
    /// `buf` ended inside or right after these records, so more handshake bytes may
    /// follow; false when a record of another type (ChangeCipherSpec, data) came next.
    open: bool,
}

/// Joins the payloads of the handshake records at the start of `buf`, keeping the part
/// of a last record that is cut off (the first certificate may lie inside it). `None`
/// when `buf` does not start like a TLS handshake record.
fn handshake_stream(buf: &[u8]) -> Option<HandshakeStream> {
    // Judge the first bytes before a whole header is in: 0x16 (handshake), major 3.
    if buf.first().is_some_and(|&b| b != u8::from(TlsRecordType::Handshake))
        || buf.get(1).is_some_and(|&b| b != 3)
    {
        return None;
    }
    let mut bytes = Vec::with_capacity(buf.len());
    let mut rest = buf;
    let mut first = true;
    loop {
        let Ok((body, header)) = parse_tls_record_header(rest) else {
            // Only Incomplete can fail here (the header is three plain fields).
            return Some(HandshakeStream { bytes, open: true });
        };
        let plausible = header.record_type == TlsRecordType::Handshake
            && header.version.0 >> 8 == 3
            && header.len <= MAX_RECORD_LEN;
        if !plausible {
            return if first { None } else { Some(HandshakeStream { bytes, open: false }) };
        }
        let len = usize::from(header.len).min(body.len());
        bytes.extend_from_slice(&body[..len]);
        if len < usize::from(header.len) || len == body.len() {
            return Some(HandshakeStream { bytes, open: true });
        }
        rest = &body[len..];
        first = false;
    }
}

enum Next<'a> {
    /// The whole message (header included) and the handshake bytes after it.
    Message { whole: &'a [u8], rest: &'a [u8] },
    /// The bytes end before the message does.
    Cut,
    /// A message of another type.
    Other,
}

/// Frames the handshake message at the start of `bytes` (type u8, length u24), which
/// must be of type `kind`; tls-parser's message parsers want the whole message.
fn next_message(bytes: &[u8], kind: u8) -> Next<'_> {
    match bytes.first() {
        None => return Next::Cut,
        Some(&first) if first != kind => return Next::Other,
        Some(_) => {}
    }
    let Some(header) = bytes.get(..4) else {
        return Next::Cut;
    };
    let end = 4 + u24(&header[1..]);
    match (bytes.get(..end), bytes.get(end..)) {
        (Some(whole), Some(rest)) => Next::Message { whole, rest },
        _ => Next::Cut,
    }
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// Each extension of an extension block as (type, whole extension including its
/// 4-byte header), so that every type counts for JA4 even where tls-parser cannot read
/// the content. Stops at the first extension whose length runs past the block.
fn extensions(mut block: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while let Ok((rest, TlsExtension::Unknown(kind, _))) = parse_tls_extension_unknown(block) {
        out.push((kind.0, &block[..block.len() - rest.len()]));
        block = rest;
    }
    out
}

fn client_hello_facts(hello: &TlsClientHelloContents) -> ClientHello {
    let ciphers: Vec<u16> = hello.ciphers.iter().map(|c| c.0).filter(|&c| !is_grease(c)).collect();
    let mut extension_types = Vec::new();
    let mut sni = None;
    let mut alpn: Option<Vec<&[u8]>> = None;
    let mut supported_versions: Option<Vec<u16>> = None;
    let mut signature_algorithms: Option<Vec<u16>> = None;
    for (kind, whole) in extensions(hello.ext.unwrap_or_default()) {
        if is_grease(kind) {
            continue;
        }
        extension_types.push(kind);
        // A repeated extension is a protocol error; the first one counts.
        match parse_tls_client_hello_extension(whole) {
            Ok((_, TlsExtension::SNI(names))) if sni.is_none() => {
                sni = names
                    .iter()
                    .find(|(kind, _)| *kind == SNIType::HostName)
                    .map(|(_, name)| String::from_utf8_lossy(name).into_owned());
            }
            Ok((_, TlsExtension::ALPN(protocols))) if alpn.is_none() => alpn = Some(protocols),
            Ok((_, TlsExtension::SupportedVersions(versions))) if supported_versions.is_none() => {
                supported_versions = Some(versions.iter().map(|v| v.0).collect());
            }
            Ok((_, TlsExtension::SignatureAlgorithms(algorithms))) if signature_algorithms.is_none() => {
                signature_algorithms = Some(algorithms);
            }
            _ => {}
        }
    }
    let alpn = alpn.unwrap_or_default();
    let mut versions: Vec<u16> =
        supported_versions.unwrap_or_default().into_iter().filter(|&v| !is_grease(v)).collect();
    if versions.is_empty() {
        versions.push(hello.version.0);
    }
    let signature_algorithms: Vec<u16> =
        signature_algorithms.unwrap_or_default().into_iter().filter(|&a| !is_grease(a)).collect();
    let ja4 = ja4(&Ja4Input {
        version: versions.iter().copied().max().unwrap_or(hello.version.0),
        has_sni: extension_types.contains(&EXT_SERVER_NAME),
        ciphers: &ciphers,
        extensions: &extension_types,
        first_alpn: alpn.first().copied(),
        signature_algorithms: &signature_algorithms,
    });
    ClientHello {
        sni,
        alpn: alpn.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect(),
        versions,
        ja4,
        cipher_count: u16::try_from(ciphers.len()).unwrap_or(u16::MAX),
        extension_count: u16::try_from(extension_types.len()).unwrap_or(u16::MAX),
    }
}

/// A ClientHello's fields as JA4 takes them, GREASE already removed.
struct Ja4Input<'a> {
    /// The highest offered version.
    version: u16,
    has_sni: bool,
    ciphers: &'a [u16],
    /// Extension types in the order they appear, SNI and ALPN included.
    extensions: &'a [u16],
    first_alpn: Option<&'a [u8]>,
    /// In the order they appear.
    signature_algorithms: &'a [u16],
}

/// JA4 (FoxIO, technical_details/JA4.md), TLS over TCP:
/// `t` + version + `d`|`i` (SNI or not) + cipher count + extension count + ALPN first and
/// last character, `_` + sha256[..12] of the sorted ciphers, `_` + sha256[..12] of the
/// sorted extensions without SNI and ALPN, then `_` and the signature algorithms as sent.
fn ja4(input: &Ja4Input) -> String {
    let version = match input.version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        _ => "00",
    };
    let destination = if input.has_sni { 'd' } else { 'i' };
    let mut ciphers = input.ciphers.to_vec();
    ciphers.sort_unstable();
    let mut extensions: Vec<u16> =
        input.extensions.iter().copied().filter(|&e| e != EXT_SERVER_NAME && e != EXT_ALPN).collect();
    extensions.sort_unstable();
    let extension_hash = if extensions.is_empty() {
        "000000000000".to_string()
    } else if input.signature_algorithms.is_empty() {
        hash12(&hex_list(&extensions))
    } else {
        let listed = hex_list(&extensions) + "_" + &hex_list(input.signature_algorithms);
        hash12(&listed)
    };
    let cipher_hash =
        if ciphers.is_empty() { "000000000000".to_string() } else { hash12(&hex_list(&ciphers)) };
    format!(
        "t{version}{destination}{:02}{:02}{}_{cipher_hash}_{extension_hash}",
        input.ciphers.len().min(99),
        input.extensions.len().min(99),
        alpn_marker(input.first_alpn),
    )
}

/// The first and last character of the first ALPN value, "00" if there is none; when
/// either end byte is not ASCII alphanumeric, the first and last hex digit of the value.
fn alpn_marker(first_alpn: Option<&[u8]>) -> String {
    let Some((&first, &last)) = first_alpn.and_then(|v| Some((v.first()?, v.last()?))) else {
        return "00".to_string();
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        format!("{}{}", char::from(first), char::from(last))
    } else {
        format!("{:x}{:x}", first >> 4, last & 0x0f)
    }
}

fn hex_list(values: &[u16]) -> String {
    let hex: Vec<String> = values.iter().map(|v| format!("{v:04x}")).collect();
    hex.join(",")
}

fn hash12(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn server_hello_facts(whole: &[u8]) -> Option<ServerHello> {
    let Ok((_, TlsMessage::Handshake(message))) = parse_tls_message_handshake(whole) else {
        return None;
    };
    match message {
        TlsMessageHandshake::ServerHello(hello) => {
            let chosen = extensions(hello.ext.unwrap_or_default()).into_iter().find_map(|(_, whole)| {
                match parse_tls_server_hello_extension(whole) {
                    Ok((_, TlsExtension::SupportedVersions(v))) => v.first().map(|v| v.0),
                    _ => None,
                }
            });
            Some(ServerHello { version: chosen.unwrap_or(hello.version.0), cipher: hello.cipher.0 })
        }
        TlsMessageHandshake::ServerHelloV13Draft18(hello) => {
            Some(ServerHello { version: hello.version.0, cipher: hello.cipher.0 })
        }
        _ => None,
    }
}

enum FirstCertificate<'a> {
    Der(&'a [u8]),
    /// A Certificate message whose first certificate the bytes cut off, or no message
    /// yet while more may come.
    Cut,
    /// The flight goes on without a Certificate message, or it is malformed.
    Absent,
}

/// The first certificate of the Certificate message at the start of `bytes`. Read from
/// its length prefixes rather than with tls-parser's message parser, which wants the
/// whole chain: a few-KiB capture cap often cuts a chain after its first certificate.
fn first_certificate(bytes: &[u8], open: bool) -> FirstCertificate<'_> {
    let cut = if open { FirstCertificate::Cut } else { FirstCertificate::Absent };
    match bytes.first() {
        None => return cut,
        Some(&kind) if kind != HANDSHAKE_CERTIFICATE => return FirstCertificate::Absent,
        Some(_) => {}
    }
    // type(1) length(3) | certificate_list length(3) | first certificate length(3) | DER
    let Some(prefix) = bytes.get(..10) else {
        return cut;
    };
    let (message_len, list_len, cert_len) = (u24(&prefix[1..]), u24(&prefix[4..]), u24(&prefix[7..]));
    if list_len + 3 > message_len || cert_len + 3 > list_len || cert_len == 0 {
        return FirstCertificate::Absent;
    }
    match bytes.get(10..10 + cert_len) {
        Some(der) => FirstCertificate::Der(der),
        None => cut,
    }
}

fn certificate_facts(der: &[u8]) -> Option<ServerCertificate> {
    let (_, cert) = parse_x509_certificate(der).ok()?;
    let common_name = |name: &x509_parser::x509::X509Name| {
        name.iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_string)
    };
    Some(ServerCertificate {
        subject_cn: common_name(cert.subject()),
        issuer_cn: common_name(cert.issuer()),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

#[cfg(test)]
mod tests;
