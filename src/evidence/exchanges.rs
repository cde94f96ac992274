//! The order of speech around quiet periods, for shells that say little.
//!
//! In a reverse shell the host that opened the connection asks nothing: after the
//! connection (and its handshake) goes quiet, the far end speaks first, a short typed
//! line after a person's pause, and the host answers at once, usually with more than it
//! was sent; then the line goes quiet again while the person reads. Ordinary clients ask
//! first and get the larger answer. Push services (IMAP IDLE, MQTT, WebSocket, XMPP) were
//! asked by their client before they push, and a push and its acknowledgement run on into
//! more back and forth, or repeat one size. One or two such exchanges are evidence that
//! turn-taking statistics cannot give yet.
//!
//! Fed by `Turns` at each turn boundary; O(1) each.

use super::turns::{FAST_GAP, SMALL_TURN_BYTES};
use super::Dir;
use crate::time::Span;
use serde::Serialize;

/// A line silent this long has gone quiet: what comes next is a new thought, not part of
/// the machine exchange before it.
pub const QUIET: Span = Span::from_millis(800);

/// A turn that just ended.
#[derive(Debug, Clone, Copy)]
pub struct Closed {
    pub who: Dir,
    pub bytes: u32,
    pub segments: u32,
    /// That side's turns so far, this one included.
    pub index: u32,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Exchanges {
    /// Who spoke first after the first quiet period.
    pub first_after_quiet: Option<Dir>,
    /// Before the first quiet period the initiator, past its handshake, sent something the
    /// responder answered at once with what it had not sent unasked before: a client that
    /// asked its server.
    pub client_asked: bool,
    /// Settled exchanges: the responder typed a short line after quiet, the initiator
    /// answered at once, and the line went quiet again.
    pub reverse: u8,
    /// Of those, answers larger than the line they answered.
    pub outweighed: u8,
    /// Of those, answers of the same size as an earlier answer (acknowledgements, pongs).
    pub repeated: u8,
    #[serde(skip)]
    quiet_seen: bool,
    /// The responder's current turn began after quiet.
    #[serde(skip)]
    typed: bool,
    /// An answer under way to a typed line of this size.
    #[serde(skip)]
    pending: Option<u16>,
    /// The responder's current turn answers an initiator's request in the opening.
    #[serde(skip)]
    answering_request: bool,
    /// Sizes of the responder's turns in the opening (TLS 1.3 tickets come in equal sizes,
    /// the second one sometimes after the client's first bytes).
    #[serde(skip)]
    opening_sizes: [u16; 4],
    #[serde(skip)]
    answer_sizes: [u16; 4],
}

/// Keeps `size` among the last four distinct sizes; true when it was one of them.
fn remember(sizes: &mut [u16; 4], size: u32) -> bool {
    let size = size.min(u16::MAX as u32) as u16;
    let seen = sizes.contains(&size);
    if !seen {
        sizes.rotate_right(1);
        sizes[0] = size;
    }
    seen
}

impl Exchanges {
    /// A turn of `next` begins `gap` after the last segment, `closed` having just ended
    /// (none for the session's first turn). `handshake` is how many of the initiator's
    /// first turns are a handshake (2 for TLS: hello, finished), and `client_turns` how
    /// many it has had: a slow server inside the handshake is no quiet line.
    pub fn on_turn(
        &mut self,
        closed: Option<Closed>,
        next: Dir,
        gap: Span,
        handshake: u32,
        client_turns: u32,
    ) {
        let quiet = gap >= QUIET && client_turns >= handshake;
        if let Some(c) = closed {
            self.closed(c, next, gap, quiet, handshake);
        }
        if quiet && !self.quiet_seen {
            self.quiet_seen = true;
            self.first_after_quiet = Some(next);
        }
        self.typed = next == Dir::Resp && quiet;
    }

    fn closed(&mut self, c: Closed, next: Dir, gap: Span, quiet: bool, handshake: u32) {
        let at_once = c.who != next && gap <= FAST_GAP;
        match c.who {
            Dir::Resp => {
                if !self.quiet_seen {
                    // The answer to a request in the opening, unless it repeats what the
                    // responder sent unasked.
                    let repeat = remember(&mut self.opening_sizes, c.bytes);
                    if self.answering_request && !repeat {
                        self.client_asked = true;
                    }
                    self.answering_request = false;
                }
                // A typed line (one write: a person sends a line at a time; a server's
                // reply often comes as headers, then body) answered at once: wait to see
                // the line go quiet.
                if std::mem::take(&mut self.typed)
                    && at_once
                    && c.bytes <= SMALL_TURN_BYTES
                    && c.segments == 1
                {
                    self.pending = Some(c.bytes as u16);
                }
            }
            Dir::Orig => {
                if !self.quiet_seen && at_once && c.index > handshake {
                    self.answering_request = true;
                }
                if self.pending.is_some() {
                    if next == Dir::Resp && !quiet {
                        // The far end went on at once: a protocol's back and forth.
                        self.pending = None;
                    } else {
                        self.settle_with(c.bytes);
                    }
                }
            }
        }
    }

    /// The answer under way (`answer` bytes so far) has been followed by quiet.
    pub fn settle_with(&mut self, answer: u32) -> bool {
        let Some(line) = self.pending.take() else { return false };
        self.reverse = self.reverse.saturating_add(1);
        if answer > line as u32 {
            self.outweighed = self.outweighed.saturating_add(1);
        }
        if remember(&mut self.answer_sizes, answer) {
            self.repeated = self.repeated.saturating_add(1);
        }
        true
    }

    /// An answer to a typed line is under way.
    pub fn pending(&self) -> bool {
        self.pending.is_some()
    }
}
