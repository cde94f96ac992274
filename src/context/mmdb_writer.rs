//! A small MaxMind DB (format 2.0) writer for IP-to-ASN data.
//!
//! The output has the layout of MaxMind's GeoLite2-ASN: one IPv6 search tree
//! (`ip_version` 6) with IPv4 stored at `::/96` and aliased from `::ffff:0:0/96`, a data
//! section of `{autonomous_system_number, autonomous_system_organization}` maps, and the
//! metadata map. Identical records are written once and shared by every tree record
//! that points to them; map keys and repeated organisation names are written once and
//! referenced by pointers afterwards.
//!
//! Input ranges are inclusive `start..=end` address ranges (the ip-location-db CSV
//! layout). Adjacent ranges with the same data are merged, then every range is split
//! into the fewest CIDR prefixes that cover it exactly.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// The metadata fields a caller chooses; the rest are derived from the tree.
#[derive(Debug, Clone)]
pub struct MmdbMetadata {
    pub database_type: String,
    /// Language code → description.
    pub description: Vec<(String, String)>,
    pub languages: Vec<String>,
    /// Seconds since the Unix epoch; fixed by the caller so builds are reproducible.
    pub build_epoch: u64,
}

/// One row of input: an inclusive address range and the AS that announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnRange {
    pub start: IpAddr,
    pub end: IpAddr,
    pub asn: u32,
    pub organization: String,
}

/// A data-section value. The ASN import only needs maps, strings and unsigned integers;
/// arrays are there so tests can build GeoIP2-Enterprise-shaped records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    U16(u16),
    U32(u32),
    String(String),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

impl Value {
    /// `{autonomous_system_number, autonomous_system_organization}`, as in GeoLite2-ASN.
    pub fn asn(asn: u32, organization: &str) -> Value {
        Value::Map(vec![
            ("autonomous_system_number".into(), Value::U32(asn)),
            ("autonomous_system_organization".into(), Value::String(organization.into())),
        ])
    }
}

/// Statistics of one build, for the user and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    pub ranges: usize,
    pub merged_ranges: usize,
    pub overlaps_clipped: usize,
    pub prefixes: usize,
    pub records: usize,
    pub nodes: usize,
    pub record_size: u16,
    pub data_section_bytes: usize,
    pub file_bytes: usize,
}

const EMPTY: u32 = u32::MAX;
const DATA_TAG: u32 = 0x8000_0000;
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
const IPV4_IN_V6_BITS: u32 = 96;

/// Accumulates ranges, then serialises one database.
#[derive(Debug, Default)]
pub struct AsnMmdbWriter {
    /// Record → index into `records`: identical records are stored once.
    record_index: HashMap<Value, u32>,
    records: Vec<Value>,
    /// (start, end, record) in the IPv6 address space (IPv4 at ::/96).
    ranges: Vec<(u128, u128, u32)>,
}

impl AsnMmdbWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one inclusive range. IPv4 ranges land at `::/96`; mixed families or
    /// `start > end` are errors.
    pub fn insert_range(&mut self, start: IpAddr, end: IpAddr, asn: u32, organization: &str) -> Result<()> {
        self.insert_value_range(start, end, Value::asn(asn, organization))
    }

    /// Adds one inclusive range with an arbitrary record (a map, for MaxMind readers).
    pub fn insert_value_range(&mut self, start: IpAddr, end: IpAddr, record: Value) -> Result<()> {
        let (s, e) = match (start, end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => (u32::from(s) as u128, u32::from(e) as u128),
            (IpAddr::V6(s), IpAddr::V6(e)) => {
                let (s, e) = (u128::from(s), u128::from(e));
                // IPv4 lives at ::/96 and ::ffff:0:0/96 aliases it; IPv6 rows there would
                // collide with the IPv4 data.
                if s >> 32 == 0 || s >> 32 == 0xffff {
                    return Err(Error::input(format!(
                        "{start}-{end}: IPv4-compatible or IPv4-mapped IPv6 range; give it as IPv4"
                    )));
                }
                (s, e)
            }
            _ => return Err(Error::input(format!("{start}-{end}: range mixes IPv4 and IPv6"))),
        };
        if s > e {
            return Err(Error::input(format!("{start}-{end}: range start is after its end")));
        }
        let idx = match self.record_index.get(&record) {
            Some(&i) => i,
            None => {
                let i = self.records.len() as u32;
                self.records.push(record.clone());
                self.record_index.insert(record, i);
                i
            }
        };
        self.ranges.push((s, e, idx));
        Ok(())
    }

    pub fn insert(&mut self, range: &AsnRange) -> Result<()> {
        self.insert_range(range.start, range.end, range.asn, &range.organization)
    }

    /// Reads one ip-location-db CSV (`ip_range_start,ip_range_end,asn,organisation`,
    /// optional header line) into the writer. Returns the number of rows read.
    pub fn read_csv(&mut self, path: &Path) -> Result<usize> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut rows = 0;
        let mut fields: Vec<String> = Vec::with_capacity(4);
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("{}:{}", path.display(), lineno + 1);
            split_csv_line(line, &mut fields).map_err(|e| Error::input(format!("{}: {e}", at())))?;
            if fields.len() < 4 {
                return Err(Error::input(format!("{}: expected 4 fields, found {}", at(), fields.len())));
            }
            let start = fields[0].trim().parse::<IpAddr>();
            if lineno == 0 && start.is_err() && fields[0].trim().starts_with("ip_range") {
                continue; // header
            }
            let start = start.map_err(|_| {
                Error::input(format!(
                    "{}: `{}` is not an IP address (the *-num.csv files are not supported; use asn-ipv4.csv / asn-ipv6.csv)",
                    at(),
                    fields[0]
                ))
            })?;
            let end = fields[1]
                .trim()
                .parse::<IpAddr>()
                .map_err(|_| Error::input(format!("{}: `{}` is not an IP address", at(), fields[1])))?;
            let asn = fields[2]
                .trim()
                .trim_start_matches("AS")
                .parse::<u32>()
                .map_err(|_| Error::input(format!("{}: `{}` is not an AS number", at(), fields[2])))?;
            self.insert_range(start, end, asn, fields[3].trim())
                .map_err(|e| Error::input(format!("{}: {e}", at())))?;
            rows += 1;
        }
        Ok(rows)
    }

    /// Serialises the database. Overlapping input is resolved in favour of the range
    /// that starts first (the overlapping tail of the later one is dropped).
    pub fn build(mut self, meta: &MmdbMetadata) -> Result<(Vec<u8>, BuildStats)> {
        let mut stats =
            BuildStats { ranges: self.ranges.len(), records: self.records.len(), ..Default::default() };

        // Sort, clip overlaps, merge adjacent ranges with the same record.
        self.ranges.sort_unstable();
        let mut merged: Vec<(u128, u128, u32)> = Vec::with_capacity(self.ranges.len());
        for &(mut s, e, d) in &self.ranges {
            if let Some(last) = merged.last_mut() {
                if s <= last.1 {
                    stats.overlaps_clipped += 1;
                    if e <= last.1 {
                        continue;
                    }
                    s = last.1 + 1;
                }
                if last.2 == d && last.1.checked_add(1) == Some(s) {
                    last.1 = e;
                    continue;
                }
            }
            merged.push((s, e, d));
        }
        stats.merged_ranges = merged.len();

        // Only records still referenced go into the data section, in first-use order.
        let mut tree = Tree::new();
        for &(s, e, d) in &merged {
            for_each_cidr(s, e, |addr, len| {
                tree.insert(addr, len, DATA_TAG | d);
                stats.prefixes += 1;
            });
        }
        tree.alias_ipv4_mapped();
        let node_count = tree.nodes.len();

        // Data section: records referenced by the tree, keys and organisations deduplicated.
        let mut data = DataWriter::default();
        let mut offsets = vec![u32::MAX; self.records.len()];
        for node in &tree.nodes {
            for &rec in node {
                if rec != EMPTY && rec & DATA_TAG != 0 {
                    let i = (rec & !DATA_TAG) as usize;
                    if offsets[i] == u32::MAX {
                        offsets[i] = data.value(&self.records[i]) as u32;
                    }
                }
            }
        }
        stats.data_section_bytes = data.buf.len();

        let max_value = node_count as u64 + 16 + data.buf.len() as u64;
        let record_size: u16 = if max_value < 1 << 24 {
            24
        } else if max_value < 1 << 28 {
            28
        } else if max_value < 1 << 32 {
            32
        } else {
            return Err(Error::runtime("database too large for the MaxMind DB format"));
        };
        stats.record_size = record_size;
        stats.nodes = node_count;

        let node_bytes = record_size as usize / 4;
        let mut out = Vec::with_capacity(node_count * node_bytes + 16 + data.buf.len() + 512);
        let resolve = |rec: u32| -> u32 {
            if rec == EMPTY {
                node_count as u32
            } else if rec & DATA_TAG != 0 {
                node_count as u32 + 16 + offsets[(rec & !DATA_TAG) as usize]
            } else {
                rec
            }
        };
        for node in &tree.nodes {
            let (l, r) = (resolve(node[0]), resolve(node[1]));
            match record_size {
                24 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                28 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.push((((l >> 24) & 0x0f) << 4) as u8 | ((r >> 24) & 0x0f) as u8);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                _ => {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data.buf);
        out.extend_from_slice(METADATA_MARKER);
        write_metadata(&mut out, meta, node_count as u32, record_size);
        stats.file_bytes = out.len();
        Ok((out, stats))
    }
}

/// Splits one CSV line into fields (RFC 4180 quoting, `""` inside quotes).
fn split_csv_line(line: &str, fields: &mut Vec<String>) -> std::result::Result<(), String> {
    fields.clear();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == ',' {
            fields.push(std::mem::take(&mut cur));
            was_quoted = false;
        } else if c == '"' && cur.is_empty() && !was_quoted {
            in_quotes = true;
            was_quoted = true;
        } else {
            cur.push(c);
        }
    }
    if in_quotes {
        return Err("unterminated quoted field".into());
    }
    fields.push(cur);
    Ok(())
}

/// Calls `f(network, prefix_len)` for the minimal CIDR cover of `start..=end`
/// in the 128-bit space.
pub fn for_each_cidr(mut start: u128, end: u128, mut f: impl FnMut(u128, u32)) {
    loop {
        let align = if start == 0 { 128 } else { start.trailing_zeros() };
        let span = end - start; // size - 1
        let fit = if span == u128::MAX { 128 } else { 127 - (span + 1).leading_zeros() };
        let host_bits = align.min(fit);
        f(start, 128 - host_bits);
        if host_bits == 128 {
            return;
        }
        let last = start + ((1u128 << host_bits) - 1);
        if last >= end {
            return;
        }
        start = last + 1;
    }
}

/// The binary search tree while it is built: nodes of two records each. A record is
/// `EMPTY`, `DATA_TAG | record index`, or a node index.
struct Tree {
    nodes: Vec<[u32; 2]>,
}

impl Tree {
    fn new() -> Self {
        Tree { nodes: vec![[EMPTY, EMPTY]] }
    }

    fn new_node(&mut self, fill: u32) -> u32 {
        self.nodes.push([fill, fill]);
        (self.nodes.len() - 1) as u32
    }

    /// Sets the record for `addr/len` (len ≥ 1) to `value`. A shorter prefix already
    /// holding data is pushed down so its other halves keep their data.
    fn insert(&mut self, addr: u128, len: u32, value: u32) {
        debug_assert!((1..=128).contains(&len));
        let mut node = 0usize;
        for depth in 0..len - 1 {
            let bit = ((addr >> (127 - depth)) & 1) as usize;
            let rec = self.nodes[node][bit];
            node = if rec == EMPTY || rec & DATA_TAG != 0 {
                let n = self.new_node(rec);
                self.nodes[node][bit] = n;
                n as usize
            } else {
                rec as usize
            };
        }
        let bit = ((addr >> (128 - len)) & 1) as usize;
        self.nodes[node][bit] = value;
    }

    /// Points `::ffff:0:0/96` at the IPv4 subtree (`::/96`), as MaxMind's databases do,
    /// so readers that look IPv4-mapped addresses up directly find the IPv4 data.
    fn alias_ipv4_mapped(&mut self) {
        let mut node = 0usize;
        for _ in 0..IPV4_IN_V6_BITS - 1 {
            let rec = self.nodes[node][0];
            if rec == EMPTY || rec & DATA_TAG != 0 {
                return;
            }
            node = rec as usize;
        }
        let v4_root = self.nodes[node][0];
        if v4_root == EMPTY || v4_root & DATA_TAG != 0 {
            return;
        }
        // Only if nothing occupies the mapped range already.
        let mapped: u128 = 0xffff << 32;
        let mut n = 0usize;
        for depth in 0..IPV4_IN_V6_BITS - 1 {
            let bit = ((mapped >> (127 - depth)) & 1) as usize;
            let rec = self.nodes[n][bit];
            if rec & DATA_TAG != 0 && rec != EMPTY {
                return;
            }
            n = if rec == EMPTY {
                let new = self.new_node(EMPTY);
                self.nodes[n][bit] = new;
                new as usize
            } else {
                rec as usize
            };
        }
        let last_bit = ((mapped >> (128 - IPV4_IN_V6_BITS)) & 1) as usize;
        if self.nodes[n][last_bit] == EMPTY {
            self.nodes[n][last_bit] = v4_root;
        }
    }
}

/// Data-section encoder with de-duplication of strings through pointers.
#[derive(Default)]
struct DataWriter {
    buf: Vec<u8>,
    strings: HashMap<String, usize>,
}

impl DataWriter {
    /// Writes one value (strings, including map keys, deduplicated); returns its offset.
    fn value(&mut self, v: &Value) -> usize {
        let offset = self.buf.len();
        match v {
            Value::U16(n) => uint(&mut self.buf, 5, *n as u64),
            Value::U32(n) => uint(&mut self.buf, 6, *n as u64),
            Value::String(s) => self.string_dedup(s),
            Value::Map(entries) => {
                control(&mut self.buf, 7, entries.len());
                for (k, v) in entries {
                    self.string_dedup(k);
                    self.value(v);
                }
            }
            Value::Array(items) => {
                control(&mut self.buf, 11, items.len());
                for v in items {
                    self.value(v);
                }
            }
        }
        offset
    }

    fn string_dedup(&mut self, s: &str) {
        if let Some(&at) = self.strings.get(s) {
            let mut ptr = Vec::with_capacity(5);
            pointer(&mut ptr, at);
            // A pointer only pays off when it is shorter than the string itself.
            if ptr.len() < s.len() + 1 {
                self.buf.extend_from_slice(&ptr);
                return;
            }
        }
        let at = self.buf.len();
        string(&mut self.buf, s);
        self.strings.entry(s.to_owned()).or_insert(at);
    }
}

/// Control byte(s) for a type and a payload size.
fn control(buf: &mut Vec<u8>, type_num: u8, size: usize) {
    let (first_type, ext) = if type_num > 7 { (0u8, Some(type_num - 7)) } else { (type_num, None) };
    let (size_bits, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else if size < 285 + 65536 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else {
        (31, ((size - 65821) as u32).to_be_bytes()[1..].to_vec())
    };
    buf.push(first_type << 5 | size_bits);
    if let Some(e) = ext {
        buf.push(e);
    }
    buf.extend_from_slice(&extra);
}

fn string(buf: &mut Vec<u8>, s: &str) {
    control(buf, 2, s.len());
    buf.extend_from_slice(s.as_bytes());
}

/// Unsigned integer of type 5 (u16), 6 (u32) or 9 (u64), leading zero bytes dropped.
fn uint(buf: &mut Vec<u8>, type_num: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(buf, type_num, 8 - skip);
    buf.extend_from_slice(&bytes[skip..]);
}

fn pointer(buf: &mut Vec<u8>, at: usize) {
    if at < 2048 {
        buf.push(0x20 | ((at >> 8) as u8 & 0x07));
        buf.push(at as u8);
    } else if at < 2048 + (1 << 19) {
        let v = at - 2048;
        buf.push(0x28 | ((v >> 16) as u8 & 0x07));
        buf.extend_from_slice(&(v as u16).to_be_bytes());
    } else if at < 526_336 + (1 << 27) {
        let v = at - 526_336;
        buf.push(0x30 | ((v >> 24) as u8 & 0x07));
        buf.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
    } else {
        buf.push(0x38);
        buf.extend_from_slice(&(at as u32).to_be_bytes());
    }
}

fn write_metadata(buf: &mut Vec<u8>, meta: &MmdbMetadata, node_count: u32, record_size: u16) {
    control(buf, 7, 9);
    string(buf, "binary_format_major_version");
    uint(buf, 5, 2);
    string(buf, "binary_format_minor_version");
    uint(buf, 5, 0);
    string(buf, "build_epoch");
    uint(buf, 9, meta.build_epoch);
    string(buf, "database_type");
    string(buf, &meta.database_type);
    string(buf, "description");
    control(buf, 7, meta.description.len());
    for (lang, text) in &meta.description {
        string(buf, lang);
        string(buf, text);
    }
    string(buf, "ip_version");
    uint(buf, 5, 6);
    string(buf, "languages");
    control(buf, 11, meta.languages.len());
    for l in &meta.languages {
        string(buf, l);
    }
    string(buf, "node_count");
    uint(buf, 6, node_count as u64);
    string(buf, "record_size");
    uint(buf, 5, record_size as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    use maxminddb::Reader;
    use std::net::IpAddr;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Asn {
        autonomous_system_number: u32,
        autonomous_system_organization: String,
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn get(r: &Reader<Vec<u8>>, s: &str) -> Option<(u32, String)> {
        r.lookup(ip(s))
            .unwrap()
            .decode::<Asn>()
            .unwrap()
            .map(|a| (a.autonomous_system_number, a.autonomous_system_organization))
    }

    fn meta() -> MmdbMetadata {
        MmdbMetadata {
            database_type: "shellsight-ASN".into(),
            description: vec![("en".into(), "test".into())],
            languages: vec!["en".into()],
            build_epoch: 1_700_000_000,
        }
    }

    const CSV: &str = "\
ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization
1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"
10.0.0.1,10.0.0.6,64500,Unaligned Net
10.0.0.7,10.0.0.200,64500,Unaligned Net
10.0.0.201,10.0.0.201,64501,\"LLC \"\"Quoted\"\"\"
192.0.2.0,192.0.3.17,64502,Unaligned Net
255.255.255.0,255.255.255.255,64503,Top Of IPv4
2001:db8::,2001:db8::ffff,64500,Unaligned Net
2001:db8::1:0,2001:db8::1:0,64504,Single V6
2a00::3,2a00::1:5,64505,Odd V6
ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,64506,Top Of IPv6
";

    fn build_test_db() -> (Reader<Vec<u8>>, BuildStats) {
        let dir = std::env::temp_dir().join(format!("shellsight-mmdb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ranges.csv");
        std::fs::write(&path, CSV).unwrap();
        let mut w = AsnMmdbWriter::new();
        assert_eq!(w.read_csv(&path).unwrap(), 10);
        std::fs::remove_dir_all(&dir).unwrap();
        let (bytes, stats) = w.build(&meta()).unwrap();
        let reader = Reader::from_source(bytes).unwrap();
        reader.verify().unwrap();
        (reader, stats)
    }

    #[test]
    fn round_trip_boundaries() {
        let (r, stats) = build_test_db();
        // The two adjacent 64500 ranges were merged; the identical record is stored once.
        assert_eq!(stats.ranges, 10);
        assert_eq!(stats.merged_ranges, 9);
        assert_eq!(stats.records, 8);
        let un = Some((64500, "Unaligned Net".to_string()));
        let cases: &[(&str, Option<(u32, String)>)] = &[
            ("0.255.255.255", None),
            ("1.0.0.0", Some((13335, "Cloudflare, Inc.".into()))),
            ("1.0.0.255", Some((13335, "Cloudflare, Inc.".into()))),
            ("1.0.1.0", None),
            ("10.0.0.0", None),
            ("10.0.0.1", un.clone()),
            ("10.0.0.6", un.clone()),
            ("10.0.0.7", un.clone()),
            ("10.0.0.200", un.clone()),
            ("10.0.0.201", Some((64501, "LLC \"Quoted\"".into()))),
            ("10.0.0.202", None),
            ("192.0.1.255", None),
            ("192.0.2.0", Some((64502, "Unaligned Net".into()))),
            ("192.0.3.17", Some((64502, "Unaligned Net".into()))),
            ("192.0.3.18", None),
            ("255.255.255.0", Some((64503, "Top Of IPv4".into()))),
            ("255.255.255.255", Some((64503, "Top Of IPv4".into()))),
            ("255.255.254.255", None),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("2001:db8::", un.clone()),
            ("2001:db8::ffff", un.clone()),
            ("2001:db8::1:0", Some((64504, "Single V6".into()))),
            ("2001:db8::1:1", None),
            ("2a00::2", None),
            ("2a00::3", Some((64505, "Odd V6".into()))),
            ("2a00::1:5", Some((64505, "Odd V6".into()))),
            ("2a00::1:6", None),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffef", None),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0", Some((64506, "Top Of IPv6".into()))),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some((64506, "Top Of IPv6".into()))),
            // IPv4 sits at ::/96 and is aliased from ::ffff:0:0/96.
            ("::1.0.0.1", Some((13335, "Cloudflare, Inc.".into()))),
            ("::ffff:1.0.0.1", Some((13335, "Cloudflare, Inc.".into()))),
            ("::ffff:1.0.1.0", None),
        ];
        for (addr, want) in cases {
            assert_eq!(&get(&r, addr), want, "{addr}");
        }
        let m = r.metadata();
        assert_eq!(
            (m.ip_version, m.database_type.as_str(), m.build_epoch, m.binary_format_major_version),
            (6, "shellsight-ASN", 1_700_000_000, 2)
        );
        assert_eq!(m.languages, vec!["en".to_string()]);
        assert_eq!(m.description.get("en").map(String::as_str), Some("test"));
        assert_eq!(m.record_size, 24);
    }

    #[test]
    fn identical_records_are_stored_once_and_output_is_reproducible() {
        let mut a = AsnMmdbWriter::new();
        let mut b = AsnMmdbWriter::new();
        for i in 0..200u32 {
            let net = std::net::Ipv4Addr::from(0x0b00_0000 + i * 512);
            let last = std::net::Ipv4Addr::from(0x0b00_0000 + i * 512 + 255);
            a.insert_range(net.into(), last.into(), 64500, "Same Org With A Long Name").unwrap();
            b.insert_range(net.into(), last.into(), 64500 + i, "Same Org With A Long Name").unwrap();
        }
        let (bytes_a, stats_a) = a.build(&meta()).unwrap();
        let (bytes_b, stats_b) = b.build(&meta()).unwrap();
        assert_eq!(stats_a.records, 1);
        assert_eq!(stats_b.records, 200);
        // One record (87 bytes written out in full) for 200 networks; 200 records share
        // the keys and the organisation string through pointers.
        assert_eq!(stats_a.data_section_bytes, 87);
        assert!(stats_b.data_section_bytes < 200 * 12, "{}", stats_b.data_section_bytes);
        let mut again = AsnMmdbWriter::new();
        for i in 0..200u32 {
            let net = std::net::Ipv4Addr::from(0x0b00_0000 + i * 512);
            let last = std::net::Ipv4Addr::from(0x0b00_0000 + i * 512 + 255);
            again.insert_range(net.into(), last.into(), 64500, "Same Org With A Long Name").unwrap();
        }
        assert_eq!(again.build(&meta()).unwrap().0, bytes_a);
        let r = Reader::from_source(bytes_b).unwrap();
        r.verify().unwrap();
        assert_eq!(get(&r, "11.0.2.0"), Some((64501, "Same Org With A Long Name".into())));
    }

    #[test]
    fn bad_rows_are_rejected_with_their_line() {
        let mut w = AsnMmdbWriter::new();
        assert!(w.insert_range(ip("1.0.0.5"), ip("1.0.0.1"), 1, "x").is_err());
        assert!(w.insert_range(ip("1.0.0.1"), ip("::1"), 1, "x").is_err());
        assert!(w.insert_range(ip("::ffff:1.0.0.1"), ip("::ffff:1.0.0.9"), 1, "x").is_err());
        let path = std::env::temp_dir().join(format!("shellsight-bad-{}.csv", std::process::id()));
        std::fs::write(&path, "1.0.0.0,1.0.0.255,13335,ok\n16777216,16777471,13335,num\n").unwrap();
        let err = w.read_csv(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains(":2:") && err.contains("num.csv"), "{err}");
    }

    #[test]
    fn cidr_split_is_minimal_and_exact() {
        let mut out = vec![];
        // 10.0.0.1 - 10.0.0.6 in the IPv4 range of the tree.
        for_each_cidr(0x0a00_0001, 0x0a00_0006, |a, l| out.push((a, l)));
        assert_eq!(out, vec![(0x0a00_0001, 128), (0x0a00_0002, 127), (0x0a00_0004, 127), (0x0a00_0006, 128)]);
        let mut all = vec![];
        for_each_cidr(0, u128::MAX, |a, l| all.push((a, l)));
        assert_eq!(all, vec![(0, 0)]);
        let mut top = vec![];
        for_each_cidr(u128::MAX - 1, u128::MAX, |a, l| top.push((a, l)));
        assert_eq!(top, vec![(u128::MAX - 1, 127)]);
    }

    #[test]
    fn csv_quoting() {
        let mut f = vec![];
        split_csv_line(r#"2.26.200.0,2.26.215.255,201907,"LLC ""SPUTNIK""""#, &mut f).unwrap();
        assert_eq!(f, vec!["2.26.200.0", "2.26.215.255", "201907", "LLC \"SPUTNIK\""]);
        split_csv_line(r#"1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc.""#, &mut f).unwrap();
        assert_eq!(f[3], "Cloudflare, Inc.");
        assert!(split_csv_line(r#"a,"b"#, &mut f).is_err());
    }

    #[test]
    fn control_bytes_follow_the_spec() {
        let mut b = vec![];
        control(&mut b, 2, 28);
        control(&mut b, 2, 29);
        control(&mut b, 2, 300);
        control(&mut b, 11, 3);
        assert_eq!(b, vec![0x5c, 0x5d, 0x00, 0x5e, 0x00, 0x0f, 0x03, 0x04]);
        let mut p = vec![];
        pointer(&mut p, 2047);
        pointer(&mut p, 2048);
        assert_eq!(p, vec![0x27, 0xff, 0x28, 0x00, 0x00]);
    }
}
