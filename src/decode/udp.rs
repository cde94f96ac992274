//! The UDP header. A datagram cut inside its header is malformed; one cut inside its
//! payload keeps its true length (from the IP header, which a snaplen does not cut).

use super::ip::IpPayload;
use super::{Skip, TcpFlags, Transport, TransportSegment};
use crate::time::Timestamp;

const HEADER: usize = 8;

pub fn parse<'a>(ts: Timestamp, ip: &IpPayload<'a>) -> Result<TransportSegment<'a>, Skip> {
    let d = ip.data;
    if d.len() < HEADER || ip.wire_len < HEADER {
        return Err(Skip::Malformed("UDP header cut off"));
    }
    let be16 = |at: usize| u16::from_be_bytes([d[at], d[at + 1]]);
    let udp_len = be16(4) as usize;
    // The UDP length may be smaller than the IP payload (padding), never larger; 0 is
    // allowed for IPv6 jumbograms and means "as the IP header says".
    if udp_len != 0 && (udp_len < HEADER || udp_len > ip.wire_len) {
        return Err(Skip::Malformed("UDP length disagrees with the IP header"));
    }
    let wire_len = if udp_len == 0 { ip.wire_len } else { udp_len };
    let captured = d.len().min(wire_len);
    Ok(TransportSegment {
        ts,
        transport: Transport::Udp,
        src: ip.src,
        dst: ip.dst,
        src_port: be16(0),
        dst_port: be16(2),
        seq: 0,
        ack: 0,
        flags: TcpFlags::default(),
        window: 0,
        payload_len: (wire_len - HEADER) as u32,
        payload: &d[HEADER..captured],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ip::UDP;
    use std::net::IpAddr;

    fn ip<'a>(data: &'a [u8], wire_len: usize) -> IpPayload<'a> {
        let a: IpAddr = "198.18.0.10".parse().unwrap();
        IpPayload { src: a, dst: a, protocol: UDP, data, wire_len }
    }

    #[test]
    fn ports_and_true_payload_length() {
        let mut d = vec![0x13, 0x88, 0x00, 0x35, 0x00, 0x0b, 0, 0];
        d.extend(b"abc");
        let s = parse(Timestamp::ZERO, &ip(&d, 11)).unwrap();
        assert_eq!((s.src_port, s.dst_port, s.payload_len, s.payload), (5000, 53, 3, &b"abc"[..]));
        assert_eq!(s.transport, Transport::Udp);
        // Cut by the snaplen after one payload byte: the true length stays.
        let s = parse(Timestamp::ZERO, &ip(&d[..9], 11)).unwrap();
        assert_eq!((s.payload_len, s.payload), (3, &b"a"[..]));
    }

    #[test]
    fn lengths_that_lie_are_malformed() {
        let d = [0x13, 0x88, 0x00, 0x35, 0x00, 0x40, 0, 0, 1, 2];
        assert!(matches!(parse(Timestamp::ZERO, &ip(&d, 10)), Err(Skip::Malformed(_))));
        let d = [0x13, 0x88, 0x00, 0x35, 0x00, 0x03, 0, 0];
        assert!(matches!(parse(Timestamp::ZERO, &ip(&d, 8)), Err(Skip::Malformed(_))));
        assert!(matches!(parse(Timestamp::ZERO, &ip(&d[..5], 8)), Err(Skip::Malformed(_))));
    }
}
