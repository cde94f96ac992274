//! Network infrastructure over UDP (and TCP where it applies): DNS, multicast DNS and
//! LLMNR, NTP, SSDP, RADIUS, syslog, SNMP, DHCP, and the Zabbix monitoring agent.

use super::{be16, ber_len, first_line, when, On, Protocol, Row, Strength};

pub const DNS: Row = Row {
    ports: &[(53, 53)],
    to_server: Some(dns),
    to_client: Some(dns),
    ..super::row(Protocol::Dns, "dns", On::Both)
};

pub const MDNS: Row = Row {
    ports: &[(5353, 5353)],
    to_server: Some(dns_weak),
    to_client: Some(dns_weak),
    ..super::row(Protocol::Mdns, "mdns", On::Udp)
};

pub const LLMNR: Row = Row {
    ports: &[(5355, 5355)],
    to_server: Some(dns_weak),
    to_client: Some(dns_weak),
    ..super::row(Protocol::Llmnr, "llmnr", On::Udp)
};

pub const NTP: Row = Row {
    ports: &[(123, 123)],
    to_server: Some(ntp),
    to_client: Some(ntp),
    ..super::row(Protocol::Ntp, "ntp", On::Udp)
};

pub const SSDP: Row = Row {
    ports: &[(1900, 1900)],
    to_server: Some(ssdp),
    to_client: Some(ssdp),
    ..super::row(Protocol::Ssdp, "ssdp", On::Udp)
};

pub const RADIUS: Row = Row {
    ports: &[(1812, 1813), (1645, 1646), (3799, 3799)],
    to_server: Some(radius),
    to_client: Some(radius),
    ..super::row(Protocol::Radius, "radius", On::Udp)
};

pub const SYSLOG: Row = Row {
    ports: &[(514, 514), (601, 601), (6514, 6514)],
    to_server: Some(syslog),
    to_client: Some(syslog),
    ..super::row(Protocol::Syslog, "syslog", On::Both)
};

pub const SNMP: Row = Row {
    ports: &[(161, 162)],
    to_server: Some(snmp),
    to_client: Some(snmp),
    ..super::row(Protocol::Snmp, "snmp", On::Udp)
};

pub const ZABBIX: Row = Row {
    ports: &[(10050, 10051)],
    to_server: Some(zabbix),
    to_client: Some(zabbix),
    ..super::row(Protocol::Zabbix, "zabbix", On::Tcp)
};

pub const DHCP: Row = Row {
    ports: &[(67, 68)],
    to_server: Some(dhcp),
    to_client: Some(dhcp),
    ..super::row(Protocol::Dhcp, "dhcp", On::Udp)
};

/// A DNS message: over TCP behind a 2-byte length. The header must be plausible (an
/// opcode in use, 1–4 questions or a response); a whole message must parse.
fn dns(b: &[u8], wire: u32) -> Option<Strength> {
    // Over TCP a 2-byte length comes first; the message may go on in later segments.
    let framed = be16(b, 0).is_some_and(|len| len as u32 + 2 >= wire && wire > 14) && dns_header(&b[2..]);
    let (msg, whole) = if framed { (&b[2..], be16(b, 0)? as u32 + 2 == wire) } else { (b, true) };
    if !dns_header(msg) {
        return None;
    }
    if !whole || (b.len() as u32) < wire {
        return Some(Strength::Weak); // cut by the snaplen, or spread over segments
    }
    when(dns_records(msg), Strength::Strong)
}

fn dns_header(m: &[u8]) -> bool {
    let (Some(flags), Some(qd), Some(an)) = (be16(m, 2), be16(m, 4), be16(m, 6)) else { return false };
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0x0f;
    m.len() >= 12 && opcode <= 6 && opcode != 3 && ((1..=4).contains(&qd) || (response && qd == 0 && an > 0))
}

/// The DNS format on mDNS's or LLMNR's port (the row decides which).
fn dns_weak(b: &[u8], wire: u32) -> Option<Strength> {
    let whole = b.len() as u32 >= wire;
    when(dns_header(b) && (!whole || dns_records(b)), Strength::Weak)
}

/// Every question and record the header counts is there, whole, in the message: names of
/// labels (63 bytes at most) or a pointer to earlier in the message, then the fixed
/// fields; A and AAAA data of their sizes. A walk over the bytes that allocates nothing:
/// every UDP payload meets this check three times (DNS, mDNS and LLMNR rows).
fn dns_records(m: &[u8]) -> bool {
    let count = |at| be16(m, at).map_or(0, usize::from);
    let (questions, records) = (count(4), count(6) + count(8) + count(10));
    // A question takes 5 bytes at least, a record 11.
    if m.len() < 12 || questions * 5 + records * 11 > m.len() - 12 {
        return false;
    }
    let mut at = 12;
    for i in 0..questions + records {
        let Some(end) = dns_name_end(m, at) else { return false };
        at = end;
        if i < questions {
            at += 4; // type, class
            continue;
        }
        let (Some(kind), Some(len)) = (be16(m, at), be16(m, at + 8)) else { return false };
        let len = len as usize;
        if (kind == 1 && len != 4) || (kind == 28 && len != 16) {
            return false;
        }
        at += 10 + len;
    }
    at <= m.len()
}

/// Where the name starting at `at` ends, if it is one.
fn dns_name_end(m: &[u8], mut at: usize) -> Option<usize> {
    let mut length = 0;
    loop {
        let n = *m.get(at)? as usize;
        match n {
            0 => return Some(at + 1),
            // A pointer ends the name; it points back into the message.
            0xc0.. => return (usize::from(be16(m, at)? & 0x3fff) < at).then_some(at + 2),
            64.. => return None,
            _ => {
                length += n + 1;
                if length > 255 {
                    return None;
                }
                at += n + 1;
            }
        }
    }
}

/// 48 bytes at least: leap indicator, version 1–4, mode 1–5 (3 client, 4 server), stratum.
fn ntp(b: &[u8], wire: u32) -> Option<Strength> {
    let version = (b[0] >> 3) & 7;
    let mode = b[0] & 7;
    when(
        wire >= 48 && (1..=4).contains(&version) && (1..=5).contains(&mode) && *b.get(1)? <= 16,
        Strength::Weak,
    )
}

fn ssdp(b: &[u8], _wire: u32) -> Option<Strength> {
    let line = first_line(b, 256)?;
    if line.starts_with(b"M-SEARCH * HTTP/1.1") || line.starts_with(b"NOTIFY * HTTP/1.1") {
        return Some(Strength::Strong);
    }
    // An answer to M-SEARCH: HTTP over UDP, with the search target or service name.
    let head = b[..b.len().min(512)].to_ascii_uppercase();
    let fields = super::contains(&head, b"\r\nST:") || super::contains(&head, b"\r\nUSN:");
    when(line.starts_with(b"HTTP/1.1 200"), if fields { Strength::Strong } else { Strength::Weak })
}

/// A code in use, an identifier, and a length (20 to 4096) that is the datagram.
fn radius(b: &[u8], wire: u32) -> Option<Strength> {
    let len = be16(b, 2)? as u32;
    when(
        matches!(b[0], 1..=5 | 11..=13 | 40..=45) && (20..=4096).contains(&len) && len == wire,
        Strength::Weak,
    )
}

/// `<PRI>` (0–191) then printable text.
fn syslog(b: &[u8], _wire: u32) -> Option<Strength> {
    let close = b.iter().take(5).position(|&c| c == b'>')?;
    let pri = std::str::from_utf8(b.get(1..close)?).ok()?.parse::<u16>().ok()?;
    let next = *b.get(close + 1)?;
    when(b[0] == b'<' && close >= 2 && pri <= 191 && (0x20..0x7f).contains(&next), Strength::Strong)
}

/// SEQUENCE { version INTEGER 0|1|3, community OCTET STRING | v3 header SEQUENCE, … }.
fn snmp(b: &[u8], _wire: u32) -> Option<Strength> {
    if b[0] != 0x30 {
        return None;
    }
    let (_, n) = ber_len(b, 1)?;
    let v = b.get(1 + n..1 + n + 4)?;
    when(
        v[0] == 0x02 && v[1] == 0x01 && matches!(v[2], 0 | 1 | 3) && matches!(v[3], 0x04 | 0x30),
        Strength::Strong,
    )
}

/// A Zabbix agent or sender message: `ZBXD`, then flags (JSON, compressed, large).
fn zabbix(b: &[u8], _wire: u32) -> Option<Strength> {
    when(b.starts_with(b"ZBXD") && b.get(4).is_some_and(|f| (1..=7).contains(f)), Strength::Strong)
}

/// BOOTP: request or reply, Ethernet hardware, and the DHCP magic cookie at offset 236.
fn dhcp(b: &[u8], _wire: u32) -> Option<Strength> {
    when(
        matches!(b[0], 1 | 2) && b.get(1..3) == Some(&[1, 6]) && b.get(236..240) == Some(&[99, 130, 83, 99]),
        Strength::Strong,
    )
}

#[cfg(test)]
mod tests {
    use super::dns_records;
    use simple_dns::rdata::{RData, A, AAAA};
    use simple_dns::{Name, Packet, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE};

    fn answer() -> Vec<u8> {
        let mut p = Packet::new_reply(7);
        let name = Name::new_unchecked("www.example.com");
        p.questions.push(Question::new(name.clone(), QTYPE::TYPE(TYPE::A), QCLASS::CLASS(CLASS::IN), false));
        p.answers.push(ResourceRecord::new(
            name.clone(),
            CLASS::IN,
            60,
            RData::A(A { address: 0xc612_0001 }),
        ));
        let v6 = AAAA { address: 0x2001_0db8_u128 << 96 };
        p.additional_records.push(ResourceRecord::new(name, CLASS::IN, 60, RData::AAAA(v6)));
        p.build_bytes_vec_compressed().unwrap()
    }

    #[test]
    fn whole_messages_pass_and_cut_or_malformed_ones_do_not() {
        let m = answer();
        assert!(Packet::parse(&m).is_ok(), "the reference parser reads it");
        assert!(dns_records(&m));
        for cut in 12..m.len() {
            assert!(!dns_records(&m[..cut]), "cut at {cut} of {}", m.len());
        }
        // A label longer than 63 bytes.
        let mut long = m.clone();
        long[12] = 64;
        assert!(!dns_records(&long));
        // A pointer forward (to itself) instead of back.
        let mut forward = m.clone();
        let at = 12 + 17 + 4; // the answer's name, after the question
        assert_eq!(forward[at] & 0xc0, 0xc0, "compressed to a pointer");
        forward[at + 1] = at as u8;
        assert!(!dns_records(&forward));
        // More records claimed than the message holds.
        let mut counts = m.clone();
        counts[7] = 9; // nine answers claimed
        assert!(!dns_records(&counts));
    }

    #[test]
    fn shell_text_and_random_bytes_are_no_dns() {
        assert!(!dns_records(b"uid=0(root) gid=0(root) groups=0(root)\n"));
        let mut x: u32 = 0x1234_5678;
        let mut passed = 0;
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..200)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            passed += dns_records(&bytes) as u32;
        }
        assert!(passed < 20, "{passed} of 2000 random payloads read as DNS");
    }
}
