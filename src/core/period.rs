//! Budget periods and the window `[start, end)` each one covers at an instant, in
//! the policy's time zone. Calendar periods start at local midnight, so a day
//! across a DST change is 23 or 25 hours long and a month is a calendar month.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Daily,
    /// Starts each week on the given day.
    Weekly {
        start: Weekday,
    },
    /// Starts on this day of each month (1–31); a later day than the month has
    /// means its last day.
    Monthly {
        reset_day: u8,
    },
    /// One fixed range.
    Custom {
        start: Timestamp,
        end: Timestamp,
    },
    /// The last N hours, sliding: there is no reset.
    Rolling {
        hours: u32,
    },
    /// From the last manual reset (or the policy's creation) on, with no end.
    Manual,
}

/// The stretch of time a period covers at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    /// When the window ends and the budget resets; `None` for manual periods.
    /// For a rolling window this is `now`: it never resets.
    pub end: Option<Timestamp>,
}

impl Window {
    pub fn contains(&self, t: Timestamp) -> bool {
        t >= self.start && self.end.is_none_or(|e| t < e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "unknown period “{0}”: use daily, weekly[:DAY], monthly[:DAY], rolling:HOURSh, custom:START/END or manual"
    )]
    Unknown(String),
    #[error("the reset day must be between 1 and 31, not {0}")]
    ResetDay(String),
    #[error("“{0}” is not a day of the week")]
    Weekday(String),
    #[error("a rolling period is 1 to 8784 hours long, not “{0}”")]
    RollingHours(String),
    #[error("a custom period needs START/END as RFC 3339 instants, e.g. {0}")]
    CustomRange(&'static str),
    #[error("a custom period must end after it starts")]
    CustomEmpty,
    #[error("time error: {0}")]
    Time(String),
}

impl From<jiff::Error> for PeriodError {
    fn from(e: jiff::Error) -> Self {
        PeriodError::Time(e.to_string())
    }
}

pub const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Monday, "monday"),
    (Weekday::Tuesday, "tuesday"),
    (Weekday::Wednesday, "wednesday"),
    (Weekday::Thursday, "thursday"),
    (Weekday::Friday, "friday"),
    (Weekday::Saturday, "saturday"),
    (Weekday::Sunday, "sunday"),
];

pub fn weekday_name(day: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(d, _)| *d == day)
        .map_or("monday", |(_, n)| n)
}

/// `monday`, `mon`, `Mo`… : any unambiguous start of an English day name.
pub fn parse_weekday(text: &str) -> Result<Weekday, PeriodError> {
    let t = text.trim().to_ascii_lowercase();
    let found: Vec<Weekday> = WEEKDAYS
        .iter()
        .filter(|(_, name)| t.len() >= 2 && name.starts_with(&t))
        .map(|(d, _)| *d)
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(PeriodError::Weekday(text.to_string())),
    }
}

/// The longest rolling window: a leap year of hours.
const MAX_ROLLING_HOURS: u32 = 8784;

impl FromStr for Period {
    type Err = PeriodError;

    /// The grammar the CLI takes and the store keeps: `daily`, `weekly`,
    /// `weekly:sunday`, `monthly`, `monthly:15`, `rolling:24h`,
    /// `custom:2026-01-01T00:00:00Z/2026-02-01T00:00:00Z`, `manual`.
    fn from_str(text: &str) -> Result<Period, PeriodError> {
        let t = text.trim();
        let (kind, arg) = match t.split_once(':') {
            Some((k, a)) => (k.to_ascii_lowercase(), Some(a.trim())),
            None => (t.to_ascii_lowercase(), None),
        };
        match (kind.as_str(), arg) {
            ("daily", None) => Ok(Period::Daily),
            ("weekly", None) => Ok(Period::Weekly {
                start: Weekday::Monday,
            }),
            ("weekly", Some(day)) => Ok(Period::Weekly {
                start: parse_weekday(day)?,
            }),
            ("monthly", None) => Ok(Period::Monthly { reset_day: 1 }),
            ("monthly", Some(day)) => match day.parse::<u8>() {
                Ok(d @ 1..=31) => Ok(Period::Monthly { reset_day: d }),
                _ => Err(PeriodError::ResetDay(day.to_string())),
            },
            ("rolling", Some(h)) => {
                let digits = h.strip_suffix(['h', 'H']).unwrap_or(h);
                match digits.parse::<u32>() {
                    Ok(n @ 1..=MAX_ROLLING_HOURS) => Ok(Period::Rolling { hours: n }),
                    _ => Err(PeriodError::RollingHours(h.to_string())),
                }
            }
            ("custom", Some(range)) => {
                const EXAMPLE: &str = "custom:2026-01-01T00:00:00Z/2026-02-01T00:00:00Z";
                let (a, b) = range
                    .split_once('/')
                    .ok_or(PeriodError::CustomRange(EXAMPLE))?;
                let parse = |s: &str| {
                    s.trim()
                        .parse::<Timestamp>()
                        .map_err(|_| PeriodError::CustomRange(EXAMPLE))
                };
                let (start, end) = (parse(a)?, parse(b)?);
                if end <= start {
                    return Err(PeriodError::CustomEmpty);
                }
                Ok(Period::Custom { start, end })
            }
            ("manual", None) => Ok(Period::Manual),
            _ => Err(PeriodError::Unknown(text.to_string())),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Daily => write!(f, "daily"),
            Period::Weekly { start } => write!(f, "weekly:{}", weekday_name(*start)),
            Period::Monthly { reset_day } => write!(f, "monthly:{reset_day}"),
            Period::Custom { start, end } => write!(f, "custom:{start}/{end}"),
            Period::Rolling { hours } => write!(f, "rolling:{hours}h"),
            Period::Manual => write!(f, "manual"),
        }
    }
}

/// The first moment of a local date.
fn midnight(date: Date, zone: &TimeZone) -> Result<Timestamp, PeriodError> {
    Ok(date.to_zoned(zone.clone())?.timestamp())
}

/// The reset date of the month holding `date`, clamped to the month's length.
fn reset_date(year: i16, month: i8, reset_day: u8) -> Result<Date, PeriodError> {
    let first = Date::new(year, month, 1)?;
    let day = (reset_day as i8).min(first.days_in_month());
    Ok(Date::new(year, month, day)?)
}

impl Period {
    /// Whether the budget starts over by itself at the end of each window.
    pub fn resets(&self) -> bool {
        matches!(
            self,
            Period::Daily | Period::Weekly { .. } | Period::Monthly { .. }
        )
    }

    /// The window holding `now`. `anchor` is where a manual period starts (the
    /// policy's creation or last reset). A custom period's window is its range
    /// even when `now` is outside it.
    pub fn window(
        &self,
        now: Timestamp,
        zone: &TimeZone,
        anchor: Timestamp,
    ) -> Result<Window, PeriodError> {
        let today = now.to_zoned(zone.clone()).date();
        let (start, end) = match *self {
            Period::Daily => (today, today.tomorrow()?),
            Period::Weekly { start } => {
                let back = i64::from(today.weekday().since(start));
                let first = today.checked_sub(back.days())?;
                (first, first.checked_add(7.days())?)
            }
            Period::Monthly { reset_day } => {
                let this = reset_date(today.year(), today.month(), reset_day)?;
                let (first, next_month) = if today >= this {
                    (this, today.first_of_month().checked_add(1.month())?)
                } else {
                    let prev = today.first_of_month().checked_sub(1.month())?;
                    (
                        reset_date(prev.year(), prev.month(), reset_day)?,
                        today.first_of_month(),
                    )
                };
                let next = reset_date(next_month.year(), next_month.month(), reset_day)?;
                (first, next)
            }
            Period::Custom { start, end } => {
                return Ok(Window {
                    start,
                    end: Some(end),
                });
            }
            Period::Rolling { hours } => {
                let span = SignedDuration::from_hours(i64::from(hours));
                return Ok(Window {
                    start: now.checked_sub(span)?,
                    end: Some(now),
                });
            }
            Period::Manual => {
                return Ok(Window {
                    start: anchor,
                    end: None,
                });
            }
        };
        Ok(Window {
            start: midnight(start, zone)?,
            end: Some(midnight(end, zone)?),
        })
    }
}

/// Whether two zones have the same rules, so that local days in one are local
/// days in the other: `UTC`, `Etc/UTC` and `Etc/Zulu` are one zone under three
/// names. Compared by the offset in force and every transition from 1970 to
/// 2100, which covers any instant a ledger holds.
pub fn same_zone(a: &TimeZone, b: &TimeZone) -> bool {
    if a.iana_name().is_some() && a.iana_name() == b.iana_name() {
        return true;
    }
    let from = Timestamp::UNIX_EPOCH;
    let until = Timestamp::from_second(4_102_444_800).unwrap_or(Timestamp::MAX); // 2100-01-01
    let changes = |z: &TimeZone| -> Vec<(Timestamp, i32)> {
        z.following(from)
            .take_while(|t| t.timestamp() < until)
            .map(|t| (t.timestamp(), t.offset().seconds()))
            .collect()
    };
    a.to_offset(from) == b.to_offset(from) && changes(a) == changes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn win(p: &str, now: &str, zone: &str) -> (String, String) {
        let zone = TimeZone::get(zone).unwrap();
        let w = p
            .parse::<Period>()
            .unwrap()
            .window(ts(now), &zone, ts("2000-01-01T00:00:00Z"))
            .unwrap();
        (w.start.to_string(), w.end.unwrap().to_string())
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn grammar_round_trips_and_names_mistakes() {
        for text in [
            "daily",
            "weekly:sunday",
            "monthly:31",
            "rolling:24h",
            "manual",
            "custom:2026-01-01T00:00:00Z/2026-02-01T00:00:00Z",
        ] {
            assert_eq!(text.parse::<Period>().unwrap().to_string(), text);
        }
        assert_eq!(
            "weekly".parse::<Period>().unwrap().to_string(),
            "weekly:monday"
        );
        assert_eq!(
            "Weekly:Tu".parse::<Period>().unwrap().to_string(),
            "weekly:tuesday"
        );
        assert_eq!(
            "monthly".parse::<Period>().unwrap().to_string(),
            "monthly:1"
        );
        assert_eq!(
            "monthly:32".parse::<Period>(),
            Err(PeriodError::ResetDay("32".into()))
        );
        assert_eq!(
            "monthly:0".parse::<Period>(),
            Err(PeriodError::ResetDay("0".into()))
        );
        assert_eq!(
            "weekly:t".parse::<Period>(),
            Err(PeriodError::Weekday("t".into()))
        );
        assert!(matches!(
            "rolling:0h".parse::<Period>(),
            Err(PeriodError::RollingHours(_))
        ));
        assert!(matches!(
            "yearly".parse::<Period>(),
            Err(PeriodError::Unknown(_))
        ));
        assert_eq!(
            "custom:2026-02-01T00:00:00Z/2026-01-01T00:00:00Z".parse::<Period>(),
            Err(PeriodError::CustomEmpty)
        );
    }

    #[test]
    fn monthly_reset_day_is_clamped_to_short_months() {
        // Reset day 31: January 31, then February's last day, then March 31.
        assert_eq!(
            win("monthly:31", "2026-02-10T12:00:00Z", "UTC"),
            pair("2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z")
        );
        assert_eq!(
            win("monthly:31", "2026-02-28T00:00:00Z", "UTC"),
            pair("2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z")
        );
        // A leap year's February ends on the 29th.
        assert_eq!(
            win("monthly:31", "2028-02-29T23:59:59Z", "UTC"),
            pair("2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z")
        );
        // 31 → 30: April has no 31st.
        assert_eq!(
            win("monthly:31", "2026-04-15T00:00:00Z", "UTC"),
            pair("2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z")
        );
        assert_eq!(
            win("monthly:30", "2026-03-01T00:00:00Z", "UTC"),
            pair("2026-02-28T00:00:00Z", "2026-03-30T00:00:00Z")
        );
        // Across a year end.
        assert_eq!(
            win("monthly:15", "2026-01-03T00:00:00Z", "UTC"),
            pair("2025-12-15T00:00:00Z", "2026-01-15T00:00:00Z")
        );
        assert_eq!(
            win("monthly", "2026-12-31T23:00:00Z", "UTC"),
            pair("2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn local_days_and_months_follow_the_zone() {
        // 23:30 UTC on Jan 31 is already February 1 in Berlin.
        assert_eq!(
            win("monthly", "2026-01-31T23:30:00Z", "Europe/Berlin"),
            pair("2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z")
        );
        assert_eq!(
            win("daily", "2026-01-31T23:30:00Z", "America/New_York"),
            pair("2026-01-31T05:00:00Z", "2026-02-01T05:00:00Z")
        );
    }

    #[test]
    fn dst_days_are_23_and_25_hours() {
        // Berlin springs forward on 2026-03-29 and falls back on 2026-10-25.
        assert_eq!(
            win("daily", "2026-03-29T12:00:00Z", "Europe/Berlin"),
            pair("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")
        );
        assert_eq!(
            win("daily", "2026-10-25T12:00:00Z", "Europe/Berlin"),
            pair("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z")
        );
        // New York: 2026-03-08 and 2026-11-01.
        assert_eq!(
            win("daily", "2026-03-08T12:00:00Z", "America/New_York"),
            pair("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z")
        );
        assert_eq!(
            win("daily", "2026-11-01T12:00:00Z", "America/New_York"),
            pair("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z")
        );
        // A week across the change is 7 local days, 167 hours.
        assert_eq!(
            win("weekly:monday", "2026-03-29T12:00:00Z", "Europe/Berlin"),
            pair("2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z")
        );
        // A month across fall-back is one hour longer than its days.
        assert_eq!(
            win("monthly", "2026-11-15T00:00:00Z", "America/New_York"),
            pair("2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z")
        );
    }

    #[test]
    fn weekly_windows_start_on_the_chosen_day() {
        // 2026-11-22 is a Sunday.
        assert_eq!(
            win("weekly:monday", "2026-11-22T10:00:00Z", "UTC"),
            pair("2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z")
        );
        assert_eq!(
            win("weekly:sunday", "2026-11-22T10:00:00Z", "UTC"),
            pair("2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z")
        );
        assert_eq!(
            win("weekly:saturday", "2026-11-22T10:00:00Z", "UTC"),
            pair("2026-11-21T00:00:00Z", "2026-11-28T00:00:00Z")
        );
    }

    #[test]
    fn rolling_custom_and_manual_windows() {
        let utc = TimeZone::UTC;
        let now = ts("2026-03-29T12:00:00Z");
        let anchor = ts("2026-03-01T08:00:00Z");
        let w = Period::Rolling { hours: 24 }
            .window(now, &utc, anchor)
            .unwrap();
        assert_eq!(w.start, ts("2026-03-28T12:00:00Z"));
        assert_eq!(w.end, Some(now));
        let w = Period::Manual.window(now, &utc, anchor).unwrap();
        assert_eq!((w.start, w.end), (anchor, None));
        assert!(w.contains(now));
        let custom: Period = "custom:2026-04-01T00:00:00Z/2026-05-01T00:00:00Z"
            .parse()
            .unwrap();
        let w = custom.window(now, &utc, anchor).unwrap();
        assert!(!w.contains(now));
        assert!(w.contains(ts("2026-04-30T23:59:59Z")));
        assert!(!w.contains(ts("2026-05-01T00:00:00Z")));
        assert!(Period::Daily.resets() && !Period::Manual.resets() && !custom.resets());
    }

    #[test]
    fn zones_are_compared_by_their_rules() {
        let get = |n: &str| TimeZone::get(n).unwrap();
        assert!(super::same_zone(&TimeZone::UTC, &get("Etc/UTC")));
        assert!(super::same_zone(&get("Etc/Zulu"), &get("UTC")));
        assert!(super::same_zone(
            &TimeZone::UTC,
            &TimeZone::fixed(jiff::tz::offset(0))
        ));
        assert!(super::same_zone(
            &get("Europe/Berlin"),
            &get("Europe/Berlin")
        ));
        assert!(!super::same_zone(&TimeZone::UTC, &get("Europe/London")));
        // France kept summer time from 1976, West Germany from 1980.
        assert!(!super::same_zone(
            &get("Europe/Berlin"),
            &get("Europe/Paris")
        ));
        assert!(!super::same_zone(
            &get("America/New_York"),
            &get("America/Chicago")
        ));
        assert!(!super::same_zone(
            &TimeZone::fixed(jiff::tz::offset(1)),
            &TimeZone::UTC
        ));
    }
}
