//! IPv4 and IPv6 (with extension headers), through etherparse's lax slices so that a
//! frame cut by the snaplen still yields its headers and the true payload length.

use super::Skip;
use etherparse::{ip_number, LaxIpSlice};
use std::net::IpAddr;

/// The transport part of an IP packet.
#[derive(Debug, Clone, Copy)]
pub struct IpPayload<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// Captured transport bytes (may be fewer than `wire_len`).
    pub data: &'a [u8],
    /// Transport length according to the IP header.
    pub wire_len: usize,
}

pub fn parse(packet: &[u8]) -> Result<IpPayload<'_>, Skip> {
    if let Some(p) = fast_path(packet) {
        return Ok(p);
    }
    if let [v, _, hi, lo, ..] = *packet {
        let total = u16::from_be_bytes([hi, lo]) as usize;
        // A total length inside its own header is a lie, not a cut; zero is what some
        // captures of segmentation-offloaded packets carry, and etherparse handles it.
        if v >> 4 == 4 && total != 0 && total < (v & 0xf) as usize * 4 {
            return Err(Skip::Malformed("IPv4 total length shorter than its header"));
        }
    }
    let (ip, _ext_error) = LaxIpSlice::from_slice(packet).map_err(|_| Skip::Malformed("bad IP header"))?;
    let payload = ip.payload();
    if payload.fragmented {
        let first = match &ip {
            LaxIpSlice::Ipv4(v4) => v4.header().fragments_offset().value() == 0,
            LaxIpSlice::Ipv6(_) => false,
        };
        if !first {
            return Err(Skip::Fragment);
        }
    }
    let wire_len = if !payload.incomplete {
        payload.payload.len()
    } else {
        match &ip {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                (h.total_len() as usize)
                    .saturating_sub(h.slice().len())
                    .saturating_sub(v4.extensions().auth.map_or(0, |a| a.slice().len()))
            }
            LaxIpSlice::Ipv6(v6) => {
                (v6.header().payload_length() as usize).saturating_sub(v6.extensions().slice().len())
            }
        }
        .max(payload.payload.len())
    };
    Ok(IpPayload {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        protocol: payload.ip_number.0,
        data: payload.payload,
        wire_len,
    })
}

pub const TCP: u8 = ip_number::TCP.0;
pub const UDP: u8 = ip_number::UDP.0;

/// The common case without etherparse: IPv4 without options, or IPv6 straight to TCP or UDP,
/// complete (not cut inside the IP payload) and not fragmented. Anything else returns
/// `None` and takes the general path, which gives the same answer for these packets.
#[inline]
fn fast_path(packet: &[u8]) -> Option<IpPayload<'_>> {
    match packet.first()? >> 4 {
        4 => {
            let h = packet.get(..20)?;
            let total = u16::from_be_bytes([h[2], h[3]]) as usize;
            let more_fragments_or_offset = u16::from_be_bytes([h[6], h[7]]) & 0x3fff;
            if h[0] != 0x45
                || total < 20
                || total > packet.len()
                || more_fragments_or_offset != 0
                || h[9] == 51
            {
                return None; // options, cut, fragment, or an authentication header
            }
            Some(IpPayload {
                src: IpAddr::from([h[12], h[13], h[14], h[15]]),
                dst: IpAddr::from([h[16], h[17], h[18], h[19]]),
                protocol: h[9],
                data: &packet[20..total],
                wire_len: total - 20,
            })
        }
        6 => {
            let h = packet.get(..40)?;
            let len = u16::from_be_bytes([h[4], h[5]]) as usize;
            if (h[6] != TCP && h[6] != UDP) || len == 0 || 40 + len > packet.len() {
                return None; // extension headers, a jumbogram, or cut
            }
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src.copy_from_slice(&h[8..24]);
            dst.copy_from_slice(&h[24..40]);
            Some(IpPayload {
                src: IpAddr::from(src),
                dst: IpAddr::from(dst),
                protocol: h[6],
                data: &packet[40..40 + len],
                wire_len: len,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(total_len: u16, captured_payload: usize) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 10, 198, 19, 0, 66];
        p[2..4].copy_from_slice(&total_len.to_be_bytes());
        p.extend(vec![0u8; captured_payload]);
        p
    }

    #[test]
    fn true_length_comes_from_the_header_when_the_frame_is_cut() {
        let p = ipv4_tcp(1500, 60);
        let ip = parse(&p).unwrap();
        assert_eq!(ip.protocol, TCP);
        assert_eq!(ip.data.len(), 60);
        assert_eq!(ip.wire_len, 1480);
        assert_eq!(ip.src, "198.18.0.10".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let p = ipv4_tcp(41, 26); // 21 bytes of transport + 5 bytes padding
        let ip = parse(&p).unwrap();
        assert_eq!(ip.wire_len, 21);
        assert_eq!(ip.data.len(), 21);
    }

    #[test]
    fn ipv6_with_an_extension_header() {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        p[6] = 0; // next header: hop-by-hop
        p.extend([0x20, 0x01, 0x0d, 0xb8].iter().chain([0u8; 11].iter()).chain([1u8].iter()));
        p.extend([0x20, 0x01, 0x0d, 0xb8].iter().chain([0u8; 11].iter()).chain([2u8].iter()));
        p.extend([6, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop: next = TCP, len 0, PadN
        p.extend([0u8; 20]);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        let ip = parse(&p).unwrap();
        assert_eq!(ip.protocol, TCP);
        assert_eq!(ip.wire_len, 20);
        assert!(ip.src.is_ipv6());
    }

    /// The fast path and etherparse agree on every packet the fast path takes.
    #[test]
    fn the_fast_path_agrees_with_the_general_one() {
        let general = |p: &[u8]| {
            let (ip, _) = LaxIpSlice::from_slice(p).ok()?;
            let pl = ip.payload();
            Some((
                ip.source_addr(),
                ip.destination_addr(),
                pl.ip_number.0,
                pl.payload.to_vec(),
                pl.incomplete,
            ))
        };
        let mut cases = vec![ipv4_tcp(60, 40), ipv4_tcp(41, 26), ipv4_tcp(40, 20)];
        let mut v6 = vec![0x60, 0, 0, 0, 0, 24, 6, 64];
        v6.extend((0..32).map(|i| i as u8));
        v6.extend([7u8; 24]);
        cases.push(v6.clone());
        v6.extend([0u8; 4]); // link-layer padding
        cases.push(v6);
        for p in &cases {
            let fast = fast_path(p).expect("takes the fast path");
            let (src, dst, proto, payload, incomplete) = general(p).expect("parses");
            assert!(!incomplete);
            assert_eq!((fast.src, fast.dst, fast.protocol), (src, dst, proto));
            assert_eq!(fast.data, &payload[..]);
            assert_eq!(fast.wire_len, payload.len());
        }
        let mut frag = ipv4_tcp(60, 40);
        frag[6] = 0x20; // more fragments
        assert!(fast_path(&frag).is_none());
        assert!(fast_path(&ipv4_tcp(1500, 60)).is_none(), "a cut packet takes the general path");
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 0x45) as u8).collect();
            let _ = parse(&junk);
        }
        assert!(matches!(parse(&[0x45, 0, 0]), Err(Skip::Malformed(_))));
        let mut short_total = ipv4_tcp(10, 33);
        assert!(matches!(parse(&short_total), Err(Skip::Malformed(_))), "total length 10 < header 20");
        short_total[2..4].copy_from_slice(&0u16.to_be_bytes());
        assert!(parse(&short_total).is_ok(), "total length 0 (offloaded segment) is read from the frame");
    }
}
