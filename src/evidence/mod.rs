//! Evidence gathered from one TCP session: sizes, timing, turn-taking, echo, protocol
//! identity and cleartext tells. Everything is updated in O(1) per segment; reassembly
//! of the first bytes stops once it has what it needs. Facts only: `verdict` weighs them.

pub mod exchanges;
pub mod injection;
pub mod inside;
pub mod tells;
pub mod tls;
pub mod turns;

use crate::decode::TcpFlags;
use crate::protocols::{self, Identification, Protocol};
use crate::time::Timestamp;
use serde::Serialize;
use tells::{LineKind, StageHeader, Tell, TellSet};
use turns::{Burst, TurnEvent, Turns};

/// Direction relative to who opened the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// From the initiator (sent the SYN) to the responder.
    Orig,
    /// From the responder back to the initiator.
    Resp,
}

impl Dir {
    pub fn idx(self) -> usize {
        match self {
            Dir::Orig => 0,
            Dir::Resp => 1,
        }
    }
    pub fn other(self) -> Dir {
        match self {
            Dir::Orig => Dir::Resp,
            Dir::Resp => Dir::Orig,
        }
    }
}

/// One segment as the evidence stage sees it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub ts: Timestamp,
    pub dir: Dir,
    pub seq: u32,
    pub flags: TcpFlags,
    /// A UDP datagram: no sequence numbers, so every datagram is new and in order.
    pub datagram: bool,
    /// The session's transport and ports: the hint for protocol identification.
    pub place: protocols::Place,
    pub payload_len: u32,
    pub payload: &'a [u8],
}

/// Size classes of payloads (true lengths): 1, 2–20, 21–64, 65–256, 257–1023, ≥1024.
pub const SIZE_CLASSES: usize = 6;

fn size_class(len: u32) -> usize {
    match len {
        0..=1 => 0,
        2..=20 => 1,
        21..=64 => 2,
        65..=256 => 3,
        257..=1023 => 4,
        _ => 5,
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DirStats {
    pub packets: u32,
    pub payload_packets: u32,
    /// Payload bytes, from the headers.
    pub bytes: u64,
    pub retransmits: u32,
    /// Payload packets per size class (saturating: a summary, not a decision input).
    pub size_classes: [u16; SIZE_CLASSES],
    #[serde(skip)]
    seq_end: u32,
    #[serde(skip)]
    seq_known: bool,
}

/// The last bytes a direction sent, for prompt checks at the end of a turn.
#[derive(Debug, Clone, Copy, Default)]
struct Tail {
    bytes: [u8; 8],
    len: u8,
}

/// How many bytes of each direction we reassemble for tells.
pub const PREFIX_BYTES: usize = 4096;

/// The reassembled first bytes of both directions, kept only while useful.
#[derive(Debug, Default)]
struct Prefix {
    buf: [Vec<u8>; 2],
    next_seq: [Option<u32>; 2],
    /// A hole or a snaplen cut ended in-order reassembly of that direction.
    closed: [bool; 2],
    line_start: [usize; 2],
    /// The TLS handshake of this direction has been read (or is not there).
    tls_done: [bool; 2],
    /// Complete TLS records at the last parse attempt, so each attempt has more to read.
    tls_records: [usize; 2],
}

/// A shard-wide cap on reassembly memory, so a flood of flows cannot exhaust it.
#[derive(Debug)]
pub struct PrefixBudget {
    live: usize,
    max: usize,
    pub refused: u64,
    /// What the HTTP and SMB parsers may hold (as much again as the prefixes).
    pub inside: inside::Budget,
}

impl PrefixBudget {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            live: 0,
            max: max_bytes / (2 * PREFIX_BYTES),
            refused: 0,
            inside: inside::Budget::new(max_bytes),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum PrefixState {
    #[default]
    NotStarted,
    Active,
    Done,
}

/// Typed lines seen in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Lines {
    pub recon: u16,
    pub commands: u16,
}

/// The handshake of a TLS session: the client's hello, the server's answer, and on TLS 1.2
/// and older the server's certificate (1.3 encrypts it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    pub client: Option<tls::ClientHello>,
    /// The client's cipher suites, read also from a ClientHello the snaplen cut.
    pub offer: Option<tls::Offer>,
    pub server: Option<tls::ServerHello>,
    pub certificate: Option<tls::ServerCertificate>,
}

/// Complete TLS records at the start of `buf`.
fn tls_records(buf: &[u8]) -> usize {
    let (mut at, mut n) = (0, 0);
    while let Some(h) = buf.get(at..at + 5) {
        let end = at + 5 + u16::from_be_bytes([h[3], h[4]]) as usize;
        if end > buf.len() {
            break;
        }
        n += 1;
        at = end;
    }
    n
}

/// Everything known about one session.
#[derive(Debug, Default)]
pub struct Evidence {
    pub dirs: [DirStats; 2],
    pub turns: Turns,
    pub tells: [TellSet; 2],
    /// What each direction speaks (identified, or unrecognised text or binary).
    pub protocol: [Protocol; 2],
    /// The probes' matches on the first payloads of both directions.
    pub identity: Identification,
    pub lines: [Lines; 2],
    /// Turns that ended with something that looks like a shell prompt, per direction.
    pub prompts: [u16; 2],
    /// A stager header at the start of this direction.
    pub stage: Option<(Dir, StageHeader)>,
    /// What the TLS handshake said, read once from the first bytes of each direction.
    pub tls: Option<Box<TlsFacts>>,
    tail: [Tail; 2],
    prefix: Option<Box<Prefix>>,
    prefix_state: PrefixState,
    /// The HTTP or SMB parser and what it found, for sessions of those protocols only.
    inside: Option<Box<inside::Inside>>,
}

/// What one segment did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    /// The session is worth judging again (a turn ended, a tell appeared).
    pub judge: bool,
    /// A burst of activity that this segment ended by starting another after quiet.
    pub burst: Option<Burst>,
}

impl Evidence {
    /// Feeds one segment. Says when the session is worth judging again (a turn ended or a
    /// new tell appeared); the caller keeps the per-packet path cheap by judging only then.
    pub fn observe(&mut self, seg: &Segment<'_>, budget: &mut PrefixBudget) -> Observed {
        let judge = |judge| Observed { judge, burst: None };
        let d = seg.dir.idx();
        self.turns.note_packet(seg.ts);
        // An answer to a typed line followed by quiet settles at any later packet.
        let settled = self.turns.settle(seg.ts);
        let stats = &mut self.dirs[d];
        stats.packets += 1;
        if seg.flags.syn() {
            stats.seq_end = seg.seq.wrapping_add(1);
            stats.seq_known = true;
            return judge(settled);
        }
        let len = seg.payload_len;
        if len == 0 {
            // A bare FIN still ends a body framed by the connection's close.
            if seg.flags.fin() && !seg.datagram {
                if let Some(i) = self.inside.as_deref_mut() {
                    let seq = seg.seq;
                    return judge(i.feed(seg.dir, seq, &[], 0, true, seg.ts, &mut budget.inside) | settled);
                }
            }
            return judge(settled);
        }
        // Datagrams are numbered by the bytes before them, so reassembly sees them in order.
        let seq = if seg.datagram { stats.seq_end } else { seg.seq };
        let seg_end = seq.wrapping_add(len);
        if !seg.datagram && stats.seq_known && (stats.seq_end.wrapping_sub(seg_end) as i32) >= 0 {
            // Everything in it was seen before: a retransmission, not new behaviour.
            stats.retransmits += 1;
            return judge(settled);
        }
        stats.seq_end = seg_end;
        stats.seq_known = true;
        stats.payload_packets += 1;
        stats.bytes += len as u64;
        let class = &mut stats.size_classes[size_class(len)];
        *class = class.saturating_add(1);

        let mut changed = false;
        if self.identity.wants(d) && !seg.payload.is_empty() {
            let was = self.protocol[d];
            let (new, alone) = self.identity.observe(seg.place, d, seg.payload, len);
            changed |= new;
            match alone {
                Some(p) => self.protocol[d] = p,
                None if self.protocol[d] == Protocol::Unseen => {
                    self.protocol[d] = protocols::unrecognised(seg.payload)
                }
                None => {}
            }
            // Ciphertext has no tells; only a TLS handshake is still worth reading.
            if self.protocol[d] == Protocol::Ssh {
                self.release_prefix(budget);
            }
            if d == 0 && self.protocol[0] == Protocol::Tls {
                self.turns.client_handshakes();
            }
            if self.protocol[d] != was && !seg.datagram {
                self.start_inside(seg);
            }
        }
        changed |= settled;
        let (turn, burst) = self.turns.segment(seg.dir, seg.ts, len);
        if turn == TurnEvent::Switched {
            let ended = seg.dir.other().idx();
            let tail = &self.tail[ended];
            if tail.len > 0 && tells::ends_with_prompt(&tail.bytes[..tail.len as usize]) {
                self.prompts[ended] = self.prompts[ended].saturating_add(1);
                if self.prompts[ended] >= 2 {
                    self.tells[ended].insert(Tell::ShellPrompt);
                }
            }
            changed = true;
        }
        self.remember_tail(d, seg);
        changed |= self.reassemble(seg, seq, budget);
        if let Some(i) = self.inside.as_deref_mut() {
            changed |= i.feed(seg.dir, seq, seg.payload, len, seg.flags.fin(), seg.ts, &mut budget.inside);
            if i.finished() && i.facts.is_none() {
                i.stop(&mut budget.inside);
                self.inside = None;
            }
        }
        Observed { judge: changed, burst }
    }

    /// Gives an HTTP or SMB session its parser when the direction that just spoke was
    /// identified as one, and the other had not been already (the probes run on the
    /// first payloads only, so this does too, once per session).
    fn start_inside(&mut self, seg: &Segment<'_>) {
        let d = seg.dir.idx();
        let kind = |p: Protocol| match p {
            Protocol::Http => Some(inside::Kind::Http),
            Protocol::Smb => Some(inside::Kind::Smb),
            // SMB over the NetBIOS session service starts with a session request.
            Protocol::Netbios if seg.place.server_port == 139 => Some(inside::Kind::Smb),
            _ => None,
        };
        let Some(k) = kind(self.protocol[d]) else { return };
        if kind(self.protocol[1 - d]) == Some(k) {
            return;
        }
        // A direction that spoke before cannot be read from a message boundary.
        let spoke = |x: usize| self.dirs[x].payload_packets > u32::from(x == d);
        self.inside = Some(Box::new(inside::Inside::new(k, [spoke(0), spoke(1)])));
    }

    /// What the HTTP or SMB parser found.
    pub fn inside_facts(&self) -> Option<inside::InsideFacts> {
        let facts = self.inside.as_deref()?.facts.clone()?;
        facts.notable().then_some(facts)
    }

    /// The HTTP or SMB parser found something worth judging.
    pub fn has_inside_facts(&self) -> bool {
        self.inside.as_deref().is_some_and(|i| i.facts.is_some())
    }

    fn remember_tail(&mut self, d: usize, seg: &Segment<'_>) {
        let t = &mut self.tail[d];
        if seg.payload.len() as u32 != seg.payload_len || self.protocol[d].is_encrypted() {
            t.len = 0; // cut by the snaplen or ciphertext: the end is not what was sent
            return;
        }
        let n = seg.payload.len().min(8);
        t.bytes[..n].copy_from_slice(&seg.payload[seg.payload.len() - n..]);
        t.len = n as u8;
    }

    /// Appends in-order bytes to the prefix of this direction and scans what is new.
    fn reassemble(&mut self, seg: &Segment<'_>, seq: u32, budget: &mut PrefixBudget) -> bool {
        match self.prefix_state {
            PrefixState::Done => return false,
            PrefixState::NotStarted => {
                if budget.live >= budget.max {
                    budget.refused += 1;
                    self.prefix_state = PrefixState::Done;
                    return false;
                }
                budget.live += 1;
                self.prefix = Some(Box::default());
                self.prefix_state = PrefixState::Active;
            }
            PrefixState::Active => {}
        }
        let d = seg.dir.idx();
        let Some(p) = self.prefix.as_deref_mut() else { return false };
        if p.closed[d] {
            return false;
        }
        let expected = *p.next_seq[d].get_or_insert(seq);
        let skip = expected.wrapping_sub(seq) as i32;
        if skip < 0 {
            p.closed[d] = true; // a hole: later bytes would be out of order
            return false;
        }
        let skip = skip as usize;
        if skip >= seg.payload.len() {
            if seg.payload.len() < seg.payload_len as usize {
                p.closed[d] = true;
            }
            return false;
        }
        let room = PREFIX_BYTES - p.buf[d].len();
        let new = &seg.payload[skip..];
        let take = new.len().min(room);
        let old_len = p.buf[d].len();
        // Grow by powers of two up to the cap, never past it (plain growth from a first
        // full segment would end at 5.8 KiB after three copies).
        let want = old_len + take;
        if p.buf[d].capacity() < want {
            let cap = want.next_power_of_two().clamp(256, PREFIX_BYTES);
            p.buf[d].reserve_exact(cap - old_len);
        }
        p.buf[d].extend_from_slice(&new[..take]);
        p.next_seq[d] = Some(expected.wrapping_add(take as u32));
        if take < new.len() || p.buf[d].len() >= PREFIX_BYTES || seg.payload.len() < seg.payload_len as usize
        {
            p.closed[d] = true;
        }

        if self.protocol[d] == Protocol::Tls {
            self.read_tls_handshake(seg.dir, budget);
            return false;
        }
        let before = self.tells[d];
        let buf = &p.buf[d];
        tells::scan(buf, old_len.saturating_sub(tells::MAX_PATTERN), &mut self.tells[d]);
        // Typed lines, counted once each as their terminator arrives.
        let mut start = p.line_start[d];
        for i in memchr::memchr2_iter(b'\n', b'\r', &buf[old_len..]) {
            let i = old_len + i;
            match tells::classify_line(&buf[start..i]) {
                LineKind::Recon => self.lines[d].recon += 1,
                LineKind::Command => self.lines[d].commands += 1,
                LineKind::Other => {}
            }
            start = i + 1;
        }
        p.line_start[d] = start;
        let l = self.lines[d];
        if l.recon + l.commands >= 2 {
            self.tells[d].insert(Tell::ShellCommands);
        }
        if l.recon >= 1 && l.recon + l.commands >= 2 {
            self.tells[d].insert(Tell::ReconCommands);
        }
        // A stager's stage opens the session: the receiver has said nothing before it.
        let opens = self.dirs[seg.dir.other().idx()].payload_packets == 0;
        if self.stage.is_none() && opens && old_len < 6 && buf.len() >= 6 {
            if let Some(h) = tells::stage_header(buf) {
                self.stage = Some((seg.dir, h));
                self.tells[d].insert(if h.executable {
                    Tell::StagedExecutable
                } else {
                    Tell::LengthPrefixedStage
                });
            }
        }
        let changed = self.tells[d] != before;
        if p.closed[0] && p.closed[1] {
            self.release_prefix(budget);
        }
        changed
    }

    /// Parses the handshake of one direction once it holds another complete record, and
    /// frees the buffers when neither direction needs them any more. A few attempts per
    /// session at most: the handshake is the first few records.
    fn read_tls_handshake(&mut self, dir: Dir, budget: &mut PrefixBudget) {
        let d = dir.idx();
        let Some(p) = self.prefix.as_deref_mut() else { return };
        if !p.tls_done[d] {
            let records = tls_records(&p.buf[d]);
            let last_chance = p.closed[d];
            if records > p.tls_records[d] || last_chance {
                p.tls_records[d] = records;
                let facts = self.tls.get_or_insert_with(Default::default);
                if dir == Dir::Orig && facts.offer.is_none() {
                    facts.offer = tls::client_offer(&p.buf[d]);
                }
                let done = match dir {
                    Dir::Orig => match tls::parse_client(&p.buf[d]) {
                        tls::Parsed::Done(hello) => {
                            facts.client = Some(hello);
                            true
                        }
                        tls::Parsed::NotTls => true,
                        tls::Parsed::NeedMore => last_chance,
                    },
                    Dir::Resp => match tls::parse_server(&p.buf[d], last_chance) {
                        tls::Parsed::Done((hello, cert)) => {
                            facts.server = Some(hello);
                            facts.certificate = cert;
                            true
                        }
                        tls::Parsed::NotTls => true,
                        tls::Parsed::NeedMore => last_chance,
                    },
                };
                if done {
                    p.tls_done[d] = true;
                    p.closed[d] = true; // the rest is ciphertext
                }
            }
        }
        if p.closed[0] && p.closed[1] {
            self.release_prefix(budget);
        }
    }

    /// Frees everything the session holds in the shard's budgets (at its end).
    pub fn release(&mut self, budget: &mut PrefixBudget) {
        self.release_prefix(budget);
        if let Some(i) = self.inside.as_deref_mut() {
            i.stop(&mut budget.inside);
        }
    }

    /// Frees the reassembly buffers; later bytes are judged by size and timing only.
    pub fn release_prefix(&mut self, budget: &mut PrefixBudget) {
        if self.prefix.take().is_some() {
            budget.live -= 1;
        }
        self.prefix_state = PrefixState::Done;
    }

    /// A stager sent the whole announced stage in its first turn: an executable's first
    /// turn holds at least what was announced; a bare stage is exactly its first turn
    /// (a message with more behind it is a protocol's, not a stage).
    pub fn stage_complete(&self) -> bool {
        match self.stage {
            Some((dir, h)) => {
                let first = self.turns.first_turn_bytes[dir.idx()] as u64;
                let whole = h.announced as u64 + 4;
                if h.executable {
                    first >= whole
                } else {
                    first == whole
                }
            }
            None => false,
        }
    }

    /// All tells of both directions.
    pub fn all_tells(&self) -> TellSet {
        self.tells[0].union(self.tells[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(ts_ms: i64, dir: Dir, seq: u32, payload: &[u8]) -> Segment<'_> {
        Segment {
            ts: Timestamp::from_nanos(ts_ms * 1_000_000),
            dir,
            seq,
            flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
            datagram: false,
            place: protocols::Place::new(crate::decode::Transport::Tcp, 50_000, 4444),
            payload_len: payload.len() as u32,
            payload,
        }
    }

    #[test]
    fn a_banner_split_over_two_segments_is_found() {
        let mut e = Evidence::default();
        let mut b = PrefixBudget::new(1 << 20);
        e.observe(&seg(0, Dir::Orig, 100, b"bash: no job con"), &mut b);
        assert!(!e.tells[0].contains(Tell::NoJobControl));
        let changed = e.observe(&seg(1, Dir::Orig, 116, b"trol in this shell\n"), &mut b);
        assert!(changed.judge);
        assert!(e.tells[0].contains(Tell::NoJobControl));
    }

    #[test]
    fn retransmissions_do_not_count_twice() {
        let mut e = Evidence::default();
        let mut b = PrefixBudget::new(1 << 20);
        e.observe(&seg(0, Dir::Resp, 1, b"whoami\n"), &mut b);
        e.observe(&seg(200, Dir::Resp, 1, b"whoami\n"), &mut b);
        assert_eq!(e.dirs[1].payload_packets, 1);
        assert_eq!(e.dirs[1].retransmits, 1);
        assert_eq!(e.lines[1].recon, 1);
    }

    #[test]
    fn typed_commands_and_prompts_become_tells() {
        let mut e = Evidence::default();
        let mut b = PrefixBudget::new(1 << 20);
        let (mut so, mut sr) = (1000u32, 5000u32);
        let mut t = 0;
        for (cmd, out) in [
            (&b"id\n"[..], &b"uid=0(root) gid=0(root)\n$ "[..]),
            (b"ls\n", b"a b c\n$ "),
            (b"pwd\n", b"/\n$ "),
        ] {
            t += 3000;
            e.observe(&seg(t, Dir::Resp, sr, cmd), &mut b);
            sr += cmd.len() as u32;
            e.observe(&seg(t + 5, Dir::Orig, so, out), &mut b);
            so += out.len() as u32;
        }
        e.observe(&seg(t + 4000, Dir::Resp, sr, b"exit\n"), &mut b);
        assert!(e.tells[1].contains(Tell::ShellCommands));
        assert!(e.tells[1].contains(Tell::ReconCommands));
        assert!(e.tells[0].contains(Tell::UidRoot));
        assert!(e.tells[0].contains(Tell::ShellPrompt));
    }

    #[test]
    fn the_budget_bounds_reassembly() {
        let mut b = PrefixBudget::new(2 * PREFIX_BYTES);
        let mut e1 = Evidence::default();
        let mut e2 = Evidence::default();
        e1.observe(&seg(0, Dir::Orig, 1, b"hello"), &mut b);
        e2.observe(&seg(0, Dir::Orig, 1, b"hello"), &mut b);
        assert_eq!(b.refused, 1);
        e1.release_prefix(&mut b);
        assert_eq!(b.live, 0);
    }
}
