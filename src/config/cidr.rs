//! A small IPv4/IPv6 CIDR set. Networks are kept in one hash map per prefix length, so a
//! lookup costs one masked hash probe per distinct prefix length in the set (at most 33
//! for IPv4, 129 for IPv6), whatever the number of networks. Longest-prefix match falls
//! out of probing the lengths from the most specific down.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// One network: an address with its host bits zero, and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a string is not a CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not `ADDRESS/PREFIX` (or a bare address), or the prefix is too long.
    Syntax,
    /// Bits set beyond the prefix, e.g. `10.0.0.1/8`; carries the network meant.
    HostBits(Cidr),
}

impl Cidr {
    /// A network from an address and prefix length; host bits are cleared.
    /// Returns `None` when the prefix is longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let addr = match addr {
            IpAddr::V4(a) if prefix <= 32 => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask4(prefix))),
            IpAddr::V6(a) if prefix <= 128 => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask6(prefix))),
            _ => return None,
        };
        Some(Cidr { addr, prefix })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this network. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
    /// count as their IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => u32::from(ip) & mask4(self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(ip)) => u128::from(ip) & mask6(self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// `10.0.0.0/8`, `fc00::/7`, or a bare address (a /32 or /128).
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                let addr: IpAddr = a.parse().map_err(|_| CidrError::Syntax)?;
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CidrError::Syntax);
                }
                let prefix: u8 = p.parse().map_err(|_| CidrError::Syntax)?;
                (addr, prefix)
            }
            None => {
                let addr: IpAddr = s.parse().map_err(|_| CidrError::Syntax)?;
                (addr, if addr.is_ipv4() { 32 } else { 128 })
            }
        };
        // `::ffff:10.0.0.0/104` is stored as `10.0.0.0/8`, the form lookups use.
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if (96..=128).contains(&prefix) => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let cidr = Cidr::new(addr, prefix).ok_or(CidrError::Syntax)?;
        if cidr.addr != addr {
            return Err(CidrError::HostBits(cidr));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask4(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn mask6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

/// CIDRs mapped to values, with longest-prefix lookup.
#[derive(Debug, Clone)]
pub struct CidrMap<V> {
    /// (prefix length, network → value), most specific prefix first.
    v4: Vec<(u8, HashMap<u32, V>)>,
    v6: Vec<(u8, HashMap<u128, V>)>,
    len: usize,
}

impl<V> Default for CidrMap<V> {
    fn default() -> Self {
        CidrMap { v4: Vec::new(), v6: Vec::new(), len: 0 }
    }
}

impl<V> CidrMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a network; returns the value it replaces if the same network was present.
    pub fn insert(&mut self, cidr: Cidr, value: V) -> Option<V> {
        let old = match cidr.addr {
            IpAddr::V4(a) => bucket(&mut self.v4, cidr.prefix).insert(u32::from(a), value),
            IpAddr::V6(a) => bucket(&mut self.v6, cidr.prefix).insert(u128::from(a), value),
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The value of the most specific network that holds `ip`, with that network.
    pub fn longest_match(&self, ip: IpAddr) -> Option<(Cidr, &V)> {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().find_map(|(p, m)| {
                    let net = a & mask4(*p);
                    m.get(&net).map(|v| (Cidr { addr: IpAddr::V4(net.into()), prefix: *p }, v))
                })
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().find_map(|(p, m)| {
                    let net = a & mask6(*p);
                    m.get(&net).map(|v| (Cidr { addr: IpAddr::V6(net.into()), prefix: *p }, v))
                })
            }
        }
    }

    /// The value stored for exactly this network.
    pub fn get(&self, cidr: &Cidr) -> Option<&V> {
        match cidr.addr {
            IpAddr::V4(a) => self.v4.iter().find(|(p, _)| *p == cidr.prefix)?.1.get(&u32::from(a)),
            IpAddr::V6(a) => self.v6.iter().find(|(p, _)| *p == cidr.prefix)?.1.get(&u128::from(a)),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.longest_match(ip).is_some()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn bucket<K, V>(buckets: &mut Vec<(u8, HashMap<K, V>)>, prefix: u8) -> &mut HashMap<K, V> {
    let i = match buckets.iter().position(|(p, _)| *p <= prefix) {
        Some(i) if buckets[i].0 == prefix => i,
        Some(i) => {
            buckets.insert(i, (prefix, HashMap::new()));
            i
        }
        None => {
            buckets.push((prefix, HashMap::new()));
            buckets.len() - 1
        }
    };
    &mut buckets[i].1
}

/// A set of networks.
#[derive(Debug, Clone, Default)]
pub struct CidrSet {
    map: CidrMap<()>,
    list: Vec<Cidr>,
}

impl CidrSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, cidr: Cidr) {
        if self.map.insert(cidr, ()).is_none() {
            self.list.push(cidr);
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.map.contains(ip)
    }

    /// The networks in the order first inserted.
    pub fn cidrs(&self) -> &[Cidr] {
        &self.list
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl FromIterator<Cidr> for CidrSet {
    fn from_iter<I: IntoIterator<Item = Cidr>>(iter: I) -> Self {
        let mut set = CidrSet::new();
        for c in iter {
            set.insert(c);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_v4_and_v6() {
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("fc00::/7").to_string(), "fc00::/7");
        assert_eq!(cidr("192.0.2.7").prefix(), 32);
        assert_eq!(cidr("2001:db8::1").prefix(), 128);
        assert_eq!(cidr(" 0.0.0.0/0 ").prefix(), 0);
    }

    #[test]
    fn rejects_bad_cidrs() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "",
            "host.example",
            "10.0.0.0/0008",
        ] {
            assert_eq!(bad.parse::<Cidr>(), Err(CidrError::Syntax), "{bad}");
        }
        assert_eq!("10.0.0.1/8".parse::<Cidr>(), Err(CidrError::HostBits(cidr("10.0.0.0/8"))));
        assert_eq!("fc00::1/7".parse::<Cidr>(), Err(CidrError::HostBits(cidr("fc00::/7"))));
    }

    #[test]
    fn contains_at_edge_prefixes() {
        let all4 = cidr("0.0.0.0/0");
        assert!(all4.contains(ip("255.255.255.255")));
        assert!(all4.contains(ip("0.0.0.0")));
        assert!(!all4.contains(ip("::1")), "a v4 network never holds a v6 address");

        let host = cidr("192.0.2.7/32");
        assert!(host.contains(ip("192.0.2.7")));
        assert!(!host.contains(ip("192.0.2.6")));
        assert!(!host.contains(ip("192.0.2.8")));

        let all6 = cidr("::/0");
        assert!(all6.contains(ip("2001:db8::1")));
        assert!(!all6.contains(ip("10.0.0.1")));

        let host6 = cidr("2001:db8::1/128");
        assert!(host6.contains(ip("2001:db8::1")));
        assert!(!host6.contains(ip("2001:db8::2")));

        let ula = cidr("fc00::/7");
        assert!(ula.contains(ip("fd12:3456::1")));
        assert!(!ula.contains(ip("fe80::1")));

        let ten = cidr("10.0.0.0/8");
        assert!(ten.contains(ip("10.255.255.255")));
        assert!(!ten.contains(ip("11.0.0.0")));
        assert!(ten.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped addresses count as IPv4");
        let mapped = cidr("::ffff:10.0.0.0/104");
        assert_eq!(mapped, ten, "IPv4-mapped networks are stored as IPv4");
        assert!(mapped.contains(ip("10.9.9.9")));
    }

    #[test]
    fn map_prefers_the_most_specific_network() {
        let mut m = CidrMap::new();
        m.insert(cidr("10.0.0.0/8"), "wide");
        m.insert(cidr("10.20.1.0/24"), "narrow");
        m.insert(cidr("10.20.0.0/16"), "middle");
        m.insert(cidr("0.0.0.0/0"), "everything");
        m.insert(cidr("2001:db8::/32"), "v6");
        assert_eq!(m.longest_match(ip("10.20.1.5")).map(|(_, v)| *v), Some("narrow"));
        assert_eq!(m.longest_match(ip("10.20.2.5")).map(|(_, v)| *v), Some("middle"));
        assert_eq!(
            m.longest_match(ip("10.30.0.1")).map(|(c, v)| (c.to_string(), *v)),
            Some(("10.0.0.0/8".into(), "wide"))
        );
        assert_eq!(m.longest_match(ip("8.8.8.8")).map(|(_, v)| *v), Some("everything"));
        assert_eq!(m.longest_match(ip("2001:db8::9")).map(|(_, v)| *v), Some("v6"));
        assert_eq!(m.longest_match(ip("2001:db9::9")), None);
        assert_eq!(m.len(), 5);
        assert_eq!(m.insert(cidr("10.0.0.0/8"), "again"), Some("wide"));
        assert_eq!(m.len(), 5);
        assert_eq!(m.get(&cidr("10.20.0.0/16")), Some(&"middle"));
        assert_eq!(m.get(&cidr("10.20.0.0/17")), None);
    }

    #[test]
    fn set_contains_and_dedups() {
        let s: CidrSet =
            ["10.0.0.0/8", "192.168.0.0/16", "10.0.0.0/8", "fc00::/7"].iter().map(|c| cidr(c)).collect();
        assert_eq!(s.len(), 3);
        assert!(s.contains(ip("192.168.4.4")));
        assert!(s.contains(ip("fdab::1")));
        assert!(!s.contains(ip("172.16.0.1")));
        assert!(!CidrSet::new().contains(ip("10.0.0.1")));
    }
}
