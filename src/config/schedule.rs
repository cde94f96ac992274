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
    TimeZone::get(name)
        .map_err(|_| format!("{name:?} is not a known IANA time zone (e.g. \"Europe/Berlin\", \"UTC\")"))
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
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())
    {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        from_jiff(s.parse().unwrap())
    }

    fn berlin(hours: &str, days: &str) -> Schedule {
        Schedule::new("Europe/Berlin", Some(parse_hours(hours).unwrap()), parse_days(days).unwrap()).unwrap()
    }

    #[test]
    fn business_hours_follow_berlin_dst() {
        let s = berlin("08:00-19:00", "mon-fri");
        // Tuesday in July (CEST, UTC+2): 07:30 UTC is 09:30 local.
        assert!(!s.is_off_hours(ts("2025-07-15T07:30:00Z")));
        // 05:30 UTC is 07:30 local: before opening.
        assert!(s.is_off_hours(ts("2025-07-15T05:30:00Z")));
        // Tuesday in January (CET, UTC+1): 07:30 UTC is 08:30 local, in hours...
        assert!(!s.is_off_hours(ts("2025-01-14T07:30:00Z")));
        // ...but 06:30 UTC is 07:30 local, off-hours, while the same UTC time in July is 08:30.
        assert!(s.is_off_hours(ts("2025-01-14T06:30:00Z")));
        assert!(!s.is_off_hours(ts("2025-07-15T06:30:00Z")));
        // Across the change of 2025-03-30: Friday before at 06:30 UTC is 07:30 CET (off);
        // Monday after at 06:30 UTC is 08:30 CEST (in).
        assert!(s.is_off_hours(ts("2025-03-28T06:30:00Z")));
        assert!(!s.is_off_hours(ts("2025-03-31T06:30:00Z")));
    }

    #[test]
    fn hours_are_half_open_and_days_count() {
        let s = berlin("08:00-19:00", "mon-fri");
        assert!(!s.is_off_hours(ts("2025-07-15T06:00:00Z")), "08:00 local opens");
        assert!(!s.is_off_hours(ts("2025-07-15T16:59:59Z")), "18:59:59 local is in");
        assert!(s.is_off_hours(ts("2025-07-15T17:00:00Z")), "19:00 local is closed");
        assert!(s.is_off_hours(ts("2025-07-19T10:00:00Z")), "Saturday noon is off");
        assert!(!s.is_off_hours(ts("2025-07-18T10:00:00Z")), "Friday noon is in");
        // Local day, not UTC day: Sunday 23:30 UTC is Monday 01:30 local, still off;
        // Friday 22:30 UTC is Saturday 00:30 local.
        let weekend = berlin("00:00-24:00", "sat-sun");
        assert!(!weekend.is_off_hours(ts("2025-07-18T22:30:00Z")));
        assert!(weekend.is_off_hours(ts("2025-07-20T22:30:00Z")));
    }

    #[test]
    fn no_business_hours_means_never_off_hours() {
        let s = Schedule::default();
        assert!(!s.is_off_hours(ts("2025-07-19T03:00:00Z")));
        assert!(!s.is_off_hours(Timestamp::ZERO));
    }

    #[test]
    fn overnight_window_belongs_to_the_day_it_starts() {
        let s = berlin("22:00-06:00", "mon-fri");
        assert!(!s.is_off_hours(ts("2025-07-15T21:00:00Z")), "Tue 23:00");
        assert!(!s.is_off_hours(ts("2025-07-16T03:00:00Z")), "Wed 05:00, Tuesday's shift");
        assert!(!s.is_off_hours(ts("2025-07-19T03:00:00Z")), "Sat 05:00, Friday's shift");
        assert!(s.is_off_hours(ts("2025-07-14T03:00:00Z")), "Mon 05:00, Sunday had no shift");
        assert!(s.is_off_hours(ts("2025-07-15T10:00:00Z")), "Tue 12:00");
        assert!(s.is_off_hours(ts("2025-07-19T21:00:00Z")), "Sat 23:00");
    }

    #[test]
    fn day_lists_and_ranges() {
        let t = true;
        let f = false;
        assert_eq!(parse_days("mon-fri").unwrap(), [t, t, t, t, t, f, f]);
        assert_eq!(parse_days("mon,wed,fri").unwrap(), [t, f, t, f, t, f, f]);
        assert_eq!(parse_days("sat-sun").unwrap(), [f, f, f, f, f, t, t]);
        assert_eq!(parse_days("fri-mon").unwrap(), [t, f, f, f, t, t, t]);
        assert_eq!(parse_days("Monday-Wednesday, SAT").unwrap(), [t, t, t, f, f, t, f]);
        assert_eq!(parse_days("sun").unwrap(), [f, f, f, f, f, f, t]);
        for bad in ["", "mon-funday", "mo", "mon,,fri", "mon-", "weekdays"] {
            assert!(parse_days(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hour_ranges() {
        assert_eq!(parse_hours("08:00-19:00").unwrap(), Hours { start: 480, end: 1140 });
        assert_eq!(parse_hours("8:30 - 17:15").unwrap(), Hours { start: 510, end: 1035 });
        assert_eq!(parse_hours("00:00-24:00").unwrap(), Hours { start: 0, end: 1440 });
        assert_eq!(parse_hours("22:00-06:00").unwrap(), Hours { start: 1320, end: 360 });
        for bad in [
            "8-19",
            "08:00",
            "25:00-26:00",
            "08:60-09:00",
            "09:00-09:00",
            "24:00-05:00",
            "08:00-24:01",
            "0800-1900",
        ] {
            assert!(parse_hours(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn zones_come_from_the_bundled_database() {
        assert!(time_zone("Europe/Berlin").is_ok());
        assert!(time_zone("America/Sao_Paulo").is_ok());
        assert!(time_zone("utc").is_ok());
        assert!(time_zone("Europe/Berlinn").is_err());
        assert!(time_zone("CEST+2").is_err());
    }

    #[test]
    fn end_of_day_is_local_midnight() {
        let s = berlin("08:00-19:00", "mon-fri");
        let d = jiff::civil::date(2027, 6, 30);
        assert_eq!(s.end_of_day(d), ts("2027-06-30T22:00:00Z"));
        assert_eq!(s.end_of_day(jiff::civil::date(2027, 1, 31)), ts("2027-01-31T23:00:00Z"));
        assert_eq!(Schedule::default().end_of_day(d), ts("2027-07-01T00:00:00Z"));
    }
}
