//! Where packets come from. A `PacketSource` yields raw frames with their link type and
//! capture timestamp; nothing here parses protocols.

pub mod file;
pub mod live;
mod read_ahead;

use crate::time::Timestamp;

/// Link-layer header type, as numbered by tcpdump.org's LINKTYPE_ registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    /// DLT_RAW as numbered on some BSDs when written into old captures.
    pub const RAW_BSD: LinkType = LinkType(12);
    pub const RAW_OPENBSD: LinkType = LinkType(14);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// Length of the frame on the wire; `data` may be shorter (snaplen).
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// A source of frames: a capture file or a live interface.
pub trait PacketSource {
    /// The next frame, or `None` at the end of the capture. Errors are fatal to the
    /// source; a truncated file ends cleanly and reports itself through `warnings`.
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, crate::error::Error>;

    /// Problems found so far that did not stop reading (a cut-off last record, say).
    fn warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Bytes read so far and the total, when known (for progress display).
    fn progress(&self) -> Option<(u64, u64)> {
        None
    }
}
