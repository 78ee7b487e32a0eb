//! What each policy has used in its current window, exactly: whole local days
//! come from the rollup, and the pieces of days at the window's edges (another
//! zone, a rolling window, a manual reset at 14:00) from the records.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::params;

use super::queries::{RECORD_TOTALS_SQL, totals_at};
use super::rollup::day_bounds_ms;
use super::{Store, StoreError};
use crate::core::period::Window;
use crate::core::policy::{Dims, Policy};
use crate::core::usage::Totals;

/// How far back "usual" goes for anomaly scores.
pub const HISTORY_DAYS: i64 = 28;

#[derive(Clone, Debug, PartialEq)]
pub struct PolicySpend {
    pub window: Window,
    pub totals: Totals,
    /// `totals` in the policy's metric.
    pub used: i64,
    /// The metric per whole ledger day inside the window, oldest first.
    pub daily: Vec<i64>,
    /// The metric on each of the `HISTORY_DAYS` days before today.
    pub history: Vec<i64>,
    /// The metric so far today (the ledger's zone), and the start of today (ms).
    pub today: i64,
    pub today_key: i64,
}

/// The five dimensions a policy can match, interned so a policy's matches are
/// worked out once per distinct combination rather than once per row.
#[derive(Default)]
struct Combos {
    index: HashMap<[String; 5], usize>,
    list: Vec<[String; 5]>,
}

impl Combos {
    fn id(&mut self, dims: [String; 5]) -> usize {
        if let Some(&i) = self.index.get(&dims) {
            return i;
        }
        self.list.push(dims.clone());
        self.index.insert(dims, self.list.len() - 1);
        self.list.len() - 1
    }

    fn matches(&self, p: &Policy) -> Vec<bool> {
        self.list
            .iter()
            .map(|[provider, model, user, project, agent]| {
                p.scope.matches(&Dims {
                    provider,
                    model,
                    user,
                    project,
                    agent,
                })
            })
            .collect()
    }
}

type Rows = Vec<(usize, Totals)>;

impl Store {
    /// The spend of every policy at `now`, in the order given.
    pub fn policy_spend(
        &self,
        policies: &[Policy],
        now: Timestamp,
    ) -> Result<Vec<PolicySpend>, StoreError> {
        let zone = self.zone.clone();
        let today = now.to_zoned(zone.clone()).date();
        let (today_key, _) = day_bounds_ms(&zone, today)?;
        let windows = policies
            .iter()
            .map(|p| p.window(now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;

        // Whole ledger days inside each window.
        let mut spans = Vec::with_capacity(windows.len());
        for w in &windows {
            spans.push(self.whole_days(w)?);
        }
        let history_start = today.checked_sub(jiff::Span::new().days(HISTORY_DAYS))?;
        let first = spans
            .iter()
            .filter_map(|s| s.map(|(a, _)| a))
            .chain([history_start])
            .min()
            .unwrap_or(history_start);
        let end = spans
            .iter()
            .filter_map(|s| s.map(|(_, b)| b))
            .chain([today.tomorrow()?])
            .max()
            .unwrap_or(today);

        let mut combos = Combos::default();
        let days = self.rollup_by_day(&mut combos, first, end)?;
        let mut edges: HashMap<(i64, i64), Rows> = HashMap::new();
        let mut out = Vec::with_capacity(policies.len());
        for ((p, w), span) in policies.iter().zip(&windows).zip(&spans) {
            // Edge pieces first, so every combination they add is known to `matches`.
            let pieces = edge_pieces(w, *span, &zone)?;
            for piece in &pieces {
                if !edges.contains_key(piece) {
                    let rows = self.record_rows(&mut combos, *piece)?;
                    edges.insert(*piece, rows);
                }
            }
            let hit = combos.matches(p);
            let mut totals = Totals::default();
            let mut per_day: Vec<(Date, i64)> = Vec::new();
            let mut history = vec![0i64; HISTORY_DAYS as usize];
            let mut today_value = 0i64;
            for (day, rows) in &days {
                let mut day_totals = Totals::default();
                for (c, t) in rows {
                    if hit[*c] {
                        day_totals.add(t);
                    }
                }
                let v = p.metric.of(&day_totals);
                if span.is_some_and(|(a, b)| *day >= a && *day < b) {
                    totals.add(&day_totals);
                    per_day.push((*day, v));
                }
                let back = today.since(*day)?.get_days();
                if (1..=HISTORY_DAYS).contains(&i64::from(back)) {
                    history[(HISTORY_DAYS - i64::from(back)) as usize] = v;
                } else if back == 0 {
                    today_value = v;
                }
            }
            for piece in &pieces {
                for (c, t) in &edges[piece] {
                    if hit[*c] {
                        totals.add(t);
                    }
                }
            }
            // Days with no rows still count, as zero, in the daily series.
            let daily = match span {
                Some((a, b)) => {
                    let last = (*b).min(today);
                    let mut series = Vec::new();
                    let mut d = *a;
                    while d < last {
                        let v = per_day.iter().find(|(x, _)| *x == d).map_or(0, |(_, v)| *v);
                        series.push(v);
                        d = d.tomorrow()?;
                    }
                    series
                }
                None => Vec::new(),
            };
            out.push(PolicySpend {
                window: *w,
                used: p.metric.of(&totals),
                totals,
                daily,
                history,
                today: today_value,
                today_key,
            });
        }
        Ok(out)
    }

    /// `[first, end)` of the ledger days that lie wholly inside the window, if any.
    fn whole_days(&self, w: &Window) -> Result<Option<(Date, Date)>, StoreError> {
        let zone = &self.zone;
        let start_day = w.start.to_zoned(zone.clone()).date();
        let (s0, _) = day_bounds_ms(zone, start_day)?;
        let first = if s0 == w.start.as_millisecond() {
            start_day
        } else {
            start_day.tomorrow()?
        };
        // The day holding the window's end is cut short (or, at midnight, outside).
        let end = match w.end {
            None => Date::MAX,
            Some(e) => e.to_zoned(zone.clone()).date(),
        };
        Ok((first < end).then_some((first, end)))
    }

    /// The rollup between two days, per day and dimension combination.
    fn rollup_by_day(
        &self,
        combos: &mut Combos,
        first: Date,
        end: Date,
    ) -> Result<Vec<(Date, Rows)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, provider, model, user, project, agent, SUM(requests), SUM(input),
                 SUM(output), SUM(cache_read), SUM(cache_write_5m), SUM(cache_write_1h),
                 SUM(reasoning), SUM(images), SUM(embedding_tokens), SUM(cost_nanos),
                 SUM(unpriced), SUM(billed_nanos), SUM(revenue_nanos)
             FROM usage_daily WHERE day >= ?1 AND day < ?2
             GROUP BY day, provider, model, user, project, agent",
        )?;
        let end_text = if end == Date::MAX {
            super::queries::LAST_DAY.to_string()
        } else {
            end.to_string()
        };
        let mut rows = stmt.query(params![first.to_string(), end_text])?;
        let mut out: Vec<(Date, Rows)> = Vec::new();
        while let Some(row) = rows.next()? {
            let day: Date = row.get::<_, String>(0)?.parse()?;
            let dims: [String; 5] = [
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ];
            let c = combos.id(dims);
            let t = totals_at(row, 6)?;
            match out.last_mut() {
                Some((d, rows)) if *d == day => rows.push((c, t)),
                _ => out.push((day, vec![(c, t)])),
            }
        }
        Ok(out)
    }

    /// The records in `[start, end)` ms, per dimension combination. Summed here
    /// rather than with GROUP BY, which sorts and measured slower.
    fn record_rows(
        &self,
        combos: &mut Combos,
        (start, end): (i64, i64),
    ) -> Result<Rows, StoreError> {
        let mut stmt = self.conn.prepare_cached(RECORD_TOTALS_SQL)?;
        let mut rows = stmt.query(params![start, end])?;
        let mut sums: HashMap<usize, Totals> = HashMap::new();
        while let Some(row) = rows.next()? {
            let dims: [String; 5] = [
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ];
            let c = combos.id(dims);
            sums.entry(c).or_default().add(&totals_at(row, 7)?);
        }
        Ok(sums.into_iter().collect())
    }
}

/// The parts of a window outside its whole days, as `[start, end)` ms ranges.
fn edge_pieces(
    w: &Window,
    span: Option<(Date, Date)>,
    zone: &jiff::tz::TimeZone,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let start = w.start.as_millisecond();
    let end = w.end.map_or(i64::MAX, |e| e.as_millisecond());
    let Some((first, last)) = span else {
        return Ok(vec![(start, end)]);
    };
    let mut pieces = Vec::new();
    let (first_ms, _) = day_bounds_ms(zone, first)?;
    if start < first_ms {
        pieces.push((start, first_ms));
    }
    if last != Date::MAX {
        let (last_ms, _) = day_bounds_ms(zone, last)?;
        if last_ms < end {
            pieces.push((last_ms, end));
        }
    }
    Ok(pieces)
}
