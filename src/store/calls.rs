//! How calls are stored: one narrow row per call in `calls`, its dimensions
//! (provider, model, user, project, agent, source) as one id into `dims`, and
//! its repeated text (session, task, price version or why unpriced, image size
//! and quality, metadata) as ids into `names`. The view `usage` shows the
//! calls as every reader knows them, so queries are written against it.
//!
//! A call is deduplicated by 8 bytes of its 16-byte key under a unique index
//! (the whole key under it cost twice the space and most of an import's time);
//! 4 more bytes in the row tell two calls apart whose first 8 agree, and the
//! second of such a pair takes the next free key. Calls are never deleted, so
//! a key's chain has no gaps.

use foldhash::HashMap;

use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction, params};

use super::StoreError;

/// The tables, indexes and view of the narrow ledger (schema version 17).
/// The indexes come after the rows when a ledger is converted: built once from
/// sorted keys instead of grown one random key at a time.
pub(super) const TABLES: &str = "
    CREATE TABLE dims (
        id INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        user TEXT NOT NULL,
        project TEXT NOT NULL,
        agent TEXT NOT NULL,
        source TEXT NOT NULL,
        UNIQUE (provider, model, user, project, agent, source)
    );
    CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    -- dims and names rows are never deleted, so the ids need no foreign keys
    -- (whose checks cost every insert).
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        key INTEGER NOT NULL,
        key_check INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        dims INTEGER NOT NULL,
        session INTEGER,
        request_id TEXT,
        task INTEGER,
        input INTEGER NOT NULL CHECK (input >= 0),
        output INTEGER NOT NULL CHECK (output >= 0),
        cache_read INTEGER NOT NULL CHECK (cache_read >= 0),
        cache_write_5m INTEGER NOT NULL CHECK (cache_write_5m >= 0),
        cache_write_1h INTEGER NOT NULL CHECK (cache_write_1h >= 0),
        reasoning INTEGER NOT NULL CHECK (reasoning >= 0),
        images INTEGER NOT NULL CHECK (images >= 0),
        image_size INTEGER,
        image_quality INTEGER,
        embedding_tokens INTEGER NOT NULL CHECK (embedding_tokens >= 0),
        requests INTEGER NOT NULL CHECK (requests >= 0),
        -- 0 priced, 1 reported, 2 unpriced (COST_KINDS)
        cost_kind INTEGER NOT NULL CHECK (cost_kind >= 0 AND cost_kind <= 2),
        cost_nanos INTEGER,
        -- the price version of a priced call, the reason of an unpriced one
        price INTEGER,
        billed_nanos INTEGER,
        revenue_nanos INTEGER,
        metadata INTEGER,
        -- 1 when the metadata says whether the call's job succeeded
        job INTEGER,
        CHECK ((cost_kind = 2) = (cost_nanos IS NULL))
    );
    -- Each name is looked up where a query uses it (SQLite leaves out a view's
    -- columns a query does not name, but not its joins): a count or a sum by
    -- model reads the calls and their dimensions alone.
    CREATE VIEW usage AS
    SELECT c.id, c.ts_ms, d.provider, d.model, d.user, d.project, d.agent, d.source,
           (SELECT name FROM names WHERE id = c.session) AS session,
           c.request_id,
           (SELECT name FROM names WHERE id = c.task) AS task,
           c.input, c.output, c.cache_read, c.cache_write_5m, c.cache_write_1h, c.reasoning,
           c.images,
           (SELECT name FROM names WHERE id = c.image_size) AS image_size,
           (SELECT name FROM names WHERE id = c.image_quality) AS image_quality,
           c.embedding_tokens,
           CASE c.cost_kind WHEN 0 THEN 'priced' WHEN 1 THEN 'reported' ELSE 'unpriced' END
               AS cost_kind,
           c.cost_nanos,
           CASE WHEN c.cost_kind = 0 THEN (SELECT name FROM names WHERE id = c.price) END
               AS price_version,
           CASE WHEN c.cost_kind = 2 THEN (SELECT name FROM names WHERE id = c.price) END
               AS unpriced_reason,
           c.billed_nanos, c.revenue_nanos,
           (SELECT name FROM names WHERE id = c.metadata) AS metadata,
           c.requests
    FROM calls c JOIN dims d ON d.id = c.dims;";

/// The indexes on `calls`; the key's is unique.
pub(super) const KEY_INDEX: &str = "CREATE UNIQUE INDEX calls_by_key ON calls (key)";
pub(super) const OTHER_INDEXES: &str = "
    CREATE INDEX calls_by_time ON calls (ts_ms);
    CREATE INDEX calls_unpriced ON calls (dims) WHERE cost_kind = 2;
    CREATE INDEX calls_jobs ON calls (ts_ms) WHERE job IS NOT NULL;";

/// `cost_kind` as stored, by its name in the `usage` view.
pub(super) const PRICED: i64 = 0;
pub(super) const REPORTED: i64 = 1;
pub(super) const UNPRICED: i64 = 2;

/// A call's key as stored: the first 8 bytes of its dedupe key, and 4 more to
/// tell apart two calls whose first 8 agree.
pub(super) fn stored_key(key: &[u8; 16]) -> (i64, i64) {
    let mut first = [0u8; 8];
    first.copy_from_slice(&key[..8]);
    let mut check = [0u8; 4];
    check.copy_from_slice(&key[8..12]);
    (
        i64::from_le_bytes(first),
        i64::from(i32::from_le_bytes(check)),
    )
}

/// Where a call with this key is, or where it would go.
pub(super) enum Slot {
    /// Stored already, as this row.
    Taken(i64),
    /// Not stored; this is the key it gets.
    Free(i64),
}

/// Follows `key`'s chain: the row holding the call whose check is `check`, or
/// the first key past the chain.
pub(super) fn find(conn: &Connection, key: i64, check: i64) -> Result<Slot, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, key_check FROM calls WHERE key = ?1")?;
    let mut k = key;
    // Some pair of ten million calls shares its first 8 key bytes in about 3
    // ledgers of a million (n²/2⁶⁵); a chain of 64 would mean a broken ledger.
    for _ in 0..64 {
        match stmt
            .query_row([k], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .optional()?
        {
            None => return Ok(Slot::Free(k)),
            Some((id, c)) if c == check => return Ok(Slot::Taken(id)),
            Some(_) => k = k.wrapping_add(1),
        }
    }
    Err(StoreError::Corrupt(format!(
        "more than 64 calls share the key {key}"
    )))
}

/// provider, model, user, project, agent, source
type Dims = [Box<str>; 6];

/// How many names an `Interner` remembers at most.
const MAX_REMEMBERED: usize = 65_536;

/// Interned ids for the text of the calls one transaction writes. Held only
/// for that transaction: an id it made is gone if the transaction rolls back.
#[derive(Default)]
pub(super) struct Interner {
    names: HashMap<Box<str>, i64>,
    /// By the hash of the six dimensions: the tuples with it, and their ids.
    dims: HashMap<u64, Vec<(Dims, i64)>>,
    /// The last record's metadata and its id: an agent's calls in a row
    /// mostly carry the same, which is then neither written out nor looked up.
    last_metadata: Option<(serde_json::Map<String, serde_json::Value>, i64)>,
    /// The last record's dimensions and their id, for the same reason.
    last_dims: Option<([String; 6], i64)>,
}

impl Interner {
    /// The id of `name` in `names`, added if new.
    pub fn name(
        &mut self,
        conn: &Connection,
        name: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        let Some(name) = name else { return Ok(None) };
        if let Some(id) = self.names.get(name) {
            return Ok(Some(*id));
        }
        // Text that is new on most records (metadata with a request's own
        // values) would make this hold the whole ledger's while converting it:
        // past a bound it starts over, and the names index answers.
        if self.names.len() >= MAX_REMEMBERED {
            self.names.clear();
        }
        let id = intern(
            conn.prepare_cached("SELECT id FROM names WHERE name = ?1")?,
            conn.prepare_cached("INSERT INTO names (name) VALUES (?1)")?,
            conn,
            [name],
        )?;
        self.names.insert(name.into(), id);
        Ok(Some(id))
    }

    /// The id of a record's metadata (as JSON text) in `names`; none if empty.
    pub fn metadata(
        &mut self,
        conn: &Connection,
        map: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<i64>, StoreError> {
        if map.is_empty() {
            return Ok(None);
        }
        if let Some((last, id)) = &self.last_metadata
            && last == map
        {
            return Ok(Some(*id));
        }
        let text = serde_json::to_string(map).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = self.name(conn, Some(&text))?.unwrap_or_default();
        self.last_metadata = Some((map.clone(), id));
        Ok(Some(id))
    }

    /// The id of these dimensions (provider, model, user, project, agent,
    /// source) in `dims`, added if new.
    pub fn dims(&mut self, conn: &Connection, dims: [&str; 6]) -> Result<i64, StoreError> {
        if let Some((last, id)) = &self.last_dims
            && last.iter().zip(dims).all(|(a, b)| a == b)
        {
            return Ok(*id);
        }
        let id = self.dims_looked_up(conn, dims)?;
        self.last_dims = Some((dims.map(str::to_string), id));
        Ok(id)
    }

    fn dims_looked_up(&mut self, conn: &Connection, dims: [&str; 6]) -> Result<i64, StoreError> {
        use std::hash::BuildHasher;
        let hash = foldhash::fast::FixedState::default().hash_one(dims);
        if let Some(known) = self.dims.get(&hash)
            && let Some((_, id)) = known
                .iter()
                .find(|(d, _)| d.iter().zip(dims).all(|(a, b)| &**a == b))
        {
            return Ok(*id);
        }
        let id = intern(
            conn.prepare_cached(
                "SELECT id FROM dims WHERE provider = ?1 AND model = ?2 AND user = ?3
                     AND project = ?4 AND agent = ?5 AND source = ?6",
            )?,
            conn.prepare_cached(
                "INSERT INTO dims (provider, model, user, project, agent, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?,
            conn,
            dims,
        )?;
        self.dims
            .entry(hash)
            .or_default()
            .push((dims.map(Box::from), id));
        Ok(id)
    }
}

fn intern<P: rusqlite::Params + Copy>(
    mut find: CachedStatement,
    mut add: CachedStatement,
    conn: &Connection,
    values: P,
) -> Result<i64, StoreError> {
    if let Some(id) = find.query_row(values, |r| r.get(0)).optional()? {
        return Ok(id);
    }
    add.execute(values)?;
    Ok(conn.last_insert_rowid())
}

/// Converts a ledger's wide `usage` table (schema 16) into the narrow tables,
/// keeping every record's id, in one transaction: a kill leaves the old ledger
/// as it was. `progress` gets the fraction done.
pub(super) fn narrow(tx: &Transaction, progress: &mut dyn FnMut(f64)) -> Result<(), StoreError> {
    tx.execute_batch("ALTER TABLE usage RENAME TO usage_wide;")?;
    tx.execute_batch(TABLES)?;
    let total: i64 = tx.query_row("SELECT COUNT(*) FROM usage_wide", [], |r| r.get(0))?;
    let mut interner = Interner::default();
    let mut read = tx.prepare(
        "SELECT id, dedupe_key, ts_ms, provider, model, user, project, agent, source, session,
                request_id, task, input, output, cache_read, cache_write_5m, cache_write_1h,
                reasoning, images, image_size, image_quality, embedding_tokens, requests,
                cost_kind, cost_nanos, price_version, unpriced_reason, billed_nanos,
                revenue_nanos, metadata, json_extract(metadata, '$.success') IS NOT NULL
         FROM usage_wide ORDER BY id",
    )?;
    let mut write = tx.prepare(
        "INSERT INTO calls (id, key, key_check, ts_ms, dims, session, request_id, task, input,
             output, cache_read, cache_write_5m, cache_write_1h, reasoning, images, image_size,
             image_quality, embedding_tokens, requests, cost_kind, cost_nanos, price,
             billed_nanos, revenue_nanos, metadata, job)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
    )?;
    let mut rows = read.query([])?;
    let mut done = 0i64;
    while let Some(r) = rows.next()? {
        let blob: Vec<u8> = r.get(1)?;
        let mut key = [0u8; 16];
        let n = blob.len().min(16);
        key[..n].copy_from_slice(&blob[..n]);
        let (key, check) = stored_key(&key);
        let dims: [String; 6] = [
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ];
        let dims = interner.dims(tx, dims.each_ref().map(String::as_str))?;
        let mut name = |i: usize| -> Result<Option<i64>, StoreError> {
            let text: Option<String> = r.get(i)?;
            interner.name(tx, text.as_deref())
        };
        let session = name(9)?;
        let task = name(11)?;
        let image_size = name(19)?;
        let image_quality = name(20)?;
        let kind: String = r.get(23)?;
        let (kind, price) = match kind.as_str() {
            "priced" => (PRICED, name(25)?),
            "reported" => (REPORTED, None),
            _ => (UNPRICED, name(26)?),
        };
        let metadata = name(29)?;
        let job: bool = r.get(30)?;
        write.execute(params![
            r.get::<_, i64>(0)?,
            key,
            check,
            r.get::<_, i64>(2)?,
            dims,
            session,
            r.get::<_, Option<String>>(10)?,
            task,
            r.get::<_, i64>(12)?,
            r.get::<_, i64>(13)?,
            r.get::<_, i64>(14)?,
            r.get::<_, i64>(15)?,
            r.get::<_, i64>(16)?,
            r.get::<_, i64>(17)?,
            r.get::<_, i64>(18)?,
            image_size,
            image_quality,
            r.get::<_, i64>(21)?,
            r.get::<_, i64>(22)?,
            kind,
            r.get::<_, Option<i64>>(24)?,
            price,
            r.get::<_, Option<i64>>(27)?,
            r.get::<_, Option<i64>>(28)?,
            metadata,
            job.then_some(1),
        ])?;
        done += 1;
        if done % 16_384 == 0 {
            progress(0.8 * done as f64 / total.max(1) as f64);
        }
    }
    drop(rows);
    progress(0.8);
    if let Err(e) = tx.execute_batch(KEY_INDEX) {
        if e.sqlite_error_code() != Some(rusqlite::ErrorCode::ConstraintViolation) {
            return Err(e.into());
        }
        separate_shared_keys(tx)?;
        tx.execute_batch(KEY_INDEX)?;
    }
    progress(0.9);
    tx.execute_batch(OTHER_INDEXES)?;
    tx.execute_batch("DROP TABLE usage_wide;")?;
    progress(1.0);
    Ok(())
}

/// Calls whose first 8 key bytes agree (their 16 differ): all but the first
/// move along the chain, as an insert would have put them.
fn separate_shared_keys(tx: &Transaction) -> Result<(), StoreError> {
    let shared: Vec<(i64, i64)> = tx
        .prepare(
            "SELECT id, key FROM calls WHERE key IN (SELECT key FROM calls GROUP BY key HAVING COUNT(*) > 1)
             ORDER BY key, id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut last = None;
    for (id, key) in shared {
        if last == Some(key) {
            let mut k = key;
            loop {
                k = k.wrapping_add(1);
                let taken: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM calls WHERE key = ?1)",
                    [k],
                    |r| r.get(0),
                )?;
                if !taken {
                    break;
                }
            }
            tx.execute("UPDATE calls SET key = ?2 WHERE id = ?1", [id, k])?;
        }
        last = Some(key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_its_id_after_the_interner_forgets_it() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(TABLES).unwrap();
        let mut names = Interner::default();
        let first = names.name(&conn, Some("first")).unwrap();
        for i in 0..MAX_REMEMBERED + 10 {
            names.name(&conn, Some(&format!("n{i}"))).unwrap();
        }
        assert!(names.names.len() < MAX_REMEMBERED, "it started over");
        assert_eq!(names.name(&conn, Some("first")).unwrap(), first);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM names", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows as usize, MAX_REMEMBERED + 11, "each name once");
    }

    #[test]
    fn the_same_dimensions_get_one_id() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(TABLES).unwrap();
        let mut interner = Interner::default();
        let a = ["openai", "gpt-4o", "ana", "web", "", "cli"];
        let b = ["openai", "gpt-4o", "ana", "web", "", "csv"];
        let ids = [a, b, a, b].map(|d| interner.dims(&conn, d).unwrap());
        assert_eq!(ids[0], ids[2]);
        assert_eq!(ids[1], ids[3]);
        assert_ne!(ids[0], ids[1]);
        // A new interner (the next transaction) finds them in the table.
        assert_eq!(Interner::default().dims(&conn, b).unwrap(), ids[1]);
    }
}
