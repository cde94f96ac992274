//! One module per link type. Each strips its header and says what network layer follows.

mod ethernet;
mod null;
mod raw;
mod sll;
mod sll2;

use super::Skip;
use crate::capture::LinkType;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// The IP packet inside a frame.
pub fn network_layer(link: LinkType, frame: &[u8]) -> Result<&[u8], Skip> {
    match link {
        LinkType::ETHERNET => ethernet::payload(frame),
        LinkType::LINUX_SLL => sll::payload(frame),
        LinkType::LINUX_SLL2 => sll2::payload(frame),
        LinkType::NULL => null::payload(frame, null::Order::Host),
        LinkType::LOOP => null::payload(frame, null::Order::Network),
        LinkType::RAW | LinkType::RAW_BSD | LinkType::RAW_OPENBSD | LinkType::IPV4 | LinkType::IPV6 => {
            raw::payload(frame)
        }
        other => Err(Skip::UnknownLink(other)),
    }
}

/// Maps an EtherType to the IP packet, or says the frame is not IP.
fn ip_by_ether_type(ether_type: u16, rest: &[u8]) -> Result<&[u8], Skip> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(rest),
        _ => Err(Skip::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &[u8] = &[0x45, 0, 0, 20];

    #[test]
    fn each_link_type_reaches_the_ip_header() {
        let mut eth = vec![0u8; 12];
        eth.extend([0x08, 0x00]);
        eth.extend(IP);
        assert_eq!(network_layer(LinkType::ETHERNET, &eth), Ok(IP));

        // 802.1ad outer tag, then 802.1Q inner tag (QinQ).
        let mut qinq = vec![0u8; 12];
        qinq.extend([0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
        qinq.extend(IP);
        assert_eq!(network_layer(LinkType::ETHERNET, &qinq), Ok(IP));

        let mut sll = vec![0u8; 14];
        sll.extend([0x08, 0x00]);
        sll.extend(IP);
        assert_eq!(network_layer(LinkType::LINUX_SLL, &sll), Ok(IP));

        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend([0u8; 18]);
        sll2.extend(IP);
        assert_eq!(network_layer(LinkType::LINUX_SLL2, &sll2), Ok(IP));

        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend(IP);
        assert_eq!(network_layer(LinkType::NULL, &null), Ok(IP));
        let mut lp = 2u32.to_be_bytes().to_vec();
        lp.extend(IP);
        assert_eq!(network_layer(LinkType::LOOP, &lp), Ok(IP));

        assert_eq!(network_layer(LinkType::RAW, IP), Ok(IP));
    }

    #[test]
    fn short_and_foreign_frames_are_skipped_not_panicked_on() {
        for link in [LinkType::ETHERNET, LinkType::LINUX_SLL, LinkType::LINUX_SLL2, LinkType::NULL] {
            for len in 0..24 {
                let frame = vec![0x81u8; len];
                let _ = network_layer(link, &frame);
            }
        }
        let mut arp = vec![0u8; 12];
        arp.extend([0x08, 0x06, 0, 1]);
        assert_eq!(network_layer(LinkType::ETHERNET, &arp), Err(Skip::NotIp));
        assert_eq!(network_layer(LinkType(147), IP), Err(Skip::UnknownLink(LinkType(147))));
    }
}
