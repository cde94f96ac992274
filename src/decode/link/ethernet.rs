//! Ethernet II, with any number of 802.1Q / 802.1ad / QinQ VLAN tags.

use super::{ip_by_ether_type, Skip};

const VLAN_TAGS: [u16; 3] = [0x8100, 0x88a8, 0x9100];
/// More stacked tags than this is not a real frame.
const MAX_TAGS: usize = 4;

pub fn payload(frame: &[u8]) -> Result<&[u8], Skip> {
    let mut at = 12;
    for _ in 0..=MAX_TAGS {
        let Some(et) = frame.get(at..at + 2) else { return Err(Skip::Malformed("ethernet header cut off")) };
        let ether_type = u16::from_be_bytes([et[0], et[1]]);
        if VLAN_TAGS.contains(&ether_type) {
            at += 4;
            continue;
        }
        return ip_by_ether_type(ether_type, &frame[at + 2..]);
    }
    Err(Skip::Malformed("too many VLAN tags"))
}
