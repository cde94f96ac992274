//! SOCKS 4, 4a and 5: a client asks a proxy to connect it onwards.

use super::{when, On, Protocol, Row, Strength};

pub const SOCKS: Row = Row {
    ports: &[(1080, 1080), (9050, 9050), (9150, 9150)],
    to_server: Some(socks_request),
    to_client: Some(socks_reply),
    ..super::row(Protocol::Socks, "socks", On::Tcp)
};

/// SOCKS5's greeting (version 5, n methods, the n method codes, nothing more), or a
/// SOCKS4 request (version 4, CONNECT or BIND, port, address, a NUL-terminated user id).
fn socks_request(b: &[u8], wire: u32) -> Option<Strength> {
    match b[0] {
        5 => {
            let n = *b.get(1)? as u32;
            let methods = b.get(2..2 + n as usize)?;
            when(
                (1..=8).contains(&n) && wire == 2 + n && methods.iter().all(|&m| m <= 3 || m >= 0x80),
                Strength::Weak,
            )
        }
        4 => when(
            wire >= 9 && matches!(b.get(1)?, 1 | 2) && b.len() as u32 == wire && b.last() == Some(&0),
            Strength::Weak,
        ),
        _ => None,
    }
}

/// SOCKS5's method choice (version 5 and a method, two bytes) or a SOCKS4 reply (0, a
/// status 90–93, port and address: eight bytes).
fn socks_reply(b: &[u8], wire: u32) -> Option<Strength> {
    match (b[0], wire) {
        (5, 2) => when(matches!(b.get(1)?, 0..=3 | 0xff), Strength::Weak),
        (0, 8) => when(matches!(b.get(1)?, 90..=93), Strength::Weak),
        _ => None,
    }
}
