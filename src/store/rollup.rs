//! The per-day rollup: one row per local day × provider × model × user × project ×
//! agent × source × machine, kept in step with `usage` inside the same transaction. Days are
//! local days in the ledger's zone (stored in `meta`), so "today" means the user's today.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::LazyLock;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rusqlite::{CachedStatement, Connection, params};

use super::StoreError;
use super::queries::{RECORD_TOTALS_SQL, TOTALS_AT, totals_at};
use crate::core::usage::Totals;

/// The grouping key of a rollup row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The local day, or for the hourly rollup the hour's start in unix ms.
    pub day: String,
    pub dims: [String; 7],
}

/// Maps instants to local days, remembering the last day's bounds so that a run of
/// records from one day costs one zone lookup, not one each.
pub struct DayCache {
    zone: TimeZone,
    span: Option<(i64, i64, Rc<str>)>,
}

impl DayCache {
    pub fn new(zone: TimeZone) -> DayCache {
        DayCache { zone, span: None }
    }

    pub fn day_of(&mut self, ts_ms: i64) -> Result<Rc<str>, StoreError> {
        if let Some((start, end, day)) = &self.span
            && (*start..*end).contains(&ts_ms)
        {
            return Ok(day.clone());
        }
        let at = Timestamp::from_millisecond(ts_ms)?;
        let date = at.to_zoned(self.zone.clone()).date();
        let (start, end) = day_bounds_ms(&self.zone, date)?;
        let day: Rc<str> = date.to_string().into();
        self.span = Some((start, end, day.clone()));
        Ok(day)
    }
}

/// `[start, end)` of a local day in unix milliseconds; DST days are 23 or 25 hours.
pub fn day_bounds_ms(zone: &TimeZone, date: Date) -> Result<(i64, i64), StoreError> {
    let start = date.to_zoned(zone.clone())?.timestamp().as_millisecond();
    let next = date
        .tomorrow()?
        .to_zoned(zone.clone())?
        .timestamp()
        .as_millisecond();
    Ok((start, next))
}

/// The ledger's zone, chosen once (the system zone when the ledger is created).
pub fn ledger_zone(conn: &Connection) -> Result<TimeZone, StoreError> {
    let stored: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'zone'", [], |r| {
            r.get(0)
        })
        .ok();
    match stored {
        Some(name) => Ok(TimeZone::get(&name)?),
        None => {
            let zone = TimeZone::system();
            let name = zone.iana_name().unwrap_or("UTC").to_string();
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('zone', ?1)",
                [&name],
            )?;
            Ok(TimeZone::get(&name)?)
        }
    }
}

/// The two rollups: by local day (for ranges of days) and by UTC hour (for the
/// pieces of days at the edges of budget windows and rolling windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grain {
    Day,
    Hour,
}

pub const HOUR_MS: i64 = 3_600_000;

/// The start of the UTC hour holding `ts_ms`.
pub fn hour_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// The columns a rollup row sums, in the order `add_to` binds them.
pub const SUMMED: [&str; 14] = [
    "requests",
    "input",
    "output",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "reasoning",
    "images",
    "embedding_tokens",
    "cost_nanos",
    "unpriced",
    "billed_nanos",
    "revenue_nanos",
    "records",
];

/// `column + value`, or an SQLite "integer overflow" error where the sum
/// would not fit in 64 bits. SQLite itself would turn such a sum into a
/// REAL, and every later `SUM` over it would fail: a ledger bricked by one
/// hostile record.
pub fn checked_sum(column: &str, value: &str) -> String {
    format!(
        "CASE WHEN ({value} > 0 AND {column} > 9223372036854775807 - {value})
                OR ({value} < 0 AND {column} < -9223372036854775807 - 1 - {value})
              THEN abs(-9223372036854775807 - 1)
              ELSE {column} + {value} END"
    )
}

/// Whether `e` is SQLite's integer overflow, raised by `checked_sum`.
pub fn is_overflow(e: &rusqlite::Error) -> bool {
    e.to_string().contains("integer overflow")
}

fn sum_update() -> String {
    let sets: Vec<String> = SUMMED
        .iter()
        .map(|c| format!("{c} = {}", checked_sum(c, &format!("excluded.{c}"))))
        .collect();
    format!("ON CONFLICT DO UPDATE SET {}", sets.join(", "))
}

/// The upsert of a rollup row, made once: formatting it for every group was a
/// tenth of a bulk insert.
fn insert_sql(grain: Grain) -> &'static str {
    static DAY: LazyLock<String> = LazyLock::new(|| upsert_sql(Grain::Day));
    static HOUR: LazyLock<String> = LazyLock::new(|| upsert_sql(Grain::Hour));
    match grain {
        Grain::Day => &DAY,
        Grain::Hour => &HOUR,
    }
}

fn upsert_sql(grain: Grain) -> String {
    let (table, key) = match grain {
        Grain::Day => ("usage_daily", "day"),
        Grain::Hour => ("usage_hourly", "hour_ms"),
    };
    format!(
        "INSERT INTO {table} ({key}, provider, model, user, project, agent, source, machine,
             requests, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning,
             images, embedding_tokens, cost_nanos, unpriced, billed_nanos, revenue_nanos, records)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19, ?20, ?21, ?22)
         {}",
        sum_update()
    )
}

/// The rollups' writes in one transaction, each statement prepared once:
/// looking one up by its text for each of a batch's groups cost 2 %.
pub struct Adder<'c> {
    day: CachedStatement<'c>,
    hour: CachedStatement<'c>,
    bounds: CachedStatement<'c>,
}

impl<'c> Adder<'c> {
    pub fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(Adder {
            day: conn.prepare_cached(insert_sql(Grain::Day))?,
            hour: conn.prepare_cached(insert_sql(Grain::Hour))?,
            bounds: conn.prepare_cached(&BOUNDS_SQL)?,
        })
    }

    /// Adds `totals` to the row of `day` × `dims` (provider, model, user,
    /// project, agent, source, machine), creating it if needed.
    pub fn day(&mut self, day: &str, dims: [&str; 7], t: &Totals) -> Result<(), StoreError> {
        add_to(&mut self.day, &day, dims, t)
    }

    /// Adds `totals` to the hourly row of the hour starting at `hour_ms` × `dims`.
    pub fn hour(&mut self, hour_ms: i64, dims: [&str; 7], t: &Totals) -> Result<(), StoreError> {
        add_to(&mut self.hour, &hour_ms, dims, t)
    }

    /// Adds what new records bring to the ledger's bounds: the sum of every
    /// record's magnitude per column. While that fits in 64 bits no total over
    /// any records can overflow, so no report can fail on one; a write that
    /// would pass it is refused whole.
    pub fn bounds(&mut self, t: &Totals) -> Result<(), StoreError> {
        let n = |v: u64| i64::try_from(v).map_err(|_| StoreError::TooLarge);
        let m = |v: crate::core::Money| {
            i64::try_from(v.nanos().unsigned_abs()).map_err(|_| StoreError::TooLarge)
        };
        self.bounds
            .execute(params![
                n(t.requests)?,
                n(t.tokens.input)?,
                n(t.tokens.output)?,
                n(t.tokens.cache_read)?,
                n(t.tokens.cache_write_5m)?,
                n(t.tokens.cache_write_1h)?,
                n(t.tokens.reasoning)?,
                n(t.images)?,
                n(t.embedding_tokens)?,
                m(t.cost)?,
                n(t.unpriced)?,
                m(t.billed)?,
                m(t.revenue)?,
                n(t.records)?,
            ])
            .map_err(too_large)?;
        Ok(())
    }
}

static BOUNDS_SQL: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = SUMMED
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = {}", checked_sum(c, &format!("?{}", i + 1))))
        .collect();
    format!("UPDATE ledger_bounds SET {} WHERE id = 1", sets.join(", "))
});

fn add_to(
    stmt: &mut CachedStatement,
    key: &dyn rusqlite::ToSql,
    dims: [&str; 7],
    t: &Totals,
) -> Result<(), StoreError> {
    let k = dims;
    let n = |v: u64| v as i64;
    stmt.execute(params![
        key,
        k[0],
        k[1],
        k[2],
        k[3],
        k[4],
        k[5],
        k[6],
        n(t.requests),
        n(t.tokens.input),
        n(t.tokens.output),
        n(t.tokens.cache_read),
        n(t.tokens.cache_write_5m),
        n(t.tokens.cache_write_1h),
        n(t.tokens.reasoning),
        n(t.images),
        n(t.embedding_tokens),
        t.cost.nanos(),
        n(t.unpriced),
        t.billed.nanos(),
        t.revenue.nanos(),
        n(t.records),
    ])
    .map_err(too_large)?;
    Ok(())
}

/// An overflow as the error people read; anything else as it is.
pub fn too_large(e: rusqlite::Error) -> StoreError {
    if is_overflow(&e) {
        StoreError::TooLarge
    } else {
        e.into()
    }
}

/// Recomputes the rollup rows of the given local days from `usage`.
pub fn rebuild_days(conn: &Connection, days: &[String]) -> Result<(), StoreError> {
    let zone = ledger_zone(conn)?;
    for day in days {
        let date: Date = day.parse()?;
        let (start, end) = day_bounds_ms(&zone, date)?;
        conn.execute("DELETE FROM usage_daily WHERE day = ?1", [day])?;
        fold_range(conn, &zone, Grain::Day, start, end)?;
        // A day need not start on a UTC hour (UTC+5:30): take whole hours around it.
        let (h0, h1) = (hour_of(start), hour_of(end - 1) + HOUR_MS);
        conn.execute(
            "DELETE FROM usage_hourly WHERE hour_ms >= ?1 AND hour_ms < ?2",
            params![h0, h1],
        )?;
        fold_range(conn, &zone, Grain::Hour, h0, h1)?;
    }
    Ok(())
}

/// Moves the rows of machine `from` in a rollup `table` to machine `to`,
/// adding them to rows `to` has already.
pub fn rename_machine(
    tx: &rusqlite::Transaction,
    table: &str,
    from: &str,
    to: &str,
) -> Result<(), StoreError> {
    let key = if table == "usage_hourly" {
        "hour_ms"
    } else {
        "day"
    };
    let sums = SUMMED.join(", ");
    tx.execute(
        &format!(
            "INSERT INTO {table} ({key}, provider, model, user, project, agent, source, machine, {sums})
             SELECT {key}, provider, model, user, project, agent, source, ?2, {sums}
             FROM {table} WHERE machine = ?1
             {}",
            sum_update()
        ),
        params![from, to],
    )
    .map_err(too_large)?;
    tx.execute(&format!("DELETE FROM {table} WHERE machine = ?1"), [from])?;
    Ok(())
}

/// Makes both rollup tables anew, empty, with today's columns.
pub fn recreate_tables(tx: &rusqlite::Transaction) -> Result<(), StoreError> {
    let sums: Vec<String> = SUMMED
        .iter()
        .map(|c| format!("{c} INTEGER NOT NULL"))
        .collect();
    let sums = sums.join(", ");
    for (table, key) in [
        ("usage_daily", "day TEXT"),
        ("usage_hourly", "hour_ms INTEGER"),
    ] {
        let key_column = key.split(' ').next().unwrap_or(key);
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {table};
             CREATE TABLE {table} (
                 {key} NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
                 user TEXT NOT NULL, project TEXT NOT NULL, agent TEXT NOT NULL,
                 source TEXT NOT NULL, machine TEXT NOT NULL, {sums},
                 PRIMARY KEY ({key_column}, provider, model, user, project, agent, source, machine)
             ) WITHOUT ROWID;"
        ))?;
    }
    Ok(())
}

/// Recomputes the whole rollup (a migration step, and a repair tool).
pub fn rebuild_all(conn: &rusqlite::Transaction) -> Result<(), StoreError> {
    let zone = ledger_zone(conn)?;
    conn.execute("DELETE FROM usage_daily", [])?;
    fold_range(conn, &zone, Grain::Day, i64::MIN, i64::MAX)
}

/// Recomputes both rollups from the records: the migration step that brings
/// any earlier ledger's rollups up to date, whatever columns it had.
pub fn rebuild_both(conn: &rusqlite::Transaction) -> Result<(), StoreError> {
    rebuild_all(conn)?;
    let zone = ledger_zone(conn)?;
    conn.execute("DELETE FROM usage_hourly", [])?;
    fold_range(conn, &zone, Grain::Hour, i64::MIN, i64::MAX)
}

fn fold_range(
    conn: &Connection,
    zone: &TimeZone,
    grain: Grain,
    start: i64,
    end: i64,
) -> Result<(), StoreError> {
    let mut days = DayCache::new(zone.clone());
    let mut groups: HashMap<Key, Totals> = HashMap::new();
    let mut stmt = conn.prepare(RECORD_TOTALS_SQL)?;
    let mut rows = stmt.query(params![start, end])?;
    while let Some(r) = rows.next()? {
        let ts: i64 = r.get(0)?;
        let key = Key {
            day: match grain {
                Grain::Day => days.day_of(ts)?.to_string(),
                Grain::Hour => hour_of(ts).to_string(),
            },
            dims: [
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ],
        };
        let t = totals_at(r, TOTALS_AT)?;
        // Saturating: a ledger an older Tally let overflow is rebuilt (its
        // sums held at the limit) rather than refused.
        groups.entry(key).or_default().add_saturating(&t);
    }
    let mut add = Adder::new(conn)?;
    for (key, totals) in &groups {
        let d = &key.dims;
        let dims = [&d[0][..], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6]];
        match grain {
            Grain::Day => add.day(&key.day, dims, totals)?,
            Grain::Hour => add.hour(key.day.parse().unwrap_or(0), dims, totals)?,
        }
    }
    Ok(())
}
