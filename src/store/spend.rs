//! What each policy has used in its current window, exactly: whole local days
//! come from the rollup, and the pieces of days at the window's edges (another
//! zone, a rolling window, a manual reset at 14:00) from the records.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::params;

use super::queries::{RECORD_TOTALS_SQL, TOTALS_AT, totals_at};
use super::rollup::{HOUR_MS, day_bounds_ms, hour_of};
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

/// The six dimensions a policy can match, interned so a policy's matches are
/// worked out once per distinct combination rather than once per row.
#[derive(Clone, Default)]
struct Combos {
    /// The six values joined by NUL, so a row is looked up without allocating.
    index: HashMap<String, usize>,
    list: Vec<[String; 6]>,
    key: String,
}

/// Where a rollup row's provider, model, user, project, agent and machine are.
const ROLLUP_COMBO: [usize; 6] = [0, 1, 2, 3, 4, 5];
/// The same in a row of `RECORD_TOTALS_SQL` (the source between agent and machine).
const RECORD_COMBO: [usize; 6] = [1, 2, 3, 4, 5, 7];

impl Combos {
    /// The combination in columns `columns` (offset by `first`) of a row.
    fn id_at(
        &mut self,
        row: &rusqlite::Row,
        first: usize,
        columns: [usize; 6],
    ) -> Result<usize, StoreError> {
        self.key.clear();
        for i in columns.map(|c| c + first) {
            let v = row.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?;
            self.key.push_str(v);
            self.key.push('\0');
        }
        if let Some(&i) = self.index.get(self.key.as_str()) {
            return Ok(i);
        }
        let mut dims: [String; 6] = Default::default();
        for (d, c) in dims.iter_mut().zip(columns) {
            *d = row.get(first + c)?;
        }
        self.list.push(dims);
        self.index.insert(self.key.clone(), self.list.len() - 1);
        Ok(self.list.len() - 1)
    }

    fn matches(&self, p: &Policy) -> Vec<bool> {
        self.list
            .iter()
            .map(|[provider, model, user, project, agent, machine]| {
                p.scope.matches(&Dims {
                    provider,
                    model,
                    user,
                    project,
                    agent,
                    machine,
                })
            })
            .collect()
    }
}

type Rows = Vec<(usize, Totals)>;

/// The rollup's rows for days before today, as of one `data_version`. Evaluating
/// the budgets after each write re-reads only today and the window edges; a
/// write by another process (a new data_version) or one of ours dated before
/// today (`Store::forget_past_days`) drops it.
pub struct PastDays {
    data_version: i64,
    first: Date,
    today: Date,
    combos: Combos,
    days: Vec<(Date, Rows)>,
}

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

        let (mut combos, mut days) = self.past_days(first, today)?;
        let recent = self.rollup_by_day(&mut combos, first.max(today), end)?;
        days.extend(recent);
        // How many days before today each rollup day is, worked out once.
        let back: Vec<i64> = days
            .iter()
            .map(|(d, _)| today.since(*d).map(|s| i64::from(s.get_days())))
            .collect::<Result<_, _>>()?;
        let mut edges: HashMap<Piece, Rows> = HashMap::new();
        let mut pieces_of = Vec::with_capacity(policies.len());
        for (w, span) in windows.iter().zip(&spans) {
            let pieces = edge_pieces(w, *span, &zone, now.as_millisecond())?;
            for piece in &pieces {
                if !edges.contains_key(piece) {
                    let rows = match piece.0 {
                        From::Records | From::LessRecords => {
                            self.record_rows(&mut combos, (piece.1, piece.2))?
                        }
                        From::Hours => self.hour_rows(&mut combos, (piece.1, piece.2))?,
                    };
                    edges.insert(*piece, rows);
                }
            }
            pieces_of.push(pieces);
        }
        // Policies often share a scope: its matches and day sums are worked out once.
        let mut by_scope: HashMap<String, (Vec<bool>, Vec<Totals>)> = HashMap::new();
        let mut out = Vec::with_capacity(policies.len());
        for (((p, w), span), pieces) in policies.iter().zip(&windows).zip(&spans).zip(&pieces_of) {
            let (hit, day_totals) = by_scope.entry(p.scope.to_string()).or_insert_with(|| {
                let hit = combos.matches(p);
                let sums = days
                    .iter()
                    .map(|(_, rows)| {
                        let mut t = Totals::default();
                        for (c, r) in rows {
                            if hit[*c] {
                                t.add(r);
                            }
                        }
                        t
                    })
                    .collect();
                (hit, sums)
            });
            let mut totals = Totals::default();
            let mut per_day: HashMap<Date, i64> = HashMap::new();
            let mut history = vec![0i64; HISTORY_DAYS as usize];
            let mut today_value = 0i64;
            for (((day, _), t), back) in days.iter().zip(day_totals.iter()).zip(&back) {
                let v = p.metric.of(t);
                if span.is_some_and(|(a, b)| *day >= a && *day < b) {
                    totals.add(t);
                    per_day.insert(*day, v);
                }
                if (1..=HISTORY_DAYS).contains(back) {
                    history[(HISTORY_DAYS - back) as usize] = v;
                } else if *back == 0 {
                    today_value = v;
                }
            }
            // Whole parts first, then what they hold beyond the window.
            for piece in pieces.iter().filter(|p| p.0 != From::LessRecords) {
                for (c, t) in &edges[piece] {
                    if hit[*c] {
                        totals.add(t);
                    }
                }
            }
            for piece in pieces.iter().filter(|p| p.0 == From::LessRecords) {
                for (c, t) in &edges[piece] {
                    if hit[*c] {
                        totals.remove(t);
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
                        series.push(per_day.get(&d).copied().unwrap_or(0));
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

    /// The rollup's days in `[first, today)`, from the kept copy when it covers
    /// them and nobody else has written since.
    fn past_days(
        &self,
        first: Date,
        today: Date,
    ) -> Result<(Combos, Vec<(Date, Rows)>), StoreError> {
        let version = self.data_version()?;
        if let Some(kept) = self.past_days.borrow().as_ref()
            && kept.data_version == version
            && kept.today == today
            && kept.first <= first
        {
            let days = kept
                .days
                .iter()
                .filter(|(d, _)| *d >= first)
                .cloned()
                .collect();
            return Ok((kept.combos.clone(), days));
        }
        let mut combos = Combos::default();
        let days = if first < today {
            self.rollup_by_day(&mut combos, first, today)?
        } else {
            Vec::new()
        };
        *self.past_days.borrow_mut() = Some(PastDays {
            data_version: version,
            first,
            today,
            combos: combos.clone(),
            days: days.clone(),
        });
        Ok((combos, days))
    }

    /// Drops the kept past days: this connection changed usage before today (a
    /// reprice), which `data_version` does not show.
    pub(super) fn forget_past_days(&self) {
        self.past_days.borrow_mut().take();
    }

    /// Notes that this connection wrote usage from `ts_ms` on: if that reaches
    /// before the kept copy's today (an import of old logs), it is dropped.
    pub(super) fn wrote_from(&self, ts_ms: i64) {
        let stale = self.past_days.borrow().as_ref().is_some_and(|kept| {
            Timestamp::from_millisecond(ts_ms)
                .map_or(true, |t| t.to_zoned(self.zone.clone()).date() < kept.today)
        });
        if stale {
            self.forget_past_days();
        }
    }

    /// The rollup between two days, per day and dimension combination.
    fn rollup_by_day(
        &self,
        combos: &mut Combos,
        first: Date,
        end: Date,
    ) -> Result<Vec<(Date, Rows)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            // In key order (day first); rows differing only in source are summed
            // by the caller, which is cheaper than a GROUP BY's sort.
            "SELECT day, provider, model, user, project, agent, machine, requests, input, output,
                 cache_read, cache_write_5m, cache_write_1h, reasoning, images, embedding_tokens,
                 cost_nanos, unpriced, billed_nanos, revenue_nanos, records
             FROM usage_daily WHERE day >= ?1 AND day < ?2",
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
            let c = combos.id_at(row, 1, ROLLUP_COMBO)?;
            let t = totals_at(row, 7)?;
            match out.last_mut() {
                Some((d, rows)) if *d == day => rows.push((c, t)),
                _ => out.push((day, vec![(c, t)])),
            }
        }
        Ok(out)
    }

    /// The hourly rollup for the whole hours in `[start, end)` ms, per combination.
    fn hour_rows(&self, combos: &mut Combos, (start, end): (i64, i64)) -> Result<Rows, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider, model, user, project, agent, machine, requests, input, output, cache_read,
                 cache_write_5m, cache_write_1h, reasoning, images, embedding_tokens, cost_nanos,
                 unpriced, billed_nanos, revenue_nanos, records
             FROM usage_hourly WHERE hour_ms >= ?1 AND hour_ms < ?2",
        )?;
        let mut rows = stmt.query(params![start, end])?;
        let mut sums: HashMap<usize, Totals> = HashMap::new();
        while let Some(row) = rows.next()? {
            let c = combos.id_at(row, 0, ROLLUP_COMBO)?;
            sums.entry(c).or_default().add(&totals_at(row, 6)?);
        }
        Ok(sums.into_iter().collect())
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
            let c = combos.id_at(row, 0, RECORD_COMBO)?;
            sums.entry(c).or_default().add(&totals_at(row, TOTALS_AT)?);
        }
        Ok(sums.into_iter().collect())
    }
}

/// Where a piece of a window is counted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum From {
    Records,
    Hours,
    /// Records to take away from an hour counted whole.
    LessRecords,
}

/// A `[start, end)` ms range and where it is counted from.
type Piece = (From, i64, i64);

/// Splits a range into whole UTC hours (from the hourly rollup) and the bits of
/// hours at either end (from the records). A range ending at `now` (a rolling
/// window) ends inside the current hour, which may hold many records; that
/// hour is counted whole instead, less any records dated after `now`.
fn split_hours(start: i64, end: i64, now: i64, out: &mut Vec<Piece>) {
    let first = hour_of(start) + if hour_of(start) == start { 0 } else { HOUR_MS };
    let mut last = hour_of(end);
    if end != i64::MAX && last < end && end >= now {
        out.push((From::LessRecords, end, last + HOUR_MS));
        last += HOUR_MS;
    } else if end == i64::MAX || first >= last {
        out.push((From::Records, start, end));
        return;
    } else if last < end {
        out.push((From::Records, last, end));
    }
    if first >= last {
        // All inside one hour: that hour, less what lies before the start.
        out.push((From::Hours, hour_of(start), last));
        if hour_of(start) < start {
            out.push((From::LessRecords, hour_of(start), start));
        }
        return;
    }
    if start < first {
        out.push((From::Records, start, first));
    }
    out.push((From::Hours, first, last));
}

/// The parts of a window outside its whole days.
fn edge_pieces(
    w: &Window,
    span: Option<(Date, Date)>,
    zone: &jiff::tz::TimeZone,
    now: i64,
) -> Result<Vec<Piece>, StoreError> {
    let start = w.start.as_millisecond();
    let end = w.end.map_or(i64::MAX, |e| e.as_millisecond());
    let mut pieces = Vec::new();
    let Some((first, last)) = span else {
        split_hours(start, end, now, &mut pieces);
        return Ok(pieces);
    };
    let (first_ms, _) = day_bounds_ms(zone, first)?;
    if start < first_ms {
        split_hours(start, first_ms, now, &mut pieces);
    }
    if last != Date::MAX {
        let (last_ms, _) = day_bounds_ms(zone, last)?;
        if last_ms < end {
            split_hours(last_ms, end, now, &mut pieces);
        }
    }
    Ok(pieces)
}
