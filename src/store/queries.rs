//! Totals over a range, grouped by any dimensions. They come from the daily rollup
//! whenever the range is whole local days of the ledger's zone; another zone or a
//! range that cuts a day falls back to the records themselves, still exact.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use rusqlite::{Row, params};

use super::rollup::{DayCache, day_bounds_ms};
use super::{Store, StoreError};
use crate::core::Money;
use crate::core::usage::{Dimension, TokenCounts, Totals, time_bucket};

#[derive(Clone, Debug)]
pub struct UsageQuery {
    /// Inclusive start; `None` is the beginning of the ledger.
    pub since: Option<Timestamp>,
    /// Exclusive end; `None` is the end of the ledger.
    pub until: Option<Timestamp>,
    pub group_by: Vec<Dimension>,
    pub zone: TimeZone,
    pub week_start: Weekday,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UsageRow {
    /// One value per `group_by` dimension, in the same order.
    pub keys: Vec<String>,
    pub totals: Totals,
}

/// Sorts after every `YYYY-MM-DD`: the open end of a range of days.
pub(super) const LAST_DAY: &str = "9999-12-31~";

const SUMS: &str = "SUM(requests), SUM(input), SUM(output), SUM(cache_read), SUM(cache_write_5m),
    SUM(cache_write_1h), SUM(reasoning), SUM(images), SUM(embedding_tokens), SUM(cost_nanos),
    SUM(unpriced), SUM(billed_nanos), SUM(revenue_nanos), SUM(records)";

/// Each record's time, dimensions and totals, as `totals_at(row, TOTALS_AT)` reads them;
/// `?1`/`?2` bound the time range. The records path of queries and the rollup's
/// rebuild both read them this way.
pub(super) const RECORD_TOTALS_SQL: &str = "SELECT ts_ms, provider, model, user, project, agent, source, machine, requests,
        input, output, cache_read, cache_write_5m, cache_write_1h, reasoning, images, embedding_tokens,
        cost_nanos, cost_nanos IS NULL, billed_nanos, revenue_nanos, 1
    FROM usage WHERE ts_ms >= ?1 AND ts_ms < ?2";

/// Where `RECORD_TOTALS_SQL`'s totals start.
pub(super) const TOTALS_AT: usize = 8;

pub(super) fn totals_at(row: &Row, first: usize) -> rusqlite::Result<Totals> {
    let n = |i: usize| -> rusqlite::Result<u64> {
        Ok(row.get::<_, Option<i64>>(first + i)?.unwrap_or(0) as u64)
    };
    let m = |i: usize| -> rusqlite::Result<Money> {
        Ok(Money::from_nanos(
            row.get::<_, Option<i64>>(first + i)?.unwrap_or(0),
        ))
    };
    Ok(Totals {
        requests: n(0)?,
        tokens: TokenCounts {
            input: n(1)?,
            output: n(2)?,
            cache_read: n(3)?,
            cache_write_5m: n(4)?,
            cache_write_1h: n(5)?,
            reasoning: n(6)?,
        },
        images: n(7)?,
        embedding_tokens: n(8)?,
        cost: m(9)?,
        unpriced: n(10)?,
        billed: m(11)?,
        revenue: m(12)?,
        records: n(13)?,
    })
}

/// The rollup column that holds a dimension; week and month are folded from days.
fn column(dim: Dimension) -> &'static str {
    if dim.is_time() { "day" } else { dim.name() }
}

impl Store {
    /// Grouped totals and the grand total for a query.
    pub fn usage(&self, q: &UsageQuery) -> Result<(Vec<UsageRow>, Totals), StoreError> {
        let groups = match self.rollup_days(q)? {
            Some((first_day, end_day)) => self.usage_from_rollup(q, &first_day, &end_day)?,
            None => self.usage_from_records(q)?,
        };
        let mut total = Totals::default();
        let mut rows: Vec<UsageRow> = groups
            .into_iter()
            .map(|(keys, totals)| {
                total.add(&totals);
                UsageRow { keys, totals }
            })
            .collect();
        rows.sort_by(|a, b| a.keys.cmp(&b.keys));
        Ok((rows, total))
    }

    /// The local day (ledger zone) that starts exactly at `ts_ms`, if one does.
    pub(super) fn day_starting_at(&self, ts_ms: i64) -> Result<Option<String>, StoreError> {
        let date = Timestamp::from_millisecond(ts_ms)?
            .to_zoned(self.zone.clone())
            .date();
        let (start, _) = day_bounds_ms(&self.zone, date)?;
        Ok((start == ts_ms).then(|| date.to_string()))
    }

    /// `[since, until)` as local days `[first, end)` when both fall on day starts in
    /// the ledger's zone: then the rollup answers exactly.
    pub(super) fn rollup_range(
        &self,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<Option<(String, String)>, StoreError> {
        let first = match since_ms {
            Some(ms) => self.day_starting_at(ms)?,
            None => Some(String::new()),
        };
        let end = match until_ms {
            Some(ms) => self.day_starting_at(ms)?,
            None => Some(LAST_DAY.into()),
        };
        Ok(first.zip(end))
    }

    fn rollup_days(&self, q: &UsageQuery) -> Result<Option<(String, String)>, StoreError> {
        if !crate::core::period::same_zone(&q.zone, &self.zone) {
            return Ok(None);
        }
        self.rollup_range(
            q.since.map(|t| t.as_millisecond()),
            q.until.map(|t| t.as_millisecond()),
        )
    }

    fn usage_from_rollup(
        &self,
        q: &UsageQuery,
        first_day: &str,
        end_day: &str,
    ) -> Result<HashMap<Vec<String>, Totals>, StoreError> {
        let mut unique: Vec<&str> = Vec::new();
        for c in q.group_by.iter().map(|d| column(*d)) {
            if !unique.contains(&c) {
                unique.push(c);
            }
        }
        let select = unique.iter().map(|c| format!("{c}, ")).collect::<String>();
        let group = if unique.is_empty() {
            String::new()
        } else {
            format!("GROUP BY {}", unique.join(", "))
        };
        let sql =
            format!("SELECT {select}{SUMS} FROM usage_daily WHERE day >= ?1 AND day < ?2 {group}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![first_day, end_day])?;
        let mut groups: HashMap<Vec<String>, Totals> = HashMap::new();
        while let Some(row) = rows.next()? {
            let totals = totals_at(row, unique.len())?;
            if totals.records == 0 {
                continue;
            }
            let mut keys = Vec::with_capacity(q.group_by.len());
            for dim in &q.group_by {
                let i = unique.iter().position(|c| *c == column(*dim)).unwrap_or(0);
                let value: String = row.get(i)?;
                keys.push(if dim.is_time() {
                    time_bucket(*dim, value.parse()?, q.week_start)
                } else {
                    value
                });
            }
            groups.entry(keys).or_default().add(&totals);
        }
        Ok(groups)
    }

    fn usage_from_records(
        &self,
        q: &UsageQuery,
    ) -> Result<HashMap<Vec<String>, Totals>, StoreError> {
        let start = q.since.map_or(i64::MIN, |t| t.as_millisecond());
        let end = q.until.map_or(i64::MAX, |t| t.as_millisecond());
        let mut stmt = self.conn.prepare_cached(RECORD_TOTALS_SQL)?;
        let mut rows = stmt.query(params![start, end])?;
        let mut days = DayCache::new(q.zone.clone());
        let mut groups: HashMap<Vec<String>, Totals> = HashMap::new();
        while let Some(row) = rows.next()? {
            let totals = totals_at(row, TOTALS_AT)?;
            let mut keys = Vec::with_capacity(q.group_by.len());
            for dim in &q.group_by {
                keys.push(match dim {
                    Dimension::Day | Dimension::Week | Dimension::Month => {
                        let day = days.day_of(row.get(0)?)?;
                        time_bucket(*dim, day.parse()?, q.week_start)
                    }
                    other => row.get(dim_index(*other))?,
                });
            }
            groups.entry(keys).or_default().add(&totals);
        }
        Ok(groups)
    }
}

fn dim_index(dim: Dimension) -> usize {
    match dim {
        Dimension::Provider => 1,
        Dimension::Model => 2,
        Dimension::User => 3,
        Dimension::Project => 4,
        Dimension::Agent => 5,
        Dimension::Source => 6,
        _ => 7,
    }
}

impl Store {
    /// Totals per UTC day, provider and model over `[since, until)` (whole UTC
    /// hours), from the hourly rollup: the days providers bill by.
    pub fn by_utc_day(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<(jiff::civil::Date, String, String, Totals)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT hour_ms / 86400000, provider, model, {SUMS} FROM usage_hourly
             WHERE hour_ms >= ?1 AND hour_ms < ?2 GROUP BY 1, 2, 3"
        ))?;
        let mut rows = stmt.query(params![since.as_millisecond(), until.as_millisecond()])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let day = Timestamp::from_second(row.get::<_, i64>(0)? * 86_400)?
                .to_zoned(TimeZone::UTC)
                .date();
            out.push((day, row.get(1)?, row.get(2)?, totals_at(row, 3)?));
        }
        Ok(out)
    }

    /// Cost per UTC hour and model over `[since, until)`, from the hourly rollup.
    pub fn hourly_costs(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<(Timestamp, String, Money)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT hour_ms, model, SUM(cost_nanos) FROM usage_hourly
             WHERE hour_ms >= ?1 AND hour_ms < ?2 GROUP BY 1, 2",
        )?;
        let mut rows = stmt.query(params![since.as_millisecond(), until.as_millisecond()])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push((
                Timestamp::from_millisecond(row.get(0)?)?,
                row.get(1)?,
                Money::from_nanos(row.get(2)?),
            ));
        }
        Ok(out)
    }

    /// Each call of `agent` from `since` to `until`, in time order, as a plan
    /// window counts it (its tokens of every kind and its list-price cost).
    pub fn plan_uses(
        &self,
        agent: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<crate::core::plan::Use>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.ts_ms, c.input + c.output + c.cache_read + c.cache_write_5m + c.cache_write_1h,
                    coalesce(c.cost_nanos, 0), c.cost_kind = 2
             FROM calls c JOIN dims d ON d.id = c.dims
             WHERE d.agent = ?1 AND c.ts_ms >= ?2 AND c.ts_ms <= ?3
             ORDER BY c.ts_ms",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![agent, since.as_millisecond(), until.as_millisecond()],
            |r| {
                Ok(crate::core::plan::Use {
                    at: Timestamp::from_millisecond(r.get(0)?).unwrap_or_default(),
                    tokens: r.get::<_, i64>(1)?.max(0) as u64,
                    cost: r.get(2)?,
                    unpriced: r.get(3)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the newest call was made, if there is any: one step down the time
    /// index, however large the ledger.
    pub fn last_call_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let ms: Option<i64> = self
            .conn
            .query_row("SELECT MAX(ts_ms) FROM calls", [], |r| r.get(0))?;
        Ok(ms.map(Timestamp::from_millisecond).transpose()?)
    }

    /// The models with unpriced calls, most calls first.
    pub fn unpriced_models(&self) -> Result<Vec<UnpricedModel>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.provider, d.model, COUNT(*), MAX(p.name)
             FROM calls c JOIN dims d ON d.id = c.dims LEFT JOIN names p ON p.id = c.price
             WHERE c.cost_kind = 2
             GROUP BY d.provider, d.model ORDER BY 3 DESC, 2",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(UnpricedModel {
                provider: r.get(0)?,
                model: r.get(1)?,
                calls: r.get::<_, i64>(2)? as u64,
                reason: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A model with calls that have no price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpricedModel {
    pub provider: String,
    pub model: String,
    pub calls: u64,
    /// Why (one of its calls' reasons).
    pub reason: Option<String>,
}

impl Store {
    /// The calls since `since` that say whether their job succeeded
    /// (metadata `success`: true, 1, "true", "yes" or "ok" count as success).
    pub fn jobs(&self, since: Timestamp) -> Result<crate::core::breakdown::Jobs, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COUNT(*),
                    COALESCE(SUM(json_extract(metadata, '$.success') IN (1, 'true', 'yes', 'ok')), 0),
                    COALESCE(SUM(cost_nanos), 0),
                    COALESCE(SUM(CAST(json_extract(metadata, '$.quality') AS REAL))
                        FILTER (WHERE json_extract(metadata, '$.quality') GLOB '[0-9]*'), 0),
                    COUNT(*) FILTER (WHERE json_extract(metadata, '$.quality') GLOB '[0-9]*')
             FROM (SELECT c.cost_nanos, m.name AS metadata
                   FROM calls c LEFT JOIN names m ON m.id = c.metadata
                   WHERE c.job IS NOT NULL AND c.ts_ms >= ?1)",
        )?;
        Ok(stmt.query_row([since.as_millisecond()], |r| {
            Ok(crate::core::breakdown::Jobs {
                attempts: r.get::<_, i64>(0)? as u64,
                succeeded: r.get::<_, i64>(1)? as u64,
                cost: Money::from_nanos(r.get(2)?),
                quality_sum: r.get(3)?,
                quality_count: r.get::<_, i64>(4)? as u64,
            })
        })?)
    }
}
