//! DNS responses from the wire, decoded with `simple-dns`: over UDP one message per
//! datagram, over TCP a message that starts a segment behind its 2-byte length (the usual
//! case for an answer; one spread over several segments is not reassembled). Only
//! successful answers with A or AAAA records matter here. Malformed messages are skipped.

use super::DnsAnswer;
use crate::decode::{Transport, TransportSegment};
use simple_dns::rdata::RData;
use simple_dns::{Packet, PacketFlag, RCODE};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

pub const PORT: u16 = 53;

/// Whether a segment may carry a DNS response (cheap, before any parsing).
pub fn may_answer(seg: &TransportSegment<'_>) -> bool {
    seg.src_port == PORT && !seg.payload.is_empty()
}

/// The answer a DNS response segment carries, if it is one, complete, and names addresses.
pub fn answer(seg: &TransportSegment<'_>) -> Option<DnsAnswer> {
    if !may_answer(seg) || seg.payload.len() < seg.payload_len as usize {
        return None; // cut by the snaplen: the records we need may be gone
    }
    let message = match seg.transport {
        Transport::Udp => seg.payload,
        Transport::Tcp => {
            let (len, rest) = seg.payload.split_first_chunk::<2>()?;
            rest.get(..u16::from_be_bytes(*len) as usize)?
        }
    };
    let mut a = parse(message)?;
    a.client = seg.dst;
    a.at = seg.ts;
    Some(a)
}

/// Decodes one DNS message into the name asked and the addresses answered for it. The
/// client and time are left for the caller.
pub fn parse(message: &[u8]) -> Option<DnsAnswer> {
    let packet = Packet::parse(message).ok()?;
    if !packet.has_flags(PacketFlag::RESPONSE) || packet.rcode() != RCODE::NoError {
        return None;
    }
    let asked = packet.questions.first()?.qname.to_string();
    // The names that lead to the asked one through CNAMEs, so that an A record for the
    // CDN's name still counts as an answer to the asked name.
    let mut chain = vec![asked.to_ascii_lowercase()];
    let mut addresses = Vec::new();
    for rr in &packet.answers {
        let owner = rr.name.to_string().to_ascii_lowercase();
        if !chain.contains(&owner) {
            continue;
        }
        match &rr.rdata {
            RData::CNAME(target) => chain.push(target.0.to_string().to_ascii_lowercase()),
            RData::A(a) => addresses.push((IpAddr::V4(Ipv4Addr::from(a.address)), rr.ttl)),
            RData::AAAA(a) => addresses.push((IpAddr::V6(Ipv6Addr::from(a.address)), rr.ttl)),
            _ => {}
        }
    }
    if addresses.is_empty() {
        return None;
    }
    Some(DnsAnswer {
        client: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        at: crate::time::Timestamp::ZERO,
        name: Arc::from(asked.trim_end_matches('.').to_ascii_lowercase()),
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::rdata::{A, CNAME};
    use simple_dns::{Name, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE};

    fn response(asked: &str, records: Vec<ResourceRecord<'_>>) -> Vec<u8> {
        let mut p = Packet::new_reply(7);
        p.questions.push(Question::new(
            Name::new_unchecked(asked),
            QTYPE::TYPE(TYPE::A),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        p.answers = records;
        p.build_bytes_vec().unwrap()
    }

    #[test]
    fn an_answer_through_a_cname_names_the_asked_name() {
        let msg = response(
            "Updates.Example.net",
            vec![
                ResourceRecord::new(
                    Name::new_unchecked("updates.example.net"),
                    CLASS::IN,
                    300,
                    RData::CNAME(CNAME(Name::new_unchecked("edge.cdn.example"))),
                ),
                ResourceRecord::new(
                    Name::new_unchecked("edge.cdn.example"),
                    CLASS::IN,
                    60,
                    RData::A(A { address: u32::from(Ipv4Addr::new(198, 19, 0, 66)) }),
                ),
                // Not on the chain: ignored.
                ResourceRecord::new(
                    Name::new_unchecked("other.example"),
                    CLASS::IN,
                    60,
                    RData::A(A { address: 1 }),
                ),
            ],
        );
        let a = parse(&msg).expect("answer");
        assert_eq!(&*a.name, "updates.example.net");
        assert_eq!(a.addresses, vec![("198.19.0.66".parse().unwrap(), 60)]);
    }

    #[test]
    fn queries_failures_and_garbage_are_not_answers() {
        assert_eq!(parse(b"\x00\x07\x01\x00\x00\x01"), None);
        assert_eq!(parse(&response("nothing.example", vec![])), None);
        let mut q = Packet::new_query(9);
        q.questions.push(Question::new(
            Name::new_unchecked("a.example"),
            QTYPE::TYPE(TYPE::A),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        assert_eq!(parse(&q.build_bytes_vec().unwrap()), None);
        for n in 0..64 {
            let _ = parse(&[0xff; 64][..n]);
        }
    }
}
