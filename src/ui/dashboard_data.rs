//! What the dashboard shows, read from the ledger in one go: budget statuses,
//! the main budget's outlook, spend per day by model, the breakdown of a
//! range by a dimension, open alerts and unpriced calls. Rollups only, so it
//! stays quick on any ledger; no widgets here.

use jiff::civil::Date;
use jiff::{Span, Timestamp};

use crate::charts::{Bars, Meter, SpendChart};
use crate::core::Money;
use crate::core::breakdown::{self, Share};
use crate::core::outlook::{Outlook, outlook};
use crate::core::period::Window;
use crate::core::policy::{CRITICAL_PERCENT, Metric, State};
use crate::core::usage::{Dimension, Totals};
use crate::engine::{self, PolicyStatus};
use crate::i18n::{gettext, short_date};
use crate::store::{Alert, AlertState, Store, StoreError, UsageQuery};

/// Models with a series of their own in the chart; the rest are "Other".
const TOP_SERIES: usize = 5;
/// Bars in the breakdown chart.
const TOP_BARS: usize = 8;

#[derive(Default)]
pub struct DashboardData {
    pub statuses: Vec<PolicyStatus>,
    /// Index in `statuses` of the budget shown large.
    pub main: Option<usize>,
    pub outlook: Option<Outlook>,
    pub meter: Meter,
    pub spend: SpendChart,
    pub shares: Vec<Share>,
    pub bars: Bars,
    pub range_total: Totals,
    /// Calls in the range that say whether their job succeeded.
    pub jobs: crate::core::breakdown::Jobs,
    pub alerts: Vec<Alert>,
    /// Calls without a price in the range (their cost is not in the totals).
    pub unpriced: u64,
    /// When the newest call in the ledger was made; none for an empty ledger.
    pub last_call: Option<Timestamp>,
    /// Each agent's plan and its windows.
    pub plans: Vec<crate::plans::PlanStatus>,
    /// When these figures were read, for the windows' countdowns.
    pub now: Timestamp,
}

/// The budget to show large: the first enabled cost budget over everything,
/// else the first enabled one, else the first.
fn main_policy(statuses: &[PolicyStatus]) -> Option<usize> {
    statuses
        .iter()
        .position(|s| s.enabled && s.metric == Metric::Cost && s.scope == "global")
        .or_else(|| statuses.iter().position(|s| s.enabled))
        .or((!statuses.is_empty()).then_some(0))
}

/// The meter for a budget, marked at its soft limit, where it turns critical
/// and at the limit.
fn meter_of(s: &PolicyStatus) -> Meter {
    Meter {
        used: s.basis_points as f64 / 10_000.0,
        marks: vec![
            f64::from(s.soft_percent) / 100.0,
            f64::from(CRITICAL_PERCENT) / 100.0,
            1.0,
        ],
        level: match s.state {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical | State::Exceeded => 2,
        },
    }
}

fn dollars(m: Money) -> f64 {
    m.nanos() as f64 / 1e9
}

/// Reads everything for `days` days up to `now`, broken down by `dimension`.
pub fn load(
    store: &Store,
    now: Timestamp,
    days: usize,
    dimension: Dimension,
) -> Result<DashboardData, StoreError> {
    let zone = store.zone().clone();
    let today = now.to_zoned(zone.clone()).date();
    let first = today
        .checked_sub(Span::new().days(days as i64 - 1))
        .unwrap_or(today);
    let since = first.to_zoned(zone.clone()).ok().map(|z| z.timestamp());
    let query = |group_by: Vec<Dimension>, since: Option<Timestamp>| UsageQuery {
        since,
        until: None,
        group_by,
        zone: zone.clone(),
        week_start: jiff::civil::Weekday::Monday,
    };
    let mut data = DashboardData {
        statuses: engine::status(store, now)?,
        plans: crate::plans::status(store, now)?,
        now,
        ..DashboardData::default()
    };
    data.main = main_policy(&data.statuses);

    let (by_day_model, total) =
        store.usage(&query(vec![Dimension::Day, Dimension::Model], since))?;
    data.range_total = total;
    data.unpriced = total.unpriced;
    data.last_call = store.last_call_at()?;
    let rows: Vec<(Date, String, Money)> = by_day_model
        .iter()
        .filter_map(|r| Some((r.keys[0].parse().ok()?, r.keys[1].clone(), r.totals.cost)))
        .collect();
    // The chart runs on to the end of the main budget's period (a month at
    // most), where the forecast continues the bars.
    let ahead = data
        .main
        .and_then(|i| data.statuses[i].resets_at)
        .and_then(|end| {
            let last = end.checked_sub(jiff::SignedDuration::from_nanos(1)).ok()?;
            let last = last.to_zoned(zone.clone()).date();
            Some((last - today).get_days().clamp(0, 31) as usize)
        })
        .unwrap_or(0);
    let stacks = breakdown::daily_stacks(&rows, first, days + ahead, TOP_SERIES, &gettext("Other"));

    // The main budget: its meter, and its outlook from the days before today
    // (the weekday pattern needs the whole ledger's days, so only a cost
    // budget over everything gets it; the others keep the engine's projection).
    let mut budget_per_day = None;
    let mut forecast = vec![None; stacks.days.len()];
    if let Some(i) = data.main {
        let s = &data.statuses[i];
        data.meter = meter_of(s);
        if s.metric == Metric::Cost && s.scope == "global" && s.enabled {
            let back = today.checked_sub(Span::new().days(70)).unwrap_or(today);
            let since = back.to_zoned(zone.clone()).ok().map(|z| z.timestamp());
            let (daily, _) = store.usage(&query(vec![Dimension::Day], since))?;
            let history: Vec<(Date, i64)> = daily
                .iter()
                .filter_map(|r| Some((r.keys[0].parse().ok()?, r.totals.cost.nanos())))
                .filter(|(d, _)| *d < today)
                .collect();
            let window = Window {
                start: s.window_start,
                end: s.resets_at,
            };
            data.outlook = outlook(s.used, s.limit, &window, now, &zone, &history);
            if let Some(end) = s.resets_at {
                let length = end.duration_since(s.window_start).as_secs_f64() / 86_400.0;
                if length >= 1.0 {
                    budget_per_day = Some(s.limit as f64 / 1e9 / length);
                }
            }
        }
        if let Some(o) = &data.outlook {
            for (d, v) in &o.days_ahead {
                if let Ok(k) = stacks.days.binary_search(d) {
                    forecast[k] = Some(*v as f64 / 1e9);
                }
            }
        }
    }
    data.spend = if days == 1 {
        today_by_hour(store, now, &zone)?
    } else {
        // Today has happened in part: its forecast is what is left of it, on top.
        SpendChart {
            days: stacks.days.iter().map(|d| short_date(*d)).collect(),
            series: stacks
                .series
                .into_iter()
                .map(|(l, v)| (l, v.iter().map(|m| dollars(*m)).collect()))
                .collect(),
            forecast,
            forecast_label: gettext("Forecast"),
            budget_per_day,
            budget_label: gettext("Budget per day"),
            amounts: super::amounts::current(),
        }
    };

    let (by_dim, _) = store.usage(&query(vec![dimension], since))?;
    data.shares = breakdown::shares(
        by_dim
            .into_iter()
            .map(|r| (display_key(&r.keys[0]), r.totals))
            .collect(),
    );
    data.bars = Bars {
        bars: data
            .shares
            .iter()
            .take(TOP_BARS)
            .filter(|s| !s.totals.cost.is_zero())
            .map(|s| {
                (
                    super::ledger_row::key_name(dimension, &s.key),
                    dollars(s.totals.cost),
                    super::amounts::money(s.totals.cost),
                )
            })
            .collect(),
    };
    if let Some(since) = since {
        data.jobs = store.jobs(since)?;
    }
    data.alerts = store.alerts(&[AlertState::Active], 3)?;
    Ok(data)
}

/// Today's spend hour by hour, stacked by model: the hours from the one that
/// holds local midnight to now (a DST day has 23 or 25).
fn today_by_hour(
    store: &Store,
    now: Timestamp,
    zone: &jiff::tz::TimeZone,
) -> Result<SpendChart, StoreError> {
    const HOUR_MS: i64 = 3_600_000;
    let midnight = now
        .to_zoned(zone.clone())
        .date()
        .to_zoned(zone.clone())?
        .timestamp();
    let start_ms = midnight.as_millisecond().div_euclid(HOUR_MS) * HOUR_MS;
    let slots = ((now.as_millisecond() - start_ms) / HOUR_MS + 1) as usize;
    let rows = store.hourly_costs(
        Timestamp::from_millisecond(start_ms)?,
        now + jiff::SignedDuration::from_hours(1),
    )?;
    let slotted: Vec<(usize, &str, Money)> = rows
        .iter()
        .map(|(hour, model, cost)| {
            (
                ((hour.as_millisecond() - start_ms) / HOUR_MS) as usize,
                model.as_str(),
                *cost,
            )
        })
        .collect();
    let series = breakdown::stacks(&slotted, slots, TOP_SERIES, &gettext("Other"));
    let hours = (0..slots).map(|i| {
        Timestamp::from_millisecond(start_ms + i as i64 * HOUR_MS)
            .map(|t| t.to_zoned(zone.clone()).strftime("%H:%M").to_string())
            .unwrap_or_default()
    });
    Ok(SpendChart {
        days: hours.collect(),
        series: series
            .into_iter()
            .map(|(l, v)| (l, v.iter().map(|m| dollars(*m)).collect()))
            .collect(),
        forecast: vec![None; slots],
        forecast_label: gettext("Forecast"),
        amounts: super::amounts::current(),
        ..SpendChart::default()
    })
}

/// An empty dimension value (no project, no user) as people read it.
fn display_key(key: &str) -> String {
    if key.is_empty() {
        gettext("(none)")
    } else {
        key.to_string()
    }
}
