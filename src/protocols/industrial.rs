//! Industrial control: DNP3 and Modbus/TCP. Masters poll outstations; nobody types.

use super::{be16, when, On, Protocol, Row, Strength};

pub const DNP3: Row = Row {
    ports: &[(20000, 20000)],
    to_server: Some(dnp3),
    to_client: Some(dnp3),
    ..super::row(Protocol::Dnp3, "dnp3", On::Both)
};

pub const MODBUS: Row = Row {
    ports: &[(502, 502)],
    to_server: Some(modbus),
    to_client: Some(modbus),
    ..super::row(Protocol::Modbus, "modbus", On::Tcp)
};

/// A DNP3 link-layer frame: start bytes 0x05 0x64, a length of at least 5 (control,
/// destination, source), and the frame fits (its header CRC follows).
fn dnp3(b: &[u8], wire: u32) -> Option<Strength> {
    let len = *b.get(2)? as u32;
    when(b[0] == 0x05 && b[1] == 0x64 && len >= 5 && wire >= 10, Strength::Strong)
}

/// The MBAP header: transaction id, protocol id 0, a length that is the rest of the
/// segment, a unit id, then a function code (1–127, vendors' own such as UMAS's 90
/// among them; or an exception, 0x80 + code).
fn modbus(b: &[u8], wire: u32) -> Option<Strength> {
    let len = be16(b, 4)? as u32;
    let func = *b.get(7)? & 0x7f;
    when(be16(b, 2)? == 0 && len >= 2 && len + 6 == wire && func >= 1, Strength::Weak)
}
