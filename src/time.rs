//! Capture time. Detection logic never reads the wall clock: every stage is handed the
//! timestamp of the packet it is working on, so a replay is deterministic.

use std::fmt;
use std::ops::{Add, Sub};

/// Nanoseconds since the Unix epoch, as stamped on a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A signed span of capture time in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(i64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }
    pub fn from_secs_f64(secs: f64) -> Self {
        Self((secs * 1e9) as i64)
    }
    pub const fn as_nanos(self) -> i64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// The wall clock. Only live sources use it (to let sessions time out while the wire
    /// is quiet, and to stamp agent inventories); detection logic never calls it.
    pub fn wall_clock() -> Self {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Self(d.as_nanos() as i64)
    }
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }
    /// RFC 3339 in UTC with millisecond precision, as ECS `@timestamp` wants.
    pub fn to_rfc3339(self) -> String {
        let secs = self.unix_secs();
        let millis = self.0.rem_euclid(1_000_000_000) / 1_000_000;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", sod / 3600, (sod / 60) % 60, sod % 60)
    }
}

impl Span {
    pub const ZERO: Span = Span(0);

    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms * 1_000_000)
    }
    pub const fn from_secs(s: i64) -> Self {
        Self(s * 1_000_000_000)
    }
    pub fn from_secs_f64(s: f64) -> Self {
        Self((s * 1e9) as i64)
    }
    pub const fn as_nanos(self) -> i64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub const fn as_millis(self) -> i64 {
        self.0 / 1_000_000
    }
}

impl Sub for Timestamp {
    type Output = Span;
    fn sub(self, rhs: Timestamp) -> Span {
        Span(self.0.saturating_sub(rhs.0))
    }
}

impl Add for Span {
    type Output = Span;
    fn add(self, rhs: Span) -> Span {
        Span(self.0.saturating_add(rhs.0))
    }
}

impl Add<Span> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Span) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Span> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Span) -> Timestamp {
        Timestamp(self.0.saturating_sub(rhs.0))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(Timestamp::ZERO.to_rfc3339(), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T12:34:56.789Z, a leap day.
        let t = Timestamp::from_nanos(1_709_210_096_789_000_000);
        assert_eq!(t.to_rfc3339(), "2024-02-29T12:34:56.789Z");
    }

    #[test]
    fn spans_subtract_and_add() {
        let a = Timestamp::from_nanos(5_000_000_000);
        let b = a + Span::from_millis(1500);
        assert_eq!((b - a).as_millis(), 1500);
        assert_eq!(b - Span::from_millis(1500), a);
    }
}
