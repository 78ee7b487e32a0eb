//! Parsers for command-line values, each with an error that names what is wrong.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::core::Money;
use crate::core::usage::{ServiceTier, Speed};
use crate::i18n::{fill, gettext};

/// More tokens or images than any single call has had by many orders of magnitude.
const MAX_COUNT: u64 = 1_000_000_000_000;

/// A service tier: standard, batch, flex or priority.
pub fn service_tier(text: &str) -> Result<ServiceTier, String> {
    ServiceTier::parse(text).ok_or_else(|| {
        fill(
            &gettext("“{}” is not a service tier: standard, batch, flex or priority"),
            &[text],
        )
    })
}

/// A speed: standard or fast.
pub fn speed(text: &str) -> Result<Speed, String> {
    Speed::parse(text)
        .ok_or_else(|| fill(&gettext("“{}” is not a speed: standard or fast"), &[text]))
}

/// A token or image count: a whole number, zero or more.
pub fn count(text: &str) -> Result<u64, String> {
    if text.trim_start().starts_with('-') {
        return Err(gettext("counts cannot be negative"));
    }
    let n = text
        .trim()
        .replace('_', "")
        .parse::<u64>()
        .map_err(|_| fill(&gettext("“{}” is not a whole number"), &[text]))?;
    if n > MAX_COUNT {
        return Err(fill(
            &gettext("“{}” is more than one call can use"),
            &[text],
        ));
    }
    Ok(n)
}

/// A dollar amount: plain decimal, at most nine decimal places.
pub fn usd(text: &str) -> Result<Money, String> {
    let m = Money::parse_usd(text.trim().trim_start_matches('$')).map_err(|e| e.to_string())?;
    if m < Money::ZERO {
        return Err(gettext("amounts cannot be negative"));
    }
    Ok(m)
}

/// An IANA time zone name such as `Europe/Berlin`.
pub fn zone(text: &str) -> Result<TimeZone, String> {
    TimeZone::get(text).map_err(|_| {
        fill(
            &gettext("“{}” is not a time zone (e.g. Europe/Berlin)"),
            &[text],
        )
    })
}

/// A point in time as given on the command line: an RFC 3339 instant
/// (`2025-09-01T10:00:00Z`), a local date-time (`2025-09-01T10:00`) or a date.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    Instant(Timestamp),
    Local(DateTime),
    Day(Date),
}

pub fn when(text: &str) -> Result<When, String> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(When::Instant(ts));
    }
    if let Ok(dt) = t.parse::<DateTime>()
        && t.len() > 10
    {
        return Ok(When::Local(dt));
    }
    if let Ok(d) = t.parse::<Date>() {
        return Ok(When::Day(d));
    }
    Err(fill(
        &gettext(
            "“{}” is not a date or time (use 2025-09-01, 2025-09-01T10:00 or 2025-09-01T10:00:00Z)",
        ),
        &[text],
    ))
}

impl When {
    /// The instant this names in `zone`; a date means its first moment.
    pub fn start(&self, zone: &TimeZone) -> Result<Timestamp, String> {
        match self {
            When::Instant(ts) => Ok(*ts),
            When::Local(dt) => dt
                .to_zoned(zone.clone())
                .map(|z| z.timestamp())
                .map_err(|e| e.to_string()),
            When::Day(d) => d
                .to_zoned(zone.clone())
                .map(|z| z.timestamp())
                .map_err(|e| e.to_string()),
        }
    }

    /// The end of a range that ends here: a date includes its whole day.
    pub fn end(&self, zone: &TimeZone) -> Result<Timestamp, String> {
        match self {
            When::Day(d) => {
                let next = d.checked_add(1.day()).map_err(|e| e.to_string())?;
                When::Day(next).start(zone)
            }
            other => other.start(zone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reject_negatives_and_words() {
        assert_eq!(count("1_000"), Ok(1000));
        assert!(count("-5").unwrap_err().contains("negative"));
        assert!(count("ten").is_err());
        assert!(count("1000000000000").is_ok());
        assert!(
            count("18446744073709551615")
                .unwrap_err()
                .contains("more than")
        );
    }

    #[test]
    fn a_date_range_includes_its_last_day() {
        let utc = TimeZone::UTC;
        let d = when("2025-09-01").unwrap();
        assert_eq!(d.start(&utc).unwrap().to_string(), "2025-09-01T00:00:00Z");
        assert_eq!(d.end(&utc).unwrap().to_string(), "2025-09-02T00:00:00Z");
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            d.start(&berlin).unwrap().to_string(),
            "2025-08-31T22:00:00Z"
        );
        assert_eq!(
            when("2025-09-01T10:00:00Z")
                .unwrap()
                .end(&berlin)
                .unwrap()
                .to_string(),
            "2025-09-01T10:00:00Z"
        );
        assert!(when("2025-13-01").is_err());
        assert!(when("yesterday-ish").is_err());
    }
}
