//! Linux "cooked" capture v2: a 20-byte header that starts with the EtherType.

use super::{ip_by_ether_type, Skip};

pub fn payload(frame: &[u8]) -> Result<&[u8], Skip> {
    if frame.len() < 20 {
        return Err(Skip::Malformed("SLL2 header cut off"));
    }
    ip_by_ether_type(u16::from_be_bytes([frame[0], frame[1]]), &frame[20..])
}
