//! Writing usage: idempotent inserts that keep the rollup in step, and repricing.

use std::collections::BTreeSet;
use std::rc::Rc;

// A fast hash for the batch's groups: SipHash over their strings was 3 % of a bulk insert.
use foldhash::{HashMap, HashMapExt};

use jiff::Timestamp;
use rusqlite::{CachedStatement, Connection, OptionalExtension, Row, ToSql, params};

use super::calls::{self, Interner};
use super::rollup::{self, DayCache};
use super::{Store, StoreError};
use crate::core::usage::{
    Billing, Cost, ImageUsage, MediaTokens, ModalTokens, ServiceTier, Speed, TokenCounts, Totals,
    UsageRecord,
};
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
    /// Records whose amount changes (or that gain or lose a price); the
    /// others in `changed` only name a newer edition of the same price.
    pub cost_changed: u64,
    /// The examined records' cost before and after (unpriced ones count nothing).
    pub before: Money,
    pub after: Money,
}

const INSERT_SQL: &str =
    "INSERT INTO calls (key, key_check, ts_ms, dims, session, request_id, input, output,
        cache_read, cache_write_5m, cache_write_1h, reasoning, cost_kind, cost_nanos, price,
        metadata, job, extras)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
    ON CONFLICT (key) DO NOTHING";

/// A cost as stored: its kind, amount, and the text of its price version or
/// of why it is unpriced. The team server stores costs the same way.
pub fn cost_columns(cost: &Cost) -> (i64, Option<i64>, Option<&str>) {
    match cost {
        Cost::Priced {
            amount,
            price_version,
        } => (calls::PRICED, Some(amount.nanos()), Some(price_version)),
        Cost::Reported { amount } => (calls::REPORTED, Some(amount.nanos()), None),
        Cost::Unpriced { reason } => (calls::UNPRICED, None, Some(reason)),
    }
}

fn sql_count(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n} is too large")))
}

/// Whether a record was stored by `insert_one`, or found there already.
enum Stored {
    /// Its row id, and the id of its dimensions.
    New(i64, i64),
    There(i64),
}

/// Inserts one record unless its call is stored already.
fn insert_one(
    stmt: &mut CachedStatement,
    conn: &Connection,
    names: &mut Interner,
    r: &UsageRecord,
    here: &str,
) -> Result<Stored, StoreError> {
    let (key, check) = calls::stored_key(&r.dedupe_key(), r.request_id.is_some());
    let t = &r.tokens;
    let (kind, nanos, price) = cost_columns(&r.cost);
    let job = r.metadata.get("success").is_some_and(|v| !v.is_null());
    let dims = names.dims(conn, dimensions(r, here))?;
    let extras = calls::Extras {
        task: r.task.as_deref(),
        images: sql_count(r.images.count)?,
        image_size: r.images.size.as_deref(),
        image_quality: r.images.quality.as_deref(),
        embedding_tokens: sql_count(r.embedding_tokens)?,
        requests: sql_count(r.requests)?,
        billed_nanos: r.billed.map(Money::nanos),
        revenue_nanos: r.revenue.map(Money::nanos),
        service_tier: (r.billing.tier != ServiceTier::Standard).then(|| r.billing.tier.name()),
        speed: (r.billing.speed != Speed::Standard).then(|| r.billing.speed.name()),
        region: r.billing.region.as_deref(),
        web_searches: sql_count(r.billing.web_searches)?,
        media: r.media,
    }
    .json();
    let mut values: [&dyn ToSql; 18] = [
        &key,
        &check,
        &r.at.as_millisecond(),
        &dims,
        &names.name(conn, r.session.as_deref())?,
        &r.request_id,
        &sql_count(t.input)?,
        &sql_count(t.output)?,
        &sql_count(t.cache_read)?,
        &sql_count(t.cache_write_5m)?,
        &sql_count(t.cache_write_1h)?,
        &sql_count(t.reasoning)?,
        &kind,
        &nanos,
        &names.name(conn, price)?,
        &names.metadata(conn, &r.metadata)?,
        &job.then_some(1),
        &extras,
    ];
    // Most calls are new: the insert is tried first, and only a key already
    // taken is looked into (the same call, or one of the rare pairs whose
    // first 4 bytes agree, which takes the next free key).
    if stmt.execute(&values[..])? == 0 {
        let identity = match &r.request_id {
            Some(id) => calls::Identity::Request {
                source: &r.source,
                id,
            },
            None => calls::Identity::Content(check),
        };
        match calls::find(conn, key, &identity)? {
            calls::Slot::Taken(id) => return Ok(Stored::There(id)),
            calls::Slot::Free(free) => {
                values[0] = &free;
                stmt.execute(&values[..])?;
            }
        }
    }
    Ok(Stored::New(conn.last_insert_rowid(), dims))
}

/// What a batch does with a call the ledger holds already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OnDuplicate {
    /// The stored one stands.
    Keep,
    /// The one with more tokens stands (a log's later snapshot of a message).
    KeepLargest,
    /// The new one stands when its time, tokens or cost differ (a team
    /// member's machine priced it again).
    TakeNew,
}

/// Replaces the stored record `id` (the same call as `r`) with `r` when
/// their time, tokens or cost differ; returns the replaced record's time.
fn replace_if_changed(
    conn: &Connection,
    names: &mut Interner,
    id: i64,
    r: &UsageRecord,
) -> Result<Option<i64>, StoreError> {
    let stored = conn
        .prepare_cached(&format!("SELECT {RECORD_COLUMNS} FROM usage WHERE id = ?1"))?
        .query_row([id], |row| Ok(record_from_row(row)))??
        .1;
    let same = stored.at.as_millisecond() == r.at.as_millisecond()
        && stored.tokens == r.tokens
        && stored.cost == r.cost;
    if same {
        return Ok(None);
    }
    overwrite(conn, names, id, r)?;
    Ok(Some(stored.at.as_millisecond()))
}

/// Replaces the stored record `id` (the same call as `r`) with `r` when `r`
/// has more tokens; returns the replaced record's time, or `None` when the
/// stored one stands.
fn replace_if_larger(
    conn: &Connection,
    names: &mut Interner,
    id: i64,
    r: &UsageRecord,
) -> Result<Option<i64>, StoreError> {
    let (ts, total): (i64, i64) = conn
        .prepare_cached(
            "SELECT ts_ms, input + output + cache_read + cache_write_5m + cache_write_1h
             FROM calls WHERE id = ?1",
        )?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    if r.tokens.total() <= total as u64 {
        return Ok(None);
    }
    overwrite(conn, names, id, r)?;
    Ok(Some(ts))
}

/// Sets the stored call `id`'s time, tokens and cost to `r`'s.
fn overwrite(
    conn: &Connection,
    names: &mut Interner,
    id: i64,
    r: &UsageRecord,
) -> Result<(), StoreError> {
    let t = &r.tokens;
    let (kind, nanos, price) = cost_columns(&r.cost);
    let price = names.name(conn, price)?;
    conn.prepare_cached(
        "UPDATE calls SET ts_ms = ?2, input = ?3, output = ?4, cache_read = ?5, cache_write_5m = ?6,
             cache_write_1h = ?7, reasoning = ?8, cost_kind = ?9, cost_nanos = ?10, price = ?11
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
        price,
    ])?;
    Ok(())
}

/// The rollup row a record belongs to, borrowed from the record.
fn rollup_key<'a>(
    days: &mut DayCache,
    r: &'a UsageRecord,
    here: &'a str,
) -> Result<(Rc<str>, [&'a str; 7]), StoreError> {
    Ok((days.day_of(r.at.as_millisecond())?, dimensions(r, here)))
}

/// A record's provider, model, user, project, agent, source and machine: what
/// the rollups group by and `dims` holds. A record that names no machine was
/// made on this one, `here`.
fn dimensions<'a>(r: &'a UsageRecord, here: &'a str) -> [&'a str; 7] {
    [
        &r.provider,
        &r.model,
        &r.user,
        &r.project,
        &r.agent,
        &r.source,
        if r.machine.is_empty() {
            here
        } else {
            &r.machine
        },
    ]
}

/// This machine's name in its team (`''` when in none), which its calls are
/// recorded under.
pub(super) fn this_machine(conn: &Connection) -> Result<String, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = 'team.machine'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

impl Store {
    /// This machine's name in its team, `''` when it is in none.
    pub fn this_machine(&self) -> Result<String, StoreError> {
        this_machine(&self.conn)
    }

    /// Records one call. Recording the same call again changes nothing and says so.
    pub fn insert(&mut self, r: &UsageRecord) -> Result<Inserted, StoreError> {
        let zone = self.zone.clone();
        let tx = self.write_tx()?;
        let here = this_machine(&tx)?;
        let inserted = insert_one(
            &mut tx.prepare_cached(INSERT_SQL)?,
            &tx,
            &mut Interner::default(),
            r,
            &here,
        )?;
        let outcome = match inserted {
            Stored::New(id, _) => {
                let (day, dims) = rollup_key(&mut DayCache::new(zone), r, &here)?;
                let totals = Totals::of(r);
                let mut add = rollup::Adder::new(&tx)?;
                add.bounds(&totals)?;
                add.day(&day, dims, &totals)?;
                add.hour(rollup::hour_of(r.at.as_millisecond()), dims, &totals)?;
                Inserted { id, new: true }
            }
            Stored::There(id) => Inserted { id, new: false },
        };
        tx.commit()?;
        if outcome.new {
            self.wrote_from(r.at.as_millisecond());
        }
        Ok(outcome)
    }

    /// Records many calls in one transaction: all of them or, on error, none.
    pub fn insert_batch(&mut self, records: &[UsageRecord]) -> Result<BatchOutcome, StoreError> {
        self.insert_many(records, OnDuplicate::Keep)
    }

    /// As `insert_batch`, but a call already recorded with fewer tokens (an
    /// earlier snapshot of a streaming message) is replaced by the larger one, so
    /// importing a log again while it grows never under-counts.
    pub fn insert_batch_keep_largest(
        &mut self,
        records: &[UsageRecord],
    ) -> Result<BatchOutcome, StoreError> {
        self.insert_many(records, OnDuplicate::KeepLargest)
    }

    fn insert_many(
        &mut self,
        records: &[UsageRecord],
        on_duplicate: OnDuplicate,
    ) -> Result<BatchOutcome, StoreError> {
        self.insert_many_then(records, on_duplicate, |_| Ok(()))
    }

    /// Inserts, then runs `also` in the same transaction (an import's file states).
    pub(super) fn insert_many_then(
        &mut self,
        records: &[UsageRecord],
        on_duplicate: OnDuplicate,
        also: impl FnOnce(&rusqlite::Transaction) -> Result<(), StoreError>,
    ) -> Result<BatchOutcome, StoreError> {
        let mut days = DayCache::new(self.zone.clone());
        let tx = self.write_tx()?;
        let here = this_machine(&tx)?;
        // Grouped by the dimensions' id: hashing their seven strings for each
        // record was most of the grouping.
        let mut groups: HashMap<(Rc<str>, i64), Totals> = HashMap::new();
        let mut hours: HashMap<(i64, i64), Totals> = HashMap::new();
        let mut dims_of: HashMap<i64, [&str; 7]> = HashMap::new();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut outcome = BatchOutcome::default();
        let mut earliest = i64::MAX;
        // Sources whose calls also came over OTLP without the agent's id: a
        // log line is looked for among those before it is stored.
        let twins = super::feed::fingerprinted_sources(&tx)?;
        // In time order, so the time index grows at its end instead of all over.
        let mut in_order: Vec<&UsageRecord> = records.iter().collect();
        in_order.sort_by_key(|r| r.at);
        {
            let mut stmt = tx.prepare_cached(INSERT_SQL)?;
            let mut names = Interner::default();
            for r in in_order {
                if twins.contains(&r.source)
                    && !super::feed::is_fingerprint(r.request_id.as_deref())
                    && super::feed::twin_exists(&tx, r, true)?
                {
                    outcome.duplicates += 1;
                    continue;
                }
                match insert_one(&mut stmt, &tx, &mut names, r, &here)? {
                    Stored::New(_, dims) => {
                        earliest = earliest.min(r.at.as_millisecond());
                        outcome.inserted += 1;
                        let (day, strings) = rollup_key(&mut days, r, &here)?;
                        dims_of.entry(dims).or_insert(strings);
                        let totals = Totals::of(r);
                        let hour = rollup::hour_of(r.at.as_millisecond());
                        hours.entry((hour, dims)).or_default().add(&totals);
                        groups.entry((day, dims)).or_default().add(&totals);
                    }
                    Stored::There(id) if on_duplicate != OnDuplicate::Keep => {
                        let replaced = if on_duplicate == OnDuplicate::KeepLargest {
                            replace_if_larger(&tx, &mut names, id, r)?
                        } else {
                            replace_if_changed(&tx, &mut names, id, r)?
                        };
                        match replaced {
                            Some(old_ts) => {
                                outcome.updated += 1;
                                earliest = earliest.min(old_ts).min(r.at.as_millisecond());
                                touched.insert(days.day_of(old_ts)?.to_string());
                                touched.insert(days.day_of(r.at.as_millisecond())?.to_string());
                            }
                            None => outcome.duplicates += 1,
                        }
                    }
                    Stored::There(_) => outcome.duplicates += 1,
                }
            }
        }
        let mut add = rollup::Adder::new(&tx)?;
        for ((day, dims), totals) in &groups {
            add.bounds(totals)?;
            add.day(day, dims_of[dims], totals)?;
        }
        for ((hour, dims), totals) in &hours {
            add.hour(*hour, dims_of[dims], totals)?;
        }
        drop(add);
        // Replaced records changed their days' totals: those days are counted again.
        rollup::rebuild_days(&tx, &touched.into_iter().collect::<Vec<_>>())?;
        also(&tx)?;
        tx.commit()?;
        self.wrote_from(earliest);
        Ok(outcome)
    }

    /// Prices again the records `wanted` picks, skipping costs a caller reported.
    /// Totals follow: the rollup days touched are recomputed in the same transaction.
    /// In a team, only this machine's calls: each call keeps the cost the
    /// machine that recorded it computed (see `reprice_everyones`).
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
        self.reprice_some(book, wanted, dry_run, false)
    }

    /// As `reprice`, every machine's calls alike: the team's shared price
    /// book prices them all the same on every machine.
    pub fn reprice_everyones(
        &mut self,
        book: &PriceBook,
        wanted: impl Fn(&UsageRecord) -> bool,
    ) -> Result<RepriceOutcome, StoreError> {
        self.reprice_some(book, wanted, false, true)
    }

    fn reprice_some(
        &mut self,
        book: &PriceBook,
        wanted: impl Fn(&UsageRecord) -> bool,
        dry_run: bool,
        everyones: bool,
    ) -> Result<RepriceOutcome, StoreError> {
        let mut days = DayCache::new(self.zone.clone());
        let tx = self.write_tx()?;
        let here = this_machine(&tx)?;
        let ours = |r: &UsageRecord| everyones || here.is_empty() || r.machine == here;
        let mut outcome = RepriceOutcome::default();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        {
            let mut select = tx.prepare(&format!(
                "SELECT {RECORD_COLUMNS} FROM usage WHERE cost_kind != 'reported'"
            ))?;
            let mut update = tx.prepare(
                "UPDATE calls SET cost_kind = ?2, cost_nanos = ?3, price = ?4 WHERE id = ?1",
            )?;
            let mut names = Interner::default();
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let (id, record) = record_from_row(row)?;
                if !ours(&record) || !wanted(&record) {
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
                if cost.amount() != record.cost.amount() {
                    outcome.cost_changed += 1;
                }
                if cost != record.cost {
                    let (kind, nanos, price) = cost_columns(&cost);
                    let price = names.name(&tx, price)?;
                    update.execute(params![id, kind, nanos, price])?;
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
    billed_nanos, revenue_nanos, metadata, requests, service_tier, speed, region, web_searches,
    audio_input, audio_cache_read, audio_output, image_input, image_cache_read, image_output,
    machine";

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
    let bad = |what: &str, text: &str| StoreError::Corrupt(format!("{what} {text}"));
    let (tier, speed): (String, String) = (row.get(29)?, row.get(30)?);
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
        machine: row.get(39)?,
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
        billing: Billing {
            tier: ServiceTier::parse(&tier).ok_or_else(|| bad("service tier", &tier))?,
            speed: Speed::parse(&speed).ok_or_else(|| bad("speed", &speed))?,
            region: row.get(31)?,
            web_searches: count(32)?,
        },
        media: MediaTokens {
            audio: ModalTokens {
                input: count(33)?,
                cache_read: count(34)?,
                output: count(35)?,
            },
            image: ModalTokens {
                input: count(36)?,
                cache_read: count(37)?,
                output: count(38)?,
            },
        },
        metadata,
    };
    Ok((row.get(0)?, record))
}
