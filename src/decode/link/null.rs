//! BSD loopback: a 4-byte address family, in the capturing host's byte order (NULL) or
//! in network byte order (LOOP, OpenBSD).

use super::Skip;

pub enum Order {
    Host,
    Network,
}

/// AF_INET everywhere; AF_INET6 differs by BSD (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS).
const AF_INET: u32 = 2;
const AF_INET6: [u32; 3] = [24, 28, 30];

pub fn payload(frame: &[u8], order: Order) -> Result<&[u8], Skip> {
    let Some(h) = frame.get(..4) else { return Err(Skip::Malformed("loopback header cut off")) };
    let h = [h[0], h[1], h[2], h[3]];
    let family = match order {
        Order::Network => u32::from_be_bytes(h),
        // Host order of the machine that wrote the file, which we cannot know; the
        // family numbers are small, so whichever reading is small is the right one.
        Order::Host => {
            let le = u32::from_le_bytes(h);
            if le <= 0xffff {
                le
            } else {
                u32::from_be_bytes(h)
            }
        }
    };
    if family == AF_INET || AF_INET6.contains(&family) {
        Ok(&frame[4..])
    } else {
        Err(Skip::NotIp)
    }
}
