//! Databases and caches: MySQL, PostgreSQL, Redis, MongoDB, SQL Server, Oracle, memcached.
//! People type into database shells, so turn-taking on them is ordinary.

use super::{be16, be32, contains, le32, when, On, Protocol, Row, Strength, Traits, NO_TRAITS};

const INTERACTIVE: Traits = Traits { interactive: true, ..NO_TRAITS };

pub const MYSQL: Row = Row {
    ports: &[(3306, 3306)],
    to_server: Some(mysql_client),
    to_client: Some(mysql_greeting),
    traits: Traits { interactive: true, server_first: true, ..NO_TRAITS },
    ..super::row(Protocol::Mysql, "mysql", On::Tcp)
};

pub const POSTGRESQL: Row = Row {
    ports: &[(5432, 5432)],
    to_server: Some(postgres_startup),
    to_client: Some(postgres_server),
    traits: INTERACTIVE,
    ..super::row(Protocol::Postgresql, "postgresql", On::Tcp)
};

pub const REDIS: Row = Row {
    ports: &[(6379, 6379)],
    to_server: Some(redis_client),
    to_client: Some(redis_server),
    traits: INTERACTIVE,
    ..super::row(Protocol::Redis, "redis", On::Tcp)
};

pub const MONGODB: Row = Row {
    ports: &[(27017, 27019)],
    to_server: Some(mongodb),
    to_client: Some(mongodb),
    traits: INTERACTIVE,
    ..super::row(Protocol::Mongodb, "mongodb", On::Tcp)
};

pub const MSSQL: Row = Row {
    ports: &[(1433, 1433)],
    to_server: Some(tds),
    to_client: Some(tds),
    traits: INTERACTIVE,
    ..super::row(Protocol::Mssql, "mssql", On::Tcp)
};

pub const ORACLE: Row = Row {
    ports: &[(1521, 1521)],
    to_server: Some(tns),
    to_client: Some(tns),
    traits: INTERACTIVE,
    ..super::row(Protocol::Oracle, "oracle", On::Tcp)
};

pub const MEMCACHED: Row = Row {
    ports: &[(11211, 11211)],
    to_server: Some(memcached_client),
    to_client: Some(memcached_server),
    traits: INTERACTIVE,
    ..super::row(Protocol::Memcached, "memcached", On::Both)
};

/// A MySQL packet header: 3-byte little-endian length (the segment holds the packet) and
/// a sequence number.
fn mysql_packet(b: &[u8], wire: u32) -> Option<(u32, u8)> {
    let len = le32(b, 0)? & 0x00ff_ffff;
    (len + 4 == wire || (len + 4 > wire && len < 1 << 24 && wire >= 1200)).then_some((len, b[3]))
}

/// The server's greeting (sequence 0, protocol 10, a NUL-terminated version), or an
/// error packet at sequence 0 (`Host … is not allowed to connect`).
fn mysql_greeting(b: &[u8], wire: u32) -> Option<Strength> {
    let (_, seq) = mysql_packet(b, wire)?;
    let body = b.get(4..)?;
    let version = body.get(1..body.len().min(40)).unwrap_or_default();
    let greeting = body.first() == Some(&0x0a)
        && version.contains(&0)
        && version.first().is_some_and(u8::is_ascii_digit);
    when(seq == 0 && (greeting || body.first() == Some(&0xff)), Strength::Strong)
}

/// The client's login (or SSL) request: sequence 1 and a capability word with
/// CLIENT_PROTOCOL_41.
fn mysql_client(b: &[u8], wire: u32) -> Option<Strength> {
    let (len, seq) = mysql_packet(b, wire)?;
    let caps = le32(b, 4)?;
    when(seq == 1 && len >= 32 && caps & 0x200 != 0, Strength::Weak)
}

/// StartupMessage (protocol 3.0), SSLRequest, GSSENCRequest or CancelRequest: a 4-byte
/// length that is the whole message, then the code.
fn postgres_startup(b: &[u8], wire: u32) -> Option<Strength> {
    let len = be32(b, 0)?;
    let code = be32(b, 4)?;
    when(len == wire && matches!(code, 0x0003_0000 | 80_877_102..=80_877_104), Strength::Strong)
}

/// The server's first message: `S`/`N` answering SSLRequest (one byte, weak alone), an
/// authentication request `R`, an error `E`.
fn postgres_server(b: &[u8], wire: u32) -> Option<Strength> {
    match b[0] {
        // The answer to SSLRequest (S, N) or GSSENCRequest (G, N).
        b'S' | b'N' | b'G' if wire == 1 => Some(Strength::Weak),
        b'R' => {
            let len = be32(b, 1)?;
            let kind = be32(b, 5)?;
            when((8..=1024).contains(&len) && kind <= 12, Strength::Strong)
        }
        b'E' => when(be32(b, 1)? < wire && contains(&b[..b.len().min(64)], b"SFATAL"), Strength::Strong),
        _ => None,
    }
}

/// RESP as every client sends it: an array of bulk strings, `*2\r\n$3\r\nGET…`; or an
/// inline command.
fn redis_client(b: &[u8], _wire: u32) -> Option<Strength> {
    let array =
        b.len() >= 6 && b[0] == b'*' && b[1].is_ascii_digit() && contains(&b[..b.len().min(8)], b"\r\n$");
    let inline = [&b"PING\r\n"[..], b"AUTH ", b"INFO\r\n", b"HELLO "].iter().any(|p| b.starts_with(p));
    when(array, Strength::Strong).or(when(inline, Strength::Weak))
}

/// RESP replies: simple strings, errors, integers, bulk strings, arrays.
fn redis_server(b: &[u8], _wire: u32) -> Option<Strength> {
    let strong = [&b"+OK\r\n"[..], b"+PONG\r\n", b"-ERR ", b"-NOAUTH ", b"-WRONGTYPE "];
    if strong.iter().any(|p| b.starts_with(p)) {
        return Some(Strength::Strong);
    }
    when(
        matches!(b[0], b'+' | b'-' | b':' | b'$' | b'*' | b'%' | b'_')
            && contains(&b[..b.len().min(32)], b"\r\n"),
        Strength::Weak,
    )
}

/// A MongoDB wire message: length, request id, response to, and a known opcode.
fn mongodb(b: &[u8], wire: u32) -> Option<Strength> {
    let len = le32(b, 0)?;
    let op = le32(b, 12)?;
    let known = matches!(op, 1 | 2001..=2007 | 2010..=2013);
    when(known && len >= 16 && (len == wire || (len > wire && len <= 48 << 20)), Strength::Strong)
}

/// A TDS packet: type (SQL batch, RPC, login, pre-login, tabular result …), status, and a
/// big-endian length that the segment holds.
fn tds(b: &[u8], wire: u32) -> Option<Strength> {
    let len = be16(b, 2)? as u32;
    when(
        matches!(b[0], 0x01 | 0x03 | 0x04 | 0x07 | 0x0e | 0x10 | 0x12)
            && b[1] <= 0x1f
            && len == wire
            && len >= 8,
        Strength::Weak,
    )
}

/// A TNS packet: length, checksum 0, a packet type (connect, accept, refuse, redirect,
/// data …) and a connect string.
fn tns(b: &[u8], wire: u32) -> Option<Strength> {
    let len = be16(b, 0)? as u32;
    let ty = *b.get(4)?;
    let sane = len <= wire.max(8) && be16(b, 2)? == 0 && matches!(ty, 1..=6 | 11..=14);
    when(sane && contains(b, b"(DESCRIPTION="), Strength::Strong)
        .or(when(sane && len == wire, Strength::Weak))
}

fn memcached_client(b: &[u8], _wire: u32) -> Option<Strength> {
    let verbs: [&[u8]; 8] =
        [b"get ", b"gets ", b"set ", b"add ", b"delete ", b"incr ", b"stats\r\n", b"version\r\n"];
    when(verbs.iter().any(|v| b.starts_with(v)) && contains(&b[..b.len().min(300)], b"\r\n"), Strength::Weak)
}

fn memcached_server(b: &[u8], _wire: u32) -> Option<Strength> {
    let replies: [&[u8]; 6] = [b"VALUE ", b"STORED\r\n", b"END\r\n", b"VERSION ", b"STAT ", b"NOT_FOUND\r\n"];
    when(replies.iter().any(|v| b.starts_with(v)), Strength::Weak)
}
