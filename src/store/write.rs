//! Writing usage: idempotent inserts that keep the rollup in step, and repricing.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use jiff::Timestamp;
use rusqlite::{CachedStatement, Connection, Row, params};

use super::rollup::{self, DayCache};
use super::{Store, StoreError};
use crate::core::usage::{Cost, ImageUsage, TokenCounts, Totals, UsageRecord};
use crate::core::{Money, PriceBook};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    pub id: i64,
    /// False when the same call was already in the ledger: nothing was added.
    pub new: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub inserted: u64,
    pub duplicates: u64,
    /// Records already there with fewer tokens, replaced (`insert_batch_keep_largest`).
    pub updated: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepriceOutcome {
    pub examined: u64,
    pub changed: u64,
    pub still_unpriced: u64,
    /// Records that had no price and now have one.
    pub newly_priced: u64,
    /// The examined records' cost before and after (unpriced ones count nothing).
    pub before: Money,
    pub after: Money,
}

const INSERT_SQL: &str = "INSERT INTO usage (dedupe_key, ts_ms, provider, model, user, project, agent, source,
        session, request_id, task, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning,
        images, image_size, image_quality, embedding_tokens, cost_kind, cost_nanos, price_version,
        unpriced_reason, billed_nanos, revenue_nanos, metadata, created_ms, requests)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
        ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)
    ON CONFLICT (dedupe_key) DO NOTHING";

fn cost_columns(cost: &Cost) -> (&'static str, Option<i64>, Option<&str>, Option<&str>) {
    match cost {
        Cost::Priced {
            amount,
            price_version,
        } => ("priced", Some(amount.nanos()), Some(price_version), None),
        Cost::Reported { amount } => ("reported", Some(amount.nanos()), None, None),
        Cost::Unpriced { reason } => ("unpriced", None, None, Some(reason)),
    }
}

fn sql_count(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n} is too large")))
}

/// Inserts one record with the prepared `INSERT_SQL`; returns its row id if it was new.
fn insert_one(
    stmt: &mut CachedStatement,
    conn: &Connection,
    r: &UsageRecord,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let t = &r.tokens;
    let (kind, nanos, version, reason) = cost_columns(&r.cost);
    // Written from the map where it is: a copy of it per record was 3 % of
    // an import's storing.
    let metadata = if r.metadata.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&r.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    };
    let changed = stmt.execute(params![
        &r.dedupe_key()[..],
        r.at.as_millisecond(),
        r.provider,
        r.model,
        r.user,
        r.project,
        r.agent,
        r.source,
        r.session,
        r.request_id,
        r.task,
        sql_count(t.input)?,
        sql_count(t.output)?,
        sql_count(t.cache_read)?,
        sql_count(t.cache_write_5m)?,
        sql_count(t.cache_write_1h)?,
        sql_count(t.reasoning)?,
        sql_count(r.images.count)?,
        r.images.size,
        r.images.quality,
        sql_count(r.embedding_tokens)?,
        kind,
        nanos,
        version,
        reason,
        r.billed.map(Money::nanos),
        r.revenue.map(Money::nanos),
        metadata,
        now_ms,
        sql_count(r.requests)?,
    ])?;
    Ok((changed == 1).then(|| conn.last_insert_rowid()))
}

/// Replaces the stored record with `r`'s key when `r` has more tokens; returns the
/// replaced record's time, or `None` when the stored one stands.
fn replace_if_larger(conn: &Connection, r: &UsageRecord) -> Result<Option<i64>, StoreError> {
    let (id, ts, total): (i64, i64, i64) = conn
        .prepare_cached(
            "SELECT id, ts_ms, input + output + cache_read + cache_write_5m + cache_write_1h
         FROM usage WHERE dedupe_key = ?1",
        )?
        .query_row([&r.dedupe_key()[..]], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    if r.tokens.total() <= total as u64 {
        return Ok(None);
    }
    let t = &r.tokens;
    let (kind, nanos, version, reason) = cost_columns(&r.cost);
    conn.prepare_cached(
        "UPDATE usage SET ts_ms = ?2, input = ?3, output = ?4, cache_read = ?5, cache_write_5m = ?6,
             cache_write_1h = ?7, reasoning = ?8, cost_kind = ?9, cost_nanos = ?10, price_version = ?11,
             unpriced_reason = ?12
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        r.at.as_millisecond(),
        sql_count(t.input)?,
        sql_count(t.output)?,
        sql_count(t.cache_read)?,
        sql_count(t.cache_write_5m)?,
        sql_count(t.cache_write_1h)?,
        sql_count(t.reasoning)?,
        kind,
        nanos,
        version,
        reason,
    ])?;
    Ok(Some(ts))
}

/// The rollup row a record belongs to, borrowed from the record.
fn rollup_key<'a>(
    days: &mut DayCache,
    r: &'a UsageRecord,
) -> Result<(Rc<str>, [&'a str; 6]), StoreError> {
    let day = days.day_of(r.at.as_millisecond())?;
    Ok((
        day,
        [
            &r.provider,
            &r.model,
            &r.user,
            &r.project,
            &r.agent,
            &r.source,
        ],
    ))
}

impl Store {
    /// Records one call. Recording the same call again changes nothing and says so.
    pub fn insert(&mut self, r: &UsageRecord) -> Result<Inserted, StoreError> {
        let zone = self.zone.clone();
        let tx = self.write_tx()?;
        let inserted = insert_one(
            &mut tx.prepare_cached(INSERT_SQL)?,
            &tx,
            r,
            Timestamp::now().as_millisecond(),
        )?;
        let outcome = match inserted {
            Some(id) => {
                let (day, dims) = rollup_key(&mut DayCache::new(zone), r)?;
                let totals = Totals::of(r);
                rollup::add_to_bounds(&tx, &totals)?;
                rollup::add(&tx, &day, dims, &totals)?;
                rollup::add_hour(&tx, rollup::hour_of(r.at.as_millisecond()), dims, &totals)?;
                Inserted { id, new: true }
            }
            None => {
                let id = tx.query_row(
                    "SELECT id FROM usage WHERE dedupe_key = ?1",
                    [&r.dedupe_key()[..]],
                    |row| row.get(0),
                )?;
                Inserted { id, new: false }
            }
        };
        tx.commit()?;
        if outcome.new {
            self.wrote_from(r.at.as_millisecond());
        }
        Ok(outcome)
    }

    /// Records many calls in one transaction: all of them or, on error, none.
    pub fn insert_batch(&mut self, records: &[UsageRecord]) -> Result<BatchOutcome, StoreError> {
        self.insert_many(records, false)
    }

    /// As `insert_batch`, but a call already recorded with fewer tokens (an
    /// earlier snapshot of a streaming message) is replaced by the larger one, so
    /// importing a log again while it grows never under-counts.
    pub fn insert_batch_keep_largest(
        &mut self,
        records: &[UsageRecord],
    ) -> Result<BatchOutcome, StoreError> {
        self.insert_many(records, true)
    }

    fn insert_many(
        &mut self,
        records: &[UsageRecord],
        keep_largest: bool,
    ) -> Result<BatchOutcome, StoreError> {
        self.insert_many_then(records, keep_largest, |_| Ok(()))
    }

    /// Inserts, then runs `also` in the same transaction (an import's file states).
    pub(super) fn insert_many_then(
        &mut self,
        records: &[UsageRecord],
        keep_largest: bool,
        also: impl FnOnce(&rusqlite::Transaction) -> Result<(), StoreError>,
    ) -> Result<BatchOutcome, StoreError> {
        let mut days = DayCache::new(self.zone.clone());
        let now = Timestamp::now().as_millisecond();
        let tx = self.write_tx()?;
        let mut groups: HashMap<(Rc<str>, [&str; 6]), Totals> = HashMap::new();
        let mut hours: HashMap<(i64, [&str; 6]), Totals> = HashMap::new();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut outcome = BatchOutcome::default();
        let mut earliest = i64::MAX;
        // In time order, so the time index grows at its end instead of all over.
        let mut in_order: Vec<&UsageRecord> = records.iter().collect();
        in_order.sort_by_key(|r| r.at);
        {
            let mut stmt = tx.prepare_cached(INSERT_SQL)?;
            for r in in_order {
                if insert_one(&mut stmt, &tx, r, now)?.is_some() {
                    earliest = earliest.min(r.at.as_millisecond());
                    outcome.inserted += 1;
                    let key = rollup_key(&mut days, r)?;
                    let totals = Totals::of(r);
                    let hour = rollup::hour_of(r.at.as_millisecond());
                    hours.entry((hour, key.1)).or_default().add(&totals);
                    groups.entry(key).or_default().add(&totals);
                } else if keep_largest && let Some(old_ts) = replace_if_larger(&tx, r)? {
                    outcome.updated += 1;
                    earliest = earliest.min(old_ts).min(r.at.as_millisecond());
                    touched.insert(days.day_of(old_ts)?.to_string());
                    touched.insert(days.day_of(r.at.as_millisecond())?.to_string());
                } else {
                    outcome.duplicates += 1;
                }
            }
        }
        for ((day, dims), totals) in &groups {
            rollup::add_to_bounds(&tx, totals)?;
            rollup::add(&tx, day, *dims, totals)?;
        }
        for ((hour, dims), totals) in &hours {
            rollup::add_hour(&tx, *hour, *dims, totals)?;
        }
        // Replaced records changed their days' totals: those days are counted again.
        rollup::rebuild_days(&tx, &touched.into_iter().collect::<Vec<_>>())?;
        also(&tx)?;
        tx.commit()?;
        self.wrote_from(earliest);
        Ok(outcome)
    }

    /// Prices again the records `wanted` picks, skipping costs a caller reported.
    /// Totals follow: the rollup days touched are recomputed in the same transaction.
    pub fn reprice(
        &mut self,
        book: &PriceBook,
        wanted: impl Fn(&UsageRecord) -> bool,
    ) -> Result<RepriceOutcome, StoreError> {
        self.reprice_or_preview(book, wanted, false)
    }

    /// As `reprice`, but with `dry_run` only says what would change.
    pub fn reprice_or_preview(
        &mut self,
        book: &PriceBook,
        wanted: impl Fn(&UsageRecord) -> bool,
        dry_run: bool,
    ) -> Result<RepriceOutcome, StoreError> {
        let mut days = DayCache::new(self.zone.clone());
        let tx = self.write_tx()?;
        let mut outcome = RepriceOutcome::default();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        {
            let mut select = tx.prepare(&format!(
                "SELECT {RECORD_COLUMNS} FROM usage WHERE cost_kind != 'reported'"
            ))?;
            let mut update = tx.prepare(
                "UPDATE usage SET cost_kind = ?2, cost_nanos = ?3, price_version = ?4, unpriced_reason = ?5
                 WHERE id = ?1",
            )?;
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let (id, record) = record_from_row(row)?;
                if !wanted(&record) {
                    continue;
                }
                outcome.examined += 1;
                let cost = book.cost(&record);
                if cost.is_unpriced() {
                    outcome.still_unpriced += 1;
                } else if record.cost.is_unpriced() {
                    outcome.newly_priced += 1;
                }
                outcome.before += record.cost.amount().unwrap_or(Money::ZERO);
                outcome.after += cost.amount().unwrap_or(Money::ZERO);
                if cost != record.cost {
                    let (kind, nanos, version, reason) = cost_columns(&cost);
                    update.execute(params![id, kind, nanos, version, reason])?;
                    touched.insert(days.day_of(record.at.as_millisecond())?.to_string());
                    outcome.changed += 1;
                }
            }
        }
        if dry_run {
            return Ok(outcome); // dropping the transaction rolls it back
        }
        rollup::rebuild_days(&tx, &touched.into_iter().collect::<Vec<_>>())?;
        tx.commit()?;
        self.forget_past_days();
        Ok(outcome)
    }
}

/// The columns `record_from_row` reads, in order.
pub const RECORD_COLUMNS: &str =
    "id, ts_ms, provider, model, user, project, agent, source, session, request_id,
    task, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning, images, image_size,
    image_quality, embedding_tokens, cost_kind, cost_nanos, price_version, unpriced_reason,
    billed_nanos, revenue_nanos, metadata, requests";

pub fn record_from_row(row: &Row) -> Result<(i64, UsageRecord), StoreError> {
    let count = |i: usize| -> Result<u64, StoreError> {
        let v: i64 = row.get(i)?;
        u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative count {v}")))
    };
    let kind: String = row.get(21)?;
    let nanos: Option<i64> = row.get(22)?;
    let cost = match (kind.as_str(), nanos) {
        ("priced", Some(n)) => Cost::Priced {
            amount: Money::from_nanos(n),
            price_version: row.get::<_, Option<String>>(23)?.unwrap_or_default(),
        },
        ("reported", Some(n)) => Cost::Reported {
            amount: Money::from_nanos(n),
        },
        ("unpriced", None) => Cost::Unpriced {
            reason: row.get::<_, Option<String>>(24)?.unwrap_or_default(),
        },
        (other, _) => return Err(StoreError::Corrupt(format!("cost kind {other}"))),
    };
    let metadata = match row.get::<_, Option<String>>(27)? {
        Some(text) => match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(StoreError::Corrupt(format!("metadata {text}"))),
        },
        None => serde_json::Map::new(),
    };
    let record = UsageRecord {
        at: Timestamp::from_millisecond(row.get(1)?)?,
        provider: row.get(2)?,
        model: row.get(3)?,
        user: row.get(4)?,
        project: row.get(5)?,
        agent: row.get(6)?,
        source: row.get(7)?,
        session: row.get(8)?,
        request_id: row.get(9)?,
        task: row.get(10)?,
        tokens: TokenCounts {
            input: count(11)?,
            output: count(12)?,
            cache_read: count(13)?,
            cache_write_5m: count(14)?,
            cache_write_1h: count(15)?,
            reasoning: count(16)?,
        },
        images: ImageUsage {
            count: count(17)?,
            size: row.get(18)?,
            quality: row.get(19)?,
        },
        embedding_tokens: count(20)?,
        requests: count(28)?,
        cost,
        billed: row.get::<_, Option<i64>>(25)?.map(Money::from_nanos),
        revenue: row.get::<_, Option<i64>>(26)?.map(Money::from_nanos),
        metadata,
    };
    Ok((row.get(0)?, record))
}
