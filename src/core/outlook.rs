//! Where a budget is heading, day by day: the projected amount at the period's
//! end with an interval, the daily burn rate, and the day the limit will be
//! reached. With three weeks of history the days ahead follow the weekday
//! pattern (quiet weekends, busy Mondays); with less, the rate so far.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::Serialize;

use super::forecast::{Projection, project};
use super::period::Window;

/// History needed before weekdays are told apart: three of each.
pub const WEEKDAY_HISTORY_DAYS: usize = 21;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outlook {
    pub projection: Projection,
    /// Spent so far per elapsed day of the period.
    pub burn_per_day: i64,
    /// The local day the limit will be reached, if it will be before the end.
    pub limit_day: Option<Date>,
    /// Whether the weekday pattern was used.
    pub by_weekday: bool,
    /// What each day left in the period is expected to add (today: its rest).
    pub days_ahead: Vec<(Date, i64)>,
}

/// The outlook for `used` of `limit` in `window` at `now`, with `history` the
/// amounts of whole local days before today (any order, gaps are zero days).
pub fn outlook(
    used: i64,
    limit: i64,
    window: &Window,
    now: Timestamp,
    zone: &TimeZone,
    history: &[(Date, i64)],
) -> Option<Outlook> {
    let end = window.end?;
    let elapsed_days = now.duration_since(window.start).as_secs_f64() / 86_400.0;
    let burn_per_day = if elapsed_days > 0.0 {
        (used as f64 / elapsed_days.max(1.0)).round() as i64
    } else {
        0
    };
    let today = now.to_zoned(zone.clone()).date();
    let means = weekday_means(history, today);
    let days = days_left(now, end, zone);
    let (days_ahead, by_weekday) = match &means {
        Some(m) => (
            days.iter()
                .map(|&(d, share)| (d, (m[weekday_index(d.weekday())] * share).round() as i64))
                .collect::<Vec<_>>(),
            true,
        ),
        None => {
            let p = project(used, window, now, &[])?;
            let left: f64 = days.iter().map(|(_, s)| s).sum();
            let per_day = if left > 0.0 {
                (p.expected - used) as f64 / left
            } else {
                0.0
            };
            (
                days.iter()
                    .map(|&(d, share)| (d, (per_day * share).round() as i64))
                    .collect(),
                false,
            )
        }
    };
    let ahead: i64 = days_ahead.iter().map(|(_, v)| v).sum();
    let expected = used + ahead;
    let projection = if by_weekday {
        // The interval from how far days strayed from their weekday's mean.
        let m = means.as_ref()?;
        let residuals: Vec<f64> = history
            .iter()
            .map(|&(d, v)| v as f64 - m[weekday_index(d.weekday())])
            .collect();
        let var = residuals.iter().map(|r| r * r).sum::<f64>() / (residuals.len() - 1) as f64;
        let left: f64 = days.iter().map(|(_, s)| s).sum();
        let spread = 1.645 * var.sqrt() * left.sqrt();
        Projection {
            expected,
            low: (expected as f64 - spread).max(used as f64).round() as i64,
            high: (expected as f64 + spread).round() as i64,
        }
    } else {
        let daily: Vec<i64> = history.iter().map(|(_, v)| *v).collect();
        let p = project(used, window, now, &daily)?;
        Projection { expected, ..p }
    };
    let mut running = used;
    let limit_day = (used < limit)
        .then(|| {
            days_ahead.iter().find_map(|&(d, v)| {
                running += v;
                (running >= limit).then_some(d)
            })
        })
        .flatten();
    Some(Outlook {
        projection,
        burn_per_day,
        limit_day,
        by_weekday,
        days_ahead,
    })
}

fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

/// Mean amount per weekday over the whole days before `today`, from the first
/// day with history (days without an entry count as zero); `None` with less
/// than three weeks.
fn weekday_means(history: &[(Date, i64)], today: Date) -> Option<[f64; 7]> {
    let first = history
        .iter()
        .map(|(d, _)| *d)
        .filter(|d| *d < today)
        .min()?;
    let span = (today - first).get_days() as usize;
    if span < WEEKDAY_HISTORY_DAYS {
        return None;
    }
    let mut sums = [0f64; 7];
    let mut counts = [0f64; 7];
    let mut day = first;
    while day < today {
        counts[weekday_index(day.weekday())] += 1.0;
        day = day.tomorrow().ok()?;
    }
    for &(d, v) in history.iter().filter(|(d, _)| *d < today && *d >= first) {
        sums[weekday_index(d.weekday())] += v as f64;
    }
    let mut means = [0f64; 7];
    for i in 0..7 {
        means[i] = sums[i] / counts[i].max(1.0);
    }
    Some(means)
}

/// The local days from `now` to `end`, each with the share of it still ahead
/// (today's rest, whole days, the last day up to `end`).
fn days_left(now: Timestamp, end: Timestamp, zone: &TimeZone) -> Vec<(Date, f64)> {
    let mut out = Vec::new();
    let mut from = now;
    while from < end {
        let local = from.to_zoned(zone.clone());
        let date = local.date();
        let next_midnight = date
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned(zone.clone()).ok())
            .map(|z| z.timestamp());
        let Some(next) = next_midnight else { break };
        let day_start = date
            .to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(from);
        let day_len = next.duration_since(day_start).as_secs_f64();
        let until = next.min(end);
        let share = until.duration_since(from).as_secs_f64() / day_len;
        out.push((date, share));
        from = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn march() -> Window {
        Window {
            start: ts("2026-03-01T00:00:00Z"),
            end: Some(ts("2026-04-01T00:00:00Z")),
        }
    }

    /// Four weeks of $10 on weekdays and nothing at weekends, before `today`.
    fn office_hours(today: &str) -> Vec<(Date, i64)> {
        let today = d(today);
        let mut day = today.checked_sub(jiff::Span::new().days(28)).unwrap();
        let mut out = Vec::new();
        while day < today {
            let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
            out.push((day, if weekend { 0 } else { 10 }));
            day = day.tomorrow().unwrap();
        }
        out
    }

    #[test]
    fn the_weekday_pattern_carries_forward() {
        // Wed 25 March 2026 at midnight: 25..31 March left = Wed Thu Fri Sat Sun Mon Tue,
        // five weekdays at 10 and a weekend at 0.
        let now = ts("2026-03-25T00:00:00Z");
        let history = office_hours("2026-03-25");
        let o = outlook(170, 200, &march(), now, &TimeZone::UTC, &history).unwrap();
        assert!(o.by_weekday);
        assert_eq!(o.projection.expected, 170 + 50);
        assert_eq!(
            (o.projection.low, o.projection.high),
            (220, 220),
            "no strays"
        );
        assert_eq!(o.days_ahead.len(), 7);
        // 170 + Wed 10 + Thu 10 + Fri 10 = 200 on Friday the 27th.
        assert_eq!(o.limit_day, Some(d("2026-03-27")));
        assert_eq!(o.burn_per_day, 7, "170 over 24 days");
    }

    #[test]
    fn half_a_day_left_counts_half_and_a_flat_history_projects_the_rate() {
        let now = ts("2026-03-31T12:00:00Z");
        let o = outlook(
            300,
            1_000,
            &march(),
            now,
            &TimeZone::UTC,
            &office_hours("2026-03-31"),
        )
        .unwrap();
        assert_eq!(
            o.days_ahead,
            vec![(d("2026-03-31"), 5)],
            "Tuesday, half left"
        );
        // Too little history: the rate so far (300 in 30.5 days) for the half day left.
        let short = [(d("2026-03-30"), 10)];
        let o = outlook(305, 1_000, &march(), now, &TimeZone::UTC, &short).unwrap();
        assert!(!o.by_weekday);
        assert_eq!(o.projection.expected, 310);
        assert_eq!(o.limit_day, None);
    }

    #[test]
    fn days_follow_the_zone_and_its_clock_changes() {
        // Europe/Berlin springs forward on 29 March 2026: a 23-hour day.
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let days = days_left(
            ts("2026-03-28T23:00:00Z"),
            ts("2026-03-30T22:00:00Z"),
            &zone,
        );
        let dates: Vec<String> = days.iter().map(|(d, _)| d.to_string()).collect();
        assert_eq!(dates, ["2026-03-29", "2026-03-30"]);
        assert!((days[0].1 - 1.0).abs() < 1e-9 && (days[1].1 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn no_end_no_outlook_and_a_limit_already_passed_has_no_day() {
        let manual = Window {
            start: ts("2026-03-01T00:00:00Z"),
            end: None,
        };
        let now = ts("2026-03-25T00:00:00Z");
        assert!(outlook(1, 2, &manual, now, &TimeZone::UTC, &[]).is_none());
        let o = outlook(
            500,
            200,
            &march(),
            now,
            &TimeZone::UTC,
            &office_hours("2026-03-25"),
        )
        .unwrap();
        assert_eq!(o.limit_day, None);
    }
}
