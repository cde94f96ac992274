//! TLS over TCP and DTLS over UDP: record headers. The handshake itself (SNI, JA4, the
//! certificate) is read by `evidence::tls`.

use super::{be16, when, On, Protocol, Row, Strength, Traits, NO_TRAITS};

const ENCRYPTED: Traits = Traits { encrypted: true, ..NO_TRAITS };

pub const TLS: Row = Row {
    ports: &[
        (443, 443),
        (465, 465),
        (636, 636),
        (853, 853),
        (993, 993),
        (995, 995),
        (5061, 5061),
        (6443, 6443),
        (8443, 8443),
        (8883, 8883),
        (9443, 9443),
        (10250, 10250),
    ],
    to_server: Some(record),
    to_client: Some(record),
    traits: ENCRYPTED,
    ..super::row(Protocol::Tls, "tls", On::Tcp)
};

pub const DTLS: Row = Row {
    ports: &[(4433, 4433), (5061, 5061)],
    to_server: Some(dtls_record),
    to_client: Some(dtls_record),
    traits: ENCRYPTED,
    ..super::row(Protocol::Dtls, "dtls", On::Udp)
};

/// A TLS record header: content type (change_cipher_spec … heartbeat), version 3.x and a
/// length within the limit. A capture that starts mid-session still shows one.
fn record(b: &[u8], _wire: u32) -> Option<Strength> {
    let len = be16(b, 3)?;
    when(matches!(b[0], 0x14..=0x18) && b[1] == 0x03 && b[2] <= 0x04 && len <= 18_432, Strength::Strong)
}

/// A DTLS record header: content type, version 1.0 (0xfeff), 1.2 (0xfefd) or OpenSSL's
/// pre-standard 0x0100 (Cisco AnyConnect), epoch and sequence, then a length the
/// datagram holds.
fn dtls_record(b: &[u8], wire: u32) -> Option<Strength> {
    let version = be16(b, 1)?;
    let len = be16(b, 11)? as u32;
    when(
        matches!(b[0], 0x14..=0x19)
            && matches!(version, 0xfeff | 0xfefd | 0xfefc | 0x0100)
            && 13 + len <= wire,
        Strength::Strong,
    )
}
