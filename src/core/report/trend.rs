//! Spend over time: one point per day, week or month of a range (empty ones
//! included), with a moving average and the change from the point before.

use jiff::civil::Weekday;
use serde::Serialize;

use super::Days;
use crate::core::Money;
use crate::core::breakdown::ratio_bp;
use crate::core::usage::{Dimension, Totals, time_bucket};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// `2026-03-02` (a day, or a week by its first day) or `2026-03`.
    pub bucket: String,
    pub totals: Totals,
    /// Mean cost of this point and the `window - 1` before it (fewer at the start).
    pub moving_average: Money,
    /// Cost change from the point before, in basis points; `None` after nothing.
    pub change_bp: Option<i64>,
}

/// How many points a moving average spans: a week of days, four weeks, three months.
pub fn default_window(by: Dimension) -> usize {
    match by {
        Dimension::Week => 4,
        Dimension::Month => 3,
        _ => 7,
    }
}

/// The trend of `rows` (bucket → totals, as grouped by `by`) over `days`.
/// Rows outside the range are ignored.
pub fn trend(
    days: Days,
    by: Dimension,
    week_start: Weekday,
    rows: &[(String, Totals)],
    window: usize,
) -> Vec<Point> {
    let mut buckets: Vec<String> = Vec::new();
    for d in days.days() {
        let b = time_bucket(by, d, week_start);
        if buckets.last() != Some(&b) {
            buckets.push(b);
        }
    }
    let mut by_bucket: std::collections::HashMap<&str, Totals> = Default::default();
    for (k, t) in rows {
        by_bucket.entry(k.as_str()).or_default().add(t);
    }
    let window = window.max(1);
    let mut points: Vec<Point> = Vec::with_capacity(buckets.len());
    for bucket in buckets {
        let totals = by_bucket.get(bucket.as_str()).copied().unwrap_or_default();
        let previous = points.last().map(|p| p.totals.cost.nanos());
        let change_bp = previous
            .filter(|p| *p != 0)
            .map(|p| ratio_bp(totals.cost.nanos() - p, p));
        let recent = points.iter().rev().take(window - 1);
        let (sum, n) = recent.fold((totals.cost.nanos() as i128, 1), |(s, n), p| {
            (s + p.totals.cost.nanos() as i128, n + 1)
        });
        points.push(Point {
            bucket,
            totals,
            moving_average: Money::from_ratio(sum, n),
            change_bp,
        });
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn dollars(n: i64) -> Totals {
        Totals {
            cost: Money::from_nanos(n * 1_000_000_000),
            ..Totals::default()
        }
    }

    #[test]
    fn days_with_nothing_are_points_too_and_averages_are_exact() {
        let days = Days::new(date(2026, 3, 1), date(2026, 3, 4));
        let rows = vec![
            ("2026-03-01".to_string(), dollars(2)),
            ("2026-03-03".to_string(), dollars(4)),
            ("2026-03-04".to_string(), dollars(5)),
            ("2026-03-09".to_string(), dollars(100)), // outside
        ];
        let t = trend(days, Dimension::Day, Weekday::Monday, &rows, 2);
        let costs: Vec<i64> = t
            .iter()
            .map(|p| p.totals.cost.nanos() / 1_000_000_000)
            .collect();
        assert_eq!(costs, [2, 0, 4, 5]);
        let avg: Vec<i64> = t.iter().map(|p| p.moving_average.nanos()).collect();
        assert_eq!(
            avg,
            [2_000_000_000, 1_000_000_000, 2_000_000_000, 4_500_000_000]
        );
        let change: Vec<Option<i64>> = t.iter().map(|p| p.change_bp).collect();
        assert_eq!(change, [None, Some(-10_000), None, Some(2500)]);
    }

    #[test]
    fn weeks_start_on_the_chosen_day_and_months_are_calendar_months() {
        // 2026-03-01 is a Sunday.
        let days = Days::new(date(2026, 3, 1), date(2026, 3, 15));
        let weeks = trend(days, Dimension::Week, Weekday::Monday, &[], 4);
        let names: Vec<&str> = weeks.iter().map(|p| p.bucket.as_str()).collect();
        assert_eq!(names, ["2026-02-23", "2026-03-02", "2026-03-09"]);
        let sundays = trend(days, Dimension::Week, Weekday::Sunday, &[], 4);
        assert_eq!(sundays.len(), 3);
        assert_eq!(sundays[0].bucket, "2026-03-01");
        let months = trend(
            Days::new(date(2026, 1, 31), date(2026, 3, 1)),
            Dimension::Month,
            Weekday::Monday,
            &[],
            3,
        );
        let names: Vec<&str> = months.iter().map(|p| p.bucket.as_str()).collect();
        assert_eq!(names, ["2026-01", "2026-02", "2026-03"]);
    }
}
