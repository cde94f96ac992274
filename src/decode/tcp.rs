//! The TCP header. A segment cut inside its header is malformed; a segment cut inside
//! its payload is normal (snaplen) and keeps its true length.

use super::ip::IpPayload;
use super::{Skip, TcpFlags, Transport, TransportSegment};
use crate::time::Timestamp;

const MIN_HEADER: usize = 20;

pub fn parse<'a>(ts: Timestamp, ip: &IpPayload<'a>) -> Result<TransportSegment<'a>, Skip> {
    let d = ip.data;
    if d.len() < MIN_HEADER {
        return Err(Skip::Malformed("TCP header cut off"));
    }
    let header_len = ((d[12] >> 4) as usize) * 4;
    if header_len < MIN_HEADER {
        return Err(Skip::Malformed("TCP data offset below 5"));
    }
    if header_len > ip.wire_len {
        return Err(Skip::Malformed("TCP header longer than the IP payload"));
    }
    let be16 = |at: usize| u16::from_be_bytes([d[at], d[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
    // Options may be cut by the snaplen; we need none of them.
    let payload = d.get(header_len..).unwrap_or(&[]);
    Ok(TransportSegment {
        ts,
        transport: Transport::Tcp,
        src: ip.src,
        dst: ip.dst,
        src_port: be16(0),
        dst_port: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags: TcpFlags(d[13]),
        window: be16(14),
        payload_len: (ip.wire_len - header_len) as u32,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ip::TCP;
    use std::net::IpAddr;

    fn ip<'a>(data: &'a [u8], wire_len: usize) -> IpPayload<'a> {
        let a: IpAddr = "198.18.0.10".parse().unwrap();
        IpPayload { src: a, dst: a, protocol: TCP, data, wire_len }
    }

    #[test]
    fn fields_and_true_payload_length() {
        let mut h = vec![0x10, 0x01, 0x11, 0x5c, 0, 0, 0, 7, 0, 0, 0, 9, 0x50, 0x18, 0x01, 0x00, 0, 0, 0, 0];
        h.extend(b"id\n");
        let seg = parse(Timestamp::ZERO, &ip(&h, 1000)).unwrap();
        assert_eq!((seg.src_port, seg.dst_port, seg.seq, seg.ack), (4097, 4444, 7, 9));
        assert!(seg.flags.ack() && !seg.flags.syn());
        assert_eq!(seg.payload, b"id\n");
        assert_eq!(seg.payload_len, 980);
    }

    #[test]
    fn bad_offsets_are_malformed() {
        let mut h = vec![0u8; 20];
        h[12] = 0x40;
        assert!(matches!(parse(Timestamp::ZERO, &ip(&h, 20)), Err(Skip::Malformed(_))));
        h[12] = 0xf0;
        assert!(matches!(parse(Timestamp::ZERO, &ip(&h, 20)), Err(Skip::Malformed(_))));
        assert!(matches!(parse(Timestamp::ZERO, &ip(&h[..10], 20)), Err(Skip::Malformed(_))));
    }
}
