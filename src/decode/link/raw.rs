//! Raw IP (LINKTYPE_RAW, IPV4, IPV6): the frame is the IP packet; the version nibble says which.

use super::Skip;

pub fn payload(frame: &[u8]) -> Result<&[u8], Skip> {
    match frame.first().map(|b| b >> 4) {
        Some(4) | Some(6) => Ok(frame),
        Some(_) => Err(Skip::Malformed("raw IP frame with a bad version")),
        None => Err(Skip::Malformed("empty frame")),
    }
}
