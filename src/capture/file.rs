//! Capture files: classic pcap (both byte orders, micro- and nanosecond stamps) and
//! pcapng (several interfaces, each with its own link type and time resolution).
//!
//! We read the formats ourselves rather than through libpcap: libpcap refuses pcapng
//! files whose interfaces have different link types, and stops with an error on a
//! cut-off last record, where an investigator wants everything up to the cut.

use super::read_ahead::{Chunk, ReadAhead, HEADROOM};
use super::{LinkType, PacketSource, RawPacket};
use crate::error::{Error, Result};
use crate::time::Timestamp;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A record or block larger than this is taken as corruption, not data.
const MAX_RECORD: usize = 64 << 20;

/// A pcap or pcapng file, read sequentially in large chunks (on a thread of its own, see
/// `read_ahead`). Records are handed out as slices of the current chunk: no copy and no
/// system call per packet.
pub struct CaptureFile {
    path: PathBuf,
    reader: Chunked,
    size: u64,
    offset: u64,
    format: Format,
    /// Where the current record or block body lies in `reader.buf`.
    rec: Range<usize>,
    warnings: Vec<String>,
    /// Records that claimed more bytes than the file's snaplen (warned once, at the end).
    over_snaplen: u64,
    /// pcapng packet blocks whose captured length runs past the block (warned once).
    lying_caplen: u64,
    /// pcapng blocks of types this reader does not know, by type (warned at the end).
    unknown_blocks: Vec<(u32, u64)>,
    done: bool,
}

enum Format {
    /// `snaplen` 0 means the header did not say.
    Pcap {
        big_endian: bool,
        nanos: bool,
        link: LinkType,
        snaplen: u32,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

#[derive(Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    /// Timestamp units: `Some(10^-k)` as `Decimal(k)`, or `Binary(k)` for 2^-k seconds.
    resolution: Resolution,
    offset_secs: i64,
}

#[derive(Clone, Copy)]
enum Resolution {
    Decimal(u8),
    Binary(u8),
}

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_OPB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

enum Fill {
    Full,
    /// End of file before the first byte.
    Eof,
    /// End of file after some bytes: the capture was cut.
    Truncated,
}

impl CaptureFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cf = CaptureFile {
            path: path.to_path_buf(),
            reader: Chunked::new(file).map_err(|e| Error::io(path, e))?,
            size,
            offset: 0,
            format: Format::PcapNg { big_endian: false, interfaces: Vec::new() },
            rec: 0..0,
            warnings: Vec::new(),
            over_snaplen: 0,
            lying_caplen: 0,
            unknown_blocks: Vec::new(),
            done: false,
        };
        let mut magic = [0u8; 4];
        match cf.fill_exact_into(&mut magic)? {
            Fill::Full => {}
            _ => return Err(cf.not_a_capture("the file is shorter than any capture header")),
        }
        match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => cf.read_pcap_header(false, false)?,
            [0xa1, 0xb2, 0xc3, 0xd4] => cf.read_pcap_header(true, false)?,
            [0x4d, 0x3c, 0xb2, 0xa1] => cf.read_pcap_header(false, true)?,
            [0xa1, 0xb2, 0x3c, 0x4d] => cf.read_pcap_header(true, true)?,
            m if u32::from_le_bytes(m) == PCAPNG_SHB => cf.read_section_header()?,
            _ => {
                return Err(cf.not_a_capture(&format!(
                    "it starts with bytes {:02x} {:02x} {:02x} {:02x}",
                    magic[0], magic[1], magic[2], magic[3]
                )))
            }
        }
        Ok(cf)
    }

    fn not_a_capture(&self, why: &str) -> Error {
        Error::input(format!("{}: not a pcap or pcapng capture file ({why})", self.path.display()))
    }

    fn fill_exact_into(&mut self, out: &mut [u8]) -> Result<Fill> {
        let (fill, range) = self.reader.take(out.len()).map_err(|e| Error::io(&self.path, e))?;
        if let Fill::Full = fill {
            out.copy_from_slice(&self.reader.buf[range]);
            self.offset += out.len() as u64;
        }
        Ok(fill)
    }

    /// Makes the next `len` bytes the current record (`self.rec()`).
    fn fill_buf(&mut self, len: usize) -> Result<Fill> {
        let (fill, range) = self.reader.take(len).map_err(|e| Error::io(&self.path, e))?;
        if let Fill::Full = fill {
            self.offset += len as u64;
        }
        self.rec = range;
        Ok(fill)
    }

    /// The current record or block body.
    fn rec(&self) -> &[u8] {
        &self.reader.buf[self.rec.clone()]
    }

    /// Reads a record or block header; `false` at the end of the file, clean or cut.
    fn read_head(&mut self, head: &mut [u8], what: &str) -> Result<bool> {
        match self.fill_exact_into(head)? {
            Fill::Full => Ok(true),
            Fill::Eof => {
                self.done = true;
                Ok(false)
            }
            Fill::Truncated => {
                self.truncated(what);
                Ok(false)
            }
        }
    }

    fn truncated(&mut self, what: &str) {
        self.warnings.push(format!(
            "{}: capture is truncated at byte {} ({what} cut off); processed everything before the cut",
            self.path.display(),
            self.offset
        ));
        self.done = true;
    }

    fn read_pcap_header(&mut self, big_endian: bool, nanos: bool) -> Result<()> {
        let mut rest = [0u8; 20];
        match self.fill_exact_into(&mut rest)? {
            Fill::Full => {}
            _ => return Err(self.not_a_capture("the pcap file header is cut off")),
        }
        let snaplen = u32_at(&rest, 12, big_endian);
        let link = u32_at(&rest, 16, big_endian) & 0xffff;
        self.format = Format::Pcap { big_endian, nanos, link: LinkType(link as u16), snaplen };
        Ok(())
    }

    /// Reads the rest of a Section Header Block whose type we already consumed.
    fn read_section_header(&mut self) -> Result<()> {
        let mut head = [0u8; 8];
        match self.fill_exact_into(&mut head)? {
            Fill::Full => {}
            _ => return Err(self.not_a_capture("the pcapng section header is cut off")),
        }
        let big_endian = match u32::from_le_bytes([head[4], head[5], head[6], head[7]]) {
            PCAPNG_BOM => false,
            x if x.swap_bytes() == PCAPNG_BOM => true,
            _ => return Err(self.not_a_capture("the pcapng byte-order magic is wrong")),
        };
        let total = u32_at(&head, 0, big_endian) as usize;
        if !(28..=MAX_RECORD).contains(&total) || total % 4 != 0 {
            return Err(self.not_a_capture("the pcapng section header has a bad length"));
        }
        // Skip the remainder: version, section length, options, trailing length.
        match self.fill_buf(total - 12)? {
            Fill::Full => {}
            _ => return Err(self.not_a_capture("the pcapng section header is cut off")),
        }
        self.format = Format::PcapNg { big_endian, interfaces: Vec::new() };
        Ok(())
    }

    fn next_pcap(
        &mut self,
        big_endian: bool,
        nanos: bool,
        link: LinkType,
        snaplen: u32,
    ) -> Result<Option<RawPacket<'_>>> {
        let mut head = [0u8; 16];
        if !self.read_head(&mut head, "a record header")? {
            return Ok(None);
        }
        let secs = u32_at(&head, 0, big_endian) as i64;
        let frac = u32_at(&head, 4, big_endian) as i64;
        let caplen = u32_at(&head, 8, big_endian) as usize;
        let wire_len = u32_at(&head, 12, big_endian);
        if caplen > MAX_RECORD {
            self.warnings.push(format!(
                "{}: record at byte {} claims {caplen} bytes; the rest of the file is corrupt and was not read",
                self.path.display(),
                self.offset - 16
            ));
            self.done = true;
            return Ok(None);
        }
        if snaplen != 0 && caplen > snaplen as usize {
            // The writer broke its own promise; the bytes are there, so read them.
            self.over_snaplen += 1;
        }
        match self.fill_buf(caplen)? {
            Fill::Full => {}
            Fill::Eof | Fill::Truncated => {
                self.truncated("the last packet");
                return Ok(None);
            }
        }
        let nanos_part = if nanos { frac } else { frac * 1000 };
        let ts = Timestamp::from_nanos(secs * 1_000_000_000 + nanos_part);
        Ok(Some(RawPacket { ts, link, wire_len: wire_len.max(caplen as u32), data: self.rec() }))
    }

    fn next_pcapng(&mut self) -> Result<Option<RawPacket<'_>>> {
        loop {
            let big_endian = match &self.format {
                Format::PcapNg { big_endian, .. } => *big_endian,
                Format::Pcap { .. } => unreachable!("pcapng reader on a pcap file"),
            };
            let mut head = [0u8; 8];
            if !self.read_head(&mut head, "a block header")? {
                return Ok(None);
            }
            if u32::from_le_bytes([head[0], head[1], head[2], head[3]]) == PCAPNG_SHB {
                // A new section: its own byte order and its own interfaces. Re-read the
                // header through the section reader, which expects the type consumed.
                let mut rest = [0u8; 4];
                rest.copy_from_slice(&head[4..8]);
                let mut bom = [0u8; 4];
                if !matches!(self.fill_exact_into(&mut bom)?, Fill::Full) {
                    self.truncated("a section header");
                    return Ok(None);
                }
                let be = match u32::from_le_bytes(bom) {
                    PCAPNG_BOM => false,
                    x if x.swap_bytes() == PCAPNG_BOM => true,
                    _ => {
                        self.warnings.push(format!(
                            "{}: bad section header at byte {}; stopped reading",
                            self.path.display(),
                            self.offset
                        ));
                        self.done = true;
                        return Ok(None);
                    }
                };
                let total = u32_at(&rest, 0, be) as usize;
                if !(28..=MAX_RECORD).contains(&total) {
                    self.truncated("a section header");
                    return Ok(None);
                }
                if !matches!(self.fill_buf(total - 12)?, Fill::Full) {
                    self.truncated("a section header");
                    return Ok(None);
                }
                self.format = Format::PcapNg { big_endian: be, interfaces: Vec::new() };
                continue;
            }
            let block_type = u32_at(&head, 0, big_endian);
            let total = u32_at(&head, 4, big_endian) as usize;
            if !(12..=MAX_RECORD).contains(&total) || total % 4 != 0 {
                self.warnings.push(format!(
                    "{}: block at byte {} has a bad length {total}; the rest of the file was not read",
                    self.path.display(),
                    self.offset - 8
                ));
                self.done = true;
                return Ok(None);
            }
            match self.fill_buf(total - 8)? {
                Fill::Full => {}
                Fill::Eof | Fill::Truncated => {
                    self.truncated("the last block");
                    return Ok(None);
                }
            }
            let body_len = total - 12;
            match block_type {
                PCAPNG_IDB => {
                    let iface = parse_idb(&self.rec()[..body_len], big_endian);
                    if let Format::PcapNg { interfaces, .. } = &mut self.format {
                        interfaces.push(iface);
                    }
                }
                PCAPNG_EPB | PCAPNG_OPB => {
                    if body_len < 20 {
                        continue;
                    }
                    let b = &self.rec()[..body_len];
                    let (if_id, ts_hi, ts_lo, caplen, wire) = if block_type == PCAPNG_EPB {
                        (
                            u32_at(b, 0, big_endian) as usize,
                            u32_at(b, 4, big_endian),
                            u32_at(b, 8, big_endian),
                            u32_at(b, 12, big_endian) as usize,
                            u32_at(b, 16, big_endian),
                        )
                    } else {
                        (
                            u16_at(b, 0, big_endian) as usize,
                            u32_at(b, 4, big_endian),
                            u32_at(b, 8, big_endian),
                            u32_at(b, 12, big_endian) as usize,
                            u32_at(b, 16, big_endian),
                        )
                    };
                    let Some(iface) = self.interface(if_id) else {
                        self.warnings.push(format!(
                            "{}: packet at byte {} names interface {if_id}, which was never described; skipped",
                            self.path.display(),
                            self.offset - total as u64
                        ));
                        continue;
                    };
                    if caplen > body_len - 20 {
                        self.lying_caplen += 1;
                    }
                    let caplen = caplen.min(body_len - 20);
                    let ts = iface.timestamp(((ts_hi as u64) << 32) | ts_lo as u64);
                    let data = &self.rec()[20..20 + caplen];
                    return Ok(Some(RawPacket {
                        ts,
                        link: iface.link,
                        wire_len: wire.max(caplen as u32),
                        data,
                    }));
                }
                PCAPNG_SPB => {
                    if body_len < 4 {
                        continue;
                    }
                    let Some(iface) = self.interface(0) else { continue };
                    let wire = u32_at(self.rec(), 0, big_endian);
                    let mut caplen = (wire as usize).min(body_len - 4);
                    if iface.snaplen > 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    // Simple packets carry no timestamp; the format says to treat it as unknown.
                    let data = &self.rec()[4..4 + caplen];
                    return Ok(Some(RawPacket {
                        ts: Timestamp::ZERO,
                        link: iface.link,
                        wire_len: wire.max(caplen as u32),
                        data,
                    }));
                }
                // Name resolution, statistics, decryption secrets, systemd journal,
                // custom blocks, Darwin process info: known, not needed.
                4 | 5 | 9 | 10 | 0x0BAD | 0x4000_0BAD | 0x8000_0001 => {}
                other => self.count_unknown_block(other),
            }
        }
    }

    /// Counts a block of a type this reader does not know (up to 16 distinct types).
    fn count_unknown_block(&mut self, block_type: u32) {
        if let Some((_, n)) = self.unknown_blocks.iter_mut().find(|(t, _)| *t == block_type) {
            *n += 1;
        } else if self.unknown_blocks.len() < 16 {
            self.unknown_blocks.push((block_type, 1));
        }
    }

    fn interface(&self, id: usize) -> Option<Interface> {
        match &self.format {
            Format::PcapNg { interfaces, .. } => interfaces.get(id).copied(),
            Format::Pcap { .. } => None,
        }
    }
}

/// The file's bytes, a chunk at a time as the read-ahead thread delivers them; records
/// are borrowed from the current chunk.
struct Chunked {
    source: ReadAhead,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// No more chunks will come (the file ended, or reading it failed).
    ended: bool,
}

impl Chunked {
    fn new(file: File) -> io::Result<Self> {
        Ok(Chunked { source: ReadAhead::spawn(file)?, buf: Vec::new(), pos: 0, end: 0, ended: false })
    }

    /// Consumes the next `n` bytes and says where they are in `buf`. At the end of the
    /// file, says whether none (`Eof`) or only some (`Truncated`) were there.
    #[inline]
    fn take(&mut self, n: usize) -> io::Result<(Fill, Range<usize>)> {
        while self.end - self.pos < n {
            let next = if self.ended { None } else { self.source.next() };
            match next {
                Some(Ok(chunk)) => self.append(chunk),
                Some(Err(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                None => {
                    self.ended = true;
                    let fill = if self.end == self.pos { Fill::Eof } else { Fill::Truncated };
                    let range = self.pos..self.end;
                    self.pos = self.end;
                    return Ok((fill, range));
                }
            }
        }
        let start = self.pos;
        self.pos += n;
        Ok((Fill::Full, start..start + n))
    }

    /// Makes a new chunk's bytes follow the unread ones.
    fn append(&mut self, chunk: Chunk) {
        let Chunk { buf: mut next, len } = chunk;
        let tail = self.end - self.pos;
        if tail <= HEADROOM {
            // The unread tail (the head of a record the chunk completes) goes in front of
            // the chunk's bytes, in the room left for it.
            next[HEADROOM - tail..HEADROOM].copy_from_slice(&self.buf[self.pos..self.end]);
            let used = std::mem::replace(&mut self.buf, next);
            self.source.recycle(used);
            self.pos = HEADROOM - tail;
            self.end = HEADROOM + len;
        } else {
            // A record longer than that room: gather it in the current buffer.
            self.buf.copy_within(self.pos..self.end, 0);
            self.buf.truncate(tail);
            self.buf.extend_from_slice(&next[HEADROOM..HEADROOM + len]);
            self.pos = 0;
            self.end = self.buf.len();
            self.source.recycle(next);
        }
    }
}

impl Interface {
    fn timestamp(&self, units: u64) -> Timestamp {
        let nanos: i128 = match self.resolution {
            Resolution::Decimal(k) if k <= 9 => units as i128 * 10i128.pow(9 - k as u32),
            Resolution::Decimal(k) => units as i128 / 10i128.pow((k as u32 - 9).min(30)),
            Resolution::Binary(k) => ((units as i128) * 1_000_000_000) >> k.min(120),
        };
        Timestamp::from_nanos((nanos + self.offset_secs as i128 * 1_000_000_000) as i64)
    }
}

fn parse_idb(body: &[u8], be: bool) -> Interface {
    let mut iface = Interface {
        link: LinkType(if body.len() >= 2 { u16_at(body, 0, be) } else { 0 }),
        snaplen: if body.len() >= 8 { u32_at(body, 4, be) } else { 0 },
        resolution: Resolution::Decimal(6),
        offset_secs: 0,
    };
    let mut opts = body.get(8..).unwrap_or(&[]);
    while opts.len() >= 4 {
        let code = u16_at(opts, 0, be);
        let len = u16_at(opts, 2, be) as usize;
        let padded = (len + 3) & !3;
        let Some(value) = opts.get(4..4 + len) else { break };
        match (code, len) {
            (0, _) => break,
            (9, 1) => {
                let v = value[0];
                iface.resolution =
                    if v & 0x80 == 0 { Resolution::Decimal(v) } else { Resolution::Binary(v & 0x7f) };
            }
            (14, 8) => iface.offset_secs = u64_at(value, be) as i64,
            _ => {}
        }
        opts = opts.get(4 + padded..).unwrap_or(&[]);
    }
    iface
}

impl PacketSource for CaptureFile {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>> {
        if self.done {
            return Ok(None);
        }
        match self.format {
            Format::Pcap { big_endian, nanos, link, snaplen } => {
                self.next_pcap(big_endian, nanos, link, snaplen)
            }
            Format::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn warnings(&mut self) -> Vec<String> {
        let path = self.path.display();
        if self.over_snaplen > 0 {
            let snaplen = match self.format {
                Format::Pcap { snaplen, .. } => snaplen,
                Format::PcapNg { .. } => 0,
            };
            self.warnings.push(format!(
                "{path}: {} records are longer than the file's snaplen ({snaplen}); they were read as they are",
                std::mem::take(&mut self.over_snaplen)
            ));
        }
        if self.lying_caplen > 0 {
            self.warnings.push(format!(
                "{path}: {} packet blocks claim more captured bytes than they hold; only the bytes present were read",
                std::mem::take(&mut self.lying_caplen)
            ));
        }
        for (block_type, n) in self.unknown_blocks.drain(..) {
            self.warnings.push(format!("{path}: skipped {n} pcapng blocks of unknown type {block_type:#x}"));
        }
        std::mem::take(&mut self.warnings)
    }

    fn progress(&self) -> Option<(u64, u64)> {
        Some((self.offset, self.size))
    }
}

fn u16_at(b: &[u8], at: usize, be: bool) -> u16 {
    let x = [b[at], b[at + 1]];
    if be {
        u16::from_be_bytes(x)
    } else {
        u16::from_le_bytes(x)
    }
}

fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(x)
    } else {
        u32::from_le_bytes(x)
    }
}

fn u64_at(b: &[u8], be: bool) -> u64 {
    let x: [u8; 8] = b[..8].try_into().unwrap_or([0; 8]);
    if be {
        u64::from_be_bytes(x)
    } else {
        u64::from_le_bytes(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_tmp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shellsight-capture-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    }

    fn pcap_bytes(be: bool, nanos: bool, link: u32, packets: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        out.extend(w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend(w16(2));
        out.extend(w16(4));
        out.extend(w32(0));
        out.extend(w32(0));
        out.extend(w32(65535));
        out.extend(w32(link));
        for (s, f, data, wire) in packets {
            out.extend(w32(*s));
            out.extend(w32(*f));
            out.extend(w32(data.len() as u32));
            out.extend(w32(*wire));
            out.extend(*data);
        }
        out
    }

    /// (timestamp ns, link type, wire length, bytes) of each packet.
    type Packets = Vec<(i64, u16, u32, Vec<u8>)>;

    fn read_all(p: &Path) -> (Packets, Vec<String>) {
        let mut cf = CaptureFile::open(p).unwrap();
        let mut out = Vec::new();
        while let Some(pkt) = cf.next_packet().unwrap() {
            out.push((pkt.ts.as_nanos(), pkt.link.0, pkt.wire_len, pkt.data.to_vec()));
        }
        (out, cf.warnings())
    }

    #[test]
    fn pcap_in_both_byte_orders_and_resolutions() {
        for (be, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
            let bytes = pcap_bytes(be, nanos, 1, &[(10, 500, b"abcd", 60), (11, 7, b"xy", 2)]);
            let p = write_tmp(&format!("p-{be}-{nanos}.pcap"), &bytes);
            let (pkts, warnings) = read_all(&p);
            assert!(warnings.is_empty(), "{warnings:?}");
            assert_eq!(pkts.len(), 2);
            let unit = if nanos { 1 } else { 1000 };
            assert_eq!(pkts[0].0, 10_000_000_000 + 500 * unit);
            assert_eq!(pkts[0].1, 1);
            assert_eq!(pkts[0].2, 60, "wire length comes from the record, not the data");
            assert_eq!(pkts[1].3, b"xy");
        }
    }

    #[test]
    fn records_across_chunk_boundaries_and_larger_than_the_headroom_arrive_whole() {
        // Several read-ahead chunks' worth, in records of every size up to 200 KB: many
        // are cut by a chunk's start, some are longer than the room kept before one.
        let mut x: u32 = 0x9e37_79b9;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let datas: Vec<Vec<u8>> = (0..160u32)
            .map(|i| {
                let len = if i % 40 == 7 { 200_000 } else { next() as usize % 70_000 };
                (0..len).map(|j| (j as u32).wrapping_mul(31).wrapping_add(i) as u8).collect()
            })
            .collect();
        let records: Vec<(u32, u32, &[u8], u32)> =
            datas.iter().enumerate().map(|(i, d)| (i as u32, 0, d.as_slice(), d.len() as u32)).collect();
        let bytes = pcap_bytes(false, false, 1, &records);
        assert!(bytes.len() > 4 * (1 << 20), "spans several chunks: {}", bytes.len());
        let (pkts, _) = read_all(&write_tmp("chunks.pcap", &bytes));
        assert_eq!(pkts.len(), datas.len());
        for (i, (p, d)) in pkts.iter().zip(&datas).enumerate() {
            assert!(p.3 == *d, "record {i} ({} bytes) differs", d.len());
        }
        // Cut inside a large record that began in an earlier chunk: everything before it
        // arrives, and the cut is reported.
        let big = records.iter().position(|r| r.2.len() == 200_000 && r.0 > 40).unwrap();
        let start: usize = 24 + records[..big].iter().map(|r| 16 + r.2.len()).sum::<usize>();
        let (pkts, warnings) = read_all(&write_tmp("chunks-cut.pcap", &bytes[..start + 16 + 150_000]));
        assert_eq!(pkts.len(), big);
        assert!(warnings.iter().any(|w| w.contains("truncated")), "{warnings:?}");
    }

    #[test]
    fn truncated_pcap_yields_packets_before_the_cut_and_warns() {
        let bytes = pcap_bytes(false, false, 1, &[(1, 0, b"first", 5), (2, 0, b"second-packet", 13)]);
        let cut = &bytes[..bytes.len() - 4];
        let p = write_tmp("cut.pcap", cut);
        let (pkts, warnings) = read_all(&p);
        assert_eq!(pkts.len(), 1);
        assert_eq!(pkts[0].3, b"first");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("truncated"), "{}", warnings[0]);
    }

    #[test]
    fn non_capture_is_a_clear_error() {
        let p = write_tmp("notes.txt", b"hello, this is not a capture");
        let err = CaptureFile::open(&p).err().expect("must fail");
        assert!(err.to_string().contains("not a pcap or pcapng"), "{err}");
        let p = write_tmp("empty.pcap", b"");
        assert!(CaptureFile::open(&p).is_err());
    }

    fn ng_block(t: u32, body: &[u8]) -> Vec<u8> {
        let mut padded = body.to_vec();
        while padded.len() % 4 != 0 {
            padded.push(0);
        }
        let total = (padded.len() + 12) as u32;
        let mut out = t.to_le_bytes().to_vec();
        out.extend(total.to_le_bytes());
        out.extend(padded);
        out.extend(total.to_le_bytes());
        out
    }

    fn shb() -> Vec<u8> {
        let mut body = PCAPNG_BOM.to_le_bytes().to_vec();
        body.extend(1u16.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend((-1i64).to_le_bytes());
        ng_block(PCAPNG_SHB, &body)
    }

    fn idb(link: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut body = link.to_le_bytes().to_vec();
        body.extend(0u16.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend(9u16.to_le_bytes());
            body.extend(1u16.to_le_bytes());
            body.extend([r, 0, 0, 0]);
            body.extend([0u8; 4]);
        }
        ng_block(PCAPNG_IDB, &body)
    }

    fn epb(if_id: u32, units: u64, data: &[u8], wire: u32) -> Vec<u8> {
        let mut body = if_id.to_le_bytes().to_vec();
        body.extend(((units >> 32) as u32).to_le_bytes());
        body.extend((units as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(wire.to_le_bytes());
        body.extend(data);
        ng_block(PCAPNG_EPB, &body)
    }

    #[test]
    fn pcapng_with_interfaces_of_different_link_types_and_resolutions() {
        let mut bytes = shb();
        bytes.extend(idb(1, None)); // Ethernet, microseconds
        bytes.extend(idb(276, Some(9))); // SLL2, nanoseconds
        bytes.extend(epb(0, 2_000_000, b"eth-frame", 64));
        bytes.extend(ng_block(5, &[0u8; 8])); // a statistics block, skipped
        bytes.extend(epb(1, 3_000_000_123, b"sll2", 4));
        let p = write_tmp("multi.pcapng", &bytes);
        let (pkts, warnings) = read_all(&p);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(pkts.len(), 2);
        assert_eq!((pkts[0].0, pkts[0].1, pkts[0].2), (2_000_000_000, 1, 64));
        assert_eq!(pkts[0].3, b"eth-frame");
        assert_eq!((pkts[1].0, pkts[1].1), (3_000_000_123, 276));
    }

    #[test]
    fn pcapng_cut_mid_block_warns_and_keeps_earlier_packets() {
        let mut bytes = shb();
        bytes.extend(idb(1, None));
        bytes.extend(epb(0, 1, b"one", 3));
        let second = epb(0, 2, b"two-two-two", 11);
        bytes.extend(&second[..second.len() - 6]);
        let p = write_tmp("cut.pcapng", &bytes);
        let (pkts, warnings) = read_all(&p);
        assert_eq!(pkts.len(), 1);
        assert_eq!(warnings.len(), 1);
    }
}
