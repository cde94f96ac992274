//! Linux "cooked" capture v1 (tcpdump -i any on older libpcap): a 16-byte header whose
//! last two bytes are the EtherType.

use super::{ip_by_ether_type, Skip};

pub fn payload(frame: &[u8]) -> Result<&[u8], Skip> {
    let Some(et) = frame.get(14..16) else { return Err(Skip::Malformed("SLL header cut off")) };
    ip_by_ether_type(u16::from_be_bytes([et[0], et[1]]), &frame[16..])
}
