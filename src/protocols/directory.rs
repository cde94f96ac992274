//! Directory and authentication: LDAP and Kerberos, both ASN.1 BER on the wire.

use super::{be32, ber_len, when, On, Protocol, Row, Strength};

pub const LDAP: Row = Row {
    ports: &[(389, 389), (3268, 3268)],
    to_server: Some(ldap),
    to_client: Some(ldap),
    ..super::row(Protocol::Ldap, "ldap", On::Both)
};

pub const KERBEROS: Row = Row {
    ports: &[(88, 88), (464, 464)],
    to_server: Some(kerberos),
    to_client: Some(kerberos),
    ..super::row(Protocol::Kerberos, "kerberos", On::Both)
};

/// An LDAPMessage: SEQUENCE { messageID INTEGER, protocolOp [APPLICATION n] … }, whose
/// SEQUENCE length fits the segment.
fn ldap(b: &[u8], wire: u32) -> Option<Strength> {
    if b.first() != Some(&0x30) {
        return None;
    }
    let (len, n) = ber_len(b, 1)?;
    let at = 1 + n;
    let id_len = *b.get(at + 1)? as usize;
    let op = *b.get(at + 2 + id_len)?;
    when(
        len + at <= wire as usize + 4
            && b[at] == 0x02
            && (1..=4).contains(&id_len)
            && matches!(op, 0x60..=0x79 | 0x42 | 0x4a | 0x50),
        Strength::Strong,
    )
}

/// A Kerberos message: over TCP behind a 4-byte length, over UDP bare; an APPLICATION tag
/// of AS-REQ/REP, TGS-REQ/REP, AP-REQ/REP or KRB-ERROR, then a BER length and a SEQUENCE.
fn kerberos(b: &[u8], wire: u32) -> Option<Strength> {
    let body = match be32(b, 0) {
        Some(len) if len as u64 + 4 == wire as u64 => &b[4..],
        _ => b,
    };
    let tag = *body.first()?;
    let (_, n) = ber_len(body, 1)?;
    when(matches!(tag, 0x6a..=0x6f | 0x7e) && body.get(1 + n) == Some(&0x30), Strength::Strong)
}
