//! Reports as plain data: summary, trend, comparison, projection, what-if and
//! reconciliation. Each is computed from grouped totals the store hands over
//! (no queries here), so the same figures go to the terminal, the window and
//! every export format.

pub mod compare;
pub mod projection;
pub mod reconcile;
pub mod schedule;
pub mod summary;
pub mod trend;
pub mod what_if;

use jiff::civil::Date;
use serde::Serialize;

/// A report's range: whole local days, `from` to `to` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Days {
    pub from: Date,
    pub to: Date,
}

impl Days {
    pub fn new(from: Date, to: Date) -> Days {
        Days {
            from: from.min(to),
            to: from.max(to),
        }
    }

    /// How many days the range holds.
    pub fn count(&self) -> i64 {
        i64::from(self.to.since(self.from).map_or(0, |s| s.get_days())) + 1
    }

    /// The range of equal length that ends the day before this one starts.
    pub fn previous(&self) -> Days {
        let to = self.from.yesterday().unwrap_or(self.from);
        let from = to
            .checked_sub(jiff::Span::new().days(self.count() - 1))
            .unwrap_or(to);
        Days { from, to }
    }

    /// `[start of from, start of the day after to)` as instants in `zone`.
    pub fn bounds(
        &self,
        zone: &jiff::tz::TimeZone,
    ) -> Result<(jiff::Timestamp, jiff::Timestamp), jiff::Error> {
        let start = |d: Date| d.to_zoned(zone.clone()).map(|z| z.timestamp());
        Ok((start(self.from)?, start(self.to.tomorrow()?)?))
    }

    /// Every day of the range, in order.
    pub fn days(&self) -> impl Iterator<Item = Date> + '_ {
        self.from
            .series(jiff::Span::new().days(1))
            .take_while(|d| *d <= self.to)
    }
}

/// Named ranges, relative to today: the CLI's `--period` and the Reports
/// view's presets.
pub const PRESETS: [&str; 11] = [
    "today",
    "yesterday",
    "this-week",
    "last-week",
    "last-7-days",
    "last-30-days",
    "last-90-days",
    "this-month",
    "last-month",
    "this-year",
    "last-year",
];

impl Days {
    /// A named range (see [`PRESETS`]) as of `today`; `this-…` ranges end today.
    pub fn preset(name: &str, today: Date, week_start: jiff::civil::Weekday) -> Option<Days> {
        let back = |n: i64| {
            today
                .checked_sub(jiff::Span::new().days(n))
                .unwrap_or(today)
        };
        let week = back(i64::from(today.weekday().since(week_start)));
        let month = today.first_of_month();
        let last_month_end = month.yesterday().unwrap_or(month);
        let year = today.first_of_year();
        let last_year_end = year.yesterday().unwrap_or(year);
        Some(match name {
            "today" => Days::new(today, today),
            "yesterday" => Days::new(back(1), back(1)),
            "this-week" => Days::new(week, today),
            "last-week" => {
                let start = week.checked_sub(jiff::Span::new().days(7)).unwrap_or(week);
                Days::new(start, week.yesterday().unwrap_or(week))
            }
            "last-7-days" => Days::new(back(6), today),
            "last-30-days" => Days::new(back(29), today),
            "last-90-days" => Days::new(back(89), today),
            "this-month" => Days::new(month, today),
            "last-month" => Days::new(last_month_end.first_of_month(), last_month_end),
            "this-year" => Days::new(year, today),
            "last-year" => Days::new(last_year_end.first_of_year(), last_year_end),
            _ => return None,
        })
    }
}

impl std::fmt::Display for Days {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} – {}", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_previous_range_has_the_same_length_and_ends_the_day_before() {
        let march = Days::new(date(2026, 3, 1), date(2026, 3, 31));
        assert_eq!(march.count(), 31);
        assert_eq!(
            march.previous(),
            Days::new(date(2026, 1, 29), date(2026, 2, 28))
        );
        let one = Days::new(date(2026, 1, 1), date(2026, 1, 1));
        assert_eq!(
            one.previous(),
            Days::new(date(2025, 12, 31), date(2025, 12, 31))
        );
        assert_eq!(march.days().count(), 31);
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let (start, end) = march.bounds(&berlin).unwrap();
        // March 2026 in Berlin: CET at the start, CEST from the 29th.
        assert_eq!(start.to_string(), "2026-02-28T23:00:00Z");
        assert_eq!(end.to_string(), "2026-03-31T22:00:00Z");
    }

    #[test]
    fn presets_by_hand() {
        use jiff::civil::Weekday::{Monday, Sunday};
        // A Wednesday.
        let today = date(2026, 3, 4);
        let p = |n, w| Days::preset(n, today, w).unwrap();
        assert_eq!(p("this-week", Monday), Days::new(date(2026, 3, 2), today));
        assert_eq!(p("this-week", Sunday), Days::new(date(2026, 3, 1), today));
        assert_eq!(
            p("last-week", Monday),
            Days::new(date(2026, 2, 23), date(2026, 3, 1))
        );
        assert_eq!(
            p("last-month", Monday),
            Days::new(date(2026, 2, 1), date(2026, 2, 28))
        );
        assert_eq!(p("this-month", Monday), Days::new(date(2026, 3, 1), today));
        assert_eq!(p("last-90-days", Monday).count(), 90);
        assert_eq!(
            p("last-year", Monday),
            Days::new(date(2025, 1, 1), date(2025, 12, 31))
        );
        assert_eq!(
            p("yesterday", Monday),
            Days::new(date(2026, 3, 3), date(2026, 3, 3))
        );
        assert!(Days::preset("someday", today, Monday).is_none());
        for name in PRESETS {
            assert!(Days::preset(name, today, Monday).is_some(), "{name}");
        }
    }
}
