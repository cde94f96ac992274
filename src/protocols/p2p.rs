//! Peer to peer and games: BitTorrent (the peer wire, the DHT and uTP), Bitcoin's peer
//! protocol, Gnutella, and KCP, the reliable-UDP layer many games and tunnels use. Peers
//! push to each other on their own schedule: no shell's order of speech.

use super::{le32, when, On, Protocol, Row, Strength};

pub const BITCOIN: Row = Row {
    ports: &[(8333, 8333), (18333, 18333)],
    to_server: Some(bitcoin),
    to_client: Some(bitcoin),
    ..super::row(Protocol::Bitcoin, "bitcoin", On::Tcp)
};

pub const GNUTELLA: Row = Row {
    ports: &[(6346, 6347)],
    to_server: Some(gnutella),
    to_client: Some(gnutella),
    ..super::row(Protocol::Gnutella, "gnutella", On::Tcp)
};

/// A Bitcoin message: a network's magic (main, testnet3, signet, regtest), then a
/// NUL-padded ASCII command of 12 bytes.
fn bitcoin(b: &[u8], _wire: u32) -> Option<Strength> {
    const MAGICS: [[u8; 4]; 4] = [
        [0xf9, 0xbe, 0xb4, 0xd9],
        [0x0b, 0x11, 0x09, 0x07],
        [0x0a, 0x03, 0xcf, 0x40],
        [0xfa, 0xbf, 0xb5, 0xda],
    ];
    let magic = b.get(..4)?;
    let command = b.get(4..16)?;
    let name_len = command.iter().position(|&c| c == 0).unwrap_or(12);
    let ascii = name_len > 0
        && command[..name_len].iter().all(u8::is_ascii_lowercase)
        && command[name_len..].iter().all(|&c| c == 0);
    when(MAGICS.iter().any(|m| m == magic) && ascii, Strength::Strong)
}

/// `GNUTELLA CONNECT/0.6` and its answer `GNUTELLA/0.6 200 OK`.
fn gnutella(b: &[u8], _wire: u32) -> Option<Strength> {
    when(b.starts_with(b"GNUTELLA CONNECT/") || b.starts_with(b"GNUTELLA/0."), Strength::Strong)
}

pub const BITTORRENT: Row = Row {
    ports: &[(6881, 6889), (51413, 51413)],
    to_server: Some(bittorrent),
    to_client: Some(bittorrent),
    ..super::row(Protocol::Bittorrent, "bittorrent", On::Both)
};

pub const KCP: Row =
    Row { to_server: Some(kcp), to_client: Some(kcp), ..super::row(Protocol::Kcp, "kcp", On::Udp) };

/// The peer-wire handshake, a bencoded DHT message, or a uTP header (version 1, a packet
/// type 0–4, an extension byte, 20 bytes at least: weak).
fn bittorrent(b: &[u8], wire: u32) -> Option<Strength> {
    if b.starts_with(b"\x13BitTorrent protocol") {
        return Some(Strength::Strong);
    }
    let head = &b[..b.len().min(64)];
    if head.starts_with(b"d1:")
        && (super::contains(head, b"1:y1:")
            || super::contains(head, b"1:q")
            || super::contains(head, b"2:id20:"))
    {
        return Some(Strength::Strong);
    }
    when(
        b[0] & 0x0f == 1 && b[0] >> 4 <= 4 && *b.get(1)? <= 3 && wire >= 20 && super::binary(b),
        Strength::Weak,
    )
}

/// A KCP segment: conversation id, a command (push, ack, window probe or answer), a
/// fragment count, and a data length that fits: exactly one segment, or several.
fn kcp(b: &[u8], wire: u32) -> Option<Strength> {
    let mut at = 0usize;
    let mut segments = 0;
    while at + 24 <= b.len() && at < wire as usize {
        let cmd = b[at + 4];
        if !(81..=84).contains(&cmd) || le32(b, at)? != le32(b, 0)? {
            return None;
        }
        at += 24 + le32(b, at + 20)? as usize;
        segments += 1;
    }
    when(segments > 0 && at == wire as usize, Strength::Strong)
}
