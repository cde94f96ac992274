//! Peer to peer and games: BitTorrent (the peer wire, the DHT and uTP) and KCP, the
//! reliable-UDP layer many games and tunnels use.

use super::{le32, when, On, Protocol, Row, Strength};

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
