//! Real-time media and signalling: RTMP, RTP and RTCP (SRTP keeps RTP's header), SIP.

use super::{be16, contains, first_line, when, On, Protocol, Row, Strength};

pub const RTMP: Row = Row {
    ports: &[(1935, 1935)],
    to_server: Some(rtmp_handshake),
    to_client: Some(rtmp_handshake),
    ..super::row(Protocol::Rtmp, "rtmp", On::Tcp)
};

pub const RTP: Row =
    Row { to_server: Some(rtp), to_client: Some(rtp), ..super::row(Protocol::Rtp, "rtp", On::Udp) };

pub const RTCP: Row =
    Row { to_server: Some(rtcp), to_client: Some(rtcp), ..super::row(Protocol::Rtcp, "rtcp", On::Udp) };

pub const SIP: Row = Row {
    ports: &[(5060, 5061)],
    to_server: Some(sip),
    to_client: Some(sip),
    ..super::row(Protocol::Sip, "sip", On::Both)
};

/// C0 (version 3, or 6 for RTMPE) then the 1536-byte C1/S1: time, then four zero bytes
/// in the simple handshake. The first segment is most of 1537 bytes.
fn rtmp_handshake(b: &[u8], wire: u32) -> Option<Strength> {
    if !matches!(b[0], 3 | 6) || wire < 1200 {
        return None;
    }
    Some(if b.get(5..9) == Some(&[0, 0, 0, 0]) { Strength::Strong } else { Strength::Weak })
}

/// RTP: version 2, a payload type outside RTCP's range, a 12-byte header at least. Most
/// binary data fits that; the stream's next packet, with the same source and the next
/// sequence number, is what names it (`rtp_follows`).
fn rtp(b: &[u8], wire: u32) -> Option<Strength> {
    let pt = *b.get(1)? & 0x7f;
    when(b[0] >> 6 == 2 && wire >= 12 && !(72..=79).contains(&pt) && super::binary(b), Strength::OnPort)
}

/// `next` is the packet after `first` in one RTP stream: both version 2 with the same
/// payload type and synchronisation source, sequence numbers 1 to 3 apart.
pub fn rtp_follows(first: &[u8], next: &[u8]) -> bool {
    let (Some(a), Some(b)) = (first.get(..12), next.get(..12)) else { return false };
    let seq = |h: &[u8]| u16::from_be_bytes([h[2], h[3]]);
    a[0] >> 6 == 2
        && b[0] >> 6 == 2
        && a[1] & 0x7f == b[1] & 0x7f
        && a[8..12] == b[8..12]
        && (1..=3).contains(&seq(b).wrapping_sub(seq(a)))
}

/// RTCP: version 2, a packet type 192–207, and a length in 32-bit words that fits; exact
/// (one packet, or a compound whose lengths add up) is strong.
fn rtcp(b: &[u8], wire: u32) -> Option<Strength> {
    if b.len() < 4 || b[0] >> 6 != 2 || !(192..=207).contains(&b[1]) {
        return None;
    }
    let mut at = 0usize;
    while at + 4 <= b.len() && at < wire as usize {
        let len = (be16(b, at + 2)? as usize + 1) * 4;
        at += len;
    }
    if at == wire as usize {
        Some(Strength::Strong)
    } else {
        when(((be16(b, 2)? as u32) + 1) * 4 <= wire, Strength::Weak)
    }
}

const SIP_METHODS: &[&[u8]] = &[
    b"INVITE ",
    b"REGISTER ",
    b"OPTIONS ",
    b"ACK ",
    b"BYE ",
    b"CANCEL ",
    b"SUBSCRIBE ",
    b"NOTIFY ",
    b"MESSAGE ",
    b"INFO ",
    b"PRACK ",
    b"UPDATE ",
    b"REFER ",
    b"PUBLISH ",
];

/// A request line ending in `SIP/2.0`, or a status line starting with it.
fn sip(b: &[u8], _wire: u32) -> Option<Strength> {
    let line = first_line(b, 1024)?;
    let request = SIP_METHODS.iter().any(|m| line.starts_with(m))
        && line.ends_with(b"SIP/2.0")
        && contains(line, b"sip");
    when(request || line.starts_with(b"SIP/2.0 "), Strength::Strong)
}
