//! Connection-tracking entries, so a session NAT-translated by the node (a pod's traffic
//! masqueraded to the node address) still joins with the socket inside the pod.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One tracked TCP connection: the tuple as the socket sees it (`original`) and as it
/// leaves the node (`reply`, reversed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatEntry {
    pub original: Tuple,
    pub reply: Tuple,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tuple {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

impl NatEntry {
    /// Whether the node rewrote the connection.
    pub fn is_translated(&self) -> bool {
        self.original.src != self.reply.dst || self.original.sport != self.reply.dport
    }

    /// On the wire the connection shows as `reply` reversed: local = reply.dst.
    pub fn wire_local(&self) -> (IpAddr, u16) {
        (self.reply.dst, self.reply.dport)
    }
}

/// Parses one line of `/proc/net/nf_conntrack` (or `conntrack -L`) for TCP; other
/// protocols and malformed lines give `None`.
pub fn parse_line(line: &str) -> Option<NatEntry> {
    let mut fields = line.split_whitespace();
    // "ipv4 2 tcp 6 431999 ESTABLISHED src=…" in /proc; "tcp 6 431999 …" from conntrack -L.
    if !fields.clone().take(3).any(|f| f == "tcp") {
        return None;
    }
    let mut tuples: Vec<Tuple> = Vec::with_capacity(2);
    let (mut src, mut dst, mut sport) = (None, None, None);
    for f in fields.by_ref() {
        let Some((k, v)) = f.split_once('=') else { continue };
        match k {
            "src" => src = v.parse().ok(),
            "dst" => dst = v.parse().ok(),
            "sport" => sport = v.parse().ok(),
            "dport" => {
                let dport = v.parse().ok()?;
                tuples.push(Tuple { src: src.take()?, dst: dst.take()?, sport: sport.take()?, dport });
                if tuples.len() == 2 {
                    break;
                }
            }
            _ => {}
        }
    }
    let reply = tuples.pop()?;
    let original = tuples.pop()?;
    Some(NatEntry { original, reply })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_masqueraded_pod_connection() {
        let line =
            "ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.1.5 dst=198.19.0.66 sport=40000 dport=4444 \
                    src=198.19.0.66 dst=198.18.0.10 sport=4444 dport=61000 [ASSURED] mark=0 zone=0 use=2";
        let e = parse_line(line).unwrap();
        assert_eq!(e.original.src, "10.244.1.5".parse::<IpAddr>().unwrap());
        assert_eq!(e.wire_local(), ("198.18.0.10".parse().unwrap(), 61000));
        assert!(e.is_translated());
    }

    #[test]
    fn other_protocols_and_junk_are_skipped() {
        assert!(parse_line("ipv4 2 udp 17 29 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2").is_none());
        assert!(parse_line("ipv4 2 tcp 6 1 ESTABLISHED src=1.1.1.1 dst=").is_none());
        assert!(parse_line("").is_none());
    }
}
