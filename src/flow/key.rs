//! The canonical, direction-free key of a TCP or UDP session and a fast symmetric hash of it.

use crate::decode::Transport;

use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;

/// One end of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// Which end of a `FlowKey` a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Lo,
    Hi,
}

/// Both ends, ordered so that the two directions of a session share one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: Endpoint,
    pub hi: Endpoint,
    pub transport: Transport,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and which side sent it.
    pub fn new(transport: Transport, src: Endpoint, dst: Endpoint) -> (FlowKey, Side) {
        if endpoint_le(&src, &dst) {
            (FlowKey { lo: src, hi: dst, transport }, Side::Lo)
        } else {
            (FlowKey { lo: dst, hi: src, transport }, Side::Hi)
        }
    }

    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::Lo => self.lo,
            Side::Hi => self.hi,
        }
    }

    /// A hash that is the same for both directions, used to shard flows over threads.
    pub fn shard_hash(&self) -> u64 {
        let mut h = FxHasher::default();
        self.hash(&mut h);
        h.finish()
    }
}

/// `a <= b` in `Endpoint`'s order (IPv4 before IPv6, then address, then port), on
/// integers rather than through the byte-wise comparison of the derived order.
#[inline]
fn endpoint_le(a: &Endpoint, b: &Endpoint) -> bool {
    match (a.ip, b.ip) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (u32::from(x), a.port) <= (u32::from(y), b.port),
        (IpAddr::V6(x), IpAddr::V6(y)) => (u128::from(x), a.port) <= (u128::from(y), b.port),
        (IpAddr::V4(_), IpAddr::V6(_)) => true,
        (IpAddr::V6(_), IpAddr::V4(_)) => false,
    }
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Lo => Side::Hi,
            Side::Hi => Side::Lo,
        }
    }
}

/// The multiply-rotate hash used in rustc (FxHash): not DoS-resistant, but the flow
/// table bounds its size and evicts, and it is several times faster than SipHash here.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, port: u16) -> Endpoint {
        Endpoint { ip: ip.parse().unwrap(), port }
    }

    #[test]
    fn the_fast_order_is_the_derived_order() {
        let eps = [
            ep("198.18.0.10", 40000),
            ep("198.18.0.10", 4444),
            ep("198.19.0.66", 4444),
            ep("10.0.0.1", 65535),
            ep("255.0.0.0", 1),
            ep("::1", 22),
            ep("2001:db8::1", 443),
            ep("2001:db8::1", 80),
            ep("fe80::1", 0),
        ];
        for a in &eps {
            for b in &eps {
                assert_eq!(endpoint_le(a, b), a <= b, "{a:?} <= {b:?}");
            }
        }
    }

    #[test]
    fn both_directions_share_a_key_and_hash() {
        let a = ep("198.18.0.10", 40000);
        let b = ep("198.19.0.66", 4444);
        let (k1, s1) = FlowKey::new(Transport::Tcp, a, b);
        let (k2, s2) = FlowKey::new(Transport::Tcp, b, a);
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
        assert_eq!(k1.shard_hash(), k2.shard_hash());
        assert_eq!(k1.endpoint(s1), a);
        assert_eq!(k2.endpoint(s2), b);
    }
}
