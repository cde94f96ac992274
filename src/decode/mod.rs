//! From a raw frame to a TCP segment or a UDP datagram. Works on byte slices only, never on libpcap: the
//! link type is read from the capture, never guessed, and each link type has its module.
//! Sizes come from the IP and TCP headers, since captures are often cut by a snaplen.

pub mod ip;
pub mod link;
pub mod tcp;
pub mod udp;

use crate::capture::{LinkType, RawPacket};
use crate::time::Timestamp;
use std::net::IpAddr;

/// The transport protocols whose sessions are tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
}

impl Transport {
    /// The IP protocol number (Community ID, ECS `network.iana_number`).
    pub fn ip_number(self) -> u8 {
        match self {
            Transport::Tcp => ip::TCP,
            Transport::Udp => ip::UDP,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// A decoded TCP segment or UDP datagram. `payload` holds the captured bytes, which may be
/// fewer than `payload_len` when the frame was cut by the snaplen. A datagram has no
/// sequence numbers or flags: `seq`, `ack`, `flags` and `window` are zero.
#[derive(Debug, Clone, Copy)]
pub struct TransportSegment<'a> {
    pub ts: Timestamp,
    pub transport: Transport,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Payload length from the headers (IP length minus IP and TCP headers).
    pub payload_len: u32,
    pub payload: &'a [u8],
}

/// TCP flag bits as on the wire (FIN = 0x01 … CWR = 0x80).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// Why a frame did not yield a TCP segment. Only `Malformed` and `UnknownLink` are
/// problems; the rest is traffic this sensor does not look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A link type we have no decoder for.
    UnknownLink(LinkType),
    /// A frame that is not IP (ARP, LLDP, …).
    NotIp,
    /// IP, but neither TCP nor UDP (ICMP, GRE, …).
    OtherTransport,
    /// A non-first IP fragment: no TCP header in it.
    Fragment,
    /// Headers that contradict themselves or are cut inside a header.
    Malformed(&'static str),
}

/// Decodes one frame down to TCP or UDP.
pub fn decode<'a>(pkt: &RawPacket<'a>) -> Result<TransportSegment<'a>, Skip> {
    let l3 = link::network_layer(pkt.link, pkt.data)?;
    let ip = ip::parse(l3)?;
    match ip.protocol {
        ip::TCP => tcp::parse(pkt.ts, &ip),
        ip::UDP => udp::parse(pkt.ts, &ip),
        _ => Err(Skip::OtherTransport),
    }
}

/// Counts of what the decoder saw, kept by the pipeline and printed in the summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DecodeStats {
    pub packets: u64,
    pub tcp: u64,
    pub udp: u64,
    pub not_ip: u64,
    pub other_transport: u64,
    pub fragments: u64,
    pub malformed: u64,
    pub unknown_link: u64,
    /// Frames shorter on disk than on the wire (snaplen).
    pub truncated_frames: u64,
}

impl DecodeStats {
    pub fn count(&mut self, result: &Result<TransportSegment<'_>, Skip>) {
        match result {
            Ok(s) if s.transport == Transport::Udp => self.udp += 1,
            Ok(_) => self.tcp += 1,
            Err(Skip::NotIp) => self.not_ip += 1,
            Err(Skip::OtherTransport) => self.other_transport += 1,
            Err(Skip::Fragment) => self.fragments += 1,
            Err(Skip::Malformed(_)) => self.malformed += 1,
            Err(Skip::UnknownLink(_)) => self.unknown_link += 1,
        }
    }

    pub fn merge(&mut self, other: &DecodeStats) {
        self.packets += other.packets;
        self.tcp += other.tcp;
        self.udp += other.udp;
        self.not_ip += other.not_ip;
        self.other_transport += other.other_transport;
        self.fragments += other.fragments;
        self.malformed += other.malformed;
        self.unknown_link += other.unknown_link;
        self.truncated_frames += other.truncated_frames;
    }
}
