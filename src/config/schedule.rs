//! The site's working week: a time zone, business hours and business days. Off-hours is
//! judged from the capture timestamp converted to the site's local time, never from the
//! wall clock, so a replay gives the same answer as the live run did.
//!
//! Time zones come from `jiff` with its bundled tz database (`tzdb-bundle-always`): the
//! sensor then gives the same answer in a minimal container without /usr/share/zoneinfo,
//! and DST rules do not change under it when the host's tzdata package is updated.

use crate::time::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A daily window in minutes after local midnight: `start..end`, `end` at most 1440
/// (24:00); when `end < start` the window runs past midnight (e.g. 22:00-06:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub start: u16,
    pub end: u16,
}

/// Time zone plus business hours and days.
#[derive(Debug, Clone)]
pub struct Schedule {
    tz_name: String,
    tz: TimeZone,
    hours: Option<Hours>,
    /// Indexed Monday = 0 … Sunday = 6.
    days: [bool; 7],
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { tz_name: "UTC".into(), tz: TimeZone::UTC, hours: None, days: WEEKDAYS }
    }
}

/// Monday to Friday.
pub const WEEKDAYS: [bool; 7] = [true, true, true, true, true, false, false];

impl Schedule {
    /// `hours: None` means the site keeps no business hours: nothing is off-hours.
    pub fn new(tz_name: &str, hours: Option<Hours>, days: [bool; 7]) -> Result<Schedule, String> {
        let tz = time_zone(tz_name)?;
        Ok(Schedule { tz_name: tz_name.to_string(), tz, hours, days })
    }

    pub fn time_zone_name(&self) -> &str {
        &self.tz_name
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn hours(&self) -> Option<Hours> {
        self.hours
    }

    pub fn days(&self) -> [bool; 7] {
        self.days
    }

    /// Whether `t` (capture time) falls outside business hours in the site's zone.
    /// Always false when no business hours are configured.
    pub fn is_off_hours(&self, t: Timestamp) -> bool {
        let Some(h) = self.hours else { return false };
        let local = to_jiff(t).to_zoned_datetime(self.tz.clone());
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let today = local.weekday().to_monday_zero_offset() as usize;
        let yesterday = (today + 6) % 7;
        let in_hours = if h.start < h.end {
            self.days[today] && minute >= h.start && minute < h.end
        } else {
            // Overnight window: the evening part belongs to today, the early-morning
            // part to the shift that started yesterday.
            (self.days[today] && minute >= h.start) || (self.days[yesterday] && minute < h.end)
        };
        !in_hours
    }

    /// The instant a day ends in the site's zone (the next local midnight, or the first
    /// instant of the next day when DST skips midnight).
    pub fn end_of_day(&self, date: Date) -> Timestamp {
        let Ok(next) = date.tomorrow() else { return Timestamp::from_nanos(i64::MAX) };
        match next.to_zoned_datetime(self.tz.clone()) {
            Ok(z) => from_jiff(z.timestamp()),
            Err(_) => Timestamp::from_nanos(i64::MAX),
        }
    }
}

/// An IANA time zone from the bundled database.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    if name.eq_ignore_ascii_case("UTC") {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| format!("{name:?} is not a known IANA time zone (e.g. \"Europe/Berlin\", \"UTC\")"))
}

/// `HH:MM-HH:MM`; hours 0-24 (24:00 only as an end), minutes 00-59.
pub fn parse_hours(s: &str) -> Result<Hours, String> {
    let err = || format!("{s:?} is not a time range HH:MM-HH:MM (e.g. \"08:00-19:00\")");
    let (a, b) = s.split_once('-').ok_or_else(err)?;
    let start = parse_clock(a.trim()).ok_or_else(err)?;
    let end = parse_clock(b.trim()).ok_or_else(err)?;
    if start >= 24 * 60 {
        return Err(err());
    }
    if start == end {
        return Err(format!("{s:?} is an empty range; leave business_hours out to keep no business hours"));
    }
    Ok(Hours { start, end })
}

fn parse_clock(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// `mon-fri`, `mon,wed,fri`, `sat-sun`, `fri-mon` (wraps), `mon-wed,sat`; three-letter or
/// full English day names, any case.
pub fn parse_days(s: &str) -> Result<[bool; 7], String> {
    let err = |part: &str| {
        format!("{s:?} is not a list of days: {part:?} is not a day or day range (e.g. \"mon-fri\", \"mon,wed,fri\")")
    };
    let mut days = [false; 7];
    for part in s.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a).ok_or_else(|| err(part))?, day(b).ok_or_else(|| err(part))?);
                let mut d = a;
                loop {
                    days[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day(part).ok_or_else(|| err(part))?] = true,
        }
    }
    Ok(days)
}

fn day(s: &str) -> Option<usize> {
    const NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let s = s.trim().to_ascii_lowercase();
    if s.len() < 3 {
        return None;
    }
    NAMES.iter().position(|n| (s.len() == 3 && n.starts_with(&s)) || *n == s)
}

/// Capture time to a jiff instant.
pub fn to_jiff(t: Timestamp) -> jiff::Timestamp {
    // Every i64 nanosecond count (±292 years) is inside jiff's range.
    jiff::Timestamp::from_nanosecond(i128::from(t.as_nanos())).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// A jiff instant to capture time, saturating outside the i64 nanosecond range.
pub fn from_jiff(t: jiff::Timestamp) -> Timestamp {
    let n = t.as_nanosecond();
    Timestamp::from_nanos(n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}
