//! Remote access: SSH, telnet, RDP, VNC and rlogin. People type at all of them.

use super::{be16, when, On, Protocol, Row, Strength, Traits, NO_TRAITS};

pub const SSH: Row = Row {
    ports: &[(22, 22), (2222, 2222)],
    to_server: Some(banner),
    to_client: Some(banner),
    traits: Traits { encrypted: true, interactive: true, ..NO_TRAITS },
    ..super::row(Protocol::Ssh, "ssh", On::Tcp)
};

pub const TELNET: Row = Row {
    ports: &[(23, 23)],
    to_server: Some(option),
    to_client: Some(option),
    traits: Traits { interactive: true, carries_shell_text: true, ..NO_TRAITS },
    ..super::row(Protocol::Telnet, "telnet", On::Tcp)
};

pub const RDP: Row = Row {
    ports: &[(3389, 3389)],
    to_server: Some(rdp_client),
    to_client: Some(rdp_server),
    traits: Traits { interactive: true, ..NO_TRAITS },
    ..super::row(Protocol::Rdp, "rdp", On::Both)
};

pub const VNC: Row = Row {
    ports: &[(5900, 5909)],
    to_server: Some(rfb),
    to_client: Some(rfb),
    traits: Traits { interactive: true, server_first: true, ..NO_TRAITS },
    ..super::row(Protocol::Vnc, "vnc", On::Tcp)
};

/// rlogin and rsh have no banner worth probing; the row keeps their ports.
pub const RLOGIN: Row = Row {
    ports: &[(513, 514)],
    traits: Traits { interactive: true, carries_shell_text: true, ..NO_TRAITS },
    ..super::row(Protocol::Rlogin, "rlogin", On::Tcp)
};

/// `SSH-2.0-…` (or 1.99) identification string.
fn banner(b: &[u8], _wire: u32) -> Option<Strength> {
    when(
        b.starts_with(b"SSH-1.99-") || b.starts_with(b"SSH-2.0-") || b.starts_with(b"SSH-1.5-"),
        Strength::Strong,
    )
}

/// IAC WILL/WONT/DO/DONT (or SB) and an option code.
fn option(b: &[u8], _wire: u32) -> Option<Strength> {
    when(b.len() >= 3 && b[0] == 0xff && matches!(b[1], 0xfa..=0xfe) && b[2] <= 50, Strength::Strong)
}

/// TPKT (version 3, length = the segment) around an X.224 connection request or confirm.
fn x224(b: &[u8], wire: u32) -> Option<Strength> {
    let len = be16(b, 2)? as u32;
    let code = *b.get(5)? & 0xf0;
    when(
        b[0] == 3 && b[1] == 0 && len == wire && b[4] as u32 + 5 <= len && matches!(code, 0xe0 | 0xd0),
        Strength::Strong,
    )
    .or(when(b[0] == 3 && b[1] == 0 && len == wire, Strength::Weak))
}

/// Over TCP, X.224; over UDP (MS-RDPEUDP), the SYN datagram: no acknowledged sequence
/// number yet (all ones), padded to at least 1232 bytes.
fn rdp_client(b: &[u8], wire: u32) -> Option<Strength> {
    x224(b, wire).or(when(b.get(..4) == Some(&[0xff; 4]) && wire >= 1232, Strength::Strong))
}

/// X.224's answer, or RDP-UDP's SYN+ACK: as padded as the SYN, on RDP's port.
fn rdp_server(b: &[u8], wire: u32) -> Option<Strength> {
    x224(b, wire).or(when(wire >= 1232 && super::binary(b), Strength::OnPort))
}

/// `RFB 003.008\n`: both sides send their version first.
fn rfb(b: &[u8], _wire: u32) -> Option<Strength> {
    when(b.len() >= 12 && b.starts_with(b"RFB 0") && b[7] == b'.' && b[11] == b'\n', Strength::Strong)
}
