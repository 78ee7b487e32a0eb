//! Paging through records newest first, with the Usage history view's filters.

use rusqlite::types::Value;

use super::rollup::day_bounds_ms;
use super::write::{RECORD_COLUMNS, record_from_row};
use super::{Store, StoreError};
use crate::core::UsageRecord;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Matches any part of model, provider, user, project, agent or machine (case aside).
    pub text: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub machine: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRow {
    pub id: i64,
    pub record: UsageRecord,
}

/// The columns `RawRecord::read` reads, in order.
const RAW_COLUMNS: &str = "ts_ms, provider, model, user, project, agent, source, session, request_id,
    requests, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning, embedding_tokens,
    images, cost_kind, cost_nanos, price_version, billed_nanos, revenue_nanos, service_tier, speed,
    region, web_searches, audio_input, audio_cache_read, audio_output, image_input,
    image_cache_read, image_output, machine";

/// A record's columns as stored, borrowed from the result row.
pub struct RawRecord<'a> {
    pub ts_ms: i64,
    /// provider, model, user, project, agent, source, machine
    pub dimensions: [&'a str; 7],
    pub session: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// requests, input, output, cache read, cache write 5m and 1h, reasoning,
    /// embedding tokens, images
    pub counts: [i64; 9],
    /// `priced`, `reported` or `unpriced`.
    pub cost_kind: &'a str,
    pub cost_nanos: Option<i64>,
    pub price_version: Option<&'a str>,
    pub billed_nanos: Option<i64>,
    pub revenue_nanos: Option<i64>,
    /// The service tier and speed by name (`standard` most often), the region, web searches.
    pub service_tier: &'a str,
    pub speed: &'a str,
    pub region: Option<&'a str>,
    pub web_searches: i64,
    /// The audio and image parts of the input, cached input and output.
    pub media: [i64; 6],
}

impl<'a> RawRecord<'a> {
    fn read(row: &'a rusqlite::Row) -> rusqlite::Result<RawRecord<'a>> {
        let text = |i: usize| -> rusqlite::Result<&'a str> {
            row.get_ref(i)?.as_str().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        };
        let optional = |i: usize| -> rusqlite::Result<Option<&'a str>> {
            row.get_ref(i)?.as_str_or_null().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        };
        let mut counts = [0; 9];
        for (k, c) in counts.iter_mut().enumerate() {
            *c = row.get(9 + k)?;
        }
        let mut media = [0; 6];
        for (k, c) in media.iter_mut().enumerate() {
            *c = row.get(27 + k)?;
        }
        Ok(RawRecord {
            ts_ms: row.get(0)?,
            dimensions: [
                text(1)?,
                text(2)?,
                text(3)?,
                text(4)?,
                text(5)?,
                text(6)?,
                text(33)?,
            ],
            session: optional(7)?,
            request_id: optional(8)?,
            counts,
            cost_kind: text(18)?,
            cost_nanos: row.get(19)?,
            price_version: optional(20)?,
            billed_nanos: row.get(21)?,
            revenue_nanos: row.get(22)?,
            service_tier: text(23)?,
            speed: text(24)?,
            region: optional(25)?,
            web_searches: row.get(26)?,
            media,
        })
    }
}

/// The columns a text search looks in: the ones the history shows.
const SEARCHED: [&str; 6] = ["model", "provider", "user", "project", "agent", "machine"];

/// Where a page starts: after the row with this (time, id), in newest-first order.
pub type HistoryPage = Option<(i64, i64)>;

impl HistoryFilter {
    fn search_text(&self) -> Option<&str> {
        self.text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Conditions on the dimensions, which `usage` and the rollup both carry.
    fn dimension_terms(&self, args: &mut Vec<Value>) -> Vec<String> {
        let mut terms = Vec::new();
        if let Some(text) = self.search_text() {
            let pattern = format!(
                "%{}%",
                text.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            args.push(Value::Text(pattern));
            let n = args.len();
            let any: Vec<String> = SEARCHED
                .iter()
                .map(|c| format!("{c} LIKE ?{n} ESCAPE '\\'"))
                .collect();
            terms.push(format!("({})", any.join(" OR ")));
        }
        for (column, value) in [
            ("model", &self.model),
            ("provider", &self.provider),
            ("machine", &self.machine),
        ] {
            if let Some(v) = value {
                args.push(Value::Text(v.clone()));
                terms.push(format!("{column} = ?{}", args.len()));
            }
        }
        terms
    }

    fn where_clause(&self) -> (String, Vec<Value>) {
        let mut args: Vec<Value> = Vec::new();
        let mut terms = self.dimension_terms(&mut args);
        if let Some(since) = self.since_ms {
            args.push(Value::Integer(since));
            terms.push(format!("ts_ms >= ?{}", args.len()));
        }
        if let Some(until) = self.until_ms {
            args.push(Value::Integer(until));
            terms.push(format!("ts_ms < ?{}", args.len()));
        }
        let clause = if terms.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", terms.join(" AND "))
        };
        (clause, args)
    }
}

impl Store {
    /// How many records match: from the daily rollup (milliseconds on any ledger)
    /// when the range falls on whole days, else by counting the records.
    pub fn history_count(&self, filter: &HistoryFilter) -> Result<u64, StoreError> {
        if let Some((first, end)) = self.rollup_range(filter.since_ms, filter.until_ms)? {
            let mut args = vec![Value::Text(first), Value::Text(end)];
            let mut sql = String::from(
                "SELECT COALESCE(SUM(records), 0) FROM usage_daily WHERE day >= ?1 AND day < ?2",
            );
            for term in filter.dimension_terms(&mut args) {
                sql.push_str(&format!(" AND {term}"));
            }
            let n: i64 = self
                .conn
                .prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?;
            return Ok(n as u64);
        }
        let (clause, args) = filter.where_clause();
        let sql = format!("SELECT COUNT(*) FROM usage {clause}");
        let n: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The same filter with its time range shrunk to the days where matching
    /// records exist (from the rollup), so that paging a rare model or search
    /// term scans those days, not the whole ledger. Nothing matching gives an
    /// empty range.
    pub fn narrow(&self, filter: &HistoryFilter) -> Result<HistoryFilter, StoreError> {
        let mut args = Vec::new();
        let terms = filter.dimension_terms(&mut args);
        if terms.is_empty() {
            return Ok(filter.clone());
        }
        let sql = format!(
            "SELECT MIN(day), MAX(day) FROM usage_daily WHERE {}",
            terms.join(" AND ")
        );
        let (first, last): (Option<String>, Option<String>) = self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(args), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let mut narrowed = filter.clone();
        let (Some(first), Some(last)) = (first, last) else {
            narrowed.since_ms = Some(0);
            narrowed.until_ms = Some(0);
            return Ok(narrowed);
        };
        let (start, _) = day_bounds_ms(&self.zone, first.parse()?)?;
        let (_, end) = day_bounds_ms(&self.zone, last.parse()?)?;
        narrowed.since_ms = Some(filter.since_ms.map_or(start, |s| s.max(start)));
        narrowed.until_ms = Some(filter.until_ms.map_or(end, |u| u.min(end)));
        Ok(narrowed)
    }

    /// Up to `limit` rows newest first, starting after `after` (keyset paging: cheap at any depth).
    pub fn history_after(
        &self,
        filter: &HistoryFilter,
        after: HistoryPage,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let (clause, mut args) = filter.where_clause();
        let mut clause = clause;
        if let Some((ts, id)) = after {
            let joiner = if clause.is_empty() { "WHERE" } else { " AND" };
            clause.push_str(&format!(
                "{joiner} (ts_ms, id) < (?{}, ?{})",
                args.len() + 1,
                args.len() + 2
            ));
            args.push(Value::Integer(ts));
            args.push(Value::Integer(id));
        }
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM usage {clause} ORDER BY ts_ms DESC, id DESC LIMIT {limit}"
        );
        self.fetch(&sql, args)
    }

    /// How many rows the filter lists before the row `key` (time, id), newest
    /// first: counted up to `limit`.
    pub fn history_newer(
        &self,
        filter: &HistoryFilter,
        key: (i64, i64),
        limit: u64,
    ) -> Result<u64, StoreError> {
        let (clause, mut args) = filter.where_clause();
        let joiner = if clause.is_empty() { "WHERE" } else { " AND" };
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM usage {clause}{joiner} (ts_ms, id) > (?{}, ?{}) LIMIT {limit})",
            args.len() + 1,
            args.len() + 2
        );
        args.push(Value::Integer(key.0));
        args.push(Value::Integer(key.1));
        let n: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Up to `limit` rows newest first, skipping `offset` (for jumps far into the list).
    pub fn history_at(
        &self,
        filter: &HistoryFilter,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let (clause, args) = filter.where_clause();
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM usage {clause} ORDER BY ts_ms DESC, id DESC LIMIT {limit} OFFSET {offset}"
        );
        self.fetch(&sql, args)
    }

    fn fetch(&self, sql: &str, args: Vec<Value>) -> Result<Vec<HistoryRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let (id, record) = record_from_row(row)?;
            out.push(HistoryRow { id, record });
        }
        Ok(out)
    }

    /// `[start, end)` in milliseconds that the filter's records lie in: its own
    /// bounds, else the ledger's first and last record.
    pub fn time_span(&self, filter: &HistoryFilter) -> Result<(i64, i64), StoreError> {
        let (first, last): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT (SELECT MIN(ts_ms) FROM calls), (SELECT MAX(ts_ms) FROM calls)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let start = filter.since_ms.or(first).unwrap_or(0);
        let end = filter.until_ms.or(last.map(|l| l + 1)).unwrap_or(start);
        Ok((start, end.max(start)))
    }

    /// Every record the filter matches, oldest first, as borrowed columns: an
    /// export of millions copies nothing it does not write.
    pub fn for_each_raw_record<E: From<StoreError>>(
        &self,
        filter: &HistoryFilter,
        mut each: impl FnMut(&RawRecord) -> Result<(), E>,
    ) -> Result<u64, E> {
        let (clause, args) = filter.where_clause();
        let sql = format!("SELECT {RAW_COLUMNS} FROM usage {clause} ORDER BY ts_ms, id");
        let mut stmt = self.conn.prepare(&sql).map_err(StoreError::from)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .map_err(StoreError::from)?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let raw = RawRecord::read(row).map_err(StoreError::from)?;
            each(&raw)?;
            n += 1;
        }
        Ok(n)
    }

    /// One record by its id.
    pub fn record(&self, id: i64) -> Result<Option<UsageRecord>, StoreError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM usage WHERE id = ?1");
        Ok(self
            .fetch(&sql, vec![Value::Integer(id)])?
            .pop()
            .map(|row| row.record))
    }

    /// The calls made in fast mode in `[since, until)`: few, as fast mode
    /// bills a multiple; kept in `extras`, so only calls with extras are read.
    pub fn fast_calls(
        &self,
        since: jiff::Timestamp,
        until: jiff::Timestamp,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM usage WHERE ts_ms >= ?1 AND ts_ms < ?2 AND speed = 'fast'"
        );
        Ok(self
            .fetch(
                &sql,
                vec![
                    Value::Integer(since.as_millisecond()),
                    Value::Integer(until.as_millisecond()),
                ],
            )?
            .into_iter()
            .map(|row| row.record)
            .collect())
    }

    /// The distinct values of `model`, `provider` or `machine`, for filter menus.
    pub fn distinct_values(&self, column: &str) -> Result<Vec<String>, StoreError> {
        let column = match column {
            "model" => "model",
            "provider" => "provider",
            "machine" => "machine",
            other => return Err(StoreError::Corrupt(format!("no such column {other}"))),
        };
        let sql = format!("SELECT DISTINCT {column} FROM usage_daily ORDER BY {column}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let values = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(values)
    }
}
