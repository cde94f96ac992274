//! Community ID v1 (corelight/community-id-spec), so analysts can pivot from an alert to
//! the same session in Zeek, Suricata or Elastic.

use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// `1:<base64(sha1(seed, lower endpoint, higher endpoint, proto, ports))>` for a TCP or
/// UDP flow (`proto` is the IP protocol number).
pub fn community_id_v1(
    seed: u16,
    proto: u8,
    src: IpAddr,
    src_port: u16,
    dst: IpAddr,
    dst_port: u16,
) -> String {
    let (a, ap, b, bp) = if (ip_bytes(&src), src_port) <= (ip_bytes(&dst), dst_port) {
        (src, src_port, dst, dst_port)
    } else {
        (dst, dst_port, src, src_port)
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(ip_bytes(&a));
    h.update(ip_bytes(&b));
    h.update([proto, 0]);
    h.update(ap.to_be_bytes());
    h.update(bp.to_be_bytes());
    format!("1:{}", base64::engine::general_purpose::STANDARD.encode(h.finalize()))
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_zeek_reference_vector() {
        // From Zeek's community-id btest: 1.2.3.4:1122 -> 5.6.7.8:3344/tcp, seed 0.
        let id = community_id_v1(0, 6, "1.2.3.4".parse().unwrap(), 1122, "5.6.7.8".parse().unwrap(), 3344);
        assert_eq!(id, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
        let rev = community_id_v1(0, 6, "5.6.7.8".parse().unwrap(), 3344, "1.2.3.4".parse().unwrap(), 1122);
        assert_eq!(rev, id, "direction-free");
    }
}
