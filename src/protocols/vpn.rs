//! Tunnels and VPNs: WireGuard (and Tailscale on it), OpenVPN, IKE and ESP in UDP (IPsec
//! NAT traversal), Teredo, and GTP in mobile networks.

use super::{be16, be32, when, On, Protocol, Row, Strength, Traits, NO_TRAITS};

const ENCRYPTED: Traits = Traits { encrypted: true, ..NO_TRAITS };

pub const WIREGUARD: Row = Row {
    ports: &[(51820, 51820), (41641, 41641)],
    to_server: Some(wireguard),
    to_client: Some(wireguard),
    traits: ENCRYPTED,
    ..super::row(Protocol::Wireguard, "wireguard", On::Udp)
};

pub const OPENVPN: Row = Row {
    ports: &[(1194, 1194)],
    to_server: Some(openvpn_client),
    to_client: Some(openvpn_server),
    traits: ENCRYPTED,
    ..super::row(Protocol::Openvpn, "openvpn", On::Both)
};

pub const IKE: Row = Row {
    ports: &[(500, 500), (4500, 4500)],
    to_server: Some(ike),
    to_client: Some(ike),
    traits: ENCRYPTED,
    ..super::row(Protocol::Ike, "ike", On::Udp)
};

pub const IPSEC: Row = Row {
    ports: &[(4500, 4500)],
    to_server: Some(esp_in_udp),
    to_client: Some(esp_in_udp),
    traits: ENCRYPTED,
    ..super::row(Protocol::Ipsec, "ipsec", On::Udp)
};

pub const TEREDO: Row = Row {
    ports: &[(3544, 3544)],
    to_server: Some(teredo),
    to_client: Some(teredo),
    ..super::row(Protocol::Teredo, "teredo", On::Udp)
};

pub const GTP: Row = Row {
    ports: &[(2152, 2152), (2123, 2123), (3386, 3386)],
    to_server: Some(gtp),
    to_client: Some(gtp),
    ..super::row(Protocol::Gtp, "gtp", On::Udp)
};

/// Message type 1–4 and three reserved zero bytes; the handshake messages have fixed
/// sizes, and transport data is a 16-byte header plus padded ciphertext and tag.
fn wireguard(b: &[u8], wire: u32) -> Option<Strength> {
    if b.get(1..4) != Some(&[0, 0, 0]) {
        return None;
    }
    let ok = match b[0] {
        1 => wire == 148,
        2 => wire == 92,
        3 => wire == 64,
        4 => wire >= 32 && (wire - 16) % 16 == 0,
        _ => false,
    };
    when(ok, Strength::Strong)
}

/// A client's hard reset (v1, v2, v3), or another packet.
fn openvpn_client(b: &[u8], wire: u32) -> Option<Strength> {
    openvpn(b, wire, &[1, 7, 10])
}

/// A server's hard reset (v1, v2), or another packet.
fn openvpn_server(b: &[u8], wire: u32) -> Option<Strength> {
    openvpn(b, wire, &[2, 8])
}

/// An OpenVPN packet: opcode (5 bits) and key id; over TCP behind a 2-byte length. The
/// hard resets that open a session (the client's and the server's differ, so an echoed
/// first byte is no agreement) are strong or weak; other opcodes only on the port.
fn openvpn(b: &[u8], wire: u32, resets: &[u8]) -> Option<Strength> {
    let (op_byte, rest) = match be16(b, 0) {
        Some(len) if len as u32 + 2 == wire && wire > 2 => (b[2], wire - 2),
        _ => (b[0], wire),
    };
    let opcode = op_byte >> 3;
    let key_id = op_byte & 7;
    let at = (wire - rest) as usize;
    match opcode {
        // A hard reset (client v1/v2/v3, server v1/v2) on key 0: a session id, and without
        // tls-auth an empty ack array and packet id 0 (14 bytes). With tls-auth or
        // tls-crypt the rest is keyed: weak, for the server's answer to agree with.
        op if resets.contains(&op) && key_id == 0 => {
            let plain = rest == 14 && b.get(at + 9..at + 14) == Some(&[0, 0, 0, 0, 0]);
            when(plain, Strength::Strong)
                .or(when((22..=400).contains(&rest) && super::binary(&b[at + 1..]), Strength::Weak))
        }
        // P_CONTROL_V1, P_ACK_V1, P_DATA_V1/V2, P_CONTROL_SOFT_RESET_V1.
        3..=6 | 9 => when(rest >= 9 && super::binary(b), Strength::OnPort),
        _ => None,
    }
}

/// An IKE header (behind the four-zero non-ESP marker on 4500): initiator SPI not zero,
/// IKEv1 or v2, a known exchange type, and a length that is the message.
fn ike(b: &[u8], wire: u32) -> Option<Strength> {
    let (h, len) =
        if b.get(..4) == Some(&[0, 0, 0, 0]) { (&b[4..], wire.checked_sub(4)?) } else { (b, wire) };
    let spi_i = h.get(..8)?;
    let version = *h.get(17)?;
    let exchange = *h.get(18)?;
    let msg_len = be32(h, 24)?;
    let known = matches!((version, exchange), (0x20, 34..=37 | 43) | (0x10, 0..=6 | 32 | 33));
    when(spi_i != [0; 8] && known && msg_len == len, Strength::Strong)
}

/// ESP in UDP: a non-zero SPI (zero is the IKE marker) and a sequence number, or the
/// one-byte NAT keepalive. Nothing distinctive: on IPsec's port only.
fn esp_in_udp(b: &[u8], wire: u32) -> Option<Strength> {
    if wire == 1 {
        return when(b[0] == 0xff, Strength::OnPort);
    }
    when(wire >= 16 && be32(b, 0)? != 0 && super::binary(b), Strength::OnPort)
}

/// An IPv6 packet in a UDP datagram, perhaps behind Teredo's authentication (type 1) or
/// origin indication (type 0) header; its payload length fits the datagram.
fn teredo(b: &[u8], wire: u32) -> Option<Strength> {
    let mut at = 0usize;
    if be16(b, 0) == Some(0x0001) {
        let id = *b.get(2)? as usize;
        let auth = *b.get(3)? as usize;
        at = 4 + id + auth + 9;
    }
    if be16(b, at) == Some(0x0000) && b.get(at + 8).is_some_and(|c| c >> 4 == 6) {
        at += 8;
    }
    let v6 = *b.get(at)?;
    let payload = be16(b, at + 4)? as u32;
    when(v6 >> 4 == 6 && at as u32 + 40 + payload == wire, Strength::Strong)
}

/// GTPv1 (a G-PDU carrying user traffic, echo, or a control message) or GTPv2-C: the
/// version bits, and a length that is the rest of the datagram.
fn gtp(b: &[u8], wire: u32) -> Option<Strength> {
    let len = be16(b, 2)? as u32;
    match b[0] >> 5 {
        1 => when(b[0] & 0x10 != 0 && len + 8 == wire, Strength::Strong),
        2 => when(len + 4 == wire, Strength::Weak),
        _ => None,
    }
}
