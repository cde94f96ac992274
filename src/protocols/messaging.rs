//! Message brokers: MQTT and AMQP.

use super::{be16, when, On, Protocol, Row, Strength};

pub const MQTT: Row = Row {
    ports: &[(1883, 1883), (8883, 8883)],
    to_server: Some(mqtt_client),
    to_client: Some(mqtt_server),
    ..super::row(Protocol::Mqtt, "mqtt", On::Tcp)
};

pub const AMQP: Row = Row {
    ports: &[(5672, 5672)],
    to_server: Some(amqp_client),
    to_client: Some(amqp_start),
    ..super::row(Protocol::Amqp, "amqp", On::Tcp)
};

/// The remaining length of an MQTT fixed header (1 to 4 bytes from `at`): (value, bytes).
fn varint(b: &[u8], at: usize) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for i in 0..4 {
        let c = *b.get(at + i)?;
        value |= ((c & 0x7f) as u32) << (7 * i);
        if c & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// CONNECT, or (when the capture began later) PINGREQ: two bytes, weak alone.
fn mqtt_client(b: &[u8], wire: u32) -> Option<Strength> {
    mqtt_connect(b, wire).or(when(wire == 2 && b.get(..2) == Some(&[0xc0, 0]), Strength::Weak))
}

/// CONNACK, or PINGRESP.
fn mqtt_server(b: &[u8], wire: u32) -> Option<Strength> {
    mqtt_connack(b, wire).or(when(wire == 2 && b.get(..2) == Some(&[0xd0, 0]), Strength::Weak))
}

/// CONNECT: type 1, a remaining length, then the protocol name `MQTT` (3.1.1, 5) or `MQIsdp`.
fn mqtt_connect(b: &[u8], _wire: u32) -> Option<Strength> {
    let (_, n) = varint(b, 1)?;
    let name = b.get(1 + n..)?;
    when(
        b[0] == 0x10 && (name.starts_with(b"\x00\x04MQTT") || name.starts_with(b"\x00\x06MQIsdp")),
        Strength::Strong,
    )
}

/// CONNACK: type 2, then 2 bytes (3.1.1) or more (5).
fn mqtt_connack(b: &[u8], wire: u32) -> Option<Strength> {
    let (len, n) = varint(b, 1)?;
    when(b[0] == 0x20 && len >= 2 && 1 + n as u32 + len <= wire, Strength::Weak)
}

/// The protocol header `AMQP` and a version (0-9-1, 0-10, or 1.0 with or without SASL/TLS).
fn amqp_header(b: &[u8], _wire: u32) -> Option<Strength> {
    when(b.len() >= 8 && b.starts_with(b"AMQP") && b[4] <= 3, Strength::Strong)
}

/// The server's Connection.Start: a method frame (type 1) on channel 0 of class 10
/// method 10, or the protocol header back (a version it prefers).
fn amqp_start(b: &[u8], wire: u32) -> Option<Strength> {
    if amqp_header(b, wire).is_some() {
        return Some(Strength::Strong);
    }
    if b.first() == Some(&1) && be16(b, 1)? == 0 && be16(b, 7)? == 10 && be16(b, 9)? == 10 {
        return Some(Strength::Strong);
    }
    amqp_frame(b, wire)
}

/// The protocol header, or (when the capture began later) a frame.
fn amqp_client(b: &[u8], wire: u32) -> Option<Strength> {
    amqp_header(b, wire).or_else(|| amqp_frame(b, wire))
}

/// An AMQP 0-9-1 frame: type (method, header, body, heartbeat), channel, a size, and the
/// frame-end octet 0xCE right after the payload.
fn amqp_frame(b: &[u8], _wire: u32) -> Option<Strength> {
    let size = super::be32(b, 3)? as usize;
    when(matches!(b[0], 1 | 2 | 3 | 8) && b.get(7 + size) == Some(&0xce), Strength::Strong)
}
