//! Shells inside ordinary protocols: a webshell driven with HTTP requests, cmd.exe behind
//! SMB named pipes. Sessions that both sides speak as HTTP or SMB have their turn-taking
//! and cleartext tells set aside (a web page that quotes `uid=0(root)` is no shell), so
//! these shells are found by reading the protocol itself: which request carried a command
//! and whether its answer carried that command's output; which pipes were opened, what
//! went through them, and whether a service was created to run something.
//!
//! Only sessions that `protocols` identified as HTTP or SMB get a parser, allocated when
//! the identification is made and freed when the parser has nothing more to read. Bytes
//! are followed in order per direction; a hole stops that direction. What the parsers
//! found (`InsideFacts`) stays with the session for the verdict; all buffers are charged
//! to a shard-wide `Budget`.

pub mod dcerpc;
pub mod http;
pub mod markers;
pub mod output;
pub mod smb;
pub mod webshell;

use super::Dir;
use crate::time::Timestamp;

/// What the application layer of a session showed: the evidence the verdict weighs.
#[derive(Debug, Clone, PartialEq)]
pub enum InsideFacts {
    Web(webshell::WebFacts),
    Smb(smb::SmbFacts),
}

impl InsideFacts {
    pub fn web(&self) -> Option<&webshell::WebFacts> {
        match self {
            InsideFacts::Web(w) => Some(w),
            InsideFacts::Smb(_) => None,
        }
    }

    pub fn smb(&self) -> Option<&smb::SmbFacts> {
        match self {
            InsideFacts::Smb(s) => Some(s),
            InsideFacts::Web(_) => None,
        }
    }

    /// Whether anything here is worth judging the session for.
    pub fn notable(&self) -> bool {
        match self {
            InsideFacts::Web(w) => w.notable(),
            InsideFacts::Smb(s) => s.notable(),
        }
    }
}

/// Bytes the parsers of one shard may hold at once, so a flood of half-sent heads cannot
/// exhaust memory. A parser refused more stops reading (and the refusal is counted).
#[derive(Debug)]
pub struct Budget {
    held: usize,
    max: usize,
    pub refused: u64,
}

impl Budget {
    pub fn new(max_bytes: usize) -> Self {
        Budget { held: 0, max: max_bytes, refused: 0 }
    }

    fn take(&mut self, n: usize) -> bool {
        if self.held + n > self.max {
            self.refused += 1;
            return false;
        }
        self.held += n;
        true
    }

    fn give(&mut self, n: usize) {
        self.held = self.held.saturating_sub(n);
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held
    }
}

/// A byte buffer whose growth is charged to the budget; `clear` gives it back.
#[derive(Debug, Default)]
pub struct Held {
    buf: Vec<u8>,
}

impl Held {
    /// Appends all of `data`, or nothing when the budget refuses it.
    pub fn extend(&mut self, data: &[u8], budget: &mut Budget) -> bool {
        if data.is_empty() {
            return true;
        }
        if !budget.take(data.len()) {
            return false;
        }
        self.buf.extend_from_slice(data);
        true
    }

    pub fn clear(&mut self, budget: &mut Budget) {
        budget.give(self.buf.len());
        self.buf.clear();
        if self.buf.capacity() > 4096 {
            self.buf = Vec::new();
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// The parser a session got.
#[derive(Debug)]
enum Parser {
    Http(Box<http::HttpSession>, Box<webshell::WebReader>),
    Smb(Box<smb::SmbSession>),
    /// Nothing more to read.
    Done,
}

/// Which parser a protocol gets, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Smb,
}

/// The in-order bytes of both directions of one HTTP or SMB session, fed to its parser,
/// and what the parser found.
#[derive(Debug)]
pub struct Inside {
    parser: Parser,
    next_seq: [Option<u32>; 2],
    /// A hole or a cut ended in-order reading of that direction.
    closed: [bool; 2],
    pub facts: Option<InsideFacts>,
}

impl Inside {
    /// A parser for a session of `kind`; `silent_before` says which directions had sent
    /// payload before it started (they cannot be followed from a message boundary).
    pub fn new(kind: Kind, spoke_before: [bool; 2]) -> Self {
        let parser = match kind {
            Kind::Http => Parser::Http(Box::default(), Box::default()),
            Kind::Smb => Parser::Smb(Box::default()),
        };
        Inside { parser, next_seq: [None; 2], closed: spoke_before, facts: None }
    }

    /// The parser has nothing more to read.
    pub fn finished(&self) -> bool {
        matches!(self.parser, Parser::Done) || self.closed == [true, true]
    }

    /// Feeds one segment's payload (`payload` as captured, `wire_len` its true length,
    /// `seq` its first byte's sequence number). Returns true when the facts changed.
    #[allow(clippy::too_many_arguments)]
    pub fn feed(
        &mut self,
        dir: Dir,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        fin: bool,
        ts: Timestamp,
        budget: &mut Budget,
    ) -> bool {
        let d = dir.idx();
        if self.closed[d] || matches!(self.parser, Parser::Done) {
            return false;
        }
        let expected = *self.next_seq[d].get_or_insert(seq);
        let skip = expected.wrapping_sub(seq) as i32;
        let before = self.version();
        if skip < 0 {
            // A hole: the bytes after it cannot be read in order.
            self.close(d, budget);
            return self.version() != before;
        }
        let skip = skip as usize;
        let wire = wire_len as usize;
        if skip < wire {
            let known = payload.get(skip..).unwrap_or(&[]);
            self.data(d, known, ts, budget);
            let missing = wire - skip.max(payload.len());
            if missing > 0 {
                self.unknown(d, missing as u64, ts, budget);
            }
            self.next_seq[d] = Some(seq.wrapping_add(wire_len));
        }
        if fin {
            self.end(d, budget);
        }
        if matches!(&self.parser, Parser::Http(h, _) if h.finished()) {
            self.stop(budget);
        }
        self.version() != before
    }

    fn data(&mut self, d: usize, bytes: &[u8], ts: Timestamp, budget: &mut Budget) {
        if bytes.is_empty() {
            return;
        }
        match &mut self.parser {
            Parser::Http(h, reader) => {
                h.feed(d, bytes, reader.as_mut(), budget);
                if reader.changed() {
                    self.facts = reader.facts().map(InsideFacts::Web);
                }
            }
            Parser::Smb(s) => {
                s.feed(d, bytes, ts, budget);
                if s.changed() {
                    self.facts = s.facts().map(InsideFacts::Smb);
                }
            }
            Parser::Done => {}
        }
    }

    fn unknown(&mut self, d: usize, n: u64, ts: Timestamp, budget: &mut Budget) {
        match &mut self.parser {
            Parser::Http(h, reader) => h.skip_unknown(d, n, reader.as_mut(), budget),
            Parser::Smb(s) => {
                if !s.skip_unknown(d, n, ts, budget) {
                    self.closed[d] = true;
                }
            }
            Parser::Done => {}
        }
    }

    fn end(&mut self, d: usize, budget: &mut Budget) {
        if let Parser::Http(h, reader) = &mut self.parser {
            h.end(d, reader.as_mut(), budget);
            if reader.changed() {
                self.facts = reader.facts().map(InsideFacts::Web);
            }
        }
        self.close(d, budget);
    }

    fn close(&mut self, d: usize, budget: &mut Budget) {
        self.closed[d] = true;
        match &mut self.parser {
            Parser::Http(h, _) => h.fail(d, budget),
            Parser::Smb(s) => s.fail(d, budget),
            Parser::Done => {}
        }
        if self.closed == [true, true] {
            self.stop(budget);
        }
    }

    /// Frees the parser and its buffers; the facts stay.
    pub fn stop(&mut self, budget: &mut Budget) {
        match &mut self.parser {
            Parser::Http(h, _) => h.release(budget),
            Parser::Smb(s) => s.release(budget),
            Parser::Done => {}
        }
        self.parser = Parser::Done;
    }

    /// A cheap fingerprint of the facts, to tell whether a segment changed them.
    fn version(&self) -> u64 {
        match &self.facts {
            None => 0,
            Some(InsideFacts::Web(w)) => 1 + w.version(),
            Some(InsideFacts::Smb(s)) => 1 + s.version(),
        }
    }
}
