//! QUIC: IETF versions 1 and 2, the drafts, Google's QUIC (its IETF-style Q046+ and its
//! older public-flags header), and the short-header packets that follow an Initial.

use super::{be32, when, On, Protocol, Row, Strength};

pub const QUIC: Row = Row {
    ports: &[(443, 443), (80, 80), (4433, 4433), (8443, 8443)],
    to_server: Some(quic),
    to_client: Some(quic),
    ..super::row(Protocol::Quic, "quic", On::Udp)
};

/// Versions this reads as QUIC: v1, v2, the IETF drafts (0xff0000xx), Google's `Q0xx` and
/// `T0xx`, Facebook's mvfst (0xfaceb00x), and the grease/negotiation forms 0x?a?a?a?a.
fn known_version(v: u32) -> bool {
    matches!(v, 0x0000_0001 | 0x6b33_43cf | 0x709a_50c4)
        || v >> 8 == 0x00ff_0000
        || v >> 16 == 0x5130 // "Q0"
        || v >> 16 == 0x5430 // "T0"
        || v >> 4 == 0x0fac_eb00
        || v & 0x0f0f_0f0f == 0x0a0a_0a0a
}

fn quic(b: &[u8], wire: u32) -> Option<Strength> {
    let first = b[0];
    if first & 0x80 != 0 {
        // Long header: form bit, then (except in version negotiation) the fixed bit, a
        // version, and connection ids of at most 20 bytes each.
        let v = be32(b, 1)?;
        let dcid = *b.get(5)? as usize;
        let scid = *b.get(6 + dcid)? as usize;
        let ids_ok = dcid <= 20 && scid <= 20;
        if v == 0 {
            return when(ids_ok, Strength::Strong); // version negotiation
        }
        return when(
            ids_ok && known_version(v) && (first & 0x40 != 0 || v >> 16 == 0x5130),
            Strength::Strong,
        );
    }
    // gQUIC's public header (Q043 and older): flags with the version bit, an 8-byte
    // connection id, then `Q0xx`.
    if first & 0x01 != 0 && first & 0x08 != 0 && b.get(9..11) == Some(b"Q0") {
        return Some(Strength::Strong);
    }
    // gQUIC's public header without the version (the server's packets, and the client's
    // once agreed): flags with an 8-byte connection id, then ciphertext.
    if first & 0xf0 == 0 && first & 0x08 != 0 && wire >= 21 && super::binary(b.get(9..)?) {
        return Some(Strength::Weak);
    }
    // A short header: fixed bit set, form bit clear; nothing more to check without the
    // connection id's length. Most ciphertext fits: on QUIC's ports, or with an Initial
    // from the other side.
    when(first & 0xc0 == 0x40 && wire >= 21 && super::binary(&b[1..]), Strength::OnPort)
}
