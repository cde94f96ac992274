//! STUN and TURN (RFC 5389/8489/8656), over UDP or TCP: the ICE checks of WebRTC calls,
//! and TURN's ChannelData relaying.

use super::{be16, be32, when, On, Protocol, Row, Strength};

pub const STUN: Row = Row {
    ports: &[(3478, 3479), (5349, 5350), (19302, 19309)],
    to_server: Some(stun),
    to_client: Some(stun),
    ..super::row(Protocol::Stun, "stun", On::Both)
};

const MAGIC_COOKIE: u32 = 0x2112_a442;

/// A STUN message (the two top bits clear, a length that is a multiple of 4 and fits, the
/// magic cookie), a classic RFC 3489 one (binding request or answer, exact length), or a
/// TURN ChannelData message (channel 0x4000–0x7fff, a length the datagram holds, padded to
/// 4 at most).
fn stun(b: &[u8], wire: u32) -> Option<Strength> {
    // Over TCP, some clients frame each message with a 2-byte length (RFC 4571).
    if be16(b, 0).is_some_and(|n| n as u32 + 2 == wire && wire > 22) && be32(b, 6) == Some(MAGIC_COOKIE) {
        return stun(&b[2..], wire - 2);
    }
    let ty = be16(b, 0)?;
    let len = be16(b, 2)? as u32;
    if ty & 0xc000 == 0 && 20 + len <= wire {
        // The cookie is enough; some clients (WhatsApp's) pad oddly or add a trailer.
        if be32(b, 4)? == MAGIC_COOKIE {
            return Some(Strength::Strong);
        }
        return when(
            len % 4 == 0 && matches!(ty, 0x0001 | 0x0101 | 0x0111) && 20 + len == wire,
            Strength::Weak,
        );
    }
    when((0x4000..=0x7fff).contains(&ty) && wire >= 4 + len && wire - 4 - len <= 3, Strength::Weak)
}
