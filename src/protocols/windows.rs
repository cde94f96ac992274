//! Windows file sharing: SMB 1/2/3 over direct TCP or the NetBIOS session service, and
//! NetBIOS itself (session service on TCP, name and datagram services on UDP).

use super::{be16, when, On, Protocol, Row, Strength};

pub const SMB: Row = Row {
    ports: &[(445, 445), (139, 139)],
    to_server: Some(smb),
    to_client: Some(smb),
    ..super::row(Protocol::Smb, "smb", On::Tcp)
};

pub const NETBIOS: Row = Row {
    ports: &[(137, 139)],
    to_server: Some(netbios),
    to_client: Some(netbios),
    ..super::row(Protocol::Netbios, "netbios", On::Both)
};

/// A NetBIOS session message (type 0, 3-byte length) holding SMB1 (`\xffSMB`), SMB2/3
/// (`\xfeSMB`) or an SMB3 transform (`\xfdSMB`, encrypted), or a compressed one (`\xfcSMB`).
fn smb(b: &[u8], _wire: u32) -> Option<Strength> {
    let magic = b.get(4..8)?;
    when(b[0] == 0 && magic[1..] == *b"SMB" && matches!(magic[0], 0xfc..=0xff), Strength::Strong)
}

/// Session service: a session request (0x81, whose called name is first-level encoded:
/// 32 letters A–P), a positive or negative answer (0x82, 0x83), a keepalive (0x85); name
/// service: a DNS-like header with one question; datagram service: message types 0x10–0x16.
fn netbios(b: &[u8], wire: u32) -> Option<Strength> {
    match b.first()? {
        0x81 => when(encoded_name(b, 4), Strength::Strong),
        0x82 | 0x85 => when(wire == 4 && b.get(1..4) == Some(&[0, 0, 0]), Strength::Weak),
        0x83 => when(wire == 5, Strength::Weak),
        // Datagram service: the source name at offset 14.
        0x10..=0x16 if wire >= 14 && be16(b, 10)? as u32 + 14 <= wire => {
            when(encoded_name(b, 14), Strength::Strong)
        }
        // Name service: a DNS-like header (opcode query, registration, release, WACK,
        // refresh) and the question's name at offset 12.
        _ => {
            let opcode = (be16(b, 2)? >> 11) & 0x0f;
            let header = wire >= 12 && matches!(opcode, 0 | 5..=9);
            when(header && encoded_name(b, 12), Strength::Strong).or(when(header, Strength::OnPort))
        }
    }
}

/// A NetBIOS name in first-level encoding: length 32, then 32 letters A–P.
fn encoded_name(b: &[u8], at: usize) -> bool {
    b.get(at) == Some(&0x20)
        && b.get(at + 1..at + 33).is_some_and(|n| n.iter().all(|c| (b'A'..=b'P').contains(c)))
}
