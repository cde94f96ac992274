//! HTTP/1.x and HTTP/2 in clear, and HTTP CONNECT, which opens a tunnel through a proxy.

use super::{contains, first_line, when, On, Protocol, Row, Strength};

pub const HTTP: Row = Row {
    ports: &[(80, 80), (8000, 8000), (8008, 8008), (8080, 8081), (9200, 9200)],
    to_server: Some(request),
    to_client: Some(response),
    ..super::row(Protocol::Http, "http", On::Tcp)
};

pub const HTTP_CONNECT: Row = Row {
    ports: &[(3128, 3128), (8080, 8080), (8118, 8118)],
    to_server: Some(connect),
    to_client: Some(response),
    ..super::row(Protocol::HttpConnect, "http-connect", On::Tcp)
};

const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"REPORT ",
    b"SEARCH ",
];

/// A request line (`GET /x HTTP/1.1`), or the HTTP/2 connection preface. A cut line still
/// counts when the method and a path are there.
pub fn request(b: &[u8], _wire: u32) -> Option<Strength> {
    if b.starts_with(b"PRI * HTTP/2.0\r\n") {
        return Some(Strength::Strong);
    }
    let m = METHODS.iter().find(|m| b.starts_with(m))?;
    let rest = &b[m.len()..];
    let target = matches!(rest.first(), Some(b'/' | b'*'))
        || rest.starts_with(b"http://")
        || rest.starts_with(b"https://");
    match first_line(b, 8192) {
        Some(line) => when(target && contains(line, b" HTTP/"), Strength::Strong),
        None => when(target, Strength::Weak),
    }
}

/// A status line: `HTTP/1.1 200 OK`.
pub fn response(b: &[u8], _wire: u32) -> Option<Strength> {
    let ok = (b.starts_with(b"HTTP/1.") || b.starts_with(b"HTTP/2 "))
        && b.get(9..12).is_some_and(|code| code.iter().all(u8::is_ascii_digit));
    when(ok, Strength::Strong)
}

/// `CONNECT host:port HTTP/1.1`.
fn connect(b: &[u8], _wire: u32) -> Option<Strength> {
    when(
        b.starts_with(b"CONNECT ") && first_line(b, 2048).is_some_and(|l| contains(l, b" HTTP/1.")),
        Strength::Strong,
    )
}
