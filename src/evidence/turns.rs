//! Who types and who answers. A *turn* is a run of payload segments from one side; the
//! gap before a turn is how long that side waited after the other fell quiet.
//!
//! At a shell, the typist's turns are small (a command line, or one keystroke) and start
//! after human think time that varies; the shell's turns start within moments, as a
//! machine answers. Which side types, set against who opened the connection, carries
//! most of the signal: in a reverse shell the side that *accepted* the connection types.
//! This works inside TLS and SSH too, since it needs only sizes and times.

use super::exchanges::{Closed, Exchanges, QUIET};
use super::Dir;
use crate::time::{Span, Timestamp};
use serde::Serialize;

/// A turn this small is a typed line or a few keystrokes (TLS adds ~30 bytes a record).
pub const SMALL_TURN_BYTES: u32 = 320;
/// The other side answered a turn if it started sending within this.
pub const ANSWER_WINDOW: Span = Span::from_millis(1500);
/// An echo of a keystroke comes back this fast.
pub const ECHO_WINDOW: Span = Span::from_millis(300);
/// Gaps a person leaves between keystrokes or commands.
pub const HUMAN_GAP_MIN: Span = Span::from_millis(50);
pub const HUMAN_GAP_MAX: Span = Span::from_secs(900);
/// A side that starts its turn this soon after the other stops is answering by machine.
pub const FAST_GAP: Span = Span::from_millis(1000);
/// An OFF period in the stepping-stone sense (Zhang & Paxson).
pub const IDLE_GAP: Span = Span::from_millis(500);
/// A keystroke (or one TLS record of one) is at most this big.
pub const KEYSTROKE_MAX: u32 = 64;
/// A side that resumes after this much silence starts a new turn although the other side
/// said nothing: an unanswered prompt, then a command seconds later, are two turns.
pub const TURN_SPLIT_GAP: Span = Span::from_millis(1000);
/// A person who reads output and types the next command line takes about this long at
/// the least, typically; machines answering each other over a long path take a round
/// trip (tens to hundreds of milliseconds), which the human range alone lets through.
pub const LINE_THINK_MIN_SECS: f32 = 0.8;

/// Statistics of the turns one side started.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TurnStats {
    /// Turns started by this side after the other side's turn.
    pub turns: u32,
    /// Of this side's finished turns, those no bigger than `SMALL_TURN_BYTES`.
    pub small: u32,
    /// Small turns the other side answered within `ANSWER_WINDOW`.
    pub answered: u32,
    /// Turns started after a human-range gap.
    pub human_gap: u32,
    /// Large turns among this side's handshake turns (hellos, certificates, tickets),
    /// which say nothing against a person typing afterwards.
    pub handshake_large: u16,
    /// Turns started within `FAST_GAP` of the other side's last segment.
    pub fast_gap: u32,
    /// One-segment keystroke turns echoed back with the same size within `ECHO_WINDOW`.
    pub echoes: u16,
    /// What came back to this side's small turns (see `Answers`).
    pub answers: Answers,
    #[serde(skip)]
    log_gap_n: u32,
    #[serde(skip)]
    log_gap_sum: f32,
    #[serde(skip)]
    log_gap_sq: f32,
}

impl TurnStats {
    /// Standard deviation of ln(gap) over human-range gaps: near zero for a metronome
    /// (keepalives, pollers), large for people.
    pub fn gap_log_spread(&self) -> f32 {
        if self.log_gap_n < 3 {
            return 0.0;
        }
        let n = self.log_gap_n as f32;
        let mean = self.log_gap_sum / n;
        (self.log_gap_sq / n - mean * mean).max(0.0).sqrt()
    }

    pub fn human_gaps(&self) -> u32 {
        self.log_gap_n
    }

    /// The geometric mean of the human-range gaps, in seconds (0 with none).
    pub fn typical_gap_secs(&self) -> f32 {
        if self.log_gap_n == 0 {
            return 0.0;
        }
        (self.log_gap_sum / self.log_gap_n as f32).exp()
    }
}

/// The answers one side's small turns got: the other side's whole next turn, when it
/// began within `ANSWER_WINDOW`. A shell answers with output: its size changes with every
/// command and usually exceeds the command (or, with a pty, it echoes each keystroke at
/// its own size). A push service answers a message with an acknowledgement (PUBACK,
/// WINDOW_UPDATE, `{"ack": n}`, a pong): a handful of sizes, whatever the message was.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Answers {
    /// Small turns of this side that got an answer.
    pub pairs: u32,
    /// Answers larger than the turn they answered.
    pub larger: u32,
    /// Answers exactly as large as the turn they answered (echo).
    pub same: u32,
    /// Answers whose size was among the last few distinct answer sizes.
    pub repeated: u32,
    #[serde(skip)]
    recent: [u16; RECENT_SIZES],
    #[serde(skip)]
    next: u8,
}

/// Distinct answer sizes remembered for `Answers::repeated`.
const RECENT_SIZES: usize = 6;

/// What the answers to a side's small turns look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerShape {
    /// No answered turn yet, or too few that disagree.
    Unknown,
    /// Fewer answers than it takes to judge a shape, all of them larger than what they
    /// answered: output, so far.
    Larger,
    /// Fewer answers than it takes to judge a shape, none larger than what it answered:
    /// acknowledgements of pushed messages, so far.
    Smaller,
    /// Sizes that vary and mostly exceed the turn: command output.
    Output,
    /// The same size as the turn, one for one: a pty echoing keystrokes.
    Echo,
    /// A few sizes that recur whatever was sent: acknowledgements.
    Acks,
    /// None of these.
    Mixed,
}

/// Turns of each side that belong to the handshake rather than the conversation.
const HANDSHAKE_TURNS: u32 = 2;

/// Answered turns needed before the shape of the answers is judged.
pub const MIN_SHAPE_PAIRS: u32 = 4;

impl Answers {
    fn record(&mut self, message: u32, answer: u32) {
        self.pairs += 1;
        if answer > message {
            self.larger += 1;
        } else if answer == message {
            self.same += 1;
        }
        let size = answer.min(u16::MAX as u32) as u16;
        if self.recent.contains(&size) {
            self.repeated += 1;
        } else {
            self.recent[self.next as usize] = size;
            self.next = ((self.next as usize + 1) % RECENT_SIZES) as u8;
        }
    }

    pub fn shape(&self) -> AnswerShape {
        if self.pairs < MIN_SHAPE_PAIRS {
            return match (self.pairs, self.larger, self.same) {
                (0, ..) => AnswerShape::Unknown,
                (p, l, _) if l == p => AnswerShape::Larger,
                (_, 0, 0) => AnswerShape::Smaller,
                _ => AnswerShape::Unknown,
            };
        }
        let share = |n: u32| n as f32 / self.pairs as f32;
        if share(self.same) >= 0.5 {
            AnswerShape::Echo
        } else if share(self.repeated) >= 0.6 {
            AnswerShape::Acks
        } else if share(self.repeated) <= 0.5 && share(self.larger) >= 0.5 {
            AnswerShape::Output
        } else {
            AnswerShape::Mixed
        }
    }
}

/// Follows turns as segments arrive.
#[derive(Debug, Clone, Copy, Default)]
pub struct Turns {
    current: Option<Dir>,
    last_ts: Timestamp,
    bytes: u32,
    segments: u32,
    /// The gap before the current turn began.
    gap: Span,
    /// The turn before the current one: who, how big, and whether it was small.
    previous: Option<(Dir, u32)>,
    pub by: [TurnStats; 2],
    /// Bytes in the first turn of each side (a stager sends its stage in one turn).
    pub first_turn_bytes: [u32; 2],
    first_turn_done: [bool; 2],
    /// The capture began inside the session: its first turns are no handshake.
    mid_stream: bool,
    /// The initiator's first two turns are a TLS handshake.
    tls: bool,
    /// When the session's first packet was seen (its SYN, or the first payload; zero
    /// until then).
    opened: Timestamp,
    /// Turns of each side so far (the one under way included).
    count: [u32; 2],
    /// The order of speech around quiet periods.
    pub exchanges: Exchanges,
    /// The burst under way: when it began and the bytes of each side in it.
    burst_start: Timestamp,
    burst_bytes: [u32; 2],
    burst_first: Option<Dir>,
}

/// Activity between quiet periods: a check-in of a poller (its request and the answer),
/// one exchange of a keep-alive connection, a long-poll's held answer and the next ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub start: Timestamp,
    /// Payload bytes of the initiator and of the responder in it.
    pub bytes: [u32; 2],
    /// Who spoke first in it: the responder, when it answers a request it held (a
    /// long-poll) or pushes.
    pub first: Dir,
}

/// What a segment did to the turn structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEvent {
    /// The same side kept sending.
    Continued,
    /// The other side started a turn: a moment to re-judge the session.
    Switched,
}

impl Turns {
    /// Notes the session's first packet (a SYN, or the first payload): the first turn's
    /// gap is measured from it.
    pub fn note_packet(&mut self, ts: Timestamp) {
        if self.opened == Timestamp::ZERO {
            self.opened = ts;
        }
    }

    /// The initiator's first turns are a TLS handshake (hello, then finished).
    pub fn client_handshakes(&mut self) {
        self.tls = true;
    }

    /// Feeds one payload segment of `len` bytes (true length) from `dir` at `ts`. Returns
    /// the burst that this segment ended, when it began a new one after quiet.
    pub fn segment(&mut self, dir: Dir, ts: Timestamp, len: u32) -> (TurnEvent, Option<Burst>) {
        let ended = self.burst(dir, ts, len);
        (self.turn(dir, ts, len), ended)
    }

    /// The burst under way, ended (a session that closed mid-burst hands it over so).
    pub fn open_burst(&self) -> Option<Burst> {
        let first = self.burst_first?;
        Some(Burst { start: self.burst_start, bytes: self.burst_bytes, first })
    }

    fn burst(&mut self, dir: Dir, ts: Timestamp, len: u32) -> Option<Burst> {
        let quiet = self.current.is_none() || ts - self.last_ts >= QUIET;
        let ended = if quiet { self.open_burst() } else { None };
        if quiet {
            self.burst_start = ts;
            self.burst_bytes = [0, 0];
            self.burst_first = Some(dir);
        }
        let b = &mut self.burst_bytes[dir.idx()];
        *b = b.saturating_add(len);
        ended
    }

    fn turn(&mut self, dir: Dir, ts: Timestamp, len: u32) -> TurnEvent {
        let handshake = if self.tls && !self.mid_stream { HANDSHAKE_TURNS } else { 0 };
        let event = match self.current {
            Some(cur) if cur == dir && ts - self.last_ts < TURN_SPLIT_GAP => TurnEvent::Continued,
            Some(cur) => {
                let gap = ts - self.last_ts;
                let closed = Closed {
                    who: cur,
                    bytes: self.bytes,
                    segments: self.segments,
                    index: self.count[cur.idx()],
                };
                // A side resuming after silence was not answered.
                self.close_turn(cur, gap, (cur != dir).then_some(len));
                self.open_turn(dir, gap);
                self.exchanges.on_turn(Some(closed), dir, gap, handshake, self.count[0]);
                self.gap = gap;
                TurnEvent::Switched
            }
            None => {
                // The first turn follows the connection's own silence; joined inside the
                // session, an unknown one, taken as quiet.
                let gap = if self.mid_stream {
                    QUIET
                } else if self.opened != Timestamp::ZERO {
                    ts - self.opened
                } else {
                    Span::ZERO
                };
                self.exchanges.on_turn(None, dir, gap, handshake, self.count[0]);
                TurnEvent::Switched
            }
        };
        if event == TurnEvent::Switched {
            self.current = Some(dir);
            self.bytes = 0;
            self.segments = 0;
            self.count[dir.idx()] += 1;
        }
        self.bytes = self.bytes.saturating_add(len);
        self.segments += 1;
        self.last_ts = ts;
        if !self.first_turn_done[dir.idx()] {
            self.first_turn_bytes[dir.idx()] = self.bytes;
        }
        event
    }

    /// The capture began inside the session (no SYN): there is no handshake to leave out.
    pub fn begin_mid_stream(&mut self) {
        self.mid_stream = true;
    }

    fn handshake_turns(&self) -> u32 {
        if self.mid_stream {
            0
        } else {
            HANDSHAKE_TURNS
        }
    }

    /// Settles an exchange whose answer has been followed by quiet by `now` (any later
    /// packet of the session, or the clock of a quiet wire). True when one was settled.
    pub fn settle(&mut self, now: Timestamp) -> bool {
        self.exchanges.pending()
            && self.current == Some(Dir::Orig)
            && now - self.last_ts >= QUIET
            && self.exchanges.settle_with(self.bytes)
    }

    /// `answer_len` is the other side's next segment, when it answered this turn.
    fn close_turn(&mut self, who: Dir, gap: Span, answer_len: Option<u32>) {
        let handshake = self.handshake_turns();
        self.first_turn_done[who.idx()] = true;
        // This turn answered the one before it, if that was the other side's, small, and
        // this one began within the answer window. The first turns of each side are left
        // out: they are the handshake (TLS hellos, tickets, banners), not the conversation.
        if let Some((asker, asked)) = self.previous {
            if asker != who
                && asked <= SMALL_TURN_BYTES
                && self.gap <= ANSWER_WINDOW
                && self.by[asker.idx()].turns > self.handshake_turns()
            {
                self.by[asker.idx()].answers.record(asked, self.bytes);
            }
        }
        self.previous = Some((who, self.bytes));
        let s = &mut self.by[who.idx()];
        if self.bytes > SMALL_TURN_BYTES && s.turns <= handshake {
            s.handshake_large = s.handshake_large.saturating_add(1);
        }
        if self.bytes <= SMALL_TURN_BYTES {
            s.small += 1;
            if answer_len.is_some() && gap <= ANSWER_WINDOW {
                s.answered += 1;
            }
            if self.segments == 1
                && self.bytes <= KEYSTROKE_MAX
                && answer_len == Some(self.bytes)
                && gap <= ECHO_WINDOW
            {
                s.echoes = s.echoes.saturating_add(1);
            }
        }
    }

    fn open_turn(&mut self, who: Dir, gap: Span) {
        let s = &mut self.by[who.idx()];
        s.turns += 1;
        if gap < FAST_GAP {
            s.fast_gap += 1;
        }
        if (HUMAN_GAP_MIN..=HUMAN_GAP_MAX).contains(&gap) {
            s.human_gap += 1;
            let l = (gap.as_secs_f64() as f32).ln();
            s.log_gap_n += 1;
            s.log_gap_sum += l;
            s.log_gap_sq += l * l;
        }
    }
}

/// The result of weighing the turn statistics: is a person typing, and on which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Interactivity {
    pub typist: Dir,
    /// Typed turns the other side answered.
    pub exchanges: u32,
    /// Keystrokes echoed back one for one (a pty, or ssh).
    pub echoes: u32,
    /// What the typist's turns got back.
    pub answers: AnswerShape,
}

/// Minimum answered exchanges before calling a session interactive.
pub const MIN_EXCHANGES: u32 = 3;

impl Turns {
    /// Decides whether one side is a person typing at the other. `None` when neither side
    /// fits: bulk transfers, request/response machines, metronomes, chat.
    pub fn interactivity(&self) -> Option<Interactivity> {
        let mut best: Option<Interactivity> = None;
        for typist in [Dir::Resp, Dir::Orig] {
            let t = &self.by[typist.idx()];
            let o = &self.by[typist.other().idx()];
            if t.answered < MIN_EXCHANGES || t.turns < MIN_EXCHANGES || o.turns < MIN_EXCHANGES - 1 {
                continue;
            }
            let ratio = |a: u32, b: u32| a as f32 / b.max(1) as f32;
            // Most of the typist's turns are small and get a quick answer …
            let small_ok = ratio(t.small, (t.turns + 1).saturating_sub(u32::from(t.handshake_large))) >= 0.6;
            let answered_ok = ratio(t.answered, t.small) >= 0.6;
            // … the typist starts after human gaps that vary: think time before a typed
            // line, or keystrokes that a pty echoes one for one …
            let paced =
                t.typical_gap_secs() >= LINE_THINK_MIN_SECS || ratio(u32::from(t.echoes), t.answered) >= 0.5;
            let human_ok = ratio(t.human_gap, t.turns) >= 0.6 && t.gap_log_spread() >= 0.25 && paced;
            // … and the other side answers at machine speed.
            let machine_ok = ratio(o.fast_gap, o.turns) >= 0.6;
            if small_ok && answered_ok && human_ok && machine_ok {
                let cand = Interactivity {
                    typist,
                    exchanges: t.answered,
                    echoes: u32::from(t.echoes),
                    answers: t.answers.shape(),
                };
                if best.is_none_or(|b| cand.exchanges > b.exchanges) {
                    best = Some(cand);
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    /// A person on `typist` types lines with varied think time; the other side answers.
    fn line_session(typist: Dir, thinks_ms: &[i64]) -> Turns {
        let mut t = Turns::default();
        let mut now = 0;
        t.segment(typist.other(), at(now), 40); // a banner or prompt first
        for think in thinks_ms {
            now += think;
            t.segment(typist, at(now), 12);
            now += 4;
            t.segment(typist.other(), at(now), 300);
            t.segment(typist.other(), at(now + 1), 20);
        }
        t
    }

    #[test]
    fn a_person_typing_at_the_accepting_side_is_found() {
        let t = line_session(Dir::Resp, &[2100, 5400, 3200, 7900, 2600]);
        let i = t.interactivity().expect("interactive");
        assert_eq!(i.typist, Dir::Resp);
        assert!(i.exchanges >= 4);
    }

    #[test]
    fn a_metronome_is_not_a_person() {
        let t = line_session(Dir::Orig, &[5000, 5000, 5000, 5000, 5000, 5000]);
        assert_eq!(t.interactivity(), None);
    }

    #[test]
    fn sub_millisecond_request_response_is_a_machine() {
        let mut t = Turns::default();
        let mut now_us = 0i64;
        for _ in 0..50 {
            t.segment(Dir::Orig, Timestamp::from_nanos(now_us * 1000), 30);
            now_us += 150;
            t.segment(Dir::Resp, Timestamp::from_nanos(now_us * 1000), 12);
            now_us += 300;
        }
        assert_eq!(t.interactivity(), None);
    }

    #[test]
    fn keystrokes_echoed_one_for_one_count_as_echoes() {
        let mut t = Turns::default();
        let mut now = 0;
        for gap in [180, 95, 240, 130, 310, 150, 220] {
            now += gap;
            t.segment(Dir::Resp, at(now), 1);
            t.segment(Dir::Orig, at(now + 2), 1);
        }
        let i = t.interactivity().expect("interactive");
        assert_eq!(i.typist, Dir::Resp);
        assert!(i.echoes >= 6, "{i:?}");
    }

    #[test]
    fn command_output_and_acknowledgements_have_different_shapes() {
        // A shell: each command gets output of its own size, larger than the command.
        let mut t = Turns::default();
        let mut now = 0;
        for (i, think) in [2100, 5400, 3200, 7900, 2600, 4100, 3300, 6100].iter().enumerate() {
            now += think;
            t.segment(Dir::Resp, at(now), 12 + i as u32);
            t.segment(Dir::Orig, at(now + 3), 60 + 97 * i as u32);
        }
        t.segment(Dir::Resp, at(now + 3000), 12);
        assert_eq!(t.by[1].answers.shape(), AnswerShape::Output, "{:?}", t.by[1].answers);
        // A push service: messages of every size, each acknowledged with the same 7 bytes.
        let mut t = Turns::default();
        let mut now = 0;
        for (i, think) in [2100, 5400, 3200, 7900, 2600, 4100, 3300, 6100].iter().enumerate() {
            now += think;
            t.segment(Dir::Resp, at(now), 40 + 31 * i as u32);
            t.segment(Dir::Orig, at(now + 3), 7);
        }
        t.segment(Dir::Resp, at(now + 3000), 12);
        assert_eq!(t.by[1].answers.shape(), AnswerShape::Acks, "{:?}", t.by[1].answers);
        // A pty: every keystroke comes back at its own size.
        let mut t = Turns::default();
        let mut now = 0;
        for gap in [180, 95, 240, 130, 310, 150, 220, 170, 260] {
            now += gap;
            t.segment(Dir::Resp, at(now), 23);
            t.segment(Dir::Orig, at(now + 2), 23);
        }
        assert_eq!(t.by[1].answers.shape(), AnswerShape::Echo);
    }

    #[test]
    fn chat_where_both_sides_take_their_time_is_not_a_shell() {
        let mut t = Turns::default();
        let gaps = [3100, 4700, 2200, 6100, 3900, 2800, 5200, 4400, 3600, 2500];
        let mut now = 0;
        for (i, g) in gaps.iter().enumerate() {
            now += g;
            t.segment(if i % 2 == 0 { Dir::Orig } else { Dir::Resp }, at(now), 60);
        }
        assert_eq!(t.interactivity(), None);
    }
}
