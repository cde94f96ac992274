//! The packet timeline of one session, recorded only for `replay --report`, in bounded
//! memory: the first `HEAD` payload packets, a ring of the latest `RING`, and a copy of
//! that ring at each decision (a session's tier rises at most three times), so the chart
//! shows how the session began, what it looked like when it was judged, and how it ended.

use crate::evidence::Dir;
use crate::time::Timestamp;
use std::collections::VecDeque;

/// Payload packets kept from the start of a session.
pub const HEAD: usize = 256;
/// Latest payload packets kept (and copied at each decision).
pub const RING: usize = 128;
/// First payload bytes kept per direction, for the report's cleartext view.
pub const FIRST_BYTES: usize = 256;

/// One payload packet: when, which way, how big (its true length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub ts: Timestamp,
    /// Its number among the session's new payload packets (retransmissions left out), so
    /// the chart can say where packets were not kept.
    pub n: u32,
    pub dir: Dir,
    pub len: u32,
}

/// A shard-wide cap on recorded points, so that a capture with very many open sessions
/// cannot exhaust memory: a session that finds the budget spent records no more.
#[derive(Debug)]
pub struct TimelineBudget {
    live: usize,
    max: usize,
}

impl TimelineBudget {
    /// 16 M points (about 400 MB) across the shards at most.
    pub const TOTAL_POINTS: usize = 16 << 20;

    pub fn new(max_points: usize) -> Self {
        TimelineBudget { live: 0, max: max_points }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Timeline {
    head: Vec<Point>,
    ring: VecDeque<Point>,
    /// Ring copies taken at decisions (without points already in `head`).
    kept: Vec<Point>,
    next_n: u32,
    first_bytes: [Vec<u8>; 2],
    /// Points refused because the shard's budget was spent.
    refused: u32,
}

impl Timeline {
    /// Records one new payload packet. `payload` is what was captured of it.
    pub fn record(&mut self, ts: Timestamp, dir: Dir, len: u32, payload: &[u8], budget: &mut TimelineBudget) {
        let first = &mut self.first_bytes[dir.idx()];
        if first.len() < FIRST_BYTES {
            let take = payload.len().min(FIRST_BYTES - first.len());
            first.extend_from_slice(&payload[..take]);
        }
        let p = Point { ts, n: self.next_n, dir, len };
        self.next_n = self.next_n.saturating_add(1);
        if self.head.len() < HEAD {
            if !budget.take() {
                self.refused += 1;
                return;
            }
            self.head.push(p);
            return;
        }
        if self.ring.len() == RING {
            self.ring.pop_front();
        } else if !budget.take() {
            self.refused += 1;
            return;
        }
        self.ring.push_back(p);
    }

    /// The session was judged and its tier rose: keep the packets that led there.
    pub fn mark_decision(&mut self, budget: &mut TimelineBudget) {
        let after = self.kept.last().map_or(0, |p| p.n + 1);
        for p in self.ring.iter().filter(|p| p.n >= after) {
            if !budget.take() {
                self.refused += 1;
                break;
            }
            self.kept.push(*p);
        }
    }

    /// Gives its points back to the budget (the session ended).
    pub fn release(&self, budget: &mut TimelineBudget) {
        budget.live = budget.live.saturating_sub(self.head.len() + self.ring.len() + self.kept.len());
    }

    /// Every kept point once, in order.
    pub fn points(&self) -> Vec<Point> {
        let mut all: Vec<Point> = self.head.iter().chain(&self.kept).chain(&self.ring).copied().collect();
        all.sort_by_key(|p| p.n);
        all.dedup_by_key(|p| p.n);
        all
    }

    /// Payload packets seen in all (kept or not).
    pub fn total(&self) -> u32 {
        self.next_n
    }

    /// Points the budget refused.
    pub fn refused(&self) -> u32 {
        self.refused
    }

    /// The first captured payload bytes of one direction.
    pub fn first_bytes(&self, dir: Dir) -> &[u8] {
        &self.first_bytes[dir.idx()]
    }
}

impl TimelineBudget {
    fn take(&mut self) -> bool {
        if self.live >= self.max {
            return false;
        }
        self.live += 1;
        true
    }
}

/// A finished session's timeline, handed to the report.
#[derive(Debug, Clone)]
pub struct SessionTimeline {
    pub session_id: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub timeline: Timeline,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn memory_stays_bounded_and_the_packets_around_each_decision_are_kept() {
        let mut budget = TimelineBudget::new(1 << 20);
        let mut t = Timeline::default();
        for i in 0..10_000u32 {
            let dir = if i % 2 == 0 { Dir::Orig } else { Dir::Resp };
            t.record(at(i as i64 * 10), dir, 10 + i % 7, b"abc", &mut budget);
            if i == 5_000 {
                t.mark_decision(&mut budget);
            }
        }
        let points = t.points();
        assert!(points.len() <= HEAD + 2 * RING, "{}", points.len());
        assert_eq!(points[0].n, 0);
        assert!(points.iter().any(|p| p.n == 5_000), "the decision's packets were kept");
        assert_eq!(points.last().unwrap().n, 9_999);
        assert!(points.windows(2).all(|w| w[0].n < w[1].n));
        assert_eq!(t.total(), 10_000);
        assert_eq!(t.first_bytes(Dir::Orig).len(), FIRST_BYTES.min(5_000 * 3));
        t.release(&mut budget);
        assert_eq!(budget.live, 0);
    }

    #[test]
    fn a_spent_budget_refuses_points_instead_of_growing() {
        let mut budget = TimelineBudget::new(10);
        let mut t = Timeline::default();
        for i in 0..100 {
            t.record(at(i), Dir::Orig, 5, b"x", &mut budget);
        }
        assert_eq!(t.points().len(), 10);
        assert_eq!(t.refused(), 90);
    }
}
