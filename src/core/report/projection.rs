//! Where each budget (and the whole ledger) is heading by the end of its
//! period, and the day a limit will be crossed.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::core::forecast::Projection;
use crate::core::policy::Metric;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "day", rename_all = "snake_case")]
pub enum Breach {
    /// The limit is already used up.
    Already,
    /// Expected to be crossed on this local day.
    On(Date),
    /// Heading to stay under it.
    NotExpected,
    /// No projection yet (too early in the period, or no end to it).
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    pub name: String,
    pub metric: Metric,
    pub used: i64,
    /// `None` for the ledger as a whole.
    pub limit: Option<i64>,
    pub period_end: Option<Timestamp>,
    pub projection: Option<Projection>,
    pub breach: Breach,
}

/// When `used` reaches `limit`, going from `now` to the projected amount at
/// `end` at an even pace: the local day in `zone`.
pub fn breach(
    used: i64,
    limit: i64,
    projection: Option<&Projection>,
    now: Timestamp,
    end: Option<Timestamp>,
    zone: &TimeZone,
) -> Breach {
    if used >= limit {
        return Breach::Already;
    }
    let (Some(p), Some(end)) = (projection, end) else {
        return Breach::Unknown;
    };
    if p.expected <= limit || p.expected <= used || end <= now {
        return Breach::NotExpected;
    }
    let share = (limit - used) as f64 / (p.expected - used) as f64;
    let secs = end.duration_since(now).as_secs_f64() * share;
    let at = now + jiff::SignedDuration::from_secs_f64(secs);
    Breach::On(at.to_zoned(zone.clone()).date())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(expected: i64) -> Projection {
        Projection {
            expected,
            low: expected,
            high: expected,
        }
    }

    #[test]
    fn the_limit_is_met_where_the_even_pace_reaches_it() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let now: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-03-30T12:00:00Z".parse().unwrap();
        // 40 used, heading for 140: 60 more reaches 100, 60 % of 20 days = day 12.
        assert_eq!(
            breach(40, 100, Some(&p(140)), now, Some(end), &zone),
            Breach::On(jiff::civil::date(2026, 3, 22))
        );
        assert_eq!(
            breach(40, 100, Some(&p(100)), now, Some(end), &zone),
            Breach::NotExpected
        );
        assert_eq!(breach(100, 100, None, now, None, &zone), Breach::Already);
        assert_eq!(
            breach(10, 100, None, now, Some(end), &zone),
            Breach::Unknown
        );
    }

    #[test]
    fn the_day_is_the_zones() {
        let now: Timestamp = "2026-03-10T00:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-03-11T00:00:00Z".parse().unwrap();
        // Crossed at 23:00 UTC: still the 10th in UTC, the 11th in Berlin.
        let day = |z: &str| {
            breach(
                0,
                23,
                Some(&p(24)),
                now,
                Some(end),
                &TimeZone::get(z).unwrap(),
            )
        };
        assert_eq!(day("UTC"), Breach::On(jiff::civil::date(2026, 3, 10)));
        assert_eq!(
            day("Europe/Berlin"),
            Breach::On(jiff::civil::date(2026, 3, 11))
        );
    }
}
